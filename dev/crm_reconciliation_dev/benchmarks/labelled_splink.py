"""The project's labelled data side by side: our probable matching against Splink 5 (DuckDB backend).

The records are ``matching_benchmark.companies(size)`` and ``contacts(size)``: legacy rows with
no HubSpot link by id, HubSpot twins typed differently, decoys and unrelated records; the truth
is ``data.truth``.

Our side: ``matching_benchmark.run`` as the quality table runs it (load, then the real reconcile
and score SQL); its reconcile and score scripts are timed, and the score summary gives the
candidate pairs. Splink's side: the same rows, each value made canonical in Python as our SQL
makes it (``staging.crm_text``/``crm_email``/``crm_domain``/``crm_phone``, then ``crm_fold_name``
for ``name`` comparisons, ``crm_fold`` for ``text``, lower case for ``exact`` and ``email``), so
that formatting our SQL normalises (case, accents, legal forms, word order, phone formats) does
not handicap it; one Splink comparison per comparison of our model (the legacy id aside), over
the same property; blocking rule for blocking rule from our registry entry (exact keys the same
key, a trigram key the same folded words, shared; see ``_blocking``); Splink's usual training
(lambda from deterministic rules, u by random sampling with a seed, m by EM on two blocking
rules), predict, then one-to-one by single best links at match probability >= 0.5. Both are
scored by ``matching_benchmark.quality`` (links only: the ``new`` decisions have no Splink
counterpart). Used by ``crm_reconciliation_dev/benchmarks/matching.py``.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from unittest import mock

from crm_reconciliation_dev.benchmarks.febrl_splink import (
    THRESHOLD,
    U_MAX_PAIRS,
    U_SEED,
    Row,
    _version,
    cluster_members,
    print_table,
)

RECALL = 0.7  # the share of true pairs the deterministic rules are told they catch (as for FEBRL 4)
BRONZE_NOTE = "matching_benchmark.run: load, then reconcile and score"


# --- values as our SQL makes them canonical (include/sql/ddl/text_functions.sql) -----------------

_SPACE = " \t\r\n\u00a0"
# The letters staging.crm_fold translates (its target string holds one "o" too many, so that there
# ù reads "o", ý "u", ÿ and ž "y": here each letter reads as meant; the labelled data has none of them).
_ACCENTS = str.maketrans("àáâãäåāçćčèéêëēėęìíîïīñńòóôõöøōùúûüūýÿžźż", "aaaaaaaccceeeeeeeiiiiinnooooooouuuuuyyzzz")
_LEGAL_DOTTED = re.compile(r"s\.a\.s\.u\.?|s\.a\.s\.?|s\.a\.r\.l\.?|e\.u\.r\.l\.?|s\.a\.")
_LEGAL_WORDS = frozenset({
    "sa", "sas", "sasu", "sarl", "eurl", "sci", "snc", "gmbh", "ag", "kg", "ltd", "limited", "inc", "incorporated",
    "corp", "corporation", "llc", "plc", "bv", "nv", "spa", "srl", "sl", "oy", "ab",
})  # fmt: skip


def crm_text(value: object) -> str | None:
    if value is None:
        return None
    return str(value).strip(_SPACE) or None


def crm_email(value: object) -> str | None:
    text = crm_text(value)
    return text.lower() if text else None


def crm_domain(value: object) -> str | None:
    text = crm_text(value)
    if text is None:
        return None
    text = re.sub(r"^[a-z][a-z0-9+.-]*://", "", text.lower())
    text = re.sub(r"[/?#].*$", "", text)
    return re.sub(r"^www\.|:[0-9]+$|\.$", "", text) or None


def crm_phone(value: object, country_code: str) -> str | None:
    original = crm_text(value)
    if original is None:
        return None
    digits = re.sub(r"[^0-9+]", "", original.replace("(0)", ""))
    if re.fullmatch(r"\+[0-9]{6,15}", digits):
        return digits
    if re.fullmatch(r"00[0-9]{6,15}", digits):
        return "+" + digits[2:]
    if re.fullmatch(r"0[0-9]{8,10}", digits):
        return "+" + country_code + digits[1:]
    if re.fullmatch(r"[1-9][0-9]{10,14}", digits):
        return "+" + digits
    return original


def crm_fold(value: str | None) -> str | None:
    if value is None:
        return None
    text = value.lower().replace("œ", "oe").replace("æ", "ae").replace("ß", "ss").translate(_ACCENTS)
    return re.sub(r"[^a-z0-9]+", " ", text).strip() or None


def crm_fold_name(value: str | None) -> str | None:
    if value is None:
        return None
    folded = crm_fold(_LEGAL_DOTTED.sub(" ", value.lower())) or ""
    return " ".join(sorted(word for word in folded.split(" ") if word and word not in _LEGAL_WORDS)) or None


def canonical(transform: str, value: object, country_code: str) -> str | None:
    """A legacy or HubSpot value as the reconcile SQL stores it (reconcile/macros.sql)."""
    if transform == "email":
        return crm_email(value)
    if transform == "domain":
        return crm_domain(value)
    if transform == "phone":
        return crm_phone(value, country_code)
    return crm_text(value)


def prepared(compare: str, value: str | None) -> str | None:
    """A canonical value in the form our comparison kind compares (score/macros.sql ``prepare``)."""
    if value is None:
        return None
    if compare == "name":
        return crm_fold_name(value)
    if compare in ("text", "folded"):
        return crm_fold(value)
    if compare in ("email", "exact"):
        return value.lower()
    raise ValueError(f"no Splink counterpart for compare: {compare}")


# --- what Splink is given, per object -----------------------------------------------------------


@dataclass
class Setup:
    """Splink's side of one object: a comparison per comparison of our model (by its name), and
    the rules of its training."""

    comparisons: dict[str, Callable]  # our comparison name -> () -> Splink comparison over that column
    deterministic: Callable[[], list]  # rules for the probability that two random records match
    em: Callable[[], list]  # the two EM blocking rules


def _setups() -> dict[str, Setup]:
    import splink.comparison_library as cl
    from splink import block_on

    def text(column: str):
        return cl.JaroWinklerAtThresholds(column, [0.9, 0.7])

    return {
        "companies": Setup(
            comparisons={
                "name": lambda: cl.NameComparison("name").configure(term_frequency_adjustments=True),
                "domain": lambda: cl.ExactMatch("domain"),
                "phone": lambda: cl.ExactMatch("phone"),
                "city": lambda: text("city").configure(term_frequency_adjustments=True),
                "zip": lambda: cl.ExactMatch("zip"),
                "address": lambda: text("address"),
                "state": lambda: cl.ExactMatch("state"),
            },
            deterministic=lambda: [block_on("domain", "phone"), block_on("name", "city")],
            # Not on domain: companies of one group share it (the decoys), and EM blocked on it
            # learns that a domain match with another name is a match (precision 0.91 at 1,000).
            em=lambda: [block_on("name"), block_on("phone")],
        ),
        "contacts": Setup(
            comparisons={
                "firstname": lambda: cl.NameComparison("firstname").configure(term_frequency_adjustments=True),
                "lastname": lambda: cl.NameComparison("lastname").configure(term_frequency_adjustments=True),
                "email": lambda: cl.EmailComparison("email"),
                "phone": lambda: cl.ExactMatch("phone"),
                "company": lambda: text("company"),
                "address": lambda: text("address"),
                "city": lambda: text("city").configure(term_frequency_adjustments=True),
                "zip": lambda: cl.ExactMatch("zip"),
                "mobilephone": lambda: cl.ExactMatch("mobilephone"),
                "state": lambda: cl.ExactMatch("state"),
            },
            deterministic=lambda: [block_on("email"), block_on("firstname", "lastname", "phone")],
            # Not on first + last name: namesakes share it (the decoys), and EM blocked on it
            # learns that a name match with another e-mail is a match (precision 0.92 at 1,000).
            em=lambda: [block_on("phone"), block_on("email")],
        ),
    }


SETUPS = ("companies", "contacts")  # the objects _setups() knows (deals: none)


@dataclass
class Prepared:
    legacy: list[dict]
    hubspot: list[dict]
    columns: list[str]  # compared columns that hold a value on both sides
    absent: list[str]  # compared by our model, but empty on one side of the labelled data
    blocking: list  # Splink rules
    blocking_note: list[str]
    block_columns: list[str]  # b1, b2...: the keys the rules join on


def _blocking(spec, legacy: list[dict], hubspot: list[dict]) -> tuple[list, list[str], list[str]]:
    """One Splink rule per blocking key of ours, on the key our blocks.sql computes (added to the
    rows as b1, b2...): equality of exact, local-part and prefix keys; for a trigram key (ours:
    trigram similarity >= 0.5 of the folded words less those in more than max(20,
    common_word_share x HubSpot records) HubSpot keys, the whole folded key when every word is
    that common), a shared rare word, or the same whole key: an equi-join, as Splink blocks.
    Keys empty on either side (no such property in the data) are left out."""
    from splink import block_on

    matching = spec.matching
    rules, notes, columns = [], [], []
    for index, key in enumerate(matching.blocking, start=1):
        column = f"b{index}"
        label = f"{key.kind}:{'+'.join(key.properties)}"
        if key.kind == "trigram":
            for side in (legacy, hubspot):
                for row in side:
                    row[column] = crm_fold_name(" ".join(row["_canonical"][p] or "" for p in key.properties) or None)
            counts: dict[str, int] = {}
            for row in hubspot:
                for word in set((row[column] or "").split()):
                    counts[word] = counts.get(word, 0) + 1
            common = {w for w, n in counts.items() if n > max(20, matching.common_word_share * len(hubspot))}
            for side in (legacy, hubspot):
                for row in side:
                    rare = sorted({w for w in (row[column] or "").split() if w not in common})
                    row[column] = rare or ([row[column]] if row[column] else None)
        else:
            for side in (legacy, hubspot):
                for row in side:
                    values = [row["_canonical"][p] for p in key.properties]
                    if any(v is None for v in values):
                        row[column] = None
                        continue
                    if key.kind == "local_part":
                        row[column] = values[0].lower().split("@", 1)[0] or None
                    elif key.kind == "prefix":
                        row[column] = "|".join(
                            [*(v.lower() for v in values[:-1]), (crm_fold_name(values[-1]) or "")[: key.length]]
                        )
                    else:
                        row[column] = "|".join(v.lower() for v in values)
        if not (any(r[column] for r in legacy) and any(r[column] for r in hubspot)):
            notes.append(f"{label} (no values: left out)")
            continue
        if key.kind == "trigram":
            rules.append(block_on(column, arrays_to_explode=[column]))
            notes.append(f"{label} as a shared rare folded word, else the same folded key")
        else:
            rules.append(block_on(column))
            notes.append(f"{label} as the same key")
        columns.append(column)
    return rules, notes, columns


def prepare(name: str, data) -> Prepared:
    """The labelled rows as Splink's input: unique_id, one column per compared property, block keys."""
    from crm_reconciliation.config.registry import default_registry

    registry = default_registry()
    spec = registry.get(name)
    setup = _setups()[name]
    country = registry.defaults.phone_country_code
    ours = [c for c in spec.model.comparisons if c.compare != "legacy_id"]
    # Splink compares what our model compares: a comparison of ours the setup lacks is an error,
    # one the setup has and our model not (yet, or any more) is left out.
    if missing := {c.name for c in ours} - set(setup.comparisons):
        raise RuntimeError(
            f"{name}: our model compares {sorted(missing)}, which the Splink setup does not: update "
            "crm_reconciliation_dev/benchmarks/labelled_splink.py"
        )
    mappings = {m.property: m for m in spec.mappings}
    properties = sorted(
        {p for c in ours for p in c.properties} | {p for k in spec.matching.blocking for p in k.properties}
    )

    def rows(records: list[dict], legacy: bool) -> list[dict]:
        out = []
        for record in records:
            values = {}
            for p in properties:
                mapping = mappings[p]
                raw = record.get(mapping.source.lower()) if legacy else record.get(p)
                values[p] = canonical(mapping.transform, raw, country)
            row = {"unique_id": str(record[spec.legacy_id_column.lower()] if legacy else record["hs_object_id"])}
            row["_canonical"] = values
            for c in ours:
                row[c.name] = prepared(c.compare, " ".join(values[p] for p in c.properties if values[p]) or None)
            out.append(row)
        return out

    legacy, hubspot = rows(data.legacy, True), rows(data.hubspot, False)
    columns = [c.name for c in ours if any(r[c.name] for r in legacy) and any(r[c.name] for r in hubspot)]
    absent = [c.name for c in ours if c.name not in columns]
    blocking, notes, block_columns = _blocking(spec, legacy, hubspot)
    return Prepared(legacy, hubspot, columns, absent, blocking, notes, block_columns)


