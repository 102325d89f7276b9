"""Creations (batch/upsert on the legacy id) and associations (v4) against the strict stand-in.

The stand-in enforces unique legacy ids and counts every record it creates, so a second
record for one legacy id, or an association sent twice, shows.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from crm_reconciliation.config.registry import default_registry
from crm_reconciliation.operators.push import PushOperator
from crm_reconciliation_dev.fake_hubspot import FakeCrm
from tests.helpers import create_staging, insert_rows, kill_mid_run
from tests.hubspot_spec import validate_all

pytestmark = pytest.mark.integration

REGISTRY = default_registry()
CONTEXT = {"run_id": "create_test", "logical_date": datetime(2026, 3, 1, tzinfo=UTC), "dag_run": None}
KILLABLE = """
import sys
from datetime import UTC, datetime
from crm_reconciliation.operators.push import PushOperator
PushOperator(task_id="push", object_type="companies", push_target="hubspot", dry_run=False, min_confidence=90,
             create_missing=True, max_requests=50, window_seconds=1.0).execute(
    {"run_id": sys.argv[1], "logical_date": datetime(2026, 3, 1, tzinfo=UTC), "dag_run": None})
"""


def stage_new_companies(db, count: int) -> None:
    create_staging(db, REGISTRY.get("companies"))
    insert_rows(
        db,
        "staging.companies_reconciliation",
        [
            {
                "legacy_company_id": n,
                "reconciliation_status": "new",
                "api_object": "companies",
                "legacy_properties": json.dumps({"name": f"Société {n}", "city": "Grenoble", "createdate": "2019"}),
            }
            for n in range(1, count + 1)
        ],
    )


def push(**options) -> dict:
    options = {"max_requests": 50, "window_seconds": 1.0, "backoff_base": 0.05, **options}
    return PushOperator(
        task_id="push", object_type="companies", push_target="hubspot", min_confidence=90, **options
    ).execute(CONTEXT)


def holders(server: FakeCrm) -> dict[str, int]:
    counts: dict[str, int] = {}
    for properties in server.objects["companies"].values():
        legacy = properties.get("icalps_company_id")
        counts[legacy] = counts.get(legacy, 0) + 1
    return counts


def test_new_records_are_created_once_with_their_legacy_id_and_the_id_is_kept(db, connections):
    stage_new_companies(db, 250)
    with FakeCrm() as server:
        connections(server)
        server.faults.extend(["drop_after_apply", "500"])  # applied, answer lost; then a 5xx
        summary = push(dry_run=False, create_missing=True)
        again = push(dry_run=False, create_missing=True)
    assert summary["creations"]["outcomes"]["sent"] == 250
    assert holders(server) == {str(n): 1 for n in range(1, 251)}  # the replayed upsert updated its record
    assert server.created["companies"] == 250
    assert "createdate" not in server.objects["companies"][next(iter(server.objects["companies"]))]  # read-only
    assert again["creations"]["selected"] == 0
    kept = dict(db.execute("select legacy_company_id, hubspot_company_id from staging.companies_reconciliation"))
    by_legacy = {props["icalps_company_id"]: record for record, props in server.objects["companies"].items()}
    assert kept == {n: by_legacy[str(n)] for n in range(1, 251)}
    ledger = dict(
        db.execute("select legacy_id, hubspot_id from staging.push_log where action = 'create' and outcome = 'sent'")
    )
    assert ledger == kept
    validate_all(server)


def test_a_dry_run_counts_the_creations_and_sends_nothing(db, connections):
    stage_new_companies(db, 30)
    with FakeCrm() as server:
        connections(server)
        summary = push(dry_run=True, create_missing=True)
    assert (summary["dry_run"], summary["dry_run_creations"]) == (0, 30)
    assert server.requests == []


def test_creations_wait_for_the_param(db, connections):
    stage_new_companies(db, 5)
    with FakeCrm() as server:
        connections(server)
        summary = push(dry_run=False, create_missing=False)
    assert "creations" not in summary
    assert server.created["companies"] == 0


def test_a_killed_creation_push_resumes_without_a_second_record(db, connections):
    stage_new_companies(db, 2000)
    with FakeCrm(max_requests=50, window_seconds=1.0, latency_seconds=0.05) as server:
        connections(server, timeout=5)
        confirmed = "select count(*) from staging.push_log where run_id = 'first_try' and outcome = 'sent'"

        def mid_run() -> bool:
            # Killed once HubSpot holds 500 and the ledger has confirmed some (on a loaded machine
            # the ledger lags the server: a kill before any confirmation leaves nothing to skip).
            return server.created["companies"] >= 500 and db.execute(confirmed).fetchone()[0] > 0

        kill_mid_run(KILLABLE, "first_try", mid_run)
        assert 0 < server.created["companies"] < 2000
        sent_before = db.execute(confirmed).fetchone()[0]
        assert sent_before > 0
        summary = PushOperator(
            task_id="push",
            object_type="companies",
            push_target="hubspot",
            dry_run=False,
            min_confidence=90,
            create_missing=True,
            max_requests=50,
            window_seconds=1.0,
        ).execute({**CONTEXT, "run_id": "second_try"})
    assert holders(server) == {str(n): 1 for n in range(1, 2001)}
    assert server.created["companies"] == 2000
    assert summary["creations"]["selected"] == 2000 - sent_before  # what the first try confirmed is not sent again
    assert db.execute("select count(*) from staging.push_log where outcome = 'in_flight'").fetchone()[0] == 0


def test_associations_are_read_first_and_created_with_the_default_and_primary_types(db, connections):
    contacts = REGISTRY.get("contacts")
    create_staging(db, REGISTRY.get("companies"))
    create_staging(db, contacts)
    insert_rows(
        db,
        "staging.companies_reconciliation",
        [
            {"legacy_company_id": n, "hubspot_company_id": str(100 + n), "reconciliation_status": "matched"}
            for n in (1, 2, 3)
        ],
    )
    insert_rows(
        db,
        "staging.contacts_reconciliation",
        [
            {
                "legacy_contact_id": n,
                "hubspot_contact_id": str(200 + n),
                "reconciliation_status": status,
                "api_object": "contacts",
                "legacy_references": json.dumps({"associatedcompanyid": company}),
            }
            for n, status, company in ((1, "matched", 1), (2, "matched", 2), (3, "conflict", 3), (4, "matched", 9))
        ],
    )
    seed = {
        "companies": {str(100 + n): {"icalps_company_id": str(n)} for n in (1, 2, 3)},
        "contacts": {str(200 + n): {"icalps_contact_id": str(n)} for n in (1, 2, 3, 4)},
    }
    with FakeCrm(seed=seed) as server:
        connections(server)
        for type_id in (279, 1):  # contact 201 already has its company, as its primary one too
            server.associations.add(("contacts", "201", "companies", "101", type_id))
            server.associations.add(("companies", "101", "contacts", "201", 280 if type_id == 279 else 2))
        summary = PushOperator(
            task_id="push", object_type="contacts", push_target="hubspot", dry_run=False, min_confidence=90
        ).execute(CONTEXT)
        again = PushOperator(
            task_id="push", object_type="contacts", push_target="hubspot", dry_run=False, min_confidence=90
        ).execute({**CONTEXT, "run_id": "again"})
    # 1 existed, 2 is created; the conflict and the company nobody has (legacy 9) wait.
    assert summary["associations"]["outcomes"] == {"exists": 1, "created": 1}
    assert {("contacts", "202", "companies", "102", 279), ("contacts", "202", "companies", "102", 1)} <= (
        server.associations
    )
    assert not any(link[1] in ("203", "204") for link in server.associations)
    assert again["associations"]["selected"] == 0
    rows = db.execute(
        "select to_id, type_ids, outcome from staging.push_associations where run_id = %s order by to_id",
        ("create_test",),
    ).fetchall()
    assert rows == [("101", [279, 1], "exists"), ("102", [279, 1], "created")]
    validate_all(server)
