"""Check requests (and the fake portal's answers) against HubSpot's own OpenAPI specs.

Why: the fake portal (``crm_reconciliation_dev.fake_hubspot``) is as strict as we made it, and a
payload the fake and the client agree on can still be one HubSpot refuses. The specs are
HubSpot's word on the shapes. They live outside the project (``../shared/hubspot-openapi``, one
file per API: ``crm-<object>-v3.json``, ``crm-associations-v4.json``) and are not copied in;
without the folder every check skips.

Coverage: the date-based API (``2026-09/``: objects, associations, properties, pipelines,
owners; ``/crm/<family>/<version>/…``), and the legacy v3 object endpoints (batch read, with
``propertiesWithHistory``, create, update, upsert, archive: a 204 without a body) and v4
associations. The folder holds no spec of the legacy properties API (``/crm/v3/properties/…``)
and the workflow API is not HubSpot's: requests to those are not validated, and the functions
say so by returning False (``validate_all`` lists them).
"""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any
from urllib.parse import urlparse

import jsonschema
import pytest

from crm_reconciliation.config.paths import PROJECT_ROOT
from crm_reconciliation_dev.fake_hubspot import object_type

SPECS = PROJECT_ROOT.parent / "shared" / "hubspot-openapi"
OBJECT_PATH = re.compile(r"(/crm/(?:v3/objects|objects/\d{4}-\d{2})/)([^/]+)(.*)")
DATED_PATH = re.compile(r"/crm/(objects|associations|properties|pipelines|owners)/(\d{4}-\d{2})(/[^/]+)?")


def _specs_folder():
    if not SPECS.is_dir():
        pytest.skip(f"HubSpot's OpenAPI specs are not at {SPECS}")
    return SPECS


@cache
def _load(name: str) -> dict[str, Any] | None:
    path = _specs_folder() / name
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def _canonical(path: str) -> str:
    """``path`` with the object type of a v3 objects path as a name (a spec may use ``0-3``)."""
    match = OBJECT_PATH.fullmatch(path)
    if not match:
        return path
    return f"{match.group(1)}{object_type(match.group(2)) or match.group(2)}{match.group(3)}"


def _spec_file(path: str) -> str | None:
    """The spec file that would describe ``path``, or None for an API outside HubSpot's CRM."""
    if dated := DATED_PATH.match(path):
        family, version = dated.group(1), dated.group(2)
        if family == "objects":
            segment = (dated.group(3) or "/").lstrip("/")
            return f"{version}/crm-{object_type(segment) or segment}-{version}.json"
        return f"{version}/crm-{family}-{version}.json"
    if match := OBJECT_PATH.fullmatch(path):
        return f"crm-{object_type(match.group(2)) or match.group(2)}-v3.json"
    if path.startswith(("/crm/v4/associations/", "/crm/v4/objects/")):
        return "crm-associations-v4.json"
    if path.startswith("/crm/v3/properties/"):
        return "crm-properties-v3.json"
    return None


def find_operation(method: str, path: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(spec, operation) for a request; None when no spec in the folder covers its API.

    A path the covering spec does not have (an endpoint HubSpot lacks) fails the test.
    """
    _specs_folder()
    path = urlparse(path).path
    name = _spec_file(path)
    spec = _load(name) if name else None
    if spec is None:
        return None
    wanted = _canonical(path)
    for template, item in sorted(spec["paths"].items(), key=lambda entry: entry[0].count("{")):  # literal first
        pattern = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(_canonical(template)))
        if re.fullmatch(pattern, wanted) and method.lower() in item:
            return spec, item[method.lower()]
    pytest.fail(f"{method} {path} is no endpoint of {name}")


def _with_components(schema: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    return {**schema, "components": spec["components"]}


def request_schema(api_object: str, action: str, version: str = "2026-09") -> dict[str, Any]:
    """The request schema of ``POST /crm/objects/{version}/{api_object}/batch/{action}`` (``v3``: the legacy path)."""
    prefix = "/crm/v3/objects" if version == "v3" else f"/crm/objects/{version}"
    found = find_operation("POST", f"{prefix}/{api_object}/batch/{action}")
    if found is None:
        pytest.skip(f"no spec of {api_object} in {SPECS}")
    spec, operation = found
    return _with_components(operation["requestBody"]["content"]["application/json"]["schema"], spec)


def validate_request(method: str, path: str, body: Any) -> bool:
    """Validate a request's body against its operation; False when no spec covers the API."""
    found = find_operation(method, path)
    if found is None:
        return False
    spec, operation = found
    content = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if content is None:
        assert body is None, f"{method} {path} takes no body"
    else:
        jsonschema.validate(body, _with_components(content["schema"], spec))
    return True


def _nullable(node: Any) -> Any:
    """A schema that also takes null wherever it takes a typed value: HubSpot's specs say nothing
    of nullability, the API answers null for unset values (properties, association labels)."""
    if isinstance(node, list):
        return [_nullable(item) for item in node]
    if not isinstance(node, dict):
        return node
    relaxed = {key: _nullable(value) for key, value in node.items()}
    if isinstance(node.get("type"), str):
        relaxed["type"] = [node["type"], "null"]
    return relaxed


def validate_response(method: str, path: str, status: int, body: Any) -> bool:
    """Validate an answer against the operation's response for ``status`` (``default`` for errors);
    False when no spec covers the API. A status the operation does not document fails."""
    found = find_operation(method, path)
    if found is None:
        return False
    spec, operation = found
    response = operation["responses"].get(str(status)) or (
        operation["responses"].get("default") if status >= 400 else None
    )
    assert response is not None, f"{method} {path} documents no {status} answer"
    if "$ref" in response:
        response = spec["components"]["responses"][response["$ref"].rsplit("/", 1)[-1]]
    if not response.get("content"):  # 204 (batch/archive): no body
        assert body is None, f"{method} {path} answers {status} with no body"
        return True
    (content,) = response["content"].values()
    jsonschema.validate(body, _nullable(_with_components(content["schema"], spec)))
    return True


def validate_all(crm: Any) -> list[tuple[str, str]]:
    """Validate the body of every request ``crm`` (a ``FakeCrm``) served; the (method, path) of
    those no spec covers are returned, for the caller to check they are the ones expected."""
    return [(method, path) for method, path, body, _ in list(crm.requests) if not validate_request(method, path, body)]
