{#- reads: nothing / creates: staging.reconciliation_log, staging.bronze_rejects,
    staging.match_parameters

    What every run records, shared by every object: each step's outcome, the records a load
    did not take, and the match model the score learned. Columns of later layouts are added to
    a table an earlier version created. -#}

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

-- 'rejected': not loaded; 'repaired': loaded, with what was repaired as the reason.
alter table staging.bronze_rejects
add column if not exists outcome text not null default 'rejected' check (outcome in ('rejected', 'repaired'));

create index if not exists bronze_rejects_object_snapshot_idx
on staging.bronze_rejects (object_type, snapshot_date);

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
