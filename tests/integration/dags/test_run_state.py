"""A run whose steps failed is a failed run: every step logs its outcome, the report shows them
and then fails, fast, also on a database where nothing was created yet."""

from __future__ import annotations

import json
import re
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psycopg
import pytest
from markupsafe import escape

from crm_reconciliation.common.locks import lock_object
from crm_reconciliation.config.paths import PROJECT_ROOT
from crm_reconciliation.config.registry import default_registry
from crm_reconciliation.dag_factory import build_dag
from crm_reconciliation.hooks.warehouse import WarehouseHook, failure_message
from crm_reconciliation.operators.push import PushOperator
from crm_reconciliation.operators.sql_script import SqlScriptOperator
from crm_reconciliation.report.render import read_report, reports_dir
from crm_reconciliation_dev.demo_mirror import load_demo_mirror
from tests.helpers import create_staging

pytestmark = pytest.mark.integration

COMPANIES = default_registry().get("companies")
STEPS = ("create_staging", "load_bronze", "reconcile", "score", "approve_push", "push")


@pytest.fixture
def mirror(db):
    load_demo_mirror(db)
    return db


@pytest.fixture
def dag():
    """A DAG of its own per test: a run in this process leaves its rendered values on the tasks."""
    return build_dag(default_registry(), "companies")


@pytest.fixture
def bad_export(tmp_path):
    """A companies export without its id column: load_bronze fails, and would fail again."""
    (tmp_path / "Bronze_Company.csv").write_text("Comp_Name;Comp_Deleted\nAcme;\n", encoding="utf-8")
    return tmp_path


