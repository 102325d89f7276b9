"""The fake HubSpot portal is as strict as a real portal of late 2026, over HTTP.

What a push meets on HubSpot's date-based API (2026-09) beside the legacy paths: option values
(never labels) of HubSpot's own enumerations and the options an admin adds, deal stages that
belong to the deal's pipeline, owners' ids, exact value forms (no surrounding whitespace,
invisible characters included), a contact's e-mail valid and unique, the portal's validation
rule on won deals (date-based API only), and multi-status batches naming each refused input by
its ``objectWriteTraceId``. As in ``test_fake_portal``, requests and answers are checked against
HubSpot's specs wherever ``tests/hubspot_spec.py`` covers the API (the 207 of multi-status, which
the date-based specs leave out, apart).
"""

from __future__ import annotations

import copy
import re

import pytest

from crm_reconciliation_dev.fake_hubspot import FakeCrm
from tests.integration.dev import test_fake_portal as legacy
from tests.integration.dev.test_fake_portal import SEED, TIMESTAMP, call, send, value_errors

pytestmark = pytest.mark.integration
portal = legacy.portal  # the fixture: portals whose requests are checked against the specs at the end

V = "2026-09"
HARDWARE, WON, LOST, QUALIFIED = "85103751", "85103757", "85103758", "85103753"
OWNER = "41000001"


def objects(crm: FakeCrm, api_object: str, action: str, inputs: list[dict], version: str = V):
    prefix = "/crm/v3/objects" if version == "v3" else f"/crm/objects/{version}"
    return call(crm, "POST", f"{prefix}/{api_object}/batch/{action}", {"inputs": inputs})


def create(crm: FakeCrm, api_object: str, *properties: dict, version: str = V):
    return objects(
        crm, api_object, "create", [{"properties": props, "associations": []} for props in properties], version
    )


def update(crm: FakeCrm, api_object: str, record_id: str, properties: dict, version: str = V):
    return objects(crm, api_object, "update", [{"id": record_id, "properties": properties}], version)


def codes(answer: dict) -> list[tuple[str, str]]:
    """(property, error code) of each value a 400 refuses."""
    return [(error["name"], error["error"]) for error in value_errors(answer)]


@pytest.fixture
def unchecked():
    """A portal (seeded with SEED) whose requests are not checked against the specs: the tests
    using it send what the specs refuse, to see the portal refuse it too."""
    with FakeCrm(seed=copy.deepcopy(SEED)) as crm:
        yield crm


# --- routes of the date-based API ------------------------------------------------------------------


@pytest.mark.parametrize("version", [V, "2027-03"])
def test_objects_and_associations_on_the_date_based_paths(portal, version):
    crm = portal()
    status, answer = create(crm, "0-2", {"name": "Gamma", "industry": "SEMICONDUCTORS"}, version=version)
    assert status == 201
    company = answer["results"][0]["id"]
    assert crm.records[company] == {"name": "Gamma", "industry": "SEMICONDUCTORS"}
    assert update(crm, "companies", company, {"city": "Grenoble"}, version)[0] == 200
    status, answer = objects(
        crm,
        "companies",
        "upsert",
        [{"id": "8", "idProperty": "icalps_company_id", "properties": {"name": "Delta"}}],
        version,
    )
    assert (status, answer["results"][0]["new"]) == (200, True)
    body = {"properties": ["city"], "propertiesWithHistory": ["city"], "inputs": [{"id": company}]}
    status, answer = call(crm, "POST", f"/crm/objects/{version}/companies/batch/read", body)
    assert answer["results"][0]["properties"] == {"city": "Grenoble"}
    assert [entry["sourceType"] for entry in answer["results"][0]["propertiesWithHistory"]["city"]] == ["INTEGRATION"]

    link = {
        "from": {"id": "201"},
        "to": {"id": company},
        "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 1}],
    }
    status, answer = call(
        crm, "POST", f"/crm/associations/{version}/contacts/companies/batch/create", {"inputs": [link]}
    )
    assert status == 200  # the date-based spec documents 200 where v4 answers 201
    assert answer["results"][0]["labels"] == ["Primary"]
    default = {"inputs": [{"from": {"id": "301"}, "to": {"id": company}}]}
    assert call(crm, "POST", f"/crm/associations/{version}/deals/companies/batch/associate/default", default)[0] == 200
    status, answer = call(
        crm, "POST", f"/crm/associations/{version}/companies/deals/batch/read", {"inputs": [{"id": company}]}
    )
    assert answer["results"][0]["to"][0]["toObjectId"] == "301"

    status, _ = call(crm, "POST", f"/crm/objects/{version}/companies/batch/archive", {"inputs": [{"id": company}]})
    assert status == 204
    assert company in crm.archived["companies"]
    assert call(crm, "POST", f"/crm/objects/{version}/unicorns/batch/read", body)[0] == 400


