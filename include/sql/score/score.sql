{#- reads: staging.<object>_reconciliation, staging."_<object>_gammas", _levels, _weights / creates:
    staging."_<object>_score_labels", staging."_<object>_weight_vectors", staging."_<object>_scored",
    staging."_<object>_id_links" (dropped once written) / updates: staging.<object>_reconciliation

    score: every candidate pair on one probability scale. A pair's match weight is the prior's
    log2-odds plus, per comparison, the weight log2(m/u) of the level it hits (exact agreement
    on a term-frequency comparison: log2(m / the value's share of HubSpot records)), the members
    of a correlated group counting once together (score/weight_macros.sql group_weight); the
    match confidence is 100 × 2^w / (1 + 2^w). An id link at or above the match threshold is
    matched, below it a conflict. Reads the comparison levels (compare.sql) and _weights
    (parameters.sql). -#}
{%- from "macros/summary.sql" import status_counts -%}
{%- from "score/macros.sql" import work_table -%}
{%- from "score/weight_macros.sql" import counted_weights, group_weight, identity_holds -%}
{%- from "score/explain_macros.sql" import score_components, score_summary -%}
{%- set o = params.object -%}
{%- set scored, labels, id_links = work_table(o, "scored"), work_table(o, "score_labels"), work_table(o, "id_links") -%}

-- The level labels per comparison, one JSON object: what score_components and notes name.
create unlogged table {{ labels }} as
select coalesce(jsonb_object_agg(levels.comparison, levels.labels), '{}'::jsonb) as value
from (
    select comparison, jsonb_agg(label order by level_index) as labels
    from _levels
    group by comparison
) as levels;

-- Per pair: each comparison's level, values, weight, the match weight and the confidence. The
-- components and notes are built from these columns where they are kept (score_components).
-- Each comparison's weights (and m) as arrays indexed by level: one row the pairs read by
-- subscript, instead of a join to _weights per comparison. Level 0 (null) reads NULL: weight 0.
create unlogged table {{ work_table(o, "weight_vectors") }} as
select
    max(weights.weight) filter (where weights.comparison = 'prior') as prior
    {%- for c in o.model.comparisons %},
    array_agg(weights.weight order by weights.level_index) filter (where weights.comparison = '{{ c.name }}')
        as w_{{ c.name }},
    array_agg(weights.m order by weights.level_index) filter (where weights.comparison = '{{ c.name }}')
        as m_{{ c.name }}
    {%- endfor %}
from _weights as weights;

create unlogged table {{ scored }} as
-- Materialised: the match weight, the confidence and the components all read each weight; as a
-- subquery the planner would copy its expression (a numeric log for term frequencies) into each.
with weighed as materialized (
    select
        gammas.legacy_id,
        gammas.hubspot_id,
        gammas.rules,
        vectors.prior as prior_weight
        {%- for c in o.model.comparisons %},
        gammas.g_{{ c.name }},
        gammas.l_{{ c.name }},
        gammas.h_{{ c.name }},
        {%- if c.term_frequency %}
        {%- set exact = (c.levels | map(attribute="level") | list).index("exact") + 1 %}
        gammas.tf_{{ c.name }} is not null and gammas.g_{{ c.name }} = {{ exact }} as tf_{{ c.name }},
        case
            when gammas.tf_{{ c.name }} is not null and gammas.g_{{ c.name }} = {{ exact }}
                then ln(vectors.m_{{ c.name }}[{{ exact }}] / gammas.tf_{{ c.name }}) / ln(2::float8)
            else coalesce(vectors.w_{{ c.name }}[gammas.g_{{ c.name }}], 0)
        end as w_{{ c.name }}
        {%- else %}
        false as tf_{{ c.name }},
        coalesce(vectors.w_{{ c.name }}[gammas.g_{{ c.name }}], 0) as w_{{ c.name }}
        {%- endif %}
        {%- endfor %}
    from {{ work_table(o, "gammas") }} as gammas
    cross join {{ work_table(o, "weight_vectors") }} as vectors
),

-- A correlated group counts once (registry: Model.correlated), its members' weights capped together.
grouped as (
    select
        weighed.*
        {%- for group in o.model.correlated %},
        {{ group_weight(o.model, group, "weighed") | indent(8) }} as gw_{{ group }}
        {%- endfor %}
    from weighed
),

totals as (
    select
        grouped.*,
        greatest(least(grouped.prior_weight {{ counted_weights(o.model, "grouped") | indent(12) }}, 60), -60) as weight
    from grouped
),

-- 100 × 2^w / (1 + 2^w) in float8, rounded to 2 places: the numeric power it stands for costs
-- ~20 µs a pair. Within 1e-6 of a rounding boundary the float could round the other way, so
-- there the numeric computes it.
confidences as (
    select
        totals.*,
        100 / (1 + power(2::float8, -totals.weight)) as approximate
    from totals
)

select
    confidences.legacy_id,
    confidences.hubspot_id,
    confidences.rules,
    round(confidences.weight::numeric, 2) as match_weight,
    case
        when abs(confidences.approximate * 100 - floor(confidences.approximate * 100) - 0.5) > 1e-6
            then round(confidences.approximate::numeric, 2)
        else round(100 / (1 + power(2::numeric, -confidences.weight::numeric)), 2)
    end as confidence,
    confidences.weight,
    confidences.prior_weight,
    -- Identity evidence (registry: Model.identity): without it a pair is never probable.
    {{ identity_holds(o.model, "confidences") }} as identity
    {%- for group in o.model.correlated %},
    confidences.gw_{{ group }}
    {%- endfor %}
    {%- for c in o.model.comparisons %},
    confidences.g_{{ c.name }},
    -- lv_/hv_, not l_/h_: probable.sql's diff macros read h_<property> unqualified.
    confidences.l_{{ c.name }} as lv_{{ c.name }},
    confidences.h_{{ c.name }} as hv_{{ c.name }},
    confidences.w_{{ c.name }},
    confidences.tf_{{ c.name }}
    {%- endfor %}
from confidences;

create index on {{ scored }} (legacy_id);

-- Statistics: without them the planner takes the id links below for a few thousand rows (a
-- nested loop of index probes into the staging table) and misjudges probable.sql's joins.
analyze {{ scored }};

-- The id links: matched at or above the threshold, else a conflict (the legacy id sits on a
-- record that looks like another entity). Their components and notes are built here, where
-- parallel workers share the work, not in the UPDATE below (one process).
create unlogged table {{ id_links }} as
select
    scored.legacy_id,
    scored.confidence as match_confidence,
    case
        when scored.confidence >= (%(model)s::jsonb ->> 'match_threshold')::numeric then 'matched'
        else 'conflict'
    end as reconciliation_status,
    {{ score_components(o.model, "scored", "labels") | indent(4) }} as score_components,
    regexp_replace(reconciliation.notes, ' Score: .*$', '') || ' Score: '
        || {{ score_summary(o.model, "scored", "labels") | indent(8) }}
        || case
            when scored.confidence >= (%(model)s::jsonb ->> 'match_threshold')::numeric
                then ' — confidence ' || round(scored.confidence) || '.'
            else ' — confidence ' || round(scored.confidence) || ', below '
                || round((%(model)s::jsonb ->> 'match_threshold')::numeric)
                || ': the legacy id links records that look like different entities.'
        end as notes
from {{ scored }} as scored
cross join {{ labels }} as labels
inner join staging.{{ o.staging_table }} as reconciliation on reconciliation.{{ o.legacy_key }} = scored.legacy_id
where scored.rules = array['legacy_id'];

-- Each row written once, and only where something changed.
update staging.{{ o.staging_table }} as reconciliation
set (match_confidence, reconciliation_status, score_components, notes) = (
    links.match_confidence, links.reconciliation_status, links.score_components, links.notes
)
from {{ id_links }} as links
where
    reconciliation.{{ o.legacy_key }} = links.legacy_id
    and (
        reconciliation.match_confidence, reconciliation.reconciliation_status,
        reconciliation.score_components, reconciliation.notes
    ) is distinct from (links.match_confidence, links.reconciliation_status, links.score_components, links.notes);

drop table {{ id_links }};

select jsonb_build_object(
    'by_status', {{ status_counts("staging." ~ o.staging_table) | indent(4) }},
    'match_weights', coalesce((
        select jsonb_object_agg(bucket, rows)
        from (
            select (floor(scored.match_weight / 5) * 5)::integer as bucket, count(*) as rows
            from {{ scored }} as scored
            group by 1
        ) as histogram
    ), '{}'::jsonb)
) as summary
