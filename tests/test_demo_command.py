"""The README's main command, run as a user runs it (a child process, no database configured)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import psutil
import pytest

from crm_reconciliation.paths import PROJECT_ROOT
from crm_reconciliation.registry import default_registry

pytestmark = pytest.mark.integration


def test_demo_runs_every_dag_and_prints_a_summary():
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("AIRFLOW", "CRM_RECON"))}
    environment["PYTHONPATH"] = str(PROJECT_ROOT / "plugins")
    before = {process.pid for process in psutil.process_iter()}
    result = subprocess.run(
        [sys.executable, "-m", "crm_reconciliation", "demo"],
        capture_output=True,
        text=True,
        timeout=300,
        env=environment,
        cwd=PROJECT_ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    summary = result.stdout.split("=== crm-reconciliation demo summary ===", 1)[1]
    assert re.search(r"object\s+state\s+read\s+loaded\s+rejected\s+deleted", summary)
    for name, spec in default_registry().objects.items():
        match = re.search(rf"^{name}\s+success\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\S+)$", summary, re.MULTILINE)
        assert match, f"no summary line for {name}"
        read, loaded, rejected, _deleted = map(int, match.groups()[:4])
        assert read == loaded + rejected > 0
        assert match.group(5).endswith(spec.csv_file)
    leftovers = [
        process
        for process in psutil.process_iter(["pid", "name"])
        if process.info["pid"] not in before and process.info["name"] == "postgres"
    ]
    assert leftovers == [], "the demo left its PostgreSQL running"
