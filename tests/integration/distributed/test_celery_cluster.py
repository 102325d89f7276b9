"""The distributed path (CeleryExecutor, as docker-compose.yaml deploys it) as local processes.

``crm_reconciliation_dev.cluster`` starts Redis, an embedded PostgreSQL (Airflow's metadata database
and Celery's result backend), the api-server, scheduler, dag-processor, triggerer and two Celery
workers, all wired to the test session's warehouse. While it starts, the four object DAGs run one
after the other twice in this process (``dag.test()``, the nightly order); then the cluster runs
them at once, triggered through the REST API (dry runs). Then: every run succeeded; the bronze and
staging tables the runs at once leave are those of the second sequential round; both workers ran
tasks (the hostname on the task instances, and Celery's own count); every report page — each DAG's
latest and each run's own — is served by the api-server; and once stopped, nothing the cluster
started is running. ``make test-distributed`` runs this module alone.

Why a second round: on a database no run has written yet, what a step reads of the other objects
depends on which of them ran first — ``held_back`` (what a conflict holds back, counted in the
referring objects' staging tables as ``score`` finds them) and the associations a push makes (to the
referenced objects' staging rows that exist when it runs). Once each object has run, both are the
same whatever the order (measured: a round in the reverse order leaves the same tables), which is
the state every nightly run meets.

Skipped when no redis-server is installed (``make redis`` installs Debian's; ``make test`` does).
"""

from __future__ import annotations

import contextlib
import json
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import psycopg
import pytest
from psycopg import sql

from crm_reconciliation.config.paths import PROJECT_ROOT
from crm_reconciliation_dev.cluster import OBJECT_DAGS, LocalCluster, RedisUnavailable, redis_server_binary
from crm_reconciliation_dev.demo_mirror import load_demo_mirror

pytestmark = pytest.mark.integration

try:
    redis_server_binary()
    NO_REDIS = None
except RedisUnavailable as missing:
    NO_REDIS = str(missing)
needs_redis = pytest.mark.skipif(NO_REDIS is not None, reason=NO_REDIS or "")

CONF = {"dry_run": True}
RUN_SECONDS = 480  # the four runs at once: 45-150 s measured on 2 cores; bounded well above
TASKS = 7  # create_staging, load_bronze, reconcile, score, approve_push, push, report
# Bookkeeping of runs rather than their results: times, durations, paths and pages of a run.
BOOKKEEPING = {"staging.reconciliation_log", "staging.reports", "staging.object_runs", "staging.api_requests"}
OWNED_SCHEMAS = ("bronze", "staging", "hubspot")
# Floating-point values (the match model's m, u and weights, learned by EM) are compared to 9 decimals,
# so that only a difference in the last bits passes. Compared exactly, 1 run of 3 found rows of contacts'
# staging.match_parameters differing (one m read 0.9999990000000001: the 1 - 1e-6 ceiling, last bit off);
# sequential rounds, also after VACUUM FULL ANALYZE, gave identical floats.
FLOATS = {"double precision", "real"}
FLOAT_DIGITS = 9

Tables = dict[str, tuple[list[str], list[tuple]]]


