"""Per-statement profile of a SQL task (reconcile, score) at scale: where its time goes.

``prepare`` generates the benchmark's data (same generator and seed as ``pipeline.py``), loads
the mirror and runs ``create_staging`` and ``load_bronze`` on an embedded PostgreSQL kept in
``--base``, then keeps a copy of its data folder. ``run`` starts from that copy (``--fresh``)
or from where the last run left the database, renders each task's SQL as the operator does
(the DAG's params, the registry's bound values) and runs its statements one by one in one
transaction, printing each statement's wall time, the largest first; ``--explain`` runs each
statement that EXPLAIN takes as ``EXPLAIN (ANALYZE, BUFFERS)`` and writes the plans to a file.

    python -m crm_reconciliation_dev.benchmarks.statements prepare --base /tmp/speed-db --companies 1000000
    python -m crm_reconciliation_dev.benchmarks.statements run --base /tmp/speed-db --fresh reconcile score
    python -m crm_reconciliation_dev.benchmarks.statements run --base /tmp/speed-db --run-id second reconcile
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from crm_reconciliation_dev import local_env

# Statements EXPLAIN takes (leading comments stripped): queries, DML, CREATE TABLE AS.
EXPLAINABLE = re.compile(
    r"^\s*(select|insert|update|delete|merge|with"
    r"|create\s+(temp\s+|unlogged\s+)?table\s+\S+(\s+on\s+commit\s+drop)?\s+as)\b",
    re.I | re.S,
)


def _server(base: Path):
    from crm_reconciliation_dev.localdb import LocalPostgres

    return LocalPostgres(base_dir=base / "pg", keep=True)


def prepare(base: Path, companies: int) -> None:
    import psycopg

    from crm_reconciliation.config.registry import default_registry
    from crm_reconciliation.dag_factory import build_dag
    from crm_reconciliation_dev.demo_mirror import load_demo_mirror
    from crm_reconciliation_dev.sample_data import Sizes, generate

    shutil.rmtree(base, ignore_errors=True)
    bronze_dir, mirror_dir = base / "bronze", base / "mirror"
    started = time.perf_counter()
    generate(bronze_dir, mirror_dir, Sizes(companies, 0, 0, 0), faults=False)
    print(f"generated in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    with _server(base) as server:
        local_env.apply(local_env.airflow_environment(base / "airflow_home", server.uri))
        with psycopg.connect(server.uri) as connection:
            load_demo_mirror(connection, folder=mirror_dir, replace=True)
        dag = build_dag(default_registry(), "companies")
        for task_id in ("create_staging", "load_bronze"):
            local_env.run_task(dag, task_id, params={"bronze_dir": str(bronze_dir)})
        with psycopg.connect(server.uri, autocommit=True) as connection:
            connection.execute("vacuum analyze")
    subprocess.run(["cp", "-a", str(base / "pg" / "pgdata"), str(base / "pgdata-template")], check=True)


def run(base: Path, tasks: list[str], fresh: bool, explain: Path | None, top: int, run_id: str = "bench") -> None:
    import psycopg

    from crm_reconciliation.common.sql_templates import split_statements
    from crm_reconciliation.config.registry import default_registry
    from crm_reconciliation.dag_factory import CREATE_STAGING_SCRIPTS, RECONCILE_SCRIPTS, SCORE_SCRIPTS, build_dag

    STEP_SCRIPTS = {"create_staging": CREATE_STAGING_SCRIPTS, "reconcile": RECONCILE_SCRIPTS, "score": SCORE_SCRIPTS}

    if fresh:
        shutil.rmtree(base / "pg" / "pgdata")
        subprocess.run(["cp", "-a", str(base / "pgdata-template"), str(base / "pg" / "pgdata")], check=True)
    plans = explain.open("w", encoding="utf-8") if explain else None
    totals: dict[str, float] = {}
    with _server(base) as server:
        local_env.apply(local_env.airflow_environment(base / "airflow_home", server.uri))
        dag = build_dag(default_registry(), "companies")
        for task_id in tasks:
            task = dag.get_task(task_id)
            merged = {**dag.params, **task.params, "bronze_dir": str(base / "bronze")}
            task.render_template_fields({"params": merged, "run_id": run_id}, dag.get_template_env())
            parameters = {**task.parameters, "run_id": run_id}
            scripts = [task.sql] if isinstance(task.sql, str) else task.sql
            timings: list[tuple[float, str, str]] = []
            started = time.perf_counter()
            with psycopg.connect(server.uri) as connection, connection.cursor() as cursor:
                for number, script in enumerate(scripts):
                    name = task_id if len(scripts) == 1 else STEP_SCRIPTS[task_id][number]
                    for statement in split_statements(script):
                        bound = parameters if "%(" in statement else None
                        text = statement
                        body = re.sub(r"^(\s*--[^\n]*\n)*", "", statement)
                        explained = plans is not None and EXPLAINABLE.match(body) is not None
                        if explained:
                            text = "explain (analyze, buffers, verbose false) " + statement
                        at = time.perf_counter()
                        cursor.execute(text, bound)
                        seconds = time.perf_counter() - at
                        rows = cursor.fetchall() if cursor.description else []
                        head = " ".join(body.split())[:150]
                        timings.append((seconds, name, head))
                        if explained:
                            plans.write(f"\n=== {task_id} / {name}: {seconds:.2f} s\n{statement}\n---\n")
                            plans.write("\n".join(row[0] for row in rows) + "\n")
                            plans.flush()
                connection.commit()
            total = time.perf_counter() - started
            print(f"\n## {task_id}: {total:.1f} s in {len(timings)} statements\n")
            print("| s | file | statement |\n|---:|---|---|")
            for seconds, name, head in sorted(timings, reverse=True)[:top]:
                print(f"| {seconds:.2f} | {name} | `{head.replace('|', '/')}` |")
            sys.stdout.flush()
            totals[task_id] = total
        from crm_reconciliation_dev.benchmarks.pipeline import match_floor

        floor = match_floor(server.uri, default_registry().get("companies"))
        together = sum(totals.values())
        print(
            f"\n{', '.join(f'{t} {s:.1f} s' for t, s in totals.items())}; together {together:.1f} s; "
            f"floor (hash join on the legacy id) {floor:.2f} s; together / floor {together / floor:.0f}x"
        )
    if plans:
        plans.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("--base", type=Path, required=True)
    p.add_argument("--companies", type=int, default=1_000_000)
    r = sub.add_parser("run")
    r.add_argument("--base", type=Path, required=True)
    r.add_argument("--fresh", action="store_true", help="start from the database as prepare left it")
    r.add_argument("--explain", type=Path, help="write EXPLAIN (ANALYZE, BUFFERS) plans to this file")
    r.add_argument("--top", type=int, default=25)
    r.add_argument("--run-id", default="bench", help="a second run (another id) finds the first one's links")
    r.add_argument("tasks", nargs="+")
    args = parser.parse_args()
    if args.command == "prepare":
        prepare(args.base, args.companies)
    else:
        run(args.base, args.tasks, args.fresh, args.explain, args.top, args.run_id)
    print(json.dumps({"done": args.command}), file=sys.stderr)


if __name__ == "__main__":
    main()
