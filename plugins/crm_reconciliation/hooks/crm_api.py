"""HTTP APIs that push updates: HubSpot's CRM batch API and the StackSync workflow API.

Both hooks own their connection (host, token, settings) and return raw responses to the
pusher, which decides about retries; transport errors (timeouts, dropped connections) are
raised as ``requests`` exceptions. Tokens never reach a log line or a rendered command unless
asked for explicitly.
"""

from __future__ import annotations

import json
import shlex
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from airflow.providers.http.hooks.http import HttpHook

REQUEST_TIMEOUT_SECONDS = 30
POOL_SIZE = 32  # connections kept per host: at least the push's requests in flight (push_concurrency ≤ 32)


@dataclass(frozen=True)
class ApiResponse:
    status: int
    body: Any
    headers: dict[str, str]


def records_read(response: ApiResponse) -> dict[str, tuple[dict[str, Any], dict[str, list[dict]]]]:
    """A batch/read answer as ``{id: (properties, propertiesWithHistory)}``."""
    results = (response.body or {}).get("results", []) if isinstance(response.body, dict) else []
    return {
        str(result["id"]): (result.get("properties") or {}, result.get("propertiesWithHistory") or {})
        for result in results
    }


def base_url(connection: Any) -> str:
    """``scheme://host[:port]`` of an HTTP connection whose host may or may not carry the scheme."""
    host = connection.host or ""
    base = host if "://" in host else f"{connection.schema or 'https'}://{host}"
    return f"{base}:{connection.port}" if connection.port else base


class _TokenApiHook(HttpHook):
    """An HTTP connection with a bearer token (password, or ``token`` in extra; ``timeout`` in
    extra sets the request timeout in seconds, default 30)."""

    def __init__(self, conn_id: str, timeout: float | None = None):
        super().__init__(method="POST", http_conn_id=conn_id)
        self.timeout = timeout
        self._session = None
        self._settings: dict[str, Any] | None = None
        self._opening = threading.Lock()

    def _connection(self) -> tuple[str, str, dict[str, Any]]:
        connection = self.get_connection(self.http_conn_id)
        extra = connection.extra_dejson
        return base_url(connection).rstrip("/"), connection.password or extra.get("token") or "", extra

    @property
    def settings(self) -> dict[str, Any]:
        if self._settings is None:
            self.base, self.token, self._settings = self._connection()
        return self._settings

    @property
    def app_key(self) -> str:
        """Who the rate limit belongs to: the app behind the token (hashed: never stored as is)."""
        import hashlib

        self.settings  # noqa: B018 - reads the connection once
        return hashlib.sha256(f"{self.base} {self.token}".encode()).hexdigest()[:24]

    def warm_up(self) -> None:
        """Resolve the connection and open the session now, so that a request leaves as soon as the
        rate limiter lets it (a late first request would bunch the next ones in the server's window)."""
        import requests
        from requests.adapters import HTTPAdapter

        with self._opening:  # the push's threads share one session (and its connection pool)
            self.settings  # noqa: B018 - reads the connection once
            if self._session is None:
                session = requests.Session()
                session.mount("https://", HTTPAdapter(pool_maxsize=POOL_SIZE))
                session.mount("http://", HTTPAdapter(pool_maxsize=POOL_SIZE))
                session.headers.update({"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"})
                self._session = session

    def post(self, path: str, body: Any = None, query: dict[str, Any] | None = None) -> ApiResponse:
        return self.request("POST", path, body, query)

    def request(self, method: str, path: str, body: Any = None, query: dict[str, Any] | None = None) -> ApiResponse:
        self.warm_up()
        url = self.base + path + (f"?{urlencode(query)}" if query else "")
        timeout = self.timeout or float(self.settings.get("timeout", REQUEST_TIMEOUT_SECONDS))
        data = None if body is None else json.dumps(body)
        response = self._session.request(method, url, data=data, timeout=timeout)
        try:
            parsed = response.json() if response.content else None
        except ValueError:
            parsed = response.text
        return ApiResponse(response.status_code, parsed, dict(response.headers))

    def as_curl(
        self, path: str, body: Any = None, query: dict[str, Any] | None = None, reveal_token: bool = False
    ) -> str:
        """The request as a runnable curl command; the token is redacted unless ``reveal_token``."""
        self.settings  # noqa: B018
        url = self.base + path + (f"?{urlencode(query)}" if query else "")
        token = self.token if reveal_token else "***"
        parts = [
            "curl",
            "-sS",
            "-X",
            "POST",
            url,
            "-H",
            f"Authorization: Bearer {token}",
            "-H",
            "Content-Type: application/json",
        ]
        if body is not None:
            parts += ["--data", json.dumps(body, ensure_ascii=False)]
        return " ".join(shlex.quote(part) for part in parts)


