"""Airflow DAG crm_revert: undo one push run of one object (params object_type, run_id, dry_run,
archive_created). Triggered by hand; a dry run (the default) records the plan and sends nothing."""

import os
from datetime import datetime, timedelta, timezone

from airflow.sdk import DAG, Param

from crm_reconciliation.alerts import alert_on_failure
from crm_reconciliation.config.paths import SQL_DIR
from crm_reconciliation.config.registry import default_registry
from crm_reconciliation.operators.revert import RevertOperator

with DAG(
    dag_id="crm_revert",
    description="Undo one push run: restore the values it overwrote, archive what it created",
    schedule=None,
    start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),  # noqa: UP017 - DAG files stay plain
    catchup=False,
    max_active_runs=1,
    template_searchpath=[str(SQL_DIR)],
    params={
        "object_type": Param("companies", type="string", enum=list(default_registry().objects), title="Object type"),
        "run_id": Param(
            "", type="string", minLength=1, title="Push run to undo", description="The DAG run id of the push."
        ),
        "dry_run": Param(
            True,
            type="boolean",
            title="Dry run",
            description="Read HubSpot and record what would be restored or skipped; send nothing.",
        ),
        "archive_created": Param(
            False, type="boolean", title="Archive created records", description="Also archive what the run created."
        ),
    },
    default_args={
        "retries": int(os.environ.get("CRM_RECON_RETRIES", 1)),
        "retry_delay": timedelta(minutes=2),
        "execution_timeout": timedelta(hours=6),
        "on_failure_callback": alert_on_failure,
    },
    tags=["crm-reconciliation", "revert"],
):
    RevertOperator(task_id="revert")
