"""Every page of the plugin before the first run, on the database a fresh ``make airflow`` starts
with (the demo mirror, no staging schema, no report): the review and report pages say there is
nothing yet and which DAG to trigger, in the browser; every other endpoint answers a clear page,
never a server error. Then the same once one object's DAG has run and the others have not.
"""

from __future__ import annotations

import json
import shutil
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from crm_reconciliation.config.registry import default_registry
from tests.helpers import create_staging, running_ui

pytestmark = pytest.mark.integration

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
REVIEW_COMPANIES = (
    "Nothing to review for companies yet: the DAG crm_reconcile_companies has not run. "
    "Trigger crm_reconcile_companies in Airflow; the conflicts and probable twins of its run then appear here."
)
REVIEW_CONTACTS = (
    "Nothing to review for contacts yet: the DAG crm_reconcile_contacts has not run. "
    "Trigger crm_reconcile_contacts in Airflow; the conflicts and probable twins of its run then appear here."
)
REPORT_COMPANIES = (
    "No report for companies yet: the DAG crm_reconcile_companies has not finished a run. "
    "Trigger crm_reconcile_companies in Airflow; its report task writes the report shown here when the run ends."
)
REPORT_CONTACTS = (
    "No report for contacts yet: the DAG crm_reconcile_contacts has not finished a run. "
    "Trigger crm_reconcile_contacts in Airflow; its report task writes the report shown here when the run ends."
)
A_CSV = "legacy_id,hubspot_id,verdict\r\n1,2,same\r\n"
JSON = {"Content-Type": "application/json"}


