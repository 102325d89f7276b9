"""The bundled samples: deterministic, in the shapes real exports take, and covering every status."""

from __future__ import annotations

import filecmp

import pytest

from crm_reconciliation.config.paths import INCLUDE_DIR
from crm_reconciliation_dev.demo_mirror import DEMO_DIR, load_demo_mirror
from crm_reconciliation_dev.sample_data import Sizes, generate

BRONZE = INCLUDE_DIR / "bronze_layer"
MIRROR = DEMO_DIR


def test_the_bundled_files_are_the_generator_output(tmp_path):
    generate(tmp_path / "bronze", tmp_path / "mirror", Sizes())
    for folder, bundled in (("bronze", BRONZE), ("mirror", MIRROR)):
        names = sorted(path.name for path in (tmp_path / folder).iterdir())
        assert names == sorted(path.name for path in bundled.glob("*.csv"))
        mismatch = filecmp.cmpfiles(tmp_path / folder, bundled, names, shallow=False)[1]
        assert mismatch == [], f"regenerate with python -m crm_reconciliation sample-data: {mismatch}"


def test_exports_take_the_shapes_of_real_ones():
    company = (BRONZE / "Bronze_Company.csv").read_bytes()
    person = (BRONZE / "Bronze_Person.csv").read_bytes()
    communication = (BRONZE / "Bronze_Communication.csv").read_text(encoding="utf-8")
    assert company.startswith(b"\xef\xbb\xbf")
    assert "Société".encode("cp1252") in person
    assert person.split(b"\r\n", 1)[0].count(b";") > 10
    assert '""devis""' in communication
    assert ',"Bonjour,\r\n' in communication or ',"Bonjour,\n' in communication


@pytest.mark.integration
def test_the_mirror_holds_every_case_reconciliation_must_report(db):
    load_demo_mirror(db, MIRROR, replace=True)
    with db.cursor() as cursor:
        cursor.execute("select count(*) from hubspot.companies where nullif(btrim(icalps_company_id), '') is null")
        no_legacy_id = cursor.fetchone()[0]
        cursor.execute(
            "select count(*) from (select btrim(icalps_company_id) from hubspot.companies"
            " where icalps_company_id <> '' group by 1 having count(*) > 1) as twice"
        )
        linked_twice = cursor.fetchone()[0]
        cursor.execute("select count(*) from hubspot.companies where icalps_company_id ~ '(\\.0|^ )'")
        odd_ids = cursor.fetchone()[0]
        cursor.execute(
            "select count(*) from information_schema.columns where table_schema = 'hubspot'"
            " and column_name like 'stacksync_record_id_%%' and data_type = 'text'"
        )
        sync_columns = cursor.fetchone()[0]
    assert no_legacy_id > 0, "probable/new candidates"
    assert linked_twice > 0, "conflict: one legacy id on two records"
    assert odd_ids > 0, "legacy ids written '123.0' or ' 123'"
    assert sync_columns == 4
    assert load_demo_mirror(db, MIRROR) == {"companies": -1, "contacts": -1, "deals": -1, "engagements": -1}
