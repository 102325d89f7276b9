"""The API hooks' request shapes, without a network: connections come from the environment."""

from __future__ import annotations

import json

import pytest

from crm_reconciliation.hooks.crm_api import HubSpotApiHook, WorkflowApiHook


@pytest.fixture
def workflow_connection(monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_WORKFLOW_API",
        json.dumps(
            {
                "conn_type": "http",
                "host": "api.stacksync.example",
                "schema": "https",
                "password": "s3cr3t-token",
                "extra": {"workspace_id": "ws-42", "lookup_workflows": {"companies": "wf-7"}, "update_workflows": {}},
            }
        ),
    )


def test_curl_redacts_the_token_unless_asked(workflow_connection):
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


def test_missing_workflow_is_named(workflow_connection):
    with pytest.raises(ValueError, match="names no update workflow for 'companies'"):
        WorkflowApiHook().workflow_id("update", "companies")


def test_query_by_icalps_id_uses_the_lookup_workflow(workflow_connection, monkeypatch):
    calls = []
    monkeypatch.setattr(
        WorkflowApiHook, "run_workflow", lambda self, wf, query=None, body=None: calls.append((wf, query))
    )
    WorkflowApiHook().query_by_icalps_id("companies", 123)
    assert calls == [("wf-7", {"icalps_company_id": "123"})]


def test_hubspot_batch_update_path(monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_HUBSPOT_API",
        json.dumps({"conn_type": "http", "host": "api.hubapi.com", "schema": "https", "password": "pat-eu1-x"}),
    )
    sent = []
    monkeypatch.setattr(HubSpotApiHook, "post", lambda self, path, body=None, query=None: sent.append((path, body)))
    HubSpotApiHook().send_batch("notes", [{"id": "1", "properties": {"hs_note_body": "x"}}])
    assert sent == [
        ("/crm/v3/objects/notes/batch/update", {"inputs": [{"id": "1", "properties": {"hs_note_body": "x"}}]})
    ]
