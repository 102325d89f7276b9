{#- reads: nothing / creates: schema staging, staging.reports

    Each run's report page, in the warehouse where every worker and api-server reads it (a
    worker's disk is its own): the report task stores it (report/store.sql), the report app
    serves it (report/page.sql). Run by create_staging, and by a report on a database where
    create_staging never completed (its page says so, and is served too): so it takes the DDL
    lock and makes the schema itself, as the run claim does (runs/claim.sql). -#}
select pg_advisory_xact_lock(hashtext('crm_reconciliation.ddl'));

create schema if not exists staging;

-- One page per object and run; a re-run of the report overwrites it. counts_as_latest: the page
-- may be the object's latest (false for a run that never held the object, or whose tables were
-- rewritten by a later run: its page shows none of them). The latest page is the one written
-- last of those that count (written_at: the database's clock, one for every worker).
create table if not exists staging.reports (
    object_type text not null,
    run_id text not null,
    dag_id text not null,
    html text not null,
    counts_as_latest boolean not null,
    written_at timestamptz not null default clock_timestamp(),
    primary key (object_type, run_id)
);

create index if not exists reports_latest_idx
on staging.reports (object_type, written_at desc) where counts_as_latest;
