{#- parameters: learn the match model of this run from the data. u (how often a level is hit by
    chance) from random record pairs; m (how often true matches hit it) and the share of matches
    among the candidate pairs by expectation-maximisation over the comparison vectors, started
    from the registry's values, which stay as the fallback. Written to staging.match_parameters
    (one row per comparison level, and the prior). -#}
{%- from "reconcile/macros.sql" import hubspot_value -%}
{%- from "score/macros.sql" import agrees, comparison_json, comparison_value, level_of, prepare, similarity_of, with_crossed, work_table -%}
{%- set o = params.object -%}
{%- set by_property = {} -%}
{%- for m in o.mappings %}{% set _ = by_property.update({m.property: m}) %}{% endfor -%}

-- 1. The configured levels: start values and fallback.
create temp table _levels on commit drop as
select
    levels.key as comparison,
    level.position::integer as level_index,
    level.value ->> 'label' as label,
    (level.value ->> 'm')::float8 as m_configured,
    (level.value ->> 'u')::float8 as u_configured
from jsonb_each(%(model)s::jsonb -> 'levels') as levels
cross join lateral jsonb_array_elements(levels.value) with ordinality as level (value, position);

create temp table _model_settings on commit drop as
select
    (model.value ->> 'prior')::float8 as prior,
    (model.value ->> 'u_sample_pairs')::float8 as u_sample_pairs,
    (model.value ->> 'id_error_rate')::float8 as id_error_rate,
    (model.value ->> 'em_max_iterations')::integer as max_iterations,
    (model.value ->> 'em_tolerance')::float8 as tolerance,
    (model.value ->> 'max_m_drift')::float8 as max_m_drift,
    (select count(*) from staging.{{ o.staging_table }} where reconciliation_status <> 'rejected')::float8
        as legacy_records,
    (select count(*) from staging.{{ o.name }}_hubspot_source)::float8 as hubspot_records,
    (select count(*) from {{ work_table(o, "linked") }})::float8 as id_links,
    (select sum(patterns.pairs) from _patterns as patterns) as candidate_pairs
from (select %(model)s::jsonb as value) as model;

-- 2. u: the levels random pairs hit. Each side is a deterministic sample (ordered by a hash of
--    the id, so a rerun draws the same records), its values prepared once per record. Exact
--    agreement is counted over every pair of 10,000 records a side (a join on the prepared
--    value: 10^8 pairs, for the rare agreements); the other levels over every pair of the
--    first √u_sample_pairs records of each sample. Counts are smoothed towards the configured u
--    (1,000 pseudo-pairs), so that a level no sampled pair hits keeps a small, finite u.
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

create temp table _params on commit drop as
with compared as (
    select counts.comparison, counts.level_index, counts.sampled as pairs
    from _u_counts as counts
    where counts.share is not null and counts.sampled > 0
)

select
    levels.comparison,
    levels.level_index,
    levels.label,
    levels.m_configured,
    levels.u_configured,
    levels.m_configured as m,
    case
        {%- for c in o.model.comparisons if c.compare == "legacy_id" %}
        -- A legacy id shared by chance is the id-linked share of all pairs; one shared by a
        -- non-match is that times the chance that an id sits on the wrong record.
        when levels.comparison = '{{ c.name }}' and settings.id_links > 0 then
            case
                when levels.level_index = 1
                    then settings.id_error_rate * settings.id_links / (settings.legacy_records * settings.hubspot_records)
                else 1 - settings.id_error_rate * settings.id_links / (settings.legacy_records * settings.hubspot_records)
            end
        {%- endfor %}
        when compared.pairs > 0
            then (coalesce(counts.share, 0) * compared.pairs + 1000 * levels.u_configured) / (compared.pairs + 1000)
        else levels.u_configured
    end as u,
    case
        {%- for c in o.model.comparisons if c.compare == "legacy_id" %}
        when levels.comparison = '{{ c.name }}' and settings.id_links > 0 then 'id links × id_error_rate'
        {%- endfor %}
        when compared.pairs > 0 then 'sampled: ' || compared.pairs::bigint || ' random pairs'
        else 'configured (no random pair with values to compare)'
    end as u_source
