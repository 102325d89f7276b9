"""Failure alerts reach the webhook (a real HTTP server on 127.0.0.1), and never raise."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest

from crm_reconciliation.alerts import alert_on_failure

CONTEXT = {
    "ti": SimpleNamespace(
        task_id="load_bronze", dag_id="crm_reconcile_deals", run_id="scheduled__2026-03-01", try_number=3
    ),
    "exception": ValueError("Bronze_Opportunity.csv, line 1: missing required column(s) ['Oppo_Deleted']"),
}


@pytest.fixture
def webhook():
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(
                (
                    self.path,
                    self.headers.get("Authorization"),
                    json.loads(self.rfile.read(int(self.headers["Content-Length"]))),
                )
            )
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server, received
    server.shutdown()


def test_the_summary_is_posted(webhook, monkeypatch, caplog):
    server, received = webhook
    monkeypatch.setenv(
        "AIRFLOW_CONN_ALERTS_WEBHOOK",
        json.dumps(
            {
                "conn_type": "http",
                "host": f"127.0.0.1:{server.server_address[1]}",
                "schema": "http",
                "password": "hook-secret",
                "extra": {"path": "/services/T000/B000/XXXX"},
            }
        ),
    )
    alert_on_failure(CONTEXT)
    path, authorization, body = received[0]
    assert path == "/services/T000/B000/XXXX"
    assert authorization == "Bearer hook-secret"
    assert body["text"] == (
        "crm-reconciliation: task load_bronze of crm_reconcile_deals failed (run scheduled__2026-03-01, try 3). "
        "ValueError: Bronze_Opportunity.csv, line 1: missing required column(s) ['Oppo_Deleted']"
    )
    assert "XXXX" not in caplog.text
    assert "hook-secret" not in caplog.text


def test_without_a_webhook_it_only_logs(monkeypatch, caplog):
    monkeypatch.delenv("AIRFLOW_CONN_ALERTS_WEBHOOK", raising=False)
    alert_on_failure(CONTEXT)
    assert "task load_bronze of crm_reconcile_deals failed" in caplog.text


def test_an_unreachable_webhook_does_not_raise(monkeypatch, caplog):
    monkeypatch.setenv(
        "AIRFLOW_CONN_ALERTS_WEBHOOK", json.dumps({"conn_type": "http", "host": "127.0.0.1:9", "schema": "http"})
    )
    alert_on_failure(CONTEXT)
    assert "Could not post the failure summary" in caplog.text
