"""The environment of a local Airflow: a throwaway AIRFLOW_HOME on SQLite, wired to a database.

Shared by the demo, the UI command and the tests so that all three run Airflow the same way.
Call before Airflow is imported: Airflow reads its configuration once, at import.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from crm_reconciliation.paths import PROJECT_ROOT

CONN_ENV = "AIRFLOW_CONN_HUBSPOT_POSTGRES"


def airflow_environment(airflow_home: Path, database_uri: str) -> dict[str, str]:
    """Settings for a local Airflow whose ``hubspot_postgres`` connection is ``database_uri``."""
    airflow_home.mkdir(parents=True, exist_ok=True)
    return {
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{airflow_home / 'airflow.db'}",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": "8080",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        "CRM_RECON_RETRIES": "0",
        CONN_ENV: database_uri,
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(PROJECT_ROOT / "plugins"), str(PROJECT_ROOT / "dags"), os.environ.get("PYTHONPATH")])
        ),
    }


def exit_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit so that ``with``/``finally`` clean-ups run, as on Ctrl-C."""

    def _exit(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _exit)


def apply(environment: dict[str, str]) -> None:
    os.environ.update(environment)
    for entry in reversed(environment["PYTHONPATH"].split(os.pathsep)):
        if entry not in sys.path:
            sys.path.insert(0, entry)


def migrate_metadata_db() -> None:
    """``airflow db migrate`` in a child process, with this process's environment.

    Interrupted (Ctrl-C reaches the child too), the child is killed and reaped before the caller
    cleans up: ``subprocess.run`` waits only a quarter of a second for it, and a migration still
    writing into the Airflow home would outlive the clean-up's removal of that folder.
    """
    process = subprocess.Popen(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        stdout, stderr = process.communicate()
    except BaseException:
        process.kill()
        process.wait()
        raise
    if process.returncode:
        raise RuntimeError(f"airflow db migrate failed:\n{stdout[-3000:]}{stderr[-3000:]}")


@contextmanager
def throwaway_stack(prefix: str = "crm-recon-bench-") -> Iterator[str]:
    """An embedded PostgreSQL and a local Airflow environment in one folder, removed on exit.

    Yields the database URI. For benchmarks, which build their own data.
    """
    from crm_reconciliation.localdb import LocalPostgres

    work = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        with LocalPostgres(base_dir=work / "pg") as server:
            apply(airflow_environment(work / "airflow_home", server.uri))
            yield server.uri
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run_task(dag: Any, task_id: str, run_id: str = "bench", params: dict[str, Any] | None = None) -> Any:
    """Render and execute one task of ``dag`` in this process, as a worker would, minus the scheduler.

    ``params`` override the DAG's defaults, as a trigger's conf does.
    """
    task = dag.get_task(task_id)
    # The DAG's params too: a Human-in-the-loop task keeps only its own (Airflow merges both in a run).
    merged = {**dag.params, **task.params, **(params or {})}
    task.render_template_fields({"params": merged, "run_id": run_id}, dag.get_template_env())
    return task.execute({"run_id": run_id, "logical_date": datetime(2026, 1, 1, tzinfo=UTC), "dag_run": None})
