{#- reads: staging.<object>_reconciliation, staging.review_decisions / creates: nothing

    The review queue of one object: conflicts and probable twins nobody decided yet (or whose
    decision went stale, with why), ordered by what they hold back. Paged and filtered here, in
    the database: %(status)s (null: both), %(search)s (a legacy or HubSpot id, or text in the
    legacy values; null: all), %(offset)s, %(limit)s (null: all, the CSV export). -#}
{%- set o = params.object -%}
with queue as (
    select
        reconciliation.{{ o.legacy_key }} as legacy_id,
        reconciliation.{{ o.hubspot_key }} as hubspot_id,
        reconciliation.reconciliation_status as status,
        reconciliation.match_confidence as confidence,
        reconciliation.held_back,
        reconciliation.legacy_properties ->> '{{ o.mappings[0].property }}' as label,
        (select count(*) from jsonb_object_keys(reconciliation.properties_to_update)) as updates_waiting,
        (
            select decision.stale_reason from staging.review_decisions as decision
            where
                decision.object_type = %(object_type)s and decision.legacy_id = reconciliation.{{ o.legacy_key }}
                and decision.state = 'stale'
            order by decision.decided_at desc
            limit 1
        ) as stale_reason
    from staging.{{ o.staging_table }} as reconciliation
    where
        reconciliation.reconciliation_status in ('conflict', 'probable')
        and reconciliation.review is null
        and (%(status)s::text is null or reconciliation.reconciliation_status = %(status)s::text)
        and (
            %(search)s::text is null
            or reconciliation.{{ o.legacy_key }}::text = %(search)s::text
            or reconciliation.{{ o.hubspot_key }} = %(search)s::text
            or reconciliation.legacy_properties::text ilike '%%' || %(search)s::text || '%%'
        )
)

select jsonb_build_object(
    'total', (select count(*) from queue),
    'rows', coalesce((
        select jsonb_agg(to_jsonb(page) order by page.held_back desc, page.legacy_id)
        from (
            select * from queue order by queue.held_back desc, queue.legacy_id
            offset %(offset)s limit %(limit)s
        ) as page
    ), '[]'::jsonb)
)
