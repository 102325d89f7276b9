"""Small helpers shared by the tests: run the SQL steps as the DAG does, kill a run mid-way,
start the README's UI command and call its API, stop a command and everything it started."""

from __future__ import annotations

import collections
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import psycopg

from crm_reconciliation.common.sql_templates import execute_script, render
from crm_reconciliation.config.paths import PROJECT_ROOT
from crm_reconciliation.config.registry import ObjectSpec, Registry, default_registry
from crm_reconciliation_dev.local_env import call


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
    """The DAG's create_staging task: its files in one transaction."""
    from crm_reconciliation.dag_factory import CREATE_STAGING_SCRIPTS

    run_steps(connection, CREATE_STAGING_SCRIPTS, spec)


def reset_object(connection: psycopg.Connection, spec: ObjectSpec) -> None:
    """Empty project schemas, the object's staging tables, and empty mirrors of the objects it refers to."""
    for schema in ("bronze", "staging", "hubspot"):
        connection.execute(f"drop schema if exists {schema} cascade")
    create_staging(connection, spec)
    for other in default_registry().objects.values():
        if other.name != spec.name:
            create_mirror(
                connection, other.hubspot_table, [], columns=[other.hubspot_id_column, other.legacy_id_property]
            )


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

    reconcile(connection, spec, run_id)
    return run_steps(connection, SCORE_SCRIPTS, spec, run_id)


def reconcile(connection: psycopg.Connection, spec: ObjectSpec, run_id: str = "test_run") -> Any:
    """The DAG's reconcile task: its files in one transaction; returns its summary."""
    from crm_reconciliation.dag_factory import RECONCILE_SCRIPTS

    return run_steps(connection, RECONCILE_SCRIPTS, spec, run_id)


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
    try:
        deadline = time.monotonic() + seconds
        while not ready() and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        end_process_tree(child, first=signal.SIGKILL)  # mid-run, possibly while a batch is out


def process_tree(pid: int, leader: bool = True) -> list[psutil.Process]:
    """The members of process group ``pid`` (and ``pid`` itself: pass ``leader=False`` once it has
    been reaped, its number may be reused) and every descendant of them, as they are now."""
    found: dict[int, psutil.Process] = {}
    if leader:
        with contextlib.suppress(psutil.Error):
            found[pid] = psutil.Process(pid)
    for process in psutil.process_iter():
        with contextlib.suppress(psutil.Error, OSError):
            if process.pid != os.getpid() and os.getpgid(process.pid) == pid:
                found[process.pid] = process
    for process in list(found.values()):
        with contextlib.suppress(psutil.Error):
            for child in process.children(recursive=True):
                found.setdefault(child.pid, child)
    return list(found.values())


def alive(process: psutil.Process) -> bool:
    """Still running: neither gone nor an exited process waiting to be reaped (a zombie)."""
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def describe(process: psutil.Process) -> str:
    try:
        return f"{process.pid} {' '.join(process.cmdline())[:160] or process.name()}"
    except psutil.Error:
        return str(process.pid)


def end_process_tree(
    process: subprocess.Popen, first: signal.Signals = signal.SIGINT, seconds: float = 60
) -> list[str]:
    """Stop ``process`` (the leader of a process group of its own) and everything it started.

    ``first`` goes to its group; whatever of the tree is left after ``seconds`` (its group, and every
    descendant seen meanwhile: servers in sessions of their own, orphans reparented elsewhere) gets
    SIGKILL. Waits for all of them (and reaps the ones handed to this process). Returns the ones
    that needed SIGKILL, described.
    """
    from crm_reconciliation_dev import local_env

    seen = {member.pid: member for member in process_tree(process.pid, leader=process.poll() is None)}
    for member in seen.values():
        with contextlib.suppress(psutil.Error, OSError):
            if os.getpgid(member.pid) == process.pid:  # the group (the leader's pid stays its id while it lives)
                os.killpg(process.pid, first)
                break
    deadline = time.monotonic() + (0 if first == signal.SIGKILL else seconds)
    while True:
        if process.poll() is None:
            seen.update({member.pid: member for member in process_tree(process.pid)})
        local_env.reap_children(only=set(seen) - {process.pid})  # its orphans, handed to this process
        left = [member for member in seen.values() if alive(member)]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    killed = [describe(member) for member in left]
    for member in left:
        with contextlib.suppress(psutil.Error):
            member.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=30)
    deadline = time.monotonic() + 30
    while any(alive(member) for member in left) and time.monotonic() < deadline:
        time.sleep(0.05)
    local_env.reap_children(only=set(seen) - {process.pid})
    return killed


