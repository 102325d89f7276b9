"""``airflow standalone`` on 127.0.0.1, wired to the embedded database and the sample mirror.

For trying the DAGs in the real UI: trigger forms, rendered SQL, logs. Everything temporary
is removed when the command stops (Ctrl-C).
"""

from __future__ import annotations

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

from crm_reconciliation import local_env
from crm_reconciliation.localdb import LocalPostgres

STARTUP_TIMEOUT_SECONDS = 180


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


def main(port: int = 8080) -> int:
    local_env.exit_on_sigterm()
    with ExitStack() as cleanup:
        database_uri = os.environ.get(local_env.CONN_ENV)
        if not database_uri:
            database_uri = cleanup.enter_context(LocalPostgres()).uri
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

        from crm_reconciliation.demo_mirror import load_demo_mirror
        from crm_reconciliation.hooks.warehouse import WarehouseHook

        with WarehouseHook().get_conn() as connection:
            load_demo_mirror(connection)
        process = subprocess.Popen([sys.executable, "-m", "airflow", "standalone"], env=os.environ.copy())
        cleanup.callback(process.wait, 30)
        cleanup.callback(process.send_signal, signal.SIGTERM)
        _wait_until_healthy(f"http://127.0.0.1:{port}/api/v2/monitor/health", process)
        passwords = json.loads((airflow_home / "simple_auth_manager_passwords.json.generated").read_text())
        print(
            f"\nAirflow UI: http://127.0.0.1:{port}  user: admin  password: {passwords['admin']}\n"
            f"Database (connection hubspot_postgres): {database_uri}\n"
            f"AIRFLOW_HOME (temporary, for the airflow CLI next to it): {airflow_home}\n"
            "New DAGs start paused: unpause one, then Trigger (the form shows the run parameters).\n"
            "Stop with Ctrl-C.\n",
            flush=True,
        )
        try:
            return process.wait()
        except KeyboardInterrupt:
            return 0
