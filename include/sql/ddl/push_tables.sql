{#- reads: nothing / creates: staging.push_log, staging.push_quarantine, staging.push_associations,
    staging.push_held_values

    The push's ledgers, shared by every object: what each run sent (or would have: a dry run),
    the payloads HubSpot keeps refusing, the associations, and the values held back. Columns of
    later layouts are added to a table an earlier version created. -#}

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

create index if not exists push_log_payload_idx on staging.push_log (payload_hash, outcome);

create index if not exists push_log_pending_idx on staging.push_log (object_type) where verification = 'pending';

create index if not exists push_log_revert_idx on staging.push_log (revert_of) where revert_of is not null;

create index if not exists push_log_created_idx on staging.push_log (object_type, legacy_id)
where action = 'create' and outcome = 'sent';

create index if not exists push_log_run_idx on staging.push_log (object_type, run_id);

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

-- No index on the value: one over 8 kB compressed (a pasted document, held back for its length)
-- cannot be indexed, and every reader filters by run (the primary key).
drop index if exists staging.push_held_values_value_idx;
