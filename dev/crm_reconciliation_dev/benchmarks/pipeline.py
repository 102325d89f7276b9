"""The benchmark: every step of the DAGs at scale, next to the physical floor and the old approach.

Generates deterministic legacy exports and a HubSpot mirror (``crm_reconciliation_dev.sample_data``,
same seed, same files), then runs each DAG's real tasks, one child process per task as a
worker would, and prints per step: wall time, rows per second, the task process's peak RSS
and the database size. Beside the load, on the same file and database: a bare COPY into an
unlogged table (the floor) and the legacy scripts' way (pandas.read_csv, then row-wise
inserts) on a subset, scaled. The same steps run first at a small size, to show that memory
does not grow with the data. Last, the parse time of each DAG file, measured as Airflow's DAG
processor measures it (a fresh process per file, DagBag's own timing).

Run: ``make bench`` (1,000,000 legacy vs ~1,000,000 HubSpot companies), ``make bench
ARGS=--quick``, or ``python -m crm_reconciliation_dev.benchmarks.pipeline --contacts 2000000 --deals 1000000
--communications 5000000``. ``--write docs/benchmarks.md`` writes the tables there.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from crm_reconciliation_dev import PROJECT_ROOT as ROOT
from crm_reconciliation_dev import local_env
from crm_reconciliation_dev.sample_data import Sizes, generate

STEPS = ("create_staging", "load_bronze", "reconcile", "score", "approve_push", "push", "report")
OBJECTS = ("companies", "contacts", "deals", "communications")
PUSH_PARAMS = {"push_target": "hubspot", "dry_run": False, "require_approval": False}
INTRO = """# Benchmarks

What the DAGs cost at scale, measured by `crm_reconciliation_dev.benchmarks.pipeline` (`make bench`);
everything below the line is that module's output
(`python -m crm_reconciliation_dev.benchmarks.pipeline --write docs/benchmarks.md`), unedited.

- Data: deterministic (`crm_reconciliation_dev.sample_data`, fixed seed): legacy exports in the
  shapes real ones take (BOM, Windows-1252 and semicolons for persons, ids written `123.0`,
  quoted multi-line notes) and a HubSpot mirror where each legacy record has a fate (linked and
  agreeing, stale, linked twice, on another entity, typed by hand without its id, absent).
- Steps: each task of the object's DAG runs in its own process (rendered with the DAG's
  params, as a worker would run it): wall time of `execute`, the process's peak RSS, the
  database size after it. Push goes to a local HubSpot stand-in on 127.0.0.1 that enforces
  HubSpot's 190 requests / 10 s.
- Side by side, same file and database: the floor is a bare `COPY ... FROM STDIN` of the
  file into an unlogged all-text table; the old approach is `pandas.read_csv` + inserts, as the
  legacy scripts did, timed on a subset and scaled linearly.
- Rerun: `make bench` (default sizes), `make bench ARGS=--quick` (a minute), or e.g.
  `make bench ARGS="--contacts 2000000 --deals 1000000 --communications 5000000"`.
  The machine is shared: compare ratios within one run rather than absolute times across runs.

---

"""


@dataclass
class Step:
    name: str
    step: str
    rows: int | None
    seconds: float
    peak_rss_mb: float
    db_size_mb: float
    summary: dict = field(default_factory=dict)

    @property
    def rows_per_second(self) -> float | None:
        return self.rows / self.seconds if self.rows and self.seconds else None


@dataclass
class Comparison:
    name: str
    label: str
    rows: int
    seconds: float
    measured_rows: int | None = None  # set when timed on a subset and scaled to ``rows``


@dataclass
class Run:
    sizes: Sizes
    generate_seconds: float = 0.0
    mirror_rows: dict[str, int] = field(default_factory=dict)
    steps: list[Step] = field(default_factory=list)
    comparisons: list[Comparison] = field(default_factory=list)
    push_floor: dict[str, float] = field(default_factory=dict)
    match_floor: dict[str, float] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# Children: one task, or one DAG file's parse, in a fresh process.


def child_task(name: str, task_id: str, params: str) -> None:
    from crm_reconciliation.config.registry import default_registry
    from crm_reconciliation.dag_factory import build_dag

    dag = build_dag(default_registry(), name)
    started = time.perf_counter()
    summary = local_env.run_task(dag, task_id, run_id="bench", params=json.loads(params))
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "peak_rss_mb": peak_rss_mb(), "summary": summary}, default=str))


def peak_rss_mb() -> float:
    """This process's own peak RSS (VmHWM). Not ru_maxrss: Linux carries that over from the
    parent through fork and exec, so a child of a large parent would report the parent's size."""
    status = Path("/proc/self/status").read_text()
    if "VmHWM:" not in status:  # not Linux
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return int(status.split("VmHWM:", 1)[1].split()[0]) / 1024


