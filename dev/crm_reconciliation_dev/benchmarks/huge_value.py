"""Benchmark of one huge legacy value: the companies reconcile and score with one 10 MB field,
next to the same run without it, both measured in the same run, so that the ratio holds on a
shared machine whatever its speed.

The scenario is the benchmark data (``crm_reconciliation_dev.sample_data``, 2,000 companies and
their HubSpot mirror by default). In the second file, one field of one record (``Comp_Name`` by
default) is replaced by a 10 MB paste of words with as many distinct trigrams as can be (md5
digests): the costliest text for a trigram comparison. The record is the one the u sample reads
first (``score/u_sample.sql`` orders records by the md5 of their legacy id), the worst place
for it: there it is compared with hundreds of HubSpot records, where a blocked record meets a
handful. Comparisons read the first 65,536 characters of a value, HubSpot's own limit
(``staging.crm_compared``), trigram similarity the first 4,096 (``staging.crm_similarity``):
the goal is a score within 2× of the run without the huge value.

Each round starts from empty schemas, loads the mirror and the file through the DAG's own
tasks, then times its ``reconcile`` and ``score`` tasks, each in a process of its own as a
worker runs it (the time of ``execute``). Rounds alternate the two files; the medians are
compared. ``--unbounded`` swaps the two functions for ones reading whole values, as before the
bound: the cost this removes (a quarter of an hour and more for 10 MB, so try ``--megabytes 1``).

Run: ``make bench-huge-value`` or ``python -m crm_reconciliation_dev.benchmarks.huge_value
--field Addr_Street1 --megabytes 10``.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from crm_reconciliation_dev import local_env
from crm_reconciliation_dev.sample_data import SHAPES, Sizes, generate

MODULE = "crm_reconciliation_dev.benchmarks.huge_value"
OBJECT = "companies"
TABLE = "Company"
LOADED = ("create_staging", "load_bronze")
TIMED = ("reconcile", "score")
GOAL = 2.0

# The pre-bound functions (--unbounded): every comparison reads the whole value.
UNBOUNDED = (
    "create or replace function staging.crm_compared(value text) returns text "
    "language sql immutable parallel safe as $fn$ select value $fn$",
    "create or replace function staging.crm_similarity(a text, b text) returns real "
    "language sql immutable parallel safe as $fn$ select similarity(a, b) $fn$",
)

# The record the u sample reads first: usable rows in the order score/u_sample.sql samples them.
FIRST_SAMPLED = """
select {legacy_key}
from staging.{staging_table}
where reconciliation_status <> 'rejected'
order by md5({legacy_key}::text)
limit 1
"""

# What became of the record: its status, confidence, the level of each comparison, and the
# length of the value staging keeps (the whole value: nothing is cut there).
OUTCOME = """
select
    reconciliation_status,
    match_confidence,
    (
        select jsonb_object_agg(comparison.key, comparison.value ->> 'level')
        from jsonb_each(score_components -> 'comparisons') as comparison
    ) as levels,
    length(legacy_properties ->> %(property)s) as kept
