"""The main job on the embedded default: every object DAG end to end on the sample data.

Starts a throwaway PostgreSQL (unless ``AIRFLOW_CONN_HUBSPOT_POSTGRES`` names a database),
loads the sample HubSpot mirror into it (never over existing tables), runs each
``crm_reconcile_<object>`` DAG with Airflow itself (``dag.test()``, SQLite metadata DB in a
temporary AIRFLOW_HOME) and prints one line per task as it finishes, then a per-object summary.
Airflow's and the tasks' logs go to a file under ``.build/demo-logs/`` (kept, its path printed;
``--verbose`` streams them instead). Everything temporary is removed on exit, also on Ctrl-C
or failure.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Collection, Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

import pluggy

from crm_reconciliation_dev import PROJECT_ROOT, local_env
from crm_reconciliation_dev.localdb import LocalPostgres

log = logging.getLogger("crm_reconciliation_dev.demo")

LOG_DIR = PROJECT_ROOT / ".build" / "demo-logs"
# Airflow's listener marker (``airflow.listeners.hookimpl``), without importing Airflow before its settings.
hookimpl = pluggy.HookimplMarker("airflow")
KEPT_LOGS = 20  # older demo logs are removed, so that daily use does not fill the disk
# States Airflow gives a task instance without running it (a listener hears nothing of those).
NOT_RUN_STATES = ("upstream_failed", "skipped", "removed")
PROGRESS_HEADER = f"{'object':<16}{'task':<16}{'state':<16}{'rows':>8}{'seconds':>9}"


def new_log_file() -> Path:
    """A new file for this run's logs in ``.build/demo-logs`` (the system's temp folder if that is not
    writable); only the latest ``KEPT_LOGS`` demo logs are kept."""
    name = f"demo-{datetime.now():%Y%m%d-%H%M%S}-{os.getpid()}.log"
    try:
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        for old in sorted(LOG_DIR.glob("demo-*.log"))[: -(KEPT_LOGS - 1)]:
            old.unlink(missing_ok=True)
        path = LOG_DIR / name
        path.touch()
    except OSError:
        path = Path(tempfile.gettempdir()) / f"crm-recon-{name}"
        path.touch()
    return path


@contextmanager
def output_to(log_file: Path) -> Iterator[TextIO]:
    """Send everything this process and its children write to stdout and stderr (Airflow's logs,
    the tasks' logs, warnings) to ``log_file``; yield a stream to the real stdout for the progress.

    Done on the file descriptors, not on ``sys.stdout``: Airflow's log handlers keep the stream
    they were given when it configured logging. Restored on exit, so that an error's traceback
    reaches the terminal.
    """
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    saved = os.dup(1), os.dup(2)
    console = os.fdopen(os.dup(saved[0]), "w", buffering=1, encoding=sys.stdout.encoding or "utf-8", errors="replace")
    with log_file.open("ab", buffering=0) as sink:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            yield console
        finally:
            for stream in (sys.stdout, sys.stderr, console):
                with contextlib.suppress(Exception):
                    stream.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for descriptor in saved:
                os.close(descriptor)
            console.close()


def step_rows(entry: tuple[Any, Any, Any] | None) -> int | None:
    """The rows a step handled, from its ``staging.reconciliation_log`` entry (rows_loaded, rows_read,
    details): the rows loaded or read, else the records it left by status, else the pairs it scored."""
    if entry is None:
        return None
    rows_loaded, rows_read, details = entry
    for value in (rows_loaded, rows_read):
        if isinstance(value, int):
            return value
    details = details if isinstance(details, dict) else {}
    by_status = details.get("by_status")
    if isinstance(by_status, dict):
        return sum(value for value in by_status.values() if isinstance(value, int))
    for key in ("pairs", "dry_run", "updates", "overwrites"):
        if isinstance(details.get(key), int) and not isinstance(details.get(key), bool):
            return details[key]
    return None


def returned_rows(value: Any) -> int | None:
    """The rows a task handled, from its return value (a count, or a summary as steps log them)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, dict):
        return step_rows((value.get("rows_loaded"), value.get("rows_read"), value))
    return None


StepLog = Callable[[str, str, str], tuple[int | None, str | None]]


