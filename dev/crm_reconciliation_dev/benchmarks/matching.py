"""Probable-match benchmark: quality on labelled data, and the time it takes at scale.

Quality: deterministic labelled companies, contacts and deals (``benchmarks/matching_data.py``:
name variants, legal forms, accents, typos, swapped names, changed e-mail domains, rounded
amounts, missing close dates; decoys: group companies, colleagues, shared mailboxes, namesakes,
other deals of the same company) run through the real reconcile and score SQL; prints precision,
recall and F1 of the probable links and of the ``new`` decisions, then for companies and
contacts our links side by side with Splink 5's on the same records and fields
(``benchmarks/labelled_splink.py``; ``--no-splink`` skips it).
Scale (``--scale``): N unlinked legacy companies against M HubSpot companies through the DAG's
reconcile and score tasks; prints wall times and the peak temporary space the database used.
FEBRL 4 (``--febrl-records``, all 5,000 pairs by default): the contacts DAG's tasks with the
shipped config, Splink 5 as its own FEBRL 4 example sets it up, and GoldenMatch 3.22 zero-config
and told to use every field, on the same records and fields (``benchmarks/febrl_splink.py``,
``benchmarks/febrl_goldenmatch.py``; ``--no-goldenmatch`` skips GoldenMatch, whose
auto-configuration takes minutes). ``--quick``: a few minutes. Run: ``make bench-matching``.
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading
import time

from crm_reconciliation_dev import local_env
from crm_reconciliation_dev.benchmarks import febrl_goldenmatch
from crm_reconciliation_dev.benchmarks import matching_data as matching_benchmark
from crm_reconciliation_dev.benchmarks.febrl_splink import (
    DAG_SYSTEM,
    FIELDS_NOTE,
    NOT_RUN,
    SPLINK_EXAMPLE_NOTE,
    Row,
    dag_configuration,
    load,
    print_systems,
    run_dag,
    run_splink_example,
)
from crm_reconciliation_dev.benchmarks.febrl_splink import (
    GOAL as FEBRL_GOAL,
)

WORDS = (
    "array['Alpine','Dauphine','Vercors','Chartreuse','Belledonne','Isere','Rhone','Savoie','Leman','Drac',"
    "'Microtechnique','Photonique','Robotique','Electronique','Capteurs','Systemes','Ingenierie','Optique',"
    "'Mecatronique','Instruments','Laser','Silicium','Energie','Hydraulique','Numerique','Precision']"
)
NAME = (
    f"({WORDS})[1 + abs(hashtext(n::text || 'a')) %% 26] || ' ' || ({WORDS})[1 + abs(hashtext(n::text || 'b')) %% 26]"
    " || ' ' || initcap(substr(md5(n::text), 1, 6))"
)

LEGACY = f"""
insert into bronze.company (comp_companyid, comp_name, comp_website, comp_phonenumber, addr_city, _snapshot_date)
select n, {NAME} || ' SAS', 'https://www.' || substr(md5(n::text), 1, 10) || '.fr',
    '04 76 ' || lpad((n %% 100)::text, 2, '0') || ' ' || lpad((n / 100 %% 100)::text, 2, '0') || ' '
        || lpad((n / 10000 %% 100)::text, 2, '0'),
    (array['Grenoble', 'Crolles', 'Meylan', 'Lyon', 'Voiron'])[1 + n %% 5], date '2026-01-01'
from generate_series(1, %(legacy)s) as n
"""  # noqa: S608 - constant SQL made of constant fragments

# Records past the twins describe other companies (their seed m is far from any legacy id).
MIRROR = f"""
create table hubspot.companies as
select
    (10000000 + m)::text as hs_object_id,
    null::text as icalps_company_id,
    case
        when n <= %(twins)s and n %% 10 = 0 then overlay(upper({NAME}) placing 'X' from 8 for 1)
        when n <= %(twins)s then upper({NAME})
        else {NAME}
    end as name,
    case when n %% 7 = 0 then null else substr(md5(n::text), 1, 10) || '.fr' end as domain,
    case when n %% 5 = 0 then null else '+33476' || lpad((n %% 100)::text, 2, '0')
        || lpad((n / 100 %% 100)::text, 2, '0') || lpad((n / 10000 %% 100)::text, 2, '0') end as phone,
    (array['Grenoble', 'Crolles', 'Meylan', 'Lyon', 'Voiron'])[1 + n %% 5] as city