class HubSpotApiHook(_TokenApiHook):
    """HubSpot's CRM v3 objects API (connection ``hubspot_api``: host api.hubapi.com, private-app token)."""

    default_conn_name = "hubspot_api"
    hook_name = "HubSpot CRM API"

    def __init__(self, conn_id: str = default_conn_name, **kwargs: Any):
        super().__init__(conn_id, **kwargs)

    def send_batch(self, api_object: str, inputs: list[dict], action: str = "update") -> ApiResponse:
        """``batch/update`` (inputs ``{id, properties}``) or ``batch/upsert`` (``{id, idProperty, properties}``)."""
        return self.post(f"/crm/v3/objects/{api_object}/batch/{action}", {"inputs": inputs})

    def properties(self, api_object: str) -> ApiResponse:
        """The portal's property catalogue of one object (names, read-only flags, unique values)."""
        return self.request("GET", f"/crm/v3/properties/{api_object}")

    def create_property(self, api_object: str, definition: dict[str, Any]) -> ApiResponse:
        return self.post(f"/crm/v3/properties/{api_object}", definition)

    def create_property_group(self, api_object: str, name: str, label: str) -> ApiResponse:
        return self.post(f"/crm/v3/properties/{api_object}/groups", {"name": name, "label": label})

    def read_associations(self, from_object: str, to_object: str, ids: list[str]) -> ApiResponse:
        """v4 ``batch/read``: the records of ``to_object`` each of ``ids`` is associated with."""
        body = {"inputs": [{"id": record_id} for record_id in ids]}
        return self.post(f"/crm/v4/associations/{from_object}/{to_object}/batch/read", body)

    def create_associations(self, from_object: str, to_object: str, inputs: list[dict]) -> ApiResponse:
        """v4 ``batch/create``: inputs ``{from: {id}, to: {id}, types: [{associationCategory, associationTypeId}]}``."""
        return self.post(f"/crm/v4/associations/{from_object}/{to_object}/batch/create", {"inputs": inputs})

    def read_current(self, api_object: str, ids: list[str], properties: list[str]) -> dict[str, dict[str, Any]]:
        """Current values of ``properties`` for records ``ids`` (to confirm an ambiguous send)."""
        response = self.read_records(api_object, ids, properties)
        if response.status not in (200, 207):
            raise RuntimeError(f"batch/read answered {response.status}: {response.body}")
        return {record_id: values for record_id, (values, _) in records_read(response).items()}

    def read_records(
        self, api_object: str, ids: list[str], properties: list[str], history: bool = False
    ) -> ApiResponse:
        """``batch/read`` of ``properties`` (with their history, newest first, when ``history``)."""
        body = {
            "properties": properties,
            "propertiesWithHistory": properties if history else [],
            "inputs": [{"id": record_id} for record_id in ids],
        }
        return self.post(f"/crm/v3/objects/{api_object}/batch/read", body)

    def archive(self, api_object: str, ids: list[str]) -> ApiResponse:
        """``batch/archive``: what a revert does with the records a run created, when asked to."""
        return self.post(f"/crm/v3/objects/{api_object}/batch/archive", {"inputs": [{"id": i} for i in ids]})


class WorkflowApiHook(_TokenApiHook):
    """The workflow API (connection ``workflow_api``).

    Extra: ``workspace_id``; ``lookup_workflows`` and ``update_workflows``, each mapping an object
    type (companies, contacts, …) to a workflow id. A workflow runs with query parameters
    (visible to its SQL as ``{{ input.query_parameters.x }}``) and/or a JSON body and answers
    with its result synchronously. The update workflow takes
    ``{"object_type": …, "inputs": [{"id": …, "properties": {…}}]}`` and answers as HubSpot's
    batch update does; the lookup workflow takes ``?ids=1,2`` or ``?<legacy id property>=…`` and
    answers ``{"results": [{"id": …, "properties": {…}}]}``.
    """

    default_conn_name = "workflow_api"
    hook_name = "Workflow API"

    def __init__(self, conn_id: str = default_conn_name, **kwargs: Any):
        super().__init__(conn_id, **kwargs)

    def workflow_path(self, workflow_id: str) -> str:
        workspace = self.settings.get("workspace_id")
        if not workspace:
            raise ValueError(f"connection {self.http_conn_id} has no workspace_id in its extra")
        return f"/workspaces/{workspace}/workflows/{workflow_id}:latest_draft/triggers/post_trigger/run_wait_result"

    def workflow_id(self, kind: str, object_type: str) -> str:
        workflows = self.settings.get(f"{kind}_workflows") or {}
        if object_type not in workflows:
            raise ValueError(f"connection {self.http_conn_id} names no {kind} workflow for {object_type!r}")
        return str(workflows[object_type])

    def run_workflow(self, workflow_id: str, query: dict[str, Any] | None = None, body: Any = None) -> Any:
        """Run a workflow and return its parsed result; an HTTP error raises with the answer."""
        response = self.post(self.workflow_path(workflow_id), body, query)
        if response.status >= 400:
            raise RuntimeError(f"workflow {workflow_id} answered {response.status}: {response.body}")
        return response.body

    def query_by_icalps_id(self, object_type: str, icalps_id: str | int) -> Any:
        """The HubSpot record(s) carrying a legacy id, through the object's lookup workflow."""
        from crm_reconciliation.registry import default_registry

        legacy_property = default_registry().get(object_type).legacy_id_property
        return self.run_workflow(self.workflow_id("lookup", object_type), query={legacy_property: str(icalps_id)})

    def send_batch(self, object_type: str, inputs: list[dict], action: str = "update") -> ApiResponse:
        if action != "update":
            raise ValueError(f"the workflow API updates records; it cannot {action} them (push_target=hubspot can)")
        body = {"object_type": object_type, "inputs": inputs}
        return self.post(self.workflow_path(self.workflow_id("update", object_type)), body)

    def read_records(
        self, object_type: str, ids: list[str], properties: list[str], history: bool = False
    ) -> ApiResponse:
        """The lookup workflow by ids (it keeps no property history: ``history`` reads none)."""
        query = {"ids": ",".join(ids), "properties": ",".join(properties)}
        return self.post(self.workflow_path(self.workflow_id("lookup", object_type)), None, query)

    def read_current(self, object_type: str, ids: list[str], properties: list[str]) -> dict[str, dict[str, Any]]:
        result = self.run_workflow(
            self.workflow_id("lookup", object_type), query={"ids": ",".join(ids), "properties": ",".join(properties)}
        )
        return {str(item["id"]): item.get("properties", {}) for item in (result or {}).get("results", [])}
