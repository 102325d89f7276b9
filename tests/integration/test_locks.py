"""Two runs of one object never write its tables at once; other objects are not held up."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest

from crm_reconciliation.common.locks import lock_object
from crm_reconciliation.hooks.warehouse import WarehouseHook

pytestmark = pytest.mark.integration


def _run_in_thread(object_type: str) -> tuple[threading.Thread, list[float]]:
    finished: list[float] = []

    def work() -> None:
        WarehouseHook().run_script("select 1", lock=object_type)
        finished.append(time.monotonic())

    thread = threading.Thread(target=work)
    thread.start()
    return thread, finished


def test_a_step_waits_while_another_run_holds_the_object(db, database_uri):
    with psycopg.connect(database_uri) as holder:
        lock_object(holder, "companies")  # another run, mid-transaction
        waiting, waiting_done = _run_in_thread("companies")
        other, other_done = _run_in_thread("contacts")
        other.join(timeout=10)
        time.sleep(0.5)
        assert other_done, "another object was held up"
        assert not waiting_done, "the second run of companies did not wait"
        released = time.monotonic()
        holder.commit()
    waiting.join(timeout=10)
    assert waiting_done
    assert waiting_done[0] >= released


def test_a_run_holds_its_object_until_its_report_frees_it(db):
    from crm_reconciliation.common.runs import ObjectBusy, claim, release

    hook = WarehouseHook()
    running = {"run_a"}

    def active(dag_id: str, run_id: str) -> bool:
        assert dag_id == "crm_reconcile_companies"
        return run_id in running

    claim(hook, "companies", "crm_reconcile_companies", "run_a", active)
    claim(hook, "companies", "crm_reconcile_companies", "run_a", active)  # its next step
    claim(hook, "contacts", "crm_reconcile_contacts", "run_b", active)  # another object is free
    with pytest.raises(ObjectBusy, match="companies is held by run run_a of crm_reconcile_companies"):
        claim(hook, "companies", "crm_reconcile_companies", "run_b", active)
    release(hook, "companies", "run_b")  # a run that never held it frees nothing
    with pytest.raises(ObjectBusy):
        claim(hook, "companies", "crm_reconcile_companies", "run_b", active)
    release(hook, "companies", "run_a")
    claim(hook, "companies", "crm_reconcile_companies", "run_b", active)
    holders = dict(db.execute("select object_type, run_id from staging.object_runs").fetchall())
    assert holders == {"companies": "run_b", "contacts": "run_b"}


def test_a_run_that_ended_without_its_report_is_taken_over(db):
    from crm_reconciliation.common.runs import claim

    hook = WarehouseHook()
    claim(hook, "companies", "crm_reconcile_companies", "killed_run", lambda *_: True)
    claim(hook, "companies", "crm_reconcile_companies", "next_run", lambda dag_id, run_id: run_id != "killed_run")
    held = db.execute("select run_id from staging.object_runs where object_type = 'companies'").fetchone()
    assert held == ("next_run",)


def test_a_step_refuses_tables_another_run_wrote(db):
    from crm_reconciliation.common.runs import TablesOfAnotherRun, check_own_tables
    from crm_reconciliation.config.registry import default_registry
    from tests.helpers import create_staging

    create_staging(db, default_registry().get("companies"))
    hook = WarehouseHook()
    log = (
        "insert into staging.reconciliation_log (object_type, run_id, step, outcome, started_at, finished_at)"
        " values ('companies', %s, %s, %s, now(), clock_timestamp())"
    )
    db.execute(log, ["run_a", "load_bronze", "success"])
    db.execute(log, ["run_a", "reconcile", "success"])
    check_own_tables(hook, "companies", "run_a", {"create_staging", "load_bronze", "reconcile"})
    db.execute(log, ["run_b", "load_bronze", "success"])  # run B loaded in between
    db.execute(log, ["run_c", "reconcile", "failed"])  # a failure wrote nothing
    with pytest.raises(TablesOfAnotherRun, match="last written by load_bronze of run run_b, not by run run_a"):
        check_own_tables(hook, "companies", "run_a", {"create_staging", "load_bronze", "reconcile"})
    check_own_tables(hook, "companies", "run_b", {"create_staging", "load_bronze"})
