{#- reads: staging.mirror_checks, staging.previous_links, staging.<object>_reconciliation,
    staging.push_log, staging.reconciliation_log / creates: nothing

    The mirror guard's part of the report: the mirror's size against the reference, the links
    the run before made whose HubSpot record is gone, the links earlier runs made that the guard
    still holds, every record linked before that this run found `new` (with whether this run
    created it or held it back), and how many creations the guard held in all. -#}
{%- set o = params.object -%}
with checks as (
    select *
    from staging.mirror_checks
    where object_type = %(object_type)s and run_id = %(run_id)s
),

relinked as (
    select
        linked.legacy_id,
        linked.previous_status,
        linked.hubspot_id,
        linked.gone,
        exists (
            select 1 from staging.push_log as ledger
            where ledger.object_type = %(object_type)s and ledger.run_id = %(run_id)s
                and ledger.legacy_id = linked.legacy_id and ledger.action = 'create' and ledger.outcome = 'sent'
        ) as created
    from staging.previous_links as linked
    inner join staging.{{ o.staging_table }} as now
        on now.{{ o.legacy_key }} = linked.legacy_id and now.reconciliation_status = 'new'
    where linked.object_type = %(object_type)s and linked.run_id = %(run_id)s
),

approval as (
    select details ->> 'approved' = 'true' as approved, details ->> 'by' as approved_by
    from staging.reconciliation_log
    where object_type = %(object_type)s and run_id = %(run_id)s and step = 'approve_push'
)

select jsonb_build_object('mirror_guard', (
    select jsonb_build_object(
        'mirror_records', checks.mirror_records,
        'previous_run_id', checks.previous_run_id,
        'previous_records', checks.previous_records,
        'links_before', checks.links_before,
        'lost_links', checks.lost_links,
        'shrunk', checks.shrunk,
        'carried_links', checks.carried_links,
        -- Every creation the guard held in this run (the records linked before, and with a shrink
        -- all the others): what the push recorded.
        'held_creations', (
            select coalesce((push.details ->> 'guarded_creations')::bigint, 0)
            from staging.reconciliation_log as push
            where push.object_type = %(object_type)s and push.run_id = %(run_id)s and push.step = 'push'
        ),
        'now_new', (select count(*) from relinked),
        'created', (select count(*) from relinked where created),
        'approved_by', (select approved_by from approval where approved),
        'rows', (
            select coalesce(jsonb_agg(to_jsonb(shown) order by shown.gone desc, shown.legacy_id), '[]'::jsonb)
            from (select * from relinked order by gone desc, legacy_id limit 100) as shown
        )
    )
    from checks
))
