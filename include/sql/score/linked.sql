{#- reads: staging.<object>_reconciliation, staging."_<object>_pairs", staging."_<object>_legacy_named" /
    creates: staging."_<object>_linked"

    The id links: the pair of each legacy row its legacy id links to one HubSpot record. The
    last file of the pairs (the step's summary counts them). -#}
{%- from "score/macros.sql" import comparison_json, work_table -%}
{%- set o = params.object -%}
{%- set compared = o.model.comparisons | rejectattr("compare", "equalto", "legacy_id") | list %}
-- The id links: a live legacy row whose legacy id exactly one HubSpot record carries, and
-- both sides' values of each comparison as comparisons read them (not the whole JSON
-- objects: each copy of a 10 MB value is compressed anew, ~0.4 s).
create unlogged table {{ work_table(o, "linked") }} as
select
    reconciliation.{{ o.legacy_key }} as legacy_id,
    reconciliation.{{ o.hubspot_key }} as hubspot_id
    {%- for c in compared %},
    {{ comparison_json(c, "reconciliation.legacy_properties") }} as l_{{ c.name }},
    {{ comparison_json(c, "reconciliation.hubspot_properties") }} as h_{{ c.name }}
    {%- endfor %}
from staging.{{ o.staging_table }} as reconciliation
where
    reconciliation.reconciliation_status in ('matched', 'conflict')
    and reconciliation.{{ o.hubspot_key }} is not null
    and cardinality(reconciliation.candidate_hubspot_ids) = 1;

analyze {{ work_table(o, "linked") }};

select jsonb_build_object(
    'id_links', (select count(*) from {{ work_table(o, "linked") }}),
    'blocked_pairs', (select count(*) from {{ work_table(o, "pairs") }}),
    'unlinked', (select count(*) from {{ work_table(o, "legacy_named") }})
) as summary
