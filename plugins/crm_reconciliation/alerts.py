"""Failure alerts: a clear summary in the task log and, when connection ``alerts_webhook``
exists, the same summary posted there (Slack, Teams or any endpoint taking JSON).

A callback must never fail the failure handling: every error here is logged and swallowed.
The webhook address can hold a secret (Slack puts one in its path): it is never logged.
"""

from __future__ import annotations

import json
import logging
from typing import Any

log = logging.getLogger(__name__)
WEBHOOK_CONN_ID = "alerts_webhook"


def failure_summary(context: Any) -> str:
    ti = context["ti"]
    exception = context.get("exception")
    reason = f"{type(exception).__name__}: {exception}" if exception else "no exception recorded"
    return (
        f"crm-reconciliation: task {ti.task_id} of {ti.dag_id} failed (run {ti.run_id}, try {ti.try_number}). "
        f"{reason[:1500]}"
    )


def alert_on_failure(context: Any) -> None:
    """``on_failure_callback`` of every task."""
    try:
        summary = failure_summary(context)
    except Exception:  # a callback must not raise
        log.exception("Could not summarise the failure")
        return
    log.error(summary)
    try:
        from airflow.sdk import BaseHook
        from airflow.sdk.exceptions import AirflowNotFoundException

        try:
            connection = BaseHook.get_connection(WEBHOOK_CONN_ID)
        except AirflowNotFoundException:
            return
        import requests

        from crm_reconciliation.hooks.crm_api import base_url

        url = base_url(connection) + connection.extra_dejson.get("path", "")
        headers = {"Content-Type": "application/json"}
        if connection.password:
            headers["Authorization"] = f"Bearer {connection.password}"
        ti = context["ti"]
        body = {"text": summary, "dag_id": ti.dag_id, "task_id": ti.task_id, "run_id": ti.run_id}
        response = requests.post(url, data=json.dumps(body), headers=headers, timeout=10)
        log.info("Failure summary posted to connection %s: HTTP %s", WEBHOOK_CONN_ID, response.status_code)
    except Exception as error:  # a callback must not raise
        log.warning("Could not post the failure summary to connection %s: %s", WEBHOOK_CONN_ID, type(error).__name__)
