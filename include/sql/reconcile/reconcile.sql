{#- reads: staging.<object>_hubspot_source (mirror_source.sql), bronze.<table>, the referenced
    objects' mirrors / creates: staging.<object>_reconciliation, staging.<object>_orphans (view)

    reconcile: link every live legacy {{ params.object.entity }} to HubSpot by its legacy id, and
    diff every mapped property. Rendered by Airflow; values are bound (%(name)s), never pasted.

    At a million rows the cost is computing canonical values and building JSON, then writing
    the rows. So each side (legacy, mirror) is read once, by a CREATE TABLE AS that PostgreSQL
    may run in parallel (INSERT, UPDATE and MERGE never run in parallel), into a temporary table
    holding its canonical values as one JSON object; the last statement only joins, diffs and
    writes, and leaves rows that did not change alone. -#}
{%- from "reconcile/macros.sql" import legacy_value, hubspot_value, problem, usable_problem, property_record, updates_json, field_diffs_json, pushed_properties, api_object_of, references_json -%}
{%- set o = params.object -%}
{%- set usable_when_any = o.usable_when_any | default([]) -%}

-- 1b. The mirror's records that carry a legacy id (readable or not), read once: their canonical
--     values as one JSON object, empty ones kept as null (HubSpot has the property empty).
--     Every later use of the mirror reads this table, not the view.
create temp table _hubspot on commit drop as
select
    source.hubspot_id,
    source.legacy_id,
    source.legacy_id_raw,
    json_object(
        {%- for m in o.mappings %}
        '{{ m.property }}': {{ hubspot_value(m, "source." ~ m.property) }}{{ "," if not loop.last }}
        {%- endfor %}
        null on null returning jsonb
    ) as properties
from staging.{{ o.name }}_hubspot_source as source
-- A subquery, not a CTE: it is folded into the scan, which then may run in parallel.
cross join (select %(settings)s::jsonb ->> 'phone_country_code' as phone_country_code) as settings
where staging.crm_text(source.legacy_id_raw) is not null;

analyze _hubspot;

-- 1c. Legacy ids the mirror holds but that are no id ('abc', 'C-12'): counted and sampled for the
--     step log. When they are most of the non-empty ones, the column does not hold legacy ids
--     as this reads them (a sync mapping gone wrong): the step stops rather than call every
--     legacy row new.
create temp table _unreadable_legacy_ids on commit drop as
select
    count(*) as non_empty,
    count(*) filter (where source.legacy_id is null) as unreadable,
    array(
        select distinct left(bad.legacy_id_raw, 100)
        from _hubspot as bad
        where bad.legacy_id is null
        order by 1
        limit 5
    ) as sample
from _hubspot as source;

do $unreadable$
declare
    found record;
begin
    select * into found from _unreadable_legacy_ids;
    if found.unreadable * 2 > found.non_empty then
        raise exception
            'hubspot.{{ o.hubspot_table }}.{{ o.legacy_id_property }}: % of the % non-empty legacy ids are unreadable, e.g. %',
            found.unreadable, found.non_empty,
            (select string_agg(quote_literal(value), ', ') from unnest(found.sample) as value)
            using hint = 'A legacy id reads as a whole number (''123'', '' 123'', ''123.0'', 123 or "123" in JSON). '
                || 'Check what the sync tool writes into {{ o.legacy_id_property }} before reconciling: '
                || 'with these ids nearly every legacy row would be new.';
    end if;
end
$unreadable$;

-- 2. HubSpot records that carry a legacy id no live legacy row has, or one that is unreadable.
create view staging.{{ o.name }}_orphans as
select
    source.hubspot_id,
    source.legacy_id_raw as {{ o.legacy_id_property }},
    case
        when source.legacy_id is null then 'unreadable legacy id'
        else 'no live legacy row has this id'
    end as reason
from staging.{{ o.name }}_hubspot_source as source
-- A join, not "or not exists": the OR would turn it into one scan of bronze per record.
-- Live legacy ids are unique (the loader rejects duplicates), so no row is repeated.
left join bronze.{{ o.bronze_table }}_live as live on source.legacy_id = live.legacy_id
where
    staging.crm_text(source.legacy_id_raw) is not null
    and live.legacy_id is null;

-- 3. Which HubSpot records carry each legacy id: how many, and the first ten (shortest id
--    first). The list is capped so that a mirror where a million records carry one id costs
--    what a million distinct ids cost: later steps read the count, never the whole list.
create temp table _links on commit drop as
select
    legacy_id,
    count(*) as link_count,
    (array_agg(hubspot_id order by length(hubspot_id), hubspot_id))[1:10] as hubspot_ids
from _hubspot
where legacy_id is not null
group by legacy_id;

analyze _links;

-- 4. Legacy ids of other objects resolve to HubSpot ids through those objects' mirrors, when
--    exactly one HubSpot record carries the id. Their columns are read as in step 1.
{% for m in o.mappings if m.reference %}
do $reference$
declare
    mirror_types jsonb;
    id_column text;
    legacy_id_text text;
begin
    mirror_types := staging.crm_mirror_types('{{ m.reference.hubspot_table }}');
    id_column := staging.crm_mirror_key(mirror_types, '{{ m.reference.hubspot_id_column }}');
    if id_column is null or not mirror_types ? '{{ m.reference.legacy_id_property }}' then
        raise exception '{{ m.property }} refers to {{ m.reference.name }}, but hubspot.{{ m.reference.hubspot_table }} is missing or lacks its record id ({{ m.reference.hubspot_id_column }} or id) or {{ m.reference.legacy_id_property }}';
    end if;
    legacy_id_text := staging.crm_mirror_text(
        '{{ m.reference.legacy_id_property }}', mirror_types ->> '{{ m.reference.legacy_id_property }}'
    );
    execute format(
        'create temp table ref_{{ m.property }}_ids on commit drop as '
        'select staging.crm_legacy_id(%s) as legacy_id, min(%s) as hubspot_id '
        'from hubspot.{{ m.reference.hubspot_table }} where staging.crm_legacy_id(%s) is not null '
        'group by 1 having count(*) = 1',
        legacy_id_text, staging.crm_mirror_id(id_column, mirror_types ->> id_column), legacy_id_text
    );
end
$reference$;

create index on ref_{{ m.property }}_ids (legacy_id);
{% endfor %}

{%- if o.status_column %}
-- 5. The deal stage map, keys folded (case and accents ignored).
create temp table _deal_stages on commit drop as
select staging.crm_fold(stage.key) as key, stage.value as stage_id
from jsonb_each_text(%(deal_stages)s::jsonb) as stage;

create temp table _deal_outcomes on commit drop as
select staging.crm_fold(outcome.key) as key, outcome.value as target
from jsonb_each_text(%(deal_outcomes)s::jsonb) as outcome;
{%- endif %}

-- 6. Every live legacy row, read once: its canonical values as one JSON object (empty ones left
--    out), and the source text of each value that can make the row unusable.
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

-- 7. Legacy rows that are gone (deleted, or absent from this snapshot) leave the table.
delete from staging.{{ o.staging_table }} as reconciliation
where not exists (
    select 1 from _legacy as live
    where live.legacy_id = reconciliation.{{ o.legacy_key }}
);

-- 8. One row per live legacy record: link, problems, diff, first status. Rows equal to what
--    the table holds are not written again (a rerun rewrites nothing; last_updated says when
--    a row last changed).
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

-- 9. What the step logs: rows per status, rows with something to update, orphans; the table
--    read once.
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
