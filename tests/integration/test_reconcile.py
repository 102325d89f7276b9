"""reconcile + score over a real PostgreSQL: every status, the diff rules, idempotency."""

from __future__ import annotations

import psycopg
import pytest

from crm_reconciliation.config.registry import default_registry
from tests.helpers import create_mirror, create_staging, insert_rows, run_reconcile_and_score
from tests.helpers import reconcile as reconcile_step

pytestmark = pytest.mark.integration

REGISTRY = default_registry()
COMPANIES = REGISTRY.get("companies")

# A legacy company as the bronze table holds it, and its HubSpot twin as the mirror holds it.
ACME = {
    "comp_name": "Acme Électronique SAS",
    "comp_website": "https://www.acme.fr/",
    "comp_phonenumber": "04 76 12 34 56",
    "addr_city": "Grenoble",
    "comp_sector": "Semiconductors",
    "comp_createddate": "2019-03-14 09:30:00.000",
}
ACME_HUBSPOT = {
    "name": "Acme Électronique SAS",
    "domain": "acme.fr",
    "website": "https://www.acme.fr/",
    "phone": "+33476123456",
    "city": "Grenoble",
    "industry": "Semiconductors",
    "createdate": "2019-03-14T09:30:00Z",
}
OTHER_HUBSPOT = {
    "name": "Boulangerie Martin",
    "domain": "martin-pain.fr",
    "phone": "+33 1 45 67 89 00",
    "city": "Paris",
    "industry": "Food",
    "createdate": "2021-01-01T00:00:00Z",
}


def company(legacy_id: int, **columns) -> dict:
    return {"comp_companyid": legacy_id, **ACME, **columns}


def twin(hubspot_id: str, legacy_id: str | None, **properties) -> dict:
    return {"hs_object_id": hubspot_id, "icalps_company_id": legacy_id, **ACME_HUBSPOT, **properties}


def reconcile(db, spec=COMPANIES) -> dict:
    return run_reconcile_and_score(db, spec)


def rows(db, table="companies_reconciliation", key="legacy_company_id") -> dict[int, dict]:
    cursor = db.execute(f"select * from staging.{table} order by {key}")
    names = [column.name for column in cursor.description]
    return {row[0]: dict(zip(names, row, strict=True)) for row in cursor}


@pytest.fixture
def scenario(db):
    """One legacy company per case, and the mirror that makes each case."""
    create_staging(db, COMPANIES)
    insert_rows(
        db,
        "bronze.company",
        [
            company(1, comp_sector="Aerospace"),  # matched, one property differs
            company(2),  # matched through '2.0'
            company(3),  # matched through ' 3'
            company(4),  # on two HubSpot records
            company(5),  # its id is on another entity
            company(6),  # nothing in HubSpot
            company(7, comp_employees="beaucoup"),  # unparsable value
            company(8, comp_name="  "),  # required name empty
            company(9, comp_website=None, addr_city=None),  # empty legacy values
            company(10, comp_createddate="2019-03-15 10:00:00.000"),  # read-only property differs
            company(11, _is_deleted=True),  # soft-deleted: not reconciled
        ],
    )
    create_mirror(
        db,
        "companies",
        [
            twin("101", "1"),
            twin("102", "2.0"),
            twin("103", " 3"),
            twin("104", "4"),
            twin("204", "4"),
            {"hs_object_id": "105", "icalps_company_id": "5", **OTHER_HUBSPOT},
            twin("107", "7"),
            twin("108", "8"),
            twin("109", "9"),
            twin("110", "10"),
            {"hs_object_id": "111", "icalps_company_id": "11", **OTHER_HUBSPOT, "name": "Garage Lefèvre"},
            {"hs_object_id": "998", "icalps_company_id": "998", **OTHER_HUBSPOT, "name": "Pharmacie Roux"},
            {"hs_object_id": "999", "icalps_company_id": "abc", **OTHER_HUBSPOT, "name": "Librairie Blanc"},
            {"hs_object_id": "500", "icalps_company_id": "", **OTHER_HUBSPOT},
            {"hs_object_id": "501", "icalps_company_id": None, **OTHER_HUBSPOT, "name": "Fromagerie Dubois"},
        ],
    )
    return db


