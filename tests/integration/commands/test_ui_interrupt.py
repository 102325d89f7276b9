"""Ctrl-C on the README's UI command (``make airflow``) returns to the shell within seconds, with
every process it started gone (none left defunct) and its embedded PostgreSQL stopped.

The command runs as ``make airflow`` runs it, in a process group of its own as a terminal's
foreground job; Ctrl-C is SIGINT to that whole group. A run is triggered first, so that the
scheduler's LocalExecutor workers exist: a scheduler with live workers ignores SIGTERM.
"""

from __future__ import annotations

import os
import signal
import socket
import time

import psutil
import pytest

from tests.helpers import call, describe, process_tree, running_ui

pytestmark = pytest.mark.integration

DAG_ID = "crm_reconcile_companies"
SECONDS = 10


def _workers(pid: int) -> list[psutil.Process]:
    found = []
    for process in process_tree(pid):
        try:
            if "LocalExecutor" in " ".join(process.cmdline()):
                found.append(process)
        except psutil.Error:
            continue
    return found


def _accepts_connections(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_ctrl_c_stops_airflow_and_the_database_within_seconds(tmp_path):
    with running_ui({"CRM_RECON_REPORTS_DIR": str(tmp_path / "reports")}) as ui:
        assert ui.data_dir is not None, "the UI command did not start its embedded database"
        # A run, so that the scheduler has started its LocalExecutor workers.
        deadline = time.monotonic() + 120
        while call(ui.base, "PATCH", f"/api/v2/dags/{DAG_ID}", ui.token, {"is_paused": False})[0] != 200:
            assert time.monotonic() < deadline, f"{DAG_ID} was never parsed"
            time.sleep(2)
        status, body = call(
            ui.base, "POST", f"/api/v2/dags/{DAG_ID}/dagRuns", ui.token, {"logical_date": None, "conf": {}}
        )
        assert status == 200, body
        while not _workers(ui.process.pid):
            assert time.monotonic() < deadline, "no LocalExecutor worker was started"
            time.sleep(1)

        server_pid = int((ui.data_dir / "pgdata" / "postmaster.pid").read_text().split()[0])
        port = int(ui.database.rsplit(":", 1)[1].split("/")[0])
        assert _accepts_connections(port)
        # Everything to be gone, collected before the signal: the group and every descendant
        # (the standalone's own group, task processes in groups of their own, the database).
        tree = {process.pid: process for process in process_tree(ui.process.pid)}
        tree.setdefault(server_pid, psutil.Process(server_pid))
        assert len(tree) > 10, [describe(process) for process in tree.values()]

        started = time.monotonic()
        os.killpg(ui.process.pid, signal.SIGINT)  # Ctrl-C
        left = list(tree.values())
        while time.monotonic() - started < SECONDS + 5:
            ui.process.poll()  # its parent here (the test) reaps it, as the shell would
            left = [process for process in tree.values() if process.pid != ui.process.pid and _exists(process)]
            if ui.process.returncode is not None and not left:
                break
            time.sleep(0.05)
        elapsed = time.monotonic() - started
        print(f"SIGINT to all gone: {elapsed:.1f} s")

        assert ui.process.returncode is not None, "the command did not return within the time"
        assert left == [], [describe(process) for process in left]
        assert elapsed < SECONDS
        assert ui.process.returncode == 0
        assert not _accepts_connections(port)
        assert not ui.data_dir.exists(), "the database's folder was not removed"
        assert not ui.airflow_home.exists()


def _exists(process: psutil.Process) -> bool:
    """Running, or exited and not yet reaped (defunct): both count as left behind."""
    try:
        return process.is_running()
    except psutil.Error:
        return False
