"""What the load promises, class by class of bad input: every record of the file is in bronze or
in the rejects, none merged into another, none altered without a trace, and a snapshot that
would wipe the previous one is refused.

Each test writes its file byte by byte, so the expected records are the ones the test wrote,
not what a CSV library (or the code under test) makes of them.
"""

from __future__ import annotations

import logging
from datetime import date

import pytest

from crm_reconciliation.config.registry import default_registry
from crm_reconciliation.hooks.warehouse import WarehouseHook
from crm_reconciliation.load.dialect import BronzeFileError
from crm_reconciliation.load.loader import BronzeLoader, MissingColumnsRefused, SnapshotDropRefused
from tests.helpers import create_staging

pytestmark = pytest.mark.integration

COMPANIES = default_registry().get("companies")
HEADER = "Comp_CompanyId,Comp_Name,Addr_City,Comp_Deleted"


@pytest.fixture
def loader(db):
    create_staging(db, COMPANIES)
    return BronzeLoader(WarehouseHook(), COMPANIES)  # hubspot_postgres: the test database


def load(loader, path, **options):
    options.setdefault("max_reject_rate", 1.0)
    return loader.load(path, snapshot_date=date(2026, 3, 14), run_id="test_run", **options)


def write(path, lines: list[str], *, encoding: str = "utf-8", header: str = HEADER) -> object:
    path.write_bytes(("\r\n".join([header, *lines]) + "\r\n").encode(encoding))
    return path


def companies(count: int, start: int = 1) -> list[str]:
    return [f"{n},Entreprise {n},Ville {n}," for n in range(start, start + count)]


def names(db) -> dict[int, str]:
    return dict(db.execute("select staging.crm_legacy_id(comp_companyid), comp_name from bronze.company"))


def rejects(db, outcome: str = "rejected") -> list[tuple]:
    return db.execute(
        "select line_number, field, reason from staging.bronze_rejects where outcome = %s order by line_number",
        (outcome,),
    ).fetchall()


def accounted(result, records_written: int) -> None:
    """The load's own promise: every record written is loaded or rejected, none twice."""
    assert result.rows_read == records_written
    assert result.rows_loaded + result.rows_rejected == records_written


# -- Bare quotes ---------------------------------------------------------------------------------


def test_two_stray_quotes_lines_apart_swallow_nothing(db, loader, tmp_path):
    lines = companies(2000)
    lines[99] = '100,Garage "du Lac,Annecy,'
    lines[104] = '105,Atelier Martin" SARL,Annecy,'
    result = load(loader, write(tmp_path / "c.csv", lines))
    accounted(result, 2000)
    assert (result.rows_loaded, result.rows_rejected) == (2000, 0)
    loaded = names(db)
    assert loaded[100] == 'Garage "du Lac'
    assert loaded[105] == 'Atelier Martin" SARL'
    assert [loaded[n] for n in range(101, 105)] == [f"Entreprise {n}" for n in range(101, 105)]
    assert db.execute("select addr_city from bronze.company where comp_companyid = '100'").fetchone() == ("Annecy",)


def test_quotes_inside_an_unquoted_field_are_kept(db, loader, tmp_path):
    result = load(loader, write(tmp_path / "c.csv", ['1,Tubes 5" et 7",Lyon,', '2,"Dupont ""le grand""",Paris,']))
    accounted(result, 2)
    assert names(db) == {1: 'Tubes 5" et 7"', 2: 'Dupont "le grand"'}


def test_a_quote_that_never_closes_is_rejected_with_line_and_field(db, loader, tmp_path):
    lines = companies(10)
    lines[3] = '4,"Garage du Lac,Annecy,'
    result = load(loader, write(tmp_path / "c.csv", lines))
    accounted(result, 10)
    assert result.rows_rejected == 1
    assert sorted(names(db)) == [n for n in range(1, 11) if n != 4]
    ((line, field, reason),) = rejects(db)
    assert (line, field) == (5, "comp_name")
    assert "never closes" in reason


def test_a_multi_line_note_is_still_one_record(db, loader, tmp_path):
    lines = ['1,"Bonjour,\r\nle devis ""A"" est joint\r\nCordialement",Lyon,', *companies(3, start=2)]
    result = load(loader, write(tmp_path / "c.csv", lines))
    accounted(result, 4)
    assert names(db)[1] == 'Bonjour,\r\nle devis "A" est joint\r\nCordialement'
    assert result.method == "copy"


# -- Encodings -----------------------------------------------------------------------------------


