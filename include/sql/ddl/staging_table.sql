{#- reads: pg_indexes / creates: staging.<object>_reconciliation

    This object's staging table, which reconcile and score fill and the push reads; the last
    file of create_staging. -#}

-- One row per live legacy {{ params.object.entity }}: which HubSpot record it is, how sure we
-- are, and what must change in HubSpot.
create table if not exists staging.{{ params.object.staging_table }} (
    {{ params.object.legacy_key }} bigint primary key,
    {{ params.object.hubspot_key }} text,
    legacy_properties jsonb not null default '{}'::jsonb,
    hubspot_properties jsonb,
    properties_to_update jsonb not null default '{}'::jsonb,
    field_diffs jsonb not null default '{}'::jsonb,
    score_components jsonb not null default '{}'::jsonb,
    candidate_hubspot_ids text [],
    reconciliation_status text not null check (
        reconciliation_status in ('matched', 'conflict', 'probable', 'new', 'rejected')
    ),
    match_confidence numeric(5, 2) not null default 0 check (match_confidence between 0 and 100),
    notes text,
    -- The HubSpot object the row is written as (an activity's type), and the legacy ids it
    -- refers to (property → id): the associations the push makes.
    api_object text,
    legacy_references jsonb not null default '{}'::jsonb,
    push_status text,
    pushed_at timestamptz,
    snapshot_date date,
    run_id text,
    created_at timestamptz not null default now(),
    last_updated timestamptz not null default now()
);

-- A hash index: the HubSpot id comes from the mirror, and a value over btree's ~2,700-byte row
-- limit must not fail the reconcile step. A btree of an earlier layout is replaced.
do $ddl$
begin
    if exists (
        select 1 from pg_indexes
        where schemaname = 'staging' and indexname = '{{ params.object.staging_table }}_hubspot_idx'
            and indexdef not like '%USING hash%'
    ) then
        drop index staging.{{ params.object.staging_table }}_hubspot_idx;
    end if;
end
$ddl$;

create index if not exists {{ params.object.staging_table }}_hubspot_idx
on staging.{{ params.object.staging_table }} using hash ({{ params.object.hubspot_key }});

create index if not exists {{ params.object.staging_table }}_status_idx
on staging.{{ params.object.staging_table }} (reconciliation_status);

-- Columns of later layouts, on a table an earlier version created. review: the reviewer's
-- decision score applied to the row; held_back: for the review queue, what waits on the row
-- (properties to update, and references of other objects to it).
alter table staging.{{ params.object.staging_table }}
add column if not exists api_object text,
add column if not exists legacy_references jsonb not null default '{}'::jsonb,
add column if not exists review jsonb,
add column if not exists held_back integer not null default 0;

create index if not exists {{ params.object.staging_table }}_queue_idx
on staging.{{ params.object.staging_table }} (held_back desc, {{ params.object.legacy_key }})
where reconciliation_status in ('conflict', 'probable');
