"""Fixtures of the integration tests."""

from __future__ import annotations

import json

import pytest

from crm_reconciliation_dev.fake_hubspot import FakeCrm


@pytest.fixture
def connections(monkeypatch):
    """Point the hubspot_api and workflow_api connections at a fake server (set per test)."""

    def point(server: FakeCrm, timeout: float = 1.0, api_version: str | None = None) -> None:
        host = server.url.removeprefix("http://")
        monkeypatch.setenv(
            "AIRFLOW_CONN_HUBSPOT_API",
            json.dumps(
                {
                    "conn_type": "hubspot_api",
                    "host": host,
                    "schema": "http",
                    "password": server.token,
                    "extra": {"timeout": timeout, **({"api_version": api_version} if api_version else {})},
                }
            ),
        )
        monkeypatch.setenv(
            "AIRFLOW_CONN_WORKFLOW_API",
            json.dumps(
                {
                    "conn_type": "workflow_api",
                    "host": host,
                    "schema": "http",
                    "password": server.token,
                    "extra": {
                        "timeout": timeout,
                        "workspace_id": "ws-1",
                        "update_workflows": {"companies": "wf-update"},
                        "lookup_workflows": {"companies": "wf-lookup"},
                    },
                }
            ),
        )

    return point