def test_every_status_with_its_reason(scenario):
    summary = reconcile(scenario)
    result = rows(scenario)
    status = {key: row["reconciliation_status"] for key, row in result.items()}
    assert status == {
        1: "matched",
        2: "matched",
        3: "matched",
        4: "conflict",
        5: "conflict",
        6: "new",
        7: "rejected",
        8: "rejected",
        9: "matched",
        10: "matched",
    }
    assert summary["by_status"] == {"matched": 5, "conflict": 2, "new": 1, "rejected": 2}

    assert [result[key]["hubspot_company_id"] for key in (1, 2, 3)] == ["101", "102", "103"]
    assert result[1]["match_confidence"] == 100
    assert "legacy_id agree" in result[1]["notes"]
    for agreeing in ("name exact", "domain exact", "phone exact", "city exact"):
        assert agreeing in result[1]["notes"]

    assert result[4]["hubspot_company_id"] is None
    assert result[4]["candidate_hubspot_ids"] == ["104", "204"]
    assert "is on 2 HubSpot records (104, 204)" in result[4]["notes"]

    assert result[5]["hubspot_company_id"] == "105"
    assert result[5]["match_confidence"] < 60
    assert "look like different entities" in result[5]["notes"]

    assert result[6]["hubspot_company_id"] is None
    assert result[6]["notes"] == "No HubSpot record carries icalps_company_id 6. No similar HubSpot record."
    assert "Comp_Employees 'beaucoup' is not a valid number" in result[7]["notes"]
    assert "required Comp_Name is empty" in result[8]["notes"]
    assert 11 not in result


def test_only_writable_differing_properties_are_pushed(scenario):
    reconcile(scenario)
    result = rows(scenario)
    # industry is an enumeration: the legacy 'Aerospace' is read through the registry's value map.
    assert result[1]["properties_to_update"] == {"industry": "AVIATION_AEROSPACE"}
    assert result[1]["field_diffs"] == {
        "industry": {"legacy": "AVIATION_AEROSPACE", "hubspot": "Semiconductors", "action": "update"}
    }
    assert result[2]["properties_to_update"] == {}
    assert result[2]["field_diffs"] == {}
    # createdate is read only: compared and reported, never pushed.
    assert result[10]["properties_to_update"] == {}
    assert result[10]["field_diffs"]["createdate"] == {
        "legacy": "2019-03-15T10:00:00.000Z",
        "hubspot": "2019-03-14T09:30:00.000Z",
        "action": "read-only: compared, never pushed",
    }


def test_an_empty_legacy_value_never_clears_hubspot(scenario):
    reconcile(scenario)
    row = rows(scenario)[9]
    assert row["properties_to_update"] == {}
    assert row["field_diffs"]["website"]["action"] == "kept: the legacy value is empty"
    assert row["field_diffs"]["city"] == {
        "legacy": None,
        "hubspot": "Grenoble",
        "action": "kept: the legacy value is empty",
    }
    # City is compared by the model: empty on one side, it hits the null level and weighs nothing.
    assert row["score_components"]["comparisons"]["city"]["level"] == "null"
    assert row["score_components"]["comparisons"]["city"]["weight"] == 0
    assert row["match_confidence"] == 100


def test_clearing_when_the_mapping_says_so(scenario):
    mappings = tuple(
        mapping.model_copy(update={"clear_when_empty": True}) if mapping.property == "website" else mapping
        for mapping in COMPANIES.mappings
    )
    clearing = COMPANIES.model_copy(update={"mappings": mappings})
    reconcile_step(scenario, clearing)
    row = rows(scenario)[9]
    assert row["properties_to_update"] == {"website": ""}
    assert row["field_diffs"]["website"]["action"] == "clear"


def test_score_components_are_stored(scenario):
    reconcile(scenario)
    row = rows(scenario)[5]
    components = row["score_components"]
    assert set(components["comparisons"]) == {comparison.name for comparison in COMPANIES.model.comparisons}
    weights = {
        (comparison, level): weight
        for comparison, level, weight in scenario.execute(
            "select comparison, level, weight from staging.match_parameters"
            " where object_type = 'companies' and run_id = 'test_run'"
        )
    }
    assert components["comparisons"]["domain"] == {
        "level": "else",
        "legacy": "acme.fr",
        "hubspot": "martin-pain.fr",
        "weight": round(weights[("domain", "else")], 2),
        "term_frequency": False,
        "counted_in": "group",
    }
    # The domain disagrees, so its group's members count on their own.
    assert components["correlated"]["group"]["counted_once"] is False
    group = components["correlated"]["group"]
    assert group["weight"] == pytest.approx(
        sum(components["comparisons"][name]["weight"] for name in group["comparisons"]), abs=0.05
    )
    # The match weight is the prior plus each comparison's weight (a group's members through the
    # group's); the confidence its probability.
    total = (
        components["prior"]
        + sum(part["weight"] for part in components["comparisons"].values() if "counted_in" not in part)
        + sum(part["weight"] for part in components["correlated"].values())
    )
    assert components["match_weight"] == pytest.approx(total, abs=0.05)
    assert float(row["match_confidence"]) == pytest.approx(100 / (1 + 2 ** -components["match_weight"]), abs=0.01)


