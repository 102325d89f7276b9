"""The report page, opened as a person would: headless Chromium, offline, and a screenshot."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from airflow.dag_processing.dagbag import DagBag
from PIL import Image

from crm_reconciliation.demo_mirror import load_demo_mirror
from crm_reconciliation.operators.report import reports_dir
from crm_reconciliation.paths import PROJECT_ROOT

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
    screenshot = tmp_path / "report-companies.png"
    result = subprocess.run(
        [
            chromium,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--screenshot={screenshot}",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert screenshot.is_file(), result.stderr[-2000:]
    print(f"screenshot: {screenshot}")
    colours = Image.open(screenshot).convert("RGB").getcolors(maxcolors=1 << 20)
    count = {colour: n for n, colour in colours}
    assert count.get(MATCHED_GREEN, 0) > 2000, "the status chart is not drawn"
    assert count.get(HISTOGRAM_BLUE, 0) > 2000, "the confidence histogram is not drawn"