def snapshot(uri: str, run_ids: list[str]) -> Tables:
    """Every bronze and staging table: its compared columns and its rows, sorted — in a table with
    a run id, the rows of ``run_ids`` only (logs keep every run's). Left out: what differs from run
    to run by nature: run ids, timestamps and dates (the snapshot date is the run's day), generated
    ids (their order follows the order concurrent runs inserted in). Floats to ``FLOAT_DIGITS``."""
    tables: dict[str, tuple[list[tuple[str, bool]], str | None]] = {}
    with psycopg.connect(uri) as db:
        columns = db.execute(
            "select c.table_schema, c.table_name, c.column_name, c.data_type, c.column_default, c.is_identity"
            " from information_schema.columns as c join information_schema.tables as t"
            " using (table_schema, table_name)"
            " where c.table_schema in ('bronze', 'staging') and t.table_type = 'BASE TABLE'"
            " order by c.table_schema, c.table_name, c.ordinal_position"
        ).fetchall()
        for schema, table, column, data_type, default, identity in columns:
            kept, run_column = tables.setdefault(f"{schema}.{table}", ([], None))
            if column in ("run_id", "_run_id"):
                tables[f"{schema}.{table}"] = (kept, column)
            volatile = (
                data_type.startswith(("timestamp", "date"))
                or "run_id" in column
                or identity == "YES"
                or (default or "").startswith("nextval(")
            )
            if not volatile:
                kept.append((column, data_type in FLOATS))
        found = {}
        for name, (kept, run_column) in tables.items():
            if name in BOOKKEEPING or not kept:
                continue
            query = sql.SQL("select {} from {}").format(
                sql.SQL(", ").join(
                    sql.SQL("round({}::numeric, {})::text" if inexact else "{}::text").format(
                        sql.Identifier(column), sql.Literal(FLOAT_DIGITS)
                    )
                    for column, inexact in kept
                ),
                sql.Identifier(*name.split(".")),
            )
            if run_column:
                query += sql.SQL(" where {} = any(%s)").format(sql.Identifier(run_column))
            rows = db.execute(query, [run_ids] if run_column else None).fetchall()
            found[name] = (
                [column for column, _ in kept],
                sorted(rows, key=lambda row: [(value is None, value or "") for value in row]),
            )
    return found


def differences(expected: Tables, got: Tables) -> list[str]:
    """Per table that differs: its row counts, and the first rows found on one side only."""
    said = []
    for name in sorted(set(expected) | set(got)):
        if expected.get(name) == got.get(name):
            continue
        if name not in expected or name not in got:
            said.append(f"{name}: only in the {'runs at once' if name not in expected else 'sequential run'}")
            continue
        (columns, before), (_, after) = expected[name], got[name]
        said.append(f"{name} ({', '.join(columns)}): {len(before)} rows (sequential) vs {len(after)} (at once)")
        for side, rows, others in (("sequential", before, after), ("at once", after, before)):
            said += [f"  only {side}: {str(row)[:400]}" for row in [row for row in rows if row not in others][:4]]
    return said


@dataclass
class Outcome:
    """What the runs showed, gathered while the cluster ran; judged by the tests below."""

    sequential: Tables = field(default_factory=dict)  # the second sequential round's tables
    tables: Tables = field(default_factory=dict)  # the tables of the runs at once
    runs: dict[str, str] = field(default_factory=dict)  # dag id → run id (the runs at once)
    states: dict[str, str] = field(default_factory=dict)  # dag id → final state (and why, when not success)
    hostnames: dict[str, list[str]] = field(default_factory=dict)  # dag id → hostname of each task instance
    celery_totals: dict[str, int] = field(default_factory=dict)  # Celery node → tasks received
    pages: dict[str, tuple[int, str]] = field(default_factory=dict)  # path → (status, body)
    anonymous_status: int = 0
    worker_names: list[str] = field(default_factory=list)
    pids: set[int] = field(default_factory=set)  # every process seen of the cluster, the database's too
    killed: list[str] = field(default_factory=list)  # those that needed SIGKILL
    left: list[str] = field(default_factory=list)  # those still running after stop()
    seconds: dict[str, float] = field(default_factory=dict)
    logs: Path | None = None  # the processes' output, and both snapshots (JSON)


def quoted(run_id: str) -> str:
    return urllib.parse.quote(run_id, safe="")


def final_state(cluster: LocalCluster, token: str, dag_id: str, run_id: str, deadline: float) -> str:
    """The run's final state; when not success (or not final by ``deadline``), each task's state
    and what the metadata database is busy with. A slow answer of the API is waited for."""
    path = f"/api/v2/dags/{dag_id}/dagRuns/{quoted(run_id)}"
    state = None
    while state not in ("success", "failed") and time.monotonic() < deadline:
        try:
            state = json.loads(cluster.call("GET", path, token)[1]).get("state")
        except (OSError, ValueError) as error:  # a time-out of a loaded machine: ask again
            state = f"no answer ({error})"
        if state not in ("success", "failed"):
            time.sleep(2)
    if state == "success":
        return state
    try:
        tasks = json.loads(cluster.call("GET", f"{path}/taskInstances", token)[1]).get("task_instances", [])
    except (OSError, ValueError) as error:
        tasks = [{"task_id": "?", "state": f"no answer ({error})"}]
    said = ", ".join(f"{task['task_id']} {task['state']}" for task in tasks)
    return f"{state}: {said}\n{cluster.diagnose()}"


