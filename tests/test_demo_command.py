"""The README's main command, run as a user runs it (a child process, no database configured)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from crm_reconciliation.common.paths import PROJECT_ROOT
from crm_reconciliation.common.registry import default_registry

pytestmark = pytest.mark.integration


def _user_environment() -> dict[str, str]:
    """The environment of a user who configured nothing."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("AIRFLOW", "CRM_RECON"))}
    return environment | {"PYTHONPATH": str(PROJECT_ROOT / "plugins"), "PYTHONUNBUFFERED": "1"}


def test_demo_runs_every_dag_and_prints_a_summary():
    environment = _user_environment()
    before = {process.pid for process in psutil.process_iter()}
    result = subprocess.run(
        [sys.executable, "-m", "crm_reconciliation_dev", "demo"],
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
    data_dir = re.search(r"\(data in (\S+)\)", result.stdout).group(1)
    leftovers = [
        process
        for process in psutil.process_iter(["pid", "name", "cmdline"])
        if process.info["pid"] not in before
        and process.info["name"] == "postgres"
        and data_dir in " ".join(process.info["cmdline"] or [])
    ]
    assert leftovers == [], "the demo left its PostgreSQL running"
    assert not Path(data_dir).exists()


def test_ctrl_c_stops_the_server_and_removes_the_temporary_files():
    """Interrupted while Airflow migrates its metadata database, the demo still cleans up."""
    process = subprocess.Popen(
        [sys.executable, "-m", "crm_reconciliation_dev", "demo"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=_user_environment(),
        cwd=PROJECT_ROOT,
        start_new_session=True,  # its own process group, as a command started from a terminal
    )
    seen = []
    try:
        for line in process.stdout:
            seen.append(line)
            if line.startswith("Sample HubSpot mirror"):
                break
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C does: the whole foreground group
        process.wait(timeout=60)
    finally:
        process.kill()
    text = "".join(seen)
    data_dir = Path(re.search(r"\(data in (\S+)\)", text).group(1))
    airflow_home = Path(re.search(r"Airflow home \(temporary\): (\S+)", text).group(1))
    assert process.returncode != 0
    # Checked at once: the demo's own clean-up ran before it exited (the watchdog would need a second).
    assert not data_dir.exists()
    assert not airflow_home.exists()