class _Server:
    """An HTTP server on 127.0.0.1 in a thread, answering every request with ``answer`` and keeping
    what it received."""

    def __init__(self, status: int, body: dict):
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                received.append((self.path, json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")))
                self.answer()

            def do_GET(self):
                received.append((self.path, None))
                self.answer()

            def answer(self):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def http_server():
    started: list[_Server] = []

    def start(status: int, body: dict) -> _Server:
        started.append(_Server(status, body))
        return started[-1]

    yield start
    for server in started:
        server.stop()


def latest_page() -> str:
    """The companies report the UI serves as the latest (from the warehouse); the worker's copy on
    its disk is the same page."""
    page, _ = read_report(WarehouseHook(), "companies", "latest")
    assert page is not None, "no report in staging.reports"
    assert page == (reports_dir() / "companies" / "latest.html").read_text(encoding="utf-8")
    return page


def step_log(db, run_id: str) -> dict[str, tuple[str, str | None]]:
    return {
        step: (outcome, message)
        for step, outcome, message in db.execute(
            "select step, outcome, message from staging.reconciliation_log where run_id = %s", (run_id,)
        )
    }


def test_a_failed_load_fails_the_run_and_the_report_says_why(airflow_db, mirror, dag, bad_export):
    run = dag.test(run_conf={"bronze_dir": str(bad_export)})

    assert str(run.state) == "failed"
    logged = step_log(mirror, run.run_id)
    assert logged["create_staging"][0] == "success"
    outcome, message = logged["load_bronze"]
    assert outcome == "failed"
    assert "Bronze_Company.csv" in message
    assert not {"reconcile", "score", "approve_push", "push"} & set(logged)  # upstream_failed: they never ran
    assert logged["report"][0] == "failed"
    assert "load_bronze failed" in logged["report"][1]
    assert str(run.get_task_instance("report").state) == "failed"
    assert str(run.get_task_instance("load_bronze").state) == "failed"

    page = latest_page()
    assert 'id="run-failed"' in page
    assert "Steps that did not succeed: load_bronze, reconcile, score, approve_push, push." in page
    failed_row = (
        f'<tr class="step-failed"><td>load_bronze</td><td class="outcome">failed</td><td>{escape(message)}</td>'
    )
    assert failed_row in page
    assert page.index(failed_row) < page.index("<td>create_staging</td>")  # failed steps first
    assert page.count('<td class="outcome">not run</td>') == 4
    assert "HubSpot orphans (reconcile did not run)" in page


def test_a_failed_push_fails_the_run_after_the_report(airflow_db, mirror, dag, http_server, monkeypatch):
    hubspot = http_server(500, {"status": "error", "message": "internal error"})
    monkeypatch.setenv(
        "AIRFLOW_CONN_HUBSPOT_API",
        json.dumps({"conn_type": "http", "host": hubspot.address, "schema": "http", "password": "token-1"}),
    )
    push = dag.get_task("push")
    monkeypatch.setattr(push, "max_attempts", 1)  # one 500 and the payloads are 'failed'
    monkeypatch.setattr(push, "backoff_base", 0.01)

    run = dag.test(run_conf={"push_target": "hubspot", "require_approval": False})

    assert hubspot.received, "the push did not reach the server"
    assert str(run.state) == "failed"
    logged = step_log(mirror, run.run_id)
    assert {step for step, (outcome, _) in logged.items() if outcome == "success"} == set(STEPS) - {"push"}
    assert logged["push"][0] == "failed"
    assert "HTTP 500" in logged["push"][1]  # the preflight's read of the portal's properties
    assert "token-1" not in json.dumps(logged)
    page = latest_page()
    assert "Steps that did not succeed: push." in page
    assert re.search(r"<b>\d+</b>HubSpot orphans</div>", page)  # counted by this run's reconcile
    assert str(run.get_task_instance("report").state) == "failed"


def _make_create_staging_fail(db) -> None:
    """A view where create_staging expects its bronze table: the DDL stops, nothing is created."""
    db.execute("create schema bronze")
    table, id_column = COMPANIES.bronze_table, default_registry().template_params("companies")["bronze_id_column"]
    db.execute(f"create view bronze.{table} as select 'x'::text as {id_column}")


@pytest.mark.parametrize("failing", ["create_staging", "load_bronze"])
def test_on_a_new_database_the_report_fails_at_once(airflow_db, db, dag, bad_export, monkeypatch, failing):
    load_demo_mirror(db)
    if failing == "create_staging":
        _make_create_staging_fail(db)
    report = dag.get_task("report")
    monkeypatch.setattr(report, "retries", 2)  # retryable failures would show as a second try
    monkeypatch.setattr(report, "retry_delay", timedelta(seconds=1))
    monkeypatch.setattr(report, "retry_exponential_backoff", 0)

    started = time.monotonic()
    run = dag.test(run_conf={"bronze_dir": str(bad_export)})

    assert str(run.state) == "failed"
    ti = run.get_task_instance("report")
    assert str(ti.state) == "failed"
    assert ti.try_number == 1
    assert time.monotonic() - started < 60
    page = latest_page()
    assert run.run_id in page
    if failing == "create_staging":
        assert "create_staging did not complete" in page
        # Nothing of the object was created: only the run's claim, which its report freed, and the
        # table of the reports, which the report made to store its page (served as the run's own).
        tables = db.execute(
            "select table_name from information_schema.tables where table_schema = 'staging' order by 1"
        )
        assert [row[0] for row in tables] == ["object_runs", "reports"]
        assert read_report(WarehouseHook(), "companies", run.run_id)[0] == page
        assert db.execute("select count(*) from staging.object_runs").fetchone()[0] == 0
    else:
        assert step_log(db, run.run_id)["load_bronze"][0] == "failed"


def test_the_report_failure_is_alerted(airflow_db, mirror, dag, bad_export, http_server, monkeypatch):
    webhook = http_server(204, {})
    monkeypatch.setenv(
        "AIRFLOW_CONN_ALERTS_WEBHOOK", json.dumps({"conn_type": "http", "host": webhook.address, "schema": "http"})
    )
    run = dag.test(run_conf={"bronze_dir": str(bad_export)})

    assert str(run.state) == "failed"
    alerts = {body["task_id"]: body["text"] for _, body in webhook.received}
    assert set(alerts) == {"load_bronze", "report"}
    assert "task report of crm_reconcile_companies failed" in alerts["report"]
    assert "AirflowFailException" in alerts["report"]
    assert "load_bronze failed" in alerts["report"]


def test_a_dry_run_push_waits_for_the_object_lock(db, database_uri):
    create_staging(db, COMPANIES)
    done: list[dict] = []
    push = PushOperator(task_id="push", object_type="companies", push_target="hubspot", dry_run=True, min_confidence=90)
    context = {"run_id": "dry_run_lock", "dag_run": None}
    with psycopg.connect(database_uri) as holder:
        lock_object(holder, "companies")  # another run of companies, mid-transaction
        thread = threading.Thread(target=lambda: done.append(push.execute(context)))
        thread.start()
        time.sleep(0.7)
        assert not done, "the dry run did not wait for the lock"
        holder.commit()
    thread.join(timeout=30)
    assert [summary["dry_run"] for summary in done] == [0]
    assert step_log(db, "dry_run_lock") == {"push": ("success", None)}


def test_a_failing_sql_step_logs_its_error(db):
    create_staging(db, COMPANIES)
    failing = "do $$ begin raise exception 'no pg_trgm' using hint = 'Ask a superuser to run: CREATE EXTENSION'; end $$"
    step = SqlScriptOperator(task_id="score", sql=failing, object_type="companies")
    with pytest.raises(psycopg.errors.RaiseException):
        step.execute({"run_id": "sql_failure"})
    assert step_log(db, "sql_failure") == {"score": ("failed", "no pg_trgm — Ask a superuser to run: CREATE EXTENSION")}


def test_an_unreachable_database_does_not_hide_the_error(monkeypatch, caplog):
    monkeypatch.setenv("AIRFLOW_CONN_DEAD_POSTGRES", "postgresql://someone:pw-secret@127.0.0.1:1/none")
    hook = WarehouseHook(postgres_conn_id="dead_postgres")
    with pytest.raises(ValueError, match="the step's own error"), hook.step(object_type="x", run_id="r", step="s"):
        raise ValueError("the step's own error")
    assert "Could not record the failure of s" in caplog.text
    assert "pw-secret" not in caplog.text


def test_failure_messages_are_one_bounded_line_without_secrets():
    error = RuntimeError(
        "cannot reach postgresql://crm:hunter2@db:5432/crm with Authorization: Bearer abc.def, password=xyz\nDETAIL"
    )
    assert failure_message(error) == (
        "cannot reach postgresql://crm:***@db:5432/crm with Authorization: Bearer ***, password=***"
    )
    assert failure_message(KeyError("name")) == "KeyError: 'name'"
    assert failure_message(RuntimeError()) == "RuntimeError"
    long = failure_message(ValueError("x" * 5000))
    assert len(long) == 1000
    assert long.endswith("…")


def test_mapped_columns_missing_from_the_export_are_named_in_the_report(airflow_db, mirror, dag, tmp_path):
    """A header translated by a spreadsheet (site_web, téléphone, ville): the first load has no
    previous snapshot to refuse it against, so it goes through, and the report names the three."""
    source = default_registry().get("companies")
    sample = (source_file := PROJECT_ROOT / "include" / "bronze_layer" / source.csv_file).read_text("utf-8")
    renamed = {"Comp_WebSite": "site_web", "Comp_PhoneNumber": "téléphone", "Addr_City": "ville"}
    header, rest = sample.split("\n", 1)
    for column, translated in renamed.items():
        assert column in header, f"{column} is not in {source_file}"
        header = header.replace(column, translated)
    (tmp_path / source.csv_file).write_text(header + "\n" + rest, encoding="utf-8")

    run = dag.test(run_conf={"bronze_dir": str(tmp_path), "dry_run": True})

    assert str(run.state) == "success"
    page = latest_page()
    named = re.search(r'id="missing-columns"><b>The export lacked mapped columns:</b> ([^.]+)\.', page)
    assert named is not None
    assert set(named.group(1).split(", ")) == set(renamed)