def clean_warehouse(database_uri: str) -> None:
    """No project schema left, and the sample mirror."""
    with psycopg.connect(database_uri, autocommit=True) as db:
        for schema in OWNED_SCHEMAS:
            db.execute(f"drop schema if exists {schema} cascade")
        load_demo_mirror(db)


def sequential_rounds(rounds: int = 2) -> list[str]:
    """The four DAGs one after the other, ``rounds`` times, in this process (``dag.test()``, the
    session's Airflow and warehouse); the last round's run ids."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(PROJECT_ROOT / "dags"))
    for _ in range(rounds):
        run_ids = []
        for dag_id in OBJECT_DAGS:
            run = bag.get_dag(dag_id).test(run_conf=CONF)
            assert str(run.state) == "success", f"{dag_id} (sequential, dag.test) ended {run.state}"
            run_ids.append(run.run_id)
    return run_ids


def at_once(cluster: LocalCluster, outcome: Outcome) -> None:
    """Trigger the four DAGs through the REST API, all before any ends; wait (bounded) for each."""
    token = cluster.token()
    cluster.wait_for_dags(token)
    for dag_id in OBJECT_DAGS:
        status, body = cluster.call("PATCH", f"/api/v2/dags/{dag_id}", token, {"is_paused": False})
        assert status == 200, body
    triggered = time.monotonic()
    for dag_id in OBJECT_DAGS:
        status, body = cluster.call(
            "POST", f"/api/v2/dags/{dag_id}/dagRuns", token, {"logical_date": None, "conf": CONF}
        )
        assert status == 200, body
        outcome.runs[dag_id] = json.loads(body)["dag_run_id"]
    deadline = triggered + RUN_SECONDS
    for dag_id, run_id in outcome.runs.items():
        outcome.states[dag_id] = final_state(cluster, token, dag_id, run_id, deadline)
    outcome.seconds["runs at once"] = time.monotonic() - triggered
    for dag_id, run_id in outcome.runs.items():
        path = f"/api/v2/dags/{dag_id}/dagRuns/{quoted(run_id)}/taskInstances"
        tasks = json.loads(cluster.call("GET", path, token)[1])["task_instances"]
        outcome.hostnames[dag_id] = [task["hostname"] or "" for task in tasks]
    outcome.celery_totals = {
        node: sum(stats.get("total", {}).values()) for node, stats in cluster.worker_stats().items()
    }
    for dag_id, run_id in outcome.runs.items():
        for page in ("latest", quoted(run_id)):
            path = f"/crm-reports/{dag_id}/{page}"
            outcome.pages[path] = cluster.call("GET", path, token)
    outcome.anonymous_status = cluster.call("GET", f"/crm-reports/{OBJECT_DAGS[0]}/latest")[0]


def stop(cluster: LocalCluster, outcome: Outcome) -> None:
    """Stop the cluster; record every process it had and those still running after."""
    outcome.pids = set(cluster.started_pids) | {process.pid for process in cluster.alive()}
    if cluster.database is not None:
        outcome.pids |= cluster.database.own_pids()
    if cluster.watchdog is not None:
        outcome.pids.add(cluster.watchdog.pid)
    stopping = time.monotonic()
    outcome.killed = cluster.stop()
    outcome.seconds["stop"] = time.monotonic() - stopping
    outcome.left = [f"{process.pid} {process.name()}" for process in cluster.alive()]
    for pid in outcome.pids:
        try:
            process = psutil.Process(pid)
            if process.status() != psutil.STATUS_ZOMBIE:
                outcome.left.append(f"{pid} {' '.join(process.cmdline())[:120]}")
        except psutil.Error:
            continue


@pytest.fixture(scope="module")
def distributed(airflow_db, database_uri, tmp_path_factory) -> Outcome:
    outcome = Outcome()
    started = time.monotonic()
    clean_warehouse(database_uri)
    logs = outcome.logs = tmp_path_factory.mktemp("cluster-logs")
    cluster = LocalCluster(workers=2, concurrency=2, logs_dir=logs, warehouse_uri=database_uri)
    outcome.worker_names = list(cluster.worker_names)
    # The cluster starts (a minute of imports in seven processes) while the sequential rounds run
    # here: it touches the warehouse only once triggered.
    with ThreadPoolExecutor(max_workers=1) as starter:
        starting = starter.submit(cluster.start)
        starting.add_done_callback(lambda _: outcome.seconds.setdefault("start", time.monotonic() - started))
        try:
            reference = sequential_rounds()
            outcome.seconds["two sequential rounds"] = time.monotonic() - started
            outcome.sequential = snapshot(database_uri, reference)
            starting.result()
            at_once(cluster, outcome)
            outcome.tables = snapshot(database_uri, list(outcome.runs.values()))
            for name, tables in (("sequential", outcome.sequential), ("at-once", outcome.tables)):
                (logs / f"{name}.json").write_text(json.dumps(tables, indent=1, ensure_ascii=False), encoding="utf-8")
        finally:
            with contextlib.suppress(Exception):
                starting.result()  # a failed start has stopped what it started; a running one is let finish
            stop(cluster, outcome)
    outcome.seconds["total"] = time.monotonic() - started
    print(
        "\ndistributed test: "
        + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in outcome.seconds.items())
        + f"; tasks per Celery worker {outcome.celery_totals}; SIGKILLed {outcome.killed}; logs in {logs}"
    )
    return outcome


@needs_redis
def test_the_four_dags_at_once_all_succeed(distributed):
    failed = {dag_id: state for dag_id, state in distributed.states.items() if state != "success"}
    assert not failed, failed
    assert set(distributed.states) == set(OBJECT_DAGS)


@needs_redis
def test_both_workers_ran_tasks(distributed):
    ran = {host for hosts in distributed.hostnames.values() for host in hosts}
    assert ran == set(distributed.worker_names), distributed.hostnames  # every task on one of the two
    for dag_id, hosts in distributed.hostnames.items():
        assert len(hosts) == TASKS, (dag_id, hosts)
    # Celery's own count agrees: each worker received some of the 28 task instances.
    assert set(distributed.celery_totals) == {f"celery@{name}" for name in distributed.worker_names}
    assert all(total > 0 for total in distributed.celery_totals.values()), distributed.celery_totals
    assert sum(distributed.celery_totals.values()) >= TASKS * len(OBJECT_DAGS)


@needs_redis
def test_staging_is_that_of_a_sequential_run(distributed):
    assert any(name.endswith("_reconciliation") and rows for name, (_, rows) in distributed.sequential.items())
    found = differences(distributed.sequential, distributed.tables)
    assert not found, "\n".join([*found, f"both snapshots: {distributed.logs}"])


@needs_redis
def test_every_report_page_is_served(distributed):
    assert len(distributed.pages) == 2 * len(OBJECT_DAGS)
    for dag_id, run_id in distributed.runs.items():
        for page in ("latest", quoted(run_id)):
            status, body = distributed.pages[f"/crm-reports/{dag_id}/{page}"]
            assert status == 200, (dag_id, page, status, body[:300])
            assert f"Run {run_id} ·" in body, (dag_id, page, body[:300])  # this run's report
    assert distributed.anonymous_status in (401, 403)  # behind Airflow's authentication


@needs_redis
def test_no_process_is_left_behind(distributed):
    assert len(distributed.pids) >= 9  # redis, api-server, scheduler, dag-processor, triggerer, 2 workers, …
    assert distributed.left == [], distributed.left


def test_the_celery_provider_is_pinned_in_the_requirements_and_the_image():
    import importlib.metadata

    pins = {}
    for name in ("requirements.txt", "constraints.txt"):
        for line in (PROJECT_ROOT / name).read_text(encoding="utf-8").splitlines():
            if line.startswith("apache-airflow-providers-celery=="):
                pins[name] = line.split("==")[1]
    assert (
        pins["requirements.txt"]
        == pins["constraints.txt"]
        == importlib.metadata.version("apache-airflow-providers-celery")
    )
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert "-r /opt/airflow/requirements/requirements.txt" in dockerfile  # the image installs the pin
