"""Issue 14's guarantees against the strict local portal: a refused batch is split, a payload
refused twice is quarantined, what landed is verified, and a run is undone exactly once."""

from __future__ import annotations

import json
import os
import re
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest

from crm_reconciliation.config.registry import default_registry
from crm_reconciliation.operators.push import PushOperator
from crm_reconciliation.operators.revert import RevertOperator
from crm_reconciliation_dev.fake_hubspot import FakeCrm
from tests.helpers import PROJECT_ROOT, create_staging, insert_rows, kill_mid_run, run_command
from tests.integration.test_push import portal, stage
from tests.integration.test_push import push as push_companies

pytestmark = pytest.mark.integration

REGISTRY = default_registry()
CONTEXT = {"logical_date": datetime(2026, 3, 1, tzinfo=UTC), "dag_run": None}


def push(run_id: str, **options) -> dict:
    """test_push's push to HubSpot, 50 requests a second unless told, as run ``run_id``."""
    return push_companies("hubspot", run_id, **{"max_requests": 50, **options})


def revert(run_id: str, reverted: str, dry_run: bool = False, **options) -> dict:
    operator = RevertOperator(
        task_id="revert",
        object_type="companies",
        revert_run_id=reverted,
        dry_run=dry_run,
        archive_created=False,
        **{"max_requests": 50, "window_seconds": 1.0, **options},
    )
    return operator.execute({**CONTEXT, "run_id": run_id})


def report_page(run_id: str, monkeypatch, tmp_path) -> str:
    """The run's report page as the report task writes it."""
    from crm_reconciliation.operators.report import ReportOperator

    monkeypatch.setenv("CRM_RECON_REPORTS_DIR", str(tmp_path))
    summary = ReportOperator(task_id="report", object_type="companies").execute({**CONTEXT, "run_id": run_id})
    return Path(summary["path"]).read_text(encoding="utf-8")


