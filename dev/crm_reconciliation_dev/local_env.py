"""The environment of a local Airflow: a throwaway AIRFLOW_HOME on SQLite, wired to a database.

Shared by the demo, the UI command and the tests so that all three run Airflow the same way.
Call before Airflow is imported: Airflow reads its configuration once, at import.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from crm_reconciliation_dev import PROJECT_ROOT

CONN_ENV = "AIRFLOW_CONN_HUBSPOT_POSTGRES"


def airflow_environment(airflow_home: Path, database_uri: str) -> dict[str, str]:
    """Settings for a local Airflow whose ``hubspot_postgres`` connection is ``database_uri``."""
    airflow_home.mkdir(parents=True, exist_ok=True)
    return {
        "AIRFLOW_HOME": str(airflow_home),
        # Airflow's generated secret is 24 bytes, and PyJWT warns on every token below 64.
        "AIRFLOW__API_AUTH__JWT_SECRET": jwt_secret(airflow_home),
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


def jwt_secret(airflow_home: Path) -> str:
    """One secret per Airflow home, kept in it: every process of that Airflow signs and checks
    tokens with the same one."""
    import secrets

    path = airflow_home / "jwt_secret"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(64), encoding="utf-8")
        path.chmod(0o600)
    return path.read_text(encoding="utf-8").strip()


def exit_on_sigterm() -> None:
    """Turn SIGTERM (and SIGHUP: the terminal closed) into SystemExit so that ``with``/``finally``
    clean-ups run, as on Ctrl-C."""

    def _exit(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _exit)
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, _exit)


def ignore_interrupts() -> None:
    """Ignore Ctrl-C, SIGTERM and SIGHUP from now on: a clean-up under way (bounded in time) finishes
    instead of being cut short by a second Ctrl-C, which would leave servers behind."""
    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_IGN)


def become_subreaper() -> bool:
    """Make this process the "child subreaper" of its descendants (Linux ``prctl``): one whose parent
    dies (a LocalExecutor worker of a killed scheduler, the PostgreSQL server once ``pg_ctl`` has
    returned) is handed to this process instead of to PID 1, so that this process can wait for it
    and reap it (``reap_children``). Some PID 1s (in containers and VMs) never reap, which leaves
    such processes defunct. Returns False where this is not available."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    pr_set_child_subreaper = 36
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(pr_set_child_subreaper, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def reap_children(only: Collection[int] | None = None, exclude: Collection[int] = ()) -> list[int]:
    """Wait for (reap) the children of this process that have exited; returns their pids.

    Only zombies are waited for, and not those in ``exclude``: a child a ``Popen`` owns is left to
    it (pass its pid), else it would lose the exit status. ``only``: just these pids.
    """
    import psutil

    reaped = []
    for child in psutil.Process().children():
        if child.pid in exclude or (only is not None and child.pid not in only):
            continue
        try:
            if child.status() != psutil.STATUS_ZOMBIE:
                continue
            if os.waitpid(child.pid, os.WNOHANG)[0] == child.pid:
                reaped.append(child.pid)
        except (psutil.Error, ChildProcessError):
            continue
    return reaped


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
    from crm_reconciliation_dev.localdb import LocalPostgres

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
    context = {"params": merged, "run_id": run_id, "logical_date": datetime(2026, 1, 1, tzinfo=UTC), "dag_run": None}
    task.render_template_fields(context, dag.get_template_env())
    return task.execute(context)


def call(base: str, method: str, path: str, token: str | None = None, body: dict | None = None) -> tuple[int, str]:
    """One JSON request to a local Airflow (or any 127.0.0.1 server): (status, body text), errors included."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, method=method, data=data)  # noqa: S310 - our own 127.0.0.1 server
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - our own 127.0.0.1 server
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