def test_utf8_with_one_windows_1252_record_is_read_as_utf8_and_the_record_repaired(db, loader, tmp_path, caplog):
    lines = [f"{n},Raphaël Éléonore {n},Besançon," for n in range(1, 4001)]
    body = ("\r\n".join([HEADER, *lines]) + "\r\n").encode("utf-8")
    stray = "77777,Café Müller,Orléans,\r\n".encode("cp1252")
    (tmp_path / "c.csv").write_bytes(body + stray)
    with caplog.at_level(logging.WARNING):
        result = load(loader, tmp_path / "c.csv")
    accounted(result, 4001)
    assert (result.rows_loaded, result.rows_repaired, result.encoding) == (4001, 1, "utf-8+cp1252")
    loaded = names(db)
    assert {loaded[n] for n in range(1, 4001)} == {f"Raphaël Éléonore {n}" for n in range(1, 4001)}
    assert loaded[77777] == "Café Müller"
    ((line, field, reason),) = rejects(db, outcome="repaired")
    assert (line, field) == (4002, "comp_name, addr_city")
    assert "Windows-1252" in reason
    assert rejects(db) == []
    assert "Windows-1252" in caplog.text


def test_utf8_bom_file_with_one_bad_byte_loads_and_names_the_line(db, loader, tmp_path):
    content = b"\xef\xbb\xbf" + f"{HEADER}\r\n1,Société,Lyon,\r\n".encode() + b"2,Soci\xe9t\xe9 B,Lyon,\r\n"
    (tmp_path / "c.csv").write_bytes(content)
    result = load(loader, tmp_path / "c.csv")
    accounted(result, 2)
    assert names(db) == {1: "Société", 2: "Société B"}
    assert [row[0] for row in rejects(db, outcome="repaired")] == [3]


@pytest.mark.parametrize(
    ("majority", "minority", "encoding", "how"),
    [
        ("cp1252", "utf-8", "cp1252+utf-8", "read as UTF-8 in a Windows-1252 file"),
        ("utf-8", "cp1252", "utf-8+cp1252", "read as Windows-1252 in a UTF-8 file"),
    ],
    ids=["windows-1252-with-utf8-records", "utf8-with-windows-1252-records"],
)
def test_mixed_encodings_read_each_record_by_its_bytes(db, loader, tmp_path, caplog, majority, minority, encoding, how):
    written = {n: f"Société Générale {n}" for n in range(1, 2001)}
    others = (3, 500, 1000, 1500, 2000)  # records written by the other tool
    written.update({n: f"Systèmes Embarqués {n}" for n in others})
    lines = [f"{n},{name},Besançon,".encode(minority if n in others else majority) for n, name in written.items()]
    path = tmp_path / "c.csv"
    path.write_bytes(b"\r\n".join([HEADER.encode(), *lines]) + b"\r\n")
    with caplog.at_level(logging.WARNING):
        result = load(loader, path)
    accounted(result, 2000)
    # Record by record: COPY would read the whole file in one encoding.
    assert (result.encoding, result.method, result.rows_loaded, result.rows_repaired) == (encoding, "parsed", 2000, 5)
    assert names(db) == written  # no mojibake: every name as it was written
    assert db.execute("select distinct addr_city from bronze.company").fetchall() == [("Besançon",)]
    # Listed with their file line (the header is line 1) and the fields holding a repaired character.
    assert rejects(db, outcome="repaired") == [(n + 1, "comp_name, addr_city", f"{how}: ç, è, é") for n in others]
    assert rejects(db) == []
    assert f"5 record(s) of {path} {how} and loaded" in caplog.text