def test_properties_on_the_date_based_paths(portal):
    crm = portal()
    status, answer = call(crm, "GET", f"/crm/properties/{V}/companies")
    assert status == 200
    assert {"name", "industry", "icalps_company_id"} <= {prop["name"] for prop in answer["results"]}
    status, industry = call(crm, "GET", f"/crm/properties/{V}/companies/industry")
    assert (status, industry["type"], industry["hubspotDefined"]) == (200, "enumeration", True)
    assert call(crm, "GET", f"/crm/properties/{V}/companies/bogus")[0] == 404
    definition = {"name": "icalps_code", "label": "Code", "type": "string", "fieldType": "text", "groupName": "icalps"}
    assert call(crm, "POST", f"/crm/properties/{V}/companies", definition)[0] == 201
    assert call(crm, "POST", f"/crm/properties/{V}/companies", definition)[0] == 409
    assert call(crm, "GET", f"/crm/properties/{V}/0-1/email")[1]["name"] == "email"


@pytest.mark.parametrize("prefix", [f"/crm/properties/{V}", "/crm/v3/properties"])
def test_property_groups_are_created_once(portal, prefix):
    crm = portal()
    group = {"name": "icalps_legacy", "label": "iCalps legacy", "displayOrder": 3}
    status, created = call(crm, "POST", f"{prefix}/companies/groups", group)
    assert (status, created) == (201, group | {"archived": False})
    status, answer = call(crm, "POST", f"{prefix}/companies/groups", group)
    assert (status, answer["category"]) == (409, "OBJECT_ALREADY_EXISTS")
    assert call(crm, "POST", f"{prefix}/companies/groups", {"name": "icalps", "label": "iCalps"})[0] == 409
    status, answer = call(crm, "GET", f"{prefix}/companies/groups")
    assert {"companyinformation", "icalps", "icalps_legacy"} <= {item["name"] for item in answer["results"]}
    assert call(crm, "POST", f"{prefix}/contacts/groups", group)[0] == 201  # groups are per object


@pytest.mark.parametrize("path", [f"/crm/pipelines/{V}/deals", "/crm/v3/pipelines/0-3"])
def test_the_deal_pipelines_are_listed_with_their_stages(portal, path):
    crm = portal()
    status, answer = call(crm, "GET", path)
    assert status == 200
    sales, hardware = answer["results"]
    assert (sales["id"], sales["label"], sales["archived"]) == ("default", "Sales Pipeline", False)
    assert [stage["id"] for stage in sales["stages"]] == [
        "appointmentscheduled",
        "qualifiedtobuy",
        "presentationscheduled",
        "decisionmakerboughtin",
        "contractsent",
        "closedwon",
        "closedlost",
    ]
    assert [stage["metadata"] for stage in sales["stages"][-2:]] == [
        {"isClosed": "true", "probability": "1.0"},
        {"isClosed": "true", "probability": "0.0"},
    ]
    assert (hardware["id"], hardware["label"]) == (HARDWARE, "Hardware")
    assert [(stage["id"], stage["label"]) for stage in hardware["stages"]] == [
        ("85103752", "Identified"),
        (QUALIFIED, "Qualified"),
        ("85103754", "Design In"),
        ("85103756", "Design Win"),
        (WON, "Closed Won"),
        (LOST, "Closed Lost"),
    ]
    assert all(stage["metadata"]["isClosed"] == "false" for stage in hardware["stages"][:4])
    assert [stage["displayOrder"] for stage in hardware["stages"]] == list(range(6))
    assert call(crm, "GET", f"/crm/pipelines/{V}/companies") == (200, {"results": []})
    _, deals = call(crm, "GET", f"/crm/properties/{V}/deals")
    options = {prop["name"]: [option["value"] for option in prop["options"]] for prop in deals["results"]}
    assert options["pipeline"] == ["default", HARDWARE]
    assert WON in options["dealstage"]
    assert "closedwon" in options["dealstage"]


def test_pipelines_given_replace_the_portals(portal):
    stages = [
        {"id": "s1", "label": "Open", "metadata": {"isClosed": False, "probability": 0.5}},
        {"id": "s2", "label": "Won", "metadata": {"isClosed": True, "probability": 1.0}},
    ]
    crm = portal(pipelines=[{"id": "p1", "label": "Only", "stages": stages}])
    _, answer = call(crm, "GET", f"/crm/pipelines/{V}/deals")
    assert [(pipeline["id"], [stage["id"] for stage in pipeline["stages"]]) for pipeline in answer["results"]] == [
        ("p1", ["s1", "s2"])
    ]
    assert answer["results"][0]["stages"][1]["metadata"] == {"isClosed": "true", "probability": "1.0"}
    status, answer = create(crm, "deals", {"dealname": "D", "dealstage": "s1"})
    assert status == 201
    assert crm.objects["deals"][answer["results"][0]["id"]]["pipeline"] == "p1"  # the first is the default
    assert codes(create(crm, "deals", {"dealname": "D", "dealstage": WON})[1]) == [("dealstage", "INVALID_OPTION")]
    assert create(crm, "deals", {"dealname": "D", "dealstage": "s2"})[0] == 400  # won, no close date
    with pytest.raises(ValueError, match="at least one"):
        FakeCrm(pipelines=[])


@pytest.mark.parametrize("path", [f"/crm/owners/{V}", "/crm/v3/owners", "/crm/v3/owners/"])
def test_the_owners_are_listed(portal, path):
    crm = portal()
    status, answer = call(crm, "GET", path)
    assert status == 200
    first = answer["results"][0]
    assert {key: first[key] for key in ("id", "email", "firstName", "lastName", "archived")} == {
        "id": OWNER,
        "email": "claire.martin@icalps.example.fr",
        "firstName": "Claire",
        "lastName": "Martin",
        "archived": False,
    }
    assert isinstance(first["userId"], int)
    assert len(answer["results"]) == 3
    assert "paging" not in answer