def step_log_reader(connection: Any) -> StepLog:
    """(rows, failure message) of one step of one run, from ``staging.reconciliation_log``."""
    import psycopg

    def read(object_type: str, run_id: str, step: str) -> tuple[int | None, str | None]:
        try:
            entry = connection.execute(
                "select rows_loaded, rows_read, details, message from staging.reconciliation_log"
                " where object_type = %s and run_id = %s and step = %s",
                (object_type, run_id, step),
            ).fetchone()
        except psycopg.Error:  # no staging schema yet (create_staging failed)
            return None, None
        return (step_rows(entry[:3]), entry[3]) if entry else (None, None)

    return read


class TaskProgress:
    """An Airflow listener (``airflow.sdk.listener``): one line per task instance as it finishes.

    ``dag.test()`` runs the tasks one after the other in this process, and the task runner calls
    the listeners when a task succeeds, fails or skips itself; the tasks the run ends without
    running them (upstream_failed, skipped) are read from the metadata database on the next
    call, and at the end of the run (``finish_run``). The rows come from the task's step log, else
    from its return value; a failed task's line ends with the message of its step log.
    """

    def __init__(self, console: TextIO, step_log: StepLog):
        self.console = console
        self.step_log = step_log
        self.reported: set[tuple[str, str, str]] = set()
        self.task_order: dict[str, list[str]] = {}  # dag id → task ids, in the DAG's order

    def line(
        self, dag_id: str, run_id: str, task_id: str, state: str, seconds: float | None, task_instance: Any = None
    ) -> None:
        name = dag_id.removeprefix("crm_reconcile_")
        rows, message = None, None
        try:
            rows, message = self.step_log(name, run_id, task_id)
            if rows is None and task_instance is not None and state == "success":
                rows = returned_rows(task_instance.xcom_pull(task_ids=task_id))
        except Exception as error:  # the progress line must never fail a task
            log.debug("No rows for %s: %s", task_id, error)
        self.reported.add((dag_id, run_id, task_id))
        shown_rows = "-" if rows is None else str(rows)
        shown_seconds = "-" if seconds is None else f"{seconds:.1f}"
        text = f"{name:<16}{task_id:<16}{state:<16}{shown_rows:>8}{shown_seconds:>9}"
        if message and state not in ("success", "skipped"):
            first = message.splitlines()[0]
            text += f"  {first[:117]}..." if len(first) > 120 else f"  {first}"
        print(text, file=self.console, flush=True)

    def _finished(self, task_instance: Any, state: str) -> None:
        dag_id, run_id = task_instance.dag_id, task_instance.run_id
        with contextlib.suppress(Exception):  # first the tasks the run ended without running them
            self.catch_up(dag_id, run_id, only=NOT_RUN_STATES, but=task_instance.task_id)
        start, end = getattr(task_instance, "start_date", None), getattr(task_instance, "end_date", None)
        seconds = (end - start).total_seconds() if start and end else None
        self.line(dag_id, run_id, task_instance.task_id, state, seconds, task_instance)

    def catch_up(self, dag_id: str, run_id: str, only: Collection[str] | None = None, but: str | None = None) -> None:
        """Lines for the run's task instances not reported yet (in ``only`` states; all when None),
        from Airflow's metadata database, in the DAG's order."""
        from airflow.models.dagrun import DagRun

        order = self.task_order.get(dag_id, [])
        instances = DagRun.fetch_task_instances(dag_id=dag_id, run_id=run_id)
        for ti in sorted(instances, key=lambda ti: order.index(ti.task_id) if ti.task_id in order else len(order)):
            state = str(getattr(ti.state, "value", ti.state))
            if (dag_id, run_id, ti.task_id) in self.reported or ti.task_id == but or (only and state not in only):
                continue
            seconds = (ti.end_date - ti.start_date).total_seconds() if ti.start_date and ti.end_date else None
            self.line(dag_id, run_id, ti.task_id, state, seconds)

    def start_run(self, dag: Any) -> None:
        self.task_order[dag.dag_id] = list(dag.task_ids)

    def finish_run(self, dag: Any, run_id: str) -> None:
        """Lines for the run's tasks not reported yet: those it ended without running them."""
        self.catch_up(dag.dag_id, run_id)
        for task_id in dag.task_ids:
            if (dag.dag_id, run_id, task_id) not in self.reported:
                self.line(dag.dag_id, run_id, task_id, "not created", None)

    # The listener hooks (names and arguments as in airflow.sdk._shared.listeners.spec.taskinstance).
    @hookimpl
    def on_task_instance_success(self, previous_state: Any, task_instance: Any) -> None:
        self._finished(task_instance, "success")

    @hookimpl
    def on_task_instance_failed(self, previous_state: Any, task_instance: Any, error: Any) -> None:
        state = getattr(task_instance, "state", None)
        self._finished(task_instance, "up_for_retry" if str(state).endswith("up_for_retry") else "failed")

    @hookimpl
    def on_task_instance_skipped(self, previous_state: Any, task_instance: Any) -> None:
        self._finished(task_instance, "skipped")


