"""Recognise what a legacy CSV export looks like, and read it record by record.

Pure functions, no database and no Airflow: the encoding, the delimiter and the header are
detected from the file itself, and records are yielded one at a time so that a file of any
size is never held whole in memory. A file is a local ``Path`` or an ``ObjectStoragePath``; it
is opened only through ``source.open_export``, each time streamed from its start.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from typing import TYPE_CHECKING, BinaryIO, NamedTuple

from crm_reconciliation.load.source import BronzeFileError, check_export, export_path, open_export

if TYPE_CHECKING:
    from crm_reconciliation.load.source import ExportPath

__all__ = ["BronzeFileError"]  # raised here, defined beside the file access (load.source)

DELIMITERS = (",", ";", "\t", "|")
_CHUNK = 1 << 20
_C1_FALLBACK = "crm_reconciliation.cp1252_c1"
# Python's csv refuses fields over 128 KiB by default; PostgreSQL takes up to 1 GB, and so do we.
csv.field_size_limit(1 << 30)
# UTF-8 files in which a few records were written by a Windows-1252 tool (a hand-edited line):
# the file is UTF-8, those bytes are read as Windows-1252 and the records marked repaired.
UTF8_REPAIRED = "utf-8+cp1252"
UTF8_SIG_REPAIRED = "utf-8-sig+cp1252"
# The reverse: a Windows-1252 file with a few lines written in UTF-8 (records pasted from a web
# form); a line whose bytes are valid UTF-8 is read as UTF-8 and its record marked repaired.
CP1252_REPAIRED = "cp1252+utf-8"
_LOOKS_LIKE_ID = re.compile(r"\s*\d+(?:[.,]0+)?\s*")
# Excel's first line naming the delimiter (``sep=;``, quoted when a tool wrote it as a CSV
# cell, padded with delimiters when re-saved as a row): not a header.
_EXCEL_SEP = re.compile(r'(?P<q>"?)sep=(?P<d>[^"\r\n])(?P=q)(?P=d)*(?:\r\n|\r|\n)?\Z', re.IGNORECASE)
_LINE_ENDS = re.compile(rb"(?<=\r)(?!\n)")


def _undefined_cp1252_as_c1(error: UnicodeDecodeError) -> tuple[str, int]:
    """Windows decodes the five bytes cp1252 leaves undefined (0x81, 0x8D…) as C1 controls; so do we."""
    return "".join(chr(byte) for byte in error.object[error.start : error.end]), error.end


codecs.register_error(_C1_FALLBACK, _undefined_cp1252_as_c1)


def _cp1252(data: bytes) -> str:
    return data.decode("cp1252", errors=_C1_FALLBACK)


@dataclass(frozen=True)
class CsvFormat:
    encoding: str
    delimiter: str
    header: tuple[str, ...]
    preamble: int = 0  # lines before the header: 1 for Excel's ``sep=`` line

    @property
    def repairs(self) -> bool:
        """Lines are decoded one by one, some in the file's second encoding (``utf-8+cp1252``, ``cp1252+utf-8``)."""
        return "+" in self.encoding

    @property
    def header_line(self) -> int:
        return self.preamble + 1