def test_owners_are_paged_found_by_email_and_replaced_when_given(portal):
    crm = portal()
    status, page = call(crm, "GET", f"/crm/owners/{V}?limit=2")
    assert (status, len(page["results"]), page["paging"]["next"]["after"]) == (200, 2, "2")
    _, rest = call(crm, "GET", f"/crm/owners/{V}?limit=2&after=2")
    assert [owner["id"] for owner in rest["results"]] == ["41000003"]
    assert "paging" not in rest
    _, found = call(crm, "GET", f"/crm/owners/{V}?email=julien.roux@icalps.example.fr")
    assert [owner["id"] for owner in found["results"]] == ["41000002"]
    status, owner = call(crm, "GET", f"/crm/owners/{V}/{OWNER}")
    assert (status, owner["email"]) == (200, "claire.martin@icalps.example.fr")
    assert call(crm, "GET", f"/crm/owners/{V}/999")[0] == 404

    own = portal(owners=[{"id": "77", "email": "solo@x.fr", "firstName": "Solo", "lastName": "Rep", "userId": 1}])
    _, answer = call(own, "GET", f"/crm/owners/{V}")
    assert [owner["id"] for owner in answer["results"]] == ["77"]
    assert update(own, "companies", "101", {"hubspot_owner_id": "77"})[0] == 200
    assert codes(update(own, "companies", "101", {"hubspot_owner_id": OWNER})[1]) == [
        ("hubspot_owner_id", "INVALID_OPTION")
    ]


@pytest.mark.parametrize(
    ("api_object", "record_id", "value", "status"),
    [
        ("companies", "101", OWNER, 200),
        ("contacts", "201", "41000002", 200),
        ("deals", "301", "41000003", 200),
        ("notes", "401", OWNER, 200),
        ("companies", "101", "claire.martin@icalps.example.fr", 400),
        ("deals", "301", "Claire Martin", 400),
        ("notes", "401", "99999999", 400),
        ("contacts", "201", f" {OWNER}", 400),
    ],
)
def test_hubspot_owner_id_takes_only_an_owners_id(portal, api_object, record_id, value, status):
    crm = portal()
    got, answer = update(crm, api_object, record_id, {"hubspot_owner_id": value})
    assert got == status
    if status == 400:
        assert codes(answer) == [("hubspot_owner_id", "INVALID_OPTION")]


# --- enumerations: option values, real labels, options an admin adds --------------------------------

LABELS = [
    ("companies", "industry", "SEMICONDUCTORS", "Semiconductors"),
    ("companies", "industry", "AVIATION_AEROSPACE", "Aviation & Aerospace"),
    ("companies", "industry", "ELECTRICAL_ELECTRONIC_MANUFACTURING", "Electrical/Electronic Manufacturing"),
    ("companies", "industry", "INFORMATION_TECHNOLOGY_AND_SERVICES", "Information Technology and Services"),
    ("companies", "industry", "RENEWABLES_ENVIRONMENT", "Renewables & Environment"),
    ("companies", "type", "CUSTOMER", "Customer"),
    ("companies", "type", "PROSPECT", "Prospect"),
    ("deals", "dealtype", "newbusiness", "New Business"),
    ("deals", "dealtype", "existingbusiness", "Existing Business"),
    ("calls", "hs_call_status", "CANCELED", "Canceled"),
    ("calls", "hs_call_direction", "INBOUND", "Inbound"),
    ("meetings", "hs_meeting_outcome", "CANCELED", "Canceled"),
    ("tasks", "hs_task_status", "NOT_STARTED", "Not started"),
    ("tasks", "hs_task_status", "COMPLETED", "Completed"),
]


def test_hubspots_enumerations_have_their_real_labels(portal):
    crm = portal()
    for api_object, name, value, label in LABELS:
        _, prop = call(crm, "GET", f"/crm/properties/{V}/{api_object}/{name}")
        assert {option["value"]: option["label"] for option in prop["options"]}[value] == label
    _, industry = call(crm, "GET", f"/crm/properties/{V}/companies/industry")
    assert len(industry["options"]) >= 145
    assert [option["displayOrder"] for option in industry["options"]] == list(range(len(industry["options"])))
    _, company_type = call(crm, "GET", f"/crm/properties/{V}/companies/type")
    assert [option["value"] for option in company_type["options"]] == [
        "PROSPECT",
        "PARTNER",
        "RESELLER",
        "VENDOR",
        "OTHER",
        "CUSTOMER",
    ]


@pytest.mark.parametrize(("api_object", "name", "value", "label"), LABELS)
def test_an_enumeration_takes_the_option_value_not_its_label(portal, api_object, name, value, label):
    crm = portal()
    extra = {"hs_timestamp": TIMESTAMP} if api_object in ("calls", "meetings", "tasks") else {}
    status, answer = create(crm, api_object, {**extra, name: label})
    assert (status, codes(answer)) == (400, [(name, "INVALID_OPTION")])
    assert label in value_errors(answer)[0]["message"]
    assert create(crm, api_object, {**extra, name: value.lower() if value.isupper() else value.upper()})[0] == 400
    assert create(crm, api_object, {**extra, name: value})[0] == 201


