"""The preflight's reading of a portal's property catalogue (no network)."""

from __future__ import annotations

import pytest

from crm_reconciliation.config.registry import default_registry
from crm_reconciliation.push.preflight import (
    Catalogue,
    PreflightFailed,
    definition,
    problems,
    required_properties,
    run_preflight,
)

REGISTRY = default_registry()


def catalogue(names, read_only=(), unique=()):
    return [
        {"name": name, "hasUniqueValue": name in unique, "modificationMetadata": {"readOnlyValue": name in read_only}}
        for name in names
    ]


def test_references_are_not_properties_and_activities_use_their_own_names():
    deals = required_properties(REGISTRY.get("deals"))
    assert set(deals) == {"deals"}
    assert "associatedcompanyid" not in deals["deals"]
    assert "primary_contact_id" not in deals["deals"]
    assert deals["deals"]["icalps_deal_id"] == "legacy_id"
    activities = required_properties(REGISTRY.get("communications"))
    assert set(activities) == {"notes", "calls", "emails", "meetings", "tasks"}
    assert "hs_call_title" in activities["calls"]
    assert "hs_engagement_subject" not in activities["calls"]
    assert set(activities["notes"]) == {"hs_note_body", "hs_timestamp", "icalps_communication_id"}


def test_every_problem_is_named_with_its_fix():
    spec = REGISTRY.get("companies")
    wanted = [name for name in required_properties(spec)["companies"] if name not in ("industry", "icalps_company_id")]
    found = problems(
        spec,
        {"companies": catalogue([*wanted, "icalps_company_id"], read_only=("city",))},
        "icalps",
    )
    assert {(p.property, p.issue) for p in found} == {
        ("industry", "missing"),
        ("city", "read_only"),
        ("icalps_company_id", "not_unique"),
    }
    assert all(p.fix for p in found)


def test_missing_custom_properties_are_created_only_when_asked():
    spec = REGISTRY.get("companies")
    present = [
        name for name in required_properties(spec)["companies"] if name not in ("territory", "icalps_company_id")
    ]
    created = []

    class Portal:
        def properties(self, api_object):
            return type("R", (), {"status": 200, "body": {"results": catalogue(present)}})()

        def create_property_group(self, api_object, name, label):
            return type("R", (), {"status": 201, "body": {}})()

        def create_property(self, api_object, body):
            created.append(body)
            return type("R", (), {"status": 201, "body": body})()

        def pipelines(self, api_object):
            return type("R", (), {"status": 200, "body": {"results": []}})()

        def owners(self, after=None):
            return type("R", (), {"status": 200, "body": {"results": []}})()

    def call(request):
        return request()

    stored = []

    log = type("Log", (), {"info": lambda *a: None, "warning": lambda *a: None})()
    with pytest.raises(PreflightFailed, match=r"(?s)companies\.territory: missing.*companies\.icalps_company_id"):
        run_preflight(Catalogue(spec, call, Portal(), lambda **kept: stored.append(kept)), "icalps", False, log)
    assert created == []
    # What was read is kept for the value conversion: the properties, then pipelines and owners.
    assert stored[0]["properties"]["companies"] == catalogue(present)
    assert stored[1] == {"pipelines": {}, "owners": []}
    assert run_preflight(Catalogue(spec, call, Portal(), lambda **kept: stored.append(kept)), "icalps", True, log) == [
        "companies.territory",
        "companies.icalps_company_id",
    ]
    assert created[1] == definition("icalps_company_id", "legacy_id", "icalps")
    assert created[1]["hasUniqueValue"] is True
    assert created[1]["groupName"] == "icalps"
