"""One huge value (a 10 MB paste in a legacy field) is compared on its first 65,536 characters,
HubSpot's own limit (``staging.crm_compared``), and stays whole everywhere else: bronze, staging,
the diff and the value pushed. Correctness only: what it costs is measured beside a run without
it by ``crm_reconciliation_dev.benchmarks.huge_value`` (``make bench-huge-value``), not timed here.
Every record of these small scenarios is in the u sample, which compares each with every other."""

from __future__ import annotations

import psycopg
import pytest

from crm_reconciliation.config.registry import default_registry
from tests.helpers import create_mirror, insert_rows, reset_object, run_reconcile_and_score

pytestmark = pytest.mark.integration

REGISTRY = default_registry()
COMPANIES = REGISTRY.get("companies")
CONTACTS = REGISTRY.get("contacts")
COMPARED = 65_536  # characters a comparison reads


def huge(tag: str, megabytes: int = 10) -> str:
    """About ``megabytes`` MB of distinct words, told apart by ``tag`` from the first word on."""
    return " ".join(f"{tag}{n:07d}" for n in range(megabytes * 1_000_000 // (len(tag) + 8)))


NAME = huge("paste")
OTHER_NAME = huge("autre")
ADDRESS = huge("rue")


def rows(db, spec) -> dict[int, dict]:
    names = REGISTRY.template_params(spec.name)
    cursor = db.execute(
        f"select {names['legacy_key']}, reconciliation_status, match_confidence, legacy_properties, field_diffs,"
        f" properties_to_update, score_components, notes, {names['hubspot_key']}"
        f" from staging.{names['staging_table']}"
    )
    names = ["status", "confidence", "legacy", "diffs", "updates", "components", "notes", "hubspot_id"]
    return {row[0]: dict(zip(names, row[1:], strict=True)) for row in cursor}


def level(row: dict, comparison: str) -> str:
    return row["components"]["comparisons"][comparison]["level"]


@pytest.fixture(scope="module")
def companies(database_uri: str) -> dict[int, dict]:
    """200 companies linked by id whose HubSpot twins agree on everything but the huge values
    below, and two without a link whose HubSpot twins carry no legacy id; reconciled and scored
    once for the module (each 10 MB value takes a second or two to normalise and store)."""
    with psycopg.connect(database_uri, autocommit=True) as db:
        return _companies(db)


def _companies(db) -> dict[int, dict]:
    reset_object(db, COMPANIES)
    huge_names = {
        7: (NAME, NAME),  # equal on both sides
        8: (NAME, "Entreprise 8"),  # huge against normal
        9: (NAME + " alpha", NAME + " omega"),  # equal on the compared part, different after it
    }
    legacy, hubspot = [], []
    for n in range(1, 201):
        legacy_name, hubspot_name = huge_names.get(n, (f"Entreprise {n}", f"Entreprise {n}"))
        legacy.append(
            {
                "comp_companyid": n,
                "comp_name": legacy_name,
                "comp_website": f"e{n}.fr",
                "comp_phonenumber": f"04 76 00 {n // 100:02d} {n % 100:02d}",
                "addr_city": "Grenoble",
                "addr_postcode": "38000",
            }
        )
        hubspot.append(
            {
                "hs_object_id": str(100 + n),
                "icalps_company_id": str(n),
                "name": hubspot_name,
                "domain": f"e{n}.fr",
                "phone": f"+3347600{n // 100:02d}{n % 100:02d}",
                "city": "Grenoble",
                "zip": "38000",
                "address": None,
            }
        )
    # Twins without the legacy id: one by a huge name held on both sides, one whose legacy
    # address is huge and HubSpot's is not.
    legacy.append(
        {
            "comp_companyid": 300,
            "comp_name": OTHER_NAME,
            "comp_website": "geant.fr",
            "comp_phonenumber": "04 76 99 00 00",
            "addr_city": "Grenoble",
            "addr_postcode": "38000",
        }
    )
    hubspot.append(
        {
            "hs_object_id": "900",
            "icalps_company_id": None,
            "name": OTHER_NAME,
            "domain": "geant.fr",
            "phone": "+33476990000",
            "city": "Grenoble",
            "zip": "38000",
            "address": None,
        }
    )
    legacy.append(
        {
            "comp_companyid": 301,
            "comp_name": "Petite Fabrique Alpine",
            "comp_website": "petite-fabrique.fr",
            "comp_phonenumber": "04 76 98 00 00",
            "addr_street1": ADDRESS,
            "addr_city": "Grenoble",
            "addr_postcode": "38000",
        }
    )
    hubspot.append(
        {
            "hs_object_id": "901",
            "icalps_company_id": None,
            "name": "Petite Fabrique Alpine",
            "domain": "petite-fabrique.fr",
            "phone": "+33476980000",
            "city": "Grenoble",
            "zip": "38000",
            "address": "1 rue Haute",
        }
    )
    insert_rows(db, "bronze.company", legacy)
    create_mirror(db, "companies", hubspot)
    run_reconcile_and_score(db, COMPANIES)
    result = rows(db, COMPANIES)
    result[7]["bronze"] = db.execute(
        "select comp_name from bronze.company where staging.crm_legacy_id(comp_companyid) = 7"
    ).fetchone()[0]
    return result


def test_equal_huge_values_agree_exactly_and_stay_whole(companies):
    row = companies[7]
    assert row["status"] == "matched"
    assert level(row, "name") == "exact"
    assert row["legacy"]["name"] == NAME  # staging keeps the whole value
    assert "name" not in row["diffs"]
    assert "name" not in row["updates"]
    # The pair's explanation shows what was compared: the first 65,536 characters.
    assert row["components"]["comparisons"]["name"]["legacy"] == NAME[:COMPARED]
    assert row["components"]["comparisons"]["name"]["hubspot"] == NAME[:COMPARED]
    assert row["bronze"] == NAME  # and so does bronze


def test_a_huge_value_against_a_normal_one_disagrees_and_is_staged_whole(companies):
    """Staged whole, the diff as it is; the push holds it back for its length (test_value_conversion)."""
    row = companies[8]
    assert level(row, "name") == "else"
    # Everything else agrees: still the same company.
    assert row["status"] == "matched"
    assert row["diffs"]["name"] == {"legacy": NAME, "hubspot": "Entreprise 8", "action": "update"}
    assert row["updates"]["name"] == NAME


def test_values_equal_on_the_compared_part_agree_but_their_diff_reads_them_whole(companies):
    """The comparison reads the first 65,536 characters (beyond them HubSpot holds nothing): the
    pair agrees; the diff compares whole values, so the legacy value is still pushed."""
    row = companies[9]
    assert level(row, "name") == "exact"
    assert row["status"] == "matched"
    assert row["diffs"]["name"]["legacy"] == NAME + " alpha"
    assert row["diffs"]["name"]["hubspot"] == NAME + " omega"
    assert row["updates"]["name"] == NAME + " alpha"


def test_twins_without_a_link_are_found_despite_huge_values(companies):
    by_name = companies[300]
    assert (by_name["status"], by_name["hubspot_id"]) == ("probable", "900")
    assert level(by_name, "name") == "exact"
    by_address = companies[301]
    assert (by_address["status"], by_address["hubspot_id"]) == ("probable", "901")
    assert level(by_address, "address") == "else"
    assert by_address["legacy"]["address"] == ADDRESS
    assert by_address["diffs"]["address"]["legacy"] == ADDRESS
    # Every other record is untouched by them.
    assert all(companies[n]["status"] == "matched" for n in range(1, 201))


def test_huge_person_names_are_compared_on_their_compared_part(db):
    """A person's names go through edit distance and are read crossed (first against last): a
    10 MB last name against a normal one disagrees, an equal huge first name agrees exactly."""
    reset_object(db, CONTACTS)
    legacy, hubspot = [], []
    for n in range(1, 101):
        first, last = f"Prenom{n}", f"Nom{n}"
        legacy_first, hubspot_first = {5: (NAME, NAME)}.get(n, (first, first))
        legacy_last = NAME if n == 6 else last
        legacy.append(
            {
                "pers_personid": n,
                "pers_firstname": legacy_first,
                "pers_lastname": legacy_last,
                "pers_emailaddress": f"p{n}@exemple.fr",
                "pers_phonenumber": f"04 76 00 {n // 100:02d} {n % 100:02d}",
                "comp_name": "Exemple",
            }
        )
        hubspot.append(
            {
                "hs_object_id": str(1000 + n),
                "icalps_contact_id": str(n),
                "firstname": hubspot_first,
                "lastname": last,
                "email": f"p{n}@exemple.fr",
                "phone": f"+3347600{n // 100:02d}{n % 100:02d}",
                "company": "Exemple",
            }
        )
    insert_rows(db, "bronze.person", legacy)
    create_mirror(db, "contacts", hubspot)
    run_reconcile_and_score(db, CONTACTS)
    result = rows(db, CONTACTS)
    assert level(result[5], "firstname") == "exact"
    assert result[5]["legacy"]["firstname"] == NAME
    assert level(result[6], "lastname") == "else"
    assert result[6]["updates"]["lastname"] == NAME
    assert {result[n]["status"] for n in range(1, 101)} == {"matched"}