from _levels as levels
cross join _model_settings as settings
left join compared on compared.comparison = levels.comparison and compared.level_index = levels.level_index
left join _u_counts as counts on counts.comparison = levels.comparison and counts.level_index = levels.level_index;

-- The configured u is a floor: a level random pairs rarely hit may still be common among pairs
-- that look alike without being the same (companies of one group share a domain and a city).
-- The else level takes what the others leave.
update _params as params
set
    u = case
        when params.level_index < bounded.levels then greatest(params.u, params.u_configured)
        else greatest(1 - bounded.others, 1e-6)
    end,
    u_source = params.u_source || case
        when params.level_index < bounded.levels and params.u < params.u_configured then ', raised to the configured floor'
        else ''
    end
from (
    select
        params.comparison,
        max(params.level_index) as levels,
        sum(greatest(params.u, params.u_configured)) filter (
            where params.level_index < (select max(inner_levels.level_index) from _params as inner_levels
                where inner_levels.comparison = params.comparison)
        ) as others
    from _params as params
    group by params.comparison
) as bounded
where
    bounded.comparison = params.comparison
    and params.comparison not in (
        {%- for c in o.model.comparisons if c.compare == "legacy_id" %}'{{ c.name }}'{% else %}''{% endfor %}
    );

-- 3. m and the share of matches by EM over the comparison vectors, u held fixed, one session
--    per rule (score/compare.sql): the E-step gives each pattern its match probability, the
--    M-step takes m as the expected matches per level and λ as the session's expected share of
--    matches. All sessions iterate together until no value moves by more than the tolerance.
create temp table _session_params on commit drop as
select sessions.session, params.comparison, params.level_index, params.m, params.u
from (select distinct patterns.session from _patterns as patterns) as sessions
inner join _session_comparisons as active on active.session = sessions.session
inner join _params as params on params.comparison = active.comparison;

-- A session's matches are at most as many as the records on its smaller side (a legacy record
-- has one twin at most): λ stays within that share of its pairs, else EM may call every
-- look-alike a match and learn m from them.
create temp table _sessions on commit drop as
with records as (
    select session.rule as session, count(distinct gammas.legacy_id) as legacy, count(distinct gammas.hubspot_id) as hubspot
    from {{ work_table(o, "gammas") }} as gammas
    cross join lateral unnest(gammas.rules) as session (rule)
    group by session.rule
)

select
    patterns.session,
    sum(patterns.pairs) as pairs,
    least(settings.prior, min(least(records.legacy, records.hubspot)) / sum(patterns.pairs)) as lambda,
    min(least(records.legacy, records.hubspot)) / sum(patterns.pairs) as max_lambda
from _patterns as patterns
cross join _model_settings as settings
inner join records on records.session = patterns.session
group by patterns.session, settings.prior;

create temp table _em on commit drop as
select 0 as iterations, false as converged;

-- The correlated groups (registry: Model.correlated): each member, and the patterns where the
-- group's key agrees, so that its members count once there. The E-step weighs them as the score
-- does (score/macros.sql group_weight).
create temp table _group_members (comparison text primary key, counted_in text not null) on commit drop;
{%- for group, correlated in o.model.correlated.items() %}

insert into _group_members (comparison, counted_in) values
{%- for name in correlated.members %}
    ('{{ name }}', '{{ group }}'){{ "," if not loop.last else ";" }}
{%- endfor %}
{%- endfor %}

create temp table _pattern_groups on commit drop as
{%- for group, correlated in o.model.correlated.items() %}
select patterns.pattern_id, '{{ group }}'::text as counted_in
from _patterns as patterns
where {{ agrees(o.model, correlated.key, "patterns") }}
union all
{%- endfor %}
select null::bigint as pattern_id, null::text as counted_in
where false;

-- Per pattern, the log-odds of its levels under the session's current m against u (a group
-- whose key agrees weighing its strongest agreement plus its strongest disagreement): the
-- E-step's evidence, read in the loop and once more after it. Dropped at the end of this file
-- (a view may not outlive the temp tables it reads when they drop at commit).
create temp view _pattern_evidence as
with level_odds as (
    select
        pattern_levels.pattern_id,
        coalesce(grouped.counted_in, pattern_levels.comparison) as counted_in,
        ln(params.m) - ln(params.u) as odds
    from _pattern_levels as pattern_levels
    inner join _session_params as params
        on
            params.session = pattern_levels.session
            and params.comparison = pattern_levels.comparison
            and params.level_index = pattern_levels.level
    left join _group_members as members on members.comparison = pattern_levels.comparison
    left join _pattern_groups as grouped
        on grouped.pattern_id = pattern_levels.pattern_id and grouped.counted_in = members.counted_in
),

