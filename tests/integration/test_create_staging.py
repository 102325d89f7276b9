"""The create_staging DDL against a real PostgreSQL."""

from __future__ import annotations

import psycopg
import pytest

from crm_reconciliation.config.registry import default_registry
from tests.helpers import create_staging

pytestmark = pytest.mark.integration

REGISTRY = default_registry()


def _columns(db, schema: str, table: str) -> dict[str, str]:
    rows = db.execute(
        "select column_name, data_type from information_schema.columns where table_schema = %s and table_name = %s",
        (schema, table),
    ).fetchall()
    return dict(rows)


def _indexes(db, table: str) -> set[str]:
    rows = db.execute("select indexdef from pg_indexes where schemaname = 'staging' and tablename = %s", (table,))
    return {row[0] for row in rows}


@pytest.mark.parametrize("name", list(REGISTRY.objects))
def test_ddl_creates_the_contract_tables_and_is_idempotent(db, name):
    spec = REGISTRY.get(name)
    create_staging(db, spec)
    db.execute(f"insert into staging.{spec.staging_table} ({spec.legacy_key}, reconciliation_status) values (1, 'new')")
    create_staging(db, spec)  # a second run changes nothing and keeps the data
    assert db.execute(f"select count(*) from staging.{spec.staging_table}").fetchone()[0] == 1

    staging = _columns(db, "staging", spec.staging_table)
    for column in (
        spec.legacy_key,
        spec.hubspot_key,
        "legacy_properties",
        "properties_to_update",
        "reconciliation_status",
        "match_confidence",
        "notes",
        "created_at",
        "last_updated",
    ):
        assert column in staging, column
    assert staging["legacy_properties"] == staging["properties_to_update"] == "jsonb"
    indexes = " ".join(_indexes(db, spec.staging_table))
    for column in (spec.legacy_key, spec.hubspot_key, "reconciliation_status"):
        assert f"({column})" in indexes, column

    bronze = _columns(db, "bronze", spec.bronze_table)
    assert bronze[spec.legacy_id_column.lower()] == "text"  # as exported; bronze.<table>_live parses it
    assert set(spec.bronze_columns) <= set(bronze)
    assert {"_is_deleted", "_source_file", "_source_line", "_snapshot_date", "_run_id"} <= set(bronze)
    assert db.execute("select count(*) from pg_extension where extname = 'pg_trgm'").fetchone()[0] == 1
    assert {"reconciliation_log", "bronze_rejects"} <= {
        row[0] for row in db.execute("select tablename from pg_tables where schemaname = 'staging'")
    }


def test_status_and_confidence_are_constrained(db):
    spec = REGISTRY.get("companies")
    create_staging(db, spec)
    table = f"staging.{spec.staging_table}"
    with pytest.raises(psycopg.errors.CheckViolation):
        db.execute(f"insert into {table} (legacy_company_id, reconciliation_status) values (1, 'maybe')")
    with pytest.raises(psycopg.errors.CheckViolation):
        db.execute(
            f"insert into {table} (legacy_company_id, reconciliation_status, match_confidence) values (1, 'new', 101)"
        )


def test_a_new_registry_column_is_added_to_an_existing_bronze_table(db):
    spec = REGISTRY.get("companies")
    create_staging(db, spec)
    wider = spec.model_copy(update={"extra_columns": (*spec.extra_columns, "Comp_SecTerr")})
    create_staging(db, wider)
    assert "comp_secterr" in _columns(db, "bronze", "company")


def test_missing_pg_trgm_privilege_gives_a_clear_error(db, database_uri):
    db.execute("drop database if exists crm_no_ext")
    db.execute("create database crm_no_ext")
    db.execute("drop role if exists crm_limited")
    db.execute("create role crm_limited login")
    limited_uri = database_uri.replace("postgres@", "crm_limited@").rsplit("/", 1)[0] + "/crm_no_ext"
    try:
        with psycopg.connect(limited_uri) as limited, pytest.raises(psycopg.errors.RaiseException) as error:
            create_staging(limited, REGISTRY.get("companies"))
        assert 'needs the PostgreSQL extension pg_trgm, and role "crm_limited" may not create it' in str(error.value)
        assert (
            error.value.diag.message_hint == "Ask a database owner or superuser to run: CREATE EXTENSION pg_trgm; "
            "in database crm_no_ext"
        )
    finally:
        db.execute("drop database if exists crm_no_ext")
        db.execute("drop role if exists crm_limited")
