"""Every payload the push builds validates against HubSpot's own OpenAPI request schemas.

The specs live outside the project (``../shared/hubspot-openapi``); without them the test skips.
"""

from __future__ import annotations

import json

import jsonschema
import pytest

from crm_reconciliation.fake_hubspot import FakeCrm
from crm_reconciliation.paths import PROJECT_ROOT
from crm_reconciliation.registry import default_registry
from tests.integration.test_push import push, stage, updates

pytestmark = pytest.mark.integration

SPECS = PROJECT_ROOT.parent / "shared" / "hubspot-openapi"


def request_schema(api_object: str, action: str) -> dict:
    path = SPECS / f"crm-{api_object}-v3.json"
    if not path.is_file():
        pytest.skip(f"HubSpot's OpenAPI specs are not at {SPECS}")
    spec = json.loads(path.read_text(encoding="utf-8"))
    # One object per file; some name it by type id in their paths (deals: /crm/v3/objects/0-3/…).
    (operation,) = [item["post"] for path, item in spec["paths"].items() if path.endswith(f"/batch/{action}")]
    return {**operation["requestBody"]["content"]["application/json"]["schema"], "components": spec["components"]}


@pytest.mark.parametrize("name", list(default_registry().objects))
def test_update_payloads_of_every_object_match_the_spec(name):
    from crm_reconciliation.push import PushInput

    spec = default_registry().get(name)
    writable = [mapping.property for mapping in spec.mappings if mapping.writable]
    item = PushInput(1, "12345", dict.fromkeys(writable, "valeur"), "hash")
    jsonschema.validate({"inputs": [item.payload()]}, request_schema(spec.api_object, "update"))


@pytest.mark.parametrize("target", ["hubspot", "workflow"])
def test_what_the_push_sent_matches_the_spec(db, connections, target):
    stage(db, updates(250))
    with FakeCrm() as server:
        connections(server)
        server.faults.extend(["timeout_after_apply"])
        push(target)
    schema = request_schema("companies", "update")
    assert len(server.update_bodies) >= 3
    for body in server.update_bodies:
        jsonschema.validate(body, schema)
        assert len(body["inputs"]) <= 100


def test_an_invalid_payload_is_caught():
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"inputs": [{"properties": {"city": "x"}}]}, request_schema("companies", "update"))


def test_the_read_back_payload_matches_the_spec(monkeypatch):
    from crm_reconciliation.hooks.crm_api import ApiResponse, HubSpotApiHook

    sent = []
    monkeypatch.setenv("AIRFLOW_CONN_HUBSPOT_API", json.dumps({"conn_type": "http", "host": "127.0.0.1"}))
    monkeypatch.setattr(
        HubSpotApiHook,
        "post",
        lambda self, path, body=None, query=None: sent.append(body) or ApiResponse(200, {"results": []}, {}),
    )
    HubSpotApiHook().read_current("companies", ["1", "2"], ["city", "industry"])
    jsonschema.validate(sent[0], request_schema("companies", "read"))