@dataclass
class Fresh:
    base: str
    token: str
    password: str
    database: str
    reports: Path

    def request(
        self, method: str, path: str, body: str | None = None, headers: dict[str, str] | None = None, token: bool = True
    ) -> tuple[int, str, str]:
        """(status, content type, body text) of one request as the review page's script sends it."""
        request = urllib.request.Request(  # noqa: S310 - our own 127.0.0.1 server
            self.base + path, method=method, data=None if body is None else body.encode()
        )
        for name, value in {"X-CRM-Review": "1", **(headers or {})}.items():
            request.add_header(name, value)
        if token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - our own 127.0.0.1 server
                return response.status, response.headers.get("content-type", ""), response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.headers.get("content-type", ""), error.read().decode()

    def detail(self, method: str, path: str, body: str | None = None, content_type: str = "application/json"):
        status, _, text = self.request(method, path, body, {"Content-Type": content_type})
        return status, json.loads(text)["detail"]


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    reports = tmp_path_factory.mktemp("fresh") / "reports"
    with running_ui({"CRM_RECON_REPORTS_DIR": str(reports)}) as running:
        with psycopg.connect(running.database) as db:
            assert db.execute("select to_regnamespace('staging')").fetchone() == (None,)  # as make airflow starts
        yield Fresh(running.base, running.token, running.password, running.database, reports)


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (make test installs it)")
def test_the_review_and_report_pages_in_the_browser_before_any_run(fresh, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(fresh.base + "/")
        page.fill("input[name=username]", "admin")
        page.fill("input[name=password]", fresh.password)
        page.keyboard.press("Enter")
        page.get_by_role("link", name="CRM review").first.click()
        frame = page.frame_locator("iframe")
        expect(frame.locator("#nothing-yet")).to_have_text(REVIEW_COMPANIES, timeout=60_000)
        expect(frame.locator("#queue")).to_have_text("Nothing yet.")
        expect(frame.locator("#held")).to_be_hidden()
        page.screenshot(path=str(tmp_path / "review-before-first-run.png"))
        frame.locator("#object").select_option("crm_reconcile_contacts")
        expect(frame.locator("#nothing-yet")).to_have_text(REVIEW_CONTACTS)

        response = page.goto(fresh.base + "/crm-reports/crm_reconcile_companies/latest")
        assert response.status == 200
        expect(page.locator("h1")).to_have_text("Reconciliation report of companies")
        expect(page.locator("#message")).to_have_text(REPORT_COMPANIES)
        page.screenshot(path=str(tmp_path / "report-before-first-run.png"))
        page.locator("#open-dag").click()
        expect(page).to_have_url(fresh.base + "/dags/crm_reconcile_companies")
        browser.close()
    shots = ("review-before-first-run.png", "report-before-first-run.png")
    print("screenshot: " + ", ".join(str(tmp_path / name) for name in shots))


def test_every_endpoint_answers_clearly_before_any_run(fresh):
    review = "/crm-review/api/crm_reconcile_companies"
    status, _, body = fresh.request("GET", f"{review}/queue")
    assert (status, json.loads(body)) == (200, {"total": 0, "rows": [], "nothing_yet": REVIEW_COMPANIES})
    assert fresh.detail("GET", f"{review}/items/1") == (404, REVIEW_COMPANIES)
    assert fresh.request("GET", f"{review}/export.csv") == (404, "text/plain; charset=utf-8", REVIEW_COMPANIES)
    decision = json.dumps({"legacy_id": 1, "hubspot_id": "2", "verdict": "same"})
    assert fresh.detail("POST", f"{review}/decisions", decision) == (404, REVIEW_COMPANIES)
    assert fresh.detail("POST", f"{review}/import", A_CSV, "text/csv") == (404, REVIEW_COMPANIES)
    status, _, body = fresh.request("GET", f"{review}/held-values")
    assert (status, json.loads(body)["rows"]) == (200, [])
    # Authentication and the cross-site rule come first, as before.
    assert fresh.request("GET", f"{review}/queue", token=False)[0] in (401, 403)
    assert fresh.request("POST", f"{review}/decisions", decision, {"X-CRM-Review": "", **JSON})[0] == 403

    reports = "/crm-reports/crm_reconcile_companies"
    status, content_type, html = fresh.request("GET", f"{reports}/latest")
    assert (status, content_type) == (200, "text/html; charset=utf-8")
    assert f'<p id="message" class="message" role="status">{REPORT_COMPANIES}</p>' in html
    status, _, html = fresh.request("GET", f"{reports}/manual__2026-01-01T00%3A00%3A00%2B00%3A00")
    assert status == 404
    assert (
        "No report for run manual__2026-01-01T00:00:00+00:00 of crm_reconcile_companies: its report task has not"
        f" written one (the run has not ended yet, or is not a run of crm_reconcile_companies). {REPORT_COMPANIES}"
    ) in html
    assert fresh.request("GET", f"{reports}/latest", token=False)[0] in (401, 403)

    known = "crm_reconcile_companies, crm_reconcile_contacts, crm_reconcile_deals, crm_reconcile_communications"
    status, _, html = fresh.request("GET", "/crm-reports/crm_reconcile_leads/latest")
    assert status == 404
    assert f"crm_reconcile_leads is not a reconciliation DAG: the reports are those of {known}." in html
    assert fresh.detail("GET", "/crm-review/api/crm_reconcile_leads/queue") == (
        404,
        f"crm_reconcile_leads is not a reconciliation DAG (those are: {known})",
    )


def test_one_dag_has_run_the_others_not(fresh):
    """The staging schema and the companies tables exist, with the companies report (in the
    warehouse; a stale file on the api-server's disk is never served); contacts has neither (its
    DAG has not run): each object's pages say what holds for it."""
    registry = default_registry()
    companies = fresh.reports / "companies"
    companies.mkdir(parents=True)
    (companies / "latest.html").write_text("<p>a file on the api-server's disk</p>", encoding="utf-8")
    with psycopg.connect(fresh.database, autocommit=True) as db:
        create_staging(db, registry.get("companies"))
        db.execute(
            "insert into staging.reports (object_type, run_id, dag_id, html, counts_as_latest)"
            " values ('companies', 'manual__1', 'crm_reconcile_companies', '<p>the companies report</p>', true)"
        )
        try:
            assert db.execute("select to_regclass('staging.contacts_reconciliation')").fetchone() == (None,)
            status, _, body = fresh.request("GET", "/crm-review/api/crm_reconcile_companies/queue")
            assert (status, json.loads(body)) == (200, {"total": 0, "rows": []})
            assert fresh.detail("GET", "/crm-review/api/crm_reconcile_companies/items/1") == (
                404,
                "no legacy record 1",
            )
            status, content_type, csv = fresh.request("GET", "/crm-review/api/crm_reconcile_companies/export.csv")
            assert (status, content_type) == (200, "text/csv; charset=utf-8")
            assert csv.startswith("legacy_id,hubspot_id,status,")

            status, _, body = fresh.request("GET", "/crm-review/api/crm_reconcile_contacts/queue")
            assert (status, json.loads(body)["nothing_yet"]) == (200, REVIEW_CONTACTS)
            assert fresh.detail("GET", "/crm-review/api/crm_reconcile_contacts/items/1") == (404, REVIEW_CONTACTS)
            assert fresh.request("GET", "/crm-review/api/crm_reconcile_contacts/export.csv")[::2] == (
                404,
                REVIEW_CONTACTS,
            )

            status, _, html = fresh.request("GET", "/crm-reports/crm_reconcile_companies/latest")
            assert (status, html) == (200, "<p>the companies report</p>")
            status, _, html = fresh.request("GET", "/crm-reports/crm_reconcile_companies/manual__1")
            assert (status, html) == (200, "<p>the companies report</p>")
            status, _, html = fresh.request("GET", "/crm-reports/crm_reconcile_companies/manual__gone")
            assert status == 404
            assert '<a id="latest" href="latest">The latest report</a>' in html
            assert "has not finished a run" not in html
            status, _, html = fresh.request("GET", "/crm-reports/crm_reconcile_contacts/latest")
            assert status == 200
            assert REPORT_CONTACTS in html
        finally:
            db.execute("drop schema staging, bronze cascade")
            shutil.rmtree(companies)
