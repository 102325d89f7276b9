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

The file is a local path or an object in object storage (``load.source``): every reading of it
opens it afresh through ``open_export`` and streams it, so both take the same path.
"""

from __future__ import annotations

import csv
import io
import logging
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from typing import IO, TYPE_CHECKING

from crm_reconciliation.common.sql_templates import quote_identifier, render
from crm_reconciliation.hooks.warehouse import DataError
from crm_reconciliation.load.dialect import (
    BronzeFileError,
    CsvFormat,
    Record,
    export_totals,
    format_record,
    iter_records,
    preamble_size,
    repair_note,
    sniff,
)
from crm_reconciliation.load.source import export_path, open_export

if TYPE_CHECKING:
    from crm_reconciliation.config.registry import ObjectSpec
    from crm_reconciliation.hooks.warehouse import WarehouseHook, WarehouseSession
    from crm_reconciliation.load.source import ExportPath

log = logging.getLogger(__name__)

COPY_CHUNK_ROWS = 5_000
READ_CHUNK_BYTES = 1 << 20
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


class MissingColumnsRefused(SnapshotRefused):
    """Mapped columns the previous snapshot held values in are missing from the new file's header."""

    def __init__(self, message: str, missing: list[str], held: dict[str, int]):
        super().__init__(message)
        self.missing = missing  # every mapped column the header lacks, as the registry spells them
        self.held = held  # those the previous snapshot held values in → its live records that did

    def as_details(self) -> dict:
        """What the step log keeps of the refusal, for the report."""
        return {"missing_columns": self.missing, "missing_columns_refused": self.held}


@dataclass(frozen=True)
class ColumnLayout:
    """Which bronze column each field of one particular file goes to, in file order."""

    columns: tuple[str, ...]
    id_column: str
    deleted_column: str
    extra_columns: tuple[str, ...]  # file columns the registry does not name, added as text
    missing_columns: tuple[str, ...] = ()  # mapped columns the file lacks, as the registry spells them

    @property
    def width(self) -> int:
        return len(self.columns)

    @property
    def quoted_columns(self) -> list[str]:
        """The columns as the templates' ``identifier`` filter writes them (extra columns are named by the file)."""
        return [quote_identifier(column) for column in self.columns]


def mapped_columns(spec: ObjectSpec) -> tuple[str, ...]:
    """The columns whose values become HubSpot properties (the deal status decides the stage too)."""
    columns = [mapping.source for mapping in spec.mappings]
    columns += [spec.deal_stages.status_column] if spec.deal_stages else []
    return tuple(dict.fromkeys(columns))


def plan_columns(spec: ObjectSpec, fmt: CsvFormat, path: ExportPath) -> ColumnLayout:
    """Match a file's header to the registry; a missing required column is an error, a missing
    mapped one is noted (the loader says so, and refuses it when the previous snapshot had values in it)."""
    aliases = {alias.lower(): column.lower() for alias, column in spec.column_aliases.items()}
    known = set(spec.bronze_columns)
    columns = tuple(aliases.get(name, name) for name in fmt.header)
    line = fmt.header_line
    missing = [column for column in spec.required_columns if column.lower() not in columns]
    if missing:
        raise BronzeFileError(
            path,
            f"missing required column(s) {missing}; the header has {list(fmt.header)}",
            line=line,
        )
    repeated = sorted({column for column in columns if columns.count(column) > 1})
    if repeated:
        raise BronzeFileError(
            path, f"header names these columns more than once (aliases included): {repeated}", line=line
        )
    extras = tuple(column for column in columns if column not in known)
    for column in extras:
        if column in RESERVED_COLUMNS or column.startswith("_"):
            raise BronzeFileError(
                path, f"column {column!r}: names starting with '_' and 'legacy_id' are reserved", line=line
            )
        if len(column.encode()) > MAX_IDENTIFIER_BYTES:
            raise BronzeFileError(path, f"column {column!r}: longer than PostgreSQL's 63-byte names", line=line)
    return ColumnLayout(
        columns=columns,
        id_column=spec.legacy_id_column.lower(),
        deleted_column=spec.deleted_column.lower(),
        extra_columns=extras,
        missing_columns=tuple(column for column in mapped_columns(spec) if column.lower() not in columns),
    )


