{#- reads: nothing / creates: staging.crm_activity_object(), staging.crm_activity_properties()

    Activities (registry ``activities``, bound as JSON): which HubSpot activity object a legacy
    row becomes, and its properties in that object's own names. -#}

-- The HubSpot activity object a legacy row becomes (registry ``activities``, bound as JSON):
-- the first property of picked_by that has a value decides (the action; the type only when
-- the action is blank): the object listing that value (case ignored), else the default.
create or replace function staging.crm_activity_object(properties jsonb, activities jsonb) returns text
language sql immutable parallel safe
as $fn$
    select coalesce(
        (
            select picked.name
            from (
                select properties ->> source.property as value
                from jsonb_array_elements_text(activities -> 'picked_by') with ordinality as source (property, position)
                where staging.crm_text(properties ->> source.property) is not null
                order by source.position
                limit 1
            ) as deciding
            cross join jsonb_each(activities -> 'objects') as picked (name, spec)
            where (picked.spec -> 'when') ? lower(deciding.value)
            order by picked.name
            limit 1
        ),
        activities ->> 'default'
    )
$fn$;

-- An activity's properties in its object's own names, from the row's canonical values: those
-- whose sources include a key of ``changed`` (NULL: all of them, for a creation). A property
-- from several sources joins their values with a blank line; one with a value map takes the
-- mapped value, or keeps its own when the map lacks it (the push converts it to one of the
-- portal's options or holds it back: never dropped unseen).
create or replace function staging.crm_activity_properties(
    object text, properties jsonb, changed jsonb, activities jsonb
) returns jsonb
language sql immutable parallel safe
as $fn$
    select coalesce(jsonb_object_agg(target.name, target.value), '{}'::jsonb)
    from (
        select
            target.name,
            case
                when target.spec ? 'values' then coalesce(
                    (
                        select mapped.value from jsonb_each_text(target.spec -> 'values') as mapped
                        where lower(mapped.key) = lower(joined.value)
                        limit 1
                    ),
                    joined.value
                )
                else joined.value
            end as value
        from jsonb_each(activities -> 'objects' -> object -> 'properties') as target (name, spec)
        cross join lateral (
            select
                nullif(string_agg(properties ->> source.property, E'\n\n' order by source.position), '') as value,
                bool_or(changed is null or changed ? source.property) as touched
            from jsonb_array_elements_text(target.spec -> 'sources') with ordinality as source (property, position)
        ) as joined
        where joined.touched
    ) as target
    where target.value is not null
$fn$;
