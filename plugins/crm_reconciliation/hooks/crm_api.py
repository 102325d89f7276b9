"""HTTP APIs that push updates: HubSpot's CRM batch API and the StackSync workflow API.

Both hooks are ``HttpHook``s: ``get_conn()`` builds the session (base URL, headers and TLS
settings from the connection, the bearer token, a pool for the push's threads) and
``run_and_check()`` sends each request. The send path returns every answer, whatever its status,
to the pusher, which decides about retries; transport errors (timeouts, dropped connections)
are raised as ``requests`` exceptions. Tokens never reach a log line or a rendered command
unless asked for explicitly.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from airflow.providers.http.hooks.http import HttpHook
from requests import Request, Response, Session
from requests.adapters import HTTPAdapter

from crm_reconciliation.config.errors import ConfigurationError

REQUEST_TIMEOUT_SECONDS = 30
POOL_SIZE = 32  # connections kept per host: at least the push's requests in flight (push_concurrency ≤ 32)
# HubSpot's date-based API: a version every March and September, each supported for 18 months.
DEFAULT_API_VERSION = "2026-09"
API_VERSION = re.compile(r"20[0-9]{2}-(03|09)")


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


def _answer(response: Response) -> ApiResponse:
    try:
        body = response.json() if response.content else None
    except ValueError:
        body = response.text
    return ApiResponse(response.status_code, body, dict(response.headers))


class _TokenApiHook(HttpHook):
    """An HTTP connection with a bearer token (password, or ``token`` in extra; ``timeout`` in
    extra sets the request timeout in seconds, default 30)."""

    conn_name_attr = "http_conn_id"
    # Extras that are this hook's settings: HttpHook would send every other extra as a header.
    setting_extras: tuple[str, ...] = ("token",)

    def __init__(self, http_conn_id: str, timeout: float | None = None):
        super().__init__(method="POST", http_conn_id=http_conn_id, adapter=HTTPAdapter(pool_maxsize=POOL_SIZE))
        self.timeout = timeout
        self._session: Session | None = None
        self._send_options: dict[str, Any] = {}
        self._settings: dict[str, Any] = {}
        self._token = ""
        self._opening = threading.Lock()

    def warm_up(self) -> None:
        """Resolve the connection and open the session now, so that a request leaves as soon as the
        rate limiter lets it (a late first request would bunch the next ones in the server's window)."""
        if self._session is not None:
            return
        with self._opening:  # the push's threads share one session (and its connection pool)
            if self._session is not None:
                return
            connection = self.get_connection(self.http_conn_id)
            self._settings = connection.extra_dejson
            self._token = connection.password or self._settings.get("token") or ""
            session = self.get_conn(
                headers={"Authorization": f"Bearer {self._token}"},
                extra_options={"timeout": self.timeout} if self.timeout else None,
            )
            for name in self.setting_extras:
                session.headers.pop(name, None)
            # A host without a scheme means https here (HttpHook's default is http, and a connection
            # to these APIs given as ``api.hubapi.com`` always meant https).
            if not connection.schema and "://" not in (connection.host or ""):
                self.base_url = "https" + self.base_url.removeprefix("http")
            timeout = float(self.merged_extra.get("timeout") or REQUEST_TIMEOUT_SECONDS)
            # Every status is an answer here: the pusher retries 429s and 5xx itself.
            self._send_options = {**self.merged_extra, "timeout": timeout, "check_response": False}
            self._session = session

    @property
    def settings(self) -> dict[str, Any]:
        self.warm_up()
        return self._settings

    @property
    def app_key(self) -> str:
        """Who the rate limit belongs to: the app behind the token (hashed: never stored as is)."""
        self.warm_up()
        return hashlib.sha256(f"{self.base_url.rstrip('/')} {self._token}".encode()).hexdigest()[:24]

    def _url(self, path: str) -> str:
        return self.url_from_endpoint(path.lstrip("/"))

    def _send(self, method: str, path: str, body: Any = None, query: dict[str, Any] | None = None) -> Response:
        """``run_and_check`` on the shared session. Not ``run``: it builds a session (and reads the
        connection) per request, and keeps the method and options on the hook, where the push's
        threads would race on them."""
        self.warm_up()
        prepared = self._session.prepare_request(Request(method, self._url(path), params=query, json=body))
        return self.run_and_check(self._session, prepared, self._send_options)

    def request(self, method: str, path: str, body: Any = None, query: dict[str, Any] | None = None) -> ApiResponse:
        """One request; its answer whatever the status (a transport error raises)."""
        return _answer(self._send(method, path, body, query))

    def post(self, path: str, body: Any = None, query: dict[str, Any] | None = None) -> ApiResponse:
        return self.request("POST", path, body, query)

    def _probe(self) -> Response:
        raise NotImplementedError

    def test_connection(self) -> tuple[bool, str]:
        """*Test connection* (UI and ``airflow connections test``): one cheap authenticated read."""
        try:
            self.check_response(self._probe())
        except Exception as error:  # what Airflow shows: a refused token, an unknown host, a missing setting
            return False, str(error)
        return True, "Connection successfully tested"

    def as_curl(
        self, path: str, body: Any = None, query: dict[str, Any] | None = None, reveal_token: bool = False
    ) -> str:
        """The request as a runnable curl command; the token is redacted unless ``reveal_token``."""
        self.warm_up()
        url = self._url(path) + (f"?{urlencode(query)}" if query else "")
        token = self._token if reveal_token else "***"
        parts = ["curl", "-sS", "-X", "POST", url, "-H", f"Authorization: Bearer {token}"]
        if body is not None:
            parts += ["-H", "Content-Type: application/json", "--data", json.dumps(body, ensure_ascii=False)]
        return " ".join(shlex.quote(part) for part in parts)


class HubSpotApiHook(_TokenApiHook):
    """HubSpot's CRM API (connection ``hubspot_api``: host api.hubapi.com, private-app token).

    Extra ``api_version``: the date-based version every call goes to (default ``2026-09``:
    ``/crm/objects/2026-09/…``, ``/crm/associations/2026-09/…``); ``v3`` keeps the legacy
    ``/crm/v3`` and ``/crm/v4`` paths for a portal that needs them.
    """

    default_conn_name = "hubspot_api"
    conn_type = "hubspot_api"
    hook_name = "HubSpot CRM API"
    setting_extras = ("token", "api_version")

    def __init__(self, http_conn_id: str = default_conn_name, **kwargs: Any):
        super().__init__(http_conn_id, **kwargs)

    @property
    def api_version(self) -> str:
        version = str(self.settings.get("api_version") or DEFAULT_API_VERSION)
        if version != "v3" and not API_VERSION.fullmatch(version):
            raise ConfigurationError(
                f"connection {self.http_conn_id}: api_version {version!r} is neither a date-based version "
                f"(YYYY-MM, e.g. {DEFAULT_API_VERSION}) nor v3"
            )
        return version

    def path(self, family: str, rest: str) -> str:
        """``/crm/<family>/<version>/<rest>`` (date-based), or the legacy path of the family with ``v3``."""
        version = self.api_version
        if version == "v3":
            legacy = "v4" if family == "associations" else "v3"
            return f"/crm/{legacy}/{family}/{rest}".rstrip("/")
        return f"/crm/{family}/{version}/{rest}".rstrip("/")

    def _probe(self) -> Response:
        # The catalogue the preflight reads: the token needs its scope anyway, and it writes nothing.
        return self._send("GET", self.path("properties", "companies"))

    def send_batch(self, api_object: str, inputs: list[dict], action: str = "update") -> ApiResponse:
        """``batch/update`` (inputs ``{id, properties}``) or ``batch/upsert`` (``{id, idProperty, properties}``)."""
        return self.post(self.path("objects", f"{api_object}/batch/{action}"), {"inputs": inputs})

    def properties(self, api_object: str) -> ApiResponse:
        """The portal's property catalogue of one object (types, options, read-only flags, unique values)."""
        return self.request("GET", self.path("properties", api_object))

    def create_property(self, api_object: str, definition: dict[str, Any]) -> ApiResponse:
        return self.post(self.path("properties", api_object), definition)

    def update_property(self, api_object: str, name: str, changes: dict[str, Any]) -> ApiResponse:
        """PATCH a property (an enumeration's ``options`` are replaced by the full list given)."""
        return self.request("PATCH", self.path("properties", f"{api_object}/{name}"), changes)

    def create_property_group(self, api_object: str, name: str, label: str) -> ApiResponse:
        return self.post(self.path("properties", f"{api_object}/groups"), {"name": name, "label": label})

    def pipelines(self, api_object: str) -> ApiResponse:
        """The object's pipelines and their stages (deals: which stage belongs to which pipeline)."""
        return self.request("GET", self.path("pipelines", api_object))

    def owners(self, after: str | None = None) -> ApiResponse:
        """One page of the portal's owners (``paging.next.after`` names the next)."""
        query = {"limit": 500, **({"after": after} if after else {})}
        return self.request("GET", self.path("owners", ""), query=query)

    def read_associations(self, from_object: str, to_object: str, ids: list[str]) -> ApiResponse:
        """``batch/read``: the records of ``to_object`` each of ``ids`` is associated with."""
        body = {"inputs": [{"id": record_id} for record_id in ids]}
        return self.post(self.path("associations", f"{from_object}/{to_object}/batch/read"), body)

    def create_associations(self, from_object: str, to_object: str, inputs: list[dict]) -> ApiResponse:
        """``batch/create``: inputs ``{from: {id}, to: {id}, types: [{associationCategory, associationTypeId}]}``."""
        return self.post(self.path("associations", f"{from_object}/{to_object}/batch/create"), {"inputs": inputs})

    def read_records(
        self, api_object: str, ids: list[str], properties: list[str], history: bool = False
    ) -> ApiResponse:
        """``batch/read`` of ``properties`` (with their history, newest first, when ``history``)."""
        body = {
            "properties": properties,
            "propertiesWithHistory": properties if history else [],
            "inputs": [{"id": record_id} for record_id in ids],
        }
        return self.post(self.path("objects", f"{api_object}/batch/read"), body)

    def archive(self, api_object: str, ids: list[str]) -> ApiResponse:
        """``batch/archive``: what a revert does with the records a run created, when asked to."""
        return self.post(self.path("objects", f"{api_object}/batch/archive"), {"inputs": [{"id": i} for i in ids]})


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
    conn_type = "workflow_api"
    hook_name = "Workflow API"
    setting_extras = ("token", "workspace_id", "lookup_workflows", "update_workflows")

    def __init__(self, http_conn_id: str = default_conn_name, **kwargs: Any):
        super().__init__(http_conn_id, **kwargs)

    def _probe(self) -> Response:
        # A lookup of no records: authenticated, and it proves the workspace and a workflow exist.
        lookups = sorted(self.settings.get("lookup_workflows") or {})
        if not lookups:
            raise ValueError(f"connection {self.http_conn_id} names no lookup workflow")
        path = self.workflow_path(self.workflow_id("lookup", lookups[0]))
        return self._send("POST", path, query={"ids": "", "properties": ""})

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
        """Run a workflow and return its parsed result; an error status raises (``check_response``)."""
        response = self._send("POST", self.workflow_path(workflow_id), body, query)
        self.check_response(response)
        return _answer(response).body

    def query_by_icalps_id(self, object_type: str, icalps_id: str | int) -> Any:
        """The HubSpot record(s) carrying a legacy id, through the object's lookup workflow."""
        from crm_reconciliation.config.registry import default_registry

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
