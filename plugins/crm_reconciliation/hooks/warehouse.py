"""The PostgreSQL database holding the HubSpot mirror, the bronze and the staging schemas.

The hook owns the connection: the domains (load, push, review, report) and the operators get a
``WarehouseSession`` from ``WarehouseHook.transaction`` or ``WarehouseHook.autocommit_session``
and run their statements, streams, COPYs and savepoints through it, and tell the database's
errors apart by this module's names (``WarehouseError``, ``DataError``, ``UndefinedTable``,
``InvalidSchemaName``). No module outside ``hooks`` opens a connection or imports psycopg
(``tests/unit/crm_reconciliation/test_layers.py``).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import IO, Any, NoReturn

import psycopg
from airflow.providers.postgres.hooks.postgres import PostgresHook
from psycopg import errors as _errors

from crm_reconciliation.common.locks import lock_object
from crm_reconciliation.common.sql_templates import execute_script, statement
from crm_reconciliation.config.paths import CONN_ID

log = logging.getLogger(__name__)
MESSAGE_MAX_CHARS = 1000
COPY_CHUNK_BYTES = 1 << 20  # what COPY IN reads of a file at a time: few round trips, bounded memory
STREAM_CHUNK_ROWS = 100  # rows a stream fetches at a time (psycopg's own page for a named cursor)

_SECRETS = (
    (re.compile(r"(://[^/:@\s]+):[^@\s]*@"), r"\1:***@"),  # user:password@ of a URI
    (re.compile(r"(?i)\b(bearer\s+)[^\s,;]+"), r"\1***"),
    (re.compile(r"(?i)\b(password|passwd|token|secret|api_?key)(\s*[=:]\s*)('[^']*'|\"[^\"]*\"|[^\s,;]+)"), r"\1\2***"),
)

# The database's errors the domains tell apart, named here so that no domain imports psycopg.
# ``error.diag`` holds PostgreSQL's own words (``message_primary``, ``message_hint``).
WarehouseError = psycopg.Error  # any error of the database or of the connection to it
DataError = _errors.DataError  # a value the statement cannot take (a byte the encoding lacks, a bad quote)
UndefinedTable = _errors.UndefinedTable  # a table no step has created yet
InvalidSchemaName = _errors.InvalidSchemaName  # no staging schema yet (create_staging never ran)


class WarehouseErrors:
    """The same errors as attributes of the hook (``hook.errors.UndefinedTable``), for the code
    below the hooks (``common``), which may not import them but is handed a hook."""

    WarehouseError = WarehouseError
    DataError = DataError
    UndefinedTable = UndefinedTable
    InvalidSchemaName = InvalidSchemaName


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


def _read_chunks(source: IO, size: int) -> Iterator[bytes | str]:
    while chunk := source.read(size):
        yield chunk


class RowStream:
    """The rows of a query read through a server-side cursor, ``chunk_rows`` at a time: a selection
    of millions of rows costs one page of memory, not the whole result."""

    def __init__(self, cursor: Any, chunk_rows: int):
        self._cursor, self.chunk_rows = cursor, chunk_rows

    @property
    def columns(self) -> list[str]:
        """The query's column names, in order (known before the first row is fetched)."""
        return [column.name for column in self._cursor.description]

    def __iter__(self) -> Iterator[tuple]:
        return iter(self._cursor)

    def chunks(self) -> Iterator[list[tuple]]:
        """The rows in lists of at most ``chunk_rows``, as they are fetched."""
        while rows := self._cursor.fetchmany(self.chunk_rows):
            yield rows


class Savepoint:
    """A savepoint inside the session's transaction (``WarehouseSession.savepoint``)."""

    def __init__(self, transaction: Any):
        self._transaction = transaction

    def rollback(self) -> NoReturn:
        """Undo everything since the savepoint and leave its block quietly (the block after it goes on,
        the transaction stays usable): raises the exception that block swallows."""
        raise psycopg.Rollback(self._transaction)