def test_a_catalogue_given_replaces_the_options(portal):
    industry = {
        "name": "industry",
        "label": "Industry",
        "type": "enumeration",
        "fieldType": "select",
        "groupName": "companyinformation",
        "options": [{"label": "Optique", "value": "optique"}],
    }
    crm = portal(seed={}, catalogue={"companies": [{"name": "name", "groupName": "companyinformation"}, industry]})
    assert create(crm, "companies", {"name": "A", "industry": "optique"})[0] == 201
    assert create(crm, "companies", {"name": "A", "industry": "SEMICONDUCTORS"})[0] == 400


@pytest.mark.parametrize("prefix", [f"/crm/properties/{V}", "/crm/v3/properties"])
def test_an_admin_adds_an_option_then_the_portal_takes_it(portal, prefix):
    crm = portal()
    assert codes(update(crm, "companies", "101", {"industry": "MEMS"})[1]) == [("industry", "INVALID_OPTION")]
    _, industry = call(crm, "GET", f"{prefix}/companies/industry")
    options = [*industry["options"], {"label": "MEMS", "value": "MEMS", "displayOrder": 200, "hidden": False}]
    status, patched = call(crm, "PATCH", f"{prefix}/companies/industry", {"options": options})
    assert status == 200
    assert patched["options"][-1] == {"label": "MEMS", "value": "MEMS", "displayOrder": 200, "hidden": False}
    assert update(crm, "companies", "101", {"industry": "MEMS"})[0] == 200
    assert update(crm, "companies", "101", {"industry": "SEMICONDUCTORS"})[0] == 200
    assert crm.records["101"]["industry"] == "SEMICONDUCTORS"

    # The full list replaces the options: one left out is no longer taken.
    only = [{"label": "MEMS", "value": "MEMS", "displayOrder": 0, "hidden": False}]
    status, patched = call(crm, "PATCH", f"{prefix}/companies/industry", {"options": only})
    assert (status, patched["options"]) == (200, only)
    assert update(crm, "companies", "101", {"industry": "SEMICONDUCTORS"})[0] == 400


@pytest.mark.parametrize(
    ("name", "body", "status"),
    [
        ("territory", {"label": "Territoire", "description": "Sage's territory"}, 200),  # a custom property
        ("industry", {"label": "Secteur"}, 400),  # HubSpot-defined: only its options change
        ("type", {"options": [{"label": "X", "value": "x"}]}, 200),  # an admin's list replaces HubSpot's
        ("hubspot_owner_id", {"options": [{"label": "X", "value": "1"}]}, 400),  # the owners are its options
        ("city", {"options": [{"label": "X", "value": "x"}]}, 400),  # no enumeration
        ("type", {"options": [{"label": "X", "value": "x"}, {"label": "Y", "value": "x"}]}, 400),  # repeated value
        ("type", {"options": [{"value": "x"}]}, 400),  # an option has a label
        ("type", {"options": "PROSPECT;PARTNER"}, 400),
        ("territory", {"name": "renamed"}, 400),  # a name is for ever
        ("territory", {"type": "text"}, 400),
        ("territory", {"fieldType": "dropdown"}, 400),
        ("territory", {"hidden": "no"}, 400),
        ("territory", {}, 400),
        ("bogus", {"label": "x"}, 404),
    ],
)
def test_a_property_update_is_checked(unchecked, name, body, status):
    crm = unchecked
    got, answer = call(crm, "PATCH", f"/crm/properties/{V}/companies/{name}", body)
    assert got == status, answer
    if status == 200:
        assert call(crm, "GET", f"/crm/properties/{V}/companies/{name}")[1] == answer
        assert {key: answer[key] for key in body if key != "options"} == {
            key: value for key, value in body.items() if key != "options"
        }


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("companies", {"name": "x", "label": "X", "type": "string", "fieldType": "dropdown", "groupName": "icalps"}),
        ("companies", {"name": "x", "label": "X", "type": "text", "fieldType": "text", "groupName": "icalps"}),
        (
            "companies",
            {
                "name": "x",
                "label": "X",
                "type": "enumeration",
                "fieldType": "select",
                "groupName": "icalps",
                "options": [{"label": "A"}],
            },
        ),
        ("companies/groups", {"name": "no_label"}),
        ("companies/groups", {"name": "Bad Name", "label": "Bad"}),
        ("companies/groups", {"name": "ordered", "label": "Ordered", "displayOrder": "first"}),
    ],
)
def test_a_property_or_group_definition_is_checked(unchecked, path, body):
    status, answer = call(unchecked, "POST", f"/crm/properties/{V}/{path}", body)
    assert (status, answer["category"]) == (400, "VALIDATION_ERROR")


# --- pipelines and stages ------------------------------------------------------------------------


