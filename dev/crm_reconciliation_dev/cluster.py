"""A local distributed Airflow: the CeleryExecutor path of ``docker-compose.yaml`` as local processes.

Redis (the broker); an embedded PostgreSQL: database ``airflow`` (the metadata database and Celery's
result backend) and database ``warehouse`` (the ``hubspot_postgres`` connection) unless a warehouse
is given (the CLI takes ``AIRFLOW_CONN_HUBSPOT_POSTGRES``); the sample mirror where the warehouse has
none; then Airflow's api-server, scheduler, dag-processor, triggerer and ``workers`` Celery workers
(``airflow celery worker``, queue ``default``), all on 127.0.0.1 and free ports, sharing one
temporary AIRFLOW_HOME and one reports folder (``CRM_RECON_REPORTS_DIR``), as machines sharing a
volume would. The scheduler starts only the runs asked for (``use_job_schedule`` off).

Every process runs in a process group of its own and carries a mark in its environment
(``CLUSTER_ENV``), inherited by whatever it starts. The cluster's processes are the members of those
groups, their descendants (the task processes, which Airflow puts in groups of their own) and the
marked ones (``members``). ``stop()`` sends SIGTERM to every group (a worker's warm shutdown),
SIGKILL after ``GRACE_SECONDS`` to whatever of the cluster is left, waits for all of it, then stops
the database and removes the folder. A detached watchdog does the same if the owner dies without
stopping it (kill -9).

Each worker is told its name (``NODE_ENV``) and Airflow's ``hostname_callable`` is ``node_name``:
two workers on one machine record different hostnames on the task instances they run, as two
machines would.

Redis is Debian's ``redis-server`` (``make redis`` installs it; ``CRM_RECON_REDIS_SERVER`` names
another binary). ``python -m crm_reconciliation_dev cluster`` runs one until Ctrl-C.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from crm_reconciliation_dev import local_env
from crm_reconciliation_dev.localdb import LocalPostgres, free_port

REDIS_ENV = "CRM_RECON_REDIS_SERVER"
NODE_ENV = "CRM_RECON_NODE_NAME"
# Not CRM_RECON_*: local_env drops those from a child's environment in some commands.
CLUSTER_ENV = "CRMRECON_CLUSTER"
STARTUP_SECONDS = 240
GRACE_SECONDS = 15.0  # SIGTERM → SIGKILL: an idle worker's warm shutdown takes a few seconds
KILL_WAIT_SECONDS = 10.0
OBJECT_DAGS = (
    "crm_reconcile_companies",
    "crm_reconcile_contacts",
    "crm_reconcile_deals",
    "crm_reconcile_communications",
)


class RedisUnavailable(RuntimeError):
    """No redis-server binary on this machine."""


def node_name() -> str:
    """Airflow's ``hostname_callable`` in the cluster: the worker's name, else the machine's."""
    return os.environ.get(NODE_ENV) or socket.getfqdn()


def redis_server_binary() -> str:
    """The redis-server to run: ``CRM_RECON_REDIS_SERVER``, else Debian's (``make redis``)."""
    given = os.environ.get(REDIS_ENV)
    if given:
        if not os.access(given, os.X_OK):
            raise RedisUnavailable(f"{REDIS_ENV}={given} is not an executable")
        return given
    found = shutil.which("redis-server") or next(
        (path for path in ("/usr/bin/redis-server", "/usr/sbin/redis-server") if os.access(path, os.X_OK)), None
    )
    if not found:
        raise RedisUnavailable(
            "redis-server is not installed: `make redis` installs Debian's (needs root), "
            f"or set {REDIS_ENV} to a redis-server binary"
        )
    return found


def _running(process: Any) -> bool:
    import psutil

    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def members(groups: Iterable[int], mark: str) -> dict[int, Any]:
    """The cluster's processes as they are now: the members of its process ``groups`` (one per
    process it started), every descendant of them (the task processes, in groups of their own), and
    every process whose environment carries ``mark`` (those that have not retitled themselves:
    setproctitle, which the api-server, Celery and the task processes use, overwrites the
    environment that /proc shows)."""
    import psutil

    groups, found = set(groups), {}
    for process in psutil.process_iter():
        if process.pid == os.getpid():
            continue
        with contextlib.suppress(psutil.Error, OSError):
            if os.getpgid(process.pid) in groups:
                found[process.pid] = process
                continue
        with contextlib.suppress(psutil.Error, OSError):
            if process.environ().get(CLUSTER_ENV) == mark:
                found[process.pid] = process
    for process in list(found.values()):
        with contextlib.suppress(psutil.Error):
            for child in process.children(recursive=True):
                found.setdefault(child.pid, child)
    return {pid: process for pid, process in found.items() if _running(process)}


