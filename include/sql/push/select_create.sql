{#- What push creates for one object (run param create_missing): every `new` row, with its
    writable legacy values (an activity's in its own object's names) and its legacy id, which
    the upsert is keyed on. A payload confirmed sent is never sent again; a changed one is
    upserted again, which updates the record it created instead of creating a second. A
    quarantined payload waits for its content or the mapping to change. -#}
{%- from "push/macros.sql" import still_to_send -%}
{%- set o = params.object -%}
{%- set writable = o.mappings | selectattr("writable") | rejectattr("reference") | map(attribute="property") | list -%}
with candidates as (
    select
        reconciliation.{{ o.legacy_key }} as legacy_id,
        coalesce(reconciliation.api_object, '{{ o.api_object }}') as api_object,
        {%- if o.activities %}
        staging.crm_activity_properties(
            reconciliation.api_object, reconciliation.legacy_properties, null, %(activities)s::jsonb
        ) as properties
        {%- else %}
        (
            select coalesce(jsonb_object_agg(value.key, value.value), '{}'::jsonb)
            from jsonb_each(reconciliation.legacy_properties) as value
            where value.key in ({% for p in writable %}'{{ p }}'{{ ", " if not loop.last }}{% endfor %})
        ) as properties
        {%- endif %}
    from staging.{{ o.staging_table }} as reconciliation
    where reconciliation.reconciliation_status = 'new'
),

hashed as (
    select
        candidates.*,
        md5('create ' || candidates.api_object || ' ' || candidates.legacy_id || ' ' || candidates.properties::text)
            as payload_hash
    from candidates
)

select
    hashed.legacy_id,
    hashed.properties,
    hashed.payload_hash,
    hashed.api_object
from hashed
where {{ still_to_send("hashed.payload_hash") }}
order by hashed.api_object, hashed.legacy_id
