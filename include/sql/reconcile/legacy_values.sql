{#- reads: bronze.<legacy table>_live, ref_<property>_ids, _deal_stages, _deal_outcomes / creates:
    _legacy

    The legacy side of reconcile: every live legacy row, read once. -#}
{%- from "reconcile/macros.sql" import legacy_value, references_json -%}
{%- set o = params.object %}
-- Every live legacy row, read once: its canonical values as one JSON object (empty ones left
-- out), and the source text of each value that can make the row unusable.
create temp table _legacy on commit drop as
select
    bronze.legacy_id,
    bronze._snapshot_date as snapshot_date,
    json_object(
        {%- for m in o.mappings %}
        '{{ m.property }}': {{ legacy_value(m, "bronze." ~ m.column) }}{{ "," if not loop.last }}
        {%- endfor %}
        absent on null returning jsonb
    ) as properties,
    {{ references_json(o.mappings, "bronze.") | indent(4) }} as legacy_references
    {%- for m in o.mappings %}
    {%- if m.transform == "deal_stage" %},
    deal_stage.problem as s_{{ m.property }}
    {%- elif m.can_reject %},
    staging.crm_text(bronze.{{ m.column }}) as s_{{ m.property }}
    {%- endif %}
    {%- endfor %}
    {%- for m in o.mappings if m.transform == "note_body" %},
    length(staging.crm_text(bronze.{{ m.column }})) > 65536 as truncated_{{ m.property }}
    {%- endfor %}
from bronze.{{ o.bronze_table }}_live as bronze
-- A subquery, not a CTE: it is folded into the scan, which then may run in parallel.
cross join (
    select
        %(settings)s::jsonb ->> 'phone_country_code' as phone_country_code,
        %(settings)s::jsonb ->> 'legacy_timezone' as legacy_timezone
) as settings
{%- for m in o.mappings if m.reference %}
left join ref_{{ m.property }}_ids as ref_{{ m.property }}
    on ref_{{ m.property }}.legacy_id = staging.crm_legacy_id(bronze.{{ m.column }})
{%- endfor %}
{%- for m in o.mappings if m.transform == "deal_stage" %}
left join lateral (
    select
        stage.stage_id as hubspot_stage_id,
        case
            when given.status_text is not null and outcome.key is null
                then '{{ o.status_column_name }} ' || quote_literal(given.status_text)
                    || ' is not in the deal outcome map'
            when coalesce(outcome.target, given.stage_text) is not null and stage.stage_id is null
                then '{{ m.source }} ' || quote_literal(coalesce(outcome.target, given.stage_text))
                    || ' has no HubSpot stage in the stage map'
        end as problem
    from (
        select
            staging.crm_text(bronze.{{ o.status_column }}) as status_text,
            staging.crm_text(bronze.{{ m.column }}) as stage_text
    ) as given
    left join _deal_outcomes as outcome on outcome.key = staging.crm_fold(given.status_text)
    left join _deal_stages as stage on stage.key = staging.crm_fold(coalesce(outcome.target, given.stage_text))
) as deal_stage on true
{%- endfor %};

analyze _legacy;
