"""The suite's own guard: a test session fails when a process it started outlives it, even one
whose environment does not show the session's mark (renamed servers overwrite it)."""

from __future__ import annotations

import subprocess
import sys

import psutil
import pytest

from crm_reconciliation.config.paths import PROJECT_ROOT

pytestmark = pytest.mark.integration

# A test that leaves a sleeper behind: started with an empty environment (no session mark, as a
# process that renamed itself looks), by a parent that exits at once, so it is an orphan.
PROBE = """
import subprocess, sys

SLEEPER = [sys.executable, "-c", "import time; time.sleep(120)"]
STARTER = (
    "import subprocess, sys; print(subprocess.Popen(%r, env={}, start_new_session=True,"
    " stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).pid)" % (SLEEPER,)
)

def test_leaves_a_process_behind():
    pid = subprocess.run([sys.executable, "-c", STARTER], capture_output=True, text=True, check=True).stdout
    print("SLEEPER", pid.strip())
"""


def test_a_leftover_without_the_session_mark_fails_the_session(tmp_path):
    probe = tmp_path / "test_probe.py"
    probe.write_text(PROBE, encoding="utf-8")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-s",
            "-p",
            "tests.conftest",
            "-c",
            str(PROJECT_ROOT / "pyproject.toml"),
            "--rootdir",
            str(PROJECT_ROOT),
            "-p",
            "no:cacheprovider",
            str(probe),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=PROJECT_ROOT,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == pytest.ExitCode.TESTS_FAILED, output
    assert "1 process(es) started by this test session outlived it (killed now)" in output
    sleeper = int(output.split("SLEEPER ", 1)[1].split()[0])
    assert not psutil.pid_exists(sleeper) or psutil.Process(sleeper).status() == psutil.STATUS_ZOMBIE