def test_a_stage_belongs_to_the_pipeline_of_the_deal_on_create(portal):
    crm = portal()
    status, answer = create(crm, "deals", {"dealname": "Capteur", "dealstage": QUALIFIED})
    assert (status, codes(answer)) == (400, [("dealstage", "INVALID_OPTION")])  # the default pipeline's stages
    assert QUALIFIED in value_errors(answer)[0]["message"]
    status, answer = create(crm, "deals", {"dealname": "Capteur", "pipeline": HARDWARE, "dealstage": QUALIFIED})
    assert status == 201
    hardware_deal = answer["results"][0]["id"]
    assert crm.objects["deals"][hardware_deal]["pipeline"] == HARDWARE
    status, answer = create(crm, "deals", {"dealname": "Default", "dealstage": "qualifiedtobuy"})
    assert status == 201
    assert answer["results"][0]["properties"]["pipeline"] == "default"  # HubSpot puts it in the default pipeline
    assert codes(create(crm, "deals", {"dealname": "x", "pipeline": HARDWARE, "dealstage": "qualifiedtobuy"})[1]) == [
        ("dealstage", "INVALID_OPTION")
    ]
    assert codes(create(crm, "deals", {"dealname": "x", "pipeline": "Hardware", "dealstage": QUALIFIED})[1]) == [
        ("pipeline", "INVALID_OPTION")  # a label, not the pipeline's id
    ]
    assert codes(create(crm, "deals", {"dealname": "x", "dealstage": "Qualified"})[1]) == [
        ("dealstage", "INVALID_OPTION")
    ]
    assert crm.created == {"deals": 2}


def test_an_update_takes_the_stages_of_the_records_pipeline(portal):
    crm = portal(
        seed={"deals": {"301": {"dealname": "Capteurs", "pipeline": HARDWARE}, "302": {"dealname": "Optique"}}}
    )
    assert update(crm, "deals", "301", {"dealstage": QUALIFIED})[0] == 200
    status, answer = update(crm, "deals", "302", {"dealstage": QUALIFIED})  # no pipeline held: the default one
    assert (status, codes(answer)) == (400, [("dealstage", "INVALID_OPTION")])
    assert update(crm, "deals", "302", {"pipeline": HARDWARE, "dealstage": QUALIFIED})[0] == 200
    assert crm.objects["deals"]["302"] == {"dealname": "Optique", "pipeline": HARDWARE, "dealstage": QUALIFIED}
    # Moving a deal to a pipeline its stage is not in needs a stage of that pipeline.
    assert codes(update(crm, "deals", "301", {"pipeline": "default"})[1]) == [("dealstage", "INVALID_OPTION")]
    assert update(crm, "deals", "301", {"pipeline": "default", "dealstage": "qualifiedtobuy"})[0] == 200
    assert update(crm, "deals", "301", {"dealstage": QUALIFIED}, version="v3")[0] == 400  # the legacy paths too
    with pytest.raises(ValueError, match="was not one of the allowed options"):
        crm.edit("deals", "302", {"dealstage": "closedwon"})  # nor in the UI


# --- value forms ---------------------------------------------------------------------------------

INVISIBLE = ["\u00a0", "\u200b", "\ufeff", "\t", "\n", " "]
# (object, property, a value of the right form, HubSpot's code when it is padded).
FORMS = [
    ("companies", "numberofemployees", "250", "INVALID_INTEGER"),
    ("companies", "annualrevenue", "12500.5", "INVALID_INTEGER"),
    ("companies", "industry", "MACHINERY", "INVALID_OPTION"),
    ("companies", "type", "VENDOR", "INVALID_OPTION"),
    ("companies", "icalps_key_account", "true", "INVALID_BOOLEAN"),
    ("deals", "closedate", "2026-12-31T10:00:00Z", "INVALID_LONG"),
    ("deals", "closedate", "1798675200000", "INVALID_LONG"),
    ("deals", "actual_close_date", "2026-12-31", "INVALID_DATE"),
    ("deals", "actual_close_date", "1798675200000", "INVALID_DATE"),  # 2026-12-31 00:00 UTC
    ("deals", "dealtype", "newbusiness", "INVALID_OPTION"),
    ("contacts", "email", "ana@alpha.fr", "INVALID_EMAIL"),
    ("contacts", "hubspot_owner_id", OWNER, "INVALID_OPTION"),
]
RECORDS = {"companies": "101", "contacts": "201", "deals": "301"}


@pytest.fixture
def valued(portal):
    """A portal with a boolean property of its own (HubSpot's standard ones hold none here)."""
    crm = portal()
    body = {"name": "icalps_key_account", "label": "Key account", "type": "bool", "fieldType": "booleancheckbox"}
    assert call(crm, "POST", f"/crm/properties/{V}/companies", body | {"groupName": "icalps"})[0] == 201
    return crm


@pytest.mark.parametrize(("api_object", "name", "value", "code"), FORMS)
def test_a_value_of_the_right_form_is_taken_padded_it_is_refused(valued, api_object, name, value, code):
    crm, record_id = valued, RECORDS[api_object]
    for pad in INVISIBLE:
        for padded in (pad + value, value + pad):
            status, answer = update(crm, api_object, record_id, {name: padded})
            assert (status, codes(answer)) == (400, [(name, code)]), repr(padded)
    assert not crm.applied
    assert update(crm, api_object, record_id, {name: value})[0] == 200
    assert crm.objects[api_object][record_id][name] == value


