"""The fake HubSpot portal holds to a real portal's rules, over HTTP.

The push is only as well tested as its stand-in is strict: these tests pin the rules the fake
enforces (property catalogue, read-only values, value types, unique values, upsert by legacy
id, archiving, v4 association types, property history, rate limits and their headers, latency)
so that a lenient fake cannot creep back in. Every request they
send validates against HubSpot's OpenAPI specs (``tests/hubspot_spec.py``), and so does every
answer the specs describe.
"""

from __future__ import annotations

import contextlib
import copy
import json
import re
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
import requests

from crm_reconciliation_dev.fake_hubspot import FakeCrm
from tests.hubspot_spec import SPECS, validate_all, validate_response

pytestmark = pytest.mark.integration

TIMEOUT = 5  # seconds per request: every test is bounded
SEED = {
    "companies": {"101": {"name": "Alpha", "icalps_company_id": "7"}, "102": {"name": "Beta"}},
    "contacts": {"201": {"firstname": "Ana", "icalps_contact_id": "70"}},
    "deals": {"301": {"dealname": "Capteurs"}, "302": {"dealname": "Optique"}},
    "notes": {
        "401": {"hs_note_body": "Appel", "hs_timestamp": "2026-01-05T10:00:00Z"},
        "402": {"hs_note_body": "Relance", "hs_timestamp": "2026-01-06T10:00:00Z"},
    },
}
# A valid update of another record of each object, sent beside the refused one.
VALID = {
    "companies": ("102", {"name": "B2"}),
    "deals": ("302", {"dealname": "D2"}),
    "notes": ("402", {"hs_note_body": "N2"}),
}
TIMESTAMP = "2026-02-01T09:30:00Z"
# APIs no spec of the folder covers (tests/hubspot_spec.py knows the legacy objects and associations specs).
UNCHECKED = re.compile(
    r"/crm/(v3/(properties|pipelines|owners)|(objects|associations|properties|pipelines|owners)/\d{4}-\d{2})(/|\?|$)"
)
# The date-based specs document no 207, which a portal answers in multi-status mode.
DATED = re.compile(r"/crm/[a-z]+/\d{4}-\d{2}/")


@pytest.fixture
def portal():
    """Start fake portals (seeded with SEED unless told otherwise); at the end, every request
    each one served must validate against the specs where one covers its API."""
    servers: list[FakeCrm] = []
    with contextlib.ExitStack() as stack:

        def start(**options) -> FakeCrm:
            server = stack.enter_context(FakeCrm(**{"seed": copy.deepcopy(SEED), **options}))
            servers.append(server)
            return server

        yield start
    if SPECS.is_dir():
        for server in servers:
            assert all(UNCHECKED.match(path) for _, path in validate_all(server))


def send(crm: FakeCrm, method: str, path: str, body=None, *, token: str | None = None, check: bool = True):
    """The response to one request; its body is checked against the spec where it has one."""
    headers = {"Authorization": f"Bearer {token or crm.token}"}
    response = requests.request(method, crm.url + path, json=body, headers=headers, timeout=TIMEOUT)
    # HubSpot's 429 body is no CRM error; the date-based specs leave out the multi-status 207.
    undocumented = response.status_code == 429 or (response.status_code == 207 and DATED.match(path))
    if check and SPECS.is_dir() and not undocumented:
        validate_response(method, path, response.status_code, response.json() if response.content else None)
    return response


def call(crm: FakeCrm, method: str, path: str, body=None, *, token: str | None = None, check: bool = True):
    """(status, answer) of one request (answer None when there is no body)."""
    response = send(crm, method, path, body, token=token, check=check)
    return response.status_code, response.json() if response.content else None


def update(crm: FakeCrm, api_object: str, inputs: list[dict]):
    return call(crm, "POST", f"/crm/v3/objects/{api_object}/batch/update", {"inputs": inputs})


def create(crm: FakeCrm, api_object: str, *properties: dict, associations: list | None = None, check: bool = True):
    inputs = [{"properties": props, "associations": associations or []} for props in properties]
    return call(crm, "POST", f"/crm/v3/objects/{api_object}/batch/create", {"inputs": inputs}, check=check)


def upsert(crm: FakeCrm, api_object: str, inputs: list[tuple[str, dict]], id_property: str = "icalps_company_id"):
    body = {"inputs": [{"id": key, "idProperty": id_property, "properties": props} for key, props in inputs]}
    return call(crm, "POST", f"/crm/v3/objects/{api_object}/batch/upsert", body)


def associate(crm: FakeCrm, source: str, target: str, action: str, inputs: list[dict], check: bool = True):
    return call(crm, "POST", f"/crm/v4/associations/{source}/{target}/batch/{action}", {"inputs": inputs}, check=check)


def link(source_id: str, target_id: str, *type_ids: int) -> dict:
    types = [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id} for type_id in type_ids]
    return {"from": {"id": source_id}, "to": {"id": target_id}, "types": types}


