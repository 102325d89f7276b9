"""Airflow DAG crm_staging_maintenance: row counts of the bronze and staging tables, and the
purge of log, reject and push-ledger rows older than the registry's retention_days."""

from crm_reconciliation.config.registry import default_registry
from crm_reconciliation.dag_factory import build_maintenance_dag

crm_staging_maintenance = build_maintenance_dag(default_registry())
