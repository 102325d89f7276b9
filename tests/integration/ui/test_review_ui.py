"""The review page and the approval gate in the real Airflow UI (the README's UI command).

Headless Chromium logs in to Airflow, opens "CRM review" from the navigation, records "same" on
a probable twin and "different" on a conflict; the next run matches and pushes the first and
never proposes the second. A decision cannot be recorded without an Airflow session or from
another site. The approval gate is answered through Airflow's API: approve → the push runs;
reject → the run ends green with nothing sent.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from crm_reconciliation.config.paths import PROJECT_ROOT
from crm_reconciliation.config.registry import default_registry
from crm_reconciliation.review import queue as review
from crm_reconciliation_dev.fake_hubspot import FakeCrm
from tests.helpers import call, running_ui
from tests.integration.dags.test_migration import seed_portal

pytestmark = pytest.mark.integration

REGISTRY = default_registry()
COMPANIES = "crm_reconcile_companies"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@dataclass
class Ui:
    base: str
    token: str
    password: str
    database: str
    portal: FakeCrm

    def trigger(self, dag_id: str, conf: dict) -> str:
        assert call(self.base, "PATCH", f"/api/v2/dags/{dag_id}", self.token, {"is_paused": False})[0] == 200
        status, body = call(
            self.base, "POST", f"/api/v2/dags/{dag_id}/dagRuns", self.token, {"logical_date": None, "conf": conf}
        )
        assert status == 200, body
        return json.loads(body)["dag_run_id"]

    def task_state(self, dag_id: str, run_id: str, task_id: str) -> str | None:
        quoted = run_id.replace("+", "%2B").replace(":", "%3A")
        path = f"/api/v2/dags/{dag_id}/dagRuns/{quoted}/taskInstances/{task_id}"
        return json.loads(call(self.base, "GET", path, self.token)[1]).get("state")

    def wait(self, dag_id: str, run_id: str, seconds: float = 300) -> str:
        """The run's final state; when it is not success, each task's state and the failed ones' logs."""
        quoted = run_id.replace("+", "%2B").replace(":", "%3A")
        runs = f"/api/v2/dags/{dag_id}/dagRuns/{quoted}"
        state, deadline = None, time.monotonic() + seconds
        while state not in ("success", "failed") and time.monotonic() < deadline:
            time.sleep(2)
            state = json.loads(call(self.base, "GET", runs, self.token)[1])["state"]
        if state == "success":
            return state
        tasks = json.loads(call(self.base, "GET", f"{runs}/taskInstances", self.token)[1])["task_instances"]
        said = [f"{state}:"] + [f"{task['task_id']} {task['state']}" for task in tasks]
        for task in tasks:
            if task["state"] == "failed":
                log = call(self.base, "GET", f"{runs}/taskInstances/{task['task_id']}/logs/1", self.token)[1]
                errors = re.findall(r'"exc_value":"[^"]{0,600}|"event":"[^"]*(?:rror|xception)[^"]{0,300}', log)
                said.append(f"--- {task['task_id']}: " + " | ".join(errors[-6:]))
        return "\n".join(said)

    def backfill(self, dag_id: str, day: str, conf: dict) -> str:
        """A backfill of one day: the scheduler starts it beside the DAG's other runs (its own
        max_active_runs), as a catch-up next to the nightly run does."""
        body = {
            "dag_id": dag_id,
            "from_date": f"{day}T00:00:00Z",
            "to_date": f"{day}T23:59:00Z",
            "dag_run_conf": conf,
            "max_active_runs": 1,
            "reprocess_behavior": "none",
        }
        deadline = time.monotonic() + 90
        # The scheduler marks a finished backfill completed a little later; till then it refuses another.
        while (answer := call(self.base, "POST", "/api/v2/backfills", self.token, body))[0] == 409:
            assert time.monotonic() < deadline, answer
            time.sleep(2)
        assert answer[0] == 200, answer
        runs = f"/api/v2/dags/{dag_id}/dagRuns?run_type=backfill&limit=100"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            found = [
                run["dag_run_id"]
                for run in json.loads(call(self.base, "GET", runs, self.token)[1])["dag_runs"]
                if run["logical_date"].startswith(day)
            ]
            if found:
                return found[0]
            time.sleep(1)
        raise AssertionError(f"the backfill of {dag_id} on {day} made no run")

    def wait_task(self, dag_id: str, run_id: str, task_id: str, state: str, seconds: float = 240) -> None:
        deadline = time.monotonic() + seconds
        while (now := self.task_state(dag_id, run_id, task_id)) != state:
            assert time.monotonic() < deadline, f"{task_id} of {run_id} is {now}, never {state}"
            time.sleep(2)

    def answer(self, dag_id: str, run_id: str, option: str) -> None:
        """Wait for approve_push to ask, then answer as a person in "Required actions" does."""
        deadline = time.monotonic() + 240
        while self.task_state(dag_id, run_id, "approve_push") != "awaiting_input":
            assert time.monotonic() < deadline, f"approve_push of {dag_id} never asked"
            time.sleep(2)
        # A person answers seconds later, not within the instant the task process is still
        # exiting: an answer in that instant was seen to fail the resumed task (Airflow 3.3),
        # once even 5 s after it asked, on a loaded CI machine (approve_push failed, no log).
        time.sleep(15)
        quoted = run_id.replace("+", "%2B").replace(":", "%3A")
        path = f"/api/v2/dags/{dag_id}/dagRuns/{quoted}/taskInstances/approve_push/-1/hitlDetails"
        status, body = call(self.base, "PATCH", path, self.token, {"chosen_options": [option]})
        assert status == 200, body


