from __future__ import annotations

import csv
import io
import os

import pytest

from crm_reconciliation.load.dialect import (
    BronzeFileError,
    Record,
    detect_delimiter,
    detect_encoding,
    export_totals,
    format_record,
    iter_records,
    normalise_column,
    preamble_size,
    sniff,
)


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ("Comp_Name\nSociété Générale\n".encode(), "utf-8"),
        (b"\xef\xbb\xbfComp_Name\nSoci\xc3\xa9t\xc3\xa9\n", "utf-8-sig"),
        ("Comp_Name\nSociété Générale\n".encode("cp1252"), "cp1252"),
        (b"Comp_Name\nACME\n", "utf-8"),
    ],
    ids=["utf8", "utf8-bom", "windows-1252", "ascii"],
)
def test_detect_encoding(tmp_path, payload, expected):
    path = tmp_path / "f.csv"
    path.write_bytes(payload)
    assert detect_encoding(path) == expected


def test_detect_encoding_finds_a_late_non_utf8_byte(tmp_path):
    path = tmp_path / "f.csv"
    path.write_bytes(b"a,b\n" + b"x,y\n" * 400_000 + "é,z\n".encode("cp1252"))
    assert detect_encoding(path) == "cp1252"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Comp_CompanyId,Comp_Name,Comp_Deleted", ","),
        ("comp_companyid;comp_name;comp_deleted", ";"),
        ("Comp_CompanyId\tComp_Name\tComp_Deleted", "\t"),
        ('"Comp_Name, legal";Comp_CompanyId;Comp_Deleted', ";"),
    ],
    ids=["comma", "semicolon", "tab", "comma-inside-quotes"],
)
def test_detect_delimiter(header, expected):
    assert detect_delimiter(header) == expected


def test_unknown_delimiter_names_the_file():
    with pytest.raises(BronzeFileError, match=r"x\.csv, line 1: cannot detect the delimiter"):
        detect_delimiter("Comp_CompanyId Comp_Name", "x.csv")


def test_normalise_column():
    assert normalise_column("\ufeff Comp_CompanyID ") == "comp_companyid"


def test_sniff_reports_duplicated_and_unnamed_columns(tmp_path):
    path = tmp_path / "dup.csv"
    path.write_text("Comp_Name,COMP_NAME\n", encoding="utf-8")
    with pytest.raises(BronzeFileError, match="more than once"):
        sniff(path)
    path.write_text("Comp_Name,,x\n", encoding="utf-8")
    with pytest.raises(BronzeFileError, match="unnamed column"):
        sniff(path)


def test_a_path_that_is_no_file_says_what_it_is_and_only_an_absent_one_is_retried(tmp_path):
    pipe = tmp_path / "Bronze_Company.csv"
    os.mkfifo(pipe)
    (tmp_path / "dangling.csv").symlink_to(tmp_path / "gone.csv")
    (tmp_path / "loop_a.csv").symlink_to(tmp_path / "loop_b.csv")
    (tmp_path / "loop_b.csv").symlink_to(tmp_path / "loop_a.csv")
    (tmp_path / "folder.csv").mkdir()
    expected = {
        "Bronze_Company.csv": ("is a named pipe (FIFO), not a file", False),
        "dangling.csv": (f"is a symbolic link to {str(tmp_path / 'gone.csv')!r}, which does not exist", False),
        "loop_a.csv": ("is a loop of symbolic links, not a file", False),
        "folder.csv": ("is a folder, not a file", False),
        "absent.csv": ("file not found", True),
    }
    for name, (message, retryable) in expected.items():
        with pytest.raises(BronzeFileError) as raised:
            sniff(tmp_path / name)
        assert str(raised.value) == f"{tmp_path / name}: {message}"
        assert raised.value.retryable is retryable, name


def test_sniff_missing_and_empty_files(tmp_path):
    with pytest.raises(BronzeFileError, match="file not found"):
        sniff(tmp_path / "absent.csv")
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(BronzeFileError, match="file is empty"):
        sniff(empty)


def test_records_carry_their_first_line_and_keep_quotes_and_newlines(tmp_path):
    note = 'Bonjour,\n"devis" joint\nCordialement'
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerows([["id", "note"], ["1", note], [], ["2", "simple"]])
    path = tmp_path / "notes.csv"
    path.write_text(buffer.getvalue(), encoding="cp1252", newline="")
    fmt = sniff(path)
    assert (fmt.encoding, fmt.delimiter, fmt.header) == ("utf-8", ";", ("id", "note"))
    assert [(record.line, record.fields) for record in iter_records(path, fmt)] == [
        (2, ["1", note]),
        (6, ["2", "simple"]),
    ]


def test_format_record_round_trips_through_csv():
    fields = ["12", 'Dupont "le grand"', "a;b", "ligne 1\nligne 2", ""]
    text = format_record(fields, ";")
    assert next(csv.reader(io.StringIO(text), delimiter=";")) == fields


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ("id,name\n1,Raphaël\n".encode("utf-16"), "utf-16"),
        ("id,name\n1,Raphaël\n".encode("utf-16-le"), "utf-16-le"),
        ("id,name\n1,Raphaël\n".encode("utf-16-be"), "utf-16-be"),
        ("id,name\n1,Raphaël\n2,Zoë\n".encode() + "3,Noël\n".encode("cp1252"), "utf-8+cp1252"),
        (b"\xef\xbb\xbfid,name\n1,No\xebl\n", "utf-8-sig+cp1252"),
        ("id,name\n1,Raphaël\n2,Zoë\n".encode("cp1252") + "3,Noël\n".encode(), "cp1252+utf-8"),
        # É then ’ (C9 92) is a valid UTF-8 pair, but é (E9) on the same line is not: Windows-1252
        ("id,name\n1,CAFÉ’ Société\n2,Zoë\n".encode("cp1252"), "cp1252"),
    ],
    ids=[
        "utf16-bom",
        "utf16-le",
        "utf16-be",
        "utf8-with-a-cp1252-record",
        "utf8-bom-with-a-bad-byte",
        "cp1252-with-a-utf8-record",
        "cp1252-with-a-utf8-looking-pair",
    ],
)
def test_detect_encoding_utf16_and_repairable_utf8(tmp_path, payload, expected):
    path = tmp_path / "f.csv"
    path.write_bytes(payload)
    assert detect_encoding(path) == expected


