{#- reads: staging.<object>_hubspot_source / creates: _hubspot, _unreadable_legacy_ids

    The mirror's side of reconcile: its records that carry a legacy id, their canonical values
    read once; the step stops when most of those legacy ids are unreadable. -#}
{%- from "reconcile/macros.sql" import hubspot_value -%}
{%- set o = params.object %}
-- The mirror's records that carry a legacy id (readable or not), read once: their canonical
-- values as one JSON object, empty ones kept as null (HubSpot has the property empty).
-- Every later use of the mirror reads this table, not the view.
create temp table _hubspot on commit drop as
select
    source.hubspot_id,
    source.legacy_id,
    source.legacy_id_raw,
    json_object(
        {%- for m in o.mappings %}
        '{{ m.property }}': {{ hubspot_value(m, "source." ~ m.property) }}{{ "," if not loop.last }}
        {%- endfor %}
        null on null returning jsonb
    ) as properties
from staging.{{ o.name }}_hubspot_source as source
-- A subquery, not a CTE: it is folded into the scan, which then may run in parallel.
cross join (select %(settings)s::jsonb ->> 'phone_country_code' as phone_country_code) as settings
where staging.crm_text(source.legacy_id_raw) is not null;

analyze _hubspot;

-- Legacy ids the mirror holds but that are no id ('abc', 'C-12'): counted and sampled for the
-- step log. When they are most of the non-empty ones, the column does not hold legacy ids
-- as this reads them (a sync mapping gone wrong): the step stops rather than call every
-- legacy row new.
create temp table _unreadable_legacy_ids on commit drop as
select
    count(*) as non_empty,
    count(*) filter (where source.legacy_id is null) as unreadable,
    array(
        select distinct left(bad.legacy_id_raw, 100)
        from _hubspot as bad
        where bad.legacy_id is null
        order by 1
        limit 5
    ) as sample
from _hubspot as source;

do $unreadable$
declare
    found record;
begin
    select * into found from _unreadable_legacy_ids;
    if found.unreadable * 2 > found.non_empty then
        raise exception
            'hubspot.{{ o.hubspot_table }}.{{ o.legacy_id_property }}: % of the % non-empty legacy ids are unreadable, e.g. %',
            found.unreadable, found.non_empty,
            (select string_agg(quote_literal(value), ', ') from unnest(found.sample) as value)
            using hint = 'A legacy id reads as a whole number (''123'', '' 123'', ''123.0'', 123 or "123" in JSON). '
                || 'Check what the sync tool writes into {{ o.legacy_id_property }} before reconciling: '
                || 'with these ids nearly every legacy row would be new.';
    end if;
end
$unreadable$;
