"""Benchmark of push: N updates through the real push task to a local HubSpot stand-in that
enforces HubSpot's rolling limit (190 requests / 10 s by default).

Prints the request rate achieved as a fraction of the limit, the most requests seen in any
window, the 429s received, and the push process's peak RSS. Run: ``make bench-push`` or
``python scripts/bench_push.py --updates 50000``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "plugins"))

from crm_reconciliation import local_env  # noqa: E402
from crm_reconciliation.fake_hubspot import FakeCrm  # noqa: E402

ROWS = """
insert into staging.companies_reconciliation (legacy_company_id, hubspot_company_id, reconciliation_status,
    match_confidence, properties_to_update)
select n, (10000000 + n)::text, 'matched', 100,
    jsonb_build_object('city', 'Ville ' || n, 'industry', 'Semiconductors', 'phone', '+334760' || lpad(n::text, 5, '0'))
from generate_series(1, %(updates)s) as n
"""

CHILD = """
import json, resource, sys
from datetime import UTC, datetime
from crm_reconciliation.operators.push import PushOperator
summary = PushOperator(task_id="push", object_type="companies", push_target="hubspot", dry_run=False,
                       min_confidence=90, progress_seconds=5, max_requests=int(sys.argv[1]),
                       window_seconds=float(sys.argv[2])).execute(
    {"run_id": "bench_push", "logical_date": datetime(2026, 1, 1, tzinfo=UTC), "dag_run": None})
print(json.dumps({**summary, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--updates", type=int, default=50_000)
    parser.add_argument("--limit", type=int, default=190)
    parser.add_argument("--window", type=float, default=10.0)
    args = parser.parse_args()
    with local_env.throwaway_stack() as uri:
        import psycopg

        from crm_reconciliation.registry import default_registry
        from crm_reconciliation.sql_templates import execute_script, render

        params = {"object": default_registry().template_params("companies")}
        with psycopg.connect(uri, autocommit=True) as connection:
            execute_script(connection.cursor(), render("ddl/create_staging.sql", params=params))
            connection.execute(ROWS, {"updates": args.updates})
        # The portal holds the records the updates name (a strict portal refuses unknown ids).
        seed = {"companies": {str(10000000 + n): {} for n in range(1, args.updates + 1)}}
        with FakeCrm(max_requests=args.limit, window_seconds=args.window, seed=seed) as server:
            environment = {
                **os.environ,
                "AIRFLOW_CONN_HUBSPOT_API": json.dumps(
                    {
                        "conn_type": "http",
                        "host": server.url.removeprefix("http://"),
                        "schema": "http",
                        "password": server.token,
                    }
                ),
            }
            started = time.perf_counter()
            result = subprocess.run(
                [sys.executable, "-c", CHILD, str(args.limit), str(args.window)],
                env=environment,
                capture_output=True,
                text=True,
                check=False,
            )
            elapsed = time.perf_counter() - started
        if result.returncode:
            raise SystemExit(result.stderr[-4000:])
        summary = json.loads(result.stdout.strip().splitlines()[-1])
    requests = len(server.all_request_times)
    span = max(server.all_request_times) - min(server.all_request_times)
    limit_rate = args.limit / args.window
    steady = requests - args.limit  # past the first window's burst, the limiter paces requests
    print(
        "| updates | batches | requests | push wall time (s) | requests/s | fraction of limit (steady) "
        "| most in any window | 429s | peak RSS (MB) |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(
        f"| {args.updates:,} | {summary['batches']:,} | {requests:,} | {summary['seconds']:.1f} "
        f"| {requests / span:.1f} | {steady / (span - args.window) / limit_rate:.2f} "
        f"| {server.max_requests_in_any_window()} of {args.limit} | {summary['throttled'] + server.limit_violations} "
        f"| {summary['peak_rss_mb']:.0f} |"
    )
    print(
        f"(process wall time including start-up: {elapsed:.1f} s; all {args.updates:,} updates applied once: "
        f"{len(server.applied) == args.updates and max(server.applied.values()) == 1})"
    )


if __name__ == "__main__":
    main()