def test_text_keeps_its_spaces_and_digits_are_ascii(valued):
    crm = valued
    assert update(crm, "companies", "101", {"name": " Alpha\u00a0SA ", "description": "\tligne\n"})[0] == 200
    for name, value in [("numberofemployees", "٢٥٠"), ("actual_close_date", "２０２６-12-31")]:
        api_object = "deals" if name == "actual_close_date" else "companies"
        status, _ = update(crm, api_object, RECORDS[api_object], {name: value})
        assert status == 400, name


@pytest.mark.parametrize(
    ("name", "value", "code"),
    [
        ("numberofemployees", "12 500", "INVALID_INTEGER"),
        ("numberofemployees", "12,5", "INVALID_INTEGER"),
        ("icalps_key_account", "1", "INVALID_BOOLEAN"),
        ("icalps_key_account", "TRUE", "INVALID_BOOLEAN"),
        ("industry", "Semiconductors", "INVALID_OPTION"),
    ],
)
def test_other_forms_are_refused(valued, name, value, code):
    status, answer = update(valued, "companies", "101", {name: value})
    assert (status, codes(answer)) == (400, [(name, code)])


# --- a contact's e-mail ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "email",
    [
        "jean dupont@x.fr",
        "a@@x.fr",
        "x@y.fr; z@w.fr",
        "x@y.fr,z@w.fr",
        "<x@y.fr>",
        "Jean <x@y.fr>",
        "x@y",
        "@x.fr",
        "x.@y.fr",
        "x@-y.fr",
        "x@y..fr",
        "jean@x.fr\u200b",
    ],
)
def test_a_contacts_email_is_one_valid_address(portal, email):
    crm = portal()
    status, answer = create(crm, "contacts", {"firstname": "Jean", "email": email})
    assert (status, codes(answer)) == (400, [("email", "INVALID_EMAIL")])
    assert value_errors(answer)[0]["message"] == f"Email address {email} is invalid"
    assert crm.created == {}


@pytest.mark.parametrize("email", ["jean.dupont@x.fr", "Jean.Dupont+crm@sub.x-y.fr", "o'neil@x.co.uk", "j_d-1@x.io"])
def test_an_email_address_is_taken(portal, email):
    assert create(portal(), "contacts", {"firstname": "Jean", "email": email})[0] == 201


def test_a_contacts_email_is_unique_in_the_portal(portal):
    crm = portal(seed={"contacts": {"201": {"firstname": "Ana", "email": "ana@alpha.fr"}, "202": {"firstname": "Bo"}}})
    for version in (V, "v3"):
        status, answer = create(crm, "contacts", {"firstname": "Copy", "email": "ANA@Alpha.fr"}, version=version)
        assert (status, answer["category"]) == (409, "CONFLICT")
        assert answer["message"] == "Contact already exists. Existing ID: 201"
    status, answer = create(
        crm, "contacts", {"firstname": "C", "email": "c@x.fr"}, {"firstname": "D", "email": "C@x.fr"}
    )
    assert (status, answer["category"]) == (409, "CONFLICT")
    assert update(crm, "contacts", "202", {"email": "bo@beta.fr"})[0] == 200
    status, answer = update(crm, "contacts", "202", {"email": "ana@alpha.fr"})
    assert (status, answer["message"]) == (409, "Contact already exists. Existing ID: 201")
    assert crm.created == {}
    assert crm.objects["contacts"]["202"]["email"] == "bo@beta.fr"
    assert update(crm, "contacts", "201", {"email": "Ana@Alpha.fr"})[0] == 200  # its own address, in other case

    # An upsert or a read by e-mail finds the contact, whatever the case.
    body = [{"id": "BO@beta.fr", "idProperty": "email", "properties": {"lastname": "Beta"}}]
    status, answer = objects(crm, "contacts", "upsert", body)
    assert (status, answer["results"][0]["id"], answer["results"][0]["new"]) == (200, "202", False)
    body = [{"id": "new@x.fr", "idProperty": "email", "properties": {"firstname": "New"}}]
    status, answer = objects(crm, "contacts", "upsert", body)
    assert (status, answer["results"][0]["properties"]["email"]) == (200, "new@x.fr")
    new = answer["results"][0]["id"]
    bad = [{"id": "not an address", "idProperty": "email", "properties": {"firstname": "New"}}]
    assert codes(objects(crm, "contacts", "upsert", bad)[1]) == [("email", "INVALID_EMAIL")]
    read = {
        "idProperty": "email",
        "properties": ["firstname"],
        "propertiesWithHistory": [],
        "inputs": [{"id": "ana@ALPHA.fr"}],
    }
    assert call(crm, "POST", f"/crm/objects/{V}/contacts/batch/read", read)[1]["results"][0]["id"] == "201"

    # An archived contact frees its address; a portal cannot be seeded with one address twice.
    assert call(crm, "POST", f"/crm/objects/{V}/contacts/batch/archive", {"inputs": [{"id": "201"}]})[0] == 204
    assert create(crm, "contacts", {"firstname": "Ana again", "email": "ana@alpha.fr"})[0] == 201
    with pytest.raises(ValueError, match="Contact already exists"):
        FakeCrm(seed={"contacts": {"1": {"email": "a@x.fr"}, "2": {"email": "A@x.fr"}}})
    with pytest.raises(ValueError, match=re.escape("Contact already exists. Existing ID: 202")):
        crm.edit("contacts", new, {"email": "BO@beta.fr"})  # nor in the UI


