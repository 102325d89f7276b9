{#- reads: staging.<object>_reconciliation (the run before's links, before this run rewrites
    them), staging.<object>_hubspot_source, staging.push_log, staging.reconciliation_log /
    creates: _first_check, _previous_check, _mirror_ids / updates: staging.previous_links,
    staging.mirror_checks (this run's rows)

    The mirror guard. A sync tool that dropped part of the mirror turns linked records into
    `new` ones: a push would create duplicates of the records it lost. So before the links are
    rebuilt, the run counts the run before's links (matched, probable and conflict, with their
    HubSpot ids) and those whose HubSpot record is gone from the mirror, keeps the ones that can
    turn `new` (their legacy id on no mirror record any more), and compares the mirror's size
    with the reference. The guard lasts until a person decides: a link the run before held
    stays held (carried) until its push is approved, its record is created, or the mirror
    carries its legacy id again; a shrink stands (the reference stays the size before it) until
    a push is approved or the mirror grows back. The approval gate and the push read what it
    found. A retry of a reconcile that succeeded for this run keeps what its first success
    recorded (the table then holds this run's own links). -#}
{%- set o = params.object -%}

create temp table _first_check on commit drop as
select not exists (
    select 1 from staging.mirror_checks
    where object_type = %(object_type)s and run_id = %(run_id)s
) as first;

-- The run before's check, and whether a person approved that run's push.
create temp table _previous_check on commit drop as
select
    checks.run_id,
    checks.mirror_records,
    checks.previous_run_id,
    checks.previous_records,
    checks.shrunk,
    exists (
        select 1 from staging.reconciliation_log as gate
        where gate.object_type = %(object_type)s and gate.run_id = checks.run_id and gate.step = 'approve_push'
            and gate.details ->> 'approved' = 'true'
    ) as approved
from staging.mirror_checks as checks
where checks.object_type = %(object_type)s and checks.run_id <> %(run_id)s and (select first from _first_check)
order by checks.checked_at desc
limit 1;

-- The mirror's records, read once: their ids, and the legacy ids they carry.
create temp table _mirror_ids on commit drop as
select source.hubspot_id::text as hubspot_id, source.legacy_id
from staging.{{ o.name }}_hubspot_source as source
where source.hubspot_id is not null and (select first from _first_check);

analyze _mirror_ids;

-- The links the run before held (their record `new` in it) that nobody resolved since: its push
-- was not approved, no run created the record, and no mirror record carries its legacy id
-- again. A dry run, a run without create_missing or a rejected approval in between does not make
-- them ordinary `new`. A record linked again in the run before (probable to another twin) is a
-- link of that run's, below.
insert into staging.previous_links (
    object_type, run_id, legacy_id, hubspot_id, previous_status, previous_run_id, gone, carried
)
select
    %(object_type)s,
    %(run_id)s,
    held.legacy_id,
    held.hubspot_id,
    held.previous_status,
    held.previous_run_id,
    not exists (select 1 from _mirror_ids as mirror where mirror.hubspot_id = held.hubspot_id),
    true
from staging.previous_links as held
inner join _previous_check as previous on previous.run_id = held.run_id and not previous.approved
where held.object_type = %(object_type)s
    and exists (
        select 1 from staging.{{ o.staging_table }} as before
        where before.{{ o.legacy_key }} = held.legacy_id and before.reconciliation_status = 'new'
    )
    and not exists (select 1 from _mirror_ids as carried where carried.legacy_id = held.legacy_id)
    and not exists (
        select 1 from staging.push_log as ledger
        where ledger.object_type = %(object_type)s and ledger.legacy_id = held.legacy_id
            and ledger.action = 'create' and ledger.outcome = 'sent'
    )
on conflict do nothing;

-- The links that can turn `new`: those whose legacy id no mirror record carries any more (a
-- legacy id still carried links by id again: matched or conflict, never new). Written for
-- them only: at a million links, writing every one cost 18 s of a 176 s reconcile.
insert into staging.previous_links (
    object_type, run_id, legacy_id, hubspot_id, previous_status, previous_run_id, gone, carried
)
select
    %(object_type)s,
    %(run_id)s,
    linked.{{ o.legacy_key }},
    linked.{{ o.hubspot_key }},
    linked.reconciliation_status,
    linked.run_id,
    not exists (select 1 from _mirror_ids as mirror where mirror.hubspot_id = linked.{{ o.hubspot_key }}),
    false
from staging.{{ o.staging_table }} as linked
where (select first from _first_check)
    and linked.reconciliation_status in ('matched', 'probable', 'conflict')
    and linked.{{ o.hubspot_key }} is not null
    and not exists (select 1 from _mirror_ids as carried where carried.legacy_id = linked.{{ o.legacy_key }})
on conflict do nothing;

-- Only the latest run's links are kept per object: an older run's report is already written.
delete from staging.previous_links
where object_type = %(object_type)s and run_id <> %(run_id)s and (select first from _first_check);

with links as (
    select
        count(*) as links_before,
        count(*) filter (where mirror.hubspot_id is null) as lost_links
    from staging.{{ o.staging_table }} as linked
    left join (select distinct hubspot_id from _mirror_ids) as mirror on mirror.hubspot_id = linked.{{ o.hubspot_key }}
    where
        linked.reconciliation_status in ('matched', 'probable', 'conflict')
        and linked.{{ o.hubspot_key }} is not null
),

-- The size the mirror is measured against: the run before's, unless that run found a shrink
-- no person approved: then the size before the shrink, and the run that had it.
reference as (
    select
        case when previous.shrunk and not previous.approved then previous.previous_run_id else previous.run_id end
            as run_id,
        case when previous.shrunk and not previous.approved then previous.previous_records else previous.mirror_records end
            as mirror_records
    from _previous_check as previous
),

measured as (
    select
        (select count(distinct hubspot_id) from _mirror_ids) as mirror_records,
        reference.run_id as previous_run_id,
        reference.mirror_records as previous_records,
        (
            select count(*) from staging.previous_links as held
            where held.object_type = %(object_type)s and held.run_id = %(run_id)s and held.carried
        ) as carried_links
    from (select 1) as one
    left join reference on true
)

insert into staging.mirror_checks (
    object_type, run_id, mirror_records, previous_run_id, previous_records, links_before, lost_links, shrunk,
    carried_links
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
    ),
    measured.carried_links
from measured cross join links
where (select first from _first_check);

select jsonb_build_object('mirror_guard', to_jsonb(checks) - 'object_type' - 'run_id' - 'checked_at')
from staging.mirror_checks as checks
where checks.object_type = %(object_type)s and checks.run_id = %(run_id)s
