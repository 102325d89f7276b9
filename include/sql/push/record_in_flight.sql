{#- reads: staging.push_log / creates: nothing / updates: staging.push_log

    Before a batch leaves: its payloads are 'in_flight' (committed), so a run killed while the
    request is out knows, when it resumes, to read HubSpot back before sending them again (an
    update, a revert), or that the replay is harmless (a creation, upserted on its legacy id).
    before_values: what HubSpot held just before (read back); a payload resumed from a killed
    run keeps the values that run read, since HubSpot may hold ours by now. -#}
insert into staging.push_log (
    object_type, run_id, target, legacy_id, hubspot_id, properties, payload_hash, outcome, action, api_object,
    before_values, revert_of
)
select
    %(object_type)s,
    %(run_id)s,
    %(target)s,
    batch.legacy_id,
    batch.hubspot_id,
    batch.properties::jsonb,
    batch.payload_hash,
    'in_flight',
    %(action)s,
    %(api_object)s,
    coalesce(
        batch.before_values::jsonb,
        (
            select earlier.before_values from staging.push_log as earlier
            where earlier.payload_hash = batch.payload_hash and earlier.outcome = 'in_flight'
            order by earlier.push_id
            limit 1
        )
    ),
    batch.revert_of
from unnest(
    %(legacy_ids)s::bigint [], %(hubspot_ids)s::text [], %(properties)s::text [], %(payload_hashes)s::text [],
    %(before_values)s::text [], %(revert_of)s::bigint []
) as batch (legacy_id, hubspot_id, properties, payload_hash, before_values, revert_of)
