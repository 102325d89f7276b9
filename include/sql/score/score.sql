{#- score: every candidate pair on one probability scale. A pair's match weight is the prior's
    log2-odds plus, per comparison, the weight log2(m/u) of the level it hits (exact agreement
    on a term-frequency comparison: log2(m / the value's share of HubSpot records)); the match
    confidence is 100 × 2^w / (1 + 2^w). An id link at or above the match threshold is matched,
    below it a conflict. Reads _gammas, _pair_values, _weights (score/compare.sql, parameters.sql). -#}
{%- from "macros/summary.sql" import status_counts -%}
{%- set o = params.object -%}

create temp table _scored on commit drop as
with labels as (
    select jsonb_object_agg(levels.comparison, levels.labels) as value
    from (
        select comparison, jsonb_agg(label order by level_index) as labels
        from _levels
        group by comparison
    ) as levels
),

prior as (
    select weights.weight from _weights as weights where weights.comparison = 'prior'
),

weighed as (
    select
        gammas.legacy_id,
        gammas.hubspot_id,
        gammas.rules
        {%- for c in o.model.comparisons %},
        gammas.g_{{ c.name }},
        values_of.l_{{ c.name }},
        values_of.h_{{ c.name }},
        {%- if c.term_frequency %}
        {%- set exact = (c.levels | map(attribute="level") | list).index("exact") + 1 %}
        tf_{{ c.name }}.u is not null and gammas.g_{{ c.name }} = {{ exact }} as tf_{{ c.name }},
        case
            when tf_{{ c.name }}.u is not null and gammas.g_{{ c.name }} = {{ exact }}
                then log(2, (w_{{ c.name }}.m / tf_{{ c.name }}.u)::numeric)::float8
            else coalesce(w_{{ c.name }}.weight, 0)
        end as w_{{ c.name }}
        {%- else %}
        false as tf_{{ c.name }},
        coalesce(w_{{ c.name }}.weight, 0) as w_{{ c.name }}
        {%- endif %}
        {%- endfor %}
    from _gammas as gammas
    inner join _pair_values as values_of
        on values_of.legacy_id = gammas.legacy_id and values_of.hubspot_id = gammas.hubspot_id
    {%- for c in o.model.comparisons %}
    left join _weights as w_{{ c.name }}
        on w_{{ c.name }}.comparison = '{{ c.name }}' and w_{{ c.name }}.level_index = gammas.g_{{ c.name }}
    {%- if c.term_frequency %}
    left join _tf_{{ c.name }} as tf_{{ c.name }}
        on tf_{{ c.name }}.key = lower(values_of.h_{{ c.name }}) and values_of.l_{{ c.name }} = values_of.h_{{ c.name }}
    {%- endif %}
    {%- endfor %}
),

totals as (
    select
        weighed.*,
        prior.weight as prior_weight,
        greatest(least(prior.weight
            {%- for c in o.model.comparisons %} + weighed.w_{{ c.name }}{% endfor %}, 60), -60) as match_weight
    from weighed
    cross join prior
)

select
    totals.legacy_id,
    totals.hubspot_id,
    totals.rules,
    round(totals.match_weight::numeric, 2) as match_weight,
    round(100 / (1 + power(2::numeric, -totals.match_weight::numeric)), 2) as confidence,
    jsonb_build_object(
        'match_weight', round(totals.match_weight::numeric, 2),
        'prior', round(totals.prior_weight::numeric, 2),
        'rules', to_jsonb(totals.rules),
        'comparisons', jsonb_build_object(
            {%- for c in o.model.comparisons %}
            '{{ c.name }}', jsonb_build_object(
                'level', case
                    when totals.g_{{ c.name }} = 0 then 'null'
                    else labels.value -> '{{ c.name }}' ->> (totals.g_{{ c.name }} - 1)
                end,
                'legacy', totals.l_{{ c.name }},
                'hubspot', totals.h_{{ c.name }},
                'weight', round(totals.w_{{ c.name }}::numeric, 2),
                'term_frequency', totals.tf_{{ c.name }}
            ){{ "," if not loop.last }}
            {%- endfor %}
        )
    ) as components,
    'match weight ' || to_char(totals.match_weight, 'FMSG990.0') || ' (prior ' || to_char(totals.prior_weight, 'FMSG990.0')
    {%- for c in o.model.comparisons %}
    || ', {{ c.name }} ' || case
        when totals.g_{{ c.name }} = 0 then 'not comparable'
        else (labels.value -> '{{ c.name }}' ->> (totals.g_{{ c.name }} - 1)) || ' ' || to_char(totals.w_{{ c.name }}, 'FMSG990.0')
            || case when totals.tf_{{ c.name }} then ' (rare value)' else '' end
    end
    {%- endfor %}
    || ')' as summary
from totals
cross join labels;

create index on _scored (legacy_id);

-- The id links: matched at or above the threshold, else a conflict (the legacy id sits on a
-- record that looks like another entity).
update staging.{{ o.staging_table }} as reconciliation
set
    match_confidence = scored.confidence,
    reconciliation_status = case
        when scored.confidence >= (%(model)s::jsonb ->> 'match_threshold')::numeric then 'matched'
        else 'conflict'
    end,
    score_components = scored.components,
    notes = regexp_replace(reconciliation.notes, ' Score: .*$', '') || ' Score: ' || scored.summary
        || case
            when scored.confidence >= (%(model)s::jsonb ->> 'match_threshold')::numeric
                then ' — confidence ' || round(scored.confidence) || '.'
            else ' — confidence ' || round(scored.confidence) || ', below '
                || round((%(model)s::jsonb ->> 'match_threshold')::numeric)
                || ': the legacy id links records that look like different entities.'
        end
from _scored as scored
where
    scored.rules = array['legacy_id']
    and reconciliation.{{ o.legacy_key }} = scored.legacy_id;

select jsonb_build_object(
    'by_status', {{ status_counts("staging." ~ o.staging_table) | indent(4) }},
    'match_weights', coalesce((
        select jsonb_object_agg(bucket, rows)
        from (
            select (floor(scored.match_weight / 5) * 5)::integer as bucket, count(*) as rows
            from _scored as scored
            group by 1
        ) as histogram
    ), '{}'::jsonb)
) as summary
