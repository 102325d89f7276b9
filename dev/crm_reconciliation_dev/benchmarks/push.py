"""Benchmark of push against HubSpot's rolling limit (190 requests / 10 s by default), through the
real push task, to a local HubSpot stand-in that answers each request after a latency with
jitter (0.3 ± 0.05 s by default), as HubSpot does: one request at a time reaches a sixth of the
limit, so the push keeps several in flight (``concurrency``).

Four runs against one stand-in each and one database: companies updates one request in flight
(the baseline), companies updates, companies creations (``new`` rows the portal does not hold,
``create_missing``), then companies and contacts updates at once, each its own process started
together, using the same token. The pair shares one limit (the push's limiter is booked in the
database, per token): its combined requests and records are what counts. Each run prints the
request rate as a fraction of the ideal (limit / window), and what a user waits for: the records
written per second (the inputs of the write batches answered 200/201) as a fraction of limit /
window × 100 records per batch (goal ≥ 0.9 alone, ≥ 0.8 for the pair together), both over the same
whole windows; the requests each written batch cost, the 429s (goal 0), the most requests in any
window (at most the limit) and each process's peak RSS. ``--verify`` is the push's ``verify``
param (``mirror``: one request per batch). Run: ``make
bench-push`` or ``python -m crm_reconciliation_dev.benchmarks.push --updates 60000``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
from collections import Counter

from crm_reconciliation_dev import local_env
from crm_reconciliation_dev.fake_hubspot import MAX_BATCH_INPUTS, FakeCrm

# Per object: the first HubSpot id, the properties each update sets and the legacy values of a
# record to create (values their types take).
OBJECTS = {
    "companies": (
        10_000_000,
        "jsonb_build_object('city', 'Ville ' || n, 'industry', 'Semiconductors', "
        "'phone', '+334760' || lpad(n::text, 5, '0'))",
        "jsonb_build_object('name', 'Société ' || n, 'city', 'Grenoble', 'phone', '+334762' || lpad(n::text, 5, '0'))",
    ),
    "contacts": (
        20_000_000,
        "jsonb_build_object('city', 'Ville ' || n, 'jobtitle', 'Ingénieur ' || n, "
        "'phone', '+334761' || lpad(n::text, 5, '0'))",
        "jsonb_build_object('firstname', 'Ana', 'lastname', 'Martin ' || n, 'city', 'Grenoble')",
    ),
}

UPDATE_ROWS = """
insert into staging.{table} ({legacy_key}, {hubspot_key}, reconciliation_status, match_confidence,
    properties_to_update)
select n, ({first_id} + n)::text, 'matched', 100, {properties}
from generate_series(1, %(count)s) as n
"""

# Records HubSpot lacks: pushed with create_missing, as an upsert on the legacy id.
CREATE_ROWS = """
insert into staging.{table} ({legacy_key}, reconciliation_status, legacy_properties)
select n, 'new', {properties}
from generate_series(1, %(count)s) as n
"""

# One push task in its own process: its time (the task's own, start-up excluded), peak RSS, summary.
CHILD = """
import json, resource, sys, time
from datetime import UTC, datetime
from crm_reconciliation.operators.push import PushOperator
object_type = sys.argv[1]
max_requests, window_seconds, concurrency = int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
verify, create_missing = sys.argv[5], sys.argv[6] == "create"
task = PushOperator(task_id="push", object_type=object_type, push_target="hubspot", dry_run=False,
                    min_confidence=90, create_missing=create_missing, progress_seconds=5,
                    max_requests=max_requests, window_seconds=window_seconds, concurrency=concurrency,
                    verify=verify)
started = time.perf_counter()
summary = task.execute(
    {"run_id": f"bench_push_{object_type}", "logical_date": datetime(2026, 1, 1, tzinfo=UTC), "dag_run": None})