@contextmanager
def listening(progress: TaskProgress) -> Iterator[None]:
    """``progress`` registered as an Airflow listener for the duration of the block."""
    from airflow.sdk.listener import get_listener_manager

    manager = get_listener_manager()
    manager.add_listener(progress)
    try:
        yield
    finally:
        manager.pm.unregister(progress)  # ListenerManager has add_listener and clear (all) only


def run_dags(
    object_names: list[str], conf: dict[str, Any], console: TextIO | None = None
) -> dict[str, tuple[str, str]]:
    """Run each object's DAG once; returns object → (run id, final state).

    With ``console``, one line per task is printed there as the task finishes.
    """
    from airflow.dag_processing.dagbag import DagBag

    from crm_reconciliation.hooks.warehouse import WarehouseHook

    bag = DagBag(dag_folder=str(PROJECT_ROOT / "dags"))
    if bag.import_errors:
        raise RuntimeError(f"DAG import errors: {bag.import_errors}")
    outcomes = {}
    with ExitStack() as stack:
        progress = None
        if console is not None:
            connection = stack.enter_context(WarehouseHook().get_conn())
            connection.autocommit = True
            progress = TaskProgress(console, step_log_reader(connection))
            stack.enter_context(listening(progress))
            print(PROGRESS_HEADER, file=console, flush=True)
        for name in object_names:
            dag = bag.get_dag(f"crm_reconcile_{name}")
            if progress is not None:
                progress.start_run(dag)
            run = dag.test(run_conf=conf)
            if progress is not None:
                progress.finish_run(dag, run.run_id)
            outcomes[name] = (run.run_id, str(run.state))
    return outcomes


STATUSES = ("matched", "conflict", "probable", "new", "rejected")


def summary(outcomes: dict[str, tuple[str, str]]) -> str:
    """Per object: the run's state, the load counts it logged, and the reconciliation it left."""
    from psycopg import sql

    from crm_reconciliation.config.registry import default_registry
    from crm_reconciliation.hooks.warehouse import WarehouseHook
    from crm_reconciliation.report.render import reports_dir

    load = [f"{'object':<16}{'state':<10}{'read':>8}{'loaded':>8}{'rejected':>10}{'deleted':>9}  file"]
    reconciliation = [
        f"{'object':<16}" + "".join(f"{status:>10}" for status in STATUSES) + f"{'to update':>11}{'properties':>12}"
    ]
    pushed = [f"{'object':<16}payloads recorded in staging.push_log by this run"]
    with WarehouseHook().get_conn() as connection, connection.cursor() as cursor:
        for name, (run_id, state) in outcomes.items():
            cursor.execute(
                "select rows_read, rows_loaded, rows_rejected, rows_deleted, source"
                " from staging.reconciliation_log where object_type = %s and run_id = %s and step = 'load_bronze'",
                (name, run_id),
            )
            row = ["-" if value is None else value for value in cursor.fetchone() or [None] * 5]
            load.append(f"{name:<16}{state:<10}{row[0]:>8}{row[1]:>8}{row[2]:>10}{row[3]:>9}  {row[4]}")
            staging_table = default_registry().get(name).staging_table
            table = sql.Identifier("staging", staging_table)
            cursor.execute("select to_regclass(%s) is not null", (f"staging.{staging_table}",))
            if not cursor.fetchone()[0]:
                continue
            cursor.execute(
                sql.SQL(
                    "select {}, count(*) filter (where reconciliation_status = 'matched'"
                    " and properties_to_update <> '{{}}'),"
                    " coalesce(sum((select count(*) from jsonb_object_keys(properties_to_update)))"
                    " filter (where reconciliation_status = 'matched'), 0) from {}"
                ).format(
                    sql.SQL(", ").join(
                        sql.SQL("count(*) filter (where reconciliation_status = {})").format(sql.Literal(status))
                        for status in STATUSES
                    ),
                    table,
                )
            )
            counts = cursor.fetchone()
            cursor.execute(
                "select coalesce(string_agg(outcome || ' ' || rows, ', ' order by outcome), 'nothing to push')"
                " from (select outcome, count(*) as rows from staging.push_log"
                " where object_type = %s and run_id = %s group by outcome) as outcomes",
                (name, run_id),
            )
            pushed.append(f"{name:<16}{cursor.fetchone()[0]}")
            reconciliation.append(
                f"{name:<16}" + "".join(f"{value:>10}" for value in counts[:5]) + f"{counts[5]:>11}{counts[6]:>12}"
            )
    return "\n".join(
        [
            "Load (bronze):",
            *load,
            "Rejected rows, with file, line and reason: SELECT * FROM staging.bronze_rejects;",
            "",
            "Reconciliation (records by status; matched records and their properties to update in HubSpot):",
            *reconciliation,
            "Details: SELECT * FROM staging.<object>_reconciliation; HubSpot records whose legacy id has no live"
            " legacy row: staging.<object>_orphans.",
            "",
            "Push (a run without a workflow_api connection, as here, is a dry run: nothing is sent):",
            *pushed,
            "",
            f"Reports (self-contained HTML): {reports_dir()}/<object>/latest.html",
        ]
    )


