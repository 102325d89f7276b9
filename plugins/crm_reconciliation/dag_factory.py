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

# The normalising functions every step calls (create_staging creates them, in this order: a SQL
# function reads only functions created before it).
FUNCTION_SCRIPTS = (
    "ddl/text_functions.sql",
    "ddl/value_functions.sql",
    "ddl/portal_functions.sql",
    "ddl/mirror_functions.sql",
    "ddl/activity_functions.sql",
    "ddl/step_functions.sql",
)
# What every object shares, one output per file (the first file takes the DDL lock): the schemas,
# the functions, the shared tables, the upgrades of an older schema. The maintenance DAG runs it
# first too, so that it works on a warehouse no object DAG has run on yet.
SHARED_DDL_SCRIPTS = (
    "ddl/schemas.sql",
    *FUNCTION_SCRIPTS,
    "ddl/run_tables.sql",
    "ddl/mirror_guard_tables.sql",
    "ddl/push_tables.sql",
    "ddl/rate_limit.sql",
    "ddl/review_tables.sql",
    "ddl/portal_tables.sql",
    "ddl/report_tables.sql",
    "ddl/upgrades.sql",
)
# The create_staging step, in one transaction: the shared DDL, then this object's bronze and
# staging tables.
CREATE_STAGING_SCRIPTS = (*SHARED_DDL_SCRIPTS, "ddl/bronze_table.sql", "ddl/staging_table.sql")
# The reconcile step, one output per file, in one transaction: the mirror as the object sees it,
# the mirror guard's record of the previous run's links (before they are rebuilt), both sides'
# canonical values and the id links between them, then the links and diffs.
RECONCILE_SCRIPTS = (
    "reconcile/mirror_source.sql",
    "reconcile/mirror_links.sql",
    "reconcile/mirror_values.sql",
    "reconcile/orphans.sql",
    "reconcile/id_links.sql",
    "reconcile/references.sql",
    "reconcile/deal_stages.sql",
    "reconcile/legacy_values.sql",
    "reconcile/reconcile.sql",
)
# The score step, one named SQL output per file, in one transaction: the pairs the model scores,
# their comparison vectors, the parameters learned from them (u, then m by EM, then the sanity
# bounds), the scores, the probable twins. Reviewers' decisions are checked against the run
# before the probable twins are picked (review_check) and applied after (review_apply).
SCORE_SCRIPTS = (
    "score/named.sql",
    "score/blocks.sql",
    "score/candidates.sql",
    "score/linked.sql",
    "score/compare.sql",
    "score/patterns.sql",
    "score/levels.sql",
    "score/u_sample.sql",
    "score/u_params.sql",
    "score/em_setup.sql",
    "score/em.sql",
    "score/fallback.sql",
    "score/corrected.sql",
    "score/parameters.sql",
    "score/score.sql",
    "score/review_check.sql",
    "score/eligible.sql",
    "score/ties.sql",
    "score/assigned.sql",
    "score/probable.sql",
    "score/review_apply.sql",
)
START_DATE = datetime(2026, 1, 1, tzinfo=UTC)


def _default_args(retries: int, retry_delay: timedelta, execution_timeout: timedelta) -> dict:
    # Local runs (demo, tests) set CRM_RECON_RETRIES=0 so a failure surfaces at once.
    return {
        "retries": int(os.environ.get("CRM_RECON_RETRIES", retries)),
        "retry_delay": retry_delay,
        "execution_timeout": execution_timeout,
        "on_failure_callback": alert_on_failure,
    }


def build_revert_dag(registry: Registry) -> DAG:
    """``crm_revert``: undo one push run of one object; triggered by hand, a dry run by default."""
    from crm_reconciliation.config.params import revert_params
    from crm_reconciliation.operators.revert import RevertOperator

    with DAG(
        dag_id="crm_revert",
        description="Undo one push run: restore the values it overwrote, archive what it created",
        schedule=None,
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        template_searchpath=[str(SQL_DIR)],
        params=revert_params(registry.objects),
        default_args=_default_args(1, timedelta(minutes=2), timedelta(hours=6)),
        tags=["crm-reconciliation", "revert"],
    ) as dag:
        RevertOperator(task_id="revert")
    return dag


def build_maintenance_dag(registry: Registry) -> DAG:
    """``crm_staging_maintenance``: the shared tables (a fresh warehouse has none), row counts, and
    the purge of rows older than retention_days."""
    with DAG(
        dag_id="crm_staging_maintenance",
        description="Row counts of bronze/staging tables; purge of old log, reject and push-ledger rows",
        schedule="0 5 * * 0",
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        template_searchpath=[str(SQL_DIR)],
        default_args=_default_args(1, timedelta(minutes=5), timedelta(minutes=30)),
        tags=["crm-reconciliation", "maintenance"],
    ) as dag:
        step = {"object_type": "maintenance", "conn_id": CONN_ID}
        retention = {"retention_days": registry.defaults.retention_days}
        chain(
            SqlScriptOperator(task_id="create_staging", sql=list(SHARED_DDL_SCRIPTS), **step),
            SqlScriptOperator(task_id="row_counts", sql="maintenance/row_counts.sql", **step),
            SqlScriptOperator(task_id="purge", sql="maintenance/purge.sql", parameters=retention, **step),
            SqlScriptOperator(task_id="row_counts_after", sql="maintenance/row_counts.sql", **step),
        )
    return dag


def build_dag(registry: Registry, name: str) -> DAG:
    spec, defaults = registry.get(name), registry.defaults
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
            **_default_args(
                defaults.retries,
                timedelta(seconds=defaults.retry_delay_seconds),
                timedelta(minutes=defaults.execution_timeout_minutes),
            ),
            "retry_exponential_backoff": 2.0,
            "max_retry_delay": timedelta(minutes=30),
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
            SqlScriptOperator(task_id="create_staging", sql=list(CREATE_STAGING_SCRIPTS), **sql_step),
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
