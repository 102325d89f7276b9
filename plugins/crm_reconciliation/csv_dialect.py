"""Recognise what a legacy CSV export looks like, and read it record by record.

Pure functions, no database and no Airflow: the encoding, the delimiter and the header are
detected from the file itself, and records are yielded one at a time so that a file of any
size is never held whole in memory.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

DELIMITERS = (",", ";", "\t", "|")
_CHUNK = 1 << 20
_C1_FALLBACK = "crm_reconciliation.cp1252_c1"


def _undefined_cp1252_as_c1(error: UnicodeDecodeError) -> tuple[str, int]:
    """Windows decodes the five bytes cp1252 leaves undefined (0x81, 0x8D…) as C1 controls; so do we."""
    return "".join(chr(byte) for byte in error.object[error.start : error.end]), error.end


codecs.register_error(_C1_FALLBACK, _undefined_cp1252_as_c1)


def _open_text(path: Path, encoding: str):
    return path.open(encoding=encoding, errors=_C1_FALLBACK if encoding == "cp1252" else "strict", newline="")


class BronzeFileError(ValueError):
    """A problem with an input file, naming the file and, where known, the line and field.

    Only a missing file is worth retrying; a file with bad content gives the same result twice.
    """

    def __init__(
        self, path: Path | str, message: str, line: int | None = None, field: str | None = None, retryable: bool = False
    ):
        self.path, self.line, self.field, self.retryable = str(path), line, field, retryable
        where = self.path + (f", line {line}" if line else "") + (f", field {field}" if field else "")
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True)
class CsvFormat:
    encoding: str
    delimiter: str
    header: tuple[str, ...]


def detect_encoding(path: Path) -> str:
    """UTF-8 (with or without BOM) when every byte decodes as UTF-8, else Windows-1252."""
    with path.open("rb") as handle:
        head = handle.read(4)
        if head.startswith(codecs.BOM_UTF8):
            return "utf-8-sig"
        handle.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            while chunk := handle.read(_CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "cp1252"
    return "utf-8"


def detect_delimiter(header_line: str, path: Path | str = "<header>") -> str:
    """The candidate delimiter that occurs most often in the header, outside quotes."""
    counts = dict.fromkeys(DELIMITERS, 0)
    in_quotes = False
    for char in header_line:
        if char == '"':
            in_quotes = not in_quotes
        elif not in_quotes and char in counts:
            counts[char] += 1
    delimiter, count = max(counts.items(), key=lambda item: item[1])
    if count == 0:
        raise BronzeFileError(
            path,
            "cannot detect the delimiter: the header holds none of comma, semicolon, tab or pipe "
            f"(header starts {header_line[:80]!r})",
            line=1,
        )
    return delimiter


def normalise_column(name: str) -> str:
    """Header names compare case-insensitively, ignoring surrounding blanks and a stray BOM."""
    return name.replace("\ufeff", "").strip().lower()


def sniff(path: Path) -> CsvFormat:
    """Detect encoding, delimiter and header of ``path``; fail clearly on a missing or empty file."""
    path = Path(path)
    if not path.is_file():
        raise BronzeFileError(path, "file not found", retryable=True)  # the export may still be on its way
    encoding = detect_encoding(path)
    with _open_text(path, encoding) as handle:
        header_line = handle.readline()
    if not header_line.strip():
        raise BronzeFileError(path, "file is empty: expected a header line naming the columns", line=1)
    delimiter = detect_delimiter(header_line, path)
    header = next(csv.reader([header_line], delimiter=delimiter))
    names = tuple(normalise_column(name) for name in header)
    blank = [index + 1 for index, name in enumerate(names) if not name]
    if blank:
        raise BronzeFileError(path, f"header has unnamed column(s) at position {blank}", line=1)
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise BronzeFileError(path, f"header names these columns more than once: {repeated}", line=1)
    return CsvFormat(encoding=encoding, delimiter=delimiter, header=names)


def iter_records(path: Path, fmt: CsvFormat) -> Iterator[tuple[int, list[str]]]:
    """Yield ``(first physical line, fields)`` per data record; blank lines are skipped.

    Quoted fields may span lines and hold doubled quotes; the line number is where the record
    starts, as a person opening the file would count it (header = line 1).
    """
    with _open_text(path, fmt.encoding) as handle:
        reader = csv.reader(handle, delimiter=fmt.delimiter, strict=False)
        previous_end = 0
        try:
            for fields in reader:
                start, previous_end = previous_end + 1, reader.line_num
                if start == 1 or not fields or fields == [""]:
                    continue
                yield start, fields
        except csv.Error as error:
            raise BronzeFileError(path, f"malformed CSV: {error}", line=reader.line_num) from error


def format_record(fields: list[str], delimiter: str) -> str:
    """Re-serialise fields the way the source file wrote them, for a reject's raw text."""
    quote = ('"', "\r", "\n", delimiter)
    return delimiter.join(
        '"' + field.replace('"', '""') + '"' if any(c in field for c in quote) else field for field in fields
    )
