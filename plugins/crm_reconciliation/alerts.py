"""Failure alerts: a clear summary in the task log and, when connection ``alerts_webhook``
exists, the same summary posted there (Slack, Teams or any endpoint taking JSON) through an
``HttpHook``: host, scheme, port and headers from the connection, ``password`` as a bearer token,
``extra.path`` appended to the host.

A callback must never fail the failure handling: every error here is logged and swallowed.
The webhook address can hold a secret (Slack puts one in its path): it is never logged. That is
why the request goes through the hook's session rather than ``HttpHook.run``, whose logging of a
connection error names the URL.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)
WEBHOOK_CONN_ID = "alerts_webhook"
TIMEOUT_SECONDS = 10


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
        from airflow.providers.http.hooks.http import HttpHook
        from airflow.sdk.exceptions import AirflowNotFoundException

        hook = HttpHook(method="POST", http_conn_id=WEBHOOK_CONN_ID)
        try:
            connection = hook.get_connection(WEBHOOK_CONN_ID)
        except AirflowNotFoundException:
            return
        path = connection.extra_dejson.get("path", "")
        headers = {"Authorization": f"Bearer {connection.password}"} if connection.password else None
        session = hook.get_conn(headers=headers)
        session.headers.pop("path", None)  # HttpHook sends the extras as headers; this one is the address
        ti = context["ti"]
        body = {"text": summary, "dag_id": ti.dag_id, "task_id": ti.task_id, "run_id": ti.run_id}
        response = session.post(hook.url_from_endpoint(path), json=body, timeout=TIMEOUT_SECONDS)
        log.log(
            logging.INFO if response.ok else logging.WARNING,
            "Failure summary posted to connection %s: HTTP %s",
            WEBHOOK_CONN_ID,
            response.status_code,
        )
    except Exception as error:  # a callback must not raise
        log.warning("Could not post the failure summary to connection %s: %s", WEBHOOK_CONN_ID, type(error).__name__)
