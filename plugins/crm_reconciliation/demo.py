"""The main job on the embedded default: every object DAG end to end on the sample data.

Starts a throwaway PostgreSQL (unless ``AIRFLOW_CONN_HUBSPOT_POSTGRES`` names a database),
loads the sample HubSpot mirror into it (never over existing tables), runs each
``crm_reconcile_<object>`` DAG with Airflow itself (``dag.test()``, SQLite metadata DB in a
temporary AIRFLOW_HOME) and prints a per-object summary. Everything temporary is removed on
exit, also on Ctrl-C or failure.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from crm_reconciliation import local_env
from crm_reconciliation.localdb import LocalPostgres

log = logging.getLogger("crm_reconciliation.demo")


def run_dags(object_names: list[str], conf: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """Run each object's DAG once; returns object → (run id, final state)."""
    from airflow.dag_processing.dagbag import DagBag

    from crm_reconciliation.paths import PROJECT_ROOT

    bag = DagBag(dag_folder=str(PROJECT_ROOT / "dags"))
    if bag.import_errors:
        raise RuntimeError(f"DAG import errors: {bag.import_errors}")
    outcomes = {}
    for name in object_names:
        dag = bag.get_dag(f"crm_reconcile_{name}")
        run = dag.test(run_conf=conf)
        outcomes[name] = (run.run_id, str(run.state))
    return outcomes


STATUSES = ("matched", "conflict", "probable", "new", "rejected")


def summary(outcomes: dict[str, tuple[str, str]]) -> str:
    """Per object: the run's state, the load counts it logged, and the reconciliation it left."""
    from psycopg import sql

    from crm_reconciliation.hooks.warehouse import WarehouseHook
    from crm_reconciliation.operators.report import reports_dir
    from crm_reconciliation.registry import default_registry

    load = [f"{'object':<16}{'state':<10}{'read':>8}{'loaded':>8}{'rejected':>10}{'deleted':>9}  file"]
    reconciliation = [
        f"{'object':<16}" + "".join(f"{status:>10}" for status in STATUSES) + f"{'to update':>11}{'properties':>12}"
    ]
    pushed = [f"{'object':<16}payloads recorded in staging.push_log by this run"]
    with WarehouseHook().get_conn() as connection, connection.cursor() as cursor:
        for name, (run_id, state) in outcomes.items():
            cursor.execute(
                "select rows_read, rows_loaded, rows_rejected, rows_deleted, source"
                " from staging.reconciliation_log where object_type = %s and run_id = %s and step = 'load_bronze'",
                (name, run_id),
            )
            row = cursor.fetchone() or ("-", "-", "-", "-", "-")
            load.append(f"{name:<16}{state:<10}{row[0]:>8}{row[1]:>8}{row[2]:>10}{row[3]:>9}  {row[4]}")
            staging_table = default_registry().get(name).staging_table
            table = sql.Identifier("staging", staging_table)
            cursor.execute("select to_regclass(%s) is not null", (f"staging.{staging_table}",))
            if not cursor.fetchone()[0]:
                continue
            cursor.execute(
                sql.SQL(
                    "select {}, count(*) filter (where reconciliation_status = 'matched'"
                    " and properties_to_update <> '{{}}'),"
                    " coalesce(sum((select count(*) from jsonb_object_keys(properties_to_update)))"
                    " filter (where reconciliation_status = 'matched'), 0) from {}"
                ).format(
                    sql.SQL(", ").join(
                        sql.SQL("count(*) filter (where reconciliation_status = {})").format(sql.Literal(status))
                        for status in STATUSES
                    ),
                    table,
                )
            )
            counts = cursor.fetchone()
            cursor.execute(
                "select coalesce(string_agg(outcome || ' ' || rows, ', ' order by outcome), 'nothing to push')"
                " from (select outcome, count(*) as rows from staging.push_log"
                " where object_type = %s and run_id = %s group by outcome) as outcomes",
                (name, run_id),
            )
            pushed.append(f"{name:<16}{cursor.fetchone()[0]}")
            reconciliation.append(
                f"{name:<16}" + "".join(f"{value:>10}" for value in counts[:5]) + f"{counts[5]:>11}{counts[6]:>12}"
            )
    return "\n".join(
        [
            "Load (bronze):",
            *load,
            "Rejected rows, with file, line and reason: SELECT * FROM staging.bronze_rejects;",
            "",
            "Reconciliation (records by status; matched records and their properties to update in HubSpot):",
            *reconciliation,
            "Details: SELECT * FROM staging.<object>_reconciliation; HubSpot records whose legacy id has no live"
            " legacy row: staging.<object>_orphans.",
            "",
            "Push (a run without a workflow_api connection, as here, is a dry run: nothing is sent):",
            *pushed,
            "",
            f"Reports (self-contained HTML): {reports_dir()}/<object>/latest.html",
        ]
    )


def main(object_names: list[str], conf: dict[str, Any], keep: bool = False) -> int:
    local_env.exit_on_sigterm()
    with ExitStack() as cleanup:
        database_uri = os.environ.get(local_env.CONN_ENV)
        where = f"your {local_env.CONN_ENV}"
        if not database_uri:
            database = cleanup.enter_context(LocalPostgres(keep=keep))
            database_uri = database.uri
            where = f"embedded PostgreSQL {database_uri} (data in {database.base_dir})"
        airflow_home = Path(tempfile.mkdtemp(prefix="crm-recon-airflow-"))
        if not keep:
            cleanup.callback(shutil.rmtree, airflow_home, ignore_errors=True)
        local_env.apply(local_env.airflow_environment(airflow_home, database_uri))
        print(f"Database: {where}", flush=True)
        print(f"Airflow home (temporary): {airflow_home}", flush=True)

        from crm_reconciliation.demo_mirror import load_demo_mirror
        from crm_reconciliation.hooks.warehouse import WarehouseHook

        with WarehouseHook().get_conn() as connection:
            loaded = load_demo_mirror(connection)
        print(
            "Sample HubSpot mirror: "
            + ", ".join(
                f"hubspot.{table} {'kept (exists)' if rows < 0 else f'{rows} rows'}" for table, rows in loaded.items()
            )
        )
        local_env.migrate_metadata_db()
        outcomes = run_dags(object_names, conf)
        print("\n=== crm-reconciliation demo summary ===")
        print(summary(outcomes))
        failed = [name for name, (_, state) in outcomes.items() if state != "success"]
        if failed:
            print(f"FAILED: {', '.join(failed)}")
            return 1
        return 0