def test_orphans_are_listed(scenario):
    summary = reconcile_step(scenario, COMPANIES)
    orphans = dict(scenario.execute("select hubspot_id, reason from staging.companies_orphans order by 1"))
    assert orphans == {
        "111": "no live legacy row has this id",
        "998": "no live legacy row has this id",
        "999": "unreadable legacy id",
    }
    assert summary["orphans"] == 3


def test_two_runs_give_the_same_rows(scenario):
    reconcile(scenario)
    first = rows(scenario)
    reconcile(scenario)
    second = rows(scenario)
    volatile = {"last_updated", "created_at"}
    strip = lambda table: {key: {k: v for k, v in row.items() if k not in volatile} for key, row in table.items()}  # noqa: E731
    assert strip(second) == strip(first)
    assert all(second[key]["created_at"] == first[key]["created_at"] for key in first)


def test_rows_leave_when_their_legacy_row_goes(scenario):
    reconcile(scenario)
    scenario.execute("update bronze.company set _is_deleted = true where comp_companyid = '6'")
    reconcile(scenario)
    assert 6 not in rows(scenario)


def test_a_mirror_keyed_id_and_missing_columns(db):
    create_staging(db, COMPANIES)
    insert_rows(db, "bronze.company", [company(1)])
    create_mirror(
        db,
        "companies",
        [{"id": "77", "icalps_company_id": "1", "name": ACME_HUBSPOT["name"], "stacksync_record_id_abc": "x"}],
    )
    reconcile(db)
    row = rows(db)[1]
    assert row["hubspot_company_id"] == "77"
    assert row["reconciliation_status"] == "matched"
    assert row["properties_to_update"]["domain"] == "acme.fr"


def test_a_missing_mirror_table_is_named(db):
    create_staging(db, COMPANIES)
    with pytest.raises(psycopg.errors.RaiseException, match=r"the HubSpot mirror has no table hubspot\.companies"):
        reconcile(db)


DEALS = REGISTRY.get("deals")


@pytest.mark.parametrize(
    ("stage", "status", "expected"),
    [
        ("Identified", "En cours", "85103752"),
        ("design win", "EN COURS", "85103756"),
        ("Design In", "Gagnée", "85103757"),
        ("Qualified", "Perdue", "85103758"),
        ("Qualified", "Abandonnée", "85103758"),
        ("Qualified", "No-go", "85103758"),
        (None, "Gagnée", "85103757"),
        (None, None, None),
        ("Lead", "En cours", "rejected: Oppo_Stage 'Lead' has no HubSpot stage in the stage map"),
        ("Qualified", "Suspendue", "rejected: Oppo_Status 'Suspendue' is not in the deal outcome map"),
    ],
)
def test_deal_stage_from_stage_and_outcome(db, stage, status, expected):
    create_staging(db, DEALS)
    insert_rows(
        db,
        "bronze.opportunity",
        [{"oppo_opportunityid": 1, "oppo_description": "ASIC 28nm", "oppo_stage": stage, "oppo_status": status}],
    )
    create_mirror(db, "deals", [], columns=["hs_object_id", "icalps_deal_id", "dealname", "dealstage"])
    create_mirror(db, "companies", [], columns=["hs_object_id", "icalps_company_id"])
    create_mirror(db, "contacts", [], columns=["hs_object_id", "icalps_contact_id"])
    reconcile(db, DEALS)
    row = rows(db, "deals_reconciliation", "legacy_deal_id")[1]
    if expected and expected.startswith("rejected: "):
        assert row["reconciliation_status"] == "rejected"
        assert expected.removeprefix("rejected: ") in row["notes"]
    else:
        assert row["reconciliation_status"] == "new"
        assert row["legacy_properties"].get("dealstage") == expected


