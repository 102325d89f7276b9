"""Values converted to what the portal takes, or held back (issue 23), against the real
PostgreSQL functions and the strict stand-in: each conversion, a held property with the rest of
the record sent, create_options, and a refusal that fails without retries."""

from __future__ import annotations

import json

import pytest
import requests
from airflow.sdk.exceptions import AirflowFailException

from crm_reconciliation.config.registry import default_registry
from crm_reconciliation.hooks.warehouse import WarehouseSession
from crm_reconciliation.review import queue as review
from crm_reconciliation_dev.fake_hubspot import FakeCrm
from tests.helpers import create_staging
from tests.integration.test_push import COMPANIES, portal, push, stage

pytestmark = pytest.mark.integration

INDUSTRY = {"Telecommunications": "TELECOMMUNICATIONS", "Semiconductors": "SEMICONDUCTORS"}
LOOKUP = {
    "telecommunications": "TELECOMMUNICATIONS",
    "semiconductors": "SEMICONDUCTORS",
    "iot": "INDUSTRIAL_AUTOMATION",
}


@pytest.mark.parametrize(
    ("value", "type_", "field_type", "is_email", "expected"),
    [
        # enumerations: the value as is, a label or a value map's key (case, accents, spaces ignored)
        ("TELECOMMUNICATIONS", "enumeration", "select", False, {"value": "TELECOMMUNICATIONS"}),
        ("Télé communications", "enumeration", "select", False, {"value": "TELECOMMUNICATIONS"}),
        ("IoT", "enumeration", "select", False, {"value": "INDUSTRIAL_AUTOMATION"}),
        ("Optique", "enumeration", "select", False, {"reason": "'Optique' is not one of its options"}),
        (
            "telecommunications;semiconductors",
            "enumeration",
            "checkbox",
            False,
            {"value": "TELECOMMUNICATIONS;SEMICONDUCTORS"},
        ),
        # numbers, dates, date-times, booleans: the portal's formats, no blanks around
        ("12 500,50", "number", "number", False, {"value": "12500.5"}),
        ("\u00a01200\u200b", "number", "number", False, {"value": "1200"}),
        ("beaucoup", "number", "number", False, {"reason": "not a number"}),
        ("14/03/2019", "date", "date", False, {"value": "2019-03-14"}),
        ("2019-03-14 09:30:00.000", "datetime", "date", False, {"value": "2019-03-14T09:30:00.000Z"}),
        ("Oui", "bool", "booleancheckbox", False, {"value": "true"}),
        ("peut-être", "bool", "booleancheckbox", False, {"reason": "not a yes/no value"}),
        # e-mail addresses: the one address, else held back
        ("Jean Dupont <Jean.Dupont@x.fr>", "string", "text", True, {"value": "jean.dupont@x.fr"}),
        ("mailto:jean@x.fr", "string", "text", True, {"value": "jean@x.fr"}),
        ("jean dupont@x.fr", "string", "text", True, {"reason": "not one e-mail address a portal accepts"}),
        ("a@@x.fr", "string", "text", True, {"reason": "not one e-mail address a portal accepts"}),
        ("x@y.fr; z@w.fr", "string", "text", True, {"reason": "not one e-mail address a portal accepts"}),
        # a clear passes; text keeps its value; no catalogue (the workflow target): as it is
        ("", "number", "number", False, {"value": ""}),
        ("  Texte libre ", "string", "textarea", False, {"value": "  Texte libre "}),
        ("Aerospace", None, None, False, {"value": "Aerospace"}),
        # HubSpot keeps at most 65,536 characters of a value, whatever its type
        pytest.param("x" * 65_536, "string", "textarea", False, {"value": "x" * 65_536}, id="65536-characters"),
        pytest.param(
            "x" * 65_537,
            "string",
            "text",
            False,
            {"reason": "65,537 characters, more than the 65,536 HubSpot keeps"},
            id="65537-characters",
        ),
        pytest.param(
            "x" * 70_000,
            None,
            None,
            False,
            {"reason": "70,000 characters, more than the 65,536 HubSpot keeps"},
            id="too-long-without-catalogue",
        ),
    ],
)
def test_each_value_is_converted_or_held_back_with_a_reason(db, value, type_, field_type, is_email, expected):
    create_staging(db, COMPANIES)
    allowed = json.dumps(sorted(set(LOOKUP.values())))
    found = db.execute(
        "select staging.crm_portal_value(%s, %s, %s, %s::jsonb, %s::jsonb, %s)",
        [value, type_, field_type, json.dumps(LOOKUP), allowed, is_email],
    ).fetchone()[0]
    assert found == expected


def held(db) -> dict[tuple[str, str], set[int]]:
    rows = db.execute("select run_id, property, value, legacy_id from staging.push_held_values").fetchall()
    found: dict[tuple[str, str], set[int]] = {}
    for run_id, prop, value, legacy_id in rows:
        found.setdefault((run_id, f"{prop}={value}"), set()).add(legacy_id)
    return found