def holders(crm: FakeCrm, api_object: str, name: str, value: str) -> list[str]:
    return [record_id for record_id, props in crm.objects[api_object].items() if props.get(name) == value]


@pytest.mark.parametrize(
    ("api_object", "record_id", "name"),
    [
        ("companies", "101", "bogus"),
        ("companies", "101", "hs_lead_source"),
        ("deals", "301", "associatedcompanyid"),
        ("deals", "301", "primary_contact_id"),
        ("notes", "401", "hs_engagement_subject"),
        ("notes", "401", "hs_engagement_type"),
        ("notes", "401", "hs_engagement_status"),
        ("notes", "401", "hs_call_direction"),
        ("notes", "401", "associated_contact_id"),
    ],
)
def test_a_batch_naming_a_property_the_portal_lacks_is_refused_whole(portal, api_object, record_id, name):
    crm = portal()
    before = copy.deepcopy(crm.objects)
    other_id, other = VALID[api_object]
    status, answer = update(
        crm, api_object, [{"id": record_id, "properties": {name: "x"}}, {"id": other_id, "properties": other}]
    )
    assert status == 400
    assert answer["category"] == "VALIDATION_ERROR"
    assert answer["message"].startswith("Property values were not valid: ")
    assert answer["errors"] == [
        {
            "message": f'Property "{name}" does not exist',
            "code": "PROPERTY_DOESNT_EXIST",
            "context": {"propertyName": [name]},
        }
    ]
    assert crm.objects == before
    assert not crm.applied


@pytest.mark.parametrize(
    ("api_object", "name"), [("companies", "createdate"), ("companies", "hs_object_id"), ("notes", "hs_createdate")]
)
def test_a_read_only_property_refuses_the_batch(portal, api_object, name):
    crm = portal()
    timestamp = {"hs_timestamp": TIMESTAMP} if api_object == "notes" else {}
    status, answer = create(crm, api_object, {**timestamp, name: "2020-01-01T00:00:00Z"})
    assert status == 400
    assert [error["code"] for error in answer["errors"]] == ["READ_ONLY_VALUE"]
    assert crm.created[api_object] == 0


def test_more_than_100_inputs_are_refused(portal):
    crm = portal()
    status, answer = create(crm, "companies", *({"name": f"Company {n}"} for n in range(101)))
    assert status == 400
    assert "100" in answer["message"]
    assert crm.created["companies"] == 0


def test_an_upsert_by_legacy_id_creates_once_then_updates(portal):
    crm = portal()
    status, answer = upsert(crm, "companies", [("8", {"name": "Gamma"})])
    assert status == 200
    (result,) = answer["results"]
    assert result["new"] is True
    assert result["properties"] == {"name": "Gamma", "icalps_company_id": "8"}
    assert int(result["id"]) > max(int(key) for records in SEED.values() for key in records)
    for _ in range(3):  # a replayed batch (a retry, a rerun) finds the record it created
        status, answer = upsert(crm, "companies", [("8", {"name": "Gamma"})])
        assert (status, answer["results"][0]["new"], answer["results"][0]["id"]) == (200, False, result["id"])
    status, answer = upsert(crm, "companies", [("8", {"city": "Grenoble"}), ("7", {"city": "Meylan"})])
    assert status == 200
    assert [item["new"] for item in answer["results"]] == [False, False]
    assert holders(crm, "companies", "icalps_company_id", "8") == [result["id"]]
    assert crm.records[result["id"]] == {"name": "Gamma", "icalps_company_id": "8", "city": "Grenoble"}
    assert crm.records["101"]["city"] == "Meylan"
    assert crm.created == {"companies": 1}
    assert crm.applied[crm.fingerprint(result["id"], {"name": "Gamma", "icalps_company_id": "8"})] == 1
    assert crm.applied[crm.fingerprint(result["id"], {"name": "Gamma"})] == 3

    status, answer = upsert(crm, "companies", [("9", {"name": "Delta"}), ("9", {"name": "Delta bis"})])
    assert status == 400
    assert "Duplicate IDs" in answer["message"]
    assert crm.created == {"companies": 1}


def test_an_upsert_needs_a_unique_id_property(portal):
    crm = portal()
    status, answer = upsert(crm, "companies", [("Alpha", {"city": "Grenoble"})], id_property="name")
    assert status == 400
    assert answer["message"] == "Unable to perform update/upsert by non-unique name property"

    bare = portal(custom_properties=False, seed={"companies": {"101": {"name": "Alpha"}}})
    status, answer = upsert(bare, "companies", [("7", {"name": "Alpha"})])
    assert status == 400
    assert "non-unique icalps_company_id" in answer["message"]
    definition = {"name": "icalps_company_id", "label": "iCalps id", "type": "string", "fieldType": "text"}
    status, created = call(
        bare, "POST", "/crm/v3/properties/companies", definition | {"groupName": "icalps", "hasUniqueValue": True}
    )
    assert (status, created["hasUniqueValue"], created["groupName"]) == (201, True, "icalps")
    status, answer = upsert(bare, "companies", [("7", {"name": "Alpha"})])
    assert (status, answer["results"][0]["new"]) == (200, True)


