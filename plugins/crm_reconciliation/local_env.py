"""The environment of a local Airflow: a throwaway AIRFLOW_HOME on SQLite, wired to a database.

Shared by the demo, the UI command and the tests so that all three run Airflow the same way.
Call before Airflow is imported: Airflow reads its configuration once, at import.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

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
    """``airflow db migrate`` in a child process, with this process's environment."""
    result = subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"], capture_output=True, text=True, check=False
    )
    if result.returncode:
        raise RuntimeError(f"airflow db migrate failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
