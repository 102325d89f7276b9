"""Load one legacy CSV export into ``bronze.<table>`` without losing a row.

Fast path: PostgreSQL's COPY reads the file's bytes itself (CSV parsing, encoding conversion)
straight into the bronze table; Python only streams them and counts line ends. When COPY
refuses the file (a record with the wrong field count, a NUL byte, an unterminated quote, a
byte the encoding lacks), the load starts again record by record: Python's csv module sets
the malformed records aside with their line, and the rest go through COPY. Either way the
checks that need the whole snapshot — unusable and duplicate ids, soft-delete flags — run as
SQL afterwards, and everything happens in one transaction, so a failed load leaves the
previous snapshot in place.
"""

from __future__ import annotations

import csv
import io
import logging
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import IO, TYPE_CHECKING

import psycopg
from psycopg import sql

from crm_reconciliation.csv_dialect import BronzeFileError, CsvFormat, format_record, iter_records, sniff
from crm_reconciliation.locks import lock_object
from crm_reconciliation.sql_templates import execute_script, render

if TYPE_CHECKING:
    from crm_reconciliation.registry import ObjectSpec

log = logging.getLogger(__name__)

COPY_CHUNK_ROWS = 5_000
READ_CHUNK_BYTES = 1 << 20
PARSE_REJECTS = "_bronze_parse_rejects"
POSTGRES_ENCODINGS = {"utf-8": "UTF8", "utf-8-sig": "UTF8", "cp1252": "WIN1252"}
# Bronze columns the loader owns; a file column may not take these names.
RESERVED_COLUMNS = ("legacy_id", "_is_deleted", "_source_line", "_source_file", "_snapshot_date", "_run_id")
MAX_IDENTIFIER_BYTES = 63


class RejectRateExceeded(RuntimeError):
    """Too many rows were rejected: the previous snapshot is kept, the rejects are saved."""


@dataclass(frozen=True)
class ColumnLayout:
    """Which bronze column each field of one particular file goes to, in file order."""

    columns: tuple[str, ...]
    id_column: str
    deleted_column: str
    extra_columns: tuple[str, ...]  # file columns the registry does not name, added as text

    @property
    def width(self) -> int:
        return len(self.columns)

    @property
    def quoted_columns(self) -> list[str]:
        """The columns as SQL identifiers, for templates: extra columns are named by the file."""
        return [sql.Identifier(column).as_string() for column in self.columns]


def plan_columns(spec: ObjectSpec, fmt: CsvFormat, path: Path) -> ColumnLayout:
    """Match a file's header to the registry; a missing required column is an error."""
    aliases = {alias.lower(): column.lower() for alias, column in spec.column_aliases.items()}
    known = set(spec.bronze_columns)
    columns = tuple(aliases.get(name, name) for name in fmt.header)
    missing = [column for column in spec.required_columns if column.lower() not in columns]
    if missing:
        raise BronzeFileError(
            path,
            f"missing required column(s) {missing}; the header has {list(fmt.header)}",
            line=1,
        )
    repeated = sorted({column for column in columns if columns.count(column) > 1})
    if repeated:
        raise BronzeFileError(path, f"header names these columns more than once (aliases included): {repeated}", line=1)
    extras = tuple(column for column in columns if column not in known)
    for column in extras:
        if column in RESERVED_COLUMNS or column.startswith("_"):
            raise BronzeFileError(
                path, f"column {column!r}: names starting with '_' and 'legacy_id' are reserved", line=1
            )
        if len(column.encode()) > MAX_IDENTIFIER_BYTES:
            raise BronzeFileError(path, f"column {column!r}: longer than PostgreSQL's 63-byte names", line=1)
    return ColumnLayout(
        columns=columns,
        id_column=spec.legacy_id_column.lower(),
        deleted_column=spec.deleted_column.lower(),
        extra_columns=extras,
    )