def test_unique_values_hold_on_create_and_update(portal):
    crm = portal()
    status, answer = create(
        crm,
        "companies",
        {"name": "Copy of Alpha", "icalps_company_id": "7"},
        {"name": "Nine", "icalps_company_id": "9"},
        {"name": "Nine again", "icalps_company_id": "9"},
    )
    assert status == 207
    assert [item["properties"]["name"] for item in answer["results"]] == ["Nine"]
    assert len(answer["errors"]) == 2
    for error in answer["errors"]:
        assert error["category"] == "VALIDATION_ERROR"
        assert "icalps_company_id" in error["message"]
    assert '"7"' in answer["errors"][0]["message"]
    assert '"9"' in answer["errors"][1]["message"]
    assert crm.created == {"companies": 1}

    status, answer = update(crm, "companies", [{"id": "102", "properties": {"icalps_company_id": "7"}}])
    assert status == 207
    (error,) = answer["errors"]
    assert error["context"]["ids"] == ["102"]
    assert '"7"' in error["message"]
    assert "icalps_company_id" not in crm.records["102"]
    status, _ = update(crm, "companies", [{"id": "101", "properties": {"icalps_company_id": "7", "city": "Lyon"}}])
    assert status == 200  # a record keeps its own value


def test_an_update_of_a_record_the_portal_lacks_fails_alone(portal):
    crm = portal()
    status, answer = update(
        crm,
        "companies",
        [{"id": "101", "properties": {"city": "Grenoble"}}, {"id": "999", "properties": {"city": "x"}}],
    )
    assert status == 207
    assert [item["id"] for item in answer["results"]] == ["101"]
    (error,) = answer["errors"]
    assert (error["category"], error["context"]["ids"]) == ("OBJECT_NOT_FOUND", ["999"])
    assert crm.records["101"]["city"] == "Grenoble"
    assert "999" not in crm.records


def test_batch_read_by_record_id_or_legacy_id_returns_what_was_asked(portal):
    crm = portal()
    body = {"properties": ["name", "city"], "propertiesWithHistory": [], "inputs": [{"id": "101"}]}
    status, answer = call(crm, "POST", "/crm/v3/objects/companies/batch/read", body)
    assert status == 200
    assert answer["results"][0]["properties"] == {"name": "Alpha", "city": None}

    body = {
        "idProperty": "icalps_company_id",
        "properties": ["name"],
        "propertiesWithHistory": [],
        "inputs": [{"id": "7"}, {"id": "404"}],
    }
    status, answer = call(crm, "POST", "/crm/v3/objects/0-2/batch/read", body)
    assert status == 207
    assert [(item["id"], item["properties"]) for item in answer["results"]] == [("101", {"name": "Alpha"})]
    assert answer["errors"][0]["context"]["ids"] == ["404"]


def test_associations_round_trip_both_ways(portal):
    crm = portal()
    status, answer = associate(crm, "contacts", "companies", "create", [link("201", "101", 1)])
    assert status == 201
    assert answer["results"] == [
        {
            "fromObjectTypeId": "0-1",
            "fromObjectId": "201",
            "toObjectTypeId": "0-2",
            "toObjectId": "101",
            "labels": ["Primary"],
        }
    ]
    # A primary company is also the default association; both are visible from the company.
    assert {
        ("contacts", "201", "companies", "101", 1),
        ("contacts", "201", "companies", "101", 279),
        ("companies", "101", "contacts", "201", 2),
        ("companies", "101", "contacts", "201", 280),
    } == crm.associations
    status, answer = associate(crm, "companies", "contacts", "read", [{"id": "101"}, {"id": "102"}])
    assert status == 200
    assert answer["results"] == [
        {
            "from": {"id": "101"},
            "to": [
                {
                    "toObjectId": "201",
                    "associationTypes": [
                        {"category": "HUBSPOT_DEFINED", "typeId": 2, "label": "Primary"},
                        {"category": "HUBSPOT_DEFINED", "typeId": 280, "label": None},
                    ],
                }
            ],
        },
        {"from": {"id": "102"}, "to": []},
    ]

    status, answer = associate(crm, "0-3", "0-2", "associate/default", [{"from": {"id": "301"}, "to": {"id": "101"}}])
    assert status == 200
    assert answer["results"][0]["associationSpec"] == {
        "associationCategory": "HUBSPOT_DEFINED",
        "associationTypeId": 341,
    }
    assert ("companies", "101", "deals", "301", 342) in crm.associations
    status, _ = associate(crm, "notes", "contacts", "create", [link("401", "201", 202)])
    assert status == 201
    status, answer = associate(crm, "contacts", "notes", "read", [{"id": "201"}])
    assert answer["results"][0]["to"][0]["associationTypes"][0]["typeId"] == 201

    held = set(crm.associations)
    associate(crm, "notes", "contacts", "create", [link("401", "201", 202)])  # again: no duplicate
    associate(crm, "deals", "companies", "associate/default", [{"from": {"id": "301"}, "to": {"id": "101"}}])
    assert crm.associations == held

    associate(crm, "contacts", "companies", "create", [link("201", "102", 1)])  # a contact has one primary company
    assert ("contacts", "201", "companies", "101", 1) not in crm.associations
    assert ("contacts", "201", "companies", "101", 279) in crm.associations
    assert ("companies", "102", "contacts", "201", 2) in crm.associations


