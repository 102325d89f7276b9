{#- reads: nothing / creates: staging.mirror_checks, staging.previous_links

    The mirror guard (reconcile/mirror_links.sql): per run, the mirror's size against the run
    before's, that run's links (matched and probable records) and how many of their HubSpot
    records are gone; previous_links, those links whose legacy id no mirror record carries any
    more (the ones that can turn `new`), gone: their HubSpot record left the mirror. A push never
    creates a record that was linked before without a person's approval (push/select_create.sql). -#}

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