@pytest.fixture(scope="module")
def ui(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("review_ui")
    with FakeCrm() as portal:
        connection = {"conn_type": "http", "host": portal.url.removeprefix("http://"), "schema": "http"}
        environment = {
            "CRM_RECON_REPORTS_DIR": str(tmp / "reports"),
            "AIRFLOW_CONN_HUBSPOT_API": json.dumps(connection | {"password": portal.token}),
            "CRM_RECON_RETRIES": "0",  # a failure shows at once instead of after a retry delay
        }
        with running_ui(environment) as running:
            with psycopg.connect(running.database, autocommit=True) as db:
                for name, records in seed_portal(db).items():  # the portal holds what the mirror shows
                    portal.seed(name, records)
            yield Ui(running.base, running.token, running.password, running.database, portal)


@pytest.fixture(scope="module")
def reviewed_once(ui):
    """A dry run of the companies DAG: the queue the reviewer opens."""
    run_id = ui.trigger(COMPANIES, {"dry_run": True})
    state = ui.wait(COMPANIES, run_id)
    assert state == "success", state
    return run_id


HELD_RUN = "manual__held_values_test"
INDUSTRIES = [f"INDUSTRY_{index:02}" for index in range(20)]
SCRIPT = "<script>alert(1)</script>"


def hold_values(database: str) -> None:
    """Values a push of companies held back, as it records them: 3 records with an industry the
    portal has no option for, 1 with a type that is markup; after every other run's."""
    held = [
        (legacy_id, "industry", "Industrial IoT", "not an option of industry, nor in value_maps", INDUSTRIES)
        for legacy_id in (9001, 9002, 9003)
    ] + [(9004, "type", SCRIPT, "not an option of type, nor in value_maps", ["CUSTOMER", "PARTNER"])]
    with psycopg.connect(database, autocommit=True) as db:
        for legacy_id, property_, value, reason, allowed in held:
            db.execute(
                "insert into staging.push_held_values (object_type, run_id, legacy_id, action, api_object, property,"
                " value, reason, allowed) values ('companies', %s, %s, 'update', 'companies', %s, %s, %s, %s)"
                " on conflict do nothing",
                [HELD_RUN, legacy_id, property_, value, reason, json.dumps(allowed)],
            )
        db.execute("update staging.push_held_values set recorded_at = now() where run_id = %s", [HELD_RUN])


def forget_values(database: str) -> None:
    """Remove them: the other tests' screenshots show the page as the runs left it."""
    with psycopg.connect(database, autocommit=True) as db:
        db.execute("delete from staging.push_held_values where run_id = %s", [HELD_RUN])


def first(database: str, status: str) -> tuple[int, str]:
    with psycopg.connect(database) as db:
        return db.execute(
            "select legacy_company_id, hubspot_company_id from staging.companies_reconciliation"
            " where reconciliation_status = %s and review is null order by held_back desc, 1 limit 1",
            [status],
        ).fetchone()


def test_held_values_answer_nothing_before_any_run_and_need_a_session(ui):
    path = "/crm-review/api/crm_reconcile_deals/held-values"
    status, body = call(ui.base, "GET", path, ui.token)  # before any run: perhaps no staging table yet
    assert status == 200, body
    assert json.loads(body)["rows"] == []
    assert call(ui.base, "GET", path)[0] in (401, 403)
    assert call(ui.base, "GET", "/crm-review/api/no_such_dag/held-values", ui.token)[0] in (403, 404)


def test_held_values_grouped_by_value_from_the_latest_run(ui, reviewed_once):
    hold_values(ui.database)
    try:
        status, body = call(ui.base, "GET", f"/crm-review/api/{COMPANIES}/held-values", ui.token)
    finally:
        forget_values(ui.database)
    assert status == 200, body
    held = json.loads(body)
    assert (held["run_id"], held["total"], held["records"], held["groups"]) == (HELD_RUN, 4, 4, 2)
    industry, markup = held["rows"]  # the most records first
    assert (industry["property"], industry["value"], industry["records"]) == ("industry", "Industrial IoT", 3)
    assert industry["allowed"] == INDUSTRIES[:12]
    assert industry["allowed_total"] == 20
    assert industry["legacy_ids"] == [9001, 9002, 9003]
    assert "value_maps: {industry:" in industry["fix"]
    assert "create_options: true" in industry["fix"]
    assert (markup["value"], markup["records"]) == (SCRIPT, 1)


def test_a_decision_needs_an_airflow_session_and_this_site(ui, reviewed_once):
    legacy_id, twin = first(ui.database, "probable")
    path = f"/crm-review/api/{COMPANIES}/decisions"
    body = {"legacy_id": legacy_id, "hubspot_id": twin, "verdict": "leave_aside"}
    import urllib.error
    import urllib.request

    def post(headers: dict[str, str]) -> int:
        request = urllib.request.Request(ui.base + path, method="POST", data=json.dumps(body).encode())  # noqa: S310
        for name, value in {"Content-Type": "application/json", **headers}.items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - our own 127.0.0.1 server
                return response.status
        except urllib.error.HTTPError as error:
            return error.code

    host = ui.base.removeprefix("http://")
    assert post({"X-CRM-Review": "1"}) in (401, 403)  # no session
    session = {"Cookie": f"_token={ui.token}", "X-CRM-Review": "1"}
    assert post({**session, "Origin": "https://attacker.example"}) == 403
    assert post({"Cookie": f"_token={ui.token}", "Origin": f"http://{host}"}) == 403  # not from the page
    with psycopg.connect(ui.database) as db:
        assert db.execute("select count(*) from staging.review_decisions").fetchone()[0] == 0


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (make test installs it)")
def test_review_in_the_browser_then_the_next_run_applies_it(ui, reviewed_once, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    probable_id, twin = first(ui.database, "probable")
    conflict_id, linked = first(ui.database, "conflict")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(ui.base + "/")
        page.fill("input[name=username]", "admin")
        page.fill("input[name=password]", ui.password)
        page.keyboard.press("Enter")
        page.get_by_role("link", name="CRM review").first.click()
        frame = page.frame_locator("iframe")
        expect(frame.locator("#who")).to_contain_text("reviewing as admin", timeout=60_000)

        frame.locator("#search").fill(str(probable_id))
        frame.locator("#search").press("Enter")
        frame.locator(f'tr[data-legacy-id="{probable_id}"]').click()
        expect(frame.locator("#detail h2")).to_contain_text(f"Legacy {probable_id}")
        # A probable twin shows the identity evidence it needed (a company: its name or its domain).
        expect(frame.locator("#identity")).to_contain_text("Identity evidence: yes (one of name, domain agrees)")
        page.screenshot(path=str(tmp_path / "review-page.png"))
        frame.locator("#identity").scroll_into_view_if_needed()
        page.screenshot(path=str(tmp_path / "review-identity.png"))
        frame.locator("button[data-verdict=same]").click()
        expect(frame.locator(".message.ok")).to_contain_text(f"Recorded: same for legacy {probable_id}")

        frame.locator("#search").fill(str(conflict_id))
        frame.locator("#search").press("Enter")
        frame.locator(f'tr[data-legacy-id="{conflict_id}"]').click()
        expect(frame.locator("#detail h2")).to_contain_text(f"Legacy {conflict_id}")
        frame.locator("body").press("d")  # the keyboard shortcut
        expect(frame.locator(".message.ok")).to_contain_text(f"Recorded: different for legacy {conflict_id}")

        # A push held values back: the page lists them by value, above the queue, once reloaded.
        hold_values(ui.database)
        page.reload()
        frame = page.frame_locator("iframe")
        held = frame.locator("#held")
        expect(held.locator("summary")).to_contain_text("4 values of 4 records held back by run " + HELD_RUN)
        expect(held.locator("tr.held-value")).to_have_count(2)
        industry, markup = held.locator("tr.held-value").first, held.locator("tr.held-value").nth(1)
        expect(industry).to_contain_text("Industrial IoT")
        expect(industry.locator("td.num")).to_contain_text("3legacy 9001, 9002, 9003")
        expect(industry.locator("td.options .option")).to_have_count(12)  # the first 12 of 20
        expect(industry.locator("td.options .more")).to_have_text("… 8 more")
        expect(industry.locator("td.fix")).to_contain_text("create_options: true")
        expect(markup.locator("td.value")).to_have_text(SCRIPT)  # shown as text, never run
        page.screenshot(path=str(tmp_path / "review-held-values.png"))
        held.screenshot(path=str(tmp_path / "review-held-panel.png"))
        forget_values(ui.database)
        browser.close()
    shots = ("review-page.png", "review-identity.png", "review-held-values.png")
    print("screenshot: " + ", ".join(str(tmp_path / name) for name in shots))
    if os.environ.get("CRM_RECON_SCREENSHOTS"):
        shutil.copy(tmp_path / "review-page.png", PROJECT_ROOT / "docs" / "review-page.png")

    run_id = ui.trigger(COMPANIES, {"push_target": "hubspot", "dry_run": False, "require_approval": False})
    state = ui.wait(COMPANIES, run_id)
    assert state == "success", state
    with psycopg.connect(ui.database) as db:
        status, reviewed = db.execute(
            "select reconciliation_status, review from staging.companies_reconciliation where legacy_company_id = %s",
            [probable_id],
        ).fetchone()
        assert status == "matched"
        assert reviewed["reviewer"] == "admin"
        assert {probable_id, conflict_id}.isdisjoint(
            row["legacy_id"] for row in review.queue(db, REGISTRY, "companies", limit=200)["rows"]
        )
    assert ui.portal.objects["companies"][twin]["icalps_company_id"] == str(probable_id)  # pushed: linked for good
    assert ui.portal.objects["companies"][linked].get("icalps_company_id") == str(conflict_id)  # left as it was


def test_the_approval_gate(ui):
    # The first live push of contacts waits; approved, it runs.
    run_id = ui.trigger("crm_reconcile_contacts", {"push_target": "hubspot", "dry_run": False})
    writes_before = len(ui.portal.update_bodies)
    ui.answer("crm_reconcile_contacts", run_id, "Approve")
    state = ui.wait("crm_reconcile_contacts", run_id)
    assert state == "success", state
    assert ui.task_state("crm_reconcile_contacts", run_id, "push") == "success"
    assert len(ui.portal.update_bodies) > writes_before

    # The first live push of deals waits too; rejected, nothing is sent and the run ends green.
    requests_before = len(ui.portal.requests)
    run_id = ui.trigger("crm_reconcile_deals", {"push_target": "hubspot", "dry_run": False})
    ui.answer("crm_reconcile_deals", run_id, "Reject")
    state = ui.wait("crm_reconcile_deals", run_id)
    assert state == "success", state
    assert ui.task_state("crm_reconcile_deals", run_id, "push") == "skipped"
    sent = [path for _, path, _, _ in ui.portal.requests[requests_before:] if "/deals/" in path]
    assert sent == []
    with psycopg.connect(ui.database) as db:
        outcome, message = db.execute(
            "select outcome, message from staging.reconciliation_log where run_id = %s and step = 'push'", [run_id]
        ).fetchone()
    assert outcome == "skipped"
    assert "rejected by admin" in message


def test_one_run_of_an_object_at_a_time(ui):
    """A run waiting for approval holds deals: a backfill beside it fails (when_busy fail) or waits
    (when_busy wait) until the first run's report frees the object; each report is its own run's."""
    deals = "crm_reconcile_deals"
    holder = ui.trigger(deals, {"push_target": "hubspot", "dry_run": False})
    ui.wait_task(deals, holder, "approve_push", "awaiting_input")

    refused = ui.backfill(deals, "2026-03-02", {"when_busy": "fail", "dry_run": True})
    assert ui.wait(deals, refused).startswith("failed"), "the second run did not fail"
    assert ui.task_state(deals, refused, "create_staging") == "failed"
    assert ui.task_state(deals, refused, "load_bronze") == "upstream_failed"

    waiting = ui.backfill(deals, "2026-03-03", {"when_busy": "wait", "dry_run": True})
    ui.wait_task(deals, waiting, "create_staging", "up_for_reschedule")
    assert ui.task_state(deals, waiting, "load_bronze") is None  # nothing of it ran
    ui.answer(deals, holder, "Reject")
    assert ui.wait(deals, holder) == "success"
    assert ui.wait(deals, waiting, seconds=400) == "success"

    with psycopg.connect(ui.database) as db:
        logged = db.execute(
            "select run_id, step, finished_at, details ->> 'path' from staging.reconciliation_log"
            " where object_type = 'deals' and run_id = any(%s)",
            [[holder, refused, waiting]],
        ).fetchall()
        held = db.execute("select run_id from staging.object_runs where object_type = 'deals'").fetchall()
    steps = {(run_id, step): (finished, path) for run_id, step, finished, path in logged}
    assert held == []  # the last report freed it
    assert not any(run_id == refused and step != "report" for run_id, step in steps)  # it wrote nothing
    # The waiting run started after the holder's report, which read only the holder's tables.
    first_of_waiting = min(finished for (run_id, _), (finished, _) in steps.items() if run_id == waiting)
    assert first_of_waiting > steps[(holder, "report")][0]
    pages = {run_id: Path(steps[(run_id, "report")][1]).read_text("utf-8") for run_id in (holder, refused, waiting)}
    assert f"deals is held by run {holder} of {deals}" in pages[refused]
    assert "this run&#39;s steps did not run, and that run&#39;s tables are not shown" in pages[refused]
    for run_id in (holder, waiting):
        assert f"Run {run_id} ·" in pages[run_id]
        assert "is held by run" not in pages[run_id]
        assert 'id="tables-owner"' not in pages[run_id]
        assert 'id="run-failed"' not in pages[run_id]
