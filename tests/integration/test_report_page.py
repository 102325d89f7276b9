"""The report page, opened as a person would: headless Chromium, offline, and a screenshot."""

from __future__ import annotations

import shutil

import pytest
from airflow.dag_processing.dagbag import DagBag
from PIL import Image

from crm_reconciliation.common.paths import PROJECT_ROOT
from crm_reconciliation.operators.report import reports_dir
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
    from crm_reconciliation.common.registry import default_registry
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