# --- the portal's validation rule (date-based API) -----------------------------------------------


def test_a_won_deal_needs_a_close_date_on_the_date_based_api_only(portal):
    crm = portal(
        seed={
            "deals": {
                "301": {"dealname": "Dated", "pipeline": HARDWARE, "closedate": "2026-06-30"},
                "302": {"dealname": "Undated", "pipeline": HARDWARE},
            }
        }
    )
    won = {"dealname": "Won", "pipeline": HARDWARE, "dealstage": WON}
    status, answer = create(crm, "deals", won)
    assert (status, answer["category"]) == (400, "VALIDATION_ERROR")
    assert answer["message"] == "closedate is required when the deal is Closed Won (validation rule)"
    assert answer["errors"][0]["context"] == {"propertyName": ["closedate"]}
    assert create(crm, "deals", {"dealname": "Won", "dealstage": "closedwon"})[0] == 400  # the default pipeline's
    assert create(crm, "deals", won | {"closedate": "2026-06-30"})[0] == 201
    assert create(crm, "deals", won | {"dealstage": LOST})[0] == 201  # lost: no rule
    assert create(crm, "deals", won, version="v3")[0] == 201  # the legacy API does not enforce the rules

    assert update(crm, "deals", "301", {"dealstage": WON})[0] == 200  # the record has its close date
    assert update(crm, "deals", "301", {"closedate": ""})[0] == 400  # a won deal keeps it
    assert update(crm, "deals", "302", {"dealstage": WON})[0] == 400
    assert update(crm, "deals", "302", {"dealstage": WON, "closedate": "2026-07-01"})[0] == 200
    body = [{"id": "42", "idProperty": "icalps_deal_id", "properties": won}]
    assert objects(crm, "deals", "upsert", body)[0] == 400
    assert objects(crm, "deals", "upsert", body, version="v3")[0] == 200


# --- multi-status ----------------------------------------------------------------------------------


def traced(trace: str, record_id: str, properties: dict) -> dict:
    return {"id": record_id, "properties": properties, "objectWriteTraceId": trace}


def test_with_a_trace_id_on_every_input_the_valid_ones_are_applied(portal):
    crm = portal(
        seed={
            "companies": {key: {"name": f"Company {key}"} for key in ("101", "102", "103", "104")},
            "deals": {key: {"dealname": f"Deal {key}", "pipeline": HARDWARE} for key in ("301", "302", "303")},
        }
    )
    inputs = [
        traced("t-ok", "101", {"industry": "SEMICONDUCTORS", "hubspot_owner_id": OWNER}),
        traced("t-label", "102", {"industry": "Semiconductors"}),
        traced("t-owner", "103", {"hubspot_owner_id": "nobody", "numberofemployees": "12 500"}),
        traced("t-missing", "999", {"city": "x"}),
        traced("t-ok2", "104", {"type": "CUSTOMER"}),
    ]
    status, answer = objects(crm, "companies", "update", inputs)
    assert status == 207
    assert [(result["id"], result["objectWriteTraceId"]) for result in answer["results"]] == [
        ("101", "t-ok"),
        ("104", "t-ok2"),
    ]
    errors = {error["context"]["objectWriteTraceId"][0]: error for error in answer["errors"]}
    assert set(errors) == {"t-label", "t-owner", "t-missing"}
    assert (errors["t-label"]["category"], errors["t-label"]["context"]) == (
        "VALIDATION_ERROR",
        {"objectWriteTraceId": ["t-label"], "propertyName": ["industry"], "ids": ["102"]},
    )
    assert errors["t-label"]["message"].startswith("Property values were not valid: [")
    assert '"error": "INVALID_OPTION"' in errors["t-label"]["message"]
    assert [detail["code"] for detail in errors["t-owner"]["errors"]] == ["INVALID_OPTION", "INVALID_INTEGER"]
    assert errors["t-owner"]["context"]["propertyName"] == ["hubspot_owner_id", "numberofemployees"]
    assert (errors["t-missing"]["category"], errors["t-missing"]["context"]["ids"]) == ("OBJECT_NOT_FOUND", ["999"])
    assert answer["numErrors"] == 3
    assert crm.records["101"]["industry"] == "SEMICONDUCTORS"
    assert crm.records["104"]["type"] == "CUSTOMER"
    assert crm.records["102"] == {"name": "Company 102"}
    assert crm.records["103"] == {"name": "Company 103"}

    deals = [
        traced("d-stage", "301", {"dealstage": "closedwon"}),  # the default pipeline's, not Hardware's
        traced("d-won", "302", {"dealstage": WON}),  # won without a close date
        traced("d-ok", "303", {"dealstage": QUALIFIED}),
    ]
    status, answer = objects(crm, "deals", "update", deals)
    assert status == 207
    assert [result["objectWriteTraceId"] for result in answer["results"]] == ["d-ok"]
    assert crm.objects["deals"]["303"]["dealstage"] == QUALIFIED
    errors = {error["context"]["objectWriteTraceId"][0]: error for error in answer["errors"]}
    assert errors["d-stage"]["context"]["propertyName"] == ["dealstage"]
    assert errors["d-won"]["message"] == "closedate is required when the deal is Closed Won (validation rule)"
    assert errors["d-won"]["context"] == {
        "objectWriteTraceId": ["d-won"],
        "propertyName": ["closedate"],
        "ids": ["302"],
    }


