"""The API hooks against the local HubSpot stand-in (a real HTTP server on 127.0.0.1), and their
registration as Airflow connection types. No database: connections come from the environment."""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

import jsonschema
import pytest
import requests
from airflow.providers.common.compat.sdk import AirflowException

from crm_reconciliation.get_provider_info import get_provider_info
from crm_reconciliation.hooks.crm_api import POOL_SIZE, HubSpotApiHook, WorkflowApiHook, records_read
from crm_reconciliation.push.limiter import RollingWindowLimiter
from crm_reconciliation.push.sender import Pusher, PushInput
from crm_reconciliation_dev.fake_hubspot import FakeCrm

WORKFLOWS = {"workspace_id": "ws-1", "update_workflows": {"companies": "wf-update"}}
LOOKUPS = {"lookup_workflows": {"companies": "wf-lookup"}}


def connection(server: FakeCrm, conn_type: str, token: str | None = None, **extra) -> str:
    host = server.url.removeprefix("http://")
    fields = {"conn_type": conn_type, "host": host, "schema": "http", "password": token or server.token}
    return json.dumps({**fields, "extra": extra})


@pytest.fixture
def portal():
    with FakeCrm(seed={"companies": {"101": {"city": "Lyon"}, "102": {"city": "Nantes"}}}) as server:
        yield server