def test_a_held_value_leaves_the_rest_of_the_record_sent_then_create_options_adds_it(db, connections):
    wanted = {
        "6001": {"city": "Lyon", "industry": "Industrial IoT"},
        "6002": {"city": "Nice", "industry": "telecommunications"},
        "6003": {"type": "Customer", "numberofemployees": "1 200"},
    }
    stage(db, wanted)
    with portal(wanted) as server:
        connections(server)
        push("hubspot", "first")
        # The rest of 6001 went; its industry did not; the others were converted.
        assert server.records == {
            "6001": {"city": "Lyon"},
            "6002": {"city": "Nice", "industry": "TELECOMMUNICATIONS"},
            "6003": {"type": "CUSTOMER", "numberofemployees": "1200"},
        }
        assert held(db) == {("first", "industry=Industrial IoT"): {1}}
        reason, allowed = db.execute("select reason, allowed from staging.push_held_values").fetchone()
        assert "not one of its options" in reason
        assert "TELECOMMUNICATIONS" in allowed
        assert server.statuses[400] == 0
        # create_options: the preflight adds the option, then the value goes.
        push("hubspot", "second", create_options=True)
        options = [option["value"] for option in server.properties["companies"]["industry"]["options"]]
        assert "Industrial IoT" in options
        assert "TELECOMMUNICATIONS" in options  # the portal's own options kept
        assert server.records["6001"] == {"city": "Lyon", "industry": "Industrial IoT"}
    patches = [path for method, path, _, _ in server.requests if method == "PATCH"]
    assert patches == ["/crm/properties/2026-09/companies/industry"]
    assert ("second", "industry=Industrial IoT") not in held(db)


def test_a_value_longer_than_hubspot_keeps_is_held_back_and_the_rest_sent(db, connections):
    """A 10 MB legacy name is staged whole (reconcile diffs whole values) but never sent: the
    portal refuses a value over 65,536 characters, and with it the record's other properties."""
    huge = "Société " + "très longue " * 900_000
    wanted = {"6001": {"city": "Lyon", "name": huge}, "6002": {"city": "Nice", "name": "Sysonde"}}
    stage(db, wanted)
    with portal(wanted) as server:
        connections(server)
        summary = push("hubspot", "long")
        assert server.records == {"6001": {"city": "Lyon"}, "6002": {"city": "Nice", "name": "Sysonde"}}
        assert server.statuses[400] == 0
        assert summary["updates"]["outcomes"] == {"sent": 2}
        # The stand-in refuses such a value as the portal does.
        refused = requests.post(
            f"{server.url}/crm/objects/2026-09/companies/batch/update",
            json={"inputs": [{"id": "6002", "properties": {"name": "y" * 65_537}}]},
            headers={"Authorization": f"Bearer {server.token}"},
            timeout=10,
        )
        assert server.records["6002"]["name"] == "Sysonde"
    assert refused.status_code == 400
    assert "INVALID_STRING_LENGTH" in refused.text
    assert held(db) == {("long", f"name={huge}"): {1}}
    reason = db.execute("select reason from staging.push_held_values").fetchone()[0]
    assert reason == f"{len(huge):,} characters, more than the 65,536 HubSpot keeps"
    # The review page and the report show its start, its length, and how to fix it.
    (row,) = review.held_values(WarehouseSession(db), default_registry(), "companies")["rows"]
    assert (row["value"], row["value_chars"]) == (huge[:200] + "…", len(huge))
    assert row["fix"] == (
        f"Shorten it in the legacy CRM ({len(huge):,} characters): HubSpot keeps at most 65,536 characters of a value."
    )


def test_a_preflight_refusal_fails_at_once_without_retries(db, connections):
    wanted = {"6001": {"city": "Lyon"}}
    stage(db, wanted)
    with FakeCrm(seed={"companies": {"6001": {}}}, custom_properties=False) as server:
        connections(server)
        with pytest.raises(AirflowFailException, match="icalps_company_id: missing unique"):
            push("hubspot", "refused")
    assert [method for method, _, _, _ in server.requests] == ["GET"] * len(server.requests)  # reads only


def test_the_legacy_paths_on_request_and_a_wrong_version_fails_before_any_request(db, connections):
    wanted = {"6001": {"city": "Lyon", "industry": "telecommunications"}}
    stage(db, wanted)
    with portal(wanted) as server:
        connections(server, api_version="v3")
        push("hubspot", "legacy")
        assert server.records["6001"] == {"city": "Lyon", "industry": "TELECOMMUNICATIONS"}
        paths = [path for _, path, _, _ in server.requests]
        assert [path for path in paths if not path.startswith(("/crm/v3/", "/crm/v4/"))] == []
        sent = len(server.requests)
        connections(server, api_version="2026-13")
        with pytest.raises(AirflowFailException, match="api_version '2026-13'"):
            push("hubspot", "wrong")
        assert len(server.requests) == sent
