"""Reviewers' decisions through real DAG runs on the demo data: applied by score on every run,
pushed, never proposed again, back in the queue when their records changed; the CSV round trip."""

from __future__ import annotations

import pytest

from crm_reconciliation.config.registry import default_registry
from crm_reconciliation.hooks.warehouse import WarehouseSession
from crm_reconciliation.report.render import reports_dir
from crm_reconciliation.review import queue as review
from tests.integration.dags.test_migration import dags, portal  # noqa: F401 - fixtures

pytestmark = pytest.mark.integration

REGISTRY = default_registry()
LIVE = {"push_target": "hubspot", "dry_run": False, "require_approval": False}


def rows(db, status: str) -> list[tuple[int, str]]:
    return db.execute(
        "select legacy_company_id, hubspot_company_id from staging.companies_reconciliation"
        " where reconciliation_status = %s order by match_confidence desc, 1",
        [status],
    ).fetchall()


def queued(db) -> set[int]:
    return {row["legacy_id"] for row in review.queue(db, REGISTRY, "companies", limit=200)["rows"]}


def test_decisions_persist_across_runs_and_the_same_pair_is_pushed(db, portal, dags):  # noqa: F811
    dag = dags["crm_reconcile_companies"]
    assert str(dag.test(run_conf={"dry_run": True}).state) == "success"
    (probable_id, twin), *_ = rows(db, "probable")
    (conflict_id, linked), *_ = rows(db, "conflict")
    assert {probable_id, conflict_id} <= queued(db)
    review.record(db, REGISTRY, "companies", review.Decision(probable_id, twin, "same", "same SIRET"), "alice")
    review.record(db, REGISTRY, "companies", review.Decision(conflict_id, linked, "different"), "bob")

    assert str(dag.test(run_conf=LIVE).state) == "success"
    status, notes, reviewed = db.execute(
        "select reconciliation_status, notes, review from staging.companies_reconciliation"
        " where legacy_company_id = %s",
        [probable_id],
    ).fetchone()
    assert status == "matched"
    assert "Reviewed: the same record as HubSpot" in notes
    assert "alice" in notes
    assert reviewed["verdict"] == "same"
    assert portal.objects["companies"][twin]["icalps_company_id"] == str(probable_id)  # linked for good
    assert {probable_id, conflict_id}.isdisjoint(queued(db))

    assert str(dag.test(run_conf=LIVE).state) == "success"  # and again: the decisions still hold
    assert {probable_id, conflict_id}.isdisjoint(queued(db))
    history = db.execute(
        "select change, verdict, reviewer from staging.review_decision_history order by history_id"
    ).fetchall()
    assert history[:2] == [("recorded", "same", "alice"), ("recorded", "different", "bob")]
    # The two decisions are labels: the report draws precision and recall by threshold against them.
    page = (reports_dir() / "companies" / "latest.html").read_text(encoding="utf-8")
    assert "1 pairs reviewed as the same record and 1 as different records" in page
    assert 'aria-label="precision and recall by threshold"' in page
    assert page.count("<polyline") == 2


def test_a_decision_whose_twin_now_belongs_elsewhere_comes_back_saying_why(db, portal, dags):  # noqa: F811
    dag = dags["crm_reconcile_companies"]
    assert str(dag.test(run_conf={"dry_run": True}).state) == "success"
    (probable_id, twin), (_, other), *_ = rows(db, "probable")
    review.record(db, REGISTRY, "companies", review.Decision(probable_id, twin, "same"), "alice")
    # Someone links the legacy record to another HubSpot record meanwhile (the mirror shows it).
    db.execute("update hubspot.companies set icalps_company_id = %s where hs_object_id = %s", [probable_id, other])
    assert str(dag.test(run_conf={"dry_run": True}).state) == "success"
    state, reason = db.execute(
        "select state, stale_reason from staging.review_decisions where legacy_id = %s", [probable_id]
    ).fetchone()
    assert state == "stale"
    assert reason == f"HubSpot record {other} now carries legacy id {probable_id}"
    applied, status = db.execute(
        "select review, reconciliation_status from staging.companies_reconciliation where legacy_company_id = %s",
        [probable_id],
    ).fetchone()
    assert applied is None  # a stale decision is not applied: the row is what the model says
    queued_rows = [
        row
        for row in review.queue(db, REGISTRY, "companies", search=str(probable_id))["rows"]
        if row["legacy_id"] == probable_id
    ]
    # In the queue (with why) exactly when the new id link is itself in doubt.
    assert [row["stale_reason"] for row in queued_rows] == ([reason] if status in ("conflict", "probable") else [])


def test_csv_round_trip_and_a_malformed_line_named(db, portal, dags):  # noqa: F811
    assert str(dags["crm_reconcile_companies"].test(run_conf={"dry_run": True}).state) == "success"
    session = WarehouseSession(db)  # the import's decisions are recorded all or none, in a savepoint
    exported = review.export_csv(session, REGISTRY, "companies")
    lines = exported.splitlines()
    assert lines[0] == ",".join(review.CSV_COLUMNS)
    assert len(lines) - 1 == review.queue(db, REGISTRY, "companies")["total"]
    header, first, second, *rest = lines
    filled = [header, first.rstrip(",") + ",leave_aside,checked", second + "", *rest]
    result = review.import_csv(session, REGISTRY, "companies", "\n".join(filled) + "\n", "carol")
    assert result == {"recorded": 1, "errors": []}
    assert str(dags["crm_reconcile_companies"].test(run_conf={"dry_run": True}).state) == "success"
    assert int(first.split(",")[0]) not in queued(db)  # left aside: out of the queue
    bad = [header, first.rstrip(",") + ",perhaps,", "x" + second.rstrip(",") + ",same,"]
    refused = review.import_csv(session, REGISTRY, "companies", "\n".join(bad) + "\n", "carol")
    assert refused["recorded"] == 0
    assert refused["errors"][0] == "line 2: verdict 'perhaps' is not one of same, different, create_new, leave_aside"
    assert refused["errors"][1].startswith("line 3: legacy_id 'x")
    decisions = db.execute("select verdict, reviewer, comment from staging.review_decisions").fetchall()
    assert decisions == [("leave_aside", "carol", "checked")]