def test_an_association_needs_both_ends(portal):
    crm = portal()
    status, answer = associate(crm, "deals", "companies", "create", [link("301", "999", 341), link("301", "102", 341)])
    assert status == 207
    assert answer["errors"][0]["context"]["ids"] == ["999"]
    assert {link_[3] for link_ in crm.associations if link_[0] == "deals"} == {"102"}
    # The spec documents no 207 for associate/default (its 200 body carries errors): not checked.
    status, answer = associate(
        crm, "deals", "contacts", "associate/default", [{"from": {"id": "999"}, "to": {"id": "201"}}], check=False
    )
    assert status == 207
    assert answer["errors"][0]["context"]["ids"] == ["999"]


@pytest.mark.parametrize(
    ("source", "target", "types"),
    [
        ("contacts", "companies", [341]),  # deal → company's type
        ("contacts", "companies", [999]),
        ("notes", "deals", [202]),  # note → contact's type
        ("notes", "deals", []),
    ],
)
def test_a_wrong_association_type_refuses_the_batch(portal, source, target, types):
    crm = portal()
    record = next(iter(crm.objects[source]))
    target_id = next(iter(crm.objects[target]))
    status, _ = associate(crm, source, target, "create", [link(record, target_id, *types)])
    assert status == 400
    assert crm.associations == set()


def test_records_are_created_with_their_associations(portal):
    crm = portal()
    to_contact = [
        {"to": {"id": "201"}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 202}]}
    ]
    status, answer = create(
        crm, "notes", {"hs_note_body": "Visite", "hs_timestamp": TIMESTAMP}, associations=to_contact
    )
    assert status == 201
    note = answer["results"][0]["id"]
    assert {("notes", note, "contacts", "201", 202), ("contacts", "201", "notes", note, 201)} == crm.associations

    status, answer = create(crm, "notes", {"hs_note_body": "Sans date"})  # an engagement needs its time
    assert status == 207
    assert "hs_timestamp" in answer["errors"][0]["message"]
    wrong = [{"to": {"id": "101"}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 279}]}]
    status, _ = create(crm, "notes", {"hs_note_body": "x", "hs_timestamp": TIMESTAMP}, associations=wrong)
    assert status == 400
    assert crm.created == {"notes": 1}


def test_the_property_catalogue_is_a_portals(portal):
    crm = portal()
    status, answer = call(crm, "GET", "/crm/v3/properties/companies")
    assert status == 200
    companies = {prop["name"]: prop for prop in answer["results"]}
    assert set(companies["name"]) >= {
        "label",
        "type",
        "fieldType",
        "groupName",
        "hasUniqueValue",
        "modificationMetadata",
    }
    assert (companies["icalps_company_id"]["hasUniqueValue"], companies["icalps_company_id"]["groupName"]) == (
        True,
        "icalps",
    )
    assert companies["createdate"]["modificationMetadata"]["readOnlyValue"] is True
    assert companies["city"]["modificationMetadata"]["readOnlyValue"] is False
    assert "hs_lead_source" not in companies
    _, answer = call(crm, "GET", "/crm/v3/properties/0-3")
    deals = {prop["name"] for prop in answer["results"]}
    assert {"dealname", "icalps_deal_id", "deal_status", "company"} <= deals
    assert not {"associatedcompanyid", "primary_contact_id"} & deals
    _, answer = call(crm, "GET", "/crm/v3/properties/notes")
    notes = {prop["name"] for prop in answer["results"]}
    assert {"hs_note_body", "hs_timestamp", "icalps_communication_id"} <= notes
    assert not {"hs_engagement_subject", "hs_engagement_type", "hs_engagement_status", "hs_call_direction"} & notes

    bare = portal(custom_properties=False, seed={})
    _, answer = call(bare, "GET", "/crm/v3/properties/companies")
    assert not {prop["name"] for prop in answer["results"]} & {"icalps_company_id", "territory"}


