"""Build the ``crm_reconcile_<object>`` DAG of one registry entry.

One factory serves every object type, so the DAG ids, task ids, params and connection ids
users and outside checks rely on are written once.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

from airflow.sdk import DAG, chain

from crm_reconciliation.alerts import alert_on_failure
from crm_reconciliation.config.params import run_params
from crm_reconciliation.config.paths import CONN_ID, SQL_DIR
from crm_reconciliation.config.registry import Registry
from crm_reconciliation.operators.approve_push import PushApprovalOperator
from crm_reconciliation.operators.bronze_load import BronzeLoadOperator
from crm_reconciliation.operators.push import PushOperator
from crm_reconciliation.operators.report import ReportOperator
from crm_reconciliation.operators.sql_script import SqlScriptOperator

# The reconcile step, in one transaction: the mirror as the object sees it, the mirror guard's
# record of the previous run's links (before they are rebuilt), then the links and diffs.
RECONCILE_SCRIPTS = (
    "reconcile/mirror_source.sql",
    "reconcile/mirror_links.sql",
    "reconcile/reconcile.sql",
)
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
            SqlScriptOperator(task_id="reconcile", sql=list(RECONCILE_SCRIPTS), **sql_step),
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
