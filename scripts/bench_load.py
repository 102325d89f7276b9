"""Benchmark of load_bronze: a large Bronze_Person.csv through the real operator.

Prints, for the full file and for its first 100,000 rows: wall time, rows per second and the
loading process's peak RSS, next to the floor (a bare COPY of the same file into an unlogged
table, same server, same run). Run: ``make bench-load`` or
``python scripts/bench_load.py --rows 1000000``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "plugins"))

from crm_reconciliation import local_env  # noqa: E402
from crm_reconciliation.localdb import LocalPostgres  # noqa: E402
from crm_reconciliation.sample_data import Sizes, generate  # noqa: E402

CHILD = """
import json, resource, sys, time
from datetime import datetime, timezone
from crm_reconciliation.operators.bronze_load import BronzeLoadOperator
bronze_dir, limit = sys.argv[1], (int(sys.argv[2]) or None)
operator = BronzeLoadOperator(task_id="load_bronze", object_type="contacts", bronze_dir=bronze_dir, limit=limit)
context = {"logical_date": datetime(2026, 1, 1, tzinfo=timezone.utc), "run_id": f"bench_{limit}", "dag_run": None}
started = time.perf_counter()
counts = operator.execute(context)
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "rows": counts["rows_read"], "loaded": counts["rows_loaded"],
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def run_loader(bronze_dir: Path, limit: int) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(bronze_dir), str(limit)],
        capture_output=True,
        text=True,
        check=False,
        env=os.environ.copy(),
    )
    if result.returncode:
        raise RuntimeError(result.stderr[-4000:])
    return json.loads(result.stdout.strip().splitlines()[-1])


def copy_floor(uri: str, path: Path) -> float:
    """A bare COPY of the file's bytes into an unlogged all-text table: the physical floor."""
    import psycopg

    with path.open(encoding="cp1252", newline="") as handle:
        columns = handle.readline().strip().split(";")
    with psycopg.connect(uri) as connection:
        connection.execute("drop table if exists public.bench_floor")
        connection.execute(
            "create unlogged table public.bench_floor (" + ", ".join(f'"{c}" text' for c in columns) + ")"
        )
        started = time.perf_counter()
        with (
            connection.cursor() as cursor,
            path.open("rb") as handle,
            cursor.copy(
                "copy public.bench_floor from stdin (format csv, header, delimiter ';', encoding 'WIN1252')"
            ) as copy,
        ):
            while chunk := handle.read(1 << 20):
                copy.write(chunk)
        connection.commit()
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=100_000, help="row count of the memory comparison run")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="crm-recon-bench-"))
    try:
        measure(work, args.rows, args.small)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def measure(work: Path, rows: int, small_rows: int) -> None:
    started = time.perf_counter()
    generate(work, None, Sizes(companies=1000, contacts=rows, deals=0, communications=0), faults=False)
    path = work / "Bronze_Person.csv"
    print(
        f"generated {path} ({path.stat().st_size / 1e6:.0f} MB, {rows:,} rows) "
        f"in {time.perf_counter() - started:.1f} s",
        flush=True,
    )

    with LocalPostgres() as server:
        local_env.apply(local_env.airflow_environment(work / "airflow_home", server.uri))
        import psycopg

        from crm_reconciliation.registry import default_registry
        from crm_reconciliation.sql_templates import execute_script, render

        contacts = default_registry().template_params("contacts")
        with psycopg.connect(server.uri) as connection, connection.cursor() as cursor:
            execute_script(cursor, render("ddl/create_staging.sql", params={"object": contacts}))

        floor = copy_floor(server.uri, path)
        small = run_loader(work, small_rows)
        full = run_loader(work, 0)

    rows_per_second = full["rows"] / full["seconds"]
    print()
    print("| run | rows | wall time (s) | rows/s | peak RSS (MB) |")
    print("|---|---:|---:|---:|---:|")
    print(f"| floor: bare COPY, unlogged | {rows:,} | {floor:.2f} | {rows / floor:,.0f} | - |")
    print(
        f"| load_bronze, first {small_rows:,} rows | {small['rows']:,} | {small['seconds']:.2f} | "
        f"{small['rows'] / small['seconds']:,.0f} | {small['peak_rss_mb']:.0f} |"
    )
    print(
        f"| load_bronze, whole file | {full['rows']:,} | {full['seconds']:.2f} | {rows_per_second:,.0f} | "
        f"{full['peak_rss_mb']:.0f} |"
    )
    print()
    print(f"load_bronze / floor throughput: {rows_per_second / (rows / floor):.2f}")
    print(f"peak RSS, whole file vs first {small_rows:,} rows: {full['peak_rss_mb'] / small['peak_rss_mb']:.2f}")


if __name__ == "__main__":
    main()
