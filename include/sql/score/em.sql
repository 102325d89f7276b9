{#- reads: _model_settings, _patterns, _pattern_levels, _pattern_evidence / creates: _posterior (each
    iteration's), _expected_matches / updates: _session_params, _sessions, _em, _params

    EM: m and the share of matches, iterated until no value moves by more than the tolerance;
    each level's m combined from the sessions'. Drops em_setup.sql's _pattern_evidence view, which
    may not outlive the temp tables it reads when they drop at commit. -#}
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