def _utf16(head: bytes) -> str | None:
    """UTF-16 by its BOM, or by the NUL of every other byte that ASCII text has in it."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    sample = head[:512]
    if len(sample) >= 4 and b"\x00" in sample:
        even, odd = sample[0::2], sample[1::2]
        if odd.count(0) > 0.4 * len(odd) and even.count(0) == 0:
            return "utf-16-le"
        if even.count(0) > 0.4 * len(even) and odd.count(0) == 0:
            return "utf-16-be"
    return None


def _raw_lines(handle: BinaryIO) -> Iterator[bytes]:
    """The file's lines as bytes, ending at \\n, \\r\\n or a lone \\r, as Python's csv module counts them."""
    for raw in handle:
        if b"\r" in raw[:-2]:  # lone carriage returns end lines too
            yield from (piece for piece in _LINE_ENDS.split(raw) if piece)
        else:
            yield raw


# UTF-8 characters a tool writes into a Windows-1252 line (a name pasted from another system):
# é, è, ç … (C3 xx), NBSP and ° « » (C2 xx), Œ œ Š š Ÿ Ž ž, ’ “ ” – — … and €. Read as
# Windows-1252 they are the mojibake "Ã©"; a real Windows-1252 text almost never holds an "Ã",
# "Â" or "Å" followed by a symbol.
_UTF8_IN_CP1252 = re.compile(
    rb"[\xc2\xc3][\x80-\xbf]|\xc5[\x92\x93\xa0\xa1\xb8\xbd\xbe]|\xe2\x80[\x93\x94\x98\x99\x9c\x9d\xa6]|\xe2\x82\xac"
)


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def detect_encoding(path: ExportPath) -> str:
    """UTF-16, UTF-8 (with or without BOM), or Windows-1252, judged from every byte of the file.

    A file whose bytes are valid UTF-8 but for a few is UTF-8 with stray Windows-1252 records
    (``utf-8+cp1252``): more valid multi-byte UTF-8 characters than invalid bytes. Otherwise a
    file with any byte UTF-8 cannot read is Windows-1252, with UTF-8 records (``cp1252+utf-8``)
    when a line that is not ASCII is valid UTF-8 as a whole, or holds UTF-8 accented letters
    among its Windows-1252 ones: Windows-1252 text almost never does (it takes a letter such as
    Ã or Â followed by a symbol such as © or »).
    """
    with open_export(path) as handle:
        head = handle.read(4096)
        utf16 = _utf16(head)
        if utf16:
            return utf16
        bom = head.startswith(codecs.BOM_UTF8)
        handle.seek(len(codecs.BOM_UTF8) if bom else 0)
        invalid = multibyte = 0
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        while chunk := handle.read(_CHUNK):
            text = decoder.decode(chunk)
            if not chunk.isascii():
                bad = text.count("\ufffd")
                invalid += bad
                multibyte += len(text) - len(text.encode("ascii", "ignore")) - bad
        tail = decoder.decode(b"", final=True)
        invalid += tail.count("\ufffd")
    if not invalid:
        return "utf-8-sig" if bom else "utf-8"
    if bom or multibyte >= invalid:
        return UTF8_SIG_REPAIRED if bom else UTF8_REPAIRED
    if multibyte:
        with open_export(path) as handle:
            if any(not raw.isascii() and (_is_utf8(raw) or _UTF8_IN_CP1252.search(raw)) for raw in _raw_lines(handle)):
                return CP1252_REPAIRED
    return "cp1252"


def detect_delimiter(header_line: str, path: ExportPath | str = "<header>") -> str:
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


def excel_delimiter(first_line: str, path: ExportPath | str = "<header>") -> str | None:
    """The delimiter Excel's ``sep=`` first line names, or None when the first line is no such line."""
    found = _EXCEL_SEP.match(first_line)
    if not found:
        return None
    if found["d"] not in DELIMITERS:
        raise BronzeFileError(
            path,
            f"the first line names the delimiter {found['d']!r}: only comma, semicolon, tab or pipe are read",
            line=1,
        )
    return found["d"]


def sniff(path: ExportPath | str) -> CsvFormat:
    """Detect encoding, delimiter and header of ``path``; fail clearly on a missing or empty file.

    Excel's ``sep=;`` first line sets the delimiter and the header is the line after it.
    """
    path = export_path(path)
    check_export(path)
    encoding = detect_encoding(path)
    lines = _Lines(path, CsvFormat(encoding, ",", ()))
    header_line = next(lines, "")
    delimiter = excel_delimiter(header_line, path)
    preamble = 0 if delimiter is None else 1
    if preamble:
        header_line = next(lines, "")
    line = preamble + 1
    if not header_line.strip():
        raise BronzeFileError(path, "file is empty: expected a header line naming the columns", line=line)
    delimiter = delimiter or detect_delimiter(header_line, path)
    header = next(csv.reader([header_line], delimiter=delimiter))
    names = tuple(normalise_column(name) for name in header)
    blank = [index + 1 for index, name in enumerate(names) if not name]
    if blank:
        raise BronzeFileError(path, f"header has unnamed column(s) at position {blank}", line=line)
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise BronzeFileError(path, f"header names these columns more than once: {repeated}", line=line)
    return CsvFormat(encoding=encoding, delimiter=delimiter, header=names, preamble=preamble)


def preamble_size(path: ExportPath, fmt: CsvFormat) -> int:
    """The bytes before the header line (a BOM with Excel's ``sep=`` line): where COPY must start reading."""
    if not fmt.preamble:
        return 0
    with open_export(path) as handle:
        size = len(codecs.BOM_UTF8) if handle.read(len(codecs.BOM_UTF8)) == codecs.BOM_UTF8 else 0
        handle.seek(size)
        return size + sum(map(len, islice(_raw_lines(handle), fmt.preamble)))


