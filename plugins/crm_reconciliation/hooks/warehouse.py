"""The PostgreSQL database holding the HubSpot mirror, the bronze and the staging schemas."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from airflow.providers.postgres.hooks.postgres import PostgresHook

from crm_reconciliation.locks import lock_object
from crm_reconciliation.sql_templates import execute_script

STEP_LOG_UPSERT = """
insert into staging.reconciliation_log (
    object_type, run_id, step, snapshot_date, source, rows_read, rows_loaded, rows_rejected,
    rows_deleted, details, outcome, message, started_at, finished_at
) values (
    %(object_type)s, %(run_id)s, %(step)s, %(snapshot_date)s, %(source)s, %(rows_read)s,
    %(rows_loaded)s, %(rows_rejected)s, %(rows_deleted)s, %(details)s, %(outcome)s, %(message)s,
    %(started_at)s, clock_timestamp()
)
on conflict (object_type, run_id, step) do update set
    snapshot_date = excluded.snapshot_date, source = excluded.source,
    rows_read = excluded.rows_read, rows_loaded = excluded.rows_loaded,
    rows_rejected = excluded.rows_rejected, rows_deleted = excluded.rows_deleted,
    details = excluded.details, outcome = excluded.outcome, message = excluded.message,
    started_at = excluded.started_at, finished_at = excluded.finished_at
"""


class WarehouseHook(PostgresHook):
    """PostgresHook on connection ``hubspot_postgres`` plus the pipeline's own bookkeeping."""

    lock_object = staticmethod(lock_object)

    default_conn_name = "hubspot_postgres"
    hook_name = "CRM reconciliation warehouse"

    def run_script(
        self, script: str | list[str], parameters: dict[str, Any] | None = None, lock: str | None = None
    ) -> Any:
        """Run rendered scripts in one transaction (see ``execute_script``); return their merged summary.

        ``lock``: an object type whose lock the transaction takes first (see ``lock_object``).
        """
        with self.get_conn() as connection, connection.cursor() as cursor:
            if lock:
                self.lock_object(cursor, lock)
            return execute_script(cursor, script, parameters)

    def log_step(
        self,
        *,
        object_type: str,
        run_id: str,
        step: str,
        started_at: datetime,
        outcome: str,
        snapshot_date: date | None = None,
        source: str | None = None,
        rows_read: int | None = None,
        rows_loaded: int | None = None,
        rows_rejected: int | None = None,
        rows_deleted: int | None = None,
        details: dict[str, Any] | None = None,
        message: str | None = None,
    ) -> None:
        """Record one step of one run in ``staging.reconciliation_log`` (re-runs overwrite)."""
        values = {
            "object_type": object_type,
            "run_id": run_id,
            "step": step,
            "snapshot_date": snapshot_date,
            "source": source,
            "rows_read": rows_read,
            "rows_loaded": rows_loaded,
            "rows_rejected": rows_rejected,
            "rows_deleted": rows_deleted,
            "details": json.dumps(details or {}),
            "outcome": outcome,
            "message": message,
            "started_at": started_at,
        }
        with self.get_conn() as connection, connection.cursor() as cursor:
            cursor.execute(STEP_LOG_UPSERT, values)