def test_multi_status_create_and_upsert_name_each_refused_input(portal):
    crm = portal(seed={"contacts": {"201": {"firstname": "Ana", "email": "ana@alpha.fr"}}})
    inputs = [
        {"properties": {"firstname": "Ok", "email": "ok@x.fr"}, "associations": [], "objectWriteTraceId": "c1"},
        {
            "properties": {"firstname": "Bad", "email": "bad address@x.fr"},
            "associations": [],
            "objectWriteTraceId": "c2",
        },
        {"properties": {"firstname": "Taken", "email": "ANA@alpha.fr"}, "associations": [], "objectWriteTraceId": "c3"},
        {"properties": {"firstname": "Twice", "email": "OK@x.fr"}, "associations": [], "objectWriteTraceId": "c4"},
    ]
    status, answer = objects(crm, "contacts", "create", inputs)
    assert status == 207
    assert [(result["objectWriteTraceId"], result["properties"]["email"]) for result in answer["results"]] == [
        ("c1", "ok@x.fr")
    ]
    errors = {error["context"]["objectWriteTraceId"][0]: error for error in answer["errors"]}
    assert '"error": "INVALID_EMAIL"' in errors["c2"]["message"]
    assert (errors["c3"]["category"], errors["c3"]["message"]) == (
        "CONFLICT",
        "Contact already exists. Existing ID: 201",
    )
    created = answer["results"][0]["id"]
    assert errors["c4"]["message"] == f"Contact already exists. Existing ID: {created}"
    assert crm.created == {"contacts": 1}

    upserts = [
        {"id": "10", "idProperty": "icalps_contact_id", "properties": {"firstname": "A"}, "objectWriteTraceId": "u1"},
        {
            "id": "11",
            "idProperty": "icalps_contact_id",
            "properties": {"lifecyclestage": "Lead"},
            "objectWriteTraceId": "u2",
        },
    ]
    status, answer = objects(crm, "contacts", "upsert", upserts)
    assert status == 207
    assert [(result["objectWriteTraceId"], result["new"]) for result in answer["results"]] == [("u1", True)]
    assert answer["errors"][0]["context"] == {
        "objectWriteTraceId": ["u2"],
        "propertyName": ["lifecyclestage"],
        "ids": ["11"],
    }


def test_without_a_trace_id_on_every_input_a_bad_value_refuses_the_whole_batch(portal):
    crm = portal()
    inputs = [
        traced("t1", "101", {"industry": "SEMICONDUCTORS"}),
        {"id": "102", "properties": {"industry": "Semiconductors"}},  # no trace id
    ]
    status, answer = objects(crm, "companies", "update", inputs)
    assert (status, codes(answer)) == (400, [("industry", "INVALID_OPTION")])
    assert not crm.applied
    # Unknown or read-only properties and a bad idProperty refuse the whole batch even then.
    for refused in (
        [traced("t1", "101", {"industry": "SEMICONDUCTORS"}), traced("t2", "102", {"bogus": "x"})],
        [traced("t1", "101", {"industry": "SEMICONDUCTORS"}), traced("t2", "102", {"createdate": "2026-01-01"})],
        [traced("t1", "101", {"city": "x"}) | {"idProperty": "name"}],
    ):
        assert objects(crm, "companies", "update", refused)[0] == 400
    upsert = [traced("t1", "9", {"name": "Nine"}) | {"idProperty": "city"}]
    assert objects(crm, "companies", "upsert", upsert)[0] == 400
    assert not crm.applied


# --- faults and limits on the date-based paths ---------------------------------------------------


def test_faults_and_limits_hold_on_the_date_based_paths(portal):
    crm = portal(max_requests=5, window_seconds=60, daily_limit=100)
    crm.faults.extend(["500", "207"])
    status, _ = call(
        crm,
        "POST",
        f"/crm/objects/{V}/companies/batch/update",
        {"inputs": [traced("a", "101", {"city": "x"})]},
        check=False,
    )
    assert status == 502
    inputs = [traced("a", "101", {"city": "Lyon"}), traced("b", "102", {"city": "Nice"})]
    status, answer = objects(crm, "companies", "update", inputs)
    assert (status, answer["errors"][0]["context"]["objectWriteTraceId"]) == (207, ["a"])
    assert crm.records["102"]["city"] == "Nice"
    assert "city" not in crm.records["101"]
    response = send(crm, "GET", f"/crm/pipelines/{V}/deals")
    assert response.headers["X-HubSpot-RateLimit-Remaining"] == "2"
    assert response.headers["X-HubSpot-RateLimit-Daily-Remaining"] == "97"
    assert send(crm, "GET", f"/crm/owners/{V}").status_code == 200
    assert send(crm, "PATCH", f"/crm/properties/{V}/companies/territory", {"label": "T"}).status_code == 200
    refused = send(crm, "GET", f"/crm/properties/{V}/companies")
    assert (refused.status_code, refused.json()["policyName"]) == (429, "TEN_SECONDLY_ROLLING")
    assert [method for method, *_ in crm.requests] == ["POST", "POST", "GET", "GET", "PATCH", "GET"]
    assert send(crm, "GET", f"/crm/owners/{V}", token="wrong").status_code == 401
