{#- reads: _params, _em, _fallback, _corrected, _pattern_levels, _patterns, _model_settings, _sessions /
    creates: _weights / updates: staging.match_parameters

    parameters: what the run learned (levels.sql to corrected.sql), written to
    staging.match_parameters (one row per comparison level, and the prior); the weights the
    scoring reads. -#}
-- What the run learned, kept per run: one row per level, and the prior (level 0). The prior
-- of a random record pair is the share of matches among candidates scaled to all pairs.
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

-- The weights the scoring reads.
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
