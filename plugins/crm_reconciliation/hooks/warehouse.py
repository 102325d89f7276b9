"""The PostgreSQL database holding the HubSpot mirror, the bronze and the staging schemas."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from airflow.providers.postgres.hooks.postgres import PostgresHook

from crm_reconciliation.common.locks import lock_object
from crm_reconciliation.common.sql_templates import execute_script, statement
from crm_reconciliation.config.paths import CONN_ID

log = logging.getLogger(__name__)
MESSAGE_MAX_CHARS = 1000
_SECRETS = (
    (re.compile(r"(://[^/:@\s]+):[^@\s]*@"), r"\1:***@"),  # user:password@ of a URI
    (re.compile(r"(?i)\b(bearer\s+)[^\s,;]+"), r"\1***"),
    (re.compile(r"(?i)\b(password|passwd|token|secret|api_?key)(\s*[=:]\s*)('[^']*'|\"[^\"]*\"|[^\s,;]+)"), r"\1\2***"),
)


def failure_message(error: BaseException) -> str:
    """The error's first line, bounded, credentials masked: log rows are read by many, kept for months."""
    text = next((line.strip() for line in str(error).splitlines() if line.strip()), "")
    if not text or (type(error).__module__ == "builtins" and not isinstance(error, (ValueError, RuntimeError))):
        text = f"{type(error).__name__}: {text}".rstrip(": ")  # KeyError('x') says little without its name
    hint = getattr(getattr(error, "diag", None), "message_hint", None)  # PostgreSQL's own advice
    if hint:
        text = f"{text} — {hint.splitlines()[0]}"
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text if len(text) <= MESSAGE_MAX_CHARS else text[: MESSAGE_MAX_CHARS - 1] + "…"


@dataclass
class StepRecord:
    """What one step of one run will log, filled in as the step learns it (source, counts, summary)."""

    object_type: str
    run_id: str
    step: str
    values: dict[str, Any] = field(default_factory=dict)
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def record(self, **values: Any) -> None:
        self.values.update(values)


class WarehouseHook(PostgresHook):
    """PostgresHook on connection ``hubspot_postgres`` plus the pipeline's own bookkeeping."""

    lock_object = staticmethod(lock_object)

    default_conn_name = CONN_ID
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

    def existing_tables(self, names: list[str]) -> list[str]:
        """Which of these ``staging`` tables exist (a push links only to objects that have one)."""
        rows = self.get_records(statement("hook/existing_tables.sql"), parameters={"tables": names})
        return [row[0] for row in rows]

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
            cursor.execute(statement("hook/log_step.sql"), values)

    @contextmanager
    def step(self, *, object_type: str, run_id: str, step: str, **values: Any) -> Iterator[StepRecord]:
        """Log a step's outcome whatever happens: 'success' with what it recorded, or 'failed' with the error.

        A failure that cannot be logged (the database is down, or has no staging schema yet) is
        still the step's own error: a warning is logged and that error raised, never the logging's.
        """
        record = StepRecord(object_type, run_id, step, dict(values))
        try:
            yield record
        except BaseException as error:
            try:
                self.log_step(**self._step_values(record), outcome="failed", message=failure_message(error))
            except Exception as logging_error:
                log.warning(
                    "Could not record the failure of %s in staging.reconciliation_log: %s",
                    step,
                    failure_message(logging_error),
                )
            raise
        self.log_step(**self._step_values(record), outcome="success")

    @staticmethod
    def _step_values(record: StepRecord) -> dict[str, Any]:
        return {
            "object_type": record.object_type,
            "run_id": record.run_id,
            "step": record.step,
            "started_at": record.started_at,
            **record.values,
        }