class _Lines:
    """The file's physical lines as text, with push-back, counting where the reader is.

    Lines end at \\n, \\r\\n or a lone \\r, as Python's csv module counts them. Each line is
    decoded on its own, so a Windows-1252 byte in a UTF-8 file is pinned to its line.
    """

    def __init__(self, path: ExportPath, fmt: CsvFormat):
        self.path, self.fmt = path, fmt
        self.consumed = 0  # lines handed to the csv reader so far
        self.window: list[str] = []  # the lines of the record being read
        self.raw_window: list[bytes] = []  # their bytes (empty for UTF-16): where a repair was made
        self.repaired: list[str] = []  # the characters repaired in the window
        self._pending: deque[tuple[bytes, str]] = deque()
        self._source = self._read()

    def _read(self) -> Iterator[tuple[bytes, str]]:
        fmt = self.fmt
        if fmt.encoding.startswith("utf-16"):
            with open_export(self.path, encoding=fmt.encoding) as handle:
                yield from ((b"", line) for line in handle)
            return
        decode = {"cp1252": _cp1252, CP1252_REPAIRED: self._decode_mixed_cp1252}.get(fmt.encoding, self._decode_utf8)
        with open_export(self.path) as handle:
            if handle.read(len(codecs.BOM_UTF8)) != codecs.BOM_UTF8:
                handle.seek(0)
            yield from ((raw, decode(raw)) for raw in _raw_lines(handle))

    def _decode_mixed_cp1252(self, raw: bytes) -> str:
        """A line of a Windows-1252 file: read as UTF-8 (and repaired) when its bytes are UTF-8;
        else each UTF-8 character among its Windows-1252 ones read as UTF-8 (a field pasted from
        another system), the rest as Windows-1252."""
        if raw.isascii():
            return _cp1252(raw)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            self.repaired.extend(character for character in text if not character.isascii())
            return text
        text, start = "", 0
        for found in _UTF8_IN_CP1252.finditer(raw):
            character = found.group().decode("utf-8")
            text += _cp1252(raw[start : found.start()]) + character
            self.repaired.append(character)
            start = found.end()
        return text + _cp1252(raw[start:])

    def _decode_utf8(self, raw: bytes) -> str:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as error:
            if not self.fmt.repairs:
                raise BronzeFileError(
                    self.path, f"byte {raw[error.start]:#04x} is not UTF-8", line=self.consumed + 1
                ) from error
        text, repaired = "", []
        while raw:
            try:
                text += raw.decode("utf-8")
                break
            except UnicodeDecodeError as error:
                good, bad = raw[: error.start].decode("utf-8"), _cp1252(raw[error.start : error.end])
                text, raw = text + good + bad, raw[error.end :]
                repaired.append(bad)
        self.repaired.extend(repaired)
        return text

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        raw, line = self._pending.popleft() if self._pending else next(self._source)
        self.consumed += 1
        self.window.append(line)
        self.raw_window.append(raw)
        return line

    def start_record(self) -> int:
        """Forget the previous record's lines; the number of the line the next record starts on."""
        self.window, self.raw_window, self.repaired = [], [], []
        return self.consumed + 1

    def push_back_after_first(self) -> None:
        """Give back every line of the window but its first: they are read again as records."""
        self._pending.extendleft(reversed(list(zip(self.raw_window[1:], self.window[1:], strict=True))))
        self.consumed -= len(self.window) - 1


def repair_note(encoding: str) -> str:
    """How the repaired records of a file in ``encoding`` (``utf-8+cp1252``, ``cp1252+utf-8``) were read."""
    if encoding == CP1252_REPAIRED:
        return "read as UTF-8 in a Windows-1252 file"
    return "read as Windows-1252 in a UTF-8 file"


class Record(NamedTuple):
    """One record of the file: where it starts, its fields, and what is wrong with it, if anything."""

    line: int
    fields: list[str]
    reject: str | None = None  # why it cannot be loaded
    field: str | None = None  # the field the reject or the repair concerns
    repaired: str | None = None  # what was repaired (it is loaded)


def _looks_like_record(line: str, fmt: CsvFormat, id_index: int | None) -> bool:
    """A line that, read on its own, has the header's field count and an id where the id goes."""
    parts = line.rstrip("\r\n").split(fmt.delimiter)
    return len(parts) == len(fmt.header) and (id_index is None or bool(_LOOKS_LIKE_ID.fullmatch(parts[id_index])))


