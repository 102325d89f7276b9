{#- reads: nothing / creates: nothing / updates: staging.portal_properties, staging.portal_pipelines,
    staging.portal_owners

    What the preflight read of the portal, kept for the value conversion (push/payloads.sql) and
    for reconcile's comparison of enumerations: each object's properties (with their options),
    the pipelines and their stages, the owners. Bound as JSON (objects → lists as HubSpot answers
    them; null for what was not read); what was read replaces what was kept. -#}
delete from staging.portal_properties
where api_object in (select jsonb_object_keys(coalesce(%(properties)s::jsonb, '{}'::jsonb)));

insert into staging.portal_properties (
    api_object, name, type, field_type, options, external_options, has_unique_value, read_only
)
select
    catalogue.api_object,
    described.value ->> 'name',
    coalesce(described.value ->> 'type', 'string'),
    described.value ->> 'fieldType',
    coalesce(
        (
            select jsonb_agg(
                jsonb_build_object('label', choice.value ->> 'label', 'value', choice.value ->> 'value')
                order by choice.position
            )
            from jsonb_array_elements(described.value -> 'options') with ordinality as choice (value, position)
            where jsonb_typeof(described.value -> 'options') = 'array'
        ),
        '[]'::jsonb
    ),
    coalesce((described.value ->> 'externalOptions')::boolean, false),
    coalesce((described.value ->> 'hasUniqueValue')::boolean, false),
    coalesce((described.value -> 'modificationMetadata' ->> 'readOnlyValue')::boolean, false)
from jsonb_each(coalesce(%(properties)s::jsonb, '{}'::jsonb)) as catalogue (api_object, described_list)
cross join jsonb_array_elements(catalogue.described_list) as described (value)
where described.value ->> 'name' is not null
on conflict (api_object, name) do update set
    type = excluded.type,
    field_type = excluded.field_type,
    options = excluded.options,
    external_options = excluded.external_options,
    has_unique_value = excluded.has_unique_value,
    read_only = excluded.read_only,
    fetched_at = now();

delete from staging.portal_pipelines
where api_object in (select jsonb_object_keys(coalesce(%(pipelines)s::jsonb, '{}'::jsonb)));

insert into staging.portal_pipelines (
    api_object, pipeline_id, pipeline_label, stage_id, stage_label, is_default, is_closed, probability
)
select
    catalogue.api_object,
    pipeline.value ->> 'id',
    pipeline.value ->> 'label',
    stage.value ->> 'id',
    stage.value ->> 'label',
    pipeline.value ->> 'id' = 'default',
    coalesce(stage.value -> 'metadata' ->> 'isClosed', 'false') = 'true',
    case when stage.value -> 'metadata' ->> 'probability' ~ '^[0-9.]+$' then (stage.value -> 'metadata' ->> 'probability')::numeric end
from jsonb_each(coalesce(%(pipelines)s::jsonb, '{}'::jsonb)) as catalogue (api_object, pipelines)
cross join jsonb_array_elements(catalogue.pipelines) as pipeline (value)
cross join jsonb_array_elements(pipeline.value -> 'stages') as stage (value)
where not coalesce((pipeline.value ->> 'archived')::boolean, false)
    and not coalesce((stage.value ->> 'archived')::boolean, false)
on conflict (api_object, pipeline_id, stage_id) do nothing;

insert into staging.portal_owners (owner_id, email, first_name, last_name)
select owner.value ->> 'id', owner.value ->> 'email', owner.value ->> 'firstName', owner.value ->> 'lastName'
from jsonb_array_elements(coalesce(%(owners)s::jsonb, '[]'::jsonb)) as owner (value)
where owner.value ->> 'id' is not null and not coalesce((owner.value ->> 'archived')::boolean, false)
on conflict (owner_id) do update set
    email = excluded.email, first_name = excluded.first_name, last_name = excluded.last_name, fetched_at = now()