def child_parse(path: str) -> None:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=path, safe_mode=False)
    if bag.import_errors:
        raise SystemExit(f"{path}: {bag.import_errors}")
    stat = bag.dagbag_stats[0]
    print(
        json.dumps(
            {
                "file": Path(path).name,
                "seconds": stat.duration.total_seconds(),
                "dags": stat.dag_num,
                "tasks": stat.task_num,
            }
        )
    )


def _child(*arguments: str, environment: dict[str, str] | None = None) -> dict:
    result = subprocess.run(
        [sys.executable, __file__, *arguments],
        capture_output=True,
        text=True,
        check=False,
        env=environment or os.environ.copy(),
    )
    if result.returncode:
        raise RuntimeError(f"{' '.join(arguments)} failed:\n{result.stderr[-6000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------------------
# The side-by-side measures of the load.


def copy_floor(uri: str, path: Path) -> float:
    """A bare COPY of the file's bytes into an unlogged all-text table: the physical floor."""
    import psycopg
    from psycopg import sql

    from crm_reconciliation.load.dialect import sniff
    from crm_reconciliation.load.loader import POSTGRES_ENCODINGS

    fmt = sniff(path)
    table = sql.Identifier("public", "bench_floor")
    with psycopg.connect(uri) as connection:
        connection.execute(sql.SQL("drop table if exists {}").format(table))
        connection.execute(
            sql.SQL("create unlogged table {} ({})").format(
                table,
                sql.SQL(", ").join(sql.SQL("{} text").format(sql.Identifier(f"c{i}")) for i in range(len(fmt.header))),
            )
        )
        connection.commit()
        started = time.perf_counter()
        statement = sql.SQL("copy {} from stdin (format csv, header true, delimiter {}, encoding {})").format(
            table, sql.Literal(fmt.delimiter), sql.Literal(POSTGRES_ENCODINGS[fmt.encoding])
        )
        with connection.cursor() as cursor, path.open("rb") as handle, cursor.copy(statement) as copy:
            while chunk := handle.read(1 << 20):
                copy.write(chunk)
        connection.commit()
        seconds = time.perf_counter() - started
        connection.execute(sql.SQL("drop table {}").format(table))
    return seconds


def match_floor(uri: str, spec: object) -> float:
    """A bare hash join of the bronze table and the mirror on the parsed legacy id, into a temp
    table: what linking by id costs at the least, before any value is compared."""
    import psycopg
    from psycopg import sql

    statement = sql.SQL(
        "create temp table bench_links as select bronze_row.{legacy_id}, mirror.{hubspot_id}"
        " from {bronze} as bronze_row inner join {mirror} as mirror"
        " on staging.crm_legacy_id(bronze_row.{legacy_id}) = staging.crm_legacy_id(mirror.{legacy_property}::text)"
    ).format(
        legacy_id=sql.Identifier(spec.legacy_id_column.lower()),
        hubspot_id=sql.Identifier(spec.hubspot_id_column),
        bronze=sql.Identifier("bronze", spec.bronze_table),
        mirror=sql.Identifier("hubspot", spec.hubspot_table),
        legacy_property=sql.Identifier(spec.legacy_id_property),
    )
    with psycopg.connect(uri) as connection:
        started = time.perf_counter()
        connection.execute(statement)
        seconds = time.perf_counter() - started
        connection.rollback()
    return seconds


def old_approach(uri: str, path: Path, subset: int) -> dict[str, float]:
    """The legacy scripts' way on the first ``subset`` rows: pandas.read_csv, then inserts.

    ``to_sql``: DataFrame.to_sql through SQLAlchemy (its defaults); ``executemany``: one INSERT
    per row through psycopg2's executemany. Both start from read_csv, as the scripts did.
    """
    import pandas as pd
    import psycopg2
    import sqlalchemy

    from crm_reconciliation.load.dialect import sniff

    fmt = sniff(path)

    def read() -> pd.DataFrame:
        return pd.read_csv(
            path, sep=fmt.delimiter, encoding=fmt.encoding, dtype=str, nrows=subset, keep_default_na=False
        )

    engine = sqlalchemy.create_engine(uri.replace("postgresql://", "postgresql+psycopg2://", 1))
    started = time.perf_counter()
    read().to_sql("bench_old_to_sql", engine, schema="public", if_exists="replace", index=False)
    to_sql = time.perf_counter() - started
    engine.dispose()

    connection = psycopg2.connect(uri)
    try:
        with connection.cursor() as cursor:
            started = time.perf_counter()
            frame = read()
            columns = ", ".join(f"c{i} text" for i in range(len(frame.columns)))
            cursor.execute(
                f"drop table if exists public.bench_old_rows; create table public.bench_old_rows ({columns})"
            )
            placeholders = ", ".join(["%s"] * len(frame.columns))
            cursor.executemany(
                f"insert into public.bench_old_rows values ({placeholders})",  # noqa: S608 - placeholders only
                frame.itertuples(index=False, name=None),
            )
            connection.commit()
            executemany = time.perf_counter() - started
            cursor.execute("drop table public.bench_old_to_sql; drop table public.bench_old_rows")
            connection.commit()
    finally:
        connection.close()
    return {"to_sql": to_sql, "executemany": executemany, "rows": float(len(frame))}


# ---------------------------------------------------------------------------------------------
# One pipeline: generate, then every DAG's tasks in order.


def database_size_mb(uri: str) -> float:
    import psycopg

    with psycopg.connect(uri) as connection:
        return connection.execute("select pg_database_size(current_database())").fetchone()[0] / 2**20


def count_rows(uri: str, query: str) -> int:
    import psycopg

    with psycopg.connect(uri) as connection:
        return connection.execute(query).fetchone()[0]


def portal_records(connection: object, name: str) -> dict[str, dict[str, dict]]:
    """The records the mirror holds, as the local HubSpot stand-in starts (object → id → properties):
    a strict portal refuses updates to records it does not have. A legacy id stays on one record
    (it is unique); an activity goes to the object its values pick (the registry's activities)."""
    from crm_reconciliation.config.registry import default_registry

    spec = default_registry().get(name)
    records: dict[str, dict[str, dict]] = {}
    seen: set[str] = set()
    cursor = connection.execute(f"select * from hubspot.{spec.hubspot_table}")  # noqa: S608
    columns = [column.name for column in cursor.description]
    for values in cursor:
        row = dict(zip(columns, values, strict=True))
        legacy = (row.get(spec.legacy_id_property) or "").strip().removesuffix(".0")
        target = spec.api_object
        if spec.activities:
            picked = [(row.get(p) or "").lower() for p in spec.activities.picked_by]
            target = next(
                (o for v in picked for o, a in spec.activities.objects.items() if v in {w.lower() for w in a.when}),
                spec.activities.default,
            )
        keep = legacy.isdigit() and legacy not in seen
        seen.add(legacy)
        records.setdefault(target, {})[row["hs_object_id"]] = {spec.legacy_id_property: legacy} if keep else {}
    return records


def pipeline(sizes: Sizes, side_by_side: bool, old_subset: int, label: str) -> Run:
    import psycopg

    from crm_reconciliation.config.registry import default_registry
    from crm_reconciliation_dev.demo_mirror import load_demo_mirror
    from crm_reconciliation_dev.fake_hubspot import FakeCrm

    registry = default_registry()
    run = Run(sizes=sizes)
    with tempfile.TemporaryDirectory(prefix="crm-recon-bench-") as folder:
        bronze_dir, mirror_dir = Path(folder) / "bronze", Path(folder) / "mirror"
        started = time.perf_counter()
        generate(bronze_dir, mirror_dir, sizes, faults=False)
        run.generate_seconds = time.perf_counter() - started
        log(f"[{label}] generated {sizes} in {run.generate_seconds:.1f} s")
        with local_env.throwaway_stack() as uri:
            with psycopg.connect(uri) as connection:
                run.mirror_rows = load_demo_mirror(connection, folder=mirror_dir, replace=True)
                seed: dict[str, dict[str, dict]] = {}
                for name in OBJECTS:
                    for api_object, records in portal_records(connection, name).items() if getattr(sizes, name) else ():
                        seed.setdefault(api_object, {}).update(records)
            with FakeCrm(seed=seed) as crm:
                environment = {
                    **os.environ,
                    "AIRFLOW_CONN_HUBSPOT_API": json.dumps(
                        {
                            "conn_type": "http",
                            "host": crm.url.removeprefix("http://"),
                            "schema": "http",
                            "password": crm.token,
                        }
                    ),
                }
                params = {**PUSH_PARAMS, "bronze_dir": str(bronze_dir)}
                for name in OBJECTS:
                    if not getattr(sizes, name):
                        continue
                    spec = registry.get(name)
                    for task_id in STEPS:
                        measured = _child("--task", name, task_id, json.dumps(params), environment=environment)
                        summary = measured["summary"] if isinstance(measured["summary"], dict) else {}
                        loaded = count_rows(uri, f"select count(*) from bronze.{spec.bronze_table}")  # noqa: S608
                        rows = {
                            "create_staging": None,
                            "load_bronze": summary.get("rows_read"),
                            "push": (summary.get("updates") or {}).get("selected"),
                        }.get(task_id, loaded)
                        step = Step(
                            name,
                            task_id,
                            rows,
                            measured["seconds"],
                            measured["peak_rss_mb"],
                            database_size_mb(uri),
                            summary,
                        )
                        run.steps.append(step)
                        log(
                            f"[{label}] {name} {task_id}: {step.seconds:.2f} s, rows {rows}, "
                            f"peak RSS {step.peak_rss_mb:.0f} MB, database {step.db_size_mb:.0f} MB"
                        )
                        if task_id == "load_bronze" and side_by_side:
                            side(run, uri, name, bronze_dir / spec.csv_file, step, params, environment, old_subset)
                        if task_id == "score":
                            run.match_floor[name] = match_floor(uri, spec)
                            log(f"[{label}] {name} floor (hash join on the legacy id): {run.match_floor[name]:.2f} s")
                        if task_id == "push":
                            limit = registry.defaults.push_max_requests / registry.defaults.push_window_seconds
                            # One request a batch (verify=mirror, the default): the update itself.
                            run.push_floor[name] = limit * registry.defaults.push_batch_size
    return run


def side(
    run: Run, uri: str, name: str, path: Path, ours: Step, params: dict, environment: dict, old_subset: int
) -> None:
    rows = ours.rows or 0
    run.comparisons.append(Comparison(name, "floor: bare COPY into an unlogged table", rows, copy_floor(uri, path)))
    run.comparisons.append(Comparison(name, "load_bronze (COPY path)", rows, ours.seconds))
    parsed = _child("--task", name, "load_bronze", json.dumps({**params, "limit": rows + 1}), environment=environment)
    run.comparisons.append(
        Comparison(name, "load_bronze, record by record (a malformed record triggers it)", rows, parsed["seconds"])
    )
    old = old_approach(uri, path, min(old_subset, rows))
    measured = int(old["rows"])
    for key, label in (("to_sql", "old: read_csv + DataFrame.to_sql"), ("executemany", "old: read_csv + executemany")):
        run.comparisons.append(Comparison(name, label, rows, old[key] * rows / measured, measured))
    log(f"[side by side] {name}: " + ", ".join(f"{c.label} {c.seconds:.1f} s" for c in run.comparisons[-5:]))


def parse_times() -> list[dict]:
    with tempfile.TemporaryDirectory(prefix="crm-recon-parse-") as folder:
        environment = {**os.environ, **local_env.airflow_environment(Path(folder), "postgresql://unused")}
        return [_child("--parse", str(path), environment=environment) for path in sorted((ROOT / "dags").glob("*.py"))]


# ---------------------------------------------------------------------------------------------
# Output.


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def machine() -> list[str]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory_kb = next(
        int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")
    )
    from crm_reconciliation_dev.localdb import postgres_bin_dir

    postgres = subprocess.run(
        [str(postgres_bin_dir() / "postgres"), "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return [
        f"- Machine: {cpu}, {os.cpu_count()} cores, {memory_kb / 2**20:.0f} GiB RAM, {platform.platform()}",
        f"- Python {platform.python_version()}, {postgres} (embedded, default settings), Airflow "
        f"{__import__('airflow').__version__}",
        f"- Run at {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; command: "
        f"`python -m crm_reconciliation_dev.benchmarks.pipeline {' '.join(sys.argv[1:])}`",
    ]


def fmt_rate(value: float | None) -> str:
    return f"{value:,.0f}" if value else "–"


def report(full: Run, small: Run | None, parses: list[dict], args: argparse.Namespace) -> list[str]:
    out = ["## Machine", "", *machine(), ""]
    out += [
        "## Data",
        "",
        "| object | legacy rows | HubSpot mirror rows |",
        "|---|---:|---:|",
    ]
    mirror_tables = {
        "companies": "companies",
        "contacts": "contacts",
        "deals": "deals",
        "communications": "engagements",
    }
    for name in OBJECTS:
        if getattr(full.sizes, name):
            out.append(f"| {name} | {getattr(full.sizes, name):,} | {full.mirror_rows.get(mirror_tables[name], 0):,} |")
    out += ["", f"Generated in {full.generate_seconds:.1f} s (not part of any step).", ""]

    out += [
        "## Steps (the DAG's tasks, one process each)",
        "",
        "| object | step | rows | wall time (s) | rows/s | peak RSS (MB) | database after (MB) |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for step in full.steps:
        out.append(
            f"| {step.name} | {step.step} | {step.rows or 0:,} | {step.seconds:.2f} | {fmt_rate(step.rows_per_second)} "
            f"| {step.peak_rss_mb:.0f} | {step.db_size_mb:,.0f} |"
        )
    out += [
        "",
        "## Reconcile and score, next to a floor (same database, same run)",
        "",
        "The floor is a bare hash join of the bronze table and the mirror on the parsed legacy id.",
        "",
        "| object | legacy rows | reconcile (s) | score (s) | together (s) | floor (s) | together / floor |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, floor in full.match_floor.items():
        reconcile = next(s for s in full.steps if s.name == name and s.step == "reconcile")
        score = next(s for s in full.steps if s.name == name and s.step == "score")
        together = reconcile.seconds + score.seconds
        out.append(
            f"| {name} | {reconcile.rows or 0:,} | {reconcile.seconds:.1f} | {score.seconds:.1f} | {together:.1f} "
            f"| {floor:.2f} | {together / floor:.0f}× |"
        )
    out += ["", "## Load, side by side (same file, same database, same run)", ""]
    out += [
        "| object | method | rows | wall time (s) | rows/s | floor time / this time |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for name in OBJECTS:
        rows = [c for c in full.comparisons if c.name == name]
        if not rows:
            continue
        floor = rows[0].seconds
        for comparison in rows:
            scaled = f" (timed on {comparison.measured_rows:,}, scaled)" if comparison.measured_rows else ""
            out.append(
                f"| {name} | {comparison.label}{scaled} | {comparison.rows:,} | {comparison.seconds:,.2f} "
                f"| {comparison.rows / comparison.seconds:,.0f} | {floor / comparison.seconds:.2f} |"
            )
        ours = rows[1].seconds
        load = next(s for s in full.steps if s.name == name and s.step == "load_bronze")
        phases = ", ".join(f"{phase} {seconds:.2f} s" for phase, seconds in load.summary.get("seconds", {}).items())
        out.append("")
        out.append(f"{name}: load_bronze took the `{load.summary.get('method')}` path; its phases: {phases}.")
        out.append(
            f"{name}: load_bronze reaches **{floor / ours:.2f}** of the floor's throughput (goal ≥ 0.8); the old "
            f"approach is **{rows[3].seconds / ours:.0f}×** (to_sql) and **{rows[4].seconds / ours:.0f}×** "
            "(executemany) slower than load_bronze (expected ≥ 20×)."
        )
        out.append("")
    out += [
        "## Push against the rate limit",
        "",
        "| object | updates | wall time (s) | updates/s "
        "| floor: 190 requests / 10 s × 100 per batch, one request a batch (verify=mirror) "
        "| fraction (the whole task, its plan included) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for step in full.steps:
        if step.step == "push" and step.rows:
            floor = full.push_floor[step.name]
            out.append(
                f"| {step.name} | {step.rows:,} | {step.seconds:.1f} | {step.rows_per_second:,.0f} "
                f"| {floor:,.0f} | {step.rows_per_second / floor:.2f} |"
            )
    if small:
        out += [
            "",
            f"## Memory: peak RSS per task at {args.small:,} and at full size",
            "",
            "| object | step | rows (small) | peak RSS small (MB) | rows (full) | peak RSS full (MB) | full / small |",
            "|---|---|---:|---:|---:|---:|---:|",
        ]
        small_steps = {(s.name, s.step): s for s in small.steps}
        for step in full.steps:
            other = small_steps.get((step.name, step.step))
            if other:
                out.append(
                    f"| {step.name} | {step.step} | {other.rows or 0:,} | {other.peak_rss_mb:.0f} | {step.rows or 0:,} "
                    f"| {step.peak_rss_mb:.0f} | {step.peak_rss_mb / other.peak_rss_mb:.2f} |"
                )
    out += [
        "",
        "## DAG parse time (a fresh process per file, DagBag's own timing, as the DAG processor)",
        "",
        "| file | DAGs | tasks | parse time (s) |",
        "|---|---:|---:|---:|",
    ]
    for parsed in parses:
        out.append(f"| dags/{parsed['file']} | {parsed['dags']} | {parsed['tasks']} | {parsed['seconds']:.3f} |")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--companies", type=int, default=1_000_000)
    parser.add_argument("--contacts", type=int, default=0)
    parser.add_argument("--deals", type=int, default=0)
    parser.add_argument("--communications", type=int, default=0)
    parser.add_argument(
        "--small", type=int, default=100_000, help="rows per object of the memory comparison run (0: skip)"
    )
    parser.add_argument("--old-subset", type=int, default=50_000, help="rows the old approach is timed on")
    parser.add_argument("--quick", action="store_true", help="20,000 companies, small run 2,000: a minute or so")
    parser.add_argument("--write", type=Path, help="also write the tables to this markdown file")
    parser.add_argument("--task", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--parse", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.task:
        child_task(*args.task)
        return
    if args.parse:
        child_parse(args.parse)
        return
    if args.quick:
        args.companies, args.small, args.old_subset = 20_000, 2_000, 5_000
        args.contacts, args.deals, args.communications = (
            min(n, 20_000) for n in (args.contacts, args.deals, args.communications)
        )
    sizes = Sizes(args.companies, args.contacts, args.deals, args.communications)
    small = None
    if args.small:
        small_sizes = Sizes(
            *(min(n, args.small) for n in (args.companies, args.contacts, args.deals, args.communications))
        )
        small = pipeline(small_sizes, side_by_side=False, old_subset=0, label="small")
    full = pipeline(sizes, side_by_side=True, old_subset=args.old_subset, label="full")
    lines = report(full, small, parse_times(), args)
    print("\n".join(lines))
    if args.write:
        args.write.write_text(INTRO + "\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
