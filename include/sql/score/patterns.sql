{#- reads: staging."_<object>_gammas" / creates: _session_comparisons, _patterns, _pattern_levels

    What EM iterates over (u_sample.sql to em.sql): the comparison vectors of each training
    session and how many pairs share each. -#}
{%- from "score/macros.sql" import work_table -%}
{%- set o = params.object %}
-- EM runs one session per rule that found pairs (Splink's training sessions): pairs found by
-- blocking on a property agree on it more than true non-matches at large would, so in that
-- rule's session the comparisons of its properties are left out (their m is learned in the
-- sessions of other rules); the legacy-id session leaves out the legacy-id comparison.
create temp table _session_comparisons (session text, comparison text) on commit drop;

insert into _session_comparisons (session, comparison) values
{%- set sessions = [{"rule": "legacy_id", "properties": []}] %}
{%- for key in (o.matching.blocking if o.matching else []) %}
{%- set _ = sessions.append({"rule": key.kind ~ ":" ~ (key.properties | join("+")), "properties": key.properties}) %}
{%- endfor %}
{%- set rows = [] %}
{%- for session in sessions %}
{%- for c in o.model.comparisons %}
{%- if not (session.rule == "legacy_id" and c.compare == "legacy_id") and not (c.properties | select("in", session.properties) | list) %}
{%- set _ = rows.append("('" ~ session.rule ~ "', '" ~ c.name ~ "')") %}
{%- endif %}
{%- endfor %}
{%- endfor %}
{{ rows | join(",\n") }};

-- The comparison vectors of each session and how many pairs share each: what EM iterates over.
create temp table _patterns on commit drop as
select
    row_number() over (
        order by session.rule{% for c in o.model.comparisons %}, gammas.g_{{ c.name }}{% endfor %}
    ) as pattern_id,
    session.rule as session,
    {%- for c in o.model.comparisons %}
    gammas.g_{{ c.name }},
    {%- endfor %}
    count(*)::float8 as pairs
from {{ work_table(o, "gammas") }} as gammas
cross join lateral unnest(gammas.rules) as session (rule)
group by session.rule{% for c in o.model.comparisons %}, gammas.g_{{ c.name }}{% endfor %};

-- The same, one row per pattern and active comparison with a level (the null level weighs nothing).
create temp table _pattern_levels on commit drop as
select levels.pattern_id, levels.session, levels.comparison, levels.level
from (
    {%- for c in o.model.comparisons %}
    select patterns.pattern_id, patterns.session, '{{ c.name }}'::text as comparison, patterns.g_{{ c.name }} as level
    from _patterns as patterns
    where patterns.g_{{ c.name }} > 0
    {{- "\n    union all" if not loop.last }}
    {%- endfor %}
) as levels
inner join _session_comparisons as active
    on active.session = levels.session and active.comparison = levels.comparison;

select jsonb_build_object(
    'pairs', (select count(*) from {{ work_table(o, "gammas") }}),
    'patterns', (select count(*) from _patterns)
) as summary