class WarehouseSession:
    """One warehouse connection as the domains use it: statements, scripts, streams, COPY in and
    out, savepoints. The hook opens and ends it (``WarehouseHook.transaction``,
    ``WarehouseHook.autocommit_session``); the connection itself never leaves the hook module.

    ``execute`` may be called from several threads (psycopg serialises them on the connection);
    the rest is for the thread that holds the session.
    """

    def __init__(self, connection: Any, cursor: Any | None = None):
        self._connection, self._cursor = connection, cursor

    @property
    def _main(self) -> Any:
        """The session's cursor: scripts and COPYs run on it (its ``rowcount`` is theirs)."""
        if self._cursor is None:
            self._cursor = self._connection.cursor()
        return self._cursor

    def execute(self, sql: str, parameters: dict[str, Any] | list[Any] | None = None) -> Any:
        """Run one statement on a cursor of its own and return it (``fetchone``, ``fetchall``,
        ``rowcount``, ``description``): each caller reads its own result."""
        return self._connection.execute(sql, parameters)

    def script(self, script: str | list[str], parameters: dict[str, Any] | None = None) -> Any:
        """Run rendered scripts statement by statement (``execute_script``); their merged JSON summary."""
        return execute_script(self._main, script, parameters)

    @contextmanager
    def stream(
        self,
        sql: str,
        parameters: dict[str, Any] | None = None,
        *,
        name: str = "stream",
        chunk_rows: int = STREAM_CHUNK_ROWS,
    ) -> Iterator[RowStream]:
        """Read a query's rows as they come, from a server-side cursor named ``name``: the push reads
        its selections this way, in the transaction that holds the object's lock, while other
        connections record what it sends. Needs a transaction (``WarehouseHook.transaction``):
        a server-side cursor ends with the transaction that declared it."""
        with self._connection.cursor(name=name) as cursor:
            cursor.itersize = chunk_rows
            cursor.execute(sql, parameters)
            yield RowStream(cursor, chunk_rows)

    def copy_in(
        self,
        sql: str,
        source: IO | Iterable[bytes | str],
        parameters: dict[str, Any] | None = None,
        chunk_bytes: int = COPY_CHUNK_BYTES,
    ) -> int:
        """Run a ``COPY … from stdin`` fed from ``source`` — a file (read ``chunk_bytes`` at a time)
        or chunks of bytes or text, handed over as they come — and return the rows COPY took.

        PostgreSQL parses the data itself, the fastest way in; the chunks bound the memory. An
        error raised while producing them aborts the COPY and is raised as it is."""
        cursor = self._main
        with cursor.copy(sql, parameters) as copy:
            for chunk in _read_chunks(source, chunk_bytes) if hasattr(source, "read") else source:
                if chunk:
                    copy.write(chunk)
        return cursor.rowcount

    def copy_out(self, sql: str, target: IO, parameters: dict[str, Any] | None = None) -> None:
        """Run a ``COPY … to stdout`` (values bound client-side), writing its data into ``target``
        (a binary file) as it comes."""
        with self._main.copy(sql, parameters) as copy:
            for data in copy:
                target.write(data)

    @contextmanager
    def savepoint(self, name: str | None = None) -> Iterator[Savepoint]:
        """A savepoint: an error inside the block undoes the block alone (the error is raised, the
        transaction stays usable), ``rollback()`` undoes it deliberately. The loader tries a COPY
        this way and falls back, and undoes a refused snapshot while keeping its rejects. On a
        session with no transaction open (autocommit) the block is a transaction of its own."""
        with self._connection.transaction(name) as transaction:
            yield Savepoint(transaction)

    def close(self) -> None:
        """End the session's connection (an autocommit session's; ``transaction`` ends its own)."""
        self._connection.close()

    def __enter__(self) -> WarehouseSession:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


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

    default_conn_name = CONN_ID
    hook_name = "CRM reconciliation warehouse"
    errors = WarehouseErrors

    @contextmanager
    def transaction(self, lock: str | None = None) -> Iterator[WarehouseSession]:
        """One transaction on a connection of its own: committed when the block ends, rolled back
        when it raises, then the connection is closed. Everything a step writes lands at once or
        not at all.

        ``lock``: an object type whose lock (``common.locks``) the transaction takes first and holds
        to its end, so that two runs of one object never write its tables at once.
        """
        with self.get_conn() as connection, connection.cursor() as cursor:
            if lock:
                lock_object(cursor, lock)
            yield WarehouseSession(connection, cursor)

    def autocommit_session(self) -> WarehouseSession:
        """A connection of its own on which every statement commits by itself, for bookkeeping that
        must be seen at once and outlast whatever fails beside it (the push ledger's writer, the
        limiter shared by every push). Close it, or use it as a context manager."""
        connection = self.get_conn()
        connection.autocommit = True
        return WarehouseSession(connection)

    def run_script(
        self, script: str | list[str], parameters: dict[str, Any] | None = None, lock: str | None = None
    ) -> Any:
        """Run rendered scripts in one transaction (see ``execute_script``); return their merged summary.

        ``lock``: an object type whose lock the transaction takes first (see ``transaction``).
        """
        with self.transaction(lock=lock) as session:
            return session.script(script, parameters)

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
        with self.transaction() as session:
            session.execute(statement("hook/log_step.sql"), values)

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