def run_splink(name: str, data) -> tuple[Row, str]:
    """Prepare, train, predict, single best links at THRESHOLD; the row and a note on the run."""
    import duckdb
    import pyarrow as pa
    from splink import DuckDBAPI, Linker, SettingsCreator

    from crm_reconciliation_dev.benchmarks import matching_data as matching_benchmark

    setup = _setups()[name]  # imports Splink's comparison library before the clock starts
    started = time.perf_counter()
    p = prepare(name, data)
    keys = ["unique_id", *p.columns, *p.block_columns]

    def table(rows: list[dict]) -> pa.Table:
        return pa.table({k: [r[k] for r in rows] for k in keys})

    settings = SettingsCreator(
        link_type="link_only",
        unique_id_column_name="unique_id",
        blocking_rules_to_generate_predictions=p.blocking,
        comparisons=[setup.comparisons[c]() for c in p.columns],
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )
    # An explicit connection, so that DuckDB never tries to download an extension.
    connection = duckdb.connect(":memory:", config={"autoinstall_known_extensions": False})
    try:
        db_api = DuckDBAPI(connection=connection)
        legacy = db_api.register(table(p.legacy), dataset_display_name="legacy")
        hubspot = db_api.register(table(p.hubspot), dataset_display_name="hubspot")
        linker = Linker([legacy, hubspot], settings, log_level=logging.WARNING)
        linker.training.estimate_probability_two_random_records_match(setup.deterministic(), recall=RECALL)
        linker.training.estimate_u_using_random_sampling(max_pairs=U_MAX_PAIRS, seed=U_SEED)
        for rule in setup.em():
            linker.training.estimate_parameters_using_expectation_maximisation(
                rule, estimate_without_term_frequencies=True
            )
        trained = time.perf_counter()
        predictions = linker.inference.predict()
        pairs = predictions.as_duckdbpyrelation().select("unique_id_l, unique_id_r").fetchall()
        predicted = time.perf_counter()
        clusters = linker.clustering.cluster_using_single_best_links(
            predictions, duplicate_free_datasets=["legacy", "hubspot"], threshold_match_probability=THRESHOLD
        )
        members = cluster_members(clusters)
    finally:
        connection.close()
    seconds = time.perf_counter() - started
    legacy_ids = {r["unique_id"] for r in p.legacy}

    def oriented(a: str, b: str) -> tuple[str, str]:
        return (a, b) if a in legacy_ids else (b, a)

    links = dict(oriented(*ids) for ids in members.values() if len(ids) == 2)
    s = matching_benchmark.quality({int(a): ("probable", b) for a, b in links.items()}, data.truth)
    truth = {str(k): v for k, v in data.truth.items()}
    blocked = sum(1 for pair in pairs if truth.get(oriented(*pair)[0]) == oriented(*pair)[1])
    row = Row(
        f"Splink {_version()} + single best links at match probability >= {THRESHOLD} (one-to-one)",
        len(pairs),
        s["link_precision"],
        s["link_recall"],
        s["link_f1"],
        seconds,
    )
    note = (
        f"Splink: preparation + training {trained - started:.1f} s, prediction {predicted - trained:.1f} s, "
        f"single best links {seconds - (predicted - started):.1f} s; {blocked:,} of the {len(truth):,} true pairs "
        f"in its pairs; {s['links']:,} links. Compared: {', '.join(p.columns)}"
        + (f" ({', '.join(p.absent)} also in our model, but empty in this data)" if p.absent else "")
        + f". Blocking: {'; '.join(p.blocking_note)}."
    )
    return row, note


