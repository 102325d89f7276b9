{#- reads: staging."_<object>_gammas", _patterns, _session_comparisons, _pattern_levels, _params,
    _model_settings / creates: _session_params, _sessions, _em, _group_members, _pattern_groups,
    _pattern_evidence (view)

    What EM starts from: each session's parameters and share of matches, its bounds, and the
    evidence of each pattern. -#}
{%- from "score/macros.sql" import work_table -%}
{%- from "score/weight_macros.sql" import agrees -%}
{%- set o = params.object %}
-- m and the share of matches by EM over the comparison vectors, u held fixed, one session
-- per rule (patterns.sql): the E-step gives each pattern its match probability, the
-- M-step takes m as the expected matches per level and λ as the session's expected share of
-- matches. All sessions iterate together until no value moves by more than the tolerance.
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
-- does (score/weight_macros.sql group_weight).
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
-- E-step's evidence, read in em.sql's loop and once more after it. Dropped at the end of em.sql
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