TRICKY = [
    b'id,name,city\n1,Tubes 5" et 7",Lyon\n2,"Dupont ""le grand""",Paris\n',
    b'id,name,city\n1,"Bonjour,\r\nle devis\r\nCordialement",Lyon\n\n2,b,c\n',
    b'id;name;city\r1;a;b\r2;"x;y";z\r',
]


@pytest.mark.parametrize("payload", TRICKY, ids=["bare-quotes", "multi-line-and-blank", "cr-semicolon"])
def test_export_totals_follow_the_record_reader(tmp_path, payload):
    path = tmp_path / "f.csv"
    path.write_bytes(payload)
    fmt = sniff(path)
    records = [record.fields for record in iter_records(path, fmt, "id")]
    joined = ["".join(fields) for fields in records]
    expected = (len(records), sum(map(len, joined)), sum(value.count('"') for value in joined))
    assert export_totals(path, fmt, "id") == expected


def test_export_totals_refuse_a_file_the_record_reader_rejects_a_line_of(tmp_path):
    path = tmp_path / "f.csv"
    path.write_bytes(b'id,name,city\n1,"Garage,Annecy\n2,Martin,Lyon\n3,Petit,Nice\n')
    fmt = sniff(path)
    assert [record.reject is not None for record in iter_records(path, fmt, "id")] == [True, False, False]
    assert export_totals(path, fmt, "id") is None


def test_a_windows_1252_file_reads_its_utf8_records_as_utf8_and_lists_them(tmp_path):
    path = tmp_path / "f.csv"
    payload = "id;name\r\n1;Société Générale\r\n".encode("cp1252") + "2;Systèmes Embarqués\r\n".encode()
    path.write_bytes(payload + "3;CAFÉ’ Zoë\r\n4;ACME\r\n".encode("cp1252"))
    fmt = sniff(path)
    assert (fmt.encoding, fmt.repairs) == ("cp1252+utf-8", True)
    assert list(iter_records(path, fmt, "id")) == [
        Record(2, ["1", "Société Générale"]),
        Record(3, ["2", "Systèmes Embarqués"], field="name", repaired="read as UTF-8 in a Windows-1252 file: è, é"),
        Record(4, ["3", "CAFÉ’ Zoë"]),
        Record(5, ["4", "ACME"]),
    ]
    assert export_totals(path, fmt, "id") is None  # not for COPY: PostgreSQL reads one encoding


@pytest.mark.parametrize(
    ("first_line", "delimiter"),
    [
        (b"sep=;\r\n", ";"),
        (b'"sep=,"\r\n', ","),
        (b"\xef\xbb\xbfsep=|\n", "|"),
        (b"SEP=\t\t\t\r\n", "\t"),  # padded with delimiters, as Excel re-saves it as a row
    ],
    ids=["semicolon", "quoted-comma", "bom-pipe", "padded-tab"],
)
def test_excel_sep_line_sets_the_delimiter_and_is_not_the_header(tmp_path, first_line, delimiter):
    path = tmp_path / "f.csv"
    others = "".join(d for d in ",;|\t" if d != delimiter)  # characters of a field, not delimiters
    rows = [["id", "name", "city"], ["1", f"a{others}b", "Lyon"], ["x", "Sans id", "Nice"]]
    path.write_bytes(first_line + "".join(delimiter.join(row) + "\r\n" for row in rows).encode())
    fmt = sniff(path)
    assert (fmt.delimiter, fmt.header, fmt.preamble, fmt.header_line) == (delimiter, ("id", "name", "city"), 1, 2)
    assert [(record.line, record.fields) for record in iter_records(path, fmt, "id")] == [(3, rows[1]), (4, rows[2])]
    assert export_totals(path, fmt, "id") == (2, len(f"1a{others}bLyonxSans idNice"), 0)
    assert preamble_size(path, fmt) == len(first_line)  # where COPY starts: the header


def test_a_sep_line_naming_another_delimiter_or_no_header_fails_naming_the_line(tmp_path):
    path = tmp_path / "f.csv"
    path.write_bytes(b"sep=#\nid#name\n")
    with pytest.raises(BronzeFileError) as raised:
        sniff(path)
    assert str(raised.value) == (
        f"{path}, line 1: the first line names the delimiter '#': only comma, semicolon, tab or pipe are read"
    )
    path.write_bytes(b"sep=;\r\n")
    with pytest.raises(BronzeFileError, match=r"f\.csv, line 2: file is empty"):
        sniff(path)


def test_a_first_line_that_only_starts_like_sep_is_the_header(tmp_path):
    path = tmp_path / "f.csv"
    path.write_bytes(b"sep=;x;y\n1;2;3\n")
    fmt = sniff(path)
    assert (fmt.header, fmt.preamble) == (("sep=", "x", "y"), 0)