from (
    select case when m <= %(twins)s then m else m + 50000000 end as n, m
    from generate_series(1, %(hubspot)s) as m
) as seeds
"""  # noqa: S608 - constant SQL made of constant fragments


GOAL = "goal: precision \u2265 99.5 %, recall \u2265 97 % for every object"


def quality(uri: str, size: int, splink: bool = True) -> list[str]:
    """The quality table of our pipeline, then (``splink``) each dataset side by side with Splink;
    returns the names of the runs that failed (each printed as a failed row)."""
    import psycopg

    from crm_reconciliation_dev.benchmarks import labelled_splink

    failed: list[str] = []
    runs: dict[str, tuple[matching_benchmark.Labelled, labelled_splink.Ours | Exception]] = {}
    with psycopg.connect(uri, autocommit=True) as connection:
        for name, make in matching_benchmark.OBJECTS.items():
            data = make(size)
            try:
                runs[name] = (data, labelled_splink.run_ours(connection, name, data))
            except Exception as error:  # a failed row, then the other object
                logging.getLogger("bench_matching").exception("labelled %s failed", name)
                runs[name] = (data, error)
                failed.append(f"labelled {name}: ours")
    print(
        "| object | legacy records | twins | links | link precision | link recall | link F1 | new precision "
        "| new recall | new F1 | seconds |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, (data, ours) in runs.items():
        if isinstance(ours, Exception):
            print(f"| {name} | {size:,} | failed: {type(ours).__name__} (traceback on stderr) | | | | | | | | |")
            continue
        s = matching_benchmark.quality(ours.predicted, data.truth)
        print(
            f"| {name} | {size:,} | {s['twins']:,} | {s['links']:,} | {s['link_precision']:.4f} "
            f"| {s['link_recall']:.4f} | {s['link_f1']:.4f} | {s['new_precision']:.4f} | {s['new_recall']:.4f} "
            f"| {s['new_f1']:.4f} | {ours.seconds:.1f} |"
        )
    print()
    print(GOAL)
    print(
        "Seconds: the reconcile and score SQL (not the load). Link precision over the probable links made, recall "
        "over the true pairs; new: the legacy records called new against those with no twin."
    )
    if splink:
        for name, (data, ours) in runs.items():
            print()
            if name not in labelled_splink.SETUPS:
                print(
                    f"Labelled {name}: no Splink side by side (its amounts and dates would need number and date "
                    "comparisons and a company-reference setup that labelled_splink.py does not have)."
                )
                continue
            rows = labelled_splink.compare(name, data, ours)
            failed.extend(f"labelled {name}: Splink" for row in rows[1:] if row.error)
    return failed


class TempSpaceProbe(threading.Thread):
    """Samples the server's temporary files and temporary tables twice a second."""

    QUERY = """
        select coalesce((select sum(size) from pg_ls_tmpdir()), 0)
             + coalesce((select sum(pg_total_relation_size(c.oid)) from pg_class as c
                         join pg_namespace as n on n.oid = c.relnamespace
                         where n.nspname like 'pg_temp%%' and c.relkind in ('r', 'i', 'm')), 0)
    """

    def __init__(self, uri: str):
        super().__init__(daemon=True)
        self.uri, self.peak, self.stop = uri, 0, threading.Event()

    def run(self) -> None:
        import psycopg

        with psycopg.connect(self.uri, autocommit=True) as connection:
            while not self.stop.is_set():
                self.peak = max(self.peak, int(connection.execute(self.QUERY).fetchone()[0]))
                time.sleep(0.5)


def scale(uri: str, legacy: int, hubspot: int) -> None:
    import psycopg

    from crm_reconciliation.config.registry import default_registry
    from crm_reconciliation.dag_factory import build_dag

    dag = build_dag(default_registry(), "companies")

    def run(task_id: str):
        return local_env.run_task(dag, task_id)

    run("create_staging")
    twins = int(legacy * 0.6)
    with psycopg.connect(uri, autocommit=True) as connection:
        connection.execute("create schema if not exists hubspot")
        connection.execute(LEGACY, {"legacy": legacy})
        connection.execute(MIRROR, {"hubspot": hubspot, "twins": twins})
        connection.execute("analyze")
    probe = TempSpaceProbe(uri)
    probe.start()
    started = time.perf_counter()
    run("reconcile")
    reconciled = time.perf_counter()
    summary = run("score")
    scored = time.perf_counter()
    probe.stop.set()
    probe.join()
    with psycopg.connect(uri) as connection:
        found = connection.execute(
            "select count(*) filter (where reconciliation_status = 'probable' and legacy_company_id <= %s"
            " and hubspot_company_id = (10000000 + legacy_company_id)::text),"
            " count(*) filter (where reconciliation_status = 'probable') from staging.companies_reconciliation",
            (twins,),
        ).fetchone()
    print(
        "| unlinked legacy | HubSpot | reconcile (s) | score incl. candidates + assignment (s) | candidate pairs "
        "| probable | of which right | peak temp space |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(
        f"| {legacy:,} | {hubspot:,} | {reconciled - started:.1f} | {scored - reconciled:.1f} "
        f"| {summary['candidates']:,} | {found[1]:,} | {found[0]:,} of {twins:,} twins "
        f"| {probe.peak / 2**20:,.0f} MiB |"
    )


