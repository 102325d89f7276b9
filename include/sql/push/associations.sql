{#- reads: staging.<object>_reconciliation, staging.push_log, staging.push_associations,
    staging.<referenced object>_reconciliation? (those that exist) / creates: nothing

    The associations a push makes (HubSpot v4): for every row of this object that has a HubSpot
    record — linked and pushable (matched; probable when the registry allows), or created by an
    earlier push — each legacy reference whose target has one too (the target object's staging
    row, or the record a push created for it; ``present``: the target staging tables that
    exist). Type ids: the default, plus the primary one when
    the mapping says primary. Those already created, or found to exist, are left out. -#}
{%- set o = params.object -%}
with created as (
    select distinct on (ledger.object_type, ledger.legacy_id)
        ledger.object_type, ledger.legacy_id, ledger.hubspot_id
    from staging.push_log as ledger
    where ledger.action = 'create' and ledger.outcome = 'sent' and ledger.hubspot_id is not null
    order by ledger.object_type, ledger.legacy_id, ledger.push_id desc
),

sources as (
    select
        reconciliation.{{ o.legacy_key }} as legacy_id,
        coalesce(reconciliation.api_object, '{{ o.api_object }}') as from_object,
        coalesce(
            case
                when reconciliation.reconciliation_status = 'matched'
                    or ((%(push_probable)s or %(link_probable)s) and reconciliation.reconciliation_status = 'probable'
                        and reconciliation.match_confidence >= %(min_confidence)s)
                    then reconciliation.{{ o.hubspot_key }}
            end,
            mine.hubspot_id
        ) as from_id,
        reconciliation.legacy_references
    from staging.{{ o.staging_table }} as reconciliation
    left join created as mine
        on mine.object_type = '{{ o.name }}' and mine.legacy_id = reconciliation.{{ o.legacy_key }}
    where reconciliation.legacy_references <> '{}'::jsonb
),

wanted as (
    {%- for m in o.mappings if m.reference and m.reference.staging_table in present %}
    {{ "union all" if not loop.first }}
    select
        sources.legacy_id,
        '{{ m.property }}' as property,
        sources.from_object,
        sources.from_id,
        '{{ m.reference.api_object }}' as to_object,
        coalesce(
            case
                when target.reconciliation_status = 'matched'
                    or ((%(push_probable)s or %(link_probable)s) and target.reconciliation_status = 'probable'
                        and target.match_confidence >= %(min_confidence)s)
                    then target.{{ m.reference.hubspot_key }}
            end,
            theirs.hubspot_id
        ) as to_id,
        {{ "true" if m.primary else "false" }} as is_primary
    from sources
    left join staging.{{ m.reference.staging_table }} as target
        on target.{{ m.reference.legacy_key }} = (sources.legacy_references ->> '{{ m.property }}')::bigint
    left join created as theirs
        on theirs.object_type = '{{ m.reference.name }}'
        and theirs.legacy_id = (sources.legacy_references ->> '{{ m.property }}')::bigint
    where sources.legacy_references ? '{{ m.property }}'
    {%- endfor %}
),

typed as (
    select
        wanted.*,
        array_remove(array[
            (%(association_types)s::jsonb -> wanted.from_object -> wanted.to_object ->> 'default')::integer,
            case when wanted.is_primary
                then (%(association_types)s::jsonb -> wanted.from_object -> wanted.to_object ->> 'primary')::integer
            end
        ], null) as type_ids
    from wanted
    where wanted.from_id is not null and wanted.to_id is not null
)

select
    typed.legacy_id,
    typed.property,
    typed.from_object,
    typed.from_id,
    typed.to_object,
    typed.to_id,
    typed.type_ids,
    count(*) over () as selected,
    typed.from_object || ' ' || typed.to_object as pair
from typed
where not exists (
    select 1 from staging.push_associations as ledger
    where
        ledger.from_object = typed.from_object
        and ledger.from_id = typed.from_id
        and ledger.to_object = typed.to_object
        and ledger.to_id = typed.to_id
        and ledger.type_ids @> typed.type_ids
        and ledger.outcome in ('created', 'exists')
)
order by typed.from_object, typed.to_object, typed.from_id, typed.to_id