@dataclass(frozen=True)
class LoadResult:
    object_type: str
    source_file: str
    encoding: str
    delimiter: str
    method: str  # "copy": PostgreSQL parsed the file; "parsed": record by record in Python
    rows_read: int
    rows_loaded: int
    rows_rejected: int
    rows_deleted: int
    seconds: dict[str, float] = field(default_factory=dict)  # per phase: copy, checks

    @property
    def reject_rate(self) -> float:
        return self.rows_rejected / self.rows_read if self.rows_read else 0.0

    def as_details(self) -> dict:
        return {
            "encoding": self.encoding,
            "delimiter": self.delimiter,
            "method": self.method,
            "reject_rate": self.reject_rate,
            "seconds": self.seconds,
        }


class _RecordStream:
    """Stream well-formed records to COPY in chunks; set aside the records PostgreSQL cannot take.

    A record is set aside when its field count differs from the header's, or when a field holds
    a NUL character (PostgreSQL text cannot). NULs are searched per chunk, so the common case
    costs one scan of the chunk's text.
    """

    def __init__(self, copy: psycopg.Copy, reject_file: IO[str], fmt: CsvFormat):
        self.copy, self.fmt, self.rejected, self.copied = copy, fmt, 0, 0
        self._reject_writer = csv.writer(reject_file, lineterminator="\n")
        self._chunk: list[list[str | int]] = []

    def add(self, line: int, fields: list[str]) -> None:
        if len(fields) == len(self.fmt.header):
            self._chunk.append([line, *fields])
            if len(self._chunk) >= COPY_CHUNK_ROWS:
                self.flush()
        else:
            self._reject(line, None, f"expected {len(self.fmt.header)} fields, found {len(fields)}", fields)

    def flush(self) -> None:
        rows = self._chunk
        text = self._serialise(rows)
        if "\x00" in text:
            rows = []
            for line, *fields in self._chunk:
                bad = [name for name, value in zip(self.fmt.header, fields, strict=True) if "\x00" in value]
                if bad:
                    self._reject(line, bad[0], "NUL character in field", fields)
                else:
                    rows.append([line, *fields])
            text = self._serialise(rows)
        if text:
            self.copy.write(text)
        self.copied += len(rows)
        self._chunk = []

    def _reject(self, line: int, field: str | None, reason: str, fields: list[str]) -> None:
        self.rejected += 1
        raw = format_record(fields, self.fmt.delimiter).replace("\x00", "\\0")
        self._reject_writer.writerow([line, field, reason, raw])

    @staticmethod
    def _serialise(rows: list[list[str | int]]) -> str:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(rows)
        return buffer.getvalue()


class _LineCounter:
    """Count physical lines the way Python's csv module does (\\n, \\r\\n and a lone \\r each end one)."""

    def __init__(self) -> None:
        self.terminators, self._last = 0, b""

    def feed(self, chunk: bytes) -> None:
        crlf = chunk.count(b"\r\n") + (self._last == b"\r" and chunk[:1] == b"\n")
        self.terminators += chunk.count(b"\n") + chunk.count(b"\r") - crlf
        self._last = chunk[-1:]

    @property
    def lines(self) -> int:
        return self.terminators + (self._last not in (b"", b"\n", b"\r"))


