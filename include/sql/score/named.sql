{#- reads: staging.<object>_reconciliation, staging.<object>_hubspot_source, bronze.<legacy table>_live /
    creates: staging."_<object>_legacy_named", staging."_<object>_hubspot_named"

    The first file of score: the task's memory, and the two sides blocking pairs up. A legacy
    row linked by its legacy id to exactly one HubSpot record gives one pair (rule legacy_id,
    linked.sql). For a legacy row no HubSpot record links, blocking keys (blocks.sql,
    candidates.sql) find the HubSpot records it may be the twin of (created by hand, or
    imported without the legacy id) among those no live legacy row claims — far fewer pairs
    than legacy × HubSpot. -#}
{%- from "reconcile/macros.sql" import hubspot_value -%}
{%- from "score/macros.sql" import comparison_value, prepare, work_table -%}
{%- from "macros/session.sql" import step_memory -%}
{%- set o = params.object -%}
{%- set mm = o.matching -%}
{%- set props = mm.properties if mm else o.model.properties -%}
{%- set by_property = {} -%}
{%- for m in o.mappings %}{% set _ = by_property.update({m.property: m}) %}{% endfor -%}
{#- Every comparison's value prepared once per record (score/macros.sql prepare): pairs
    compare these, so a record in a hundred pairs is folded once, not a hundred times. -#}
{%- macro prepared_columns(prefix) -%}
{%- for c in o.model.comparisons if c.compare != "legacy_id" %},
    {{ prepare(c.compare, comparison_value(c, prefix)) }} as q_{{ c.name }}
{%- endfor -%}
{%- endmacro -%}

-- Memory for the whole score task (its files run in one transaction).
{{ step_memory() }}

-- The legacy side: live rows that no HubSpot record links by id (and that are usable). Each
-- value as comparisons read it, its first 65,536 characters (staging.crm_compared): blocking
-- keys fold it too.
create unlogged table {{ work_table(o, "legacy_named") }} as
select named.*{{ prepared_columns("named.") }}
from (
    select
        reconciliation.{{ o.legacy_key }} as legacy_id
        {%- for p in props %},
        staging.crm_compared(reconciliation.legacy_properties ->> '{{ p }}') as p_{{ p }}
        {%- endfor %}
    from staging.{{ o.staging_table }} as reconciliation
    where reconciliation.candidate_hubspot_ids is null and reconciliation.reconciliation_status <> 'rejected'
) as named;

-- The HubSpot side: records that no live legacy row claims by id, values made canonical,
-- then bounded as the legacy side's.
create unlogged table {{ work_table(o, "hubspot_named") }} as
select named.*{{ prepared_columns("named.") }}
from (
    with settings as (select %(settings)s::jsonb ->> 'phone_country_code' as phone_country_code)
    select
        hubspot.hubspot_id,
        hubspot.legacy_id
        {%- for p in props %},
        staging.crm_compared({{ hubspot_value(by_property[p], "hubspot." ~ p) }}) as p_{{ p }}
        {%- endfor %}
    from staging.{{ o.name }}_hubspot_source as hubspot
    cross join settings
    -- A join, not "or not exists" (one scan of bronze per record); live legacy ids are unique.
    left join bronze.{{ o.bronze_table }}_live as live on hubspot.legacy_id = live.legacy_id
    where live.legacy_id is null
) as named;

analyze {{ work_table(o, "legacy_named") }};

analyze {{ work_table(o, "hubspot_named") }};
