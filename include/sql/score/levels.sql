{#- reads: staging.<object>_reconciliation, staging.<object>_hubspot_source, staging."_<object>_linked",
    _patterns / creates: _levels, _model_settings

    The first file of the parameters: learn the match model of this run from the data. u (how
    often a level is hit by chance) from random record pairs (u_sample.sql, u_params.sql); m (how
    often true matches hit it) and the share of matches among the candidate pairs by
    expectation-maximisation over the comparison vectors (em_setup.sql, em.sql), started from
    the registry's values, which stay as the fallback (fallback.sql, corrected.sql); written to
    staging.match_parameters (parameters.sql). Here: the configured levels and the model's
    settings and sizes. -#}
{%- from "score/macros.sql" import work_table -%}
{%- set o = params.object %}
-- The configured levels: start values and fallback.
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
