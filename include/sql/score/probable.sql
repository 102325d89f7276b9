{#- reads: staging.<object>_hubspot_source, staging."_<object>_scored", staging."_<object>_score_labels",
    staging."_<object>_legacy_named", staging."_<object>_pairs", _assigned, _ties / creates: nothing /
    updates: staging.<object>_reconciliation

    probable: every legacy record that no HubSpot record links by id gets its outcome, from the
    twins (assigned.sql) and ties (ties.sql) of the blocked candidates scored by the object's one
    match model: probable, a tie (conflict), or new with the best candidate named. -#}
{%- from "reconcile/macros.sql" import hubspot_value, hubspot_json, field_diffs_json, updates_json, pushed_properties -%}
{%- from "macros/summary.sql" import status_counts -%}
{%- from "score/macros.sql" import work_table -%}
{%- from "score/weight_macros.sql" import identity_reason -%}
{%- from "score/explain_macros.sql" import score_components, score_summary -%}
{%- set o = params.object -%}
{%- set scored, labels = work_table(o, "scored"), work_table(o, "score_labels") -%}
{%- if o.matching %}
-- Every unlinked row gets its outcome: probable (with the diff against its twin), a tie
-- (conflict), or new with the best candidate named.
with settings as (
    select
        %(settings)s::jsonb ->> 'phone_country_code' as phone_country_code,
        %(matching)s::jsonb as matching
),

-- The best candidate: only what names it (the pair shown is read whole below).
best as (
    select distinct on (scored.legacy_id) scored.legacy_id, scored.hubspot_id, scored.confidence
    from {{ scored }} as scored
    where scored.rules <> array['legacy_id']
    order by scored.legacy_id, scored.match_weight desc, scored.hubspot_id
),

twins as materialized (
    select
        assigned.legacy_id,
        assigned.hubspot_id,
        true as has_twin,
        reconciliation.legacy_properties,
        {%- if o.activities %}
        -- The twin keeps its object (an activity's type, read from its values).
        staging.crm_activity_object(jsonb_build_object(
            {%- for m in o.mappings %}
            '{{ m.property }}', hubspot.{{ m.property }}{{ "," if not loop.last }}
            {%- endfor %}
        ), %(activities)s::jsonb) as api_object
        {%- else %}
        reconciliation.api_object
        {%- endif %}
        {%- for m in o.mappings %},
        reconciliation.legacy_properties ->> '{{ m.property }}' as v_{{ m.property }},
        {{ hubspot_value(m, "hubspot." ~ m.property) }} as h_{{ m.property }}
        {%- endfor %}
    from _assigned as assigned
    inner join staging.{{ o.staging_table }} as reconciliation on reconciliation.{{ o.legacy_key }} = assigned.legacy_id
    inner join staging.{{ o.name }}_hubspot_source as hubspot on hubspot.hubspot_id = assigned.hubspot_id
    cross join settings
),

outcomes as (
    select
        legacy.legacy_id,
        assigned.hubspot_id as twin_id,
        twins.api_object as twin_object,
        assigned.confidence as twin_confidence,
        ties.reason as tie_reason,
        ties.confidence as tie_confidence,
        best.hubspot_id as best_id,
        best.confidence as best_confidence,
        -- Read only where there is no twin: there the pair shown is the best candidate.
        {{ identity_reason(o.model, "shown") | indent(8) }} as best_identity_reason,
        -- Components and notes only for the pair shown (score/explain_macros.sql: score_components),
        -- built once: the twin, else the best candidate.
        case
            when shown.legacy_id is not null
                then {{ score_components(o.model, "shown", "labels") | indent(16) }}
                    || jsonb_build_object('candidate', shown.hubspot_id)
        end as shown_components,
        case
            when shown.legacy_id is not null
                then {{ score_summary(o.model, "shown", "labels") | indent(16) }}
        end as shown_summary,
        {{ hubspot_json(o.mappings, "twins.has_twin") | indent(8) }} as hubspot_properties,
        {{ field_diffs_json(o.mappings, "twins.has_twin") | indent(8) }} as field_diffs,
        {{ pushed_properties(o, updates_json(o.mappings, "twins.has_twin"), "twins.legacy_properties", "twins.api_object") | indent(8) }}
        || case
            when (settings.matching ->> 'auto_link')::boolean
                and assigned.confidence >= (settings.matching ->> 'auto_link_min_confidence')::numeric
                then jsonb_build_object('{{ o.legacy_id_property }}', legacy.legacy_id::text)
            else '{}'::jsonb
        end as properties_to_update
    from {{ work_table(o, "legacy_named") }} as legacy
    cross join settings
    cross join {{ labels }} as labels
    left join _assigned as assigned on assigned.legacy_id = legacy.legacy_id
    left join twins on twins.legacy_id = legacy.legacy_id
    left join (
        select distinct on (ties.legacy_id) ties.* from _ties as ties order by ties.legacy_id, ties.confidence desc
    ) as ties on ties.legacy_id = legacy.legacy_id
    left join best on best.legacy_id = legacy.legacy_id
    left join {{ scored }} as shown
        on shown.legacy_id = legacy.legacy_id and shown.hubspot_id = coalesce(assigned.hubspot_id, best.hubspot_id)
)

update staging.{{ o.staging_table }} as reconciliation
set
    reconciliation_status = case
        when outcomes.twin_id is not null then 'probable'
        when outcomes.tie_reason is not null then 'conflict'
        else 'new'
    end,
    {{ o.hubspot_key }} = outcomes.twin_id,
    api_object = coalesce(outcomes.twin_object, reconciliation.api_object),
    match_confidence = coalesce(outcomes.twin_confidence, outcomes.tie_confidence, 0),
    -- The pair shown, with its HubSpot record as the candidate: the twin, else the best candidate.
    score_components = coalesce(outcomes.shown_components, '{}'::jsonb),
    hubspot_properties = outcomes.hubspot_properties,
    field_diffs = coalesce(outcomes.field_diffs, '{}'::jsonb),
    properties_to_update = case when outcomes.twin_id is not null then outcomes.properties_to_update else '{}'::jsonb end,
    notes = regexp_replace(reconciliation.notes, ' (Probable twin|Tie|Best candidate|No similar).*$', '')
        || case
            when outcomes.twin_id is not null then
                ' Probable twin: HubSpot ' || outcomes.twin_id || ' (confidence ' || round(outcomes.twin_confidence)
                || '): ' || outcomes.shown_summary || '.'
            when outcomes.tie_reason is not null then ' Tie: ' || outcomes.tie_reason || '; not picked.'
            when outcomes.best_id is not null then
                ' Best candidate: HubSpot ' || outcomes.best_id || ' (confidence ' || round(outcomes.best_confidence)
                || case
                    when outcomes.best_confidence < (%(matching)s::jsonb ->> 'probable_min_confidence')::numeric
                        then ', below ' || round((%(matching)s::jsonb ->> 'probable_min_confidence')::numeric)
                    when outcomes.best_identity_reason is not null then ', ' || outcomes.best_identity_reason
                    else ', the twin of another legacy record'
                end
                || '): ' || outcomes.shown_summary || '.'
            else ' No similar HubSpot record.'
        end
from outcomes
where reconciliation.{{ o.legacy_key }} = outcomes.legacy_id;

select jsonb_build_object(
    'by_status', {{ status_counts("staging." ~ o.staging_table) | indent(4) }},
    'candidates', (select count(*) from {{ work_table(o, "pairs") }}),
    'probable', (select count(*) from _assigned),
    'ties', (select count(distinct legacy_id) from _ties),
    'unlinked', (select count(*) from {{ work_table(o, "legacy_named") }})
) as summary
{%- else %}
select jsonb_build_object(
    'by_status', {{ status_counts("staging." ~ o.staging_table) | indent(4) }},
    'probable', 'no matching configured for {{ o.name }}'
) as summary
{%- endif %}
