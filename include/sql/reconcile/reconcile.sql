{#- reads: _legacy, _links, _hubspot, _unreadable_legacy_ids / creates: nothing / updates:
    staging.<object>_reconciliation

    reconcile: link every live legacy {{ params.object.entity }} to HubSpot by its legacy id, and
    diff every mapped property. Rendered by Airflow; values are bound (%(name)s), never pasted.

    At a million rows the cost is computing canonical values and building JSON, then writing
    the rows. So each side (legacy, mirror) is read once, by a CREATE TABLE AS that PostgreSQL
    may run in parallel (INSERT, UPDATE and MERGE never run in parallel), into a temporary table
    holding its canonical values as one JSON object (mirror_values.sql, legacy_values.sql); this
    last file of the step only joins, diffs and writes, and leaves rows that did not change alone. -#}
{%- from "reconcile/macros.sql" import problem, usable_problem, property_record, updates_json, field_diffs_json, pushed_properties, api_object_of -%}
{%- set o = params.object -%}
{%- set usable_when_any = o.usable_when_any | default([]) %}
-- Legacy rows that are gone (deleted, or absent from this snapshot) leave the table.
delete from staging.{{ o.staging_table }} as reconciliation
where not exists (
    select 1 from _legacy as live
    where live.legacy_id = reconciliation.{{ o.legacy_key }}
);

-- One row per live legacy record: link, problems, diff, first status. Rows equal to what
-- the table holds are not written again (a rerun rewrites nothing; last_updated says when
-- a row last changed).
with linked as (
    select
        legacy.*,
        links.hubspot_ids,
        coalesce(links.link_count, 0) as link_count,
        twin.hubspot_id is not null as has_twin,
        twin.hubspot_id,
        twin.properties as twin_properties
        {%- for m in o.mappings %},
        v."{{ m.property }}" as v_{{ m.property }}
        {%- endfor %}
        {%- for m in o.mappings %},
        h."{{ m.property }}" as h_{{ m.property }}
        {%- endfor %}
    from _legacy as legacy
    left join _links as links on links.legacy_id = legacy.legacy_id
    left join _hubspot as twin on links.link_count = 1 and twin.legacy_id = legacy.legacy_id
    -- Back to columns, one call per side and row.
    cross join lateral jsonb_to_record(legacy.properties) as v ({{ property_record(o.mappings) }})
    left join lateral jsonb_to_record(twin.properties) as h ({{ property_record(o.mappings) }}) on true
),

checked as (
    select
        linked.*,
        array_remove(array[
            {%- for m in o.mappings if m.can_reject %}
            {{ problem(m, "linked.s_" ~ m.property, "linked.v_" ~ m.property) | indent(12) }},
            {%- endfor %}
            {{ usable_problem(usable_when_any, "linked.v_") | indent(12) }}
        ]::text [], null) as problems
    from linked
),

reconciled as (
    select
        legacy_id as {{ o.legacy_key }},
        case when link_count = 1 then hubspot_ids[1] end as {{ o.hubspot_key }},
        hubspot_ids as candidate_hubspot_ids,
        properties as legacy_properties,
        twin_properties as hubspot_properties,
        {{ field_diffs_json(o.mappings, "has_twin") | indent(8) }} as field_diffs,
        {{ pushed_properties(
            o,
            updates_json(o.mappings, "has_twin"),
            "properties",
            "case when has_twin then " ~ api_object_of(o, "twin_properties") ~ " else " ~ api_object_of(o, "properties") ~ " end",
        ) | indent(8) }} as properties_to_update,
        legacy_references,
        -- A HubSpot record keeps its object: an activity linked to one is written as that.
        case when has_twin then {{ api_object_of(o, "twin_properties") }} else {{ api_object_of(o, "properties") }} end
            as api_object,
        case
            when link_count > 1 then jsonb_build_object('hubspot_records', link_count) else '{}'::jsonb
        end as score_components,
        case
            when cardinality(problems) > 0 then 'rejected'
            when link_count > 1 then 'conflict'
            when link_count = 1 then 'matched'
            else 'new'
        end as reconciliation_status,
        0::numeric(5, 2) as match_confidence,
        case
            when cardinality(problems) > 0 then 'Unusable legacy row: ' || array_to_string(problems, '; ') || '.'
            when link_count > 1 then
                'Legacy id ' || legacy_id || ' is on ' || link_count || ' HubSpot records ('
                || array_to_string(hubspot_ids, ', ')
                || case
                    when link_count > cardinality(hubspot_ids)
                        then ' and ' || (link_count - cardinality(hubspot_ids)) || ' more'
                    else ''
                end
                || '): never pushed automatically.'
            when link_count = 1 then 'Linked by {{ o.legacy_id_property }} to HubSpot ' || hubspot_ids[1] || '.'
            else 'No HubSpot record carries {{ o.legacy_id_property }} ' || legacy_id || '.'
        end
        {%- for m in o.mappings if m.transform == "note_body" %}
        || case when truncated_{{ m.property }} then ' {{ m.source }} cut to 65,536 characters for {{ m.property }}.' else '' end
        {%- endfor %} as notes,
        snapshot_date,
        %(run_id)s::text as run_id
    from checked
)
{%- set written = [
    o.hubspot_key, "candidate_hubspot_ids", "legacy_properties", "hubspot_properties", "field_diffs",
    "properties_to_update", "legacy_references", "api_object", "score_components", "reconciliation_status",
    "match_confidence", "notes", "snapshot_date", "run_id",
] %}

merge into staging.{{ o.staging_table }} as target
using reconciled as source
on target.{{ o.legacy_key }} = source.{{ o.legacy_key }}
when matched and (
    {%- for c in written %}
    target.{{ c }}{{ "," if not loop.last }}
    {%- endfor %}
) is distinct from (
    {%- for c in written %}
    source.{{ c }}{{ "," if not loop.last }}
    {%- endfor %}
) then update set
    {%- for c in written %}
    {{ c }} = source.{{ c }},
    {%- endfor %}
    last_updated = now()
when not matched then insert (
    {{ o.legacy_key }},
    {%- for c in written %}
    {{ c }},
    {%- endfor %}
    last_updated
) values (
    source.{{ o.legacy_key }},
    {%- for c in written %}
    source.{{ c }},
    {%- endfor %}
    now()
);

-- What the step logs: rows per status, rows with something to update, orphans; the table
-- read once.
with counts as (
    select
        reconciliation_status,
        count(*) as row_count,
        count(*) filter (where properties_to_update <> '{}'::jsonb) as with_updates,
        coalesce(sum((select count(*) from jsonb_object_keys(properties_to_update)))
            filter (where properties_to_update <> '{}'::jsonb), 0) as updates
    from staging.{{ o.staging_table }}
    group by reconciliation_status
)

select jsonb_build_object(
    'by_status', coalesce((select jsonb_object_agg(reconciliation_status, row_count) from counts), '{}'::jsonb),
    'with_properties_to_update', (select coalesce(sum(with_updates), 0) from counts),
    'properties_to_update', (select coalesce(sum(updates), 0) from counts),
    -- As the orphans view counts them, from the tables this run read.
    'orphans', (
        select count(*)
        from _hubspot as source
        left join _legacy as live on source.legacy_id = live.legacy_id
        where live.legacy_id is null
    ),
    'unreadable_legacy_ids', (select unreadable from _unreadable_legacy_ids),
    'unreadable_sample', (select to_jsonb(sample) from _unreadable_legacy_ids)
) as summary
