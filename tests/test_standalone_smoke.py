"""Full stack: the README's UI command (airflow standalone on 127.0.0.1), driven as the UI does.

Gets a token, unpauses and triggers crm_reconcile_companies through /api/v2 with a run
configuration, waits for success, and fetches the run's report through the plugin (which
refuses callers without a token).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from crm_reconciliation.localdb import free_port
from crm_reconciliation.paths import PROJECT_ROOT

pytestmark = pytest.mark.integration

DAG_ID = "crm_reconcile_companies"


def call(base: str, method: str, path: str, token: str | None = None, body: dict | None = None) -> tuple[int, str]:
    request = urllib.request.Request(  # noqa: S310 - our own 127.0.0.1 server
        base + path, method=method, data=None if body is None else json.dumps(body).encode()
    )
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - our own 127.0.0.1 server
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_trigger_through_the_api_and_read_the_report(tmp_path):
    port = free_port()
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("AIRFLOW", "CRM_RECON"))}
    environment |= {
        "PYTHONPATH": str(PROJECT_ROOT / "plugins"),
        "PYTHONUNBUFFERED": "1",
        "CRM_RECON_REPORTS_DIR": str(tmp_path / "reports"),
    }
    ui = subprocess.Popen(
        [sys.executable, "-m", "crm_reconciliation", "ui", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=environment,
        cwd=PROJECT_ROOT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        password, deadline = None, time.monotonic() + 240
        for line in ui.stdout:
            found = re.search(r"user: admin  password: (\S+)", line)
            if found:
                password = found.group(1)
                break
            assert time.monotonic() < deadline, "the UI did not come up"
        assert password, "the UI command ended without printing the login"
        status, body = call(base, "POST", "/auth/token", body={"username": "admin", "password": password})
        assert status in (200, 201), body
        token = json.loads(body)["access_token"]

        assert call(base, "PATCH", f"/api/v2/dags/{DAG_ID}", token, {"is_paused": False})[0] == 200
        status, body = call(
            base,
            "POST",
            f"/api/v2/dags/{DAG_ID}/dagRuns",
            token,
            {"logical_date": None, "conf": {"min_confidence": 95, "push_target": "hubspot"}},
        )
        assert status == 200, body
        run_id = json.loads(body)["dag_run_id"]
        state, deadline = None, time.monotonic() + 300
        while state not in ("success", "failed") and time.monotonic() < deadline:
            time.sleep(2)
            state = json.loads(call(base, "GET", f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}", token)[1])["state"]
        assert state == "success"

        quoted = urllib.request.quote(run_id, safe="")
        status, report = call(base, "GET", f"/crm-reports/{DAG_ID}/{quoted}", token)
        assert status == 200
        assert "<h1>Reconciliation of companies</h1>" in report
        assert call(base, "GET", f"/crm-reports/{DAG_ID}/{quoted}")[0] in (401, 403)
        status, links = call(base, "GET", f"/api/v2/dags/{DAG_ID}/dagRuns/{quoted}/taskInstances/report/links", token)
        assert status == 200, links
        assert f"/crm-reports/{DAG_ID}/{quoted}" in links
    finally:
        os.killpg(ui.pid, signal.SIGINT)
        try:
            ui.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(ui.pid, signal.SIGKILL)
