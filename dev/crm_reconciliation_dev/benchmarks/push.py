"""Benchmark of push against HubSpot's rolling limit (190 requests / 10 s by default), through the
real push task, to a local HubSpot stand-in that answers each request after a latency with
jitter (0.3 ± 0.05 s by default), as HubSpot does: one request at a time reaches a sixth of the
limit, so the push keeps several in flight (``concurrency``).

Two runs against one stand-in and one database: companies alone, then companies and contacts at
once, each its own process started together, using the same token. The pair shares one limit
(the push's limiter is booked in the database, per token): its combined requests are what
counts. Each run prints the request rate as a fraction of the ideal (limit / window, printed
beside it; goal ≥ 0.9), the 429s (goal 0), the most requests in any window (at most the limit)
and each process's peak RSS. Run: ``make bench-push`` or ``python -m crm_reconciliation_dev.benchmarks.push --updates
50000``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time

from crm_reconciliation_dev import local_env
from crm_reconciliation_dev.fake_hubspot import FakeCrm

# Per object: the first HubSpot id, and the properties each update sets (values its types take).
OBJECTS = {
    "companies": (
        10_000_000,
        "jsonb_build_object('city', 'Ville ' || n, 'industry', 'Semiconductors', "
        "'phone', '+334760' || lpad(n::text, 5, '0'))",
    ),
    "contacts": (
        20_000_000,
        "jsonb_build_object('city', 'Ville ' || n, 'jobtitle', 'Ingénieur ' || n, "
        "'phone', '+334761' || lpad(n::text, 5, '0'))",
    ),
}

ROWS = """
insert into staging.{table} ({legacy_key}, {hubspot_key}, reconciliation_status, match_confidence,
    properties_to_update)
select n, ({first_id} + n)::text, 'matched', 100, {properties}
from generate_series(1, %(updates)s) as n
"""

# One push task in its own process: its time (the task's own, start-up excluded), peak RSS, summary.
CHILD = """
import json, resource, sys, time
from datetime import UTC, datetime
from crm_reconciliation.operators.push import PushOperator
object_type = sys.argv[1]
max_requests, window_seconds, concurrency = int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
task = PushOperator(task_id="push", object_type=object_type, push_target="hubspot", dry_run=False,
                    min_confidence=90, progress_seconds=5, max_requests=max_requests,
                    window_seconds=window_seconds, concurrency=concurrency)
started = time.perf_counter()
summary = task.execute(
    {"run_id": f"bench_push_{object_type}", "logical_date": datetime(2026, 1, 1, tzinfo=UTC), "dag_run": None})