def test_a_created_property_is_writable_once_and_unique_if_asked(portal):
    crm = portal()
    definition = {"name": "icalps_code", "label": "Code", "type": "string", "fieldType": "text", "groupName": "icalps"}
    status, created = call(crm, "POST", "/crm/v3/properties/companies", definition | {"hasUniqueValue": True})
    assert status == 201
    assert created["modificationMetadata"]["readOnlyValue"] is False
    status, answer = call(crm, "POST", "/crm/v3/properties/companies", definition)
    assert (status, answer["category"]) == (409, "OBJECT_ALREADY_EXISTS")
    status, _ = call(crm, "POST", "/crm/v3/properties/companies", definition | {"name": "hs_code"})
    assert status == 400  # hs_ names are HubSpot's
    status, _ = update(crm, "companies", [{"id": "101", "properties": {"icalps_code": "A1"}}])
    assert status == 200
    status, _ = update(crm, "companies", [{"id": "102", "properties": {"icalps_code": "A1"}}])
    assert status == 207
    _, answer = call(crm, "GET", "/crm/v3/properties/companies")
    assert [prop["hasUniqueValue"] for prop in answer["results"] if prop["name"] == "icalps_code"] == [True]


def test_every_request_counts_against_the_rolling_limit(portal):
    crm = portal(max_requests=3, window_seconds=60)
    for _ in range(3):
        assert call(crm, "GET", "/crm/v3/properties/companies")[0] == 200
    status, answer = call(
        crm,
        "POST",
        "/crm/v3/objects/companies/batch/read",
        {"properties": [], "propertiesWithHistory": [], "inputs": [{"id": "101"}]},
    )
    assert (status, answer["policyName"]) == (429, "TEN_SECONDLY_ROLLING")
    assert crm.limit_violations == 1
    assert crm.statuses == {200: 3, 429: 1}
    assert [(method, status) for method, _, _, status in crm.requests] == [("GET", 200)] * 3 + [("POST", 429)]


def test_faults_are_consumed_by_writes_only(portal):
    crm = portal()
    crm.faults.extend(["500", "207"])
    body = {"properties": ["name"], "propertiesWithHistory": [], "inputs": [{"id": "101"}]}
    assert call(crm, "POST", "/crm/v3/objects/companies/batch/read", body)[0] == 200
    assert associate(crm, "deals", "companies", "create", [link("301", "101", 341)])[0] == 201
    assert len(crm.faults) == 2
    status, _ = create(crm, "companies", {"name": "Epsilon"}, check=False)  # the fault's 502 is a gateway's
    assert status == 502
    assert crm.created["companies"] == 0
    status, answer = upsert(crm, "companies", [("10", {"name": "Zeta"}), ("11", {"name": "Eta"})])
    assert status == 207
    assert answer["errors"][0]["context"]["ids"] == ["10"]
    assert holders(crm, "companies", "icalps_company_id", "11")
    assert not holders(crm, "companies", "icalps_company_id", "10")
    assert not crm.faults


def test_a_wrong_token_is_refused(portal):
    crm = portal()
    body = {"inputs": [{"id": "101", "properties": {"city": "x"}}]}
    status, answer = call(crm, "POST", "/crm/v3/objects/companies/batch/update", body, token="wrong")
    assert (status, answer["category"]) == (401, "INVALID_AUTHENTICATION")
    assert not crm.applied
    assert crm.statuses == {401: 1}


# --- latency -------------------------------------------------------------------------------------


def test_requests_in_flight_overlap_under_latency(portal):
    """The latency is the network's, not a queue: 8 requests at once take about one latency."""
    crm = portal(latency_seconds=0.3)
    body = {"properties": ["name"], "propertiesWithHistory": [], "inputs": [{"id": "101"}]}

    def one(_: int) -> tuple[int, float]:
        started = time.perf_counter()
        status, _ = call(crm, "POST", "/crm/v3/objects/companies/batch/read", body)
        return status, time.perf_counter() - started

    started = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(one, range(8)))
    elapsed = time.perf_counter() - started
    assert [status for status, _ in answers] == [200] * 8
    assert min(seconds for _, seconds in answers) >= 0.3
    assert elapsed < 3 * 0.3  # serialised, they would take 8 × 0.3 s


def test_latency_jitter_is_uniform_and_seeded(portal):
    crm = portal(latency_seconds=0.2, latency_jitter_seconds=0.05, random_seed=3)
    again = portal(latency_seconds=0.2, latency_jitter_seconds=0.05, random_seed=3)
    other = portal(latency_seconds=0.2, latency_jitter_seconds=0.05, random_seed=4)
    delays = [crm._latency() for _ in range(200)]
    assert delays == [again._latency() for _ in range(200)]  # a run can be replayed
    assert delays != [other._latency() for _ in range(200)]
    assert all(0.15 <= delay <= 0.25 for delay in delays)
    assert min(delays) < 0.16  # the whole range is used
    assert max(delays) > 0.24
    assert portal(latency_seconds=0.01, latency_jitter_seconds=0.05)._latency() >= 0  # never negative

    started = time.perf_counter()
    assert call(crm, "GET", "/crm/v3/properties/companies")[0] == 200
    assert 0.15 <= time.perf_counter() - started < 1.0


