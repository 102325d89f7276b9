"""What Airflow's providers manager reads (entry point ``apache_airflow_provider``): the package
and the connection types its hooks serve, with their forms and *Test connection*.

The forms are declared here (``conn-fields``, ``ui-field-behaviour``) rather than by the hooks'
``get_connection_form_widgets`` / ``get_ui_field_behaviour``: Airflow 3.2 deprecated those, and
the 3.3 connection UI reads the forms from this metadata without importing any hook. Each field
is a key of the connection's extra, as the hooks read it.
"""

from __future__ import annotations

from typing import Any

from crm_reconciliation import __version__

_TIMEOUT = {
    "label": "Timeout (seconds)",
    "description": "How long a request may take before the push counts it as lost (default 30).",
    "schema": {"type": ["number", "null"], "minimum": 1},
}


def _token_form(token_label: str, host: str) -> dict[str, Any]:
    # A login would make HttpHook send basic auth instead of the bearer token: hidden.
    return {
        "hidden-fields": ["login"],
        "relabeling": {"password": token_label, "schema": "Scheme"},
        "placeholders": {"host": host, "schema": "https"},
    }


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "crm-reconciliation",
        "name": "CRM reconciliation",
        "description": "Reconcile a legacy Sage CRM (IC'ALPS) export with HubSpot and finish the migration.",
        "versions": [__version__],
        "connection-types": [
            {
                "hook-class-name": "crm_reconciliation.hooks.crm_api.HubSpotApiHook",
                "hook-name": "HubSpot CRM API",
                "connection-type": "hubspot_api",
                "ui-field-behaviour": _token_form("Private app token", "api.hubapi.com"),
                "conn-fields": {
                    "api_version": {
                        "label": "API version",
                        "description": "HubSpot's date-based API version (default 2026-09); v3 for the legacy paths",
                        "schema": {"type": ["string", "null"], "pattern": "^(20[0-9]{2}-(03|09)|v3)$"},
                    },
                    "timeout": _TIMEOUT,
                },
            },
            {
                "hook-class-name": "crm_reconciliation.hooks.crm_api.WorkflowApiHook",
                "hook-name": "Workflow API",
                "connection-type": "workflow_api",
                "ui-field-behaviour": _token_form("API token", "the workflow API's host"),
                "conn-fields": {
                    "workspace_id": {
                        "label": "Workspace id",
                        "description": "The workspace holding the update and lookup workflows.",
                        "schema": {"type": "string", "minLength": 1},
                    },
                    "update_workflows": {
                        "label": "Update workflows",
                        "description": 'Object type → workflow id of the update workflow, e.g. {"companies": "wf-1"}.',
                        "schema": {"type": "object"},
                    },
                    "lookup_workflows": {
                        "label": "Lookup workflows",
                        "description": "Object type → workflow id of the lookup workflow (the push reads back "
                        "through it; Test connection runs the first).",
                        "schema": {"type": "object"},
                    },
                    "timeout": _TIMEOUT,
                },
            },
        ],
    }