seconds = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "peak_rss_mb": peak, "summary": summary}, default=str))
"""


def fill(uri: str, updates: dict[str, int]) -> None:
    """Staging rows for ``updates`` (object → how many), replacing any, and an empty push ledger:
    each run sends all its payloads (the ledger never sends a payload twice)."""
    import psycopg

    from crm_reconciliation.common.registry import default_registry
    from crm_reconciliation.common.sql_templates import execute_script, render

    with psycopg.connect(uri, autocommit=True) as connection:
        for name, count in updates.items():
            params = default_registry().template_params(name)
            execute_script(connection.cursor(), render("ddl/create_staging.sql", params={"object": params}))
            connection.execute(f"truncate staging.{params['staging_table']}")
            first_id, properties = OBJECTS[name]
            rows = ROWS.format(
                table=params["staging_table"],
                legacy_key=params["legacy_key"],
                hubspot_key=params["hubspot_key"],
                first_id=first_id,
                properties=properties,
            )
            connection.execute(rows, {"updates": count})
        connection.execute("truncate staging.push_log")


def seed(updates: dict[str, int]) -> dict[str, dict[str, dict]]:
    """The portal holds the records the updates name (a strict portal refuses unknown ids)."""
    return {name: {str(OBJECTS[name][0] + n): {} for n in range(1, count + 1)} for name, count in updates.items()}


def push(server: FakeCrm, objects: list[str], args: argparse.Namespace, concurrency: int) -> tuple[list[dict], float]:
    """Run one push process per object, all started together; (their summaries, wall time)."""
    connection = {"conn_type": "http", "host": server.url.removeprefix("http://"), "schema": "http"}
    environment = {**os.environ, "AIRFLOW_CONN_HUBSPOT_API": json.dumps(connection | {"password": server.token})}
    command = [str(args.limit), str(args.window), str(concurrency)]
    started = time.perf_counter()
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
    elapsed = time.perf_counter() - started
    for name, process, (_, stderr) in zip(objects, processes, outputs, strict=True):
        if process.returncode:
            raise SystemExit(f"push of {name} failed:\n{stderr[-4000:]}")
    return [json.loads(stdout.strip().splitlines()[-1]) for stdout, _ in outputs], elapsed


def steady_rate(times: list[float], window: float) -> tuple[float, str]:
    """Requests/s over the whole windows after the first, and how it was measured.

    Why whole windows: a rolling limit caps every window at the limit, so a push that uses it
    fully fills each one whatever the phase of its bursts (a limiter sends as slots free, in
    the rhythm of the first window), while a partial last window would flatter or penalise it by
    up to a burst. The first window (start-up, preflight) is left out. A run shorter than two
    windows falls back to the requests after the first window over the time after it."""
    times = sorted(times)
    if not times:
        return math.nan, "no requests"
    start, span = times[0], times[-1] - times[0]
    whole = int((span - window) // window) if span > window else 0
    if whole >= 1:
        begin, end = start + window, start + window * (1 + whole)
        return sum(begin <= moment < end for moment in times) / (end - begin), f"{whole} whole windows"
    if span <= window:
        return math.nan, "run shorter than one window: raise --updates"
    later = sum(moment > start + window for moment in times)
    return later / (span - window), "short run (under two windows): a partial window, raise --updates"


def report(
    label: str, updates: int, server: FakeCrm, summaries: list[dict], elapsed: float, args: argparse.Namespace
) -> tuple[str, str]:
    """One row of the results table, and what the row's figures rest on."""
    ideal = args.limit / args.window
    rate, basis = steady_rate(server.all_request_times, args.window)
    fraction = rate / ideal
    applied = len(server.applied) == updates and max(server.applied.values(), default=0) == 1
    pushed = max(summary["seconds"] for summary in summaries)
    rss = " + ".join(f"{summary['peak_rss_mb']:.0f}" for summary in summaries)
    row = (
        f"| {label} | {updates:,} | {len(server.all_request_times):,} | {pushed:.1f} | {elapsed:.1f} "
        f"| {rate:.1f} | {ideal:.1f} | {fraction:.2f} | {server.max_requests_in_any_window()} of {args.limit} "
        f"| {server.statuses[429]} | {rss} |"
    )
    throttled = sum(summary["summary"].get("throttled", 0) or 0 for summary in summaries)
    note = (
        f"{label}: rate over {basis}; 429s seen by the push: {throttled}; "
        f"all {updates:,} updates applied once: {applied}"
    )
    return row, note


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--updates", type=int, default=30_000, help="companies updates of the single run")
    parser.add_argument("--pair-updates", type=int, default=15_000, help="updates per object of the pair run")
    parser.add_argument(
        "--baseline-updates", type=int, default=4_000, help="updates of the baseline run, one request in flight"
    )
    parser.add_argument("--limit", type=int, default=190, help="requests per rolling window")
    parser.add_argument("--window", type=float, default=10.0, help="the rolling window (s)")
    parser.add_argument("--latency", type=float, default=0.3, help="the stand-in's answer time (s)")
    parser.add_argument("--jitter", type=float, default=0.05, help="± uniform jitter on the latency (s)")
    parser.add_argument("--concurrency", type=int, default=8, help="requests each push keeps in flight")
    args = parser.parse_args()
    runs = [
        # The baseline, in the same run: what one request at a time reaches at this latency.
        ("companies, 1 in flight (baseline)", {"companies": args.baseline_updates}, 1),
        (f"companies, {args.concurrency} in flight", {"companies": args.updates}, args.concurrency),
        ("companies + contacts at once", dict.fromkeys(OBJECTS, args.pair_updates), args.concurrency),
    ]
    rows, notes = [], []
    with local_env.throwaway_stack() as uri:
        for label, updates, concurrency in runs:
            fill(uri, updates)
            options = {"max_requests": args.limit, "window_seconds": args.window, "latency_seconds": args.latency}
            with FakeCrm(**options, latency_jitter_seconds=args.jitter, seed=seed(updates)) as server:
                summaries, elapsed = push(server, list(updates), args, concurrency)
            row, note = report(label, sum(updates.values()), server, summaries, elapsed, args)
            rows.append(row)
            notes.append(note)
    print(
        f"Push through a stand-in answering in {args.latency} ± {args.jitter} s, "
        f"limit {args.limit} requests / {args.window:g} s shared by every push of the token "
        f"(ideal: {args.limit / args.window:.1f} requests/s):\n"
    )
    print(
        "| run | updates | requests | push time (s) | wall time (s) | requests/s (steady) | ideal requests/s "
        "| fraction of limit (goal ≥ 0.9) | most in any window | 429s (goal 0) | peak RSS (MB) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    print("\n".join(rows))
    print("\n" + "\n".join(notes))


if __name__ == "__main__":
    main()