# --- property values -----------------------------------------------------------------------------

# A value each type refuses: (object, record, property, value, HubSpot's error code).
INVALID_VALUES = [
    ("companies", "101", "numberofemployees", "many", "INVALID_INTEGER"),
    ("companies", "101", "annualrevenue", " 1500000", "INVALID_INTEGER"),  # HubSpot refuses padding
    ("companies", "101", "annualrevenue", "12 500,50", "INVALID_INTEGER"),
    ("companies", "101", "lifecyclestage", "prospect", "INVALID_OPTION"),
    ("companies", "101", "hs_lead_status", "new", "INVALID_OPTION"),  # option values are case-sensitive
    ("deals", "301", "hs_priority", "urgent", "INVALID_OPTION"),
    ("deals", "301", "closedate", "31/12/2026", "INVALID_LONG"),  # a datetime
    ("deals", "301", "closedate", "2026-02-30", "INVALID_LONG"),
    ("deals", "301", "actual_close_date", "2026-12-31T10:00:00Z", "INVALID_DATE"),  # a date
    ("deals", "301", "actual_close_date", "2026-13-01", "INVALID_DATE"),
    ("deals", "301", "actual_close_date", "1798714800000", "INVALID_DATE"),  # 2026-12-31 11:00 UTC
    ("deals", "301", "deal_certainty", "80%", "INVALID_INTEGER"),
    ("notes", "401", "hs_timestamp", "hier", "INVALID_LONG"),
]


def value_errors(answer: dict) -> list[dict]:
    """The validation results HubSpot writes into the message of its 400."""
    prefix = "Property values were not valid: "
    assert answer["message"].startswith(prefix)
    return json.loads(answer["message"].removeprefix(prefix))


@pytest.mark.parametrize(("api_object", "record_id", "name", "value", "code"), INVALID_VALUES)
def test_a_value_the_property_type_refuses_refuses_the_batch(portal, api_object, record_id, name, value, code):
    crm = portal()
    before = copy.deepcopy(crm.objects)
    other_id, other = VALID[api_object]
    status, answer = update(
        crm, api_object, [{"id": other_id, "properties": other}, {"id": record_id, "properties": {name: value}}]
    )
    assert (status, answer["category"]) == (400, "VALIDATION_ERROR")
    (error,) = value_errors(answer)
    assert (error["isValid"], error["error"], error["name"]) == (False, code, name)
    assert error["message"].startswith(value)
    assert error["localizedErrorMessage"] == error["message"]
    assert record_id not in answer["message"]  # which input, HubSpot does not say
    assert "context" not in answer
    assert crm.objects == before
    assert not crm.applied


def test_create_and_upsert_are_refused_whole_too(portal):
    crm = portal()
    status, answer = create(crm, "companies", {"name": "Ok"}, {"name": "Bad", "numberofemployees": "beaucoup"})
    assert status == 400
    assert [(error["name"], error["error"]) for error in value_errors(answer)] == [
        ("numberofemployees", "INVALID_INTEGER")
    ]
    status, answer = upsert(
        crm, "companies", [("8", {"name": "Ok"}), ("9", {"numberofemployees": "x", "lifecyclestage": "prospect"})]
    )
    assert status == 400
    assert {error["name"] for error in value_errors(answer)} == {"numberofemployees", "lifecyclestage"}
    assert crm.created == {}
    assert not crm.applied
    assert "x was not a valid number." in answer["message"]


def test_values_of_the_right_form_are_taken_and_empty_clears_any_type(portal):
    deal = {"dealname": "D", "amount": "100", "closedate": "2026-01-01"}
    crm = portal(seed={"deals": {"301": deal}, "companies": {"101": {"name": "Alpha"}}})
    midnight = int(datetime(2026, 12, 31, tzinfo=UTC).timestamp() * 1000)
    for properties in [
        {"amount": "12500.5", "deal_certainty": "80", "closedate": "2026-12-31"},
        {"amount": "-3", "closedate": "2026-12-31T10:00:00.000Z", "actual_close_date": "2026-12-31"},
        {"amount": "1.5e3", "closedate": str(midnight + 3_600_000), "actual_close_date": str(midnight)},
        {
            "closedate": "2026-12-31T10:00:00+01:00",
            "hs_priority": "high",
            "pipeline": "85103751",
            "dealstage": "85103757",
        },
        {"amount": "", "closedate": "", "actual_close_date": "", "hs_priority": ""},
    ]:
        status, answer = update(crm, "deals", [{"id": "301", "properties": properties}])
        assert status == 200, answer
    assert crm.objects["deals"]["301"]["amount"] == ""
    assert crm.objects["deals"]["301"]["dealstage"] == "85103757"
    assert update(crm, "companies", [{"id": "101", "properties": {"industry": "SEMICONDUCTORS"}}])[0] == 200


