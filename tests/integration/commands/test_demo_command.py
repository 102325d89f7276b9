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

from crm_reconciliation.config.paths import PROJECT_ROOT
from crm_reconciliation.config.registry import default_registry
from tests.helpers import end_process_tree, run_command

pytestmark = pytest.mark.integration

# One line per task as it finishes: object, task id, state, rows (or -), seconds (or -), and for a
# failed task the message of its step log.
PROGRESS = re.compile(
    r"^(\w+)\s+(\w+)\s+(success|failed|skipped|upstream_failed|up_for_retry)\s+(\d+|-)\s+(\d+\.\d|-)(?:  (.+))?$"
)
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d")  # how every Airflow or Python log line starts
LOGS = re.compile(r"^Logs \(Airflow's and the tasks', kept after the demo\): (\S+)$", re.MULTILINE)


def _user_environment() -> dict[str, str]:
    """The environment of a user who configured nothing."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("AIRFLOW", "CRM_RECON"))}
    return environment | {"PYTHONUNBUFFERED": "1"}  # no PYTHONPATH: the commands are installed


def _task_ids() -> dict[str, list[str]]:
    """Each object's DAG's task ids, as the DAG file builds them."""
    from crm_reconciliation.dag_factory import build_dag

    registry = default_registry()
    return {name: list(build_dag(registry, name).task_ids) for name in registry.objects}


def _demo(*arguments: str) -> subprocess.CompletedProcess:
    return run_command(
        [sys.executable, "-m", "crm_reconciliation_dev", "demo", *arguments],
        timeout=300,
        env=_user_environment(),
        cwd=PROJECT_ROOT,
    )


def test_demo_prints_one_line_per_task_then_the_summary_and_keeps_the_logs_in_a_file():
    before = {process.pid for process in psutil.process_iter()}
    result = _demo()
    log_file = Path(LOGS.search(result.stdout).group(1)) if LOGS.search(result.stdout) else None
    try:
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        lines = result.stdout.splitlines()

        # One progress line per task of every DAG, in the order the objects run, each task once.
        progress = [match.groups() for match in map(PROGRESS.match, lines) if match]
        task_ids = _task_ids()
        assert sorted((name, task) for name, task, *_ in progress) == sorted(
            (name, task) for name, tasks in task_ids.items() for task in tasks
        )
        assert list(dict.fromkeys(name for name, *_ in progress)) == list(task_ids)
        assert {state for _, _, state, *_ in progress} == {"success"}
        rows = {(name, task): value for name, task, _, value, *_ in progress}

        # No log line on the terminal: few lines in all, the tasks' and the summary's.
        assert [line for line in lines if LOG_LINE.match(line)] == []
        assert result.stderr == ""
        assert len(lines) < len(progress) + 45, result.stdout

        # The summary, as before; the rows of load_bronze are the rows it loaded.
        summary = result.stdout.split("=== crm-reconciliation demo summary ===", 1)[1]
        assert re.search(r"object\s+state\s+read\s+loaded\s+rejected\s+deleted", summary)
        for name, spec in default_registry().objects.items():
            match = re.search(rf"^{name}\s+success\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\S+)$", summary, re.MULTILINE)
            assert match, f"no summary line for {name}"
            read, loaded, rejected, _deleted = map(int, match.groups()[:4])
            assert read == loaded + rejected > 0
            assert match.group(5).endswith(spec.csv_file)
            assert rows[(name, "load_bronze")] == str(loaded)

        # Airflow's and the tasks' logs are in the file, which outlives the demo's temporary folders.
        assert log_file is not None, result.stdout
        assert log_file.is_file()
        logged = log_file.read_text(encoding="utf-8")
        for name, tasks in task_ids.items():
            assert f"create_staging done for {name}" in logged  # a task's own log line
            for task in tasks:
                assert f"[DAG TEST] end task task_id={task} " in logged  # Airflow's
        assert f"Logs: {log_file}" in lines

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
    finally:
        if log_file:
            log_file.unlink(missing_ok=True)


NO_BRONZE = '{"bronze_dir": "/nonexistent"}'


def test_a_failed_run_says_which_tasks_failed_and_why_and_exits_non_zero(tmp_path):
    result = run_command(
        [sys.executable, "-m", "crm_reconciliation_dev", "demo", "--objects", "companies", "--conf", NO_BRONZE],
        timeout=300,
        env=_user_environment() | {"CRM_RECON_REPORTS_DIR": str(tmp_path)},
        cwd=PROJECT_ROOT,
    )
    log_file = Path(LOGS.search(result.stdout).group(1))
    log_file.unlink()
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]
    progress = {match.group(2): match.groups() for match in map(PROGRESS.match, result.stdout.splitlines()) if match}
    assert sorted(progress) == sorted(_task_ids()["companies"])
    assert progress["create_staging"][2] == "success"
    assert progress["load_bronze"][2] == "failed"
    assert "/nonexistent/Bronze_Company.csv" in progress["load_bronze"][5]
    assert {progress[task][2] for task in ("reconcile", "score", "approve_push", "push")} == {"upstream_failed"}
    assert progress["report"][2] == "failed"  # it runs after a failure, then fails the run
    assert re.search(r"^companies\s+failed\s+-\s+-\s+-\s+-\s+/nonexistent/Bronze_Company.csv$", result.stdout, re.M)
    assert f"FAILED: companies (the tasks' logs: {log_file})" in result.stdout


def test_verbose_streams_the_logs():
    result = _demo("--objects", "companies", "--verbose")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    streamed = result.stdout + result.stderr
    assert not LOGS.search(result.stdout), "a log file although the logs were streamed"
    for task in _task_ids()["companies"]:
        assert f"[DAG TEST] end task task_id={task} " in streamed
    assert "create_staging done for companies" in streamed
    progress = [match.group(2) for match in map(PROGRESS.match, result.stdout.splitlines()) if match]
    assert sorted(progress) == sorted(_task_ids()["companies"])
    assert "=== crm-reconciliation demo summary ===" in result.stdout


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
        seen.extend(process.stdout)
    finally:
        end_process_tree(process, signal.SIGKILL)
    text = "".join(seen)
    data_dir = Path(re.search(r"\(data in (\S+)\)", text).group(1))
    airflow_home = Path(re.search(r"Airflow home \(temporary\): (\S+)", text).group(1))
    log_file = Path(LOGS.search(text).group(1))
    assert process.returncode != 0
    # Checked at once: the demo's own clean-up ran before it exited (the watchdog would need a second).
    assert not data_dir.exists()
    assert not airflow_home.exists()
    assert f"Interrupted: cleaning up. The logs: {log_file}" in text
    assert log_file.is_file()
    log_file.unlink()