from staging.{staging_table}
where {legacy_key} = %(legacy_id)s
"""


@dataclass
class Round:
    variant: str
    seconds: dict[str, float]
    outcome: dict


# ---------------------------------------------------------------------------------------------
# A task in its own process, as a worker runs it: its time, not the process's start-up.


def child_task(task_id: str, params: str) -> None:
    from crm_reconciliation.config.registry import default_registry
    from crm_reconciliation.dag_factory import build_dag

    dag = build_dag(default_registry(), OBJECT)
    started = time.perf_counter()
    summary = local_env.run_task(dag, task_id, run_id="bench_huge_value", params=json.loads(params))
    print(json.dumps({"seconds": time.perf_counter() - started, "summary": summary}, default=str))


def run_task(task_id: str, params: dict) -> float:
    result = subprocess.run(
        [sys.executable, "-m", MODULE, "--task", task_id, json.dumps(params)],
        capture_output=True,
        text=True,
        check=False,
        env=os.environ.copy(),
    )
    if result.returncode:
        raise RuntimeError(f"{task_id} failed:\n{result.stderr[-6000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])["seconds"]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# The scenario.


def huge_text(megabytes: float) -> str:
    """About ``megabytes`` MB of words, each an md5 digest: as many distinct trigrams as text has."""
    words = int(megabytes * 1_000_000 / 33) + 1
    return " ".join(hashlib.md5(str(n).encode()).hexdigest() for n in range(words))  # noqa: S324 - not security


def with_huge_value(source: Path, target: Path, field: str, legacy_id: int, megabytes: float) -> int:
    """Copy the legacy file ``source`` to ``target`` with ``field`` of record ``legacy_id`` replaced
    by a huge value; returns the value's length. The file keeps its shape (encoding, delimiter)."""
    shape = SHAPES[TABLE]
    target.parent.mkdir(parents=True, exist_ok=True)
    value = huge_text(megabytes)
    with (
        source.open(encoding=shape.encoding, newline="") as reading,
        target.open("w", encoding=shape.encoding, newline="") as writing,
    ):
        reader = csv.reader(reading, delimiter=shape.delimiter)
        writer = csv.writer(writing, delimiter=shape.delimiter, lineterminator="\r\n")
        header = next(reader)
        lowered = [column.lower() for column in header]
        if field.lower() not in lowered:
            raise SystemExit(f"{field} is not a column of {source.name}: {', '.join(header)}")
        position, id_position = lowered.index(field.lower()), 0
        writer.writerow(header)
        replaced = False
        for row in reader:
            if int(float(row[id_position])) == legacy_id:
                row[position], replaced = value, True
            writer.writerow(row)
    if not replaced:
        raise SystemExit(f"no record {legacy_id} in {source.name}")
    return len(value)


def reset(uri: str, mirror_dir: Path) -> None:
    """Empty project schemas and the mirror loaded afresh: every round starts alike."""
    import psycopg

    from crm_reconciliation_dev.demo_mirror import load_demo_mirror

    with psycopg.connect(uri) as connection:
        for schema in ("bronze", "staging", "hubspot"):
            connection.execute(f"drop schema if exists {schema} cascade")
        connection.commit()
        load_demo_mirror(connection, folder=mirror_dir, replace=True)


def one_round(uri: str, variant: str, bronze_dir: Path, mirror_dir: Path, unbounded: bool) -> dict[str, float]:
    import psycopg

    reset(uri, mirror_dir)
    params = {"bronze_dir": str(bronze_dir)}
    for task_id in LOADED:
        run_task(task_id, params)
    if unbounded:
        with psycopg.connect(uri) as connection:
            for statement in UNBOUNDED:
                connection.execute(statement)
    seconds = {}
    for task_id in TIMED:
        seconds[task_id] = run_task(task_id, params)
        log(f"[{variant}] {task_id}: {seconds[task_id]:.2f} s")
    return seconds


def query(uri: str, statement: str, binds: dict | None = None) -> tuple | None:
    import psycopg

    from crm_reconciliation.config.registry import default_registry

    names = default_registry().template_params(OBJECT)
    with psycopg.connect(uri) as connection:
        return connection.execute(
            statement.format(legacy_key=names["legacy_key"], staging_table=names["staging_table"]), binds or {}
        ).fetchone()


def outcome(uri: str, legacy_id: int, property_name: str) -> dict:
    status, confidence, levels, kept = query(uri, OUTCOME, {"legacy_id": legacy_id, "property": property_name})
    return {"status": status, "confidence": float(confidence), "levels": levels or {}, "kept": kept}


def mapped_property(field: str) -> str:
    from crm_reconciliation.config.registry import default_registry

    mapped = [m.property for m in default_registry().get(OBJECT).mappings if m.source.lower() == field.lower()]
    return mapped[0] if mapped else field


# ---------------------------------------------------------------------------------------------
# Output.


def median(rounds: list[Round], variant: str, task_id: str) -> float:
    return statistics.median(r.seconds[task_id] for r in rounds if r.variant == variant)


