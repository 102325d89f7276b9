{#- What a push would write for one object, in the portal's terms (issue 23): the updates and,
    with create_missing, the creations, each value converted to what the portal's catalogue
    takes (staging.portal_properties, portal_pipelines, portal_owners, as the preflight last
    read them) or held back with the reason. Named CTEs, top to bottom; `payloads` is one row per
    record to write, `held` one row per (record, property) held back.

    - wanted: the records and their staged values (updates: matched rows, and probable ones when
      the run allows, at or above min_confidence; creations: `new` rows);
    - records, lookups: per HubSpot object and property, the keys that name an option (its value,
      its label, the registry's value maps: staging.crm_option_lookup; a deal's stages and
      pipelines; the owners) and the option values allowed;
    - pairs: one row per record and property, converted (staging.crm_portal_value);
    - ranked: a unique property (hasUniqueValue, a contact's e-mail) goes to one record only, the
      best-scoring;
    - ruled: the portal rules the product knows (a closed-won deal needs closedate), and the
      pipeline that owns a deal's stage;
    - payloads / held. -#}
{%- macro payloads(o) -%}
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
),

-- Materialized: each value is converted once, and the lookups it is converted with (option
-- maps of a few kB) are not carried into the sorts below.
pairs as materialized (
    select
        wanted.action,
        wanted.legacy_id,
        wanted.hubspot_id,
        wanted.api_object,
        wanted.confidence,
        -- Narrow rows (the sorts below hold 3-20 per record): what the mirror holds for this
        -- property, and the deal's closedate for the closed-won rule; not the whole record.
        wanted.hubspot_properties -> given.key as current,
        wanted.hubspot_properties ->> 'closedate' as current_closedate,
        given.key as property,
        given.value as staged,
        staging.crm_portal_value(
            given.value,
            catalogue.type,
            catalogue.field_type,
            lookups.lookup,
            lookups.allowed,
            given.key = any(%(email_properties)s::text []) and catalogue.type is distinct from 'enumeration'
        ) as converted,
        coalesce(catalogue.has_unique_value, false)
        or (wanted.api_object = 'contacts' and given.key = 'email') as is_unique
    from wanted
    cross join lateral jsonb_each_text(wanted.properties) as given (key, value)
    left join staging.portal_properties as catalogue
        on catalogue.api_object = wanted.api_object and catalogue.name = given.key
    left join lookups on lookups.api_object = wanted.api_object and lookups.name = given.key
),

ranked as (
    select
        pairs.*,
        case when pairs.is_unique and pairs.converted ->> 'value' <> '' then first_value(pairs.legacy_id) over (
            partition by pairs.api_object, pairs.property, lower(pairs.converted ->> 'value'), pairs.is_unique
            order by pairs.confidence desc, pairs.action desc, pairs.legacy_id
        ) end as holder
    from pairs
),

decided as (
    select
        ranked.*,
        case
            when ranked.converted ? 'reason' then ranked.converted ->> 'reason'
            when ranked.holder <> ranked.legacy_id then format(
                '%%s is unique in HubSpot: legacy record %%s, the best match, gets %%s',
                ranked.property, ranked.holder, quote_literal(ranked.converted ->> 'value')
            )
        end as reason,
        stage.pipeline_id,
        coalesce(stage.is_closed and stage.probability >= 1, false) as closed_won
    from ranked
    left join lateral (
        select pipeline.pipeline_id, pipeline.is_closed, pipeline.probability
        from staging.portal_pipelines as pipeline
        where
            ranked.property = 'dealstage'
            and pipeline.api_object = ranked.api_object
            and pipeline.stage_id = ranked.converted ->> 'value'
        order by pipeline.pipeline_id
        limit 1
    ) as stage on true
),

ruled as (
    select
        decided.action,
        decided.legacy_id,
        decided.hubspot_id,
        decided.api_object,
        decided.current,
        decided.property,
        decided.staged,
        decided.converted ->> 'value' as value,
        case
            when decided.reason is not null then decided.reason
            when decided.closed_won and not (
                bool_or(decided.property = 'closedate' and decided.converted ->> 'value' <> '')
                    over (partition by decided.action, decided.legacy_id)
                or staging.crm_text(decided.current_closedate) is not null
            ) then 'a closed-won deal needs closedate (a portal validation rule), and the record has none'
        end as reason,
        decided.pipeline_id
    from decided
),

written as (
    select
        ruled.action,
        ruled.legacy_id,
        ruled.hubspot_id,
        ruled.api_object,
        coalesce(
            jsonb_object_agg(ruled.property, ruled.value) filter (
                where ruled.reason is null
                -- Converted, a value may be the one HubSpot holds already: nothing to write.
                and (ruled.action = 'create' or ruled.value is distinct from ruled.current #>> '{}')
            ),
            '{}'::jsonb
        )
        -- A deal's stage is only valid in its pipeline: the pipeline goes with it.
        || jsonb_strip_nulls(jsonb_build_object(
            'pipeline', max(ruled.pipeline_id) filter (where ruled.reason is null and ruled.property = 'dealstage')
        )) as properties,
        -- What the mirror held for the properties written: the ledger's before-values, read
        -- by no request (a revert restores from HubSpot's history, and falls back on these).
        coalesce(
            jsonb_object_agg(ruled.property, ruled.current) filter (
                where ruled.reason is null and ruled.action = 'update'
                and ruled.value is distinct from ruled.current #>> '{}'
            ),
            '{}'::jsonb
        ) as before_values
    from ruled
    group by ruled.action, ruled.legacy_id, ruled.hubspot_id, ruled.api_object
),

payloads as (
    select
        written.*,
        case
            when written.action = 'create'
                then md5('create ' || written.api_object || ' ' || written.legacy_id || ' ' || written.properties::text)
            else md5(written.hubspot_id || ' ' || written.properties::text)
        end as payload_hash
    from written
    where written.action = 'create' or written.properties <> '{}'::jsonb
),

held as (
    select
        ruled.action, ruled.legacy_id, ruled.api_object, ruled.property, ruled.staged, ruled.reason, lookups.allowed
    from ruled
    left join lookups on lookups.api_object = ruled.api_object and lookups.name = ruled.property
    where ruled.reason is not null
)
{%- endmacro -%}
