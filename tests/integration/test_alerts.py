"""Failure alerts reach the webhook (a real HTTP server on 127.0.0.1) through an HttpHook, never
log its address or token, and never raise."""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import airflow  # noqa: F401 - sets up Airflow's logging now: inside a test it would drop caplog's handler
import pytest

from crm_reconciliation.alerts import alert_on_failure

CONTEXT = {
    "ti": SimpleNamespace(
        task_id="load_bronze", dag_id="crm_reconcile_deals", run_id="scheduled__2026-03-01", try_number=3
    ),
    "exception": ValueError("Bronze_Opportunity.csv, line 1: missing required column(s) ['Oppo_Deleted']"),
}
SECRET_PATH = "/services/T000/B000/XXXX"


def webhook_connection(port: int) -> str:
    return json.dumps(
        {
            "conn_type": "http",
            "host": f"127.0.0.1:{port}",
            "schema": "http",
            "password": "hook-secret",
            "extra": {"path": SECRET_PATH, "X-Team": "crm"},
        }
    )


@pytest.fixture
def webhook():
    received = []
    answer = [204]

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(
                (
                    self.path,
                    dict(self.headers),
                    json.loads(self.rfile.read(int(self.headers["Content-Length"]))),
                )
            )
            self.send_response(answer[0])
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server, received, answer
    server.shutdown()
    server.server_close()


def test_the_summary_is_posted(webhook, monkeypatch, caplog, capfd):
    caplog.set_level(logging.INFO)
    server, received, _ = webhook
    monkeypatch.setenv("AIRFLOW_CONN_ALERTS_WEBHOOK", webhook_connection(server.server_address[1]))
    alert_on_failure(CONTEXT)
    path, headers, body = received[0]
    assert path == SECRET_PATH
    assert headers["Authorization"] == "Bearer hook-secret"
    assert headers["X-Team"] == "crm"  # the connection's other extras are headers, as for any HttpHook
    assert "path" not in {name.lower() for name in headers}
    assert body == {
        "text": "crm-reconciliation: task load_bronze of crm_reconcile_deals failed (run scheduled__2026-03-01, "
        "try 3). ValueError: Bronze_Opportunity.csv, line 1: missing required column(s) ['Oppo_Deleted']",
        "dag_id": "crm_reconcile_deals",
        "task_id": "load_bronze",
        "run_id": "scheduled__2026-03-01",
    }
    assert "posted to connection alerts_webhook: HTTP 204" in caplog.text
    printed = "".join(capfd.readouterr())
    assert "XXXX" not in caplog.text + printed
    assert "hook-secret" not in caplog.text + printed


def test_a_refusal_is_logged_not_raised(webhook, monkeypatch, caplog):
    caplog.set_level(logging.INFO)
    server, _, answer = webhook
    answer[0] = 403
    monkeypatch.setenv("AIRFLOW_CONN_ALERTS_WEBHOOK", webhook_connection(server.server_address[1]))
    alert_on_failure(CONTEXT)
    warning = next(record for record in caplog.records if "posted to connection" in record.getMessage())
    assert warning.levelno == logging.WARNING
    assert warning.getMessage().endswith("HTTP 403")


def test_without_a_webhook_it_only_logs(monkeypatch, caplog):
    monkeypatch.delenv("AIRFLOW_CONN_ALERTS_WEBHOOK", raising=False)
    alert_on_failure(CONTEXT)
    assert "task load_bronze of crm_reconcile_deals failed" in caplog.text


def test_an_unreachable_webhook_does_not_raise_nor_name_its_address(monkeypatch, caplog, capfd):
    caplog.set_level(logging.INFO)
    monkeypatch.setenv("AIRFLOW_CONN_ALERTS_WEBHOOK", webhook_connection(9))
    alert_on_failure(CONTEXT)
    # Airflow's task loggers (HttpHook.run's among them, which names the URL of a connection error)
    # print instead of propagating to caplog: read both.
    printed = "".join(capfd.readouterr())
    assert "Could not post the failure summary to connection alerts_webhook: ConnectionError" in caplog.text
    assert "XXXX" not in caplog.text + printed
    assert "hook-secret" not in caplog.text + printed