counted as (
    select
        level_odds.pattern_id,
        greatest(0, max(level_odds.odds)) + least(0, min(level_odds.odds)) as odds
    from level_odds
    group by level_odds.pattern_id, level_odds.counted_in
)

select counted.pattern_id, sum(counted.odds) as log_odds
from counted
group by counted.pattern_id;

do $em$
declare
    settings record;
    moved_by float8;
begin
    select * into settings from _model_settings;
    if coalesce(settings.candidate_pairs, 0) = 0 then
        return;
    end if;
    for iteration in 1..settings.max_iterations loop
        create temp table _posterior on commit drop as
        select
            patterns.pattern_id,
            patterns.session,
            patterns.pairs,
            1 / (1 + (1 - sessions.lambda) / sessions.lambda
                * exp(least(coalesce(-evidence.log_odds, 0), 700))) as match
        from _patterns as patterns
        inner join _sessions as sessions on sessions.session = patterns.session
        left join _pattern_evidence as evidence on evidence.pattern_id = patterns.pattern_id;

        with expected as (
            select
                pattern_levels.session,
                pattern_levels.comparison,
                pattern_levels.level,
                sum(posterior.pairs * posterior.match) as matches
            from _posterior as posterior
            inner join _pattern_levels as pattern_levels on pattern_levels.pattern_id = posterior.pattern_id
            group by pattern_levels.session, pattern_levels.comparison, pattern_levels.level
        ),

        totals as (
            select expected.session, expected.comparison, sum(expected.matches) as matches
            from expected
            group by expected.session, expected.comparison
        ),

        next as (
            select
                params.session,
                params.comparison,
                params.level_index,
                greatest(least(coalesce(expected.matches, 0) / totals.matches, 1 - 1e-6), 1e-6) as m,
                params.m as previous
            from _session_params as params
            inner join totals
                on totals.session = params.session and totals.comparison = params.comparison and totals.matches > 0
            left join expected
                on
                    expected.session = params.session
                    and expected.comparison = params.comparison
                    and expected.level = params.level_index
        ),

        moved as (
            update _session_params as params
            set m = next.m
            from next
            where
                params.session = next.session
                and params.comparison = next.comparison
                and params.level_index = next.level_index
            returning abs(next.m - next.previous) as change
        )

        select coalesce(max(moved.change), 0) into moved_by from moved;

        with next as (
            select
                posterior.session,
                greatest(least(sum(posterior.pairs * posterior.match) / sum(posterior.pairs), min(sessions.max_lambda), 1 - 1e-9), 1e-9)
                    as lambda,
                min(sessions.lambda) as previous
            from _posterior as posterior
            inner join _sessions as sessions on sessions.session = posterior.session
            group by posterior.session
        ),

        moved as (
            update _sessions as sessions
            set lambda = next.lambda
            from next
            where sessions.session = next.session
            returning abs(next.lambda - next.previous) as change
        )

        select greatest(moved_by, coalesce(max(moved.change), 0)) into moved_by from moved;

        drop table _posterior;
        update _em set iterations = iteration, converged = moved_by < settings.tolerance;
        exit when moved_by < settings.tolerance;
    end loop;
end
$em$;

-- m of each level: the sessions' estimates, weighted by the matches each session expects
-- where the comparison has a value. A session whose λ stopped at its cap (it would call more
-- pairs matches than it has records) has mistaken look-alikes for matches: its m counts only for
-- a comparison no other session learned.
create temp table _expected_matches on commit drop as
select
    pattern_levels.session,
    pattern_levels.comparison,
    min(sessions.lambda) >= min(sessions.max_lambda) * (1 - 1e-6) as capped,
    sum(
        patterns.pairs / (1 + (1 - sessions.lambda) / sessions.lambda * exp(least(-evidence.log_odds, 700)))
    ) as matches