def revert_from_the_shell(reverted: str) -> dict:
    """``python -m crm_reconciliation revert companies <run>`` (a dry run): its printed summary."""
    environment = dict(os.environ)  # no PYTHONPATH: the command is installed
    result = run_command(
        [sys.executable, "-m", "crm_reconciliation", "revert", "companies", reverted],
        cwd=PROJECT_ROOT,
        env=environment,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    start = max(number for number, line in enumerate(lines) if line == "{")  # the summary, after any log lines
    return json.loads("\n".join(lines[start:]))


def ledger(db, run_id: str) -> dict[str, int]:
    rows = db.execute("select outcome, count(*) from staging.push_log where run_id = %s group by 1", [run_id])
    return dict(rows.fetchall())


def with_bad_values(count: int, bad: set[int]) -> dict[str, dict[str, str]]:
    """``count`` updates of valid values (the push holds back what it can tell a portal refuses)."""
    return {str(7000 + n): {"city": f"Ville {n}", "numberofemployees": str(10 + n)} for n in range(count)}


def portal_without(wanted: dict[str, dict[str, str]], gone: set[int]) -> FakeCrm:
    """A portal holding the records ``wanted`` updates but those numbered in ``gone``: deleted in
    HubSpot since the mirror was read, what no check before sending can know (OBJECT_NOT_FOUND)."""
    return portal({key: value for key, value in wanted.items() if int(key) - 7000 not in gone})


def test_three_invalid_inputs_among_a_hundred(db, connections, monkeypatch, tmp_path):
    wanted = with_bad_values(100, {5, 42, 77})
    stage(db, wanted)
    with portal_without(wanted, {5, 42, 77}) as server:
        connections(server)
        # 3 % refused is over the 2 % allowed: the task fails, after sending the other 97.
        with pytest.raises(RuntimeError, match=r"HubSpot refused 3 of 100 payloads"):
            push("first")
        with pytest.raises(RuntimeError, match=r"HubSpot refused 3 of 3 payloads"):
            push("second")  # the same three, refused again with the same error: quarantined
        third = push("third")
    valid = {key: value for key, value in wanted.items() if key not in ("7005", "7042", "7077")}
    assert {key: server.records[key] for key in valid} == valid
    assert not set(server.records) - set(valid)
    assert max(server.applied.values()) == 1
    assert ledger(db, "first") == {"sent": 97, "rejected": 3}
    errors = db.execute(
        "select hubspot_id, error from staging.push_log where run_id = 'first' and outcome = 'rejected' order by 1"
    ).fetchall()
    assert [hubspot_id for hubspot_id, _ in errors] == ["7005", "7042", "7077"]
    assert all("OBJECT_NOT_FOUND" in error for _, error in errors), errors
    assert ledger(db, "second") == {"rejected": 3}
    details = db.execute(
        "select details from staging.reconciliation_log where run_id = 'second' and step = 'push'"
    ).fetchone()[0]
    assert details["quarantined_now"] == 3
    assert third["updates"]["selected"] == 0  # quarantined payloads are not sent again
    quarantined = db.execute("select hubspot_id, refusals from staging.push_quarantine order by 1").fetchall()
    assert quarantined == [("7005", 2), ("7042", 2), ("7077", 2)]
    page = report_page("third", monkeypatch, tmp_path)
    assert "3 payloads HubSpot refused with the same error on two runs running" in page
    rows = re.findall(r"<tr><td class=\"num\">\d+</td><td>(\d+)</td><td>([^<]*)</td>", page)
    assert [hubspot_id for hubspot_id, _ in rows] == ["7005", "7042", "7077"]
    assert all("OBJECT_NOT_FOUND" in reason for _, reason in rows)  # each with HubSpot's reason


def test_a_quarantined_payload_is_sent_again_once_its_content_changes(db, connections):
    wanted = with_bad_values(10, {3})
    stage(db, wanted)
    with portal_without(wanted, {3}) as server:
        connections(server)
        for run_id in ("first", "second"):
            push(run_id, max_refused_share=1.0)
        assert db.execute("select count(*) from staging.push_quarantine").fetchone()[0] == 1
        server.seed("companies", {"7003": {}})  # restored in HubSpot, and the legacy record corrected
        fixed = {"city": "Ville 3", "numberofemployees": "14"}
        db.execute(
            "update staging.companies_reconciliation set properties_to_update = %s where hubspot_company_id = '7003'",
            [json.dumps(fixed)],
        )
        summary = push("third")
    assert summary["updates"]["outcomes"] == {"sent": 1}
    assert server.records["7003"] == fixed


def reads_and_writes(server: FakeCrm) -> tuple[int, int]:
    """How many batch/read and batch/update requests of companies the portal answered."""
    paths = [path for _, path, _, _ in server.requests if "/objects/" in path and "/companies/batch/" in path]
    return sum(path.endswith("/batch/read") for path in paths), sum(path.endswith("/batch/update") for path in paths)


def test_verify_every_reads_back_and_flags_a_value_changed_behind_our_back(db, connections, monkeypatch, tmp_path):
    wanted = with_bad_values(20, set())
    stage(db, wanted)
    with portal(wanted) as server:
        connections(server)
        summary = push("run", verify="every")
        assert summary["verification"]["outcomes"] == {"verified": 20}
        assert reads_and_writes(server) == (1, 1)  # the write, and its read-back
        server.edit("companies", "7004", {"city": "Grenoble"})
        again = push("run", verify="every")  # the same run again: nothing to send, its writes read back once more
    assert again["updates"]["selected"] == 0
    assert again["verification"]["outcomes"] == {"verified": 19, "mismatch": 1}
    found = db.execute(
        "select hubspot_id, verification, verified_values from staging.push_log"
        " where run_id = 'run' and verification = 'mismatch'"
    ).fetchall()
    assert found == [("7004", "mismatch", {"city": "Grenoble"})]
    page = report_page("run", monkeypatch, tmp_path)
    counts = dict(re.findall(r"<tr><td>(verified|mismatch)</td><td class=\"num\">(\d+)</td></tr>", page))
    assert counts == {"verified": "19", "mismatch": "1"}
    assert "Grenoble" in page


def before_and_after(count: int) -> tuple[dict[str, dict[str, str]], dict[str, dict[str, str]]]:
    """What the portal holds before the push (record 0 has no industry yet), and what the push writes."""
    before = {
        str(8000 + n): {"city": f"Ancienne {n}", **({"industry": "SEMICONDUCTORS"} if n else {})} for n in range(count)
    }
    pushed = {key: {"city": f"Nouvelle {n}", "industry": "AVIATION_AEROSPACE"} for n, key in enumerate(before)}
    return before, pushed


def test_a_revert_restores_the_previous_values_and_skips_what_was_edited_since(db, connections):
    before, pushed = before_and_after(30)
    stage(db, pushed, mirror=before)
    with FakeCrm(seed={"companies": before}) as server:
        connections(server)
        push("push_run")
        assert all(server.records[key] == value for key, value in pushed.items())
        assert reads_and_writes(server) == (0, 1)  # verify=mirror: the writes alone
        stored = db.execute(
            "select before_values from staging.push_log where hubspot_id = '8001' and run_id = 'push_run'"
        ).fetchone()[0]
        assert stored == {"city": "Ancienne 1", "industry": "SEMICONDUCTORS"}  # what the mirror held
        server.edit("companies", "8007", {"city": "Édité à la main"})
        plan = revert_from_the_shell("push_run")
        assert server.records["8002"] == pushed["8002"]  # a dry run sends nothing
        summary = revert("revert_run", "push_run")
        again = revert("revert_again", "push_run")
    assert plan["revert"]["outcomes"] == {"dry_run": 30}
    assert summary["revert"]["outcomes"] == {"sent": 30}
    assert again["revert"]["selected"] == 0  # never twice
    for key, value in before.items():
        expected = {"city": value["city"], "industry": value.get("industry", "")}
        if key == "8007":
            expected["city"] = "Édité à la main"  # edited after the push: left as it is
        assert server.records[key] == expected, key
    skipped = db.execute(
        "select skipped from staging.push_log where run_id = 'revert_run' and skipped is not null"
    ).fetchall()
    assert len(skipped) == 1
    assert skipped[0][0]["city"]["now"] == "Édité à la main"
    assert skipped[0][0]["city"]["source"] == "CRM_UI"
    assert summary["verification"]["outcomes"] == {"verified": 30}


def test_a_revert_restores_from_history_what_hubspot_held_when_the_mirror_was_stale(db, connections):
    """The mirror was read before a person changed the records in HubSpot, and the push ran on it:
    the revert puts back what HubSpot held just before the write (its history), not the mirror's."""
    before, pushed = before_and_after(20)
    stage(db, pushed, mirror=before)  # the mirror as it was read
    with FakeCrm(seed={"companies": before}) as server:
        connections(server)
        for n in range(0, 20, 2):  # after the mirror was read, before the push
            server.edit("companies", str(8000 + n), {"city": f"Corrigée {n}"})
        held_at_push = {key: dict(server.records[key]) for key in before}
        push("push_run")
        summary = revert("revert_run", "push_run")
    assert summary["revert"]["outcomes"] == {"sent": 20}
    for key, held in held_at_push.items():
        assert server.records[key] == {"city": held["city"], "industry": held.get("industry", "")}, key
    stale = db.execute(
        "select before_values ->> 'city' from staging.push_log where run_id = 'push_run' and hubspot_id = '8002'"
    ).fetchone()[0]
    assert stale == "Ancienne 2"  # the ledger kept the mirror's value; the history knew better
    assert server.records["8002"]["city"] == "Corrigée 2"


KILLABLE_REVERT = """
import sys
from datetime import UTC, datetime
from pathlib import Path
from crm_reconciliation.operators.revert import RevertOperator
RevertOperator(task_id="revert", object_type="companies", revert_run_id="push_run", dry_run=False,
               archive_created=False, max_requests=40, window_seconds=1.0, concurrency=2).execute(
    {"run_id": sys.argv[1], "logical_date": datetime(2026, 3, 1, tzinfo=UTC), "dag_run": None})
"""


def test_a_revert_killed_mid_run_and_rerun_restores_everything_once(db, connections):
    before, pushed = before_and_after(2000)
    stage(db, pushed)
    with FakeCrm(seed={"companies": before}, latency_seconds=0.05) as server:
        connections(server, timeout=5)
        push("push_run", max_requests=100)
        writes_before = len(server.update_bodies)
        kill_mid_run(KILLABLE_REVERT, "killed_revert", lambda: len(server.update_bodies) >= writes_before + 4)
        restored_by_the_killed_run = len(server.update_bodies) - writes_before
        assert 0 < restored_by_the_killed_run < 20
        summary = revert("revert_resumed", "push_run")
    for key, value in before.items():
        assert server.records[key] == {"city": value["city"], "industry": value.get("industry", "")}, key
    assert max(server.applied.values()) == 1, "a restore was applied twice"
    done = db.execute(
        "select count(distinct revert_of) from staging.push_log where action = 'revert' and outcome = 'sent'"
    ).fetchone()[0]
    assert done == 2000
    assert db.execute("select count(*) from staging.push_log where outcome = 'in_flight'").fetchone()[0] == 0
    assert summary["revert"]["selected"] < 2000  # what the killed run confirmed is not selected again


def test_two_objects_pushing_at_once_share_one_limit(db, connections):
    companies = with_bad_values(500, set())
    contacts = {str(9000 + n): {"city": f"Ville {n}"} for n in range(500)}
    stage(db, companies)
    spec = REGISTRY.get("contacts")
    create_staging(db, spec)
    insert_rows(
        db,
        f"staging.{spec.staging_table}",
        [
            {
                spec.legacy_key: n,
                spec.hubspot_key: hubspot_id,
                "reconciliation_status": "matched",
                "match_confidence": 100,
                "properties_to_update": json.dumps(properties),
            }
            for n, (hubspot_id, properties) in enumerate(contacts.items(), start=1)
        ],
    )
    seed = {name: {key: {} for key in ids} for name, ids in (("companies", companies), ("contacts", contacts))}
    with FakeCrm(seed=seed, max_requests=10, window_seconds=1.0, latency_seconds=0.05) as server:
        connections(server)
        options = {"max_requests": 10, "window_seconds": 1.0, "dry_run": False, "push_target": "hubspot"}
        operators = [
            PushOperator(task_id="push", object_type=name, min_confidence=90, **options)
            for name in ("companies", "contacts")
        ]
        with ThreadPoolExecutor(2) as pool:  # two tasks at once, each with its own database connections
            summaries = list(
                pool.map(
                    lambda operator, run_id: operator.execute({**CONTEXT, "run_id": run_id}),
                    operators,
                    ["companies_run", "contacts_run"],
                )
            )
    assert [s["updates"]["outcomes"] for s in summaries] == [{"sent": 500}, {"sent": 500}]
    assert server.limit_violations == 0
    assert server.max_requests_in_any_window() <= 10


def test_the_daily_quota_stops_the_push_cleanly_and_the_next_run_resumes(db, connections):
    wanted = with_bad_values(1000, set())
    stage(db, wanted)
    with portal(wanted, daily_limit=8) as server:
        connections(server)
        first = push("day_one")
        assert first["stopped"].startswith("HubSpot's daily")
        assert 0 < first["updates"]["outcomes"].get("sent", 0) < 1000
        assert first["updates"]["waiting"] > 0
        assert db.execute("select count(*) from staging.push_log where outcome = 'in_flight'").fetchone()[0] == 0
        server.reset_daily()  # a new day, for HubSpot and for the quota the database remembers
        db.execute("update staging.api_limits set daily_seen_at = daily_seen_at - interval '1 day'")
        server.daily_limit = None
        second = push("day_two")
    assert "stopped" not in second
    assert server.records == wanted
    assert max(server.applied.values()) == 1