# --- our side ------------------------------------------------------------------------------------


@contextmanager
def _timed_scripts():
    """Records (seconds, summary) of every ``execute_script`` call ``matching_benchmark.run`` makes."""
    from crm_reconciliation.common import sql_templates

    calls: list[tuple[float, dict | None]] = []
    real = sql_templates.execute_script

    def timed(cursor, script, parameters=None):
        started = time.perf_counter()
        summary = real(cursor, script, parameters)
        calls.append((time.perf_counter() - started, summary))
        return summary

    with mock.patch.object(sql_templates, "execute_script", timed):
        yield calls


@dataclass
class Ours:
    predicted: dict  # legacy id -> (status, HubSpot id), as matching_benchmark.run returns it
    seconds: float  # reconcile + score
    pairs: int | None  # the score task's candidate pairs


def run_ours(connection, name: str, data) -> Ours:
    """``matching_benchmark.run`` unchanged; its reconcile and score scripts timed."""
    from crm_reconciliation_dev.benchmarks import matching_data as matching_benchmark

    with _timed_scripts() as calls:
        predicted = matching_benchmark.run(connection, name, data)
    # run() executes create_staging, then reconcile, then the score scripts in one call.
    if len(calls) != 3 or not isinstance(calls[-1][1], dict) or "candidates" not in calls[-1][1]:
        raise RuntimeError(f"matching_benchmark.run made {len(calls)} script calls, not create/reconcile/score")
    return Ours(predicted, calls[1][0] + calls[2][0], calls[2][1]["candidates"])