def febrl_comparison(uri: str, records: int | None = None, goldenmatch: bool = True) -> list[Row]:
    """Every system on FEBRL 4 (or its first ``records`` true pairs); prints the table, returns its rows
    (a row with ``error`` set did not run)."""
    data = load(records)
    rows: list[Row] = []
    runs = [
        (DAG_SYSTEM, dag_configuration(), lambda: [run_dag(uri, data)]),
        ("Splink", "FEBRL 4 example", lambda: [run_splink_example(data)]),
        ("Splink", "FEBRL 4 example + location", lambda: [run_splink_example(data, location=True)]),
    ]
    runs.append(
        (
            "GoldenMatch",
            "zero-config and every field",
            (lambda: febrl_goldenmatch.run(data))
            if goldenmatch
            else (lambda: febrl_goldenmatch.skipped("--no-goldenmatch (or --quick) given")),
        )
    )
    for system, configuration, run in runs:
        try:
            rows.extend(run())
        except Exception as error:  # report it in the table, then go on with the others
            logging.getLogger("bench_matching").exception("FEBRL 4: %s failed", system)
            rows.append(
                Row(
                    system,
                    configuration=configuration,
                    error=f"{type(error).__name__}: {str(error).splitlines()[0][:200]}",
                )
            )
    print(
        f"FEBRL 4: {len(data.legacy):,} legacy (4A) vs {len(data.hubspot):,} HubSpot (4B) records, "
        f"{len(data.truth):,} true pairs. {FIELDS_NOTE}"
    )
    print()
    print_systems(rows)
    print()
    print(FEBRL_GOAL)
    print()
    for row in rows:
        if row.note:
            print(row.note)
    print(
        "Precision, recall and F1 in %: precision over the links each system makes, recall over the true pairs. "
        "Seconds: ours, the reconcile and score tasks (canonical values, candidate pairs, comparisons, u and EM, "
        "assignment), not the load; Splink, registration, training, prediction and clustering; GoldenMatch, "
        "auto-configuration (shared by its two rows) and matching."
    )
    print(SPLINK_EXAMPLE_NOTE)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=5000, help="legacy records per object in the quality run")
    parser.add_argument("--scale", action="store_true", help="also run the scale benchmark")
    parser.add_argument("--legacy", type=int, default=100_000)
    parser.add_argument("--hubspot", type=int, default=1_000_000)
    parser.add_argument(
        "--febrl-records", type=int, default=None, help="FEBRL 4 true pairs to keep (default: all 5,000)"
    )
    parser.add_argument("--no-febrl", action="store_true", help="skip the FEBRL 4 comparison")
    parser.add_argument(
        "--no-goldenmatch",
        action="store_true",
        help="FEBRL 4 without GoldenMatch (its auto-configuration takes minutes)",
    )
    parser.add_argument(
        "--no-labelled", action="store_true", help="skip the labelled data (companies, contacts, deals)"
    )
    parser.add_argument(
        "--no-splink", action="store_true", help="skip Splink on the labelled data (our quality table only)"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a few minutes: labelled data at --size 1000, FEBRL 4 on 1,000 pairs without GoldenMatch, no --scale",
    )
    args = parser.parse_args()
    if args.quick:
        args.size, args.scale, args.no_goldenmatch = min(args.size, 1000), False, True
        args.febrl_records = args.febrl_records or 1000
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    failed: list[str] = []

    def part(name: str, run) -> None:
        """One part of the benchmark; a failure is reported and the others still run."""
        try:
            run()
        except Exception:
            logging.getLogger("bench_matching").exception("%s failed", name)
            print(f"{name}: FAILED (traceback on stderr)")
            failed.append(name)

    def clean(uri: str) -> None:
        with __import__("psycopg").connect(uri, autocommit=True) as connection:
            for schema in ("bronze", "staging", "hubspot"):
                connection.execute(f"drop schema if exists {schema} cascade")

    with local_env.throwaway_stack() as uri:
        if not args.no_labelled:
            part("labelled-data quality", lambda: failed.extend(quality(uri, args.size, not args.no_splink)))
        if not args.no_febrl:

            def febrl() -> None:
                rows = febrl_comparison(uri, args.febrl_records, goldenmatch=not args.no_goldenmatch)
                # A peer that is not installed or not asked for is a row saying so, not a failure.
                failed.extend(
                    f"FEBRL 4: {row.system}" for row in rows if row.error and not row.error.startswith(NOT_RUN)
                )

            print()
            part("FEBRL 4 comparison", febrl)
        if args.scale:
            clean(uri)
            print()
            part("scale", lambda: scale(uri, args.legacy, args.hubspot))
    if failed:
        print(f"\nFailed: {'; '.join(failed)}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
