"""The loader against a real PostgreSQL, over the hard files real exports contain."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

import pytest

from crm_reconciliation.config.registry import default_registry
from crm_reconciliation.hooks.warehouse import WarehouseHook
from crm_reconciliation.load.dialect import BronzeFileError
from crm_reconciliation.load.loader import BronzeLoader, RejectRateExceeded
from tests.helpers import create_staging

pytestmark = pytest.mark.integration

COMPANIES = default_registry().get("companies")
RUN_DATE = date(2026, 3, 14)
HEADER = ["Comp_CompanyId", "Comp_Name", "Comp_WebSite", "Comp_Deleted"]
ROWS = [
    ["1", "Société Générale", "https://www.sg.fr", ""],
    ["2", 'Dupont "le grand" SARL', "dupont.fr", ""],
    ["3", "Bürkert; Fluid\nControl", "", ""],
    ["4", "Ancienne Société", "", "1"],
]


def write_csv(path: Path, rows: list[list[str]], *, encoding="utf-8", delimiter=",", header=HEADER) -> Path:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows([header, *rows])
    path.write_text(buffer.getvalue(), encoding=encoding, newline="")
    return path


@pytest.fixture
def loader(db):
    create_staging(db, COMPANIES)
    return BronzeLoader(WarehouseHook(), COMPANIES)  # hubspot_postgres: the test database


def load(loader, path, **options):
    options.setdefault("max_reject_rate", 1.0)
    return loader.load(path, snapshot_date=RUN_DATE, run_id="test_run", **options)


def bronze(db) -> dict[int, tuple]:
    rows = db.execute(
        "select staging.crm_legacy_id(comp_companyid), comp_name, comp_website, _is_deleted, _source_line"
        " from bronze.company"
    ).fetchall()
    return {row[0]: row[1:] for row in rows}


def rejects(db) -> list[tuple]:
    return db.execute(
        "select line_number, field, reason, raw_text from staging.bronze_rejects order by line_number"
    ).fetchall()


@pytest.mark.parametrize(
    ("encoding", "delimiter"),
    [("utf-8", ","), ("utf-8-sig", ","), ("cp1252", ";"), ("utf-8", "\t"), ("cp1252", "\t")],
    ids=["utf8-comma", "utf8-bom-comma", "win1252-semicolon", "utf8-tab", "win1252-tab"],
)
def test_encodings_and_delimiters_keep_every_character(db, loader, tmp_path, encoding, delimiter):
    result = load(loader, write_csv(tmp_path / "c.csv", ROWS, encoding=encoding, delimiter=delimiter))
    assert (result.rows_read, result.rows_loaded, result.rows_rejected, result.rows_deleted) == (4, 4, 0, 1)
    loaded = bronze(db)
    assert {key: value[0] for key, value in loaded.items()} == {int(r[0]): r[1] for r in ROWS}
    assert loaded[3][3] == 4  # header, rows 1 and 2, then row 3 (which spans lines 4-5)
    assert [key for key, value in loaded.items() if value[2]] == [4]


def test_line_numbers_count_physical_lines(db, loader, tmp_path):
    load(loader, write_csv(tmp_path / "c.csv", [*ROWS, ["", "sans id", "", ""]]))
    # header 1, rows 2 and 3, row 3 spans lines 4-5 (embedded newline), row 4 on 6, bad row on 7
    assert bronze(db)[4][3] == 6
    assert rejects(db)[0][:3] == (7, "Comp_CompanyId", "empty id")


def test_header_case_and_order_do_not_matter(db, loader, tmp_path):
    header = ["comp_deleted", "COMP_WEBSITE", "comp_name", "Comp_CompanyID"]
    rows = [[r[3], r[2], r[1], r[0]] for r in ROWS]
    load(loader, write_csv(tmp_path / "c.csv", rows, header=header))
    assert bronze(db)[2][:2] == ('Dupont "le grand" SARL', "dupont.fr")


def test_ids_written_as_decimals_and_padded(db, loader, tmp_path):
    rows = [["123.0", "A", "", ""], [" 124 ", "B", "", ""], ["125,00", "C", "", ""]]
    load(loader, write_csv(tmp_path / "c.csv", rows))
    assert sorted(bronze(db)) == [123, 124, 125]


def test_soft_deleted_rows_stay_out_of_the_live_view(db, loader, tmp_path):
    load(loader, write_csv(tmp_path / "c.csv", ROWS))
    live = {row[0] for row in db.execute("select legacy_id from bronze.company_live")}
    assert live == {1, 2, 3}


def test_bad_rows_are_kept_with_line_reason_and_raw_text(db, loader, tmp_path):
    rows = [
        ["10", "Bonne", "", ""],
        ["", "Sans id", "", ""],
        ["ABC-12", "Id texte", "", ""],
        ["11", "Trop; de", "champs", "", "en trop"],
        ["10", "Doublon", "", ""],
        ["12", "Courte"],
    ]
    result = load(loader, write_csv(tmp_path / "c.csv", rows, delimiter=";"))
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (6, 1, 5)
    assert rejects(db) == [
        (3, "Comp_CompanyId", "empty id", ";Sans id;;"),
        (4, "Comp_CompanyId", "non-numeric id 'ABC-12'", "ABC-12;Id texte;;"),
        (5, None, "expected 4 fields, found 5", '11;"Trop; de";champs;;en trop'),
        (6, "Comp_CompanyId", "duplicate id 10 (line 2 kept)", "10;Doublon;;"),
        (7, None, "expected 4 fields, found 2", "12;Courte"),
    ]
    assert bronze(db)[10][0] == "Bonne"


def test_a_live_duplicate_wins_over_a_deleted_one(db, loader, tmp_path):
    load(loader, write_csv(tmp_path / "c.csv", [["7", "Supprimée", "", "1"], ["7", "Vivante", "", ""]]))
    assert bronze(db)[7][0] == "Vivante"
    assert rejects(db)[0][2] == "duplicate id 7 (line 3 kept)"


def test_columns_outside_the_registry_become_text_columns(db, loader, tmp_path):
    header = [*HEADER, "Comp_SecTerr", "Comp Custom"]
    load(loader, write_csv(tmp_path / "c.csv", [["1", "A", "", "", "Alpes", "x"]], header=header))
    assert db.execute('select comp_secterr, "comp custom" from bronze.company').fetchone() == ("Alpes", "x")


def test_limit_reads_only_the_first_rows(db, loader, tmp_path):
    result = load(loader, write_csv(tmp_path / "c.csv", ROWS), limit=2)
    assert result.rows_read == 2
    assert sorted(bronze(db)) == [1, 2]


def test_reject_rate_above_threshold_fails_and_keeps_previous_snapshot(db, loader, tmp_path):
    load(loader, write_csv(tmp_path / "good.csv", ROWS))
    before = bronze(db)
    bad = write_csv(tmp_path / "bad.csv", [["1", "Nouveau", "", ""], ["x", "bad", "", ""]])
    with pytest.raises(RejectRateExceeded, match=r"1 of 2 rows rejected \(50.0%\), above max_reject_rate 5.0%") as err:
        load(loader, bad, max_reject_rate=0.05)
    assert "staging.bronze_rejects" in str(err.value)
    assert bronze(db) == before
    assert [row[2] for row in rejects(db)] == ["non-numeric id 'x'"]
    assert db.execute("select distinct outcome from staging.bronze_rejects").fetchall() == [("refused",)]


def test_a_refused_snapshot_keeps_the_rejects_of_the_snapshot_that_stays(db, loader, tmp_path):
    kept = load(loader, write_csv(tmp_path / "good.csv", [*ROWS, ["y", "Sans id", "", ""]]))
    assert kept.rows_rejected == 1
    bad = write_csv(tmp_path / "bad.csv", [["1", "Nouveau", "", ""], ["x", "bad", "", ""], ["z", "bad", "", ""]])
    with pytest.raises(RejectRateExceeded):
        load(loader, bad, max_reject_rate=0.05)  # the same logical date
    found = db.execute(
        "select outcome, reason, source_file from staging.bronze_rejects order by outcome, line_number"
    ).fetchall()
    assert found == [
        ("refused", "non-numeric id 'x'", str(bad)),
        ("refused", "non-numeric id 'z'", str(bad)),
        ("rejected", "non-numeric id 'y'", str(tmp_path / "good.csv")),  # the kept snapshot still adds up
    ]


def test_a_load_failing_after_the_swap_began_leaves_the_previous_snapshot(db, loader, tmp_path):
    load(loader, write_csv(tmp_path / "good.csv", ROWS))
    before = bronze(db)
    db.execute(
        "create function bronze.refuse() returns trigger language plpgsql as "
        "$$ begin if new.comp_name = 'Poison' then raise exception 'injected failure'; end if; return new; end $$"
    )
    db.execute("create trigger refuse before insert on bronze.company for each row execute function bronze.refuse()")
    with pytest.raises(Exception, match="injected failure"):
        load(loader, write_csv(tmp_path / "poison.csv", [["1", "Nouveau", "", ""], ["2", "Poison", "", ""]]))
    assert bronze(db) == before


def test_nul_characters_are_rejected_not_fatal(db, loader, tmp_path):
    path = tmp_path / "nul.csv"
    path.write_bytes(b"Comp_CompanyId,Comp_Name,Comp_Deleted\n1,ok,\n2,a\x00b,\n")
    result = load(loader, path)
    assert (result.rows_loaded, result.rows_rejected) == (1, 1)
    assert rejects(db) == [(3, "comp_name", "NUL character in field", "2,a\\0b,")]


def test_bytes_windows_1252_leaves_undefined_are_kept(db, loader, tmp_path):
    path = tmp_path / "c1.csv"
    path.write_bytes(b"Comp_CompanyId;Comp_Name;Comp_Deleted\n1;Soci\xe9t\xe9\x81;\n")
    load(loader, path)
    assert bronze(db)[1][0] == "Société\x81"


def test_header_only_file_loads_an_empty_snapshot(db, loader, tmp_path):
    load(loader, write_csv(tmp_path / "good.csv", ROWS))
    result = load(loader, write_csv(tmp_path / "empty.csv", []))
    assert (result.rows_read, result.rows_loaded, result.reject_rate) == (0, 0, 0.0)
    assert bronze(db) == {}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "file not found"),
        (b"", "file is empty"),
        (b"Comp_CompanyId Comp_Name Comp_Deleted\n1 a \n", "cannot detect the delimiter"),
        (b"Comp_CompanyId,Comp_Name\n1,a\n", r"missing required column\(s\) \['Comp_Deleted'\]"),
    ],
    ids=["missing-file", "empty-file", "unknown-delimiter", "missing-column"],
)
def test_unusable_files_fail_naming_the_file(db, loader, tmp_path, content, message):
    path = tmp_path / "Bronze_Company.csv"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(BronzeFileError, match=message) as error:
        load(loader, path)
    assert str(error.value).startswith(str(path))


def test_loading_twice_gives_the_same_table(db, loader, tmp_path):
    path = write_csv(tmp_path / "c.csv", [*ROWS, ["x", "bad", "", ""]])
    load(loader, path)
    first = (bronze(db), rejects(db))
    load(loader, path)
    assert (bronze(db), rejects(db)) == first


def snapshot(db) -> tuple[list, list]:
    rows = db.execute(
        "select comp_companyid, comp_name, comp_website, comp_deleted, _is_deleted, _source_line,"
        " _source_file, _snapshot_date, _run_id from bronze.company order by _source_line"
    ).fetchall()
    return rows, rejects(db)


TRICKY_ROWS = [
    *ROWS,
    ["5.0", "", '""', ""],
    ["6", "Sur\r\ntrois\nlignes", "", ""],
    ["5", "Doublon de 5", "", ""],
    ["", "Sans id", "", ""],
    [" 7 ", "Espaces", "", "1"],
]


def test_copy_and_record_by_record_give_the_same_snapshot(db, loader, tmp_path):
    path = write_csv(tmp_path / "c.csv", TRICKY_ROWS)
    by_copy = load(loader, path)
    copied = snapshot(db)
    by_records = load(loader, path, limit=10**6)
    assert (by_copy.method, by_records.method) == ("copy", "parsed")
    assert snapshot(db) == copied
    assert (by_copy.rows_read, by_copy.rows_loaded, by_copy.rows_rejected, by_copy.rows_deleted) == (9, 7, 2, 2)
    same = {"method": "copy", "seconds": None, "previous_live": None}
    assert by_records.as_details() | same == by_copy.as_details() | same
    assert [row[5] for row in copied[0]] == [2, 3, 4, 6, 7, 8, 13]  # lines as an editor counts them
    assert [reject[:3] for reject in copied[1]] == [
        (11, "Comp_CompanyId", "duplicate id 5 (line 7 kept)"),
        (12, "Comp_CompanyId", "empty id"),
    ]


@pytest.mark.parametrize(
    ("content", "method", "lines"),
    [
        (b"Comp_CompanyId,Comp_Name,Comp_Deleted\n1,a,\n2,b,\n", "copy", [2, 3]),
        (b"Comp_CompanyId,Comp_Name,Comp_Deleted\n1,a,\n2,b\n", "parsed", [2]),  # a field short
        (b"Comp_CompanyId,Comp_Name,Comp_Deleted\n1,a,\n\n2,b,\n", "parsed", [2, 4]),  # a blank line
        # an unterminated quote: its line is rejected, the next line is a record of its own
        (b'Comp_CompanyId,Comp_Name,Comp_Deleted\n1,"a,\n2,b,\n', "parsed", [3]),
        (b"Comp_CompanyId,Comp_Name,Comp_Deleted\r1,a,\r2,b,\r", "copy", [2, 3]),  # old Mac line ends
        (b"Comp_CompanyId,Comp_Name,Comp_Deleted\n1,a,\n2,b,", "copy", [2, 3]),  # no final line end
    ],
    ids=["clean", "short-record", "blank-line", "open-quote", "cr-line-ends", "no-final-newline"],
)
def test_postgres_parses_the_file_unless_a_record_needs_python(db, loader, tmp_path, content, method, lines):
    path = tmp_path / "c.csv"
    path.write_bytes(content)
    result = load(loader, path)
    assert result.method == method
    assert sorted(row[3] for row in bronze(db).values()) == lines
