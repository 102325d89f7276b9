"""Airflow DAG crm_revert: undo one push run of one object (params object_type, run_id, dry_run,
archive_created). Triggered by hand; a dry run (the default) records the plan and sends nothing."""

from crm_reconciliation.config.registry import default_registry
from crm_reconciliation.dag_factory import build_revert_dag

crm_revert = build_revert_dag(default_registry())