@pytest.fixture
def hubspot(portal, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_HUBSPOT_API", connection(portal, "hubspot_api"))
    return HubSpotApiHook()


@pytest.fixture
def workflow(portal, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_WORKFLOW_API", connection(portal, "workflow_api", **WORKFLOWS, **LOOKUPS))
    return WorkflowApiHook()


def test_a_batch_update_lands(hubspot, portal):
    answer = hubspot.send_batch("companies", [{"id": "101", "properties": {"city": "Grenoble"}}])
    assert answer.status == 200
    assert [result["id"] for result in answer.body["results"]] == ["101"]
    assert "X-HubSpot-RateLimit-Remaining" in answer.headers
    assert portal.records["101"] == {"city": "Grenoble"}


def test_every_status_is_an_answer_not_an_exception(portal, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_HUBSPOT_API", connection(portal, "hubspot_api", token="revoked"))
    assert HubSpotApiHook().read_records("companies", ["101"], ["city"]).status == 401
    monkeypatch.setenv("AIRFLOW_CONN_HUBSPOT_API", connection(portal, "hubspot_api"))
    hook = HubSpotApiHook()
    refused = hook.send_batch("unicorns", [{"id": "1", "properties": {}}])
    assert (refused.status, refused.body["category"]) == (400, "VALIDATION_ERROR")
    portal.faults.extend(["429", "500"])
    throttled = hook.send_batch("companies", [{"id": "101", "properties": {"city": "Albi"}}])
    assert (throttled.status, throttled.headers["Retry-After"]) == (429, "0.2")
    assert hook.send_batch("companies", [{"id": "101", "properties": {"city": "Albi"}}]).status == 502


def test_transport_errors_raise_as_requests_exceptions(portal, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_HUBSPOT_API", connection(portal, "hubspot_api", timeout=30))
    hook = HubSpotApiHook(timeout=0.2)  # the argument wins over the connection's extra
    portal.timeout_seconds = 0.2
    portal.faults.extend(["timeout_after_apply", "drop_before_apply"])
    with pytest.raises(requests.Timeout):
        hook.send_batch("companies", [{"id": "101", "properties": {"city": "Pau"}}])
    with pytest.raises(requests.ConnectionError):
        hook.send_batch("companies", [{"id": "102", "properties": {"city": "Pau"}}])


def test_reads_with_history_and_the_pusher_confirms_through_them(hubspot, portal):
    hubspot.send_batch("companies", [{"id": "101", "properties": {"city": "Grenoble"}}])
    found = records_read(hubspot.read_records("companies", ["101", "999"], ["city"], history=True))
    values, history = found["101"]
    assert values["city"] == "Grenoble"
    assert [entry["value"] for entry in history["city"]] == ["Grenoble", "Lyon"]  # newest first
    assert "999" not in found
    items = [PushInput(1, "101", {"city": "Grenoble"}, "h1"), PushInput(2, "102", {"city": "Brest"}, "h2")]
    pusher = Pusher(hubspot, "companies", RollingWindowLimiter(100, 10))
    applied, pending = pusher.confirm(items)
    assert (applied, pending) == ([items[0]], [items[1]])
    assert pusher.stats.requests == 1


def test_a_failed_read_back_sends_nothing_blind(hubspot, portal):
    items = [PushInput(1, "101", {"city": "Grenoble"}, "h1")]
    outcomes = Pusher(hubspot, "unicorns", RollingWindowLimiter(100, 10)).push(items, maybe_sent=True)
    assert [(o.outcome, o.error[:25]) for o in outcomes] == [("failed", "batch/read answered 400: ")]
    assert [path for _, path, _, _ in portal.requests] == ["/crm/objects/2026-09/unicorns/batch/read"]


def test_threads_share_one_pooled_session(hubspot, portal, monkeypatch, caplog):
    """The push's threads share one hook: the connection is read when its session opens, not per
    request, and no connection is dropped for want of room in the pool."""
    lookups = []
    get_connection = HubSpotApiHook.get_connection
    monkeypatch.setattr(
        HubSpotApiHook,
        "get_connection",
        staticmethod(lambda conn_id: lookups.append(conn_id) or get_connection(conn_id)),
    )
    hubspot.warm_up()
    opened = len(lookups)
    portal.latency_seconds = 0.05
    caplog.set_level(logging.WARNING, logger="urllib3")
    statuses: list[int] = []
    barrier = threading.Barrier(POOL_SIZE)

    def work() -> None:
        barrier.wait()
        for _ in range(3):
            statuses.append(hubspot.read_records("companies", ["101"], ["city"]).status)

    threads = [threading.Thread(target=work) for _ in range(POOL_SIZE)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert statuses == [200] * POOL_SIZE * 3
    assert len(lookups) == opened
    assert "Connection pool is full" not in caplog.text


def test_a_host_without_a_scheme_means_https(monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_HUBSPOT_API", json.dumps({"conn_type": "hubspot_api", "host": "api.hubapi.com", "password": "x"})
    )
    assert HubSpotApiHook().as_curl("/crm/v3/objects/companies/batch/read").split()[4] == (
        "https://api.hubapi.com/crm/v3/objects/companies/batch/read"
    )


def test_the_token_is_never_logged_nor_sent_as_a_header(portal, monkeypatch, caplog, capfd):
    """A token kept in extra authenticates (HttpHook would send it as a header of its own)."""
    caplog.set_level(logging.DEBUG)
    secret = "pat-eu1-kept-in-extra"
    portal.token = secret
    monkeypatch.setenv(
        "AIRFLOW_CONN_HUBSPOT_API",
        json.dumps({"conn_type": "hubspot_api", "host": portal.url, "extra": {"token": secret}}),
    )
    sent = []
    run_and_check = HubSpotApiHook.run_and_check
    monkeypatch.setattr(
        HubSpotApiHook,
        "run_and_check",
        lambda self, session, prepared, options: (
            sent.append(prepared.headers) or run_and_check(self, session, prepared, options)
        ),
    )
    hook = HubSpotApiHook()
    assert hook.read_records("companies", ["101"], ["city"]).status == 200
    assert sent[0]["Authorization"] == f"Bearer {secret}"
    assert "token" not in {name.lower() for name in sent[0]}
    portal.token = "rotated"
    assert hook.test_connection()[0] is False  # check_response logs the refusal
    assert secret not in hook.as_curl("/crm/v3/properties/companies")
    assert secret not in hook.app_key
    assert secret not in caplog.text + "".join(capfd.readouterr())


def test_curl_redacts_the_token_unless_asked(monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_WORKFLOW_API",
        json.dumps(
            {
                "conn_type": "workflow_api",
                "host": "api.stacksync.example",
                "schema": "https",
                "password": "s3cr3t-token",
                "extra": {"workspace_id": "ws-42", "lookup_workflows": {"companies": "wf-7"}, "update_workflows": {}},
            }
        ),
    )
    hook = WorkflowApiHook()
    path = hook.workflow_path(hook.workflow_id("lookup", "companies"))
    command = hook.as_curl(path, query={"icalps_company_id": "123"})
    assert command.startswith(
        "curl -sS -X POST 'https://api.stacksync.example/workspaces/ws-42/workflows/wf-7"
        ":latest_draft/triggers/post_trigger/run_wait_result?icalps_company_id=123'"
    )
    assert "s3cr3t-token" not in command
    assert "Bearer ***" in command
    assert "s3cr3t-token" in hook.as_curl(path, reveal_token=True)
    with pytest.raises(ValueError, match="names no update workflow for 'companies'"):
        hook.workflow_id("update", "companies")


def test_the_workflows_update_and_read_back(workflow, portal):
    answer = workflow.send_batch("companies", [{"id": "102", "properties": {"city": "Brest"}}])
    assert answer.status == 200
    assert portal.update_bodies == [
        {"object_type": "companies", "inputs": [{"id": "102", "properties": {"city": "Brest"}}]}
    ]
    found = records_read(workflow.read_records("companies", ["101", "102"], ["city"]))
    assert {record_id: values for record_id, (values, _) in found.items()} == {
        "101": {"city": "Lyon"},
        "102": {"city": "Brest"},
    }


def test_run_workflow_raises_on_an_error_status(workflow, portal):
    assert workflow.query_by_icalps_id("companies", 123) == {"status": "COMPLETE", "results": []}
    method, path, _, status = portal.requests[-1]
    assert (method, status) == ("POST", 200)
    assert path.endswith(
        "/workflows/wf-lookup:latest_draft/triggers/post_trigger/run_wait_result?icalps_company_id=123"
    )
    with pytest.raises(AirflowException, match=r"^400:"):
        workflow.run_workflow("wf-update", body={"object_type": "unicorns", "inputs": []})


@pytest.mark.parametrize(("conn_type", "extra"), [("hubspot_api", {}), ("workflow_api", {**WORKFLOWS, **LOOKUPS})])
def test_test_connection_makes_an_authenticated_request(portal, monkeypatch, conn_type, extra):
    """Airflow's own path (what the UI's *Test* button and ``airflow connections test`` call):
    ``Connection.test_connection`` finds the hook through the providers manager."""
    from airflow.models.connection import Connection

    def test(token: str | None = None, **options) -> tuple[bool, str]:
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_type.upper()}", connection(portal, conn_type, token, **options))
        return Connection.get_connection_from_secrets(conn_type).test_connection()

    assert test(**extra) == (True, "Connection successfully tested")
    assert portal.statuses[200] == 1
    assert test("wrong", **extra) == (False, "401:Unauthorized")
    if conn_type == "workflow_api":
        assert test(**WORKFLOWS) == (False, "connection workflow_api names no lookup workflow")


def test_an_unreachable_host_fails_the_test(monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_HUBSPOT_API", json.dumps({"conn_type": "hubspot_api", "host": "http://127.0.0.1:9"})
    )
    ok, message = HubSpotApiHook().test_connection()
    assert not ok
    assert "Connection refused" in message


def test_the_provider_declares_both_connection_types_as_airflow_validates_them():
    import airflow

    info = get_provider_info()
    schemas = Path(airflow.__file__).parent
    jsonschema.validate(info, json.loads((schemas / "provider_info.schema.json").read_text()))
    provider_yaml = json.loads((schemas / "provider.yaml.schema.json").read_text())
    jsonschema.validate(info["connection-types"], provider_yaml["properties"]["connection-types"])
    declared = {entry["connection-type"]: entry for entry in info["connection-types"]}
    for hook in (HubSpotApiHook, WorkflowApiHook):
        entry = declared[hook.conn_type]
        assert entry["hook-class-name"] == f"{hook.__module__}.{hook.__qualname__}"
        assert entry["hook-name"] == hook.hook_name
        assert hook.default_conn_name == hook.conn_type
        # Every form field is an extra the hook reads (and so never sends as a header).
        assert set(entry["conn-fields"]) <= {"timeout", *hook.setting_extras}


def test_the_providers_manager_serves_both_connection_types_with_their_forms():
    from airflow.api_fastapi.core_api.services.ui.connections import HookMetaService
    from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

    hooks = ProvidersManagerTaskRuntime().hooks
    forms = {meta.connection_type: meta for meta in HookMetaService.hook_meta_data()}  # the UI's form data
    for hook in (HubSpotApiHook, WorkflowApiHook):
        info = hooks[hook.conn_type]
        assert info.hook_class_name == f"{hook.__module__}.{hook.__qualname__}"
        assert (info.connection_id_attribute_name, info.package_name) == ("http_conn_id", "crm-reconciliation")
        assert info.connection_testable
        form = forms[hook.conn_type]
        assert form.hook_name == hook.hook_name
        assert form.standard_fields.login.hidden
        assert form.standard_fields.url_schema.placeholder == "https"
    assert forms["hubspot_api"].standard_fields.password.title == "Private app token"
    assert set(forms["hubspot_api"].extra_fields) == {"api_version", "timeout"}
    assert set(forms["workflow_api"].extra_fields) == {
        "workspace_id",
        "update_workflows",
        "lookup_workflows",
        "timeout",
    }