def test_utf8_fields_inside_windows_1252_records_are_read_as_utf8(db, loader, tmp_path):
    """A tool pasted five names in UTF-8 into an otherwise Windows-1252 export: the line as a
    whole is no UTF-8, its name is; each character is read by its bytes."""
    written = {n: f"Société Générale {n}" for n in range(1, 2001)}
    pasted = (3, 500, 1000, 1500, 2000)
    written.update({n: f"Systèmes Embarqués – Œuvre {n}" for n in pasted})
    # Their city is Windows-1252 and shares a letter (é) with the pasted name: not named as repaired.
    cities = {n: "Orléans" if n in pasted else "Besançon" for n in written}
    lines = [
        f"{n},".encode("cp1252") + name.encode("utf-8" if n in pasted else "cp1252") + f",{cities[n]},".encode("cp1252")
        for n, name in written.items()
    ]
    path = tmp_path / "c.csv"
    path.write_bytes(b"\r\n".join([HEADER.encode(), *lines]) + b"\r\n")
    result = load(loader, path)
    accounted(result, 2000)
    assert (result.encoding, result.rows_loaded, result.rows_repaired) == ("cp1252+utf-8", 2000, 5)
    assert names(db) == written  # not "SystÃ¨mes EmbarquÃ©s"
    found = db.execute("select comp_companyid::bigint, addr_city from bronze.company").fetchall()
    assert dict(found) == cities
    expected = "read as UTF-8 in a Windows-1252 file: è, é, Œ, –"
    assert rejects(db, outcome="repaired") == [(n + 1, "comp_name", expected) for n in pasted]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_exports_are_recognised(db, loader, tmp_path, encoding):
    lines = ["1,Société Générale,Paris,", "2,Bürkert,Annecy,1"]
    result = load(loader, write(tmp_path / "c.csv", lines, encoding=encoding))
    accounted(result, 2)
    assert names(db) == {1: "Société Générale", 2: "Bürkert"}
    assert result.rows_deleted == 1


# -- Destructive snapshots -------------------------------------------------------------------------


def test_an_empty_export_does_not_replace_a_full_snapshot(db, loader, tmp_path):
    load(loader, write(tmp_path / "full.csv", companies(2000)), max_drop_rate=0.25)
    with pytest.raises(SnapshotDropRefused) as refused:
        load(loader, write(tmp_path / "empty.csv", []), max_drop_rate=0.25)
    message = str(refused.value)
    assert "0 live records where the previous bronze.company had 2000" in message
    assert "allow_snapshot_drop" in message
    assert len(names(db)) == 2000
    # The override: the same file goes through when no drop limit applies.
    result = load(loader, tmp_path / "empty.csv", max_drop_rate=None)
    assert (result.rows_read, names(db)) == (0, {})


def test_a_small_drop_goes_through(db, loader, tmp_path):
    load(loader, write(tmp_path / "full.csv", companies(100)), max_drop_rate=0.25)
    result = load(loader, write(tmp_path / "fewer.csv", companies(80)), max_drop_rate=0.25)
    assert (result.previous_live, result.rows_loaded) == (100, 80)


def test_deleted_flag_meanings(db, loader, tmp_path):
    lines = [
        "1,Vivante 0,Lyon,0",
        "2,Vivante N,Lyon,N",
        "3,Supprimée,Lyon,1",
        "4,Supprimée Y,Lyon, y ",
        "5,Supprimée le,Lyon,2019-03-14 09:30:00",
        "6,Vivante,Lyon,",
        "7,Inconnue,Lyon,peut-être",
    ]
    result = load(loader, write(tmp_path / "c.csv", lines))
    accounted(result, 7)
    live = {row[0] for row in db.execute("select legacy_id from bronze.company_live")}
    assert live == {1, 2, 6}
    assert result.rows_deleted == 3
    ((line, field, reason),) = rejects(db)
    assert (line, field) == (8, "Comp_Deleted")
    assert "'peut-être'" in reason


def test_every_row_deleted_is_refused_after_a_live_snapshot_and_said_loudly_on_a_first(db, loader, tmp_path, caplog):
    all_deleted = [f"{n},Entreprise {n},Ville {n},1" for n in range(1, 2001)]
    with caplog.at_level(logging.WARNING):
        first = load(loader, write(tmp_path / "deleted.csv", all_deleted), max_drop_rate=0.25)
    assert (first.rows_loaded, first.rows_deleted) == (2000, 2000)
    assert "EVERY ROW" in caplog.text
    load(loader, write(tmp_path / "live.csv", companies(2000)), max_drop_rate=0.25)
    with pytest.raises(SnapshotDropRefused, match="would drop 2000"):
        load(loader, tmp_path / "deleted.csv", max_drop_rate=0.25)
    assert db.execute("select count(*) from bronze.company_live").fetchone()[0] == 2000


# -- One bad value is one bad row ----------------------------------------------------------------


def test_header_names_cannot_act_as_placeholders(db, loader, tmp_path):
    header = f"{HEADER},Comp%Custom,%(run_id)s"
    lines = ["1,A,Lyon,,x%y,%(object_type)s", "1,Doublon,Lyon,,z,w", ",Sans id,Lyon,,a,b"]
    result = load(loader, write(tmp_path / "c.csv", lines, header=header))
    accounted(result, 3)
    assert db.execute('select "comp%custom", "%(run_id)s" from bronze.company').fetchall() == [
        ("x%y", "%(object_type)s")
    ]
    raw = dict(db.execute("select line_number, raw_text from staging.bronze_rejects"))
    assert raw == {3: "1,Doublon,Lyon,,z,w", 4: ",Sans id,Lyon,,a,b"}


