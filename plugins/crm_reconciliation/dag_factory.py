"""Build the ``crm_reconcile_<object>`` DAG of one registry entry.

One factory serves every object type, so the DAG ids, task ids, params and connection ids
users and outside checks rely on are written once.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

from airflow.sdk import DAG, Param, chain

from crm_reconciliation.alerts import alert_on_failure
from crm_reconciliation.common.paths import DEFAULT_BRONZE_DIR, SQL_DIR
from crm_reconciliation.common.registry import Registry
from crm_reconciliation.operators.approve_push import PushApprovalOperator
from crm_reconciliation.operators.bronze_load import BronzeLoadOperator
from crm_reconciliation.operators.push import PushOperator
from crm_reconciliation.operators.report import ReportOperator
from crm_reconciliation.operators.sql_script import SqlScriptOperator

CONN_ID = "hubspot_postgres"
# The score step, one named SQL output per file, in one transaction: the pairs the model scores,
# their comparison vectors, the parameters learned from them, the scores, the probable twins.
# Reviewers' decisions are checked against the run before the probable twins are picked
# (review_check) and applied after (review_apply).
SCORE_SCRIPTS = (
    "score/pairs.sql",
    "score/compare.sql",
    "score/parameters.sql",
    "score/score.sql",
    "score/review_check.sql",
    "score/probable.sql",
    "score/review_apply.sql",
)
START_DATE = datetime(2026, 1, 1, tzinfo=UTC)


def run_params() -> dict[str, Param]:
    """The trigger form: every field optional, the defaults are the nightly run's."""
    return {
        "bronze_dir": Param(
            DEFAULT_BRONZE_DIR,
            type="string",
            minLength=1,
            title="Bronze folder",
            description="Folder holding the Bronze_<Table>.csv exports (absolute, or relative to the "
            "project). A dated sub-folder <bronze_dir>/YYYY-MM-DD/ matching the run's logical date "
            "is used instead when it exists.",
        ),
        "limit": Param(
            None,
            type=["null", "integer"],
            minimum=1,
            title="Row limit",
            description="Process only the first N legacy rows of the file; empty for all.",
        ),
        "dry_run": Param(
            False,
            type="boolean",
            title="Dry run",
            description="When on, the push step builds and records every payload but sends nothing.",
        ),
        "min_confidence": Param(
            90,
            type="number",
            minimum=0,
            maximum=100,
            title="Minimum confidence",
            description="Lowest match confidence (0-100) that may be pushed to HubSpot.",
        ),
        "push_target": Param(
            "workflow",
            type="string",
            enum=["workflow", "hubspot"],
            title="Push target",
            description="workflow: the workflow API (connection workflow_api); hubspot: HubSpot's CRM "
            "batch API (connection hubspot_api).",
        ),
        "create_missing": Param(
            False,
            type="boolean",
            title="Create missing records",
            description="When on, push also creates the records HubSpot lacks (status new), upserted on their "
            "legacy-id property so that a replay never creates a second; a dry run counts them.",
        ),
        "create_properties": Param(
            False,
            type="boolean",
            title="Create missing custom properties",
            description="When on, a live push to HubSpot first creates the mapped custom properties the portal "
            "lacks (group icalps; the legacy id with unique values); off, it stops and lists them.",
        ),
        "link_probable": Param(
            False,
            type="boolean",
            title="Link probable twins",
            description="When on, push writes the legacy id onto each probable twin at or above min_confidence "
            "(with its differences), so that the two stay linked; off, probable twins wait for review.",
        ),
        "require_approval": Param(
            True,
            type="boolean",
            title="Require approval of a big push",
            description="When on, a live push that would create or overwrite more than approval_min_records "
            "records, or an object's first live push, waits in approve_push for a person to approve it in the UI. "
            "Off for a trusted automated run (its log says the gate was skipped).",
        ),
        "allow_snapshot_drop": Param(
            False,
            type="boolean",
            title="Allow a shrinking snapshot",
            description="When on, load_bronze replaces the previous snapshot even when the new one drops more "
            "than max_drop_rate (include/config/objects.yaml) of its live records; leave off for the nightly run.",
        ),
    }


def build_dag(registry: Registry, name: str) -> DAG:
    spec, defaults = registry.get(name), registry.defaults
    # Local runs (demo, tests) set CRM_RECON_RETRIES=0 so a failure surfaces at once.
    retries = int(os.environ.get("CRM_RECON_RETRIES", defaults.retries))
    with DAG(
        dag_id=spec.dag_id,
        description=f"Reconcile legacy {spec.legacy_table} rows with HubSpot {spec.hubspot_table}",
        schedule=spec.schedule,
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        params=run_params(),
        template_searchpath=[str(SQL_DIR)],
        render_template_as_native_obj=True,
        default_args={
            "retries": retries,
            "retry_delay": timedelta(seconds=defaults.retry_delay_seconds),
            "retry_exponential_backoff": 2.0,
            "max_retry_delay": timedelta(minutes=30),
            "execution_timeout": timedelta(minutes=defaults.execution_timeout_minutes),
            "on_failure_callback": alert_on_failure,
        },
        tags=["crm-reconciliation", spec.name],
        doc_md=(
            f"Legacy `{spec.legacy_table}` (`{spec.csv_file}`, id `{spec.legacy_id_column}`) → "
            f"`bronze.{spec.bronze_table}` → `staging.{spec.staging_table}`, reconciled against "
            f"`hubspot.{spec.hubspot_table}` on `{spec.legacy_id_property}`."
        ),
    ) as dag:
        sql_step = {
            "object_type": spec.name,
            "conn_id": CONN_ID,
            "parameters": registry.sql_parameters(name),
        }
        steps = [
            SqlScriptOperator(task_id="create_staging", sql="ddl/create_staging.sql", **sql_step),
            BronzeLoadOperator(
                task_id="load_bronze",
                object_type=spec.name,
                max_reject_rate=defaults.max_reject_rate,
                conn_id=CONN_ID,
            ),
            SqlScriptOperator(task_id="reconcile", sql="reconcile/reconcile.sql", **sql_step),
            # A copy: Airflow renders a list of templates in place.
            SqlScriptOperator(task_id="score", sql=list(SCORE_SCRIPTS), **sql_step),
            # A day to answer; unanswered, the task fails (and alerts) with nothing sent.
            PushApprovalOperator(
                task_id="approve_push",
                object_type=spec.name,
                conn_id=CONN_ID,
                response_timeout=timedelta(hours=24),
            ),
            PushOperator(task_id="push", object_type=spec.name, conn_id=CONN_ID),
        ]
        # A report also after a failure upstream (it shows what the tables hold and why); it then
        # fails, so that a run whose steps failed is a failed run.
        report = ReportOperator(
            task_id="report",
            object_type=spec.name,
            steps=[step.task_id for step in steps],
            conn_id=CONN_ID,
            trigger_rule="all_done",
        )
        chain(*steps, report)
    return dag
