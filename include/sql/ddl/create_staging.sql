-- Idempotent DDL for one object type: the shared schemas and bookkeeping tables, then this
-- object's bronze table and staging table. Safe to run concurrently from several DAGs: the
-- advisory lock serialises them for the length of this transaction.
select pg_advisory_xact_lock(hashtext('crm_reconciliation.ddl'));

-- pg_trgm (similarity of names and texts) and fuzzystrmatch (edit distance of single words)
-- power similarity matching; creating them needs a privileged role. Checked first, so that a
-- role without them learns this before anything else is created.
do $ddl$
declare
    needed text;
begin
    foreach needed in array array['pg_trgm', 'fuzzystrmatch'] loop
        if not exists (select 1 from pg_extension where extname = needed) then
            begin
                execute format('create extension %I', needed);
            exception
                when insufficient_privilege then
                    raise exception
                        'crm_reconciliation needs the PostgreSQL extension %, and role "%" may not create it',
                        needed, current_user
                        using hint = format(
                            'Ask a database owner or superuser to run: CREATE EXTENSION %s; in database %I',
                            needed, current_database()
                        );
                when undefined_file or feature_not_supported then
                    raise exception
                        'crm_reconciliation needs the PostgreSQL extension %, which this server does not ship', needed
                        using hint = 'Install the PostgreSQL contrib package on the database server.';
            end;
        end if;
    end loop;
end
$ddl$;

create schema if not exists bronze;
create schema if not exists staging;

{% include "ddl/functions.sql" %}

create table if not exists staging.reconciliation_log (
    log_id bigint generated always as identity primary key,
    object_type text not null,
    run_id text not null,
    step text not null,
    snapshot_date date,
    source text,
    rows_read bigint,
    rows_loaded bigint,
    rows_rejected bigint,
    rows_deleted bigint,
    details jsonb not null default '{}'::jsonb,
    outcome text not null check (outcome in ('running', 'success', 'failed', 'skipped')),
    message text,
    started_at timestamptz not null,
    finished_at timestamptz,
    unique (object_type, run_id, step)
);

create table if not exists staging.bronze_rejects (
    reject_id bigint generated always as identity primary key,
    object_type text not null,
    snapshot_date date not null,
    run_id text not null,
    source_file text not null,
    line_number integer not null,
    field text,
    reason text not null,
    raw_text text,
    rejected_at timestamptz not null default now()
);

-- The match model each run learned, per object: one row per comparison level (m, u, the weight
-- log2(m/u), the configured start values, where each came from) and the prior (level 0: m is the
-- chance that two random records match, weight its log2-odds).
create table if not exists staging.match_parameters (
    object_type text not null,
    run_id text not null,
    comparison text not null,
    level_index integer not null,
    level text not null,
    m double precision not null,
    u double precision,
    weight double precision not null,
    m_configured double precision,
    u_configured double precision,
    m_source text not null,
    u_source text,
    pairs bigint not null default 0,
    learned_at timestamptz not null default now(),
    primary key (object_type, run_id, comparison, level_index)
);

-- 'rejected': not loaded; 'repaired': loaded, with what was repaired as the reason.
alter table staging.bronze_rejects
add column if not exists outcome text not null default 'rejected' check (outcome in ('rejected', 'repaired'));

-- The push ledger: one row per payload per attempt's outcome. A payload (record + properties,
-- hashed) recorded 'sent' is never sent again; 'in_flight' marks a send whose answer was not
-- recorded yet (a killed run): the next run reads HubSpot back before sending it again.
create table if not exists staging.push_log (
    push_id bigint generated always as identity primary key,
    object_type text not null,
    run_id text not null,
    target text not null,
    legacy_id bigint not null,
    hubspot_id text not null,
    properties jsonb not null,
    payload_hash text not null,
    outcome text not null check (outcome in ('in_flight', 'sent', 'rejected', 'failed', 'dry_run')),
    http_status integer,
    error text,
    attempts integer not null default 0,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

-- Creations are ledger rows too: action 'create' (a batch/upsert keyed on the legacy-id
-- property, so that a replay can never create a second record), the HubSpot id filled in
-- from HubSpot's answer; api_object names the endpoint (an activity's type).
alter table staging.push_log
add column if not exists action text not null default 'update' check (action in ('update', 'create')),
add column if not exists api_object text,
alter column hubspot_id drop not null;

