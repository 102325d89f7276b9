"""Benchmark of reconcile + score: N legacy companies against N HubSpot companies.

The data is generated inside PostgreSQL (deterministic: generate_series and md5), shaped like
the sample: most records linked by id (some written '123.0' or ' 123'), some linked twice,
some linked to another entity, some without a legacy id, some stale properties. The steps run
through the real operators with the DAG's rendered SQL. Run: ``make bench-reconcile`` or
``python scripts/bench_reconcile.py --rows 1000000``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "plugins"))

from crm_reconciliation import local_env  # noqa: E402

LEGACY = """
insert into bronze.company (comp_companyid, comp_name, comp_website, comp_phonenumber, comp_type, comp_territory,
    comp_sector, comp_employees, comp_revenue, comp_source, addr_city, addr_state, addr_country, addr_postcode,
    addr_street1, comp_createddate, _is_deleted, _snapshot_date)
select n,
    'Société ' || initcap(substr(md5(n::text), 1, 8)) || ' ' || (array['SA', 'SAS', 'SARL', 'GmbH', ''])[n %% 5 + 1],
    'https://www.' || substr(md5(n::text), 1, 8) || '.fr/contact',
    '04 76 ' || lpad((n %% 100)::text, 2, '0') || ' ' || lpad((n / 100 %% 100)::text, 2, '0') || ' '
        || lpad((n / 10000 %% 100)::text, 2, '0'),
    (array['Customer', 'Prospect', 'Partner'])[n %% 3 + 1], 'France Sud-Est',
    (array['Semiconductors', 'Aerospace', 'Automotive'])[n %% 3 + 1], (n %% 5000)::text,
    to_char(n * 10.5, 'FM999G999G990D00'), 'Salon',
    (array['Grenoble', 'Crolles', 'Meylan', 'Lyon', 'Saint-Égrève'])[n %% 5 + 1], 'Isère', 'France', '38000',
    n || ' rue Général Mangin', '2019-03-14 09:30:00.000', n %% 200 = 0, date '2026-01-01'
from generate_series(1, %(rows)s) as n
"""

MIRROR = """
create table hubspot.companies as
select
    (10000000 + n)::text as hs_object_id,
    case when n %% 10 = 9 then null
         when n %% 7 = 0 then n || '.0'
         when n %% 11 = 0 then ' ' || n
         when n %% 97 = 0 then (n - 1)::text
         else n::text end as icalps_company_id,
    case when n %% 53 = 0 then 'Autre Entreprise ' || md5(n::text)
         else 'Société ' || initcap(substr(md5(n::text), 1, 8)) end as name,
    substr(md5(n::text), 1, 8) || '.fr' as domain,
    'https://www.' || substr(md5(n::text), 1, 8) || '.fr/contact' as website,
    '+33476' || lpad((n %% 100)::text, 2, '0') || lpad((n / 100 %% 100)::text, 2, '0')
        || lpad((n / 10000 %% 100)::text, 2, '0') as phone,
    (array['Customer', 'Prospect', 'Partner'])[n %% 3 + 1] as type,
    'France Sud-Est' as territory,
    case when n %% 13 = 0 then 'Medical Devices'
        else (array['Semiconductors', 'Aerospace', 'Automotive'])[n %% 3 + 1] end
        as industry,
    (n %% 5000)::text as numberofemployees, trim_scale(n * 10.5)::text as annualrevenue, 'Salon' as hs_lead_source,
    (array['Grenoble', 'Crolles', 'Meylan', 'Lyon', 'Saint-Égrève'])[n %% 5 + 1] as city, 'Isère' as state,
    'France' as country, '38000' as zip, n || ' rue Général Mangin' as address,
    '2019-03-14T09:30:00Z' as createdate, md5(n::text) as stacksync_record_id_bench
from generate_series(1, %(rows)s) as n
"""


def timed(label: str, action, results: list) -> object:
    started = time.perf_counter()
    value = action()
    seconds = time.perf_counter() - started
    results.append((label, seconds))
    print(f"{label}: {seconds:.1f} s", flush=True)
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    with local_env.throwaway_stack() as uri:
        measure(uri, args.rows)


def measure(uri: str, rows: int) -> None:
    import psycopg

    from crm_reconciliation.dag_factory import build_dag
    from crm_reconciliation.registry import default_registry

    dag = build_dag(default_registry(), "companies")
    results: list[tuple[str, float]] = []

    def run(task_id: str):
        return local_env.run_task(dag, task_id)

    run("create_staging")
    with psycopg.connect(uri, autocommit=True) as connection:
        connection.execute("create schema if not exists hubspot")
        timed(f"generate {rows:,} legacy companies", lambda: connection.execute(LEGACY, {"rows": rows}), results)
        timed(f"generate {rows:,} HubSpot companies", lambda: connection.execute(MIRROR, {"rows": rows}), results)
        connection.execute("analyze bronze.company")
        connection.execute("analyze hubspot.companies")
    reconcile = timed("reconcile", lambda: run("reconcile"), results)
    score = timed("score", lambda: run("score"), results)
    with psycopg.connect(uri) as connection:
        size = connection.execute("select pg_size_pretty(pg_database_size(current_database()))").fetchone()[0]
    total = results[-2][1] + results[-1][1]
    print()
    print("| step | rows | wall time (s) | rows/s |")
    print("|---|---:|---:|---:|")
    for label, seconds in results[-2:]:
        print(f"| {label} | {rows:,} | {seconds:.1f} | {rows / seconds:,.0f} |")
    print(f"| reconcile + score | {rows:,} | {total:.1f} | {rows / total:,.0f} |")
    print()
    print(f"statuses after reconcile: {reconcile['by_status']}; after score: {score['by_status']}")
    print(
        f"matched records with properties to update: {reconcile['with_properties_to_update']:,}; "
        f"orphans: {reconcile['orphans']:,}; database size: {size}"
    )


if __name__ == "__main__":
    main()
