"""Small helpers shared by the integration and DAG tests."""

from __future__ import annotations

import psycopg

from crm_reconciliation.registry import ObjectSpec
from crm_reconciliation.sql_templates import render, split_statements


def create_staging(connection: psycopg.Connection, spec: ObjectSpec) -> None:
    """Run the object's create_staging DDL, rendered as Airflow renders it (params.object)."""
    script = render("ddl/create_staging.sql", params={"object": spec.template_params()})
    with connection.transaction():
        for statement in split_statements(script):
            connection.execute(statement)
