{#- reads: staging.<object>_reconciliation, staging.portal_pipelines, staging.portal_properties,
    staging.portal_owners / creates: nothing (the macro payload_inputs: named CTEs)

    What a push would write, before conversion (push/payloads.sql converts it): the CTEs

    - wanted: the records and their staged values (updates: matched rows, and probable ones when
      the run allows, at or above min_confidence; creations: `new` rows);
    - records, lookups: per HubSpot object and property, the keys that name an option (its value,
      its label, the registry's value maps: staging.crm_option_lookup; a deal's stages and
      pipelines; the owners) and the option values allowed. -#}
{%- macro payload_inputs(o) -%}
{%- set writable = o.mappings | selectattr("writable") | rejectattr("reference") | map(attribute="property") | list -%}
wanted as (
    select
        'update'::text as action,
        reconciliation.{{ o.legacy_key }} as legacy_id,
        reconciliation.{{ o.hubspot_key }} as hubspot_id,
        coalesce(reconciliation.api_object, '{{ o.api_object }}') as api_object,
        reconciliation.match_confidence as confidence,
        -- Run param link_probable: a probable twin also gets the legacy id, linking the two for good.
        reconciliation.properties_to_update || case
            when %(link_probable)s and reconciliation.reconciliation_status = 'probable'
                then jsonb_build_object('{{ o.legacy_id_property }}', reconciliation.{{ o.legacy_key }}::text)
            else '{}'::jsonb
        end as properties,
        coalesce(reconciliation.hubspot_properties, '{}'::jsonb) as hubspot_properties
    from staging.{{ o.staging_table }} as reconciliation
    where
        reconciliation.{{ o.hubspot_key }} is not null
        -- A pair a reviewer judged the same record is pushed whatever the model's confidence.
        and (reconciliation.match_confidence >= %(min_confidence)s or reconciliation.review ->> 'verdict' = 'same')
        and (
            (reconciliation.reconciliation_status = 'matched' and reconciliation.properties_to_update <> '{}'::jsonb)
            or ((%(push_probable)s or %(link_probable)s) and reconciliation.reconciliation_status = 'probable')
        )

    union all

    select
        'create'::text,
        reconciliation.{{ o.legacy_key }},
        null::text,
        coalesce(reconciliation.api_object, '{{ o.api_object }}'),
        100::numeric,
        {%- if o.activities %}
        staging.crm_activity_properties(
            reconciliation.api_object, reconciliation.legacy_properties, null, %(activities)s::jsonb
        ),
        {%- else %}
        (
            select coalesce(jsonb_object_agg(value.key, value.value), '{}'::jsonb)
            from jsonb_each(reconciliation.legacy_properties) as value
            where value.key in ({% for p in writable %}'{{ p }}'{{ ", " if not loop.last }}{% endfor %})
        ),
        {%- endif %}
        '{}'::jsonb
    from staging.{{ o.staging_table }} as reconciliation
    where reconciliation.reconciliation_status = 'new' and %(create_missing)s
),

-- The portal's own records behind a deal's stage, its pipeline and an owner: id, then label.
records as (
    select stage.api_object, 'dealstage' as name, label.name as label, stage.stage_id as value, label.rank
    from staging.portal_pipelines as stage
    cross join lateral (values (stage.stage_id, 0), (stage.stage_label, 1)) as label (name, rank)

    union all

    select distinct pipeline.api_object, 'pipeline', label.name, pipeline.pipeline_id, label.rank
    from staging.portal_pipelines as pipeline
    cross join lateral (values (pipeline.pipeline_id, 0), (pipeline.pipeline_label, 1)) as label (name, rank)

    union all

    select catalogue.api_object, catalogue.name, label.name, owner.owner_id, label.rank
    from staging.portal_properties as catalogue
    cross join staging.portal_owners as owner
    cross join lateral (values (owner.owner_id, 0), (owner.email, 1)) as label (name, rank)
    where catalogue.name = 'hubspot_owner_id'
),

lookups as (
    select
        catalogue.api_object,
        catalogue.name,
        -- An option's value wins over a label, a label over a value map's entry.
        staging.crm_option_lookup(catalogue.api_object, catalogue.name, %(value_maps)s::jsonb)
        || coalesce(kept.lookup, '{}'::jsonb) as lookup,
        -- Options listed elsewhere (externalOptions) that are not read here: not checked.
        case
            when kept.allowed is not null then kept.allowed
            when not catalogue.external_options then coalesce(
                (select jsonb_agg(choice.option -> 'value') from jsonb_array_elements(catalogue.options) as choice (option)),
                '[]'::jsonb
            )
        end as allowed
    from staging.portal_properties as catalogue
    left join (
        select
            records.api_object,
            records.name,
            jsonb_object_agg(staging.crm_option_key(records.label), records.value order by records.rank desc)
                filter (where staging.crm_option_key(records.label) is not null) as lookup,
            jsonb_agg(distinct records.value) filter (where records.rank = 0) as allowed
        from records
        group by records.api_object, records.name
    ) as kept on kept.api_object = catalogue.api_object and kept.name = catalogue.name
    where catalogue.api_object in (select distinct wanted.api_object from wanted)
)
{%- endmacro -%}
