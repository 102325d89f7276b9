"""Every normalising function over a real PostgreSQL, table-driven."""

from __future__ import annotations

import psycopg
import pytest

from crm_reconciliation.common.sql_templates import render, split_statements
from crm_reconciliation.dag_factory import FUNCTION_SCRIPTS

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def sql(database_uri):
    with psycopg.connect(database_uri, autocommit=True) as connection:
        connection.execute("drop schema if exists staging cascade")
        connection.execute("create schema staging")
        for template in FUNCTION_SCRIPTS:
            for statement in split_statements(render(template)):
                connection.execute(statement)

        def evaluate(expression: str, *values):
            return connection.execute(f"select {expression}", values).fetchone()[0]

        yield evaluate


@pytest.mark.parametrize(
    ("value", "expected"),
    [("  Société  ", "Société"), ("", None), ("   ", None), (None, None), ("\t\u00a0y\r\n", "y")],
)
def test_text_trims_and_blank_is_null(sql, value, expected):
    assert sql("staging.crm_text(%s)", value) == expected


def test_email_is_trimmed_and_lower_case(sql):
    assert sql("staging.crm_email(%s)", " Jean.DUPONT@Exemple.FR ") == "jean.dupont@exemple.fr"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://www.Exemple.fr/contact", "exemple.fr"),
        ("http://exemple.fr:8080", "exemple.fr"),
        ("WWW.EXEMPLE.FR", "exemple.fr"),
        ("exemple.fr/", "exemple.fr"),
        ("https://shop.exemple.co.uk/path?x=1#top", "shop.exemple.co.uk"),
        ("ftp://files.exemple.fr", "files.exemple.fr"),
        ("", None),
    ],
)
def test_domain(sql, value, expected):
    assert sql("staging.crm_domain(%s)", value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("04 76 12 34 56", "+33476123456"),
        ("+33476123456", "+33476123456"),
        ("+33 (0)4 76 12 34 56", "+33476123456"),
        ("0033 4 76 12 34 56", "+33476123456"),
        ("04.76.12.34.56", "+33476123456"),
        ("33476123456", "+33476123456"),
        ("+49 89 1234567", "+49891234567"),
        ("poste 12", "poste 12"),
        ("", None),
    ],
)
def test_phone_forms_compare_equal(sql, value, expected):
    assert sql("staging.crm_phone(%s, '33')", value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("12 500,50", "12500.5"),
        ("12\u00a0500,50", "12500.5"),
        ("12\u202f500", "12500"),
        ("1.250.000,5", "1250000.5"),
        ("12,500.50", "12500.5"),
        ("1,250,000", "1250000"),
        ("12,5", "12.5"),
        ("1250000", "1250000"),
        ("1.25e+06", "1250000"),
        ("-3,5", "-3.5"),
        ("beaucoup", None),
        ("12,50,3", None),
        ("", None),
    ],
)
def test_numbers_with_decimal_comma_and_thousands_spaces(sql, value, expected):
    assert sql("staging.crm_number_text(staging.crm_number(%s))", value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("14/03/2019", "2019-03-14"),
        ("2019-03-14 09:30:00.000", "2019-03-14"),
        ("2019-03-14", "2019-03-14"),
        ("2019-03-14T23:30:00Z", "2019-03-14"),
        ("1552521600000", "2019-03-14"),
        ("29/02/2020", "2020-02-29"),
        ("29/02/2019", None),
        ("31/04/2019", None),
        ("2019-13-01", None),
        ("14-03-2019", None),
        ("", None),
    ],
)
def test_dates_become_midnight_utc_dates(sql, value, expected):
    assert sql("staging.crm_iso_date(staging.crm_timestamp(%s, 'UTC'))", value) == expected


@pytest.mark.parametrize(
    ("value", "zone", "expected"),
    [
        ("2019-03-14 09:30:00.000", "UTC", "2019-03-14T09:30:00.000Z"),
        ("2019-03-14 09:30:00.250", "UTC", "2019-03-14T09:30:00.250Z"),
        ("2019-03-14 09:30:00.000", "Europe/Paris", "2019-03-14T08:30:00.000Z"),
        ("2019-07-14 09:30:00", "Europe/Paris", "2019-07-14T07:30:00.000Z"),
        ("14/03/2019 09:30", "UTC", "2019-03-14T09:30:00.000Z"),
        ("2019-03-14T09:30:00+01:00", "UTC", "2019-03-14T08:30:00.000Z"),
        ("2019-03-14T09:30:00Z", "Europe/Paris", "2019-03-14T09:30:00.000Z"),
        ("1552555800000", "UTC", "2019-03-14T09:30:00.000Z"),
        ("31/02/2019 25:61", "UTC", None),
        ("2019-03-14 24:00:00", "UTC", None),
    ],
)
def test_datetimes_become_iso_utc(sql, value, zone, expected):
    assert sql("staging.crm_iso_datetime(staging.crm_timestamp(%s, %s))", value, zone) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("123", 123),
        ("123.0", 123),
        (" 123", 123),
        ("123,00", 123),
        ("", None),
        ("abc", None),
        ("12a", None),
        ("-5", None),
        (None, None),
        ("99999999999999999999", None),
    ],
)
def test_legacy_ids(sql, value, expected):
    assert sql("staging.crm_legacy_id(%s)", value) == expected


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("Société Générale SA", "SOCIETE GENERALE"),
        ("Générale Société S.A.S.", "societe generale"),
        ("Bürkert Fluid Control GmbH", "Burkert Fluid Control"),
        ("Dupont & Fils SARL", "dupont fils"),
        ("L'Œuvre Électronique Ltd", "l oeuvre electronique"),
    ],
)
def test_names_fold_accents_legal_forms_and_word_order(sql, left, right):
    assert sql("staging.crm_fold_name(%s) = staging.crm_fold_name(%s)", left, right)


@pytest.mark.parametrize(
    ("accented", "plain"),
    [
        ("àâäåā", "aaaaa"),
        ("çćč", "ccc"),
        ("èéêëēėę", "eeeeeee"),
        ("ìíîïī", "iiiii"),
        ("ñń", "nn"),
        ("òóôõöøō", "ooooooo"),
        ("ùúûüū", "uuuuu"),
        ("ýÿ", "yy"),
        ("žźż", "zzz"),
        ("Zürich Ærø", "zurich aero"),
    ],
)
def test_every_accented_letter_folds_to_its_own_letter(sql, accented, plain):
    assert sql("staging.crm_fold(%s)", accented) == plain


def test_different_names_stay_different(sql):
    assert sql("staging.crm_fold_name(%s) <> staging.crm_fold_name(%s)", "Société Générale", "Crédit Agricole")