def expected_layout(spec: ObjectSpec) -> ColumnLayout:
    """The layout of a file whose header is the registry's columns, in the registry's order."""
    return ColumnLayout(
        columns=tuple(spec.bronze_columns),
        id_column=spec.legacy_id_column.lower(),
        deleted_column=spec.deleted_column.lower(),
        extra_columns=(),
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
    missing_columns: tuple[str, ...] = ()  # mapped columns the file lacks: their properties are empty
    seconds: dict[str, float] = field(default_factory=dict)  # per phase: copy, checks

    @property
    def reject_rate(self) -> float:
        return self.rows_rejected / self.rows_read if self.rows_read else 0.0

    @property
    def counts(self) -> dict[str, int]:
        """The step log's row counts."""
        return {
            "rows_read": self.rows_read,
            "rows_loaded": self.rows_loaded,
            "rows_rejected": self.rows_rejected,
            "rows_deleted": self.rows_deleted,
        }

    def summary(self, bronze_table: str) -> str:
        """One line for the task log."""
        return (
            f"Loaded bronze.{bronze_table} from {self.source_file}: read {self.rows_read}, loaded {self.rows_loaded} "
            f"(of which soft-deleted {self.rows_deleted}), rejected {self.rows_rejected}"
            + (" — see staging.bronze_rejects" if self.rows_rejected else "")
        )

    def as_details(self) -> dict:
        return {
            "encoding": self.encoding,
            "delimiter": self.delimiter,
            "method": self.method,
            "reject_rate": self.reject_rate,
            "rows_repaired": self.rows_repaired,
            "previous_live": self.previous_live,
            "missing_columns": list(self.missing_columns),
            "seconds": self.seconds,
        }


class _RecordStream:
    """Turn well-formed records into COPY's chunks; set aside the records PostgreSQL cannot take.

    A record is set aside when the reader found it malformed, when its field count differs
    from the header's, or when a field holds a NUL character (PostgreSQL text cannot). NULs
    are searched per chunk, so the common case costs one scan of the chunk's text. Repaired
    records are loaded and listed beside the rejects.
    """

    def __init__(self, reject_file: IO[str], fmt: CsvFormat):
        self.fmt, self.rejected, self.copied, self.repaired = fmt, 0, 0, 0
        self._reject_writer = csv.writer(reject_file, lineterminator="\n")
        self._chunk: list[list[str | int]] = []

    def add(self, record: Record) -> str:
        """The CSV text of a full chunk for COPY once ``record`` completes one, else ''."""
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
                return self.flush()
        return ""

    def flush(self) -> str:
        """The CSV text of the records added since the last chunk (those PostgreSQL can take)."""
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
        self.copied += len(rows)
        self._chunk = []
        return text

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
    """Load ``Bronze_<Table>.csv`` of one object type into its bronze table.

    The warehouse hook gives the session, one per load: the whole load is one transaction on it
    (the object's lock first, savepoints inside). Every statement is a ``load/`` template.
    """

    def __init__(self, hook: WarehouseHook, spec: ObjectSpec):
        self.hook, self.spec = hook, spec

    def load(
        self,
        path: ExportPath,
        *,
        snapshot_date: date,
        run_id: str,
        limit: int | None = None,
        max_reject_rate: float = 0.05,
        max_drop_rate: float | None = None,
        allow_missing_columns: bool = False,
    ) -> LoadResult:
        """Replace the object's snapshot with ``path``'s records, or keep the previous one and raise.

        ``max_drop_rate``: the share of the previous snapshot's live records the new one may
        drop (None: no limit); above it ``SnapshotDropRefused`` is raised. A mapped column the
        header lacks while the previous snapshot's live records hold values in it raises
        ``MissingColumnsRefused``, unless ``allow_missing_columns``.
        """
        path = export_path(path)
        fmt = sniff(path)
        layout = plan_columns(self.spec, fmt, path)
        if layout.missing_columns:
            log.warning(
                "%s lacks mapped column(s) %s: their properties are empty for every record of this snapshot "
                "(columns of the file the registry does not name: %s)",
                path,
                ", ".join(layout.missing_columns),
                ", ".join(layout.extra_columns) or "none",
            )
        log.info(
            "Reading %s (%s, delimiter %r%s, %d columns, %d not in the registry: %s)",
            path,
            fmt.encoding,
            fmt.delimiter,
            f" set by Excel's sep= first line, the header on line {fmt.header_line}" if fmt.preamble else "",
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
        # Leaving the block commits, or rolls back if anything failed, then closes the connection.
        with self.hook.transaction(lock=self.spec.name) as session:
            self._execute(session, "load/source_settings.sql", layout, binds)
            self._execute(session, "load/parse_rejects.sql", layout)
            previous = self._execute(session, "load/previous_live.sql", layout)
            previous_live = previous["previous_live"]
            vanished = self._vanished(path, fmt, layout, previous, allow_missing_columns)
            with tempfile.TemporaryFile("w+b") as saved_rejects:
                with session.savepoint("bronze_snapshot") as snapshot:
                    started = time.perf_counter()
                    method, records = self._copy(session, path, fmt, layout, limit)
                    copy_done = time.perf_counter()
                    self._execute(session, "load/flag_records.sql", layout, binds)
                    self._execute(session, "load/record_rejects.sql", layout, binds)
                    result = self._count(session, path, fmt, layout, method, records, previous_live)
                    refusal = self._refusal(result, snapshot_date, limit, max_reject_rate, max_drop_rate, vanished)
                    if refusal:
                        # Undo the new snapshot but keep its rejects, so that the user sees why.
                        session.copy_out(self._render("load/save_rejects.sql", layout), saved_rejects, binds)
                        snapshot.rollback()
                    self._execute(session, "load/apply_flags.sql", layout, binds)
                if refusal:
                    self._execute(session, "load/forget_rejects.sql", layout, binds)
                    saved_rejects.seek(0)
                    session.copy_in(self._render("load/restore_rejects.sql", layout), saved_rejects)
        result.seconds.update(
            copy=round(copy_done - started, 3), checks_and_commit=round(time.perf_counter() - copy_done, 3)
        )
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
        vanished: MissingColumnsRefused | None,
    ) -> SnapshotRefused | None:
        """Why the new snapshot must not replace the previous one, if it must not."""
        table, path = f"bronze.{self.spec.bronze_table}", result.source_file
        if result.reject_rate > max_reject_rate:
            look = " ".join(
                render("load/show_rejects.sql", object_type=self.spec.name, snapshot_date=snapshot_date).split()
            )
            return RejectRateExceeded(
                f"{path}: {result.rows_rejected} of {result.rows_read} rows rejected ({result.reject_rate:.1%}), "
                f"above max_reject_rate {max_reject_rate:.1%}; the previous {table} snapshot was kept. "
                f"The rejected rows and their reasons: {look};"
            )
        if vanished:
            return vanished
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

    def _vanished(
        self, path: ExportPath, fmt: CsvFormat, layout: ColumnLayout, previous: dict, allow: bool
    ) -> MissingColumnsRefused | None:
        """The refusal of a header that lacks mapped columns the previous snapshot's live records hold
        values in (``previous``: previous_live.sql's counts): with this snapshot those properties
        would no longer be compared nor pushed."""
        held = {
            column: count
            for column, count in zip(layout.missing_columns, previous["previous_values"], strict=True)
            if count
        }
        if not held:
            return None
        table, counts = f"bronze.{self.spec.bronze_table}", ", ".join(f"{c} in {n}" for c, n in held.items())
        if allow:
            log.warning(
                "allow_missing_columns is on: %s replaces the previous %s snapshot although it lacks %s, which that "
                "snapshot holds values in (%s of its %d live records)",
                path,
                table,
                ", ".join(held),
                counts,
                previous["previous_live"],
            )
            return None
        return MissingColumnsRefused(
            f"{path}: the header (line {fmt.header_line}) lacks the mapped column(s) {', '.join(held)}, which the "
            f"previous {table} snapshot holds values in ({counts} of its {previous['previous_live']} live records): "
            "with this snapshot their properties would no longer be compared nor pushed, and twins found by them "
            "would turn new. The previous snapshot was kept. Columns of the file "
            f"the registry does not name: {', '.join(layout.extra_columns) or 'none'}. If a column was renamed, name "
            "it as before in the export or add the new name to column_aliases in include/config/objects.yaml; if the "
            "columns really are gone, run once with the param allow_missing_columns set to true.",
            list(layout.missing_columns),
            held,
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
                "%d record(s) of %s %s and loaded; listed in staging.bronze_rejects with outcome 'repaired'",
                result.rows_repaired,
                result.source_file,
                repair_note(result.encoding),
            )

    def _copy(
        self, session: WarehouseSession, path: ExportPath, fmt: CsvFormat, layout: ColumnLayout, limit: int | None
    ) -> tuple[str, int]:
        """Fill the bronze table: COPY parses the file when it reads it as the export means it, else
        Python does, record by record. Returns the method and the number of records in the file."""
        if limit is None and fmt.encoding in POSTGRES_ENCODINGS:
            try:
                with session.savepoint("bronze_copy") as attempt:
                    records = self._copy_file(session, path, fmt, layout)
                    if records is None:
                        attempt.rollback()
            except DataError as error:  # rolled back to the savepoint
                log.info(
                    "COPY could not read %s as it is (%s); reading it record by record",
                    path,
                    error.diag.message_primary,
                )
            else:
                if records is not None:
                    return "copy", records
        elif limit is None:
            log.info("%s is %s, which COPY cannot read as such: reading it record by record", path, fmt.encoding)
        return "parsed", self._copy_records(session, path, fmt, layout, limit)

    def _copy_file(
        self, session: WarehouseSession, path: ExportPath, fmt: CsvFormat, layout: ColumnLayout
    ) -> int | None:
        """COPY the file's bytes from its header on (COPY skips one header line, not Excel's ``sep=``
        line before it); None when COPY's reading cannot be proven to be the export's."""
        self._execute(session, "load/replace_rows.sql", layout)
        if fmt.preamble:
            self._execute(session, "load/first_line.sql", layout, {"first_line": fmt.header_line + 1})
        statement = self._render(
            "load/copy_file.sql", layout, delimiter=fmt.delimiter, encoding=POSTGRES_ENCODINGS[fmt.encoding]
        )
        scan, totals = _ByteScan(), None
        # A file with quotes is read by Python too, in a thread beside the COPY (which waits on
        # the server most of the time), from the first chunk that holds a quote.
        with ThreadPoolExecutor(max_workers=1) as reader:

            def chunks(handle: IO[bytes]) -> Iterator[bytes]:
                nonlocal totals
                while chunk := handle.read(READ_CHUNK_BYTES):
                    scan.feed(chunk)
                    if totals is None and scan.quotes:
                        totals = reader.submit(export_totals, path, fmt, self.spec.legacy_id_column)
                    yield chunk

            with open_export(path) as handle:
                handle.seek(preamble_size(path, fmt))
                copied = session.copy_in(statement, chunks(handle))
            if totals is None:
                if scan.lines == copied + 1:
                    return copied  # no quote: a record is a line, _source_line is right (replace_rows.sql)
                log.info("%s has blank lines: reading it record by record to number lines as Python does", path)
                return None
            found = self._execute(session, "load/copy_totals.sql", layout)
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
        numbered = self._execute(session, "load/number_lines.sql", layout)
        return copied if numbered["last_line"] == scan.lines + fmt.preamble else None

    def _copy_records(
        self, session: WarehouseSession, path: ExportPath, fmt: CsvFormat, layout: ColumnLayout, limit: int | None
    ) -> int:
        """Read record by record; COPY the well-formed ones, set aside those PostgreSQL cannot take."""
        self._execute(session, "load/replace_rows.sql", layout)
        records = 0
        with tempfile.TemporaryFile("w+", encoding="utf-8", newline="") as reject_file:
            stream = _RecordStream(reject_file, fmt)

            def chunks() -> Iterator[str]:
                nonlocal records
                for record in iter_records(path, fmt, self.spec.legacy_id_column):
                    if limit is not None and records >= limit:
                        break
                    records += 1
                    yield stream.add(record)
                yield stream.flush()

            session.copy_in(self._render("load/copy_records.sql", layout), chunks())
            reject_file.seek(0)
            session.copy_in(self._render("load/copy_parse_rejects.sql", layout), reject_file)
        return records

    def _count(
        self,
        session: WarehouseSession,
        path: ExportPath,
        fmt: CsvFormat,
        layout: ColumnLayout,
        method: str,
        records: int,
        previous_live: int,
    ) -> LoadResult:
        """The load's counts, proven: records in the table plus records set aside = records in the file."""
        counts = self._execute(session, "load/count_records.sql", layout)
        in_table, parse_rejects, flagged_rejects, repaired, deleted = (
            counts[name] for name in ("in_table", "parse_rejects", "flagged_rejects", "repaired", "deleted")
        )
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
            missing_columns=layout.missing_columns,
        )

    def _render(self, template: str, layout: ColumnLayout, **values: object) -> str:
        """A ``load/`` template for this object and this file's layout (``values``: COPY's options)."""
        return render(template, object=self.spec.template_params(), layout=layout, **values)

    def _execute(
        self, session: WarehouseSession, template: str, layout: ColumnLayout, binds: dict | None = None
    ) -> dict | None:
        """Render a ``load/`` template and run it; the merged JSON summary its SELECTs return."""
        return session.script(self._render(template, layout), binds)