def run_command(arguments: Sequence[str], timeout: float, **options: Any) -> subprocess.CompletedProcess:
    """``subprocess.run(..., capture_output=True, text=True)`` in a process group of its own: on a
    timeout the whole tree is killed, not only the direct child (which would leave its servers)."""
    process = subprocess.Popen(
        list(arguments), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True, **options
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    finally:
        end_process_tree(process, first=signal.SIGKILL)  # on a timeout all of it; else only strays
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


@dataclass(frozen=True)
class RunningUi:
    base: str
    token: str
    password: str
    database: str
    airflow_home: Path
    process: subprocess.Popen
    data_dir: Path | None  # the embedded PostgreSQL's folder (None when a database was configured)


def ui_environment(environment: dict[str, str]) -> dict[str, str]:
    """This process's environment without its AIRFLOW_* and CRM_RECON_* settings, then ``environment``:
    the UI command sees what a user who configured only ``environment`` has."""
    inherited = {key: value for key, value in os.environ.items() if not key.startswith(("AIRFLOW", "CRM_RECON"))}
    return {**inherited, "PYTHONUNBUFFERED": "1", **environment}


@contextlib.contextmanager
def running_ui(environment: dict[str, str], seconds: float = 240) -> Iterator[RunningUi]:
    """The README's UI command (``python -m crm_reconciliation_dev ui``, as ``make airflow`` runs it)
    on a free port, in its own process group, with ``environment`` over this one's (its AIRFLOW_* and
    CRM_RECON_* left out), logged in as admin. On exit the command gets SIGINT, as from Ctrl-C, and
    whatever of its tree is left after 30 s is killed and waited for (see ``end_process_tree``)."""
    from crm_reconciliation_dev.localdb import free_port

    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "crm_reconciliation_dev", "ui", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=ui_environment(environment),
        cwd=PROJECT_ROOT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + seconds
        # Read in a thread, for ever (so that it never blocks on a full pipe): a UI that hangs before
        # its banner must fail the test, not hang it.
        lines: collections.deque[str] = collections.deque(maxlen=3000)
        banner: list[str] = []
        shown = threading.Event()

        def read() -> None:
            for line in process.stdout:
                lines.append(line)
                if line.startswith("AIRFLOW_HOME (temporary"):
                    banner.append("".join(lines))
                    shown.set()

        threading.Thread(target=read, daemon=True).start()
        while not shown.wait(1):
            assert process.poll() is None, "the UI command ended:\n" + "".join(lines)[-3000:]
            assert time.monotonic() < deadline, "the UI did not come up:\n" + "".join(lines)[-3000:]
        printed = banner[0]
        password = re.search(r"user: admin  password: (\S+)", printed).group(1)
        database = re.search(r"Database \(connection hubspot_postgres\): (\S+)", printed).group(1)
        data_dir = re.search(r"\(embedded, data in (\S+)\)", printed)
        airflow_home = re.search(r"AIRFLOW_HOME \(temporary, for the airflow CLI next to it\): (\S+)", printed).group(1)
        base = f"http://127.0.0.1:{port}"
        status, body = call(base, "POST", "/auth/token", body={"username": "admin", "password": password})
        assert status in (200, 201), body
        yield RunningUi(
            base,
            json.loads(body)["access_token"],
            password,
            database,
            Path(airflow_home),
            process,
            Path(data_dir.group(1)) if data_dir else None,
        )
    finally:
        end_process_tree(process, signal.SIGINT, seconds=30)
