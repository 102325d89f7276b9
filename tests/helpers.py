"""Small helpers shared by the tests: run the SQL steps as the DAG does, kill a run mid-way,
start the README's UI command and call its API."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from crm_reconciliation.common.paths import PROJECT_ROOT
from crm_reconciliation.common.registry import ObjectSpec, Registry, default_registry
from crm_reconciliation.common.sql_templates import execute_script, render


def registry_with(spec: ObjectSpec) -> Registry:
    """The default registry with ``spec`` (a modified copy, say) in place of its entry."""
    registry = default_registry()
    return registry.model_copy(update={"objects": {**registry.objects, spec.name: spec}})


def object_params(spec: ObjectSpec) -> dict:
    """``params.object`` as the DAG passes it (the spec given may be a modified copy)."""
    return registry_with(spec).template_params(spec.name)


def run_step(connection: psycopg.Connection, template: str, spec: ObjectSpec, run_id: str = "test_run") -> Any:
    """Render a step's SQL as Airflow does, bind its values, run it in one transaction."""
    script = render(template, params={"object": object_params(spec)})
    binds = {**registry_with(spec).sql_parameters(spec.name), "run_id": run_id}
    with connection.transaction(), connection.cursor() as cursor:
        return execute_script(cursor, script, binds)


def create_staging(connection: psycopg.Connection, spec: ObjectSpec) -> None:
    run_step(connection, "ddl/create_staging.sql", spec)


def run_steps(
    connection: psycopg.Connection, templates: Sequence[str], spec: ObjectSpec, run_id: str = "test_run"
) -> Any:
    """Several step files in one transaction, as a task with a list of ``sql`` files runs them."""
    scripts = [render(template, params={"object": object_params(spec)}) for template in templates]
    binds = {**registry_with(spec).sql_parameters(spec.name), "run_id": run_id}
    with connection.transaction(), connection.cursor() as cursor:
        return execute_script(cursor, scripts, binds)


def run_reconcile_and_score(connection: psycopg.Connection, spec: ObjectSpec, run_id: str = "test_run") -> dict:
    """The DAG's reconcile and score tasks, in order; returns the score task's summary."""
    from crm_reconciliation.dag_factory import SCORE_SCRIPTS

    run_step(connection, "reconcile/reconcile.sql", spec, run_id)
    return run_steps(connection, SCORE_SCRIPTS, spec, run_id)


def insert_rows(connection: psycopg.Connection, table: str, rows: list[dict]) -> None:
    """Insert dict rows into ``schema.table`` (column names from the dicts, values bound)."""
    from psycopg import sql

    schema, name = table.split(".")
    for row in rows:
        connection.execute(
            sql.SQL("insert into {} ({}) values ({})").format(
                sql.Identifier(schema, name),
                sql.SQL(", ").join(sql.Identifier(column) for column in row),
                sql.SQL(", ").join(sql.Placeholder() for _ in row),
            ),
            list(row.values()),
        )


def create_mirror(
    connection: psycopg.Connection, table: str, rows: list[dict], columns: list[str] | None = None
) -> None:
    """A HubSpot mirror table as sync tools write it: every column text."""
    from psycopg import sql

    columns = columns or list(dict.fromkeys(column for row in rows for column in row))
    connection.execute("create schema if not exists hubspot")
    connection.execute(sql.SQL("drop table if exists {}").format(sql.Identifier("hubspot", table)))
    connection.execute(
        sql.SQL("create table {} ({})").format(
            sql.Identifier("hubspot", table),
            sql.SQL(", ").join(sql.SQL("{} text").format(sql.Identifier(column)) for column in columns),
        )
    )
    insert_rows(connection, f"hubspot.{table}", rows)


def kill_mid_run(script: str, run_id: str, ready: Callable[[], bool], seconds: float = 60) -> None:
    """Run ``script`` (``python -c``, ``run_id`` as its argument) in its own process group and
    SIGKILL the whole group once ``ready()`` holds (or after ``seconds``): a worker killed mid-push."""
    child = subprocess.Popen(
        [sys.executable, "-c", script, run_id], env=os.environ.copy(), cwd=PROJECT_ROOT, start_new_session=True
    )
    deadline = time.monotonic() + seconds
    while not ready() and time.monotonic() < deadline:
        time.sleep(0.02)
    os.killpg(child.pid, signal.SIGKILL)  # mid-run, possibly while a batch is out
    child.wait(timeout=30)


def call(base: str, method: str, path: str, token: str | None = None, body: dict | None = None) -> tuple[int, str]:
    """One JSON request to a local server: (status, body text), errors included."""
    request = urllib.request.Request(  # noqa: S310 - our own 127.0.0.1 server
        base + path, method=method, data=None if body is None else json.dumps(body).encode()
    )
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - our own 127.0.0.1 server
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@dataclass(frozen=True)
class RunningUi:
    base: str
    token: str
    password: str
    database: str
    airflow_home: Path


@contextlib.contextmanager
def running_ui(environment: dict[str, str], seconds: float = 240) -> Iterator[RunningUi]:
    """The README's UI command (``python -m crm_reconciliation ui``) on a free port, in its own
    process group, with ``environment`` over this one's (its AIRFLOW_* and CRM_RECON_* left out),
    logged in as admin. On exit the whole group is stopped (SIGINT, then SIGKILL) and waited for:
    LocalExecutor workers and the triggerer outlive the standalone parent."""
    from crm_reconciliation_dev.localdb import free_port

    port = free_port()
    inherited = {key: value for key, value in os.environ.items() if not key.startswith(("AIRFLOW", "CRM_RECON"))}
    process = subprocess.Popen(
        [sys.executable, "-m", "crm_reconciliation_dev", "ui", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**inherited, "PYTHONPATH": str(PROJECT_ROOT / "plugins"), "PYTHONUNBUFFERED": "1", **environment},
        cwd=PROJECT_ROOT,
        start_new_session=True,
    )
    try:
        printed, deadline = "", time.monotonic() + seconds
        for line in process.stdout:
            printed += line
            if line.startswith("AIRFLOW_HOME (temporary"):
                break
            assert time.monotonic() < deadline, "the UI did not come up"
        password = re.search(r"user: admin  password: (\S+)", printed).group(1)
        database = re.search(r"Database \(connection hubspot_postgres\): (\S+)", printed).group(1)
        airflow_home = re.search(r"AIRFLOW_HOME \(temporary, for the airflow CLI next to it\): (\S+)", printed).group(1)
        # Keep reading its output, so that it never blocks on a full pipe.
        threading.Thread(target=lambda: [None for _ in process.stdout], daemon=True).start()
        base = f"http://127.0.0.1:{port}"
        status, body = call(base, "POST", "/auth/token", body={"username": "admin", "password": password})
        assert status in (200, 201), body
        yield RunningUi(base, json.loads(body)["access_token"], password, database, Path(airflow_home))
    finally:
        os.killpg(process.pid, signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=60)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
