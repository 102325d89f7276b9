"""The report page, opened as a person would: headless Chromium, offline, and a screenshot."""

from __future__ import annotations

import json
import re
import shutil

import pytest
from airflow.dag_processing.dagbag import DagBag
from PIL import Image

from crm_reconciliation.config.paths import PROJECT_ROOT
from crm_reconciliation.hooks.warehouse import WarehouseSession
from crm_reconciliation.report.render import reports_dir
from crm_reconciliation_dev.demo_mirror import load_demo_mirror
from tests.helpers import run_command

pytestmark = pytest.mark.integration

MATCHED_GREEN = (46, 139, 87)
HISTOGRAM_BLUE = (74, 144, 217)
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--window-size=1200,1400",
]


def test_the_report_shows_its_charts_offline(airflow_db, db, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium is not installed (make test installs it)")
    load_demo_mirror(db)
    run = DagBag(dag_folder=str(PROJECT_ROOT / "dags")).dags["crm_reconcile_companies"].test()
    assert str(run.state) == "success"
    page = reports_dir() / "companies" / "latest.html"
    html = page.read_text(encoding="utf-8")
    shutil.copy(page, tmp_path / "report-companies.html")  # kept beside the screenshot
    # Every conflict and probable match the run scored explains its match weight, bar by bar.
    assert html.count('<svg class="waterfall"') >= 1, "no match-weight waterfall"
    assert 'aria-label="match weight histogram"' in html
    assert '<tr class="prior"><td>prior</td>' in html, "the learned parameters have no prior row"
    screenshot = tmp_path / "report-companies.png"
    result = run_command(
        [
            chromium,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--screenshot={screenshot}",
            page.as_uri(),
        ],
        timeout=120,
    )
    assert screenshot.is_file(), result.stderr[-2000:]
    print(f"screenshot: {screenshot}")
    colours = Image.open(screenshot).convert("RGB").getcolors(maxcolors=1 << 20)
    count = {colour: n for n, colour in colours}
    assert count.get(MATCHED_GREEN, 0) > 2000, "the status chart is not drawn"
    assert count.get(HISTOGRAM_BLUE, 0) > 2000, "the confidence histogram is not drawn"


def test_a_database_older_than_the_learned_parameters_still_reports(db):
    from crm_reconciliation.config.registry import default_registry
    from crm_reconciliation.operators.report import ReportOperator
    from tests.helpers import create_staging

    registry = default_registry()
    spec = registry.get("companies")
    create_staging(db, spec)
    db.execute("drop table staging.match_parameters")  # as a create_staging of an earlier version left it

    operator = ReportOperator(task_id="report", object_type="companies")
    operator.ensure_rendered({"run_id": "r1"})
    report, problem = operator._read("r1")

    assert problem is None
    assert report["parameters"] is None  # the page says the table is missing; the rest is read
    assert report["by_status"] == {}
    assert report["weight_histogram"] == []


INDUSTRIES = [f"INDUSTRY_{index:02}" for index in range(20)]


def hold(db, run_id: str, rows: list[tuple]) -> None:
    """Rows of staging.push_held_values as a push records them: (legacy id, property, value, reason, allowed)."""
    from tests.helpers import insert_rows

    insert_rows(
        db,
        "staging.push_held_values",
        [
            {
                "object_type": "companies",
                "run_id": run_id,
                "legacy_id": legacy_id,
                "action": "update" if legacy_id < 100 else "create",
                "api_object": "companies",
                "property": property_,
                "value": value,
                "reason": reason,
                "allowed": None if allowed is None else json.dumps(allowed),
            }
            for legacy_id, property_, value, reason, allowed in rows
        ],
    )


NOT_AN_OPTION = "not an option of the portal's property, nor in value_maps"
SCRIPT = "<script>alert(1)</script>"


def held_rows(html: str) -> list[str]:
    table = re.search(r'<table class="held">.*?</table>', html, flags=re.S).group(0)
    return re.findall(r"<tr>\n.*?</tr>", table, flags=re.S)


def test_the_report_lists_the_values_the_portal_cannot_take_grouped_by_value(db):
    from crm_reconciliation.config.registry import default_registry
    from crm_reconciliation.operators.report import ReportOperator
    from crm_reconciliation.report.render import render_report
    from crm_reconciliation.review import queue as review
    from tests.helpers import create_staging

    registry = default_registry()
    create_staging(db, registry.get("companies"))
    hold(
        db,
        "r1",
        [
            (1, "industry", "Industrial IoT", NOT_AN_OPTION, INDUSTRIES),
            (2, "industry", "Industrial IoT", NOT_AN_OPTION, INDUSTRIES),
            (101, "industry", "Industrial IoT", NOT_AN_OPTION, INDUSTRIES),
            (2, "type", SCRIPT, NOT_AN_OPTION, ["CUSTOMER", "PARTNER"]),
            (3, "type", SCRIPT, NOT_AN_OPTION, ["CUSTOMER", "PARTNER"]),
            (4, "email_domain", "a b.fr", "not a domain name", None),
        ],
    )
    hold(db, "r0", [(9, "industry", "From another run", NOT_AN_OPTION, INDUSTRIES)])
    db.execute(  # another object's, of the same run
        "insert into staging.push_held_values (object_type, run_id, legacy_id, action, api_object, property, reason)"
        " values ('contacts', 'r1', 5, 'update', 'contacts', 'email', 'not an e-mail address')"
    )

    operator = ReportOperator(task_id="report", object_type="companies")
    operator.ensure_rendered({"run_id": "r1"})
    report, problem = operator._read("r1")
    assert problem is None
    held = report["held_values"]
    assert (held["total"], held["records"], held["groups"]) == (6, 5, 3)  # this run's and object's only
    assert [(row["property"], row["value"], row["records"]) for row in held["rows"]] == [
        ("industry", "Industrial IoT", 3),
        ("type", SCRIPT, 2),
        ("email_domain", "a b.fr", 1),
    ]
    industry = held["rows"][0]
    assert industry["allowed"] == INDUSTRIES[:12]
    assert industry["allowed_total"] == 20
    assert industry["actions"] == ["create", "update"]
    assert industry["legacy_ids"] == [1, 2, 101]
    assert held["rows"][2]["allowed"] is None

    html = render_report(report, object="companies", run_id="r1", legacy_table="Company",
                         hubspot_table="companies", generated="now")  # fmt: skip
    assert "Values the portal cannot take" in html
    assert "held back 6 values of 5 records" in html
    first, second, third = held_rows(html)
    assert "<code>Industrial IoT</code>" in first
    assert '<span class="option">INDUSTRY_11</span> <i class="note">… 8 more</i>' in first
    assert "INDUSTRY_12" not in first
    assert "create_options: true" in first
    assert "<script>" not in html
    assert "<code>&lt;script&gt;alert(1)&lt;/script&gt;</code>" in second
    assert "Correct it in the legacy CRM" in third
    assert "From another run" not in html

    # The review page's query: the object's latest run that held any value back.
    db.execute("update staging.push_held_values set recorded_at = recorded_at - interval '1 day' where run_id = 'r0'")
    latest = review.held_values(WarehouseSession(db), registry, "companies")
    assert latest["run_id"] == "r1"
    assert [row["records"] for row in latest["rows"]] == [3, 2, 1]
    assert latest["rows"][0]["fix"].startswith("Map it to one of the allowed options (value_maps: {industry:")
    assert review.held_values(WarehouseSession(db), registry, "deals")["rows"] == []

    # A run that held nothing back: no section at all.
    report, _ = operator._read("r2")
    assert report["held_values"]["total"] == 0
    assert "Values the portal cannot take" not in render_report(
        report, object="companies", run_id="r2", legacy_table="Company", hubspot_table="companies", generated="now"
    )


def test_the_held_values_query_answers_nothing_without_the_table(db):
    from crm_reconciliation.config.registry import default_registry
    from crm_reconciliation.review import queue as review
    from tests.helpers import create_staging

    registry = default_registry()
    assert review.held_values(WarehouseSession(db), registry, "companies")["rows"] == []  # no staging schema at all
    create_staging(db, registry.get("companies"))
    assert review.held_values(WarehouseSession(db), registry, "companies")["rows"] == []  # the table, empty
    db.execute("drop table staging.push_held_values")
    assert review.held_values(WarehouseSession(db), registry, "companies") == review.NO_HELD_VALUES
    assert db.execute("select 1").fetchone() == (1,)  # the connection is still usable
