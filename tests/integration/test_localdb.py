"""The embedded PostgreSQL never outlives its owner, even when the owner is killed."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from crm_reconciliation.config.paths import PACKAGE_DIR

pytestmark = pytest.mark.integration

OWNER = """
import os, sys
from crm_reconciliation_dev.localdb import LocalPostgres
server = LocalPostgres().start()
print(server.base_dir, flush=True)
os._exit(0)  # dies like kill -9: no atexit, no finally
"""


def test_a_killed_owner_leaves_no_server_behind():
    result = subprocess.run(
        [sys.executable, "-c", OWNER],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        # A bare environment, but with the test session's mark (tests/conftest.py), which checks
        # that nothing of the session outlives it.
        env={
            "PYTHONPATH": str(PACKAGE_DIR.parent),
            "PATH": "/usr/bin:/bin",
            "CRMRECON_TEST_SESSION": os.environ["CRMRECON_TEST_SESSION"],
        },
    )
    base_dir = Path(result.stdout.strip())
    deadline = time.monotonic() + 20
    while (base_dir.exists() or _servers_of(base_dir)) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not base_dir.exists(), "the watchdog did not stop and remove the server"
    assert _servers_of(base_dir) == [], "the server still runs"


def _servers_of(base_dir: Path) -> list[int]:
    """Running processes whose command line names ``base_dir`` (the server and the watchdog)."""
    found = []
    for process in psutil.process_iter(["pid", "cmdline", "status"]):
        if process.info["status"] != psutil.STATUS_ZOMBIE and str(base_dir) in " ".join(process.info["cmdline"] or []):
            found.append(process.info["pid"])
    return found
