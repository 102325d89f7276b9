"""``airflow standalone`` on 127.0.0.1, wired to the embedded database and the sample mirror.

For trying the DAGs in the real UI: trigger forms, rendered SQL, logs. Everything temporary
is removed when the command stops (Ctrl-C, SIGTERM, or the terminal closing), within seconds:

- ``airflow standalone`` runs in a process group of its own, so that this command alone gets the
  terminal's Ctrl-C and stops things in order;
- it gets SIGINT (what Ctrl-C would have sent it), then, after ``GRACE_SECONDS``, every process
  left of it gets SIGKILL: its process group, and every other descendant (task processes run in
  groups of their own). A scheduler whose LocalExecutor workers live ignores SIGTERM and was
  seen to hang on SIGINT, hence the escalation;
- this command is the "child subreaper" of its descendants (Linux), so the processes orphaned by
  that are handed to it, not to PID 1, and it waits for every one of them: none stays defunct;
- then the database is stopped and the temporary AIRFLOW_HOME removed.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import ExitStack
from pathlib import Path

from crm_reconciliation_dev import local_env
from crm_reconciliation_dev.localdb import LocalPostgres

STARTUP_TIMEOUT_SECONDS = 180
GRACE_SECONDS = 3.0  # from SIGINT to SIGKILL (the scheduler and the API server were seen running 5 s after SIGINT)
KILL_WAIT_SECONDS = 3.0


def _wait_until_healthy(url: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"airflow standalone exited with code {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our own 127.0.0.1 server
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(1)
    raise TimeoutError(f"Airflow did not answer {url} within {STARTUP_TIMEOUT_SECONDS} s")


def _running(process) -> bool:
    import psutil

    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def airflow_processes(group: int, excluded: set[int]) -> list:
    """What is left of ``airflow standalone`` (process group ``group``): the members of its group and
    every descendant of this process outside the subtrees of ``excluded`` (the database's processes)."""
    import psutil

    found = {}
    for process in psutil.process_iter():
        with contextlib.suppress(psutil.Error, OSError):
            if process.pid != os.getpid() and os.getpgid(process.pid) == group:
                found[process.pid] = process
    pending = psutil.Process().children()
    while pending:
        process = pending.pop()
        if process.pid in excluded:
            continue
        found[process.pid] = process
        with contextlib.suppress(psutil.Error):
            pending.extend(process.children())
    return [process for process in found.values() if _running(process)]


def _wait_for_end(standalone: subprocess.Popen, excluded: set[int], seconds: float) -> list:
    """Wait up to ``seconds`` for every Airflow process to end, reaping them; returns those left."""
    deadline = time.monotonic() + seconds
    while True:
        standalone.poll()
        local_env.reap_children(exclude=() if standalone.returncode is not None else (standalone.pid,))
        left = airflow_processes(standalone.pid, excluded)
        if (not left and standalone.returncode is not None) or time.monotonic() > deadline:
            return left
        time.sleep(0.1)


def stop_airflow(standalone: subprocess.Popen, excluded: set[int], grace: float = GRACE_SECONDS) -> list:
    """Stop ``airflow standalone`` and everything it started; returns what could not be stopped."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(standalone.pid, signal.SIGINT)
    left = _wait_for_end(standalone, excluded, grace)
    for _ in range(3):  # again for what was being forked when the first SIGKILL went out
        if not left:
            break
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(standalone.pid, signal.SIGKILL)
        for process in left:
            with contextlib.suppress(Exception):
                process.kill()
        left = _wait_for_end(standalone, excluded, KILL_WAIT_SECONDS)
    return left


def _stop(standalone: subprocess.Popen, database: LocalPostgres | None) -> None:
    print(f"\nStopping Airflow (SIGINT, then SIGKILL after {GRACE_SECONDS:.0f} s), then the database ...", flush=True)
    left = stop_airflow(standalone, database.own_pids() if database else set())
    if left:
        details = ", ".join(f"{process.pid}" for process in left)
        print(f"Airflow processes still running after SIGKILL: {details}", file=sys.stderr, flush=True)


def _serve(cleanup: ExitStack, port: int) -> int:
    database = None
    database_uri = os.environ.get(local_env.CONN_ENV)
    if not database_uri:
        database = cleanup.enter_context(LocalPostgres())
        database_uri = database.uri
    airflow_home = Path(tempfile.mkdtemp(prefix="crm-recon-ui-"))
    cleanup.callback(shutil.rmtree, airflow_home, ignore_errors=True)
    environment = local_env.airflow_environment(airflow_home, database_uri)
    environment.pop("CRM_RECON_RETRIES")  # the UI behaves as production: tasks retry
    environment["AIRFLOW__API__PORT"] = str(port)
    # Task processes reach the API server's execution API: it is on this port, not on 8080.
    environment["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] = f"http://127.0.0.1:{port}/execution/"
    environment["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"] = "admin:admin"
    environment["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    local_env.apply(environment)

    from crm_reconciliation.hooks.warehouse import WarehouseHook
    from crm_reconciliation_dev.demo_mirror import load_demo_mirror

    with WarehouseHook().get_conn() as connection:
        load_demo_mirror(connection)
    process = subprocess.Popen(
        [sys.executable, "-m", "airflow", "standalone"],
        env=os.environ.copy(),
        stdin=subprocess.DEVNULL,
        process_group=0,  # its own group: Ctrl-C reaches this command, which stops it in order
    )
    cleanup.callback(_stop, process, database)
    _wait_until_healthy(f"http://127.0.0.1:{port}/api/v2/monitor/health", process)
    passwords = json.loads((airflow_home / "simple_auth_manager_passwords.json.generated").read_text())
    data = f" (embedded, data in {database.base_dir})" if database else ""
    print(
        f"\nAirflow UI: http://127.0.0.1:{port}  user: admin  password: {passwords['admin']}\n"
        f"Database (connection hubspot_postgres): {database_uri}{data}\n"
        f"AIRFLOW_HOME (temporary, for the airflow CLI next to it): {airflow_home}\n"
        "New DAGs start paused: unpause one, then Trigger (the form shows the run parameters).\n"
        "Stop with Ctrl-C.\n",
        flush=True,
    )
    return process.wait()


def main(port: int = 8080) -> int:
    local_env.exit_on_sigterm()
    # Before the database starts: its server, once pg_ctl returns, is then a child of this process too.
    local_env.become_subreaper()
    with ExitStack() as cleanup:
        cleanup.callback(local_env.reap_children)  # registered first, so run last
        try:
            return _serve(cleanup, port)
        except KeyboardInterrupt:
            return 0
        finally:
            local_env.ignore_interrupts()  # the clean-up below takes seconds: a second Ctrl-C waits for it
    return 0
