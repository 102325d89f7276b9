{#- reads: staging.<object>_reconciliation, staging.review_decision_history / creates: nothing

    One queue item: both records side by side (the legacy values and the HubSpot ones, each
    field's difference), the score's weights, the other candidates, and the decisions taken on
    this legacy record with their history. -#}
{%- set o = params.object -%}
select jsonb_build_object(
    'legacy_id', reconciliation.{{ o.legacy_key }},
    'hubspot_id', reconciliation.{{ o.hubspot_key }},
    'status', reconciliation.reconciliation_status,
    'confidence', reconciliation.match_confidence,
    'notes', reconciliation.notes,
    'legacy', reconciliation.legacy_properties,
    'hubspot', coalesce(reconciliation.hubspot_properties, '{}'::jsonb),
    'diffs', reconciliation.field_diffs,
    'components', reconciliation.score_components,
    'updates', reconciliation.properties_to_update,
    'review', reconciliation.review,
    'history', coalesce((
        select jsonb_agg(jsonb_build_object(
            'change', history.change, 'verdict', history.verdict, 'hubspot_id', history.hubspot_id,
            'reviewer', history.reviewer, 'comment', history.comment, 'stale_reason', history.stale_reason,
            'at', to_char(history.changed_at at time zone 'UTC', 'YYYY-MM-DD HH24:MI "UTC"')
        ) order by history.history_id desc)
        from staging.review_decision_history as history
        where history.object_type = %(object_type)s and history.legacy_id = reconciliation.{{ o.legacy_key }}
    ), '[]'::jsonb)
)
from staging.{{ o.staging_table }} as reconciliation
where reconciliation.{{ o.legacy_key }} = %(legacy_id)s