def main(object_names: list[str], conf: dict[str, Any], keep: bool = False, verbose: bool = False) -> int:
    local_env.exit_on_sigterm()
    # The database's server, once pg_ctl has returned, is then this process's child: waited for when
    # it stops, instead of left to PID 1 (which, on some machines, never reaps it).
    local_env.become_subreaper()
    log_file = None if verbose else new_log_file()
    if log_file:
        print(f"Logs (Airflow's and the tasks', kept after the demo): {log_file}", flush=True)
    with ExitStack() as cleanup:
        console = sys.stdout if log_file is None else cleanup.enter_context(output_to(log_file))

        def say(text: str) -> None:
            print(text, file=console, flush=True)

        try:
            return _run(cleanup, say, console, object_names, conf, keep, log_file)
        except BaseException as error:
            if log_file:
                if isinstance(error, KeyboardInterrupt | SystemExit):
                    say(f"Interrupted: cleaning up. The logs: {log_file}")
                else:
                    say(f"The demo failed ({type(error).__name__}: {error}). The logs: {log_file}")
            raise
        finally:
            local_env.ignore_interrupts()  # the clean-up (stopping the database) is not cut short


def _run(
    cleanup: ExitStack,
    say: Callable[[str], None],
    console: TextIO,
    object_names: list[str],
    conf: dict[str, Any],
    keep: bool,
    log_file: Path | None,
) -> int:
    database_uri = os.environ.get(local_env.CONN_ENV)
    where = f"your {local_env.CONN_ENV}"
    if not database_uri:
        database = cleanup.enter_context(LocalPostgres(keep=keep))
        database_uri = database.uri
        where = f"embedded PostgreSQL {database_uri} (data in {database.base_dir})"
    airflow_home = Path(tempfile.mkdtemp(prefix="crm-recon-airflow-"))
    if not keep:
        cleanup.callback(shutil.rmtree, airflow_home, ignore_errors=True)
    local_env.apply(local_env.airflow_environment(airflow_home, database_uri))
    say(f"Database: {where}")
    say(f"Airflow home ({'kept' if keep else 'temporary'}): {airflow_home}")

    from crm_reconciliation.hooks.warehouse import WarehouseHook
    from crm_reconciliation_dev.demo_mirror import load_demo_mirror

    with WarehouseHook().get_conn() as connection:
        loaded = load_demo_mirror(connection)
    say(
        "Sample HubSpot mirror: "
        + ", ".join(
            f"hubspot.{table} {'kept (exists)' if rows < 0 else f'{rows} rows'}" for table, rows in loaded.items()
        )
    )
    local_env.migrate_metadata_db()
    say("")
    outcomes = run_dags(object_names, conf, console)
    say("\n=== crm-reconciliation demo summary ===")
    say(summary(outcomes))
    failed = [name for name, (_, state) in outcomes.items() if state != "success"]
    if log_file:
        say(f"Logs: {log_file}")
    if failed:
        say(f"FAILED: {', '.join(failed)}" + (f" (the tasks' logs: {log_file})" if log_file else ""))
        return 1
    return 0