from _pattern_levels as pattern_levels
inner join _patterns as patterns on patterns.pattern_id = pattern_levels.pattern_id
inner join _sessions as sessions on sessions.session = patterns.session
inner join _pattern_evidence as evidence on evidence.pattern_id = patterns.pattern_id
group by pattern_levels.session, pattern_levels.comparison;

delete from _expected_matches as expected
where
    expected.capped
    and exists (
        select 1 from _expected_matches as other
        where other.comparison = expected.comparison and not other.capped and other.matches > 0
    );

drop view _pattern_evidence;

update _params as params
set m = combined.m
from (
    select
        session_params.comparison,
        session_params.level_index,
        sum(session_params.m * expected.matches) / sum(expected.matches) as m
    from _session_params as session_params
    inner join _expected_matches as expected
        on expected.session = session_params.session and expected.comparison = session_params.comparison
    where expected.matches > 0
    group by session_params.comparison, session_params.level_index
) as combined
cross join _em as em
where em.converged and combined.comparison = params.comparison and combined.level_index = params.level_index;

-- 4. Sanity bounds: when EM did not converge, learned nothing for a comparison (every session
--    that saw it blocked on it), or learned that a comparison's strongest level is weaker
--    evidence than configured by more than max_m_drift (or evidence against a match), that
--    comparison keeps its configured m.
create temp table _fallback on commit drop as
select
    top.comparison,
    case
        when em.iterations = 0 then 'configured: no candidate pairs'
        when not em.converged then 'configured: EM did not converge in ' || em.iterations || ' iterations'
        when top.comparison not in (select expected.comparison from _expected_matches as expected)
            then 'configured: no candidate pair outside the rules blocking on it has values to compare'
        when top.m <= top.u then 'configured: EM made agreement evidence against a match'
        else 'configured: EM moved m of ' || top.label || ' from ' || round(top.m_configured::numeric, 3)
            || ' to ' || round(top.m::numeric, 3) || ', beyond max_m_drift'
    end as reason
from _params as top
cross join _em as em
cross join _model_settings as settings
where
    top.level_index = 1
    and (
        not em.converged
        or top.comparison not in (select expected.comparison from _expected_matches as expected)
        or top.m <= top.u
        or top.m < settings.max_m_drift * top.m_configured
    );

update _params as params
set m = params.m_configured
from _fallback as fallback
where fallback.comparison = params.comparison;

-- No level is impossible for a true match: m stays at or above 0.005 (one typo in a domain must
-- not outweigh everything else), whatever the sample of matches EM saw.
update _params set m = 0.005 where m < 0.005;

-- 4b. Weights that respect their levels: a closer level never weighs less than a looser one.
--     Where the learned weights say otherwise (EM followed look-alikes the blocking found, or
--     too few matches hit a level), the comparison keeps its configured m; where even that
--     inverts (u is learned), adjacent levels are pooled into one weight (staging.crm_pool_levels).
--     Either way the run's parameters and report name the correction.
create temp table _corrected on commit drop as
with weights as (
    select
        params.comparison,
        params.level_index,
        params.label,
        ln(params.m / params.u) / ln(2::float8) as weight,
        lag(params.label) over closer as closer_label,
        lag(ln(params.m / params.u) / ln(2::float8)) over closer as closer_weight
    from _params as params
    window closer as (partition by params.comparison order by params.level_index)
)

select distinct on (weights.comparison)
    weights.comparison,
    'corrected: ' || case
        when weights.comparison in (select fallback.comparison from _fallback as fallback)
            then 'the configured m weighed '
        else 'EM weighed '
    end
    || weights.label || ' ' || to_char(weights.weight, 'FMSG990.0') || ' bits, above '
    || weights.closer_label || ' ' || to_char(weights.closer_weight, 'FMSG990.0') as reason
from weights
where weights.weight > weights.closer_weight + 1e-9
order by weights.comparison, weights.level_index;

update _params as params
set m = params.m_configured
from _corrected as corrected
where
    corrected.comparison = params.comparison
    and params.comparison not in (select fallback.comparison from _fallback as fallback);

update _corrected as corrected
set reason = corrected.reason || '; the configured m kept'
where corrected.comparison not in (select fallback.comparison from _fallback as fallback);