seconds = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "peak_rss_mb": peak, "summary": summary}, default=str))
"""


def fill(uri: str, records: dict[str, int], action: str) -> None:
    """Staging rows for ``records`` (object → how many) to update or create (``action``),
    replacing any, and an empty push ledger: each run sends all its payloads (the ledger never
    sends a payload twice)."""
    import psycopg

    from crm_reconciliation.common.sql_templates import execute_script, render
    from crm_reconciliation.config.registry import default_registry
    from crm_reconciliation.dag_factory import CREATE_STAGING_SCRIPTS

    with psycopg.connect(uri, autocommit=True) as connection:
        for name, count in records.items():
            params = default_registry().template_params(name)
            scripts = [render(template, params={"object": params}) for template in CREATE_STAGING_SCRIPTS]
            execute_script(connection.cursor(), scripts)
            connection.execute(f"truncate staging.{params['staging_table']}")
            first_id, updated, created = OBJECTS[name]
            rows = (UPDATE_ROWS if action == "update" else CREATE_ROWS).format(
                table=params["staging_table"],
                legacy_key=params["legacy_key"],
                hubspot_key=params["hubspot_key"],
                first_id=first_id,
                properties=updated if action == "update" else created,
            )
            connection.execute(rows, {"count": count})
        connection.execute("truncate staging.push_log")


def seed(records: dict[str, int], action: str) -> dict[str, dict[str, dict]]:
    """The portal holds the records the updates name (a strict portal refuses unknown ids), and
    none of those to create."""
    if action == "create":
        return {}
    return {name: {str(OBJECTS[name][0] + n): {} for n in range(1, count + 1)} for name, count in records.items()}


def push(server: FakeCrm, objects: list[str], args: argparse.Namespace, concurrency: int, action: str) -> list[dict]:
    """Run one push process per object, all started together; their summaries."""
    connection = {"conn_type": "http", "host": server.url.removeprefix("http://"), "schema": "http"}
    environment = {**os.environ, "AIRFLOW_CONN_HUBSPOT_API": json.dumps(connection | {"password": server.token})}
    command = [str(args.limit), str(args.window), str(concurrency), args.verify, action]
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, name, *command],
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in objects
    ]
    outputs = [process.communicate() for process in processes]
    for name, process, (_, stderr) in zip(objects, processes, outputs, strict=True):
        if process.returncode:
            raise SystemExit(f"push of {name} failed:\n{stderr[-4000:]}")
    return [json.loads(stdout.strip().splitlines()[-1]) for stdout, _ in outputs]


def steady_windows(times: list[float], window: float) -> tuple[float, float, str]:
    """(begin, end, how it was measured): the span a steady rate is measured over, the whole
    windows after the first; begin and end NaN when there is none.

    Why whole windows: a rolling limit caps every window at the limit, so a push that uses it
    fully fills each one whatever the phase of its bursts (a limiter sends as slots free, in
    the rhythm of the first window), while a partial last window would flatter or penalise it by
    up to a burst. The first window (start-up, preflight) is left out. A run shorter than two
    windows falls back to the time after the first window, up to the last request."""
    times = sorted(times)
    if not times:
        return math.nan, math.nan, "no requests"
    start, span = times[0], times[-1] - times[0]
    whole = int((span - window) // window) if span > window else 0
    if whole >= 1:
        return start + window, start + window * (1 + whole), f"{whole} whole window{'s' if whole > 1 else ''}"
    if span <= window:
        return math.nan, math.nan, "run shorter than one window: raise the run's size"
    # Just after the last request, so that it counts.
    end = math.nextafter(times[-1], math.inf)
    return start + window, end, "short run (under two windows): a partial window, raise the run's size"


def rate(events: list[tuple[float, int]], begin: float, end: float) -> float:
    """Per second between ``begin`` (included) and ``end`` (excluded) of ``events`` (time, count)."""
    if math.isnan(begin) or end <= begin:
        return math.nan
    return sum(count for moment, count in events if begin <= moment < end) / (end - begin)


def created_once(server: FakeCrm, records: dict[str, int]) -> bool:
    """Each record to create is in the portal once: one record per legacy id, none twice."""
    from crm_reconciliation.config.registry import default_registry

    for name, count in records.items():
        legacy_id = default_registry().template_params(name)["legacy_id_property"]
        held = Counter(properties.get(legacy_id) for properties in server.objects[name].values())
        if server.created[name] != count or held != Counter({str(n): 1 for n in range(1, count + 1)}):
            return False
    return True


def report(
    label: str, records: dict[str, int], action: str, server: FakeCrm, summaries: list[dict], args: argparse.Namespace
) -> tuple[str, str]:
    """One row of the results table, and what the row's figures rest on."""
    total = sum(records.values())
    ideal = args.limit / args.window
    requests = server.all_request_times
    begin, end, basis = steady_windows(requests, args.window)
    request_rate = rate([(moment, 1) for moment in requests], begin, end)
    writes = server.object_writes()
    written = [(arrived, inputs) for arrived, inputs, status in writes if status in (200, 201)]
    record_rate = rate(written, begin, end)
    per_batch = len(requests) / len(written) if written else math.nan
    pushed = max(summary["seconds"] for summary in summaries)
    rss = " + ".join(f"{summary['peak_rss_mb']:.0f}" for summary in summaries)
    row = (
        f"| {label} | {total:,} | {len(requests):,} | {per_batch:.2f} | {pushed:.1f} "
        f"| {request_rate:.1f} | {request_rate / ideal:.2f} | {record_rate:,.0f} "
        f"| {record_rate / (ideal * MAX_BATCH_INPUTS):.2f} | {total / pushed / (ideal * MAX_BATCH_INPUTS):.2f} "
        f"| {server.max_requests_in_any_window()} of {args.limit} "
        f"| {server.statuses[429]} | {rss} |"
    )
    throttled = sum(summary["summary"].get("throttled", 0) or 0 for summary in summaries)
    if action == "create":
        outcome = f"all {total:,} records created once: {created_once(server, records)}"
    else:
        applied = len(server.applied) == total and max(server.applied.values(), default=0) == 1
        outcome = f"all {total:,} updates applied once: {applied}"
    note = (
        f"{label}: rates over {basis}; {sum(inputs for _, inputs in written):,} records written in "
        f"{len(written):,} write batches; 429s seen by the push: {throttled}; {outcome}"
    )
    return row, note


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--updates", type=int, default=60_000, help="companies updates of the single run")
    parser.add_argument("--creations", type=int, default=60_000, help="companies creations of the creation run")
    parser.add_argument("--pair-updates", type=int, default=30_000, help="updates per object of the pair run")
    parser.add_argument(
        "--baseline-updates", type=int, default=6_000, help="updates of the baseline run, one request in flight"
    )
    parser.add_argument("--limit", type=int, default=190, help="requests per rolling window")
    parser.add_argument("--window", type=float, default=10.0, help="the rolling window (s)")
    parser.add_argument("--latency", type=float, default=0.3, help="the stand-in's answer time (s)")
    parser.add_argument("--jitter", type=float, default=0.05, help="± uniform jitter on the latency (s)")
    parser.add_argument("--concurrency", type=int, default=8, help="requests each push keeps in flight")
    parser.add_argument(
        "--verify",
        choices=("mirror", "sample", "every"),
        default="mirror",
        help="the push's verify param (passed only to a push task that takes it)",
    )
    args = parser.parse_args()
    runs = [
        # The baseline, in the same run: what one request at a time reaches at this latency.
        ("companies updates, 1 in flight (baseline)", {"companies": args.baseline_updates}, "update", 1),
        (f"companies updates, {args.concurrency} in flight", {"companies": args.updates}, "update", args.concurrency),
        (
            f"companies creations, {args.concurrency} in flight",
            {"companies": args.creations},
            "create",
            args.concurrency,
        ),
        ("companies + contacts updates at once", dict.fromkeys(OBJECTS, args.pair_updates), "update", args.concurrency),
    ]
    rows, notes = [], []
    with local_env.throwaway_stack() as uri:
        for label, records, action, concurrency in runs:
            fill(uri, records, action)
            options = {"max_requests": args.limit, "window_seconds": args.window, "latency_seconds": args.latency}
            with FakeCrm(**options, latency_jitter_seconds=args.jitter, seed=seed(records, action)) as server:
                run_summaries = push(server, list(records), args, concurrency, action)
            row, note = report(label, records, action, server, run_summaries, args)
            rows.append(row)
            notes.append(note)
    ideal = args.limit / args.window
    print(
        f"Push through a stand-in answering in {args.latency} ± {args.jitter} s, "
        f"limit {args.limit} requests / {args.window:g} s shared by every push of the token "
        f"(ideal: {ideal:.1f} requests/s, {ideal * MAX_BATCH_INPUTS:,.0f} records/s at {MAX_BATCH_INPUTS} "
        f"records a batch); verify={args.verify}:\n"
    )
    print(
        "| run | records | requests | requests per batch written | push time (s) | requests/s (steady) "
        "| fraction of limit | records/s (steady) | records fraction of limit × 100 (goal ≥ 0.9, pair ≥ 0.8) "
        "| records fraction, whole task | most in any window | 429s (goal 0) | peak RSS (MB) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    print("\n".join(rows))
    print("\n" + "\n".join(notes))


if __name__ == "__main__":
    main()
