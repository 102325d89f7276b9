{#- reads: staging.<object>_reconciliation, staging.<object>_hubspot_source, _levels, _model_settings /
    creates: _u_legacy, _u_hubspot, _u_counts

    The u sample: the share of random record pairs that hits each level. -#}
{%- from "reconcile/macros.sql" import hubspot_value -%}
{%- from "score/macros.sql" import comparison_json, comparison_value, level_of, prepare, similarity_of, with_crossed -%}
{%- set o = params.object -%}
{%- set by_property = {} -%}
{%- for m in o.mappings %}{% set _ = by_property.update({m.property: m}) %}{% endfor %}
-- u: the levels random pairs hit. Each side is a deterministic sample (ordered by a hash of
-- the id, so a rerun draws the same records), its values prepared once per record. Exact
-- agreement is counted over every pair of 10,000 records a side (a join on the prepared
-- value: 10^8 pairs, for the rare agreements); the other levels over every pair of the
-- first √u_sample_pairs records of each sample. Counts are smoothed towards the configured u
-- (1,000 pseudo-pairs), so that a level no sampled pair hits keeps a small, finite u.
create temp table _u_legacy on commit drop as
select
    row_number() over (order by md5(reconciliation.{{ o.legacy_key }}::text)) as position
    {%- for c in o.model.comparisons if c.compare != "legacy_id" %},
    {{ prepare(c.compare, comparison_json(c, "reconciliation.legacy_properties")) }} as v_{{ c.name }}
    {%- endfor %}
from staging.{{ o.staging_table }} as reconciliation
where reconciliation.reconciliation_status <> 'rejected'
order by md5(reconciliation.{{ o.legacy_key }}::text)
limit 10000;

create temp table _u_hubspot on commit drop as
with settings as (select %(settings)s::jsonb ->> 'phone_country_code' as phone_country_code),

sampled as (
    select hubspot.*, row_number() over (order by md5(hubspot.hubspot_id)) as position
    from staging.{{ o.name }}_hubspot_source as hubspot
    order by md5(hubspot.hubspot_id)
    limit 10000
),

canonical as (
    select
        sampled.position
        {%- for p in o.model.properties %},
        {{ hubspot_value(by_property[p], "sampled." ~ p) }} as p_{{ p }}
        {%- endfor %}
    from sampled
    cross join settings
)

select
    canonical.position
    {%- for c in o.model.comparisons if c.compare != "legacy_id" %},
    {{ prepare(c.compare, comparison_value(c, "canonical.")) }} as v_{{ c.name }}
    {%- endfor %}
from canonical;

create temp table _u_counts on commit drop as
with side as (
    select ceil(sqrt(settings.u_sample_pairs)) as records from _model_settings as settings
),

-- The pairs for the similarity levels; prepared values, each agreement computed once.
agreements as materialized (
    select
        {%- for c in o.model.comparisons if c.compare != "legacy_id" %}
        ({{ with_crossed(c, similarity_of(c.compare, "legacy.v_" ~ c.name, "hubspot.v_" ~ c.name), "legacy.v_", "hubspot.v_") | indent(8) }})::numeric
            as a_{{ c.name }}{{ "," if not loop.last }}
        {%- else %}
        null::numeric as a_none
        {%- endfor %}
    from _u_legacy as legacy
    cross join _u_hubspot as hubspot
    cross join side
    where legacy.position <= side.records and hubspot.position <= side.records
),

levels as (
    select
        {%- for c in o.model.comparisons if c.compare != "legacy_id" %}
        ({{ level_of(c, "agreements.a_" ~ c.name) | indent(8) }}) as g_{{ c.name }}{{ "," if not loop.last }}
        {%- else %}
        0 as g_none
        {%- endfor %}
    from agreements
),

-- Pairs per comparison and level, counted in one pass (one aggregate per level), then one row
-- per level.
level_counts as (
    select
        {%- for c in o.model.comparisons if c.compare != "legacy_id" %}
        {%- set outer = loop %}
        {%- for level in c.levels %}
        count(*) filter (where levels.g_{{ c.name }} = {{ loop.index }})::float8
            as {{ c.name }}_{{ loop.index }}{{ "," if not (outer.last and loop.last) }}
        {%- endfor %}
        {%- else %}
        0::float8 as none_0
        {%- endfor %}
    from levels
),

similar_counts as (
    select hit.comparison, hit.level_index, hit.pairs
    from level_counts
    cross join lateral (
        values
        {%- for c in o.model.comparisons if c.compare != "legacy_id" %}
        {%- set outer = loop %}
        {%- for level in c.levels %}
            ('{{ c.name }}', {{ loop.index }}, level_counts.{{ c.name }}_{{ loop.index }}){{ "," if not (outer.last and loop.last) }}
        {%- endfor %}
        {%- else %}
            ('', 0, 0::float8)
        {%- endfor %}
    ) as hit (comparison, level_index, pairs)
    where hit.pairs > 0
),

-- Exact agreement over the whole samples: pairs with a value on both sides, pairs with equal ones.
exact_counts as (
    {%- for c in o.model.comparisons if c.compare != "legacy_id" %}
    select
        '{{ c.name }}' as comparison,
        (select count(v_{{ c.name }}) from _u_legacy)::float8 * (select count(v_{{ c.name }}) from _u_hubspot) as pairs,
        (
            -- Pairs of equal values, counted per value (a city 2,000 records a side share is 4
            -- million pairs, not a join of 4 million rows).
            select coalesce(sum(legacy.records * hubspot.records), 0)
            from (
                select v_{{ c.name }} as value, count(*)::float8 as records from _u_legacy group by 1
            ) as legacy
            inner join (
                select v_{{ c.name }} as value, count(*)::float8 as records from _u_hubspot group by 1
            ) as hubspot on hubspot.value = legacy.value
        )::float8 as exact
    {{- "\n    union all" if not loop.last }}
    {%- else %}
    select ''::text as comparison, 0::float8 as pairs, 0::float8 as exact
    {%- endfor %}
)

-- Exact levels (the first level of every comparison but the legacy id's) from the join; the
-- others from the cross join, as shares of its pairs that are not exact.
select
    levels.comparison,
    levels.level_index,
    case
        when levels.level_index = 1 then exact_counts.exact / nullif(exact_counts.pairs, 0)
        else coalesce(similar_counts.pairs, 0) / nullif(totals.pairs - coalesce(first_level.pairs, 0), 0)
            * (1 - coalesce(exact_counts.exact / nullif(exact_counts.pairs, 0), 0))
    end as share,
    case when levels.level_index = 1 then exact_counts.pairs else totals.pairs end as sampled
from _levels as levels
inner join exact_counts on exact_counts.comparison = levels.comparison
left join (
    select comparison, sum(pairs) as pairs from similar_counts group by comparison
) as totals on totals.comparison = levels.comparison
left join similar_counts
    on similar_counts.comparison = levels.comparison and similar_counts.level_index = levels.level_index
left join similar_counts as first_level
    on first_level.comparison = levels.comparison and first_level.level_index = 1;
