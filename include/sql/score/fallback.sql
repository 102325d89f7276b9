{#- reads: _em, _expected_matches, _model_settings / creates: _fallback / updates: _params

    Sanity bounds on what EM learned: a comparison whose m is not to be trusted keeps its
    configured m. -#}
-- Sanity bounds: when EM did not converge, learned nothing for a comparison (every session
-- that saw it blocked on it), or learned that a comparison's strongest level is weaker
-- evidence than configured by more than max_m_drift (or evidence against a match), that
-- comparison keeps its configured m.
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
