{#- reads: _params, _fallback / creates: _corrected, _pooled / updates: _params

    Weights that respect their levels: a closer level never weighs less than a looser one. -#}
-- Weights that respect their levels: a closer level never weighs less than a looser one.
-- Where the learned weights say otherwise (EM followed look-alikes the blocking found, or
-- too few matches hit a level), the comparison keeps its configured m; where even that
-- inverts (u is learned), adjacent levels are pooled into one weight (staging.crm_pool_levels).
-- Either way the run's parameters and report name the correction.
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