def iter_records(path: ExportPath, fmt: CsvFormat, id_column: str | None = None) -> Iterator[Record]:
    """Yield every data record with the physical line it starts on (the file's first line is 1).

    The rules, which are those of the legacy export: a field is quoted when it starts with a
    quote, and then holds delimiters, line breaks and doubled quotes; a quote inside an
    unquoted field is a character of its own (``5" et 7"``). A quoted field that would run on
    over lines which are records of their own (a stray opening quote) is not allowed to
    swallow them: its first line is rejected, naming the field, and the lines after it are
    read as records. Blank lines are skipped.
    """
    lines = _Lines(path, fmt)
    id_index = fmt.header.index(id_column.lower()) if id_column and id_column.lower() in fmt.header else None
    reader = csv.reader(lines, delimiter=fmt.delimiter, strict=False)
    for _ in range(fmt.preamble):
        next(lines)
    lines.start_record()
    try:
        next(reader)  # the header
        while True:
            start = lines.start_record()
            try:
                fields = next(reader)
            except StopIteration:
                return
            if not fields or fields == [""]:
                continue
            window = lines.window
            if len(window) > 1 and any(_looks_like_record(line, fmt, id_index) for line in window[1:]):
                lines.push_back_after_first()
                opened = next((i for i, value in enumerate(fields) if "\n" in value or "\r" in value), None)
                name = fmt.header[opened] if opened is not None and opened < len(fmt.header) else None
                first = next(csv.reader([window[0]], delimiter=fmt.delimiter, quoting=csv.QUOTE_NONE))
                yield Record(
                    start,
                    first,
                    reject="a quote opens a field that never closes on this line, and the lines after it are records "
                    "of their own: not read as one multi-line field",
                    field=name,
                )
                continue
            if lines.repaired:
                yield Record(
                    start,
                    fields,
                    field=_fields_repaired(fields, fmt, lines.repaired, b"".join(lines.raw_window)),
                    repaired=f"{repair_note(fmt.encoding)}: " + ", ".join(sorted(set(lines.repaired))),
                )
            else:
                yield Record(start, fields)
    except csv.Error as error:
        raise BronzeFileError(path, f"malformed CSV: {error}", line=lines.consumed) from error


def export_totals(path: ExportPath, fmt: CsvFormat, id_column: str | None = None) -> tuple[int, int, int] | None:
    """Records, characters and quote characters of the file by ``iter_records``' rules, at the
    speed of Python's csv module: what COPY's reading of the file is checked against.

    None when ``iter_records`` would find a record malformed (a quote swallowing records) or
    repair one: such a file is for the record-by-record path.
    """
    if fmt.repairs or fmt.encoding.startswith("utf-16"):
        return None
    id_index = fmt.header.index(id_column.lower()) if id_column and id_column.lower() in fmt.header else None
    records = characters = quotes = 0
    errors = _C1_FALLBACK if fmt.encoding == "cp1252" else "strict"
    with open_export(path, encoding=fmt.encoding, errors=errors) as handle:
        for _ in range(fmt.preamble):
            handle.readline()
        reader = csv.reader(handle, delimiter=fmt.delimiter, strict=False)
        next(reader, None)
        previous = reader.line_num
        for fields in reader:
            if reader.line_num - previous > 1 and _swallows(fields, fmt, id_index):
                return None
            previous = reader.line_num
            if not fields or fields == [""]:
                continue
            joined = "".join(fields)
            records, characters, quotes = records + 1, characters + len(joined), quotes + joined.count('"')
    return records, characters, quotes


def _swallows(fields: list[str], fmt: CsvFormat, id_index: int | None) -> bool:
    """A multi-line record whose later lines are records of their own (as ``iter_records`` judges)."""
    pieces = re.split(r"\r\n|\r|\n", fmt.delimiter.join(fields))[1:]
    return any(_looks_like_record(piece, fmt, id_index) for piece in pieces)


def _fields_repaired(fields: list[str], fmt: CsvFormat, characters: list[str], raw: bytes) -> str | None:
    """The fields a repair was made in, comma-separated (None: none found): those holding a
    repaired character whose text, written in the file's own encoding, is not in the record's
    bytes (a field read in the file's encoding is there as it was read)."""
    own = "cp1252" if fmt.encoding == CP1252_REPAIRED else "utf-8"

    def repaired_in(value: str) -> bool:
        if not any(character in value for character in characters):
            return False
        try:
            written = {value.encode(own), value.replace('"', '""').encode(own)}
        except UnicodeEncodeError:  # a character the file's encoding cannot hold: it came from the repair
            return True
        return not raw or not any(form in raw for form in written)

    named = [name for name, value in zip(fmt.header, fields, strict=False) if repaired_in(value)]
    return ", ".join(named) or None


def format_record(fields: list[str], delimiter: str) -> str:
    """Re-serialise fields the way the source file wrote them, for a reject's raw text."""
    quote = ('"', "\r", "\n", delimiter)
    return delimiter.join(
        '"' + field.replace('"', '""') + '"' if any(c in field for c in quote) else field for field in fields
    )