-- Where the configured m still inverts against the learned u, adjacent levels are pooled.
create temp table _pooled on commit drop as
with comparisons as (
    select
        params.comparison,
        array_agg(params.m order by params.level_index) as m,
        array_agg(params.u order by params.level_index) as u
    from _params as params
    group by params.comparison
)

select comparisons.comparison, pooled.m
from comparisons
cross join lateral (select staging.crm_pool_levels(comparisons.m, comparisons.u) as m) as pooled
where pooled.m <> comparisons.m;

update _params as params
set m = pooled.m[params.level_index]
from _pooled as pooled
where pooled.comparison = params.comparison;

update _corrected as corrected
set reason = corrected.reason || '; levels pooled, as that inverts too'
where corrected.comparison in (select pooled.comparison from _pooled as pooled);

insert into _corrected (comparison, reason)
select pooled.comparison, 'corrected: levels pooled, as their weights invert'
from _pooled as pooled
where pooled.comparison not in (select corrected.comparison from _corrected as corrected);

-- 5. What the run learned, kept per run: one row per level, and the prior (level 0). The prior
--    of a random record pair is the share of matches among candidates scaled to all pairs.
delete from staging.match_parameters where object_type = %(object_type)s and run_id = %(run_id)s;

insert into staging.match_parameters (
    object_type, run_id, comparison, level_index, level, m, u, weight, m_configured, u_configured,
    m_source, u_source, pairs
)
with level_pairs as (
    select pattern_levels.comparison, pattern_levels.level as level_index, sum(patterns.pairs) as pairs
    from _pattern_levels as pattern_levels
    inner join _patterns as patterns on patterns.pattern_id = pattern_levels.pattern_id
    group by pattern_levels.comparison, pattern_levels.level
)

select
    %(object_type)s,
    %(run_id)s,
    params.comparison,
    params.level_index,
    params.label,
    params.m,
    params.u,
    log(2, (params.m / params.u)::numeric)::float8,
    params.m_configured,
    params.u_configured,
    coalesce(corrected.reason, fallback.reason, 'em: ' || em.iterations || ' iterations'),
    params.u_source,
    coalesce(level_pairs.pairs, 0)::bigint
from _params as params
cross join _em as em
left join _fallback as fallback on fallback.comparison = params.comparison
left join _corrected as corrected on corrected.comparison = params.comparison
left join level_pairs on level_pairs.comparison = params.comparison and level_pairs.level_index = params.level_index

union all

select
    %(object_type)s,
    %(run_id)s,
    'prior',
    0,
    'λ',
    prior.lambda,
    null,
    log(2, (prior.lambda / (1 - prior.lambda))::numeric)::float8,
    settings.prior,
    null,
    case
        when em.converged then 'em: ' || round(prior.matches) || ' expected matches (the most any rule found) of '
            || (settings.legacy_records * settings.hubspot_records)::bigint || ' record pairs'
        else 'configured: the share of matches among candidate pairs, scaled to all record pairs'
    end,
    null,
    coalesce(settings.candidate_pairs, 0)::bigint
from _em as em
cross join _model_settings as settings
cross join lateral (
    select
        matches,
        greatest(least(matches / greatest(settings.legacy_records * settings.hubspot_records, 1), 1 - 1e-12), 1e-12)
            as lambda
    from (
        select case
            when em.converged then (select max(sessions.lambda * sessions.pairs) from _sessions as sessions)
            else settings.prior * coalesce(settings.candidate_pairs, 0)
        end as matches
    ) as expected
) as prior;

-- 6. The weights the scoring reads.
create temp table _weights on commit drop as
select parameters.comparison, parameters.level_index, parameters.m, parameters.u, parameters.weight
from staging.match_parameters as parameters
where parameters.object_type = %(object_type)s and parameters.run_id = %(run_id)s;

select jsonb_build_object(
    'em_iterations', (select iterations from _em),
    'em_sessions', (select coalesce(jsonb_object_agg(session, round(lambda::numeric, 4)), '{}'::jsonb) from _sessions),
    'em_converged', (select converged from _em),
    'prior', (select m from _weights where comparison = 'prior'),
    'fallbacks', (select coalesce(jsonb_object_agg(comparison, reason), '{}'::jsonb) from _fallback),
    'corrected', (select coalesce(jsonb_object_agg(comparison, reason), '{}'::jsonb) from _corrected)
) as summary
