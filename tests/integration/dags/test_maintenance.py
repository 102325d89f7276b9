"""crm_staging_maintenance: counts rows and purges old bookkeeping, keeping unresolved pushes."""

from __future__ import annotations

import pytest
from airflow.dag_processing.dagbag import DagBag

from crm_reconciliation.config.paths import PROJECT_ROOT
from crm_reconciliation.config.registry import default_registry
from tests.helpers import create_staging, insert_rows

pytestmark = pytest.mark.integration


def test_old_rows_are_purged_and_counts_reported(airflow_db, db):
    create_staging(db, default_registry().get("companies"))
    old, recent = "now() - interval '400 days'", "now() - interval '1 day'"
    for age in (old, recent):
        db.execute(
            "insert into staging.reconciliation_log (object_type, run_id, step, outcome, started_at)"
            f" values ('companies', ({age})::text, 'reconcile', 'success', {age})"
        )
        db.execute(
            "insert into staging.bronze_rejects (object_type, snapshot_date, run_id, source_file, line_number,"
            f" reason, rejected_at) values ('companies', current_date, 'r', 'f.csv', 2, 'empty id', {age})"
        )
        db.execute(
            "insert into staging.match_parameters (object_type, run_id, comparison, level_index, level, m, weight,"
            f" m_source, learned_at) values ('companies', ({age})::text, 'prior', 0, 'λ', 0.001, -10, 'em', {age})"
        )
        db.execute(
            "insert into staging.push_held_values (object_type, run_id, legacy_id, action, api_object, property,"
            f" value, reason, recorded_at) values ('companies', ({age})::text, 1, 'update', 'companies', 'industry',"
            f" 'Industrial IoT', 'not an option', {age})"
        )
    for action, outcome in (("update", "sent"), ("update", "in_flight"), ("create", "sent")):
        insert_rows(
            db,
            "staging.push_log",
            [
                {
                    "object_type": "companies",
                    "run_id": "old",
                    "target": "hubspot",
                    "legacy_id": 1,
                    "hubspot_id": "9",
                    "properties": "{}",
                    "payload_hash": action + outcome,
                    "outcome": outcome,
                    "action": action,
                }
            ],
        )
    for outcome in ("created", "exists", "rejected"):
        insert_rows(
            db,
            "staging.push_associations",
            [
                {
                    "object_type": "contacts",
                    "run_id": "old",
                    "legacy_id": 1,
                    "property": "associatedcompanyid",
                    "from_object": "contacts",
                    "from_id": "1",
                    "to_object": "companies",
                    "to_id": "9",
                    "type_ids": "{279}",
                    "outcome": outcome,
                }
            ],
        )
    pages = [  # (run, counts as latest, age): companies' latest page is old, and stays
        ("old_latest", True, old),
        ("older", True, "now() - interval '401 days'"),
        ("old_held", False, old),
        ("recent_held", False, recent),
    ]
    for run_id, counts, age in pages:
        db.execute(
            "insert into staging.reports (object_type, run_id, dag_id, html, counts_as_latest, written_at)"
            f" values ('companies', %s, 'crm_reconcile_companies', '<html>', %s, {age})",
            [run_id, counts],
        )
    db.execute("update staging.push_log set updated_at = now() - interval '400 days'")
    db.execute("update staging.push_associations set updated_at = now() - interval '400 days'")

    dag = DagBag(dag_folder=str(PROJECT_ROOT / "dags")).dags["crm_staging_maintenance"]
    run = dag.test()
    assert str(run.state) == "success"
    assert db.execute("select count(*) from staging.bronze_rejects").fetchone()[0] == 1
    # Kept whatever their age: unresolved sends, the ids of created records, associations made.
    kept = db.execute("select action, outcome from staging.push_log order by push_id").fetchall()
    assert kept == [("update", "in_flight"), ("create", "sent")]
    links = db.execute("select outcome from staging.push_associations order by association_id").fetchall()
    assert links == [("created",), ("exists",)]
    details = dict(
        db.execute("select step, details from staging.reconciliation_log where run_id = %s", (run.run_id,)).fetchall()
    )
    assert details["purge"] == {
        "purged_reconciliation_log": 1,
        "purged_bronze_rejects": 1,
        "purged_push_log": 1,
        "purged_push_associations": 1,
        "purged_push_held_values": 1,
        "purged_match_parameters": 1,
        "purged_reports": 2,
    }
    kept_pages = db.execute("select run_id from staging.reports order by run_id").fetchall()
    assert kept_pages == [("old_latest",), ("recent_held",)]
    assert db.execute("select count(*) from staging.push_held_values").fetchone()[0] == 1
    assert db.execute("select count(*) from staging.match_parameters").fetchone()[0] == 1
    assert details["row_counts"]["staging.bronze_rejects"] == 2
    assert details["row_counts_after"]["staging.bronze_rejects"] == 1


def test_on_a_warehouse_no_object_dag_has_run_on_it_creates_what_it_needs(airflow_db, db):
    db.execute("drop schema if exists staging cascade")
    db.execute("drop schema if exists bronze cascade")

    run = DagBag(dag_folder=str(PROJECT_ROOT / "dags")).dags["crm_staging_maintenance"].test()

    assert str(run.state) == "success"
    details = dict(
        db.execute("select step, details from staging.reconciliation_log where run_id = %s", (run.run_id,)).fetchall()
    )
    assert set(details) == {"create_staging", "row_counts", "purge", "row_counts_after"}
    assert details["purge"]["purged_reports"] == 0
    assert "staging.reports" in details["row_counts"]