def test_bool_and_multiple_checkbox_properties_of_a_portal(portal):
    crm = portal()
    options = [{"label": label, "value": label.upper(), "displayOrder": n} for n, label in enumerate(("Rf", "Mems"))]
    for definition in [
        {"name": "icalps_key_account", "type": "bool", "fieldType": "booleancheckbox"},
        {"name": "icalps_markets", "type": "enumeration", "fieldType": "checkbox", "options": options},
    ]:
        body = definition | {"label": definition["name"], "groupName": "icalps"}
        assert call(crm, "POST", "/crm/v3/properties/companies", body)[0] == 201
    for properties in [{"icalps_key_account": "true", "icalps_markets": "RF;MEMS"}, {"icalps_markets": ";MEMS"}]:
        assert update(crm, "companies", [{"id": "101", "properties": properties}])[0] == 200
    for name, value, code in [
        ("icalps_key_account", "yes", "INVALID_BOOLEAN"),
        ("icalps_key_account", "True", "INVALID_BOOLEAN"),
        ("icalps_markets", "RF;Optique", "INVALID_OPTION"),
        ("icalps_markets", "Rf", "INVALID_OPTION"),  # a label is no value
    ]:
        status, answer = update(crm, "companies", [{"id": "101", "properties": {name: value}}])
        assert status == 400
        assert [(error["name"], error["error"]) for error in value_errors(answer)] == [(name, code)]
    assert crm.records["101"]["icalps_markets"] == ";MEMS"


# --- daily quota and rate-limit headers ------------------------------------------------------------

READ = {"properties": ["name"], "propertiesWithHistory": [], "inputs": [{"id": "101"}]}


def test_every_answer_carries_the_rolling_limit_headers(portal):
    crm = portal(max_requests=5, window_seconds=10)
    response = send(crm, "POST", "/crm/v3/objects/companies/batch/read", READ)
    assert response.status_code == 200
    assert {name: response.headers.get(name) for name in response.headers if name.startswith("X-HubSpot")} == {
        "X-HubSpot-RateLimit-Max": "5",
        "X-HubSpot-RateLimit-Remaining": "4",
        "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
    }
    status, _ = update(crm, "companies", [{"id": "999", "properties": {"city": "x"}}])  # a 207 counts as well
    assert status == 207
    assert send(crm, "GET", "/crm/v3/properties/companies").headers["X-HubSpot-RateLimit-Remaining"] == "2"


def test_the_daily_quota_refuses_once_used_until_a_new_day(portal):
    crm = portal(max_requests=2, window_seconds=60, daily_limit=3)
    response = send(crm, "POST", "/crm/v3/objects/companies/batch/read", READ)
    assert (response.headers["X-HubSpot-RateLimit-Daily"], response.headers["X-HubSpot-RateLimit-Daily-Remaining"]) == (
        "3",
        "2",
    )
    assert send(crm, "GET", "/crm/v3/properties/companies").headers["X-HubSpot-RateLimit-Daily-Remaining"] == "1"
    rolling = send(crm, "GET", "/crm/v3/properties/companies")  # refused by the 10-second limit: not counted
    assert (rolling.status_code, rolling.json()["policyName"]) == (429, "TEN_SECONDLY_ROLLING")
    assert rolling.headers["X-HubSpot-RateLimit-Daily-Remaining"] == "1"
    assert rolling.headers["X-HubSpot-RateLimit-Remaining"] == "0"
    assert crm.daily_used == 2

    crm.request_times.clear()  # the rolling window passes
    assert send(crm, "GET", "/crm/v3/properties/companies").headers["X-HubSpot-RateLimit-Daily-Remaining"] == "0"
    crm.request_times.clear()
    refused = send(crm, "POST", "/crm/v3/objects/companies/batch/read", READ)
    assert refused.status_code == 429
    answer = refused.json()
    assert re.fullmatch(r"[0-9a-f-]{36}", answer.pop("correlationId"))
    assert answer == {
        "status": "error",
        "message": "You have reached your daily limit.",
        "errorType": "RATE_LIMIT",
        "policyName": "DAILY",
    }
    assert refused.headers["X-HubSpot-RateLimit-Daily-Remaining"] == "0"
    assert (crm.daily_violations, crm.limit_violations) == (1, 1)

    crm.reset_daily()
    crm.request_times.clear()
    response = send(crm, "POST", "/crm/v3/objects/companies/batch/read", READ)
    assert (response.status_code, response.headers["X-HubSpot-RateLimit-Daily-Remaining"]) == (200, "2")


# --- archive -------------------------------------------------------------------------------------


def archive(crm: FakeCrm, api_object: str, *record_ids: str):
    body = {"inputs": [{"id": record_id} for record_id in record_ids]}
    return call(crm, "POST", f"/crm/v3/objects/{api_object}/batch/archive", body)