def _describe(process: Any) -> str:
    try:
        return f"{process.pid} {' '.join(process.cmdline())[:160] or process.name()}"
    except Exception:
        return str(process.pid)


def kill_all(find: Callable[[], dict[int, Any]], seconds: float = KILL_WAIT_SECONDS) -> list[str]:
    """SIGKILL what ``find`` returns until it returns nothing (or ``seconds`` pass); returns those
    killed, described. Each round takes a whole tree at once, before its parents die and orphan it."""
    killed: dict[int, str] = {}
    deadline = time.monotonic() + seconds
    while (left := find()) and time.monotonic() < deadline:
        for process in left.values():
            killed.setdefault(process.pid, _describe(process))
            with contextlib.suppress(Exception):
                process.kill()
        time.sleep(0.1)
        local_env.reap_children(only=set(killed))
    return list(killed.values())


@dataclass
class Service:
    name: str
    process: subprocess.Popen
    log: Path


@dataclass
class LocalCluster:
    """``with LocalCluster() as cluster:`` — ``cluster.base_url``, ``cluster.token()``, ``cluster.stop()``."""

    workers: int = 2
    concurrency: int = 2
    triggerer: bool = True
    environment: dict[str, str] = field(default_factory=dict)  # over the cluster's own settings
    warehouse_uri: str | None = None  # hubspot_postgres; None: database "warehouse" of the cluster's server
    logs_dir: Path | None = None  # each process's output (default: inside the temporary folder)
    retries: bool = False  # tasks retry as in production; off: a failure shows at once (tests)
    keep: bool = False

    def __post_init__(self) -> None:
        self.mark = uuid.uuid4().hex
        self.work = Path(tempfile.mkdtemp(prefix="crm-recon-cluster-"))
        self.logs_dir = Path(self.logs_dir or self.work / "logs")
        self.airflow_home = self.work / "airflow_home"
        self.reports_dir = self.work / "reports"
        self.services: list[Service] = []
        self.database: LocalPostgres | None = None
        self.watchdog: subprocess.Popen | None = None
        self.port = free_port()
        self.redis_port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.worker_names = [f"crm-worker-{index}" for index in range(1, self.workers + 1)]
        self.password: str | None = None
        self.started_pids: set[int] = set()  # each the leader of a process group of its own
        self._seen: dict[int, Any] = {}  # every process of the cluster seen so far
        self._children_before: set[int] = set()
        self._files: list[IO] = []
        from cryptography.fernet import Fernet

        # Secrets every process must share (machines of their own would read them from one config).
        self._secrets = {
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
            "AIRFLOW__API__SECRET_KEY": secrets.token_hex(32),
            "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
        }

    # --- addresses -------------------------------------------------------------------------
    @property
    def broker_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/0"

    def database_uri(self, name: str, driver: str = "postgresql") -> str:
        assert self.database is not None, "not started"
        return f"{driver}://postgres@127.0.0.1:{self.database.port}/{name}"

    @property
    def metadata_uri(self) -> str:
        return self.database_uri("airflow")

    # --- start -----------------------------------------------------------------------------
    def __enter__(self) -> LocalCluster:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> LocalCluster:
        import psutil

        local_env.become_subreaper()  # orphans (task processes of a killed worker) are waited for here
        self._children_before = {child.pid for child in psutil.Process().children()}
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        redis = redis_server_binary()
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        self.reports_dir.mkdir(parents=True)
        self._start_watchdog()
        (self.work / "redis").mkdir()
        self._spawn(
            "redis",
            [
                redis,
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.redis_port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.work / "redis"),
                "--daemonize",
                "no",
            ],
            self._base_environment(),
        )
        self.database = LocalPostgres(base_dir=self.work / "pg").start()
        import psycopg

        with psycopg.connect(self.database.uri, autocommit=True) as connection:
            connection.execute("create database airflow")
            if self.warehouse_uri is None:
                connection.execute("create database warehouse")
                self.warehouse_uri = self.database_uri("warehouse")
        from crm_reconciliation_dev.demo_mirror import load_demo_mirror

        # The sample mirror, as the demo and the UI command load it: never over existing tables.
        with psycopg.connect(self.warehouse_uri) as connection:
            load_demo_mirror(connection)
        self._wait_for_redis()
        environment = self.airflow_environment()
        migrate = self._spawn("db-migrate", [sys.executable, "-m", "airflow", "db", "migrate"], environment)
        self._wait_for_exit(migrate, STARTUP_SECONDS)
        airflow = [sys.executable, "-m", "airflow"]
        api_server = [*airflow, "api-server", "--host", "127.0.0.1", "--port", str(self.port)]
        self._spawn("api-server", api_server, environment)
        self._spawn("scheduler", [*airflow, "scheduler"], environment)
        self._spawn("dag-processor", [*airflow, "dag-processor"], environment)
        if self.triggerer:
            self._spawn("triggerer", [*airflow, "triggerer"], environment)
        for name in self.worker_names:
            command = [*airflow, "celery", "worker", "--celery-hostname", name, "--queues", "default"]
            command += ["--concurrency", str(self.concurrency), "--skip-serve-logs"]
            command += ["--pid", str(self.work / f"{name}.pid")]
            self._spawn(name, command, {**environment, NODE_ENV: name})
        self._wait_until_healthy()
        self._wait_for_workers()

    def _base_environment(self) -> dict[str, str]:
        """This process's environment without its Airflow and project settings, plus the mark."""
        inherited = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "CRM_RECON", CLUSTER_ENV))}
        return {**inherited, CLUSTER_ENV: self.mark, "PYTHONUNBUFFERED": "1"}

    def airflow_environment(self) -> dict[str, str]:
        """The settings every Airflow process of the cluster gets (a worker also gets its name)."""
        environment = {
            **self._base_environment(),
            **local_env.airflow_environment(self.airflow_home, self.warehouse_uri),
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CORE__PARALLELISM": str(max(4, self.workers * self.concurrency)),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.database_uri("airflow", "postgresql+psycopg2"),
            "AIRFLOW__CELERY__BROKER_URL": self.broker_url,
            "AIRFLOW__CELERY__RESULT_BACKEND": self.database_uri("airflow", "db+postgresql"),
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(self.concurrency),
            # Only the runs asked for: unpausing a DAG would otherwise start its latest scheduled run too.
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": "crm_reconciliation_dev.cluster.node_name",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.base_url}/execution/",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
            **self._secrets,
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "CRM_RECON_REPORTS_DIR": str(self.reports_dir),
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
            **self.environment,
        }
        if self.retries and "CRM_RECON_RETRIES" not in self.environment:
            environment.pop("CRM_RECON_RETRIES")
        return environment

    def _spawn(self, name: str, command: list[str], environment: dict[str, str]) -> subprocess.Popen:
        log = (self.logs_dir / f"{name}.log").open("ab")
        self._files.append(log)
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=environment,
            cwd=self.work,
            process_group=0,
        )
        self.services.append(Service(name, process, self.logs_dir / f"{name}.log"))
        self.started_pids.add(process.pid)
        with (self.work / "groups").open("a") as groups:  # for the watchdog
            groups.write(f"{process.pid}\n")
        return process

    def _start_watchdog(self) -> None:
        """A detached helper kills the cluster's processes if this one dies without ``stop()`` (kill -9)."""
        environment = {k: v for k, v in os.environ.items() if k != CLUSTER_ENV}
        environment["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
        self.watchdog = subprocess.Popen(
            [sys.executable, "-m", "crm_reconciliation_dev.cluster", "--watch", str(os.getpid()), self.mark]
            + ["--folder", str(self.work)]
            + (["--keep"] if self.keep else []),
            start_new_session=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=environment,
        )

    def log_tail(self, name: str, characters: int = 4000) -> str:
        path = self.logs_dir / f"{name}.log"
        try:
            return path.read_text(errors="replace")[-characters:]
        except OSError:
            return ""

    def _check_alive(self) -> None:
        for service in self.services:
            if service.name != "db-migrate" and service.process.poll() is not None:
                raise RuntimeError(
                    f"{service.name} exited with code {service.process.returncode}:\n{self.log_tail(service.name)}"
                )

    def _wait_for_exit(self, process: subprocess.Popen, seconds: float) -> None:
        try:
            code = process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            raise TimeoutError(f"{process.args} did not finish within {seconds} s") from None
        if code:
            raise RuntimeError(f"{' '.join(map(str, process.args))} failed ({code}):\n{self.log_tail('db-migrate')}")

    def _wait_for_redis(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            self._check_alive()
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.redis_port), 1) as probe:
                probe.sendall(b"PING\r\n")
                if probe.recv(16).startswith(b"+PONG"):
                    return
            time.sleep(0.2)
        raise TimeoutError(f"Redis did not answer on 127.0.0.1:{self.redis_port}:\n{self.log_tail('redis')}")

    def health(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.base_url}/api/v2/monitor/health", timeout=5) as response:  # noqa: S310
            return json.loads(response.read())

    def _wait_until_healthy(self) -> None:
        needed = ["metadatabase", "scheduler", "dag_processor"] + (["triggerer"] if self.triggerer else [])
        deadline, last = time.monotonic() + STARTUP_SECONDS, None
        while time.monotonic() < deadline:
            self._check_alive()
            with contextlib.suppress(OSError, ValueError):
                last = self.health()
                if all((last.get(part) or {}).get("status") == "healthy" for part in needed):
                    break
            time.sleep(1)
        else:
            raise TimeoutError(f"Airflow was not healthy within {STARTUP_SECONDS} s: {last}")
        generated = self.airflow_home / "simple_auth_manager_passwords.json.generated"
        self.password = json.loads(generated.read_text())["admin"]

    def ping_workers(self, timeout: float = 2.0) -> set[str]:
        """The Celery node names that answer a ping on the broker (``celery@crm-worker-1``, …)."""
        from celery import Celery

        app = Celery(broker=self.broker_url)
        try:
            answers = app.control.ping(timeout=timeout) or []
        finally:
            app.close()
        return {name for answer in answers for name in answer}

    def _wait_for_workers(self) -> None:
        expected = {f"celery@{name}" for name in self.worker_names}
        deadline, answered = time.monotonic() + STARTUP_SECONDS, set()
        while time.monotonic() < deadline:
            self._check_alive()
            answered = self.ping_workers()
            if expected <= answered:
                return
            time.sleep(1)
        raise TimeoutError(f"Celery workers {sorted(expected - answered)} did not answer within {STARTUP_SECONDS} s")

    def worker_stats(self) -> dict[str, Any]:
        """Celery's ``inspect stats`` per node: ``total`` counts the tasks each worker received."""
        from celery import Celery

        app = Celery(broker=self.broker_url)
        try:
            return app.control.inspect(timeout=3).stats() or {}
        finally:
            app.close()

    # --- the REST API ----------------------------------------------------------------------
    def token(self) -> str:
        """A bearer token of the admin user (Airflow's simple auth manager)."""
        status, body = self.call("POST", "/auth/token", body={"username": "admin", "password": self.password})
        if status not in (200, 201):
            raise RuntimeError(f"login failed: {status} {body}")
        return json.loads(body)["access_token"]

    def call(self, method: str, path: str, token: str | None = None, body: dict | None = None) -> tuple[int, str]:
        """One JSON request to the api-server: (status, body text), errors included."""
        from crm_reconciliation_dev.local_env import call

        return call(self.base_url, method, path, token, body)

    def wait_for_dags(self, token: str, dag_ids: Iterable[str] = OBJECT_DAGS, seconds: float = 180) -> None:
        """Until the dag-processor has parsed each DAG (the API knows it)."""
        pending, deadline = set(dag_ids), time.monotonic() + seconds
        while pending:
            self._check_alive()
            pending = {dag_id for dag_id in pending if self.call("GET", f"/api/v2/dags/{dag_id}", token)[0] != 200}
            if pending and time.monotonic() > deadline:
                raise TimeoutError(f"DAGs {sorted(pending)} were not parsed within {seconds} s")
            if pending:
                time.sleep(1)

    def diagnose(self) -> str:
        """What the metadata database is busy with: statements running for more than 2 s, and who
        blocks whom (for a run that does not finish)."""
        import psycopg

        lines = []
        try:
            with psycopg.connect(self.metadata_uri, connect_timeout=5) as db:
                for row in db.execute(
                    "select pid, application_name, state, wait_event_type, wait_event,"
                    " round(extract(epoch from now() - query_start)), left(query, 300) from pg_stat_activity"
                    " where datname = 'airflow' and pid <> pg_backend_pid() and state <> 'idle'"
                    " and now() - query_start > interval '2 seconds'"
                ):
                    lines.append("busy: " + " | ".join(map(str, row)))
                for row in db.execute(
                    "select pid, pg_blocking_pids(pid), left(query, 200) from pg_stat_activity"
                    " where datname = 'airflow' and cardinality(pg_blocking_pids(pid)) > 0"
                ):
                    lines.append("blocked: " + " | ".join(map(str, row)))
        except Exception as error:
            lines.append(f"the metadata database did not answer: {error}")
        return "\n".join(lines) or "the metadata database is idle"

    # --- stop ------------------------------------------------------------------------------
    def _excluded(self) -> set[int]:
        """Processes this one started beside the cluster's own: the database's, the watchdog."""
        pids = set(self.database.own_pids()) if self.database is not None else set()
        return pids | ({self.watchdog.pid} if self.watchdog is not None else set())

    def alive(self) -> list[Any]:
        """The cluster's processes still running (``members``), with those seen before (a task
        process orphaned since) and the children handed to this process since it started the cluster."""
        import psutil

        found = members(self.started_pids, self.mark)
        self._seen.update(found)
        found.update({pid: process for pid, process in self._seen.items() if _running(process)})
        with contextlib.suppress(psutil.Error):
            for child in psutil.Process().children():
                if child.pid not in self._children_before and _running(child):
                    found.setdefault(child.pid, child)
        excluded = self._excluded()
        return [process for pid, process in found.items() if pid not in excluded]

    def stop(self) -> list[str]:
        """Stop everything, also after a failed start; returns the processes that needed SIGKILL."""
        self.alive()  # every process as it is now, before any exits and orphans its children
        for service in self.services:  # SIGTERM: warm shutdown of the workers, clean exits of the rest
            if service.process.poll() is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(service.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + GRACE_SECONDS
        while self.alive() and time.monotonic() < deadline:
            local_env.reap_children(exclude=[service.process.pid for service in self.services])
            for service in self.services:
                service.process.poll()
            time.sleep(0.2)
        killed = kill_all(lambda: {process.pid: process for process in self.alive()})
        for service in self.services:
            with contextlib.suppress(subprocess.TimeoutExpired):
                service.process.wait(timeout=10)
        self.services = []
        for handle in self._files:
            with contextlib.suppress(OSError):
                handle.close()
        self._files = []
        if self.database is not None:
            self.database.stop()
            self.database = None
        if self.watchdog is not None:
            self.watchdog.kill()
            self.watchdog.wait()
            self.watchdog = None
        local_env.reap_children(only=self.started_pids | set(self._seen))
        if not self.keep:
            shutil.rmtree(self.work, ignore_errors=True)
        return killed


def watch(owner_pid: int, mark: str, folder: Path, keep: bool) -> None:
    """Until ``owner_pid`` ends, note the cluster's processes (every 2 s); then kill them all, and
    once the database's own watchdog has stopped it, remove ``folder`` unless ``keep``."""
    from crm_reconciliation_dev.localdb import _alive

    seen: dict[int, Any] = {}
    groups: set[int] = set()

    def find() -> dict[int, Any]:
        with contextlib.suppress(OSError, ValueError):
            groups.update(int(pid) for pid in (folder / "groups").read_text().split())
        found = members(groups, mark)
        found.update({pid: process for pid, process in seen.items() if _running(process)})
        return found

    while _alive(owner_pid):
        seen = find()
        time.sleep(2)
    kill_all(find, seconds=60)
    deadline = time.monotonic() + 60
    while (folder / "pg").exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    if not keep:
        shutil.rmtree(folder, ignore_errors=True)


def main(workers: int = 2, concurrency: int = 2) -> int:
    """``python -m crm_reconciliation_dev cluster``: a cluster until Ctrl-C."""
    local_env.exit_on_sigterm()
    cluster = LocalCluster(
        workers=workers,
        concurrency=concurrency,
        warehouse_uri=os.environ.get(local_env.CONN_ENV) or None,
        retries=True,  # as the UI command: tasks retry as in production
    )
    try:
        print(
            "Starting Redis, PostgreSQL, the api-server, scheduler, dag-processor, triggerer and "
            f"{workers} Celery workers ...",
            flush=True,
        )
        cluster.start()
        print(
            f"\nAirflow UI: {cluster.base_url}  user: admin  password: {cluster.password}\n"
            f"Warehouse (connection hubspot_postgres): {cluster.warehouse_uri}\n"
            f"Metadata database: {cluster.metadata_uri}  Broker: {cluster.broker_url}\n"
            f"Workers: {', '.join(cluster.worker_names)}  Reports: {cluster.reports_dir}\n"
            f"Logs: {cluster.logs_dir}\nStop with Ctrl-C.\n",
            flush=True,
        )
        while True:
            cluster._check_alive()
            time.sleep(2)
    except KeyboardInterrupt:
        return 0
    finally:
        local_env.ignore_interrupts()
        print("Stopping the cluster ...", flush=True)
        cluster.stop()


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Watchdog of a LocalCluster (started by LocalCluster.start).")
    parser.add_argument("--watch", nargs=2, metavar=("OWNER_PID", "MARK"), required=True)
    parser.add_argument("--folder", type=Path, required=True, help="the cluster's folder")
    parser.add_argument("--keep", action="store_true", help="keep the folder")
    arguments = parser.parse_args()
    watch(int(arguments.watch[0]), arguments.watch[1], arguments.folder, arguments.keep)
