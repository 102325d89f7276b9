{#- reads: hubspot.<mirror table>, hubspot.<activity object> (activities split per object) /
    creates: staging.<object>_hubspot_source (view), staging.<object>_mirror (view: activities
    split per object), _activities

    The first file of reconcile: the step's memory settings, and the mirror as this object sees
    it, as a view every later file of the step (and score, and the push's verification) reads. -#}
{%- from "macros/session.sql" import step_memory -%}
{%- set o = params.object -%}

-- 0. One transaction, a few large sorts and hashes: enough memory that none spills to disk,
--    and parallel workers for the two scans that compute canonical values.
{{ step_memory() }}

set local max_parallel_workers_per_gather = 4;

-- 1. The mirror as this object sees it: one row per HubSpot record, its id, its legacy id
--    normalised ('123', '123.0', ' 123' alike; anything else NULL), every mapped property as
--    text (NULL where the mirror has no such column). Mirrors name the key hs_object_id or id,
--    and type columns as they like: text, integer, numeric (5001.0) or json ("5001") all read
--    alike (staging.crm_mirror_text).
drop view if exists staging.{{ o.name }}_hubspot_source cascade;
{%- if o.activities %}

-- 1a. Mirrors that split activities into one table per object (notes, calls, meetings, …)
--     instead of one engagements table: read as one, each object's own properties mapped back
--     to the canonical ones (the registry's activities map read in reverse: a property gives its
--     last source; a value map is looked up backwards), the type property set to a value that
--     picks the object. A view, staging.{{ o.name }}_mirror, when the engagements table is absent.
create temp table _activities on commit drop as select %(activities)s::jsonb as spec;

drop view if exists staging.{{ o.name }}_mirror cascade;

do $split$
declare
    activities jsonb := (select spec from _activities);
    activity record;
    mirror_types jsonb;
    id_column text;
    column_list text;
    parts text [] := '{}';
begin
    if staging.crm_mirror_types('{{ o.hubspot_table }}') is not null then
        return;
    end if;
    for activity in select key as name, value as spec from jsonb_each(activities -> 'objects') order by key loop
        mirror_types := staging.crm_mirror_types(activity.name);
        continue when mirror_types is null;
        id_column := staging.crm_mirror_key(mirror_types, '{{ o.hubspot_id_column }}');
        if id_column is null or not mirror_types ? '{{ o.legacy_id_property }}' then
            raise exception 'hubspot.% lacks its record id ({{ o.hubspot_id_column }} or id) or {{ o.legacy_id_property }}',
                activity.name;
        end if;
        select string_agg(format('%s as %I', coalesce(back.expression, 'null::text'), back.canonical), ', ')
        into column_list
        from (
            select
                canonical.name as canonical,
                coalesce(
                    (
                        select case
                            when target.spec ? 'values' then format(
                                '(select mapped.key from jsonb_each_text(%L::jsonb) as mapped '
                                'where lower(mapped.value) = lower(%s) limit 1)',
                                target.spec -> 'values', staging.crm_mirror_text(target.name, mirror_types ->> target.name)
                            )
                            else staging.crm_mirror_text(target.name, mirror_types ->> target.name)
                        end
                        from jsonb_each(activity.spec -> 'properties') as target (name, spec)
                        where target.spec -> 'sources' ->> -1 = canonical.name and mirror_types ? target.name
                        limit 1
                    ),
                    case
                        when canonical.name = (activities -> 'picked_by' ->> -1) and activity.spec -> 'when' ->> 0 is not null
                            then format('%L::text', activity.spec -> 'when' ->> 0)
                    end
                ) as expression
            from unnest(array[{% for m in o.mappings %}'{{ m.property }}'{{ ", " if not loop.last }}{% endfor %}]) as canonical (name)
        ) as back;
        parts := parts || format(
            'select %s as {{ o.hubspot_id_column }}, %s as {{ o.legacy_id_property }}, %s from hubspot.%I',
            staging.crm_mirror_id(id_column, mirror_types ->> id_column),
            staging.crm_mirror_text('{{ o.legacy_id_property }}', mirror_types ->> '{{ o.legacy_id_property }}'),
            column_list,
            activity.name
        );
    end loop;
    if cardinality(parts) > 0 then
        execute 'create view staging.{{ o.name }}_mirror as ' || array_to_string(parts, ' union all ');
    end if;
end
$split$;
{%- endif %}

do $source$
declare
    mirror_types jsonb;
    id_column text;
    legacy_id_text text;
    property_list text;
    modified_text text;
    source_relation text := 'hubspot.{{ o.hubspot_table }}';
begin
    mirror_types := staging.crm_mirror_types('{{ o.hubspot_table }}');
    {%- if o.activities %}
    if mirror_types is null then  -- activities split per object (1a)
        mirror_types := staging.crm_relation_types('staging', '{{ o.name }}_mirror');
        source_relation := 'staging.{{ o.name }}_mirror';
    end if;
    {%- endif %}
    if mirror_types is null then
        raise exception 'the HubSpot mirror has no table hubspot.{{ o.hubspot_table }}'
            using hint = 'Point the hubspot_postgres connection at the database the sync tool writes to.';
    end if;
    id_column := staging.crm_mirror_key(mirror_types, '{{ o.hubspot_id_column }}');
    if id_column is null or not mirror_types ? '{{ o.legacy_id_property }}' then
        raise exception 'hubspot.{{ o.hubspot_table }} lacks its record id ({{ o.hubspot_id_column }} or id) or {{ o.legacy_id_property }}';
    end if;
    legacy_id_text := staging.crm_mirror_text('{{ o.legacy_id_property }}', mirror_types ->> '{{ o.legacy_id_property }}');
    select string_agg(
        format('%s as %I', coalesce(staging.crm_mirror_text(property, mirror_types ->> property), 'null::text'), property),
        ', '
    ) into property_list
    from unnest(array[{% for m in o.mappings %}'{{ m.property }}'{{ ", " if not loop.last }}{% endfor %}]) as property;
    -- When the mirror says when each record last changed in HubSpot (hs_lastmodifieddate, or a
    -- contact's lastmodifieddate), the push can tell a mirror that has caught up with its
    -- writes from one that has not (push/verify_mirror.sql).
    select coalesce(
        (
            select staging.crm_mirror_text(name, mirror_types ->> name)
            from unnest(array['hs_lastmodifieddate', 'lastmodifieddate']) with ordinality as modified (name, rank)
            where mirror_types ? name
            order by rank
            limit 1
        ),
        'null::text'
    ) into modified_text;
    execute format(
        'create view staging.{{ o.name }}_hubspot_source as select %s as hubspot_id, '
        'staging.crm_legacy_id(%s) as legacy_id, %s as legacy_id_raw, %s, %s as mirror_modified_at from %s',
        staging.crm_mirror_id(id_column, mirror_types ->> id_column), legacy_id_text, legacy_id_text, property_list,
        modified_text, source_relation
    );
end
$source$;
