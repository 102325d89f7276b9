"""FEBRL 4 through GoldenMatch 3.22 (PyPI ``goldenmatch``, MIT): zero-config, then told to use every field.

GoldenMatch's zero-config cross-source path is ``goldenmatch.match_df(target, reference)``: it
profiles the columns, and a dataset with no strong identity key (no e-mail, phone or id) and
two or more fuzzy fields is routed to its Fellegi-Sunter matchkey (``type: probabilistic``,
m and u trained by EM at match time; release notes of v3.6.0). Here ``run`` makes the same two
calls ``match_df`` makes when given no config (``auto_configure_df(target, reference=...,
_skip_finalize=True, fused_match_allowed=True)`` inside ``_match_mode_autoconfig()``, then
``match_df(..., config=...)``; see ``goldenmatch/_api.py``), so that the configuration it chose
can be printed and reused:

- zero-config: that configuration as chosen, on the eight fields (FEBRL's names);
- every field: the same configuration, the fields its probabilistic matchkey left out added to it
  (on FEBRL 4 its builder skips ``street_number``, profiled numeric, and ``state``, under its
  cardinality floor for fuzzy fields), each as GoldenMatch configures an exact identifier in
  that matchkey (``scorer: exact``, ``transforms: [lowercase, strip]``, two levels): a
  ``MatchkeyField`` added to ``config.matchkeys[...].fields``, the documented way to name a
  matchkey's fields (goldenmatch wiki, Configuration: "probabilistic | Fellegi-Sunter
  log-likelihood ratios | field, scorer, optional levels").

A link is a row of ``MatchResult.matched`` (GoldenMatch's match mode keeps each target's best
reference above its threshold: not one-to-one, a reference can serve two targets). Nothing may
leave the machine: usage analytics (opt-in, off unless ``GOLDENMATCH_ANALYTICS`` and a PostHog
key are set) and the cross-run auto-config memory (``~/.goldenmatch``) are switched off, and any
connection to a non-loopback address raises (``_no_network``). Used by ``matching.febrl_comparison``.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import socket
import time
from collections.abc import Iterator

from crm_reconciliation_dev.benchmarks.febrl_splink import FEBRL_FIELDS, NOT_RUN, Febrl, Row, scores

VERSION = "3.22.0"
SYSTEM = f"GoldenMatch {VERSION}"
ZERO_CONFIG = "zero-config (match_df without config: auto-config + Fellegi-Sunter, EM) on the 8 fields"
EVERY_FIELD = "its zero-config, told to use every field (street_number and state added to the FS matchkey)"
ENVIRONMENT = {"GOLDENMATCH_ANALYTICS": "0", "GOLDENMATCH_AUTOCONFIG_MEMORY": "0", "GOLDENMATCH_SUGGEST_ON_DEDUPE": "0"}


def skipped(why: str) -> list[Row]:
    return [
        Row(SYSTEM, configuration=ZERO_CONFIG, error=NOT_RUN + why),
        Row(SYSTEM, configuration=EVERY_FIELD, error=NOT_RUN + why),
    ]


@contextlib.contextmanager
def _no_network() -> Iterator[list[str]]:
    """Any socket connection to an address other than loopback (or a Unix socket) raises; the
    attempts are listed."""
    attempts: list[str] = []
    real = socket.socket.connect

    def connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6):
            host = address[0]
            try:
                local = ipaddress.ip_address(host).is_loopback
            except ValueError:
                local = host == "localhost"
            if not local:
                attempts.append(str(host))
                raise OSError(f"bench-matching: no network beyond 127.0.0.1 (GoldenMatch tried {host})")
        return real(self, address)

    socket.socket.connect = connect
    try:
        yield attempts
    finally:
        socket.socket.connect = real


def _table(rows: list[dict]):
    import pyarrow as pa

    return pa.table({f: pa.array([r[f] for r in rows], pa.string()) for f in FEBRL_FIELDS})


def _links(result, data: Febrl, target, reference) -> dict[str, str]:
    """``MatchResult.matched`` as legacy id -> HubSpot id. Its reference row ids number the
    reference's rows either from 0 or after the target's: the numbering whose rows carry the
    values the match shows (given name and postcode) is the one read."""
    matched = result.matched
    if matched is None or matched.num_rows == 0:
        return {}
    targets = matched.column("__target_row_id__").to_pylist()
    references = matched.column("__ref_row_id__").to_pylist()

    def same(shown, given) -> bool:
        """Its output is title-cased and zero-padded ('Abbey', '07325' for 'abbey', '7325')."""
        return str(shown or "").lower().lstrip("0") == str(given or "").lower().lstrip("0")

    def fits(offset: int) -> bool:
        return all(
            0 <= r - offset < reference.num_rows
            and same(matched.column(f"target_{field}")[position].as_py(), target.column(field)[t].as_py())
            and same(matched.column(f"ref_{field}")[position].as_py(), reference.column(field)[r - offset].as_py())
            for field in ("given_name", "postcode")
            for position, (t, r) in enumerate(zip(targets, references, strict=True))
        )

    offset = next((offset for offset in (0, target.num_rows) if fits(offset)), None)
    if offset is None:
        raise RuntimeError("GoldenMatch's row ids do not number the records as expected")
    return {data.legacy[t]["id"]: data.hubspot[r - offset]["id"] for t, r in zip(targets, references, strict=True)}


def _describe(config) -> str:
    matchkeys = "; ".join(
        f"{mk.type} matchkey {mk.name}: "
        + ", ".join(
            f"{f.field} ({f.scorer}{', ' + str(f.levels) + ' levels' if f.levels != 2 else ''})" for f in mk.fields
        )
        for mk in config.get_matchkeys()
    )
    blocking = config.blocking
    passes = ""
    if blocking is not None:
        keys = (blocking.passes or []) or (blocking.keys or [])
        passes = f"; blocking {blocking.strategy}: " + ", ".join(
            "+".join(k.fields) + (f" [{', '.join(k.transforms)}]" if k.transforms else "") for k in keys
        )
    return matchkeys + passes


def run(data: Febrl) -> list[Row]:
    """Zero-config, then every field; two rows (or two rows saying why they did not run)."""
    try:
        import goldenmatch  # noqa: F401
    except ImportError as error:
        return skipped(f"goldenmatch is not installed ({error}); requirements-dev.txt pins goldenmatch=={VERSION}")
    import goldenmatch as gm

    if gm.__version__ != VERSION:
        return skipped(f"goldenmatch {gm.__version__} is installed, the benchmark pins {VERSION}")
    os.environ.update(ENVIRONMENT)
    logging.getLogger("goldenmatch").setLevel(logging.WARNING)  # its progress lines would fill the table's output
    from goldenmatch.config.schemas import MatchkeyField
    from goldenmatch.core.autoconfig import _match_mode_autoconfig

    target, reference = _table(data.legacy), _table(data.hubspot)
    rows: list[Row] = []

    def row(result, seconds: float, configuration: str, note: str) -> None:
        rows.append(
            Row(SYSTEM, None, *scores(_links(result, data, target, reference), data.truth), seconds,
                configuration=configuration, note=note)
        )  # fmt: skip

    with _no_network() as attempts:
        started = time.perf_counter()
        with _match_mode_autoconfig():
            config = gm.auto_configure_df(target, reference=reference, _skip_finalize=True, fused_match_allowed=True)
        configured = time.perf_counter()
        zero = gm.match_df(target, reference, config=config)
        matched = time.perf_counter()
        row(
            zero,
            matched - started,
            ZERO_CONFIG,
            f"GoldenMatch zero-config: auto-configuration {configured - started:.1f} s, matching "
            f"{matched - configured:.1f} s; it chose {_describe(config)}.",
        )
        every = config.model_copy(deep=True)
        probabilistic = [mk for mk in every.get_matchkeys() if mk.type == "probabilistic"]
        added: list[str] = []
        if probabilistic:
            present = {f.field for mk in probabilistic for f in mk.fields}
            added = [f for f in FEBRL_FIELDS if f not in present]
            probabilistic[0].fields.extend(
                MatchkeyField(field=f, scorer="exact", transforms=["lowercase", "strip"], levels=2) for f in added
            )
            # Its auto-config may also have excluded a column (state: "soft_delete_flag") at run time.
            if getattr(every, "exclude_columns", None):
                every.exclude_columns = [c for c in every.exclude_columns if c not in added]
        started_every = time.perf_counter()
        result = gm.match_df(target, reference, config=every)
        done = time.perf_counter()
        row(
            result,
            configured - started + done - started_every,
            EVERY_FIELD if added == ["street_number", "state"] else f"zero-config + {added}",
            f"GoldenMatch every field: the zero-config configuration ({configured - started:.1f} s, counted in its "
            f"seconds) with {', '.join(added) or 'nothing'} added (scorer exact, lowercase + strip, 2 levels); "
            f"matching {done - started_every:.1f} s. Links: each target's best reference (not one-to-one).",
        )
    if attempts:
        raise RuntimeError(f"GoldenMatch tried to reach {sorted(set(attempts))} (refused)")
    return rows
