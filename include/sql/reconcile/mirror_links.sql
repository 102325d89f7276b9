{#- reads: staging.<object>_reconciliation (the run before's links, before this run rewrites
    them), staging.<object>_hubspot_source / creates: _first_check, _mirror_ids / updates:
    staging.previous_links, staging.mirror_checks (this run's rows)

    The mirror guard. A sync tool that dropped part of the mirror turns matched records into
    `new` ones: a push would create duplicates of the records it lost. So before the links are
    rebuilt, the run counts the previous run's links (matched and probable, with their HubSpot
    ids) and those whose HubSpot record is gone from the mirror, keeps the ones that can turn
    `new` (their legacy id on no mirror record any more), and compares the mirror's size with
    the previous run's. The approval gate and the push read what it found. A retry of
    a reconcile that succeeded for this run keeps what its first success recorded (the table
    then holds this run's own links). -#}
{%- set o = params.object -%}

create temp table _first_check on commit drop as
select not exists (
    select 1 from staging.mirror_checks
    where object_type = %(object_type)s and run_id = %(run_id)s
) as first;

-- The mirror's records, read once: their ids, and the legacy ids they carry.
create temp table _mirror_ids on commit drop as
select source.hubspot_id::text as hubspot_id, source.legacy_id
from staging.{{ o.name }}_hubspot_source as source
where source.hubspot_id is not null and (select first from _first_check);

analyze _mirror_ids;

-- Only the latest run's links are kept per object: an older run's report is already written.
delete from staging.previous_links
where object_type = %(object_type)s and run_id <> %(run_id)s and (select first from _first_check);

-- The links that can turn `new`: those whose legacy id no mirror record carries any more (a
-- legacy id still carried links by id again: matched or conflict, never new). Written for
-- them only: at a million links, writing every one cost 18 s of a 176 s reconcile.
insert into staging.previous_links (object_type, run_id, legacy_id, hubspot_id, previous_status, previous_run_id, gone)
select
    %(object_type)s,
    %(run_id)s,
    linked.{{ o.legacy_key }},
    linked.{{ o.hubspot_key }},
    linked.reconciliation_status,
    linked.run_id,
    not exists (select 1 from _mirror_ids as mirror where mirror.hubspot_id = linked.{{ o.hubspot_key }})
from staging.{{ o.staging_table }} as linked
where (select first from _first_check)
    and linked.reconciliation_status in ('matched', 'probable')
    and linked.{{ o.hubspot_key }} is not null
    and not exists (select 1 from _mirror_ids as carried where carried.legacy_id = linked.{{ o.legacy_key }})
on conflict do nothing;

with previous as (
    select checks.run_id, checks.mirror_records
    from staging.mirror_checks as checks
    where checks.object_type = %(object_type)s and checks.run_id <> %(run_id)s
    order by checks.checked_at desc
    limit 1
),

links as (
    select
        count(*) as links_before,
        count(*) filter (where mirror.hubspot_id is null) as lost_links
    from staging.{{ o.staging_table }} as linked
    left join (select distinct hubspot_id from _mirror_ids) as mirror on mirror.hubspot_id = linked.{{ o.hubspot_key }}
    where linked.reconciliation_status in ('matched', 'probable') and linked.{{ o.hubspot_key }} is not null
),

measured as (
    select
        (select count(distinct hubspot_id) from _mirror_ids) as mirror_records,
        previous.run_id as previous_run_id,
        previous.mirror_records as previous_records
    from (select 1) as one
    left join previous on true
)

insert into staging.mirror_checks (
    object_type, run_id, mirror_records, previous_run_id, previous_records, links_before, lost_links, shrunk
)
select
    %(object_type)s,
    %(run_id)s,
    measured.mirror_records,
    measured.previous_run_id,
    measured.previous_records,
    links.links_before,
    links.lost_links,
    coalesce(
        measured.mirror_records
        < measured.previous_records * (1 - (%(settings)s::jsonb ->> 'max_drop_rate')::numeric),
        false
    )
from measured cross join links
where (select first from _first_check);

select jsonb_build_object('mirror_guard', to_jsonb(checks) - 'object_type' - 'run_id' - 'checked_at')
from staging.mirror_checks as checks
where checks.object_type = %(object_type)s and checks.run_id = %(run_id)s
