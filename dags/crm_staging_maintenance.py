"""Airflow DAG crm_staging_maintenance: row counts of the bronze and staging tables, and the
purge of log, reject and push-ledger rows older than the registry's retention_days."""

import os
from datetime import datetime, timedelta, timezone

from airflow.sdk import DAG, chain

from crm_reconciliation.alerts import alert_on_failure
from crm_reconciliation.config.paths import CONN_ID, SQL_DIR
from crm_reconciliation.config.registry import default_registry
from crm_reconciliation.operators.sql_script import SqlScriptOperator

_settings = default_registry().defaults

with DAG(
    dag_id="crm_staging_maintenance",
    description="Row counts of bronze/staging tables; purge of old log, reject and push-ledger rows",
    schedule="0 5 * * 0",
    start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),  # noqa: UP017 - DAG files stay plain
    catchup=False,
    max_active_runs=1,
    template_searchpath=[str(SQL_DIR)],
    default_args={
        "retries": int(os.environ.get("CRM_RECON_RETRIES", 1)),
        "retry_delay": timedelta(minutes=5),
        "execution_timeout": timedelta(minutes=30),
        "on_failure_callback": alert_on_failure,
    },
    tags=["crm-reconciliation", "maintenance"],
):
    step = {"object_type": "maintenance", "conn_id": CONN_ID}
    chain(
        SqlScriptOperator(task_id="row_counts", sql="maintenance/row_counts.sql", **step),
        SqlScriptOperator(
            task_id="purge",
            sql="maintenance/purge.sql",
            parameters={"retention_days": _settings.retention_days},
            **step,
        ),
        SqlScriptOperator(task_id="row_counts_after", sql="maintenance/row_counts.sql", **step),
    )
