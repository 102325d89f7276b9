"""Load one legacy CSV export into ``bronze.<table>`` without losing a row.

Fast path: PostgreSQL's COPY reads the file's bytes itself (CSV parsing, encoding conversion)
straight into the bronze table; Python only streams them and counts line ends and quotes.
COPY's reading is then proven against the export's own rules (``csv_dialect.iter_records``):
a file without quotes must have one record per line, a file with quotes is read once more by
Python and must give the same records, characters and quotes. When COPY refuses the file or
reads it differently (a bare quote, a wrong field count, a NUL, a byte the encoding lacks, a
UTF-16 or a partly Windows-1252 file), the load starts again record by record: Python reads
the records, sets the malformed ones aside with their line and field, and COPY takes the
rest. Either way the checks that need the whole snapshot — unusable and duplicate ids,
soft-delete flags, how many live records it drops — run as SQL afterwards, the records in the
table plus the rejects must add up to the records in the file, and everything happens in one
transaction, so a failed load leaves the previous snapshot in place.
"""

from __future__ import annotations

import csv
import io
import logging
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import IO, TYPE_CHECKING

import psycopg
from psycopg import sql

from crm_reconciliation.common.csv_dialect import (
    BronzeFileError,
    CsvFormat,
    Record,
    export_totals,
    format_record,
    iter_records,
    sniff,
)
from crm_reconciliation.common.locks import lock_object
from crm_reconciliation.common.sql_templates import execute_script, render

if TYPE_CHECKING:
    from crm_reconciliation.common.registry import ObjectSpec

log = logging.getLogger(__name__)

COPY_CHUNK_ROWS = 5_000
READ_CHUNK_BYTES = 1 << 20
PARSE_REJECTS = "_bronze_parse_rejects"
POSTGRES_ENCODINGS = {"utf-8": "UTF8", "utf-8-sig": "UTF8", "cp1252": "WIN1252"}
# Bronze columns the loader owns; a file column may not take these names.
RESERVED_COLUMNS = ("legacy_id", "_is_deleted", "_source_line", "_source_file", "_snapshot_date", "_run_id")
MAX_IDENTIFIER_BYTES = 63


class SnapshotRefused(RuntimeError):
    """The new snapshot is not taken: the previous one is kept, the rejects are saved."""


class RejectRateExceeded(SnapshotRefused):
    """Too many rows were rejected."""


class SnapshotDropRefused(SnapshotRefused):
    """The new snapshot would drop too many of the previous one's live records."""


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

    @property
    def bound_columns(self) -> list[str]:
        """The same for statements with bound values, where the driver reads ``%`` as a placeholder."""
        return [column.replace("%", "%%") for column in self.quoted_columns]


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
    rows_repaired: int = 0
    previous_live: int = 0
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
            "rows_repaired": self.rows_repaired,
            "previous_live": self.previous_live,
            "seconds": self.seconds,
        }


class _RecordStream:
    """Stream well-formed records to COPY in chunks; set aside the records PostgreSQL cannot take.

    A record is set aside when the reader found it malformed, when its field count differs
    from the header's, or when a field holds a NUL character (PostgreSQL text cannot). NULs
    are searched per chunk, so the common case costs one scan of the chunk's text. Repaired
    records are loaded and listed beside the rejects.
    """

    def __init__(self, copy: psycopg.Copy, reject_file: IO[str], fmt: CsvFormat):
        self.copy, self.fmt, self.rejected, self.copied, self.repaired = copy, fmt, 0, 0, 0
        self._reject_writer = csv.writer(reject_file, lineterminator="\n")
        self._chunk: list[list[str | int]] = []

    def add(self, record: Record) -> None:
        line, fields = record.line, record.fields
        if record.reject:
            self._reject(line, record.field, record.reject, fields)
        elif len(fields) != len(self.fmt.header):
            self._reject(line, None, f"expected {len(self.fmt.header)} fields, found {len(fields)}", fields)
        else:
            if record.repaired:
                self.repaired += 1
                self._reject(line, record.field, record.repaired, fields, repaired=True)
            self._chunk.append([line, *fields])
            if len(self._chunk) >= COPY_CHUNK_ROWS:
                self.flush()

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

    def _reject(self, line: int, field: str | None, reason: str, fields: list[str], repaired: bool = False) -> None:
        self.rejected += not repaired
        raw = format_record(fields, self.fmt.delimiter).replace("\x00", "\\0")
        self._reject_writer.writerow([line, field, reason, raw, "repaired" if repaired else "rejected"])

    @staticmethod
    def _serialise(rows: list[list[str | int]]) -> str:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(rows)
        return buffer.getvalue()


