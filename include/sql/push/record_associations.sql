{#- reads: nothing / creates: nothing / updates: staging.push_associations

    What became of a batch of associations: one ledger row each (exists, created, dry_run,
    rejected or failed, with HubSpot's answer). -#}
insert into staging.push_associations (
    object_type, run_id, legacy_id, property, from_object, from_id, to_object, to_id, type_ids, outcome,
    http_status, error
)
select
    %(object_type)s, %(run_id)s, batch.legacy_id, batch.property, batch.from_object, batch.from_id,
    batch.to_object, batch.to_id, (select array_agg(value::integer) from jsonb_array_elements_text(batch.type_ids) as value),
    batch.outcome, batch.http_status, batch.error
from unnest(
    %(legacy_ids)s::bigint [], %(properties)s::text [], %(from_objects)s::text [], %(from_ids)s::text [],
    %(to_objects)s::text [], %(to_ids)s::text [], %(type_ids)s::jsonb [], %(outcomes)s::text [],
    %(http_statuses)s::integer [], %(errors)s::text []
) as batch (legacy_id, property, from_object, from_id, to_object, to_id, type_ids, outcome, http_status, error)
