"""Every payload the push builds validates against HubSpot's own OpenAPI request schemas.

The specs live outside the project (``../shared/hubspot-openapi``, see ``tests/hubspot_spec.py``);
without them the test skips.
"""

from __future__ import annotations

import json

import jsonschema
import pytest

from crm_reconciliation.config.registry import default_registry
from tests.hubspot_spec import request_schema, validate_all
from tests.integration.test_push import portal, push, stage, updates

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("name", list(default_registry().objects))
def test_update_payloads_of_every_object_match_the_spec(name):
    from crm_reconciliation.push.sender import PushInput

    spec = default_registry().get(name)
    writable = [mapping.property for mapping in spec.mappings if mapping.writable]
    item = PushInput(1, "12345", dict.fromkeys(writable, "valeur"), "hash")
    jsonschema.validate({"inputs": [item.payload()]}, request_schema(spec.api_object, "update"))


@pytest.mark.parametrize("target", ["hubspot", "workflow"])
def test_what_the_push_sent_matches_the_spec(db, connections, target):
    wanted = updates(250)
    stage(db, wanted)
    with portal(wanted) as server:
        connections(server)
        server.faults.extend(["timeout_after_apply"])
        push(target)
    schema = request_schema("companies", "update")
    assert len(server.update_bodies) >= 3
    for body in server.update_bodies:  # the workflow's body wraps what it sends to HubSpot's batch/update
        jsonschema.validate(body, schema)
        assert len(body["inputs"]) <= 100
    # Every other request validates too (read-backs, associations); the specs folder has no spec of
    # the properties API, and the workflow API is not HubSpot's.
    assert all(path.startswith(("/crm/v3/properties/", "/workspaces/")) for _, path in validate_all(server))


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
    HubSpotApiHook().read_records("companies", ["1", "2"], ["city", "industry"])
    jsonschema.validate(sent[0], request_schema("companies", "read"))