class BronzeLoader:
    """Load ``Bronze_<Table>.csv`` of one object type into its bronze table."""

    def __init__(self, connection: psycopg.Connection, spec: ObjectSpec):
        self.connection, self.spec = connection, spec

    def load(
        self,
        path: Path,
        *,
        snapshot_date: date,
        run_id: str,
        limit: int | None = None,
        max_reject_rate: float = 0.05,
    ) -> LoadResult:
        fmt = sniff(path)
        layout = plan_columns(self.spec, fmt, path)
        log.info(
            "Reading %s (%s, delimiter %r, %d columns, %d not in the registry: %s)",
            path,
            fmt.encoding,
            fmt.delimiter,
            layout.width,
            len(layout.extra_columns),
            ", ".join(layout.extra_columns) or "-",
        )
        binds = {
            "object_type": self.spec.name,
            "snapshot_date": snapshot_date,
            "run_id": run_id,
            "source_file": str(path),
            "id_column": self.spec.legacy_id_column,
            "delimiter": fmt.delimiter,
        }
        try:
            with self.connection.cursor() as cursor:
                lock_object(cursor, self.spec.name)
                cursor.execute(
                    "select set_config('crm_recon.source_file', %(source_file)s, true),"
                    " set_config('crm_recon.snapshot_date', %(snapshot_date)s::text, true),"
                    " set_config('crm_recon.run_id', %(run_id)s, true)",
                    binds,
                )
                cursor.execute(
                    sql.SQL(
                        "create temp table {} (_line bigint, field text, reason text, raw_text text) on commit drop"
                    ).format(sql.Identifier(PARSE_REJECTS))
                )
                cursor.execute("savepoint bronze_snapshot")
                started = time.perf_counter()
                method, copied = self._copy(cursor, path, fmt, layout, limit)
                copy_done = time.perf_counter()
                self._execute(cursor, "load/flag_records.sql", layout, binds)
                self._execute(cursor, "load/record_rejects.sql", layout, binds)
                result = self._count(cursor, path, fmt, method, copied)
                if result.reject_rate > max_reject_rate:
                    self._keep_only_rejects(cursor, snapshot_date)
                else:
                    self._execute(cursor, "load/apply_flags.sql", layout, binds)
            self.connection.commit()
            result.seconds.update(
                copy=round(copy_done - started, 3), checks_and_commit=round(time.perf_counter() - copy_done, 3)
            )
        except BaseException:
            self.connection.rollback()
            raise
        if result.reject_rate > max_reject_rate:
            look = (
                "select line_number, field, reason, raw_text from staging.bronze_rejects "  # noqa: S608 - for the reader
                f"where object_type = '{self.spec.name}' and snapshot_date = '{snapshot_date}' order by line_number"
            )
            raise RejectRateExceeded(
                f"{path}: {result.rows_rejected} of {result.rows_read} rows rejected ({result.reject_rate:.1%}), "
                f"above max_reject_rate {max_reject_rate:.1%}; the previous bronze.{self.spec.bronze_table} "
                f"snapshot was kept. The rejected rows and their reasons: {look};"
            )
        return result

    def _table(self) -> sql.Identifier:
        return sql.Identifier("bronze", self.spec.bronze_table)

    def _replace_rows(self, cursor: psycopg.Cursor, layout: ColumnLayout) -> None:
        """Empty the bronze table (numbering restarts) and give it the file's extra columns."""
        cursor.execute(sql.SQL("truncate {} restart identity").format(self._table()))
        for column in layout.extra_columns:
            cursor.execute(
                sql.SQL("alter table {} add column if not exists {} text").format(self._table(), sql.Identifier(column))
            )

    def _copy(
        self, cursor: psycopg.Cursor, path: Path, fmt: CsvFormat, layout: ColumnLayout, limit: int | None
    ) -> tuple[str, int]:
        """Fill the bronze table: COPY parses the file when it can, else Python does, record by record."""
        if limit is None:
            cursor.execute("savepoint bronze_copy")
            try:
                copied = self._copy_file(cursor, path, fmt, layout)
            except psycopg.errors.DataError as error:
                cursor.execute("rollback to savepoint bronze_copy")
                log.info(
                    "COPY could not read %s as it is (%s); reading it record by record",
                    path,
                    error.diag.message_primary,
                )
            else:
                if copied is not None:
                    return "copy", copied
                cursor.execute("rollback to savepoint bronze_copy")
                log.info("%s has blank lines: reading it record by record to number lines as Python does", path)
        return "parsed", self._copy_records(cursor, path, fmt, layout, limit)

    def _copy_file(self, cursor: psycopg.Cursor, path: Path, fmt: CsvFormat, layout: ColumnLayout) -> int | None:
        """COPY the file's bytes; None when its records could not be given their physical line numbers."""
        self._replace_rows(cursor, layout)
        columns = sql.SQL(", ").join(sql.Identifier(column) for column in layout.columns)
        statement = sql.SQL(
            "copy {table} ({columns}) from stdin (format csv, header true, delimiter {delimiter},"
            " encoding {encoding}, force_null ({columns}), freeze true)"
        ).format(
            table=self._table(),
            columns=columns,
            delimiter=sql.Literal(fmt.delimiter),
            encoding=sql.Literal(POSTGRES_ENCODINGS[fmt.encoding]),
        )
        counter = _LineCounter()
        with path.open("rb") as handle, cursor.copy(statement) as copy:
            while chunk := handle.read(READ_CHUNK_BYTES):
                counter.feed(chunk)
                copy.write(chunk)
        copied = cursor.rowcount
        if counter.lines == copied + 1:
            return copied  # one line per record: _source_line, counted from 2, is right
        numbered = self._execute(cursor, "load/number_lines.sql", layout)
        return copied if numbered["last_line"] == counter.lines else None

    def _copy_records(
        self, cursor: psycopg.Cursor, path: Path, fmt: CsvFormat, layout: ColumnLayout, limit: int | None
    ) -> int:
        """Parse record by record; COPY the well-formed ones, set aside those PostgreSQL cannot take."""
        self._replace_rows(cursor, layout)
        columns = [sql.Identifier("_source_line")] + [sql.Identifier(column) for column in layout.columns]
        copy_records = sql.SQL("copy {} ({}) from stdin (format csv)").format(
            self._table(), sql.SQL(", ").join(columns)
        )
        with tempfile.TemporaryFile("w+", encoding="utf-8", newline="") as reject_file:
            with cursor.copy(copy_records) as copy:
                stream = _RecordStream(copy, reject_file, fmt)
                for count, (line, fields) in enumerate(iter_records(path, fmt), start=1):
                    if limit is not None and count > limit:
                        break
                    stream.add(line, fields)
                stream.flush()
            reject_file.seek(0)
            copy_rejects = sql.SQL("copy {} from stdin (format csv)").format(sql.Identifier(PARSE_REJECTS))
            with cursor.copy(copy_rejects) as copy:
                while chunk := reject_file.read(READ_CHUNK_BYTES):
                    copy.write(chunk)
        return stream.copied

    def _keep_only_rejects(self, cursor: psycopg.Cursor, snapshot_date: date) -> None:
        """Undo the new snapshot but keep its rejects, so that the user can see why it was refused."""
        columns = "object_type, snapshot_date, run_id, source_file, line_number, field, reason, raw_text, rejected_at"
        which = {"object_type": self.spec.name, "snapshot_date": snapshot_date}
        with tempfile.TemporaryFile("w+b") as saved:
            with cursor.copy(
                f"copy (select {columns} from staging.bronze_rejects"  # noqa: S608 - constant column list
                " where object_type = %(object_type)s and snapshot_date = %(snapshot_date)s) to stdout",
                which,
            ) as copy:
                for data in copy:
                    saved.write(data)
            cursor.execute("rollback to savepoint bronze_snapshot")
            cursor.execute(
                "delete from staging.bronze_rejects where object_type = %(object_type)s"
                " and snapshot_date = %(snapshot_date)s",
                which,
            )
            saved.seek(0)
            with cursor.copy(f"copy staging.bronze_rejects ({columns}) from stdin") as copy:
                while chunk := saved.read(READ_CHUNK_BYTES):
                    copy.write(chunk)

    def _count(self, cursor: psycopg.Cursor, path: Path, fmt: CsvFormat, method: str, copied: int) -> LoadResult:
        cursor.execute(
            sql.SQL(
                "select"
                " (select count(*) from {parse_rejects}),"
                " count(*) filter (where rejected),"
                " count(*) filter (where is_deleted and not rejected)"
                " from _bronze_flags"
            ).format(parse_rejects=sql.Identifier(PARSE_REJECTS))
        )
        parse_rejects, flagged_rejects, deleted = cursor.fetchone()
        return LoadResult(
            object_type=self.spec.name,
            source_file=str(path),
            encoding=fmt.encoding,
            delimiter=fmt.delimiter,
            method=method,
            rows_read=copied + parse_rejects,
            rows_loaded=copied - flagged_rejects,
            rows_rejected=flagged_rejects + parse_rejects,
            rows_deleted=deleted,
        )

    def _execute(
        self, cursor: psycopg.Cursor, template: str, layout: ColumnLayout, binds: dict | None = None
    ) -> dict | None:
        """Render a ``load/`` template for this object and this file's layout, and run it."""
        context = {"object": self.spec.template_params(), "layout": layout}
        return execute_script(cursor, render(template, **context), binds)