def test_a_field_over_128_kib_loads_on_both_paths(db, loader, tmp_path):
    big = "x" * 200_000
    path = write(tmp_path / "c.csv", [f'1,"{big}",Lyon,', "2,Court,Lyon,"])
    by_copy = load(loader, path)
    by_records = load(loader, path, limit=10)
    assert (by_copy.method, by_records.method) == ("copy", "parsed")
    accounted(by_records, 2)
    assert names(db)[1] == big


def test_records_that_vanish_between_file_and_table_fail_the_load(db, loader, tmp_path):
    load(loader, write(tmp_path / "good.csv", companies(5)))
    db.execute(
        "create function bronze.swallow() returns trigger language plpgsql as "
        "$$ begin if new.comp_name = 'Entreprise 3' then return null; end if; return new; end $$"
    )
    db.execute("create trigger swallow before insert on bronze.company for each row execute function bronze.swallow()")
    with pytest.raises(BronzeFileError, match="holds 6 records by its CSV rules, but 5 reached") as error:
        load(loader, write(tmp_path / "c.csv", companies(6)))
    assert str(error.value).startswith(str(tmp_path / "c.csv"))
    assert len(names(db)) == 5


# -- Mapped columns that vanish ------------------------------------------------------------------

# Every column the registry maps for companies, as the legacy export names them.
MAPPED = (
    "Comp_CompanyId,Comp_Name,Comp_WebSite,Comp_PhoneNumber,Comp_Type,Comp_Territory,Comp_Sector,Comp_Employees,"
    "Comp_Revenue,Comp_Source,Addr_Street1,Addr_City,Addr_State,Addr_Country,Addr_PostCode,Comp_CreatedDate,"
    "Comp_Deleted"
)
# The same export with three headers translated by a French-speaking tool.
TRANSLATED = MAPPED.replace("Comp_WebSite", "site_web").replace("Comp_PhoneNumber", "téléphone")
TRANSLATED = TRANSLATED.replace("Addr_City", "ville")
VANISHED = ["Comp_WebSite", "Comp_PhoneNumber", "Addr_City"]


def exported(count: int, *, filled: bool = True) -> list[str]:
    """Companies with a website, a phone and a city (or those fields empty), the other fields empty."""
    rows = []
    for n in range(1, count + 1):
        site, phone, city = (f"www.e{n}.fr", f"04 76 {n:06d}", f"Ville {n}") if filled else ("", "", "")
        rows.append(f"{n},Entreprise {n},{site},{phone},,,,,,,,{city},,,,,")
    return rows


def test_mapped_columns_that_vanish_are_refused_against_a_snapshot_that_had_them(db, loader, tmp_path, caplog):
    full = write(tmp_path / "full.csv", [*exported(2000), "x,Sans id" + "," * 15], header=MAPPED)
    assert load(loader, full).missing_columns == ()
    translated = write(tmp_path / "translated.csv", [*exported(2000), "y,Sans id" + "," * 15], header=TRANSLATED)
    with caplog.at_level(logging.WARNING), pytest.raises(MissingColumnsRefused) as refused:
        load(loader, translated)
    message = str(refused.value)
    assert message.startswith(
        f"{translated}: the header (line 1) lacks the mapped column(s) Comp_WebSite, Comp_PhoneNumber, Addr_City, "
        "which the previous bronze.company snapshot holds values in (Comp_WebSite in 2000, Comp_PhoneNumber in 2000, "
        "Addr_City in 2000 of its 2000 live records)"
    )
    assert "Columns of the file the registry does not name: site_web, téléphone, ville." in message
    assert "run once with the param allow_missing_columns set to true" in message
    assert refused.value.as_details() == {
        "missing_columns": VANISHED,
        "missing_columns_refused": dict.fromkeys(VANISHED, 2000),
    }
    assert f"{translated} lacks mapped column(s) Comp_WebSite, Comp_PhoneNumber, Addr_City" in caplog.text
    # The previous snapshot stays whole, its reject too; the refused file's reject is kept beside it.
    kept = "select count(comp_website), count(comp_phonenumber), count(addr_city) from bronze.company"
    assert db.execute(kept).fetchone() == (2000, 2000, 2000)
    found = db.execute("select outcome, line_number, reason, source_file from staging.bronze_rejects order by 1")
    assert found.fetchall() == [
        ("refused", 2002, "non-numeric id 'y'", str(translated)),
        ("rejected", 2002, "non-numeric id 'x'", str(full)),
    ]
    # Accepted for one run: loaded, the vanished columns named in the load's details.
    with caplog.at_level(logging.WARNING):
        accepted = load(loader, translated, allow_missing_columns=True)
    assert (accepted.rows_loaded, accepted.missing_columns) == (2000, tuple(VANISHED))
    assert accepted.as_details()["missing_columns"] == VANISHED
    assert "allow_missing_columns is on" in caplog.text
    assert db.execute(kept).fetchone() == (0, 0, 0)
    moved = 'select count(site_web), count("téléphone"), count(ville) from bronze.company'
    assert db.execute(moved).fetchone() == (2000, 2000, 2000)
    # The next export like it no longer empties anything: it loads, still naming the columns.
    assert load(loader, translated).missing_columns == tuple(VANISHED)


