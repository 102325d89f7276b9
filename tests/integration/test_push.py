"""The push task against a real HTTP server on 127.0.0.1 standing in for HubSpot.

The server enforces a rolling rate limit and injects 429s, 5xx, timeouts, dropped
connections and 207 partial failures; the tests check what it ended up holding.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from crm_reconciliation.config.registry import default_registry
from crm_reconciliation.operators.push import PushOperator
from crm_reconciliation_dev.fake_hubspot import FakeCrm
from tests.helpers import create_staging, insert_rows, kill_mid_run

pytestmark = pytest.mark.integration

COMPANIES = default_registry().get("companies")
CONTEXT = {"run_id": "push_test", "logical_date": datetime(2026, 3, 1, tzinfo=UTC), "dag_run": None}


def updates(count: int) -> dict[str, dict[str, str]]:
    return {
        str(5000 + n): {"city": f"Ville {n}", "industry": "AVIATION_AEROSPACE" if n % 2 else "SEMICONDUCTORS"}
        for n in range(count)
    }


def portal(wanted: dict[str, dict[str, str]], **options) -> FakeCrm:
    """A fake portal holding the companies ``wanted`` updates (without properties yet)."""
    return FakeCrm(seed={"companies": {hubspot_id: {} for hubspot_id in wanted}}, **options)


def stage_rows(db, rows: list[tuple[str, dict, str, float]], mirror: dict[str, dict] | None = None) -> None:
    """Staging rows (HubSpot id, properties to update, status, confidence), legacy ids 1, 2, …;
    ``mirror``: what the mirror held per HubSpot id (reconcile's hubspot_properties)."""
    create_staging(db, COMPANIES)
    mirror = mirror or {}
    insert_rows(
        db,
        "staging.companies_reconciliation",
        [
            {
                "legacy_company_id": n,
                "hubspot_company_id": hubspot_id,
                "reconciliation_status": status,
                "match_confidence": confidence,
                "properties_to_update": json.dumps(properties),
                "hubspot_properties": json.dumps(mirror.get(hubspot_id, {})),
            }
            for n, (hubspot_id, properties, status, confidence) in enumerate(rows, start=1)
        ],
    )


def stage(db, wanted: dict[str, dict[str, str]], mirror: dict[str, dict] | None = None) -> None:
    stage_rows(db, [(hubspot_id, properties, "matched", 100) for hubspot_id, properties in wanted.items()], mirror)


def push(target: str = "hubspot", run_id: str = CONTEXT["run_id"], **options) -> dict:
    options = {"max_requests": 20, "window_seconds": 1.0, "backoff_base": 0.05, "progress_seconds": 0.5, **options}
    operator = PushOperator(
        task_id="push", object_type="companies", push_target=target, dry_run=False, min_confidence=90, **options
    )
    return operator.execute({**CONTEXT, "run_id": run_id})


def ledger(db) -> dict[str, int]:
    return dict(db.execute("select outcome, count(*) from staging.push_log group by outcome").fetchall())


@pytest.mark.parametrize("target", ["hubspot", "workflow"])
def test_faults_are_retried_and_nothing_lands_twice(db, connections, target):
    wanted = updates(700)
    stage(db, wanted)
    with portal(wanted, max_requests=20, window_seconds=1.0, timeout_seconds=0.3) as server:
        connections(server, timeout=0.3)
        server.faults.extend(["429", "500", "timeout_after_apply", "drop_before_apply", "drop_after_apply", "207"])
        summary = push(target)
    rejected = db.execute("select hubspot_id from staging.push_log where outcome = 'rejected'").fetchone()[0]
    assert summary["updates"]["outcomes"] == {"sent": 699, "rejected": 1}
    assert server.records == {key: {} if key == rejected else value for key, value in wanted.items()}
    assert max(server.applied.values()) == 1, "an update was applied twice"
    assert server.limit_violations == 0
    assert server.max_requests_in_any_window() <= 20
    assert summary["confirmed_by_read"] >= 100  # the timeout and the dropped answer were read back, not resent
    assert ledger(db) == {"sent": 699, "rejected": 1}
    statuses = dict(db.execute("select push_status, count(*) from staging.companies_reconciliation group by 1"))
    assert statuses == {"sent": 699, "rejected": 1}
    reason = db.execute("select error from staging.push_log where outcome = 'rejected'").fetchone()[0]
    assert reason.startswith("VALIDATION_ERROR: Property values were not valid")


def test_a_confirmed_payload_is_never_sent_again(db, connections):
    wanted = updates(150)
    stage(db, wanted)
    with portal(wanted) as server:
        connections(server)
        push()
        again = push()
    assert again["updates"]["selected"] == 0
    assert len(server.update_bodies) == 2


def test_only_pushable_rows_are_sent(db, connections):
    city = {"city": "Grenoble"}
    stage_rows(
        db,
        [
            ("101", city, "matched", 100),
            ("102", city, "matched", 80),
            ("103", city, "conflict", 100),
            ("104", city, "probable", 99),
            ("105", city, "new", 0),
        ],
    )
    with FakeCrm(seed={"companies": {str(n): {"name": f"Company {n}"} for n in range(101, 106)}}) as server:
        connections(server)
        push()
    # Below min_confidence, conflicts and (by default) probable wait; "new" has no record to update.
    assert {key for key, record in server.records.items() if record.get("city")} == {"101"}


def test_dry_run_records_and_sends_nothing(db, connections):
    wanted = updates(30)
    stage(db, wanted)
    with portal(wanted) as server:
        connections(server)
        summary = PushOperator(
            task_id="push", object_type="companies", push_target="hubspot", dry_run=True, min_confidence=90
        ).execute(CONTEXT)
    assert summary == {
        "dry_run": 30,
        "dry_run_creations": 0,
        "dry_run_associations": 0,
        "reason": "the dry_run param is on",
    }
    assert server.update_bodies == []
    assert ledger(db) == {"dry_run": 30}


def test_a_missing_connection_means_a_dry_run(db, monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_HUBSPOT_API", raising=False)
    stage(db, updates(5))
    summary = PushOperator(
        task_id="push", object_type="companies", push_target="hubspot", dry_run=False, min_confidence=90
    ).execute(CONTEXT)
    assert summary["dry_run"] == 5
    assert summary["reason"] == "connection 'hubspot_api' is not defined"


KILLABLE = """
import sys
from datetime import UTC, datetime
from crm_reconciliation.operators.push import PushOperator
PushOperator(task_id="push", object_type="companies", push_target="hubspot", dry_run=False, min_confidence=90,
             max_requests=50, window_seconds=1.0).execute(
    {"run_id": sys.argv[1], "logical_date": datetime(2026, 3, 1, tzinfo=UTC), "dag_run": None})
"""


def test_a_killed_push_resumes_without_duplicates(db, connections):
    wanted = updates(3000)
    stage(db, wanted)
    with portal(wanted, max_requests=50, window_seconds=1.0, latency_seconds=0.05) as server:
        connections(server, timeout=5)
        kill_mid_run(KILLABLE, "first_try", lambda: len(server.update_bodies) >= 8)
        applied_before = len(server.applied)
        assert 0 < applied_before < len(wanted)
        sent_before = db.execute("select count(*) from staging.push_log where outcome = 'sent'").fetchone()[0]
        summary = PushOperator(
            task_id="push",
            object_type="companies",
            push_target="hubspot",
            dry_run=False,
            min_confidence=90,
            max_requests=50,
            window_seconds=1.0,
        ).execute({**CONTEXT, "run_id": "second_try"})
    assert server.records == wanted
    assert max(server.applied.values()) == 1, "an update was applied twice"
    # Confirmed payloads are not selected again; an in-flight batch is read back before any re-send.
    assert summary["updates"]["selected"] == len(wanted) - sent_before
    assert ledger(db).get("in_flight", 0) == 0
