"""The plugin for an Astro-style layout (``plugins/`` on the path, package not installed); an
installed package registers the same plugin through its ``airflow.plugins`` entry point."""

from crm_reconciliation.plugin import CrmReconciliationPlugin

__all__ = ["CrmReconciliationPlugin"]
