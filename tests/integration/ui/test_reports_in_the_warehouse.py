"""Reports live in the warehouse (issue 28): a report task that ran on one worker (its reports
folder A) is served by an api-server that never saw that disk (the UI command, its reports folder
B, empty): the run's own page and ``latest``. A run that never held the object does not replace
``latest``; a re-run of a report overwrites its run's page.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from types import SimpleNamespace
from urllib.parse import quote

import psycopg
import pytest
from airflow.sdk.exceptions import AirflowFailException

from crm_reconciliation.common.runs import claim
from crm_reconciliation.config.registry import default_registry
from crm_reconciliation.dag_factory import build_dag
from crm_reconciliation.hooks.warehouse import WarehouseHook
from crm_reconciliation.operators.report import ReportOperator
from crm_reconciliation_dev import local_env
from tests.helpers import call, create_staging, running_ui

pytestmark = pytest.mark.integration

COMPANIES = default_registry().get("companies")
DAG_ID = COMPANIES.dag_id
FIRST, HOLDER, REFUSED = "manual__2026-03-01T00:00:00+00:00", "manual__holder", "manual__refused"


@pytest.fixture(scope="module")
def api_server(tmp_path_factory):
    """The UI command with a reports folder of its own, empty: the disk of an api-server no report
    task ever ran on."""
    disk = tmp_path_factory.mktemp("api-server") / "reports"
    disk.mkdir()
    with running_ui({"CRM_RECON_REPORTS_DIR": str(disk)}) as running:
        yield SimpleNamespace(ui=running, disk=disk)


@pytest.fixture
def worker(api_server, tmp_path, monkeypatch):
    """This process as a worker: its own reports folder A, the api-server's warehouse."""
    disk = tmp_path / "worker-reports"
    monkeypatch.setenv("CRM_RECON_REPORTS_DIR", str(disk))
    monkeypatch.setenv(local_env.CONN_ENV, api_server.ui.database)
    with psycopg.connect(api_server.ui.database, autocommit=True) as db:
        create_staging(db, COMPANIES)
        try:
            yield SimpleNamespace(disk=disk, db=db)
        finally:
            db.execute("drop schema staging, bronze cascade")


def served(api_server, run_id: str) -> tuple[int, str]:
    ui = api_server.ui
    return call(ui.base, "GET", f"/crm-reports/{DAG_ID}/{quote(run_id, safe='')}", ui.token)


def report(run_id: str) -> dict:
    """The report task of ``run_id`` run outside a DAG run (it holds nothing and claims nothing)."""
    return ReportOperator(task_id="report", object_type="companies").execute({"run_id": run_id, "dag_run": None})


def report_while_held(run_id: str) -> None:
    """The DAG's report task in a run that finds the object held by another, active run."""
    task = build_dag(default_registry(), "companies").get_task("report")
    context = {
        "run_id": run_id,
        "dag_run": SimpleNamespace(conf={}),
        "ti": SimpleNamespace(get_dr_count=lambda **_: 1),  # Airflow says: the holder is still running
    }
    with pytest.raises(AirflowFailException, match=f"companies is held by run {HOLDER} of {DAG_ID}"):
        task.execute(context)


def test_a_report_written_on_one_worker_is_served_by_an_api_server_that_never_saw_its_disk(api_server, worker):
    summary = report(FIRST)
    first = (worker.disk / "companies" / "latest.html").read_text(encoding="utf-8")  # the worker's own copy
    assert summary["path"] == str(worker.disk / "companies" / "manual__2026-03-01T00_00_00_00_00.html")
    assert summary["page"] == f"/crm-reports/{DAG_ID}/{quote(FIRST, safe='')}"
    assert f"Run {FIRST} ·" in first
    assert list(api_server.disk.iterdir()) == []  # nothing reached the api-server's disk

    assert served(api_server, FIRST) == (200, first)
    assert served(api_server, "latest") == (200, first)

    # A run that never held the object: its page is served, and says so; latest stays the first run's.
    claim(WarehouseHook(), "companies", DAG_ID, HOLDER, is_active=lambda *_: True)
    report_while_held(REFUSED)
    status, refused = served(api_server, REFUSED)
    assert status == 200
    assert f"Run {REFUSED} ·" in refused
    assert f"companies is held by run {HOLDER} of {DAG_ID}" in refused
    assert served(api_server, "latest") == (200, first)
    assert (worker.disk / "companies" / "latest.html").read_text(encoding="utf-8") == first  # the copy agrees
    worker.db.execute("delete from staging.object_runs")

    # The first run's report again, after its load failed: the page is overwritten, and is the latest.
    WarehouseHook().log_step(
        object_type="companies",
        run_id=FIRST,
        step="load_bronze",
        started_at=datetime.now(UTC),
        outcome="failed",
        message="Bronze_Company.csv, line 1: the export was unreadable",
    )
    with pytest.raises(AirflowFailException, match=re.escape(f"Run {FIRST} did not succeed: load_bronze failed")):
        report(FIRST)
    again = (worker.disk / "companies" / "manual__2026-03-01T00_00_00_00_00.html").read_text(encoding="utf-8")
    assert again != first
    assert "the export was unreadable" in again
    assert served(api_server, FIRST) == (200, again)
    assert served(api_server, "latest") == (200, again)
    stored = worker.db.execute(
        "select run_id, dag_id, counts_as_latest from staging.reports where object_type = 'companies' order by run_id"
    ).fetchall()
    assert stored == [(FIRST, DAG_ID, True), (REFUSED, DAG_ID, False)]  # one row per run
    assert list(api_server.disk.iterdir()) == []

    # Another object's DAG has no report: nothing yet, with the DAG to trigger.
    ui = api_server.ui
    status, page = call(ui.base, "GET", "/crm-reports/crm_reconcile_contacts/latest", ui.token)
    assert status == 200
    assert "No report for contacts yet: the DAG crm_reconcile_contacts has not finished a run." in page