class _ByteScan:
    """Count physical lines the way Python's csv module does (\\n, \\r\\n and a lone \\r each end
    one), and quote characters: a file without quotes is one record per line."""

    def __init__(self) -> None:
        self.terminators, self.quotes, self._last = 0, 0, b""

    def feed(self, chunk: bytes) -> None:
        crlf = chunk.count(b"\r\n") + (self._last == b"\r" and chunk[:1] == b"\n")
        self.terminators += chunk.count(b"\n") + chunk.count(b"\r") - crlf
        self.quotes += chunk.count(b'"')
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
        max_drop_rate: float | None = None,
    ) -> LoadResult:
        """Replace the object's snapshot with ``path``'s records, or keep the previous one and raise.

        ``max_drop_rate``: the share of the previous snapshot's live records the new one may
        drop (None: no limit); above it ``SnapshotDropRefused`` is raised.
        """
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
            "deleted_column": self.spec.deleted_column,
            "delimiter": fmt.delimiter,
            **self.spec.deleted_flag.binds(),
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
                        "create temp table {} (_line bigint, field text, reason text, raw_text text, outcome text)"
                        " on commit drop"
                    ).format(sql.Identifier(PARSE_REJECTS))
                )
                previous_live = cursor.execute(
                    sql.SQL("select count(*) from {} where not _is_deleted").format(self._table())
                ).fetchone()[0]
                cursor.execute("savepoint bronze_snapshot")
                started = time.perf_counter()
                method, records = self._copy(cursor, path, fmt, layout, limit)
                copy_done = time.perf_counter()
                self._execute(cursor, "load/flag_records.sql", layout, binds)
                self._execute(cursor, "load/record_rejects.sql", layout, binds)
                result = self._count(cursor, path, fmt, method, records, previous_live)
                refusal = self._refusal(result, snapshot_date, limit, max_reject_rate, max_drop_rate)
                if refusal:
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
        if refusal:
            raise refusal
        self._warn_if_suspicious(result)
        return result

    def _refusal(
        self,
        result: LoadResult,
        snapshot_date: date,
        limit: int | None,
        max_reject_rate: float,
        max_drop_rate: float | None,
    ) -> SnapshotRefused | None:
        """Why the new snapshot must not replace the previous one, if it must not."""
        table, path = f"bronze.{self.spec.bronze_table}", result.source_file
        if result.reject_rate > max_reject_rate:
            look = (
                "select line_number, field, reason, raw_text from staging.bronze_rejects "  # noqa: S608 - for the reader
                f"where object_type = '{self.spec.name}' and snapshot_date = '{snapshot_date}' order by line_number"
            )
            return RejectRateExceeded(
                f"{path}: {result.rows_rejected} of {result.rows_read} rows rejected ({result.reject_rate:.1%}), "
                f"above max_reject_rate {max_reject_rate:.1%}; the previous {table} snapshot was kept. "
                f"The rejected rows and their reasons: {look};"
            )
        expected = min(result.previous_live, limit) if limit else result.previous_live
        live = result.rows_loaded - result.rows_deleted
        if max_drop_rate is None or expected == 0 or expected - live <= max_drop_rate * expected:
            return None
        return SnapshotDropRefused(
            f"{path}: the new snapshot has {live} live records where the previous {table} had "
            f"{result.previous_live}: it would drop {expected - live} ({(expected - live) / expected:.1%}), above "
            f"max_drop_rate {max_drop_rate:.0%} (read {result.rows_read}, loaded {result.rows_loaded}, of which "
            f"soft-deleted {result.rows_deleted}, rejected {result.rows_rejected}). The previous snapshot was kept. "
            "If the export really is this small, run once with the param allow_snapshot_drop set to true, or raise "
            "max_drop_rate in include/config/objects.yaml."
        )

    def _warn_if_suspicious(self, result: LoadResult) -> None:
        if result.rows_read == 0:
            log.warning(
                "%s holds no records at all: bronze.%s is now empty", result.source_file, self.spec.bronze_table
            )
        elif result.rows_loaded and result.rows_deleted == result.rows_loaded:
            log.warning(
                "EVERY ROW of %s is marked soft-deleted (%d of %d, column %s): nothing of it is live. If the export "
                "writes a value such as 0 or N for live rows, set deleted_flag of object %s in objects.yaml.",
                result.source_file,
                result.rows_deleted,
                result.rows_loaded,
                self.spec.deleted_column,
                self.spec.name,
            )
        if result.rows_repaired:
            log.warning(
                "%d record(s) of %s held Windows-1252 bytes in a UTF-8 file: read as Windows-1252 and loaded; "
                "listed in staging.bronze_rejects with outcome 'repaired'",
                result.rows_repaired,
                result.source_file,
            )

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
        """Fill the bronze table: COPY parses the file when it reads it as the export means it, else
        Python does, record by record. Returns the method and the number of records in the file."""
        if limit is None and fmt.encoding in POSTGRES_ENCODINGS:
            cursor.execute("savepoint bronze_copy")
            try:
                records = self._copy_file(cursor, path, fmt, layout)
            except psycopg.errors.DataError as error:
                cursor.execute("rollback to savepoint bronze_copy")
                log.info(
                    "COPY could not read %s as it is (%s); reading it record by record",
                    path,
                    error.diag.message_primary,
                )
            else:
                if records is not None:
                    return "copy", records
                cursor.execute("rollback to savepoint bronze_copy")
        elif limit is None:
            log.info("%s is %s, which COPY cannot read as such: reading it record by record", path, fmt.encoding)
        return "parsed", self._copy_records(cursor, path, fmt, layout, limit)

    def _copy_file(self, cursor: psycopg.Cursor, path: Path, fmt: CsvFormat, layout: ColumnLayout) -> int | None:
        """COPY the file's bytes; None when COPY's reading cannot be proven to be the export's."""
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
        scan, totals = _ByteScan(), None
        # A file with quotes is read by Python too, in a thread beside the COPY (which waits on
        # the server most of the time), from the first chunk that holds a quote.
        with ThreadPoolExecutor(max_workers=1) as reader:
            with path.open("rb") as handle, cursor.copy(statement) as copy:
                while chunk := handle.read(READ_CHUNK_BYTES):
                    scan.feed(chunk)
                    if totals is None and scan.quotes:
                        totals = reader.submit(export_totals, path, fmt, self.spec.legacy_id_column)
                    copy.write(chunk)
            copied = cursor.rowcount
            if totals is None:
                if scan.lines == copied + 1:
                    return copied  # no quote: a record is a line, _source_line (counted from 2) is right
                log.info("%s has blank lines: reading it record by record to number lines as Python does", path)
                return None
            found = self._execute(cursor, "load/copy_totals.sql", layout)
            expected = totals.result()
        if expected != (found["records"], found["chars"], found["quotes"]):
            log.warning(
                "COPY read %s differently from the export's CSV rules (records, characters, quotes: COPY %s, "
                "export %s; a bare quote in an unquoted field, or a malformed record): reading it record by record",
                path,
                (found["records"], found["chars"], found["quotes"]),
                expected or "a malformed record",
            )
            return None
        if scan.lines == copied + 1:
            return copied
        numbered = self._execute(cursor, "load/number_lines.sql", layout)
        return copied if numbered["last_line"] == scan.lines else None

    def _copy_records(
        self, cursor: psycopg.Cursor, path: Path, fmt: CsvFormat, layout: ColumnLayout, limit: int | None
    ) -> int:
        """Read record by record; COPY the well-formed ones, set aside those PostgreSQL cannot take."""
        self._replace_rows(cursor, layout)
        columns = [sql.Identifier("_source_line")] + [sql.Identifier(column) for column in layout.columns]
        copy_records = sql.SQL("copy {} ({}) from stdin (format csv)").format(
            self._table(), sql.SQL(", ").join(columns)
        )
        records = 0
        with tempfile.TemporaryFile("w+", encoding="utf-8", newline="") as reject_file:
            with cursor.copy(copy_records) as copy:
                stream = _RecordStream(copy, reject_file, fmt)
                for record in iter_records(path, fmt, self.spec.legacy_id_column):
                    if limit is not None and records >= limit:
                        break
                    records += 1
                    stream.add(record)
                stream.flush()
            reject_file.seek(0)
            copy_rejects = sql.SQL("copy {} from stdin (format csv)").format(sql.Identifier(PARSE_REJECTS))
            with cursor.copy(copy_rejects) as copy:
                while chunk := reject_file.read(READ_CHUNK_BYTES):
                    copy.write(chunk)
        return records

    def _keep_only_rejects(self, cursor: psycopg.Cursor, snapshot_date: date) -> None:
        """Undo the new snapshot but keep its rejects, so that the user can see why it was refused."""
        columns = (
            "object_type, snapshot_date, run_id, source_file, line_number, field, reason, raw_text, outcome,"
            " rejected_at"
        )
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

    def _count(
        self, cursor: psycopg.Cursor, path: Path, fmt: CsvFormat, method: str, records: int, previous_live: int
    ) -> LoadResult:
        """The load's counts, proven: records in the table plus records set aside = records in the file."""
        cursor.execute(
            sql.SQL(
                "select"
                " (select count(*) from {table}),"
                " (select count(*) from {parse_rejects} where outcome = 'rejected'),"
                " (select count(*) from {parse_rejects} where outcome = 'repaired'),"
                " count(*) filter (where rejected),"
                " count(*) filter (where is_deleted and not rejected)"
                " from _bronze_flags"
            ).format(table=self._table(), parse_rejects=sql.Identifier(PARSE_REJECTS))
        )
        in_table, parse_rejects, repaired, flagged_rejects, deleted = cursor.fetchone()
        if in_table + parse_rejects != records:
            raise BronzeFileError(
                path,
                f"the file holds {records} records by its CSV rules, but {in_table} reached "
                f"bronze.{self.spec.bronze_table} and {parse_rejects} were set aside: "
                f"{records - in_table - parse_rejects} unaccounted for. Nothing was replaced.",
            )
        return LoadResult(
            object_type=self.spec.name,
            source_file=str(path),
            encoding=fmt.encoding,
            delimiter=fmt.delimiter,
            method=method,
            rows_read=records,
            rows_loaded=in_table - flagged_rejects,
            rows_rejected=flagged_rejects + parse_rejects,
            rows_deleted=deleted,
            rows_repaired=repaired,
            previous_live=previous_live,
        )

    def _execute(
        self, cursor: psycopg.Cursor, template: str, layout: ColumnLayout, binds: dict | None = None
    ) -> dict | None:
        """Render a ``load/`` template for this object and this file's layout, and run it."""
        context = {"object": self.spec.template_params(), "layout": layout}
        return execute_script(cursor, render(template, **context), binds)