-- Revert and verification (issue 14): before_values, what the pushed properties held in HubSpot
-- when the mirror was read (a revert restores from HubSpot's history, this is its fallback);
-- verification, what a read after the push found, or later the mirror ('verified', 'mismatch'
-- with the values found in verified_values, 'pending' while the mirror has not caught up). A
-- revert is a ledger row too (action 'revert' or 'archive', revert_of the row it undoes,
-- skipped the properties someone changed in HubSpot since). 'deferred': not sent, the daily
-- limit stopped the run; 'skipped': a revert found nothing left to restore.
alter table staging.push_log
add column if not exists before_values jsonb,
add column if not exists verification text check (verification in ('verified', 'mismatch')),
add column if not exists verified_values jsonb,
add column if not exists verified_at timestamptz,
add column if not exists revert_of bigint,
add column if not exists skipped jsonb;

{#- A check constraint of an older schema widened to its current values: replaced unless its
    definition already names ``marker`` (a value the widening added). #}
{% macro widen_check(table, constraint, marker, check) %}
    if not exists (
        select 1 from pg_constraint
        where conname = '{{ constraint }}' and pg_get_constraintdef(oid) like '%{{ marker }}%'
    ) then
        alter table staging.{{ table }} drop constraint if exists {{ constraint }};
        alter table staging.{{ table }} add constraint {{ constraint }} check ({{ check }});
    end if;
{%- endmacro %}
do $ddl$
begin
    -- 'skipped': a step that did not run by decision (a push whose approval was rejected).
    {{- widen_check("reconciliation_log", "reconciliation_log_outcome_check", "skipped",
        "outcome in ('running', 'success', 'failed', 'skipped')") }}
    -- 'refused': a record rejected by a load whose snapshot was refused (issue 26), kept beside
    -- the rejects of the snapshot that stayed, which still add up to it.
    {{- widen_check("bronze_rejects", "bronze_rejects_outcome_check", "refused",
        "outcome in ('rejected', 'repaired', 'refused')") }}
    -- 'pending': verified later, from the mirror (issue 25).
    {{- widen_check("push_log", "push_log_verification_check", "pending",
        "verification in ('verified', 'mismatch', 'pending')") }}
    {{- widen_check("push_log", "push_log_outcome_check", "deferred",
        "outcome in ('in_flight', 'sent', 'rejected', 'failed', 'dry_run', 'deferred', 'skipped')") }}
    {{- widen_check("push_log", "push_log_action_check", "archive",
        "action in ('update', 'create', 'revert', 'archive')") }}
end
$ddl$;

create index if not exists push_log_payload_idx on staging.push_log (payload_hash, outcome);

create index if not exists push_log_pending_idx on staging.push_log (object_type) where verification = 'pending';

create index if not exists push_log_revert_idx on staging.push_log (revert_of) where revert_of is not null;

-- Payloads HubSpot refused with the same error on two runs running: not sent again while their
-- content (payload_hash) and the object's mapping (mapping_version) stay as they are.
create table if not exists staging.push_quarantine (
    object_type text not null,
    payload_hash text not null,
    mapping_version text not null,
    legacy_id bigint not null,
    hubspot_id text,
    error text not null,
    first_run_id text not null,
    last_run_id text not null,
    refusals integer not null default 2,
    quarantined_at timestamptz not null default now(),
    primary key (object_type, payload_hash, mapping_version)
);

-- The rate limit belongs to the HubSpot app, not to a task: every push holding the same
-- token (app_key, a hash of it) books its requests here, on the database's clock. paused_until
-- holds a 429's Retry-After for all of them; daily_remaining the last daily quota HubSpot reported.
create unlogged table if not exists staging.api_requests (
    app_key text not null,
    started_at timestamptz not null
);

create index if not exists api_requests_app_idx on staging.api_requests (app_key, started_at);

create table if not exists staging.api_limits (
    app_key text primary key,
    paused_until timestamptz,
    daily_remaining bigint,
    daily_seen_at timestamptz
);

{% include "ddl/rate_limit.sql" %}

-- What reviewers decided about a pair (legacy record, HubSpot record): 'same' (matched, the
-- legacy id queued for HubSpot), 'different' (never proposed again), 'create_new' (the push may
-- create it), 'leave_aside' (out of the queue). One decision per pair (a new one replaces it);
-- score applies the active ones on every run and marks 'stale', saying why, those whose records
-- changed since. model_confidence: the model's confidence for the pair at the last score (the
-- labels the report measures precision and recall against).
create table if not exists staging.review_decisions (
    decision_id bigint generated always as identity primary key,
    object_type text not null,
    legacy_id bigint not null,
    hubspot_id text,
    verdict text not null check (verdict in ('same', 'different', 'create_new', 'leave_aside')),
    reviewer text not null,
    decided_at timestamptz not null default now(),
    comment text,
    state text not null default 'active' check (state in ('active', 'stale')),
    stale_reason text,
    model_confidence numeric(5, 2)
);

create unique index if not exists review_decisions_pair_idx
on staging.review_decisions (object_type, legacy_id, coalesce(hubspot_id, ''));

-- Every change of a decision, by whom and when (written by a trigger: no path around it).
create table if not exists staging.review_decision_history (
    history_id bigint generated always as identity primary key,
    decision_id bigint not null,
    object_type text not null,
    legacy_id bigint not null,
    hubspot_id text,
    change text not null,
    verdict text,
    state text,
    reviewer text,
    comment text,
    stale_reason text,
    changed_at timestamptz not null default clock_timestamp()
);

create or replace function staging.crm_review_history() returns trigger
language plpgsql
as $fn$
declare
    row staging.review_decisions := case when tg_op = 'DELETE' then old else new end;
begin
    insert into staging.review_decision_history (
        decision_id, object_type, legacy_id, hubspot_id, change, verdict, state, reviewer, comment, stale_reason
    ) values (
        row.decision_id, row.object_type, row.legacy_id, row.hubspot_id,
        case
            when tg_op = 'INSERT' then 'recorded'
            when tg_op = 'DELETE' then 'withdrawn'
            when new.state = 'stale' and old.state = 'active' then 'stale'
            else 'changed'
        end,
        row.verdict, row.state, row.reviewer, row.comment, row.stale_reason
    );
    return null;
end
$fn$;

create or replace trigger review_decisions_history
after insert or update or delete on staging.review_decisions
for each row execute function staging.crm_review_history();

create index if not exists push_log_created_idx on staging.push_log (object_type, legacy_id)
where action = 'create' and outcome = 'sent';

-- The mirror guard (reconcile/mirror_links.sql): per run, the mirror's size against the run
-- before's, that run's links (matched and probable records) and how many of their HubSpot
-- records are gone; previous_links, those links whose legacy id no mirror record carries any
-- more (the ones that can turn `new`), gone: their HubSpot record left the mirror. A push never
-- creates a record that was linked before without a person's approval (push/select_create.sql).
create table if not exists staging.mirror_checks (
    object_type text not null,
    run_id text not null,
    mirror_records bigint not null,
    previous_run_id text,
    previous_records bigint,
    links_before bigint not null,
    lost_links bigint not null,
    shrunk boolean not null,
    checked_at timestamptz not null default clock_timestamp(),
    primary key (object_type, run_id)
);

create table if not exists staging.previous_links (
    object_type text not null,
    run_id text not null,
    legacy_id bigint not null,
    hubspot_id text not null,
    previous_status text not null,
    previous_run_id text,
    gone boolean not null,
    primary key (object_type, run_id, legacy_id)
);

-- The associations ledger (HubSpot v4), beside the push ledger: one row per association a
-- run wanted, with what became of it. 'exists': HubSpot already had it (read back, nothing
-- sent); 'created'; 'dry_run'; 'rejected' / 'failed' with HubSpot's answer. One that is
-- 'created' or 'exists' is never sent again.
create table if not exists staging.push_associations (
    association_id bigint generated always as identity primary key,
    object_type text not null,
    run_id text not null,
    legacy_id bigint not null,
    property text not null,
    from_object text not null,
    from_id text not null,
    to_object text not null,
    to_id text not null,
    type_ids integer [] not null,
    outcome text not null check (outcome in ('dry_run', 'in_flight', 'exists', 'created', 'rejected', 'failed')),
    http_status integer,
    error text,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

create index if not exists push_associations_pair_idx
on staging.push_associations (from_object, from_id, to_object, to_id, outcome);

create index if not exists push_associations_run_idx on staging.push_associations (object_type, run_id);

create index if not exists push_log_run_idx on staging.push_log (object_type, run_id);

-- The portal's catalogue, as the push's preflight last read it (push_target=hubspot): each
-- property's type, field type and options (label and value) per object; the pipelines and
-- their stages; the owners. What the push converts values to, and what reconcile compares with.
create table if not exists staging.portal_properties (
    api_object text not null,
    name text not null,
    type text not null,
    field_type text,
    options jsonb not null default '[]'::jsonb,
    external_options boolean not null default false,
    has_unique_value boolean not null default false,
    read_only boolean not null default false,
    fetched_at timestamptz not null default now(),
    primary key (api_object, name)
);

create table if not exists staging.portal_pipelines (
    api_object text not null,
    pipeline_id text not null,
    pipeline_label text,
    stage_id text not null,
    stage_label text,
    is_default boolean not null default false,
    is_closed boolean not null default false,
    probability numeric,
    fetched_at timestamptz not null default now(),
    primary key (api_object, pipeline_id, stage_id)
);

create table if not exists staging.portal_owners (
    owner_id text primary key,
    email text,
    first_name text,
    last_name text,
    fetched_at timestamptz not null default now()
);

-- An enumeration's keys (crm_option_key) → option value: each option's value and label as the
-- last preflight read them (staging.portal_properties), then the registry's value maps
-- (``value_maps``: property → legacy value → option value). An option's own value wins over a
-- label, a label over a value map. Names are also keyed as written, after '=' (option_value).
create or replace function staging.crm_option_lookup(api_object text, property text, value_maps jsonb) returns jsonb
language sql stable parallel safe
as $fn$
    select coalesce(jsonb_object_agg(keyed.key, named.value order by named.rank desc), '{}'::jsonb)
    from (
        select legacy.key as name, legacy.value, 2 as rank
        from jsonb_each_text(value_maps -> property) as legacy
        union all
        select choice.option ->> field.name, choice.option ->> 'value', field.rank
        from staging.portal_properties as catalogue
        cross join jsonb_array_elements(catalogue.options) as choice (option)
        cross join (values ('label', 1), ('value', 0)) as field (name, rank)
        where catalogue.api_object = crm_option_lookup.api_object and catalogue.name = crm_option_lookup.property
    ) as named
    -- Each name twice: folded, and as written after '=' (most values are written as a name is:
    -- found without folding them, which costs a regular expression a row).
    cross join lateral (values (staging.crm_option_key(named.name)), ('=' || staging.crm_text(named.name))) as keyed (key)
    where keyed.key is not null
$fn$;

-- Values the portal cannot take (issue 23): a (property, value) of one record's payload held
-- back, never sent, with the reason and the options the portal allows; the rest of the record
-- still goes. One row per run, record and property; a run replaces its own rows.
create table if not exists staging.push_held_values (
    object_type text not null,
    run_id text not null,
    legacy_id bigint not null,
    action text not null check (action in ('update', 'create')),
    api_object text not null,
    property text not null,
    value text,
    reason text not null,
    allowed jsonb,
    recorded_at timestamptz not null default now(),
    primary key (object_type, run_id, legacy_id, api_object, property)
);

create index if not exists push_held_values_value_idx on staging.push_held_values (object_type, property, value);

create index if not exists bronze_rejects_object_snapshot_idx
on staging.bronze_rejects (object_type, snapshot_date);

-- The loaded snapshot of legacy table {{ params.object.legacy_table }}, as exported: every
-- column text (the id too: '123.0' stays as written; bronze.<table>_live parses it), one row
-- per distinct legacy id, live and soft-deleted alike. Columns the registry does not name are
-- added by the loader as text columns. No index: the loader COPYs straight into this table.
-- Tables of an earlier layout (a bigint id) are dropped; load_bronze fills them again.
do $ddl$
begin
    if exists (
        select 1 from information_schema.columns
        where table_schema = 'bronze'
            and table_name = '{{ params.object.bronze_table }}'
            and column_name = '{{ params.object.bronze_id_column }}'
            and data_type <> 'text'
    ) then
        drop table bronze.{{ params.object.bronze_table }} cascade;
    end if;
end
$ddl$;

create table if not exists bronze.{{ params.object.bronze_table }} (
    {{ params.object.bronze_id_column }} text
);

{% for column in params.object.bronze_columns if column != params.object.bronze_id_column -%}
alter table bronze.{{ params.object.bronze_table }} add column if not exists {{ column }} text;
{% endfor %}
-- Per-load values come from settings of the loading transaction, so that COPY fills them
-- without a second pass; _source_line numbers rows as they arrive (the header is line 1).
alter table bronze.{{ params.object.bronze_table }}
add column if not exists _is_deleted boolean not null default false,
add column if not exists _source_line bigint generated by default as identity (start with 2 cache 10000),
add column if not exists _source_file text default current_setting('crm_recon.source_file', true),
add column if not exists _snapshot_date date
default nullif(current_setting('crm_recon.snapshot_date', true), '')::date,
add column if not exists _run_id text default current_setting('crm_recon.run_id', true);

create or replace view bronze.{{ params.object.bronze_table }}_live as
select
    staging.crm_legacy_id(bronze_row.{{ params.object.bronze_id_column }}) as legacy_id,
    bronze_row.*
from bronze.{{ params.object.bronze_table }} as bronze_row
where not bronze_row._is_deleted;

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
