{#- reads: staging.portal_properties, staging.portal_pipelines / creates: nothing (the macro
    payloads: named CTEs)

    What a push would write for one object, in the portal's terms (issue 23): the updates and,
    with create_missing, the creations, each value converted to what the portal's catalogue
    takes (staging.portal_properties, portal_pipelines, portal_owners, as the preflight last
    read them) or held back with the reason. Named CTEs, top to bottom; `payloads` is one row per
    record to write, `held` one row per (record, property) held back.

    - wanted, records, lookups: what is to be written, and the portal's options
      (push/payload_inputs.sql);
    - pairs: one row per record and property, converted (staging.crm_portal_value);
    - ranked: a unique property (hasUniqueValue, a contact's e-mail) goes to one record only, the
      best-scoring;
    - ruled: the portal rules the product knows (a closed-won deal needs closedate), and the
      pipeline that owns a deal's stage;
    - payloads / held. -#}
{%- from "push/payload_inputs.sql" import payload_inputs -%}
{%- macro payloads(o) -%}
{{ payload_inputs(o) }},

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
