{#- reads: staging.<object>_hubspot_source, staging."_<object>_linked", staging."_<object>_pairs",
    staging."_<object>_legacy_named", staging."_<object>_hubspot_named" / creates:
    staging."_<object>_tf_<comparison>", staging."_<object>_gammas"

    compare: the level every pair hits in each comparison of the object's match model (Splink's
    comparison vectors, "gamma"); 0 is the null level. Reads the id links and blocked pairs of
    linked.sql and candidates.sql; keeps both sides' values beside the levels, for the score and
    its explanation. -#}
{%- from "reconcile/macros.sql" import hubspot_value -%}
{%- from "score/macros.sql" import comparison_agreement, comparison_value, level_of, prepare, with_crossed, work_table -%}
{%- set o = params.object -%}
{%- set by_property = {} -%}
{%- for m in o.mappings %}{% set _ = by_property.update({m.property: m}) %}{% endfor -%}
-- Term frequencies: exact agreement on a value weighs log2(m / share of HubSpot records that
-- hold it), so a rare surname counts for more than "Martin" (score/score.sql). Each pair reads
-- its value's share here, once.
{%- for c in o.model.comparisons if c.term_frequency %}

create unlogged table {{ work_table(o, "tf_" ~ c.name) }} as
with settings as (select %(settings)s::jsonb ->> 'phone_country_code' as phone_country_code),

canonical as (
    select lower({{ comparison_value(c, "values_of.") }}) as key
    from (
        select
            {%- for p in c.properties %}
            {{ hubspot_value(by_property[p], "hubspot." ~ p) }} as p_{{ p }}{{ "," if not loop.last }}
            {%- endfor %}
        from staging.{{ o.name }}_hubspot_source as hubspot
        cross join settings
    ) as values_of
)

select canonical.key, count(*)::float8 / sum(count(*)) over () as u
from canonical
where canonical.key is not null
group by canonical.key;

analyze {{ work_table(o, "tf_" ~ c.name) }};
{%- endfor %}

create unlogged table {{ work_table(o, "gammas") }} as
-- Both sides' values of every comparison per pair, raw (what the reviewer reads; the first
-- 65,536 characters, score/macros.sql comparison_value) and prepared. An id link's values are
-- prepared only where the two differ (equal values agree at once).
with pair_values as (
    select
        linked.legacy_id,
        linked.hubspot_id,
        array['legacy_id'] as rules
        {%- for c in o.model.comparisons %},
        {%- if c.compare == "legacy_id" %}
        linked.legacy_id as l_{{ c.name }},
        linked.legacy_id as h_{{ c.name }},
        null::text as ql_{{ c.name }},
        null::text as qh_{{ c.name }}
        {%- else %}
        linked.l_{{ c.name }},
        linked.h_{{ c.name }},
        case when linked.l_{{ c.name }} <> linked.h_{{ c.name }} then {{ prepare(c.compare, "linked.l_" ~ c.name) }} end
            as ql_{{ c.name }},
        case when linked.l_{{ c.name }} <> linked.h_{{ c.name }} then {{ prepare(c.compare, "linked.h_" ~ c.name) }} end
            as qh_{{ c.name }}
        {%- endif %}
        {%- endfor %}
    from {{ work_table(o, "linked") }} as linked

    union all

    select
        pairs.legacy_id,
        pairs.hubspot_id,
        pairs.rules
        {%- for c in o.model.comparisons %},
        {%- if c.compare == "legacy_id" %}
        legacy.legacy_id as l_{{ c.name }},
        hubspot.legacy_id as h_{{ c.name }},
        null::text as ql_{{ c.name }},
        null::text as qh_{{ c.name }}
        {%- else %}
        {{ comparison_value(c, "legacy.") }} as l_{{ c.name }},
        {{ comparison_value(c, "hubspot.") }} as h_{{ c.name }},
        legacy.q_{{ c.name }} as ql_{{ c.name }},
        hubspot.q_{{ c.name }} as qh_{{ c.name }}
        {%- endif %}
        {%- endfor %}
    from {{ work_table(o, "pairs") }} as pairs
    inner join {{ work_table(o, "legacy_named") }} as legacy on legacy.legacy_id = pairs.legacy_id
    inner join {{ work_table(o, "hubspot_named") }} as hubspot on hubspot.hubspot_id = pairs.hubspot_id
),

agreements as (
    select
        pair.legacy_id,
        pair.hubspot_id,
        pair.rules
        {%- for c in o.model.comparisons %},
        pair.l_{{ c.name }},
        pair.h_{{ c.name }},
        ({{ level_of(c, with_crossed(c, comparison_agreement(c, "pair.l_" ~ c.name, "pair.h_" ~ c.name, "pair.ql_" ~ c.name, "pair.qh_" ~ c.name), "pair.ql_", "pair.qh_")) | indent(8) }})::smallint
            as g_{{ c.name }}
        {%- endfor %}
    from pair_values as pair
    -- A fence (not pulled up into the select below): each level is computed once per pair, not
    -- once more in the term-frequency join's key.
    offset 0
)

select
    agreements.legacy_id,
    agreements.hubspot_id,
    agreements.rules
    {%- for c in o.model.comparisons %},
    agreements.g_{{ c.name }},
    agreements.l_{{ c.name }},
    agreements.h_{{ c.name }}
    {%- if c.term_frequency %},
    -- Where the two agree exactly (once prepared), the share of HubSpot records holding the
    -- HubSpot side's value as written (else NULL).
    tf_{{ c.name }}.u as tf_{{ c.name }}
    {%- endif %}
    {%- endfor %}
from agreements
{%- for c in o.model.comparisons if c.term_frequency %}
left join {{ work_table(o, "tf_" ~ c.name) }} as tf_{{ c.name }}
    on tf_{{ c.name }}.key = case when agreements.g_{{ c.name }} = 1 then lower(agreements.h_{{ c.name }}) end
{%- endfor %};

create index on {{ work_table(o, "gammas") }} (legacy_id);

analyze {{ work_table(o, "gammas") }};