def test_references_resolve_to_hubspot_ids(db):
    contacts = REGISTRY.get("contacts")
    create_staging(db, contacts)
    insert_rows(
        db,
        "bronze.person",
        [
            {"pers_personid": 1, "pers_firstname": "Zoé", "pers_lastname": "Lefèvre", "pers_companyid": "10"},
            {"pers_personid": 2, "pers_firstname": "Loïc", "pers_lastname": "Faure", "pers_companyid": "20.0"},
            {"pers_personid": 3, "pers_firstname": "Anaïs", "pers_lastname": "Perrin", "pers_companyid": "30"},
        ],
    )
    create_mirror(
        db,
        "companies",
        [
            {"hs_object_id": "5010", "icalps_company_id": "10"},
            {"hs_object_id": "5020", "icalps_company_id": " 20"},
            {"hs_object_id": "5030", "icalps_company_id": "30"},
            {"hs_object_id": "5031", "icalps_company_id": "30"},
        ],
    )
    create_mirror(
        db,
        "contacts",
        [
            {
                "hs_object_id": "1",
                "icalps_contact_id": "1",
                "firstname": "Zoé",
                "lastname": "Lefèvre",
                "associatedcompanyid": "5010",
            },
            {
                "hs_object_id": "2",
                "icalps_contact_id": "2",
                "firstname": "Loïc",
                "lastname": "Faure",
                "associatedcompanyid": "",
            },
        ],
    )
    reconcile(db, contacts)
    result = rows(db, "contacts_reconciliation", "legacy_contact_id")
    assert result[2]["legacy_properties"]["associatedcompanyid"] == "5020"  # compared as the HubSpot id
    assert "associatedcompanyid" not in result[3]["legacy_properties"]  # legacy company 30 is ambiguous
    # A reference is an association to make, never a property to push: the legacy ids are kept.
    assert [result[n]["properties_to_update"] for n in (1, 2)] == [{}, {}]
    assert [result[n]["legacy_references"] for n in (1, 2, 3)] == [
        {"associatedcompanyid": 10},
        {"associatedcompanyid": 20},
        {"associatedcompanyid": 30},
    ]
    assert result[2]["field_diffs"]["associatedcompanyid"]["action"].startswith("association")


def test_note_bodies_are_cut_to_hubspot_limit(db):
    communications = REGISTRY.get("communications")
    create_staging(db, communications)
    insert_rows(db, "bronze.communication", [{"comm_communicationid": 1, "comm_note": "é" * 70_000}])
    for table, columns in (
        ("engagements", ["hs_object_id", "icalps_communication_id"]),
        ("companies", ["hs_object_id", "icalps_company_id"]),
        ("contacts", ["hs_object_id", "icalps_contact_id"]),
        ("deals", ["hs_object_id", "icalps_deal_id"]),
    ):
        create_mirror(db, table, [], columns=columns)
    reconcile(db, communications)
    row = rows(db, "communications_reconciliation", "legacy_communication_id")[1]
    assert len(row["legacy_properties"]["hs_note_body"]) == 65_536
    assert "Comm_Note cut to 65,536 characters for hs_note_body" in row["notes"]


def test_a_mirror_split_into_activity_tables_is_read_as_one(db):
    communications = REGISTRY.get("communications")
    create_staging(db, communications)
    moment = "2024-03-04 09:30:00"
    insert_rows(
        db,
        "bronze.communication",
        [
            {"comm_communicationid": 1, "comm_action": "PhoneIn", "comm_subject": "Appel", "comm_datetime": moment},
            {"comm_communicationid": 2, "comm_action": "Meeting", "comm_subject": "Revue v2", "comm_datetime": moment},
            {"comm_communicationid": 3, "comm_action": "EmailOut", "comm_subject": "Devis", "comm_datetime": moment},
        ],
    )
    stamp = "2024-03-04T09:30:00Z"
    create_mirror(
        db,
        "calls",
        [
            {
                "hs_object_id": "71",
                "icalps_communication_id": "1",
                "hs_call_title": "Appel",
                "hs_call_direction": "INBOUND",
                "hs_timestamp": stamp,
            }
        ],
    )
    create_mirror(
        db,
        "meetings",
        [{"hs_object_id": "72", "icalps_communication_id": "2", "hs_meeting_title": "Revue", "hs_timestamp": stamp}],
    )
    for table, columns in (
        ("companies", ["hs_object_id", "icalps_company_id"]),
        ("contacts", ["hs_object_id", "icalps_contact_id"]),
        ("deals", ["hs_object_id", "icalps_deal_id"]),
    ):
        create_mirror(db, table, [], columns=columns)
    reconcile(db, communications)
    result = rows(db, "communications_reconciliation", "legacy_communication_id")
    assert [(result[n]["hubspot_engagement_id"], result[n]["api_object"]) for n in (1, 2, 3)] == [
        ("71", "calls"),
        ("72", "meetings"),
        (None, "emails"),
    ]
    assert result[1]["reconciliation_status"] == "matched"
    assert result[1]["properties_to_update"] == {}  # INBOUND read back as PhoneIn: nothing differs
    assert result[2]["properties_to_update"] == {"hs_meeting_title": "Revue v2"}
    assert result[3]["reconciliation_status"] == "new"
