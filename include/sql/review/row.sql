{#- reads: staging.<object>_reconciliation / creates: nothing

    What a decision is checked against: the row's status, its pair and the other candidates. -#}
{%- set o = params.object -%}
select
    reconciliation.reconciliation_status,
    reconciliation.{{ o.hubspot_key }},
    coalesce(
        array(select alternative ->> 'hubspot_id' from jsonb_array_elements(
            reconciliation.score_components -> 'alternatives') as alternative),
        array[]::text []
    )
from staging.{{ o.staging_table }} as reconciliation
where reconciliation.{{ o.legacy_key }} = %(legacy_id)s