def ours_system(name: str) -> str:
    return f"{name} pipeline (reconcile + score, shipped config, one-to-one)"


def compare(name: str, data, ours: Ours | BaseException) -> list[Row]:
    """Print the side-by-side table of one labelled dataset; ``ours`` is our run's result (or its error)."""
    from crm_reconciliation_dev.benchmarks import matching_data as matching_benchmark

    rows: list[Row] = []
    notes: list[str] = []
    if isinstance(ours, BaseException):
        rows.append(Row(ours_system(name), error=_error(ours)))
    else:
        s = matching_benchmark.quality(ours.predicted, data.truth)
        rows.append(
            Row(ours_system(name), ours.pairs, s["link_precision"], s["link_recall"], s["link_f1"], ours.seconds)
        )
        notes.append(f"Ours: {s['links']:,} links.")
    try:
        row, note = run_splink(name, data)
        rows.append(row)
        notes.append(note)
    except Exception as error:  # report it in the table, then go on
        logging.getLogger(__name__).exception("labelled %s: Splink failed", name)
        rows.append(Row("Splink", error=_error(error)))
    print(
        f"Labelled {name}: {len(data.legacy):,} legacy vs {len(data.hubspot):,} HubSpot records, "
        f"{len(data.truth):,} true pairs (matching_benchmark.{name}). Precision, recall and F1 of the links only "
        "(matching_benchmark.quality: precision over the links made, recall over the true pairs)."
    )
    print()
    print_table(rows)
    print()
    for note in notes:
        print(note)
    print(
        "Seconds: ours, the reconcile and score SQL (canonical values, candidate pairs, comparisons, u and EM, "
        "assignment), not the load; Splink, Python canonical values, registration, training (lambda, u on "
        f"{U_MAX_PAIRS:.0e} random pairs with seed {U_SEED}, EM on two rules), prediction and single best links. "
        "Pairs compared: ours, the score task's candidate pairs; Splink, predict()'s pairs."
    )
    return rows


def _error(error: BaseException) -> str:
    return f"{type(error).__name__}: {(str(error).splitlines() or [''])[0][:200]}"
