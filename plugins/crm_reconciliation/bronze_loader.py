"""Stream one legacy CSV export into ``bronze.<table>`` without losing a row.

Python only parses the file (the csv module, record by record) and streams it to
PostgreSQL with COPY; everything set-based — id parsing, duplicate detection, the
soft-delete flag, the swap of snapshots — runs as SQL in one transaction, so a failed load
leaves the previous snapshot in place.
"""

from __future__ import annotations

import csv
import io
import logging
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import IO, TYPE_CHECKING

from psycopg import sql

from crm_reconciliation.csv_dialect import BronzeFileError, CsvFormat, format_record, iter_records, sniff
from crm_reconciliation.locks import lock_object
from crm_reconciliation.sql_templates import execute_script, render

if TYPE_CHECKING:
    import psycopg

    from crm_reconciliation.registry import ObjectSpec

log = logging.getLogger(__name__)

COPY_CHUNK_ROWS = 5_000
INCOMING = "_bronze_incoming"
PARSE_REJECTS = "_bronze_parse_rejects"


class RejectRateExceeded(RuntimeError):
    """Too many rows were rejected: the previous snapshot is kept, the rejects are saved."""


@dataclass(frozen=True)
class KnownColumn:
    name: str
    position: int | None  # 1-based position in the file, None when the file lacks it


@dataclass(frozen=True)
class ColumnLayout:
    """Where each bronze column sits in one particular file."""

    width: int
    id_position: int
    deleted_position: int
    known: tuple[KnownColumn, ...]
    extra_keys: tuple[str, ...]
    extra_positions: tuple[int, ...]

    @property
    def all_positions(self) -> range:
        return range(1, self.width + 1)


def plan_columns(spec: ObjectSpec, fmt: CsvFormat, path: Path) -> ColumnLayout:
    """Match a file's header to the registry; a missing required column is an error."""
    aliases = {alias.lower(): column.lower() for alias, column in spec.column_aliases.items()}
    positions: dict[str, int] = {}
    extras: list[tuple[str, int]] = []
    bronze_columns = set(spec.bronze_columns)
    for index, raw_name in enumerate(fmt.header, start=1):
        name = aliases.get(raw_name, raw_name)
        if name in bronze_columns and name not in positions:
            positions[name] = index
        else:
            extras.append((raw_name, index))
    missing = [column for column in spec.required_columns if column.lower() not in positions]
    if missing:
        raise BronzeFileError(
            path,
            f"missing required column(s) {missing}; the header has {list(fmt.header)}",
            line=1,
        )
    id_column, deleted_column = spec.legacy_id_column.lower(), spec.deleted_column.lower()
    return ColumnLayout(
        width=len(fmt.header),
        id_position=positions[id_column],
        deleted_position=positions[deleted_column],
        known=tuple(
            KnownColumn(column, positions.get(column)) for column in spec.bronze_columns if column != id_column
        ),
        extra_keys=tuple(name for name, _ in extras),
        extra_positions=tuple(position for _, position in extras),
    )


@dataclass(frozen=True)
class LoadResult:
    object_type: str
    source_file: str
    encoding: str
    delimiter: str
    rows_read: int
    rows_loaded: int
    rows_rejected: int
    rows_deleted: int
    replaced: bool

    @property
    def reject_rate(self) -> float:
        return self.rows_rejected / self.rows_read if self.rows_read else 0.0

    def as_details(self) -> dict:
        return {"encoding": self.encoding, "delimiter": self.delimiter, "reject_rate": self.reject_rate}


