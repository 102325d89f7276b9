{#- reads: nothing / creates: staging.mirror_checks, staging.previous_links

    The mirror guard (reconcile/mirror_links.sql): per run, the mirror's size against the
    reference (the run before's, or while a shrink stands unapproved, the size before it), the
    run before's links (matched, probable and conflict records) and how many of their HubSpot
    records are gone; previous_links, those links whose legacy id no mirror record carries any
    more (the ones that can turn `new`), gone: their HubSpot record left the mirror; carried: a
    link of an earlier run the guard still holds (no person approved it, no run created it). A
    push never creates a record that was linked before without a person's approval
    (push/select_create.sql). -#}

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

alter table staging.mirror_checks add column if not exists carried_links bigint not null default 0;

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

alter table staging.previous_links add column if not exists carried boolean not null default false;