def report(rounds: list[Round], args: argparse.Namespace, legacy_id: int, length: int) -> list[str]:
    huge = f"one {length / 1e6:.1f} MB {args.field}"
    lines = [
        f"{args.companies:,} legacy companies and their mirror; {huge} on legacy company {legacy_id} (the record "
        f"the u sample reads first); {args.rounds} round(s) of each, alternating, medians"
        + (" — UNBOUNDED: comparisons read whole values, as before the bound" if args.unbounded else "")
        + ":",
        "",
        "| run | reconcile (s) | score (s) | reconcile + score (s) |",
        "|---|---:|---:|---:|",
    ]
    figures = {}
    for variant, label in (("baseline", "without it (baseline)"), ("huge", f"with {huge}")):
        reconcile, score = median(rounds, variant, "reconcile"), median(rounds, variant, "score")
        figures[variant] = (reconcile, score, reconcile + score)
        lines.append(f"| {label} | {reconcile:.2f} | {score:.2f} | {reconcile + score:.2f} |")
    ratios = [huge / base for huge, base in zip(figures["huge"], figures["baseline"], strict=True)]
    lines.append(f"| ratio (with / without) | {ratios[0]:.2f}× | **{ratios[1]:.2f}×** | {ratios[2]:.2f}× |")
    verdict = "met" if ratios[1] <= GOAL else "NOT met"
    lines += ["", f"Goal: the score within {GOAL:g}× of the run without the huge value: {verdict} ({ratios[1]:.2f}×)."]
    lines += ["", "Each round:", ""]
    for number, r in enumerate(rounds, 1):
        shown = r.outcome
        lines.append(
            f"- round {(number + 1) // 2}, {r.variant}: reconcile {r.seconds['reconcile']:.2f} s, "
            f"score {r.seconds['score']:.2f} s; "
            f"record {legacy_id}: {shown['status']}, confidence {shown['confidence']:.2f}, levels "
            f"{json.dumps(shown['levels'], sort_keys=True)}, staging keeps {shown['kept']:,} characters of "
            f"{mapped_property(args.field)}"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--companies", type=int, default=2_000, help="legacy companies of the scenario")
    parser.add_argument("--field", default="Comp_Name", help="the legacy column that holds the huge value")
    parser.add_argument("--megabytes", type=float, default=10.0, help="size of the huge value")
    parser.add_argument("--legacy-id", type=int, help="the record that holds it (default: the u sample's first)")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each file, alternating (medians compared)")
    parser.add_argument(
        "--unbounded",
        action="store_true",
        help="comparisons read whole values, as before the bound (slow: minutes per MB)",
    )
    parser.add_argument("--task", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.task:
        child_task(*args.task)
        return
    with tempfile.TemporaryDirectory(prefix="crm-recon-huge-") as folder, local_env.throwaway_stack() as uri:
        plain, huge, mirror = Path(folder) / "plain", Path(folder) / "huge", Path(folder) / "mirror"
        generate(plain, mirror, Sizes(args.companies, 0, 0, 0), faults=False)
        rounds: list[Round] = []
        legacy_id, length = args.legacy_id, 0
        property_name = mapped_property(args.field)
        for number in range(args.rounds):
            for variant, bronze_dir in (("baseline", plain), ("huge", huge)):
                log(f"round {number + 1}, {variant}")
                seconds = one_round(uri, variant, bronze_dir, mirror, args.unbounded)
                if legacy_id is None:  # the u sample's first, as the first baseline read the file
                    legacy_id = query(uri, FIRST_SAMPLED)[0]
                rounds.append(Round(variant, seconds, outcome(uri, legacy_id, property_name)))
                if variant == "baseline" and not length:
                    source = f"Bronze_{TABLE}.csv"
                    length = with_huge_value(plain / source, huge / source, args.field, legacy_id, args.megabytes)
                    log(f"{args.field} of legacy company {legacy_id}: {length:,} characters")
    print("\n".join(report(rounds, args, legacy_id, length)))


if __name__ == "__main__":
    main()
