{#- reads: staging.push_held_values / creates: nothing

    Values the portal cannot take (staging.push_held_values), grouped by (api_object, property,
    value): people fix them once per value (a value map in objects.yaml, or create_options), so
    each group counts its records, says why (the commonest reason), the options the portal
    allows (the first 12 and how many in all), which actions held it and a few legacy ids;
    groups with the most records first. The report imports the macro for its own run; rendered
    as is, it is the review page's query: the object's latest run that held any value back.
    Values are bound (%(object_type)s, %(run_id)s), never pasted. -#}
{%- macro held_values(run_id, max_groups=50, allowed_shown=12) -%}
(
    with held as (
        select * from staging.push_held_values
        where object_type = %(object_type)s and run_id = {{ run_id }}
    ),

    grouped as (
        select
            api_object,
            property,
            value,
            count(*) as records,
            mode() within group (order by reason) as reason,
            count(distinct reason) as reasons,
            (array_agg(allowed order by recorded_at desc) filter (where jsonb_typeof(allowed) = 'array'))[1]
                as allowed,
            array_agg(distinct action order by action) as actions,
            (array_agg(legacy_id order by legacy_id))[1:5] as legacy_ids
        from held
        group by api_object, property, value
    )

    select jsonb_build_object(
        'run_id', (select min(run_id) from held),
        'recorded_at', (
            select to_char(max(recorded_at) at time zone 'UTC', 'YYYY-MM-DD HH24:MI "UTC"') from held
        ),
        'total', (select count(*) from held),
        'records', (select count(distinct legacy_id) from held),
        'groups', (select count(*) from grouped),
        'rows', coalesce((
            select jsonb_agg(jsonb_build_object(
                'api_object', shown.api_object,
                'property', shown.property,
                -- A value too long for HubSpot is shown by its start and its length.
                'value', case when length(shown.value) > 200 then left(shown.value, 200) || '…' else shown.value end,
                'value_chars', length(shown.value),
                'records', shown.records,
                'reason', shown.reason,
                'reasons', shown.reasons,
                'allowed', case when shown.allowed is not null then (
                    select coalesce(jsonb_agg(element.option order by element.position), '[]'::jsonb)
                    from jsonb_array_elements(shown.allowed) with ordinality as element (option, position)
                    where element.position <= {{ allowed_shown | int }}
                ) end,
                'allowed_total', jsonb_array_length(shown.allowed),
                'actions', to_jsonb(shown.actions),
                'legacy_ids', to_jsonb(shown.legacy_ids)
            ) order by shown.records desc, shown.api_object, shown.property, shown.value nulls first)
            from (
                select * from grouped
                order by grouped.records desc, grouped.api_object, grouped.property, grouped.value nulls first
                limit {{ max_groups | int }}
            ) as shown
        ), '[]'::jsonb)
    )
)
{%- endmacro -%}
select {{ held_values(
    "(select latest.run_id from staging.push_held_values as latest
        where latest.object_type = %(object_type)s order by latest.recorded_at desc, latest.run_id desc limit 1)",
    max_groups=200
) }} as held_values
