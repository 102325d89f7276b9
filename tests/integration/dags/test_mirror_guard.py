"""The mirror guard: a mirror that lost records never turns the records it lost into creations
without a person's approval. Runs of the companies DAG, live, into the strict stand-in; the
sync tool's loss is simulated by deleting rows of the mirror (the portal keeps the records)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from crm_reconciliation.config.registry import default_registry
from tests.integration.dags.test_migration import dags, portal  # noqa: F401 - fixtures

pytestmark = pytest.mark.integration

COMPANIES = default_registry().get("companies")
LIVE = {
    "push_target": "hubspot",
    "dry_run": False,
    "require_approval": False,
    "create_missing": True,
    "create_properties": True,
}


def upserted_legacy_ids(server, since: int) -> set[str]:
    """Legacy ids of every record a creation (batch upsert) sent after request ``since``."""
    found = set()
    for method, path, body, _ in server.requests[since:]:
        if method == "POST" and path.endswith("/batch/upsert"):
            inputs = body["inputs"]
            found |= {str(item["id"]) for item in inputs if item.get("idProperty") == COMPANIES.legacy_id_property}
    return found


def linked(db) -> dict[int, str]:
    """Legacy id → HubSpot id of the records the last run linked: matched, probable or conflict."""
    return dict(
        db.execute(
            f"select {COMPANIES.legacy_key}, {COMPANIES.hubspot_key} from staging.{COMPANIES.staging_table}"
            f" where reconciliation_status in ('matched', 'probable', 'conflict')"
            f" and {COMPANIES.hubspot_key} is not null"
        ).fetchall()
    )


def statuses(db) -> dict[int, str]:
    return dict(
        db.execute(f"select {COMPANIES.legacy_key}, reconciliation_status from staging.{COMPANIES.staging_table}")
    )


def lose_from_mirror(db, hubspot_ids: list[str]) -> None:
    db.execute(f"delete from hubspot.{COMPANIES.hubspot_table} where hs_object_id::text = any(%s)", [hubspot_ids])


def report_of(db, run_id: str) -> str:
    path = db.execute(
        "select details ->> 'path' from staging.reconciliation_log where run_id = %s and step = 'report'", [run_id]
    ).fetchone()[0]
    return Path(path).read_text("utf-8")


def test_a_mirror_that_shrank_creates_nothing_without_approval(db, portal, dags):  # noqa: F811
    companies = dags[COMPANIES.dag_id]
    first = companies.test(run_conf={**LIVE, "create_missing": False})
    assert str(first.state) == "success"
    before = linked(db)
    mirror = [row[0] for row in db.execute(f"select hs_object_id::text from hubspot.{COMPANIES.hubspot_table}")]
    # The sync tool drops 30 % of the mirror, a third of it records the first run linked.
    dropped = sorted(mirror)[: int(len(mirror) * 0.3)]
    lose_from_mirror(db, dropped)
    lost = {legacy for legacy, hubspot in before.items() if hubspot in set(dropped)}
    assert lost, "the scenario must lose linked records"
    sent_before = len(portal.requests)

    second = companies.test(run_conf=LIVE)

    assert str(second.state) == "success"  # held back, listed: not a failure
    now = statuses(db)
    relinked_new = {legacy for legacy in before if now.get(legacy) == "new"}
    assert relinked_new, "the scenario must turn linked records new"
    assert relinked_new <= lost  # only the records whose HubSpot record left the mirror are new now …
    assert upserted_legacy_ids(portal, sent_before) == set()  # … and no creation at all was sent
    check = db.execute(
        "select mirror_records, previous_run_id, previous_records, links_before, lost_links, shrunk"
        " from staging.mirror_checks where object_type = 'companies' and run_id = %s",
        [second.run_id],
    ).fetchone()
    assert check == (len(mirror) - len(dropped), first.run_id, len(mirror), len(before), len(lost), True)
    page = report_of(db, second.run_id)
    assert 'id="mirror-guard"' in page
    assert f"{len(lost):,} of the {len(before):,} HubSpot records the previous run linked are gone" in page
    assert f"{len(relinked_new):,} held back: never created without a person's approval" in page
    assert "It shrank by more than max_drop_rate" in page

    # With the gate on, the same run asks a person, and says why.
    gate = copy.deepcopy(companies.get_task("approve_push"))  # the DAG is the module's: left as it is
    context = {"params": {**companies.params.dump(), **LIVE, "require_approval": True}, "run_id": second.run_id}
    gate.render_template_fields(context)
    counts, reason = gate._counts(context, gate.push_settings(context))
    assert counts["guarded_creations"] >= len(relinked_new)
    assert "the mirror guard: hubspot.companies holds" in (reason or "")
    assert f"{len(lost):,} of the {len(before):,} HubSpot records the previous run linked are gone" in reason


def test_a_small_loss_holds_only_the_records_linked_before(db, portal, dags):  # noqa: F811
    companies = dags[COMPANIES.dag_id]
    first = companies.test(run_conf={**LIVE, "create_missing": False})
    assert str(first.state) == "success"
    before, first_statuses = linked(db), statuses(db)
    # Four matched records and two conflicts leave the mirror: far under max_drop_rate, but
    # legacy records turn new (a conflict's HubSpot record was judged another entity: creating
    # its legacy record by upsert on the legacy id would overwrite that record).
    gone = [legacy for legacy in sorted(before) if first_statuses[legacy] == "matched"][:4]
    gone += [legacy for legacy in sorted(before) if first_statuses[legacy] == "conflict"][:2]
    assert len(gone) == 6, "the scenario must have matched records and conflicts"
    lose_from_mirror(db, [before[legacy] for legacy in gone])
    sent_before = len(portal.requests)

    second = companies.test(run_conf=LIVE)

    assert str(second.state) == "success"
    now = statuses(db)
    turned_new = [legacy for legacy in gone if now[legacy] == "new"]
    assert turned_new, "the scenario must turn a linked record new"
    created = upserted_legacy_ids(portal, sent_before)
    truly_new = {str(legacy) for legacy, status in now.items() if status == "new" and legacy not in before}
    assert truly_new, "the scenario must have records to create"
    assert created == truly_new  # the new records are created, none of those linked before
    page = report_of(db, second.run_id)
    assert {first_statuses[legacy] for legacy in turned_new} == {"matched", "conflict"}
    for legacy in turned_new:
        status = first_statuses[legacy]
        assert f"<td>{legacy}</td><td>{status}</td><td>{before[legacy]}</td><td>gone</td><td>held back</td>" in page


def test_the_guard_holds_until_a_person_decides(db, portal, dags):  # noqa: F811
    """Runs in between (a dry run) do not make the lost links ordinary `new` records, nor does a
    shrink stop counting because the run before already saw the smaller mirror; an approved push
    ends both."""
    companies = dags[COMPANIES.dag_id]
    first = companies.test(run_conf={**LIVE, "create_missing": False})
    assert str(first.state) == "success"
    before = linked(db)
    mirror = [row[0] for row in db.execute(f"select hs_object_id::text from hubspot.{COMPANIES.hubspot_table}")]
    dropped = set(sorted(mirror)[: int(len(mirror) * 0.3)])
    lose_from_mirror(db, sorted(dropped))
    lost = {legacy for legacy, hubspot in before.items() if hubspot in dropped}

    dry = companies.test(run_conf={**LIVE, "dry_run": True})
    assert str(dry.state) == "success"
    pushed = db.execute(
        "select details from staging.reconciliation_log where run_id = %s and step = 'push'", [dry.run_id]
    ).fetchone()[0]
    new_now = [legacy for legacy, status in statuses(db).items() if status == "new"]
    # The dry run says what the guard would hold: with the shrink, every creation.
    assert (pushed["dry_run_creations"], pushed["guarded_creations"]) == (0, len(new_now))
    sent_before = len(portal.requests)

    third = companies.test(run_conf=LIVE)

    assert str(third.state) == "success"
    assert upserted_legacy_ids(portal, sent_before) == set()  # still nothing created
    check = db.execute(
        "select previous_run_id, previous_records, shrunk, carried_links from staging.mirror_checks"
        " where object_type = 'companies' and run_id = %s",
        [third.run_id],
    ).fetchone()
    still_new = {legacy for legacy in lost if statuses(db)[legacy] == "new"}
    assert still_new, "the scenario must keep records new"
    assert check == (first.run_id, len(mirror), True, len(still_new))  # measured against the size before
    page = report_of(db, third.run_id)
    assert f"{len(still_new):,} records the guard held in an earlier run are still held" in page
    assert "None sent: the mirror guard held" in page

    # A person approves the third run's push: the shrink and the links it held are settled.
    db.execute(
        'update staging.reconciliation_log set details = details || \'{"approved": true, "by": "admin"}\''
        " where run_id = %s and step = 'approve_push'",
        [third.run_id],
    )
    fourth = companies.test(run_conf={**LIVE, "dry_run": True})
    assert str(fourth.state) == "success"
    check = db.execute(
        "select previous_run_id, previous_records, shrunk, carried_links from staging.mirror_checks"
        " where object_type = 'companies' and run_id = %s",
        [fourth.run_id],
    ).fetchone()
    assert check == (third.run_id, len(mirror) - len(dropped), False, 0)
