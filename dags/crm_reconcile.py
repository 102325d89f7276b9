"""Airflow DAGs: one ``crm_reconcile_<object>`` DAG per entry of include/config/objects.yaml."""

from crm_reconciliation.config.registry import default_registry
from crm_reconciliation.dag_factory import build_dag

_registry = default_registry()
for _name, _spec in _registry.objects.items():
    globals()[_spec.dag_id] = build_dag(_registry, _name)