def test_archived_records_leave_the_portal_and_free_their_unique_values(portal):
    crm = portal()
    assert associate(crm, "contacts", "companies", "create", [link("201", "101", 1)])[0] == 201
    to_company = [{"from": {"id": "301"}, "to": {"id": "102"}}]
    assert associate(crm, "deals", "companies", "associate/default", to_company)[0] == 200
    response = send(crm, "POST", "/crm/v3/objects/companies/batch/archive", {"inputs": [{"id": "101"}, {"id": "999"}]})
    assert (response.status_code, response.content) == (204, b"")  # unknown ids are ignored
    assert "101" not in crm.records
    assert crm.archived["companies"] == {"101": {"name": "Alpha", "icalps_company_id": "7"}}
    assert {link_[:4] for link_ in crm.associations} == {
        ("deals", "301", "companies", "102"),
        ("companies", "102", "deals", "301"),
    }

    status, answer = call(crm, "POST", "/crm/v3/objects/companies/batch/read", READ)
    assert (status, answer["errors"][0]["context"]["ids"]) == (207, ["101"])
    status, answer = update(crm, "companies", [{"id": "101", "properties": {"city": "x"}}])
    assert (status, answer["errors"][0]["category"]) == (207, "OBJECT_NOT_FOUND")
    status, answer = upsert(crm, "companies", [("7", {"name": "Alpha again"})])  # the legacy id is free
    assert (status, answer["results"][0]["new"]) == (200, True)
    assert answer["results"][0]["id"] != "101"

    assert archive(crm, "companies", "102")[0] == 204
    assert archive(crm, "companies", "102")[0] == 204  # again: nothing left to archive, still 204
    assert crm.associations == set()
    status, answer = archive(crm, "contacts", *(str(n) for n in range(101)))
    assert (status, answer["category"]) == (400, "VALIDATION_ERROR")
    assert "201" in crm.objects["contacts"]


# --- property history ----------------------------------------------------------------------------

TIMESTAMP_MS = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")


def history(crm: FakeCrm, api_object: str, record_id: str, *names: str) -> dict[str, list[dict]]:
    body = {"properties": ["name"], "propertiesWithHistory": list(names), "inputs": [{"id": record_id}]}
    status, answer = call(crm, "POST", f"/crm/v3/objects/{api_object}/batch/read", body)
    assert status == 200
    return answer["results"][0]["propertiesWithHistory"]


def test_every_write_is_in_the_property_history_newest_first(portal):
    crm = portal()
    assert update(crm, "companies", [{"id": "101", "properties": {"name": "Alpha SA", "city": "Meylan"}}])[0] == 200
    served = len(crm.requests)
    crm.edit("companies", "101", {"name": "Alpha (UI)"})
    assert len(crm.requests) == served  # an edit in HubSpot's UI is no request of ours
    assert crm.applied == {crm.fingerprint("101", {"name": "Alpha SA", "city": "Meylan"}): 1}
    assert crm.records["101"]["name"] == "Alpha (UI)"

    found = history(crm, "companies", "101", "name", "city", "zip", "bogus")
    assert set(found) == {"name", "city", "zip"}
    assert [(entry["value"], entry["sourceType"]) for entry in found["name"]] == [
        ("Alpha (UI)", "CRM_UI"),
        ("Alpha SA", "INTEGRATION"),
        ("Alpha", "IMPORT"),
    ]
    assert [entry["value"] for entry in found["city"]] == ["Meylan"]
    assert found["zip"] == []
    stamps = [entry["timestamp"] for entry in found["name"]]
    assert all(TIMESTAMP_MS.fullmatch(stamp) for stamp in stamps)
    assert stamps == sorted(stamps, reverse=True)
    assert all(entry["sourceId"] for entry in found["name"])

    _, answer = upsert(crm, "companies", [("8", {"name": "Gamma"})])
    created = history(crm, "companies", answer["results"][0]["id"], "icalps_company_id")
    assert [entry["sourceType"] for entry in created["icalps_company_id"]] == ["INTEGRATION"]
    _, answer = call(crm, "POST", "/crm/v3/objects/companies/batch/read", READ)
    assert "propertiesWithHistory" not in answer["results"][0]  # only when asked


@pytest.mark.parametrize(
    ("record_id", "properties", "why"),
    [
        ("999", {"name": "x"}, "no companies record 999"),
        ("101", {"bogus": "x"}, "no writable property 'bogus'"),
        ("101", {"createdate": "2026-01-01"}, "no writable property 'createdate'"),
        ("101", {"numberofemployees": "many"}, "many was not a valid number"),
        ("102", {"icalps_company_id": "7"}, "already exists on companies 101"),
    ],
)
def test_an_edit_is_refused_as_the_ui_would(portal, record_id, properties, why):
    crm = portal()
    before = copy.deepcopy(crm.objects)
    with pytest.raises(ValueError, match=re.escape(why)):
        crm.edit("companies", record_id, properties)
    assert crm.objects == before
