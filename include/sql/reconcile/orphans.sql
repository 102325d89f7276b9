{#- reads: staging.<object>_hubspot_source, bronze.<legacy table>_live / creates:
    staging.<object>_orphans (view)

    The orphans: what the mirror holds that no live legacy row is. -#}
{%- set o = params.object %}
-- HubSpot records that carry a legacy id no live legacy row has, or one that is unreadable.
create view staging.{{ o.name }}_orphans as
select
    source.hubspot_id,
    source.legacy_id_raw as {{ o.legacy_id_property }},
    case
        when source.legacy_id is null then 'unreadable legacy id'
        else 'no live legacy row has this id'
    end as reason
from staging.{{ o.name }}_hubspot_source as source
-- A join, not "or not exists": the OR would turn it into one scan of bronze per record.
-- Live legacy ids are unique (the loader rejects duplicates), so no row is repeated.
left join bronze.{{ o.bronze_table }}_live as live on source.legacy_id = live.legacy_id
where
    staging.crm_text(source.legacy_id_raw) is not null
    and live.legacy_id is null;
