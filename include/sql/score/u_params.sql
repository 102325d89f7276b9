{#- reads: _levels, _model_settings, _u_counts / creates: _params

    u of each level, from the u sample (the legacy id's from the id links), the configured u as
    a floor; m starts at its configured value (em.sql learns it). -#}
{%- set o = params.object %}
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