def test_a_vanished_column_the_previous_snapshot_held_no_value_in_is_only_named(db, loader, tmp_path, caplog):
    load(loader, write(tmp_path / "empty_fields.csv", exported(100, filled=False), header=MAPPED))
    with caplog.at_level(logging.WARNING):
        result = load(loader, write(tmp_path / "translated.csv", exported(100), header=TRANSLATED))
    assert (result.rows_loaded, result.as_details()["missing_columns"]) == (100, VANISHED)
    assert (
        f"{tmp_path / 'translated.csv'} lacks mapped column(s) Comp_WebSite, Comp_PhoneNumber, Addr_City: their "
        "properties are empty for every record of this snapshot (columns of the file the registry does not name: "
        "site_web, téléphone, ville)"
    ) in caplog.text


# -- Excel's sep= line ---------------------------------------------------------------------------

SEP_FILES = {
    # a quoted field over two lines: COPY's line numbers are renumbered (number_lines.sql)
    "multi-line": (
        b"sep=;\r\n"
        b"Comp_CompanyId;Comp_Name;Addr_City;Comp_Deleted\r\n"
        b'1;"Bonjour,\r\nle devis";Lyon;\r\n'
        b"x;Sans id;Lyon;\r\n"
        b"3;Dupont, Fils;Nice;\r\n",
        {"Bonjour,\r\nle devis": 3, "Dupont, Fils": 6},
        5,
    ),
    # one record a line, after a BOM and a quoted sep line
    "bom-quoted": (
        b'\xef\xbb\xbf"sep=,"\n'
        b"Comp_CompanyId,Comp_Name,Addr_City,Comp_Deleted\n"
        b"1,Dupont; Fils,Lyon,\n"
        b"x,Sans id,Lyon,\n"
        b"3,Martin,Nice,\n",
        {"Dupont; Fils": 3, "Martin": 5},
        4,
    ),
}


@pytest.mark.parametrize("limit", [None, 10**6], ids=["copy", "record-by-record"])
@pytest.mark.parametrize("name", SEP_FILES)
def test_an_excel_sep_line_sets_the_delimiter_and_lines_stay_file_lines(db, loader, tmp_path, caplog, name, limit):
    content, lines, rejected_line = SEP_FILES[name]
    path = tmp_path / "c.csv"
    path.write_bytes(content)
    with caplog.at_level(logging.INFO):
        result = load(loader, path, limit=limit)
    assert "set by Excel's sep= first line, the header on line 2" in caplog.text
    assert result.method == ("copy" if limit is None else "parsed")
    accounted(result, 3)
    assert dict(db.execute("select comp_name, _source_line from bronze.company")) == lines
    assert rejects(db) == [(rejected_line, "Comp_CompanyId", "non-numeric id 'x'")]


def test_a_short_record_after_a_sep_line_is_rejected_with_its_file_line(db, loader, tmp_path):
    path = tmp_path / "c.csv"
    path.write_bytes(b"sep=|\nComp_CompanyId|Comp_Name|Addr_City|Comp_Deleted\n1|a, b; c|Lyon|\n2|court\n3|c|Nice|\n")
    result = load(loader, path)
    accounted(result, 3)
    assert (result.method, result.delimiter) == ("parsed", "|")
    assert dict(db.execute("select comp_name, _source_line from bronze.company")) == {"a, b; c": 3, "c": 5}
    assert rejects(db) == [(4, None, "expected 4 fields, found 2")]
