"""Reports in the warehouse (``staging.reports``): which page is the object's latest, a database
where create_staging never completed, before any report, and a worker whose reports folder cannot
be written. The page is read back as the report app reads it (``report.render.read_report``);
tests/integration/ui/test_reports_in_the_warehouse.py serves it from an api-server."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime

import pytest
from airflow.sdk.exceptions import AirflowFailException

from crm_reconciliation.common.runs import WRITERS
from crm_reconciliation.config.registry import default_registry
from crm_reconciliation.hooks.warehouse import WarehouseHook
from crm_reconciliation.operators.report import ReportOperator
from crm_reconciliation.report.render import read_report, reports_dir
from tests.helpers import create_staging

pytestmark = pytest.mark.integration

COMPANIES = default_registry().get("companies")


def report(run_id: str) -> dict:
    """The report task of ``run_id``, run outside a DAG run (it claims nothing)."""
    return ReportOperator(task_id="report", object_type="companies").execute({"run_id": run_id, "dag_run": None})


def wrote_tables(run_id: str) -> None:
    """``run_id``'s load, reconcile and score succeeded: the object's tables are its own now."""
    hook = WarehouseHook()
    for step in WRITERS:
        started = datetime.now(UTC)
        hook.log_step(object_type="companies", run_id=run_id, step=step, started_at=started, outcome="success")


def page(run_id: str) -> str | None:
    return read_report(WarehouseHook(), "companies", run_id)[0]


def test_a_page_whose_tables_a_later_run_rewrote_does_not_replace_latest(db):
    create_staging(db, COMPANIES)
    wrote_tables("r1")
    report("r1")
    assert page("latest") == page("r1")
    assert "Run r1 ·" in page("r1")
    wrote_tables("r2")
    report("r2")
    assert page("latest") == page("r2")

    # r1's report again: its tables are r2's now, so its page shows none of them and is not the latest.
    with pytest.raises(AirflowFailException, match=re.escape("tables were rewritten after this run")):
        report("r1")
    assert "The companies tables were rewritten after this run (load_bronze by run r2" in page("r1")
    assert "Run r2 ·" in page("latest")
    latest = db.execute("select run_id, counts_as_latest from staging.reports order by run_id").fetchall()
    assert latest == [("r1", False), ("r2", True)]
    assert "Run r2 ·" in (reports_dir() / "companies" / "latest.html").read_text(encoding="utf-8")


def test_a_report_on_a_database_where_create_staging_never_ran_is_stored(db):
    assert db.execute("select to_regnamespace('staging')").fetchone() == (None,)
    assert read_report(WarehouseHook(), "companies", "latest") == (None, False)

    with pytest.raises(AirflowFailException, match="create_staging did not complete"):
        report("r1")

    stored, has_latest = read_report(WarehouseHook(), "companies", "r1")
    assert has_latest
    assert "Run r1 ·" in stored
    assert "create_staging did not complete" in stored
    assert page("latest") == stored
    assert read_report(WarehouseHook(), "contacts", "latest") == (None, False)  # another object: nothing yet
    # The report made its own table, the one create_staging makes: create_staging runs over it.
    create_staging(db, COMPANIES)
    assert page("r1") == stored


def test_before_any_report_and_on_a_warehouse_older_than_the_reports_table(db):
    create_staging(db, COMPANIES)
    assert read_report(WarehouseHook(), "companies", "latest") == (None, False)
    assert read_report(WarehouseHook(), "companies", "r1") == (None, False)
    db.execute("drop table staging.reports")  # as a create_staging of an earlier version left it
    assert read_report(WarehouseHook(), "companies", "latest") == (None, False)

    create_staging(db, COMPANIES)  # the next run's create_staging adds it

    assert db.execute("select to_regclass('staging.reports') is not null").fetchone() == (True,)
    report("r1")
    assert read_report(WarehouseHook(), "companies", "r0") == (None, True)  # no such run; a latest page


def test_a_worker_whose_reports_folder_cannot_be_written_still_stores_the_page(db, tmp_path, monkeypatch, caplog):
    create_staging(db, COMPANIES)
    occupied = tmp_path / "a-file"
    occupied.write_text("not a folder", encoding="utf-8")
    monkeypatch.setenv("CRM_RECON_REPORTS_DIR", str(occupied))

    with caplog.at_level(logging.WARNING):
        summary = report("r1")

    assert summary["path"] is None
    assert "Run r1 ·" in page("r1")
    assert page("latest") == page("r1")
    assert "The report is stored in the warehouse; its copy in" in caplog.text
    logged = db.execute(
        "select details ->> 'path', details ->> 'page' from staging.reconciliation_log where run_id = 'r1'"
    ).fetchone()
    assert logged == (None, "/crm-reports/crm_reconcile_companies/r1")