class _RecordStream:
    """Stream well-formed records to COPY in chunks; set aside the records PostgreSQL cannot take.

    A record is set aside when its field count differs from the header's, or when a field holds
    a NUL character (PostgreSQL text cannot). NULs are searched per chunk, so the common case
    costs one scan of the chunk's text.
    """

    def __init__(self, copy: psycopg.Copy, reject_file: IO[str], fmt: CsvFormat):
        self.copy, self.fmt, self.rejected = copy, fmt, 0
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
        text = self._serialise(self._chunk)
        if "\x00" in text:
            clean = []
            for line, *fields in self._chunk:
                bad = [name for name, value in zip(self.fmt.header, fields, strict=True) if "\x00" in value]
                if bad:
                    self._reject(line, bad[0], "NUL character in field", fields)
                else:
                    clean.append([line, *fields])
            text = self._serialise(clean)
        if text:
            self.copy.write(text)
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
            "Reading %s (%s, delimiter %r, %d columns, %d not in the registry kept in _extra)",
            path,
            fmt.encoding,
            fmt.delimiter,
            layout.width,
            len(layout.extra_keys),
        )
        binds = {
            "object_type": self.spec.name,
            "snapshot_date": snapshot_date,
            "run_id": run_id,
            "source_file": str(path),
            "id_column": self.spec.legacy_id_column,
            "delimiter": fmt.delimiter,
            "extra_keys": list(layout.extra_keys),
        }
        context = {"object": self.spec.template_params(), "layout": layout}
        try:
            with self.connection.cursor() as cursor:
                lock_object(cursor, self.spec.name)
                parse_rejects = self._stream(cursor, path, fmt, layout, limit)
                self._execute(cursor, "load/classify_incoming.sql", context, binds)
                self._execute(cursor, "load/record_rejects.sql", context, binds)
                result = self._count(cursor, path, fmt, parse_rejects)
                over_limit = result.reject_rate > max_reject_rate
                if not over_limit:
                    self._execute(cursor, "load/replace_snapshot.sql", context, binds)
            self.connection.commit()
        except BaseException:
            self.connection.rollback()
            raise
        if over_limit:
            look = (
                "select line_number, field, reason, raw_text from staging.bronze_rejects "  # noqa: S608 - for the reader
                f"where object_type = '{self.spec.name}' and snapshot_date = '{snapshot_date}' order by line_number"
            )
            raise RejectRateExceeded(
                f"{path}: {result.rows_rejected} of {result.rows_read} rows rejected ({result.reject_rate:.1%}), "
                f"above max_reject_rate {max_reject_rate:.1%}; the previous bronze.{self.spec.bronze_table} "
                f"snapshot was kept. The rejected rows and their reasons: {look};"
            )
        return LoadResult(**{**result.__dict__, "replaced": True})

    def _stream(
        self, cursor: psycopg.Cursor, path: Path, fmt: CsvFormat, layout: ColumnLayout, limit: int | None
    ) -> int:
        """COPY well-formed records into a temp table; set aside those with a wrong field count."""
        columns = [sql.Identifier("_line")] + [sql.Identifier(f"c{p}") for p in layout.all_positions]
        cursor.execute(
            sql.SQL("create temp table {} (_line integer, {}) on commit drop").format(
                sql.Identifier(INCOMING),
                sql.SQL(", ").join(sql.SQL("{} text").format(c) for c in columns[1:]),
            )
        )
        cursor.execute(
            sql.SQL(
                "create temp table {} (_line integer, field text, reason text, raw_text text) on commit drop"
            ).format(sql.Identifier(PARSE_REJECTS))
        )
        copy_incoming = sql.SQL("copy {} ({}) from stdin (format csv)").format(
            sql.Identifier(INCOMING), sql.SQL(", ").join(columns)
        )
        with tempfile.TemporaryFile("w+", encoding="utf-8", newline="") as reject_file:
            with cursor.copy(copy_incoming) as copy:
                stream = _RecordStream(copy, reject_file, fmt)
                for count, (line, fields) in enumerate(iter_records(path, fmt), start=1):
                    if limit is not None and count > limit:
                        break
                    stream.add(line, fields)
                stream.flush()
            reject_file.seek(0)
            copy_rejects = sql.SQL("copy {} from stdin (format csv)").format(sql.Identifier(PARSE_REJECTS))
            with cursor.copy(copy_rejects) as copy:
                while chunk := reject_file.read(1 << 20):
                    copy.write(chunk)
        return stream.rejected

    def _count(self, cursor: psycopg.Cursor, path: Path, fmt: CsvFormat, parse_rejects: int) -> LoadResult:
        cursor.execute(
            sql.SQL(
                "select count(*),"
                " count(*) filter (where id_problem is null and id_rank = 1),"
                " count(*) filter (where id_problem is null and id_rank = 1 and is_deleted)"
                " from {}"
            ).format(sql.Identifier("_bronze_classified"))
        )
        well_formed, loaded, deleted = cursor.fetchone()
        return LoadResult(
            object_type=self.spec.name,
            source_file=str(path),
            encoding=fmt.encoding,
            delimiter=fmt.delimiter,
            rows_read=well_formed + parse_rejects,
            rows_loaded=loaded,
            rows_rejected=well_formed - loaded + parse_rejects,
            rows_deleted=deleted,
            replaced=False,
        )

    @staticmethod
    def _execute(cursor: psycopg.Cursor, template: str, context: dict, binds: dict) -> None:
        execute_script(cursor, render(template, **context), binds)
