-- Before a batch leaves: its payloads are 'in_flight' (committed), so a run killed while the
-- request is out knows, when it resumes, to read HubSpot back before sending them again
-- (an update), or that the replay is harmless (a creation, upserted on its legacy id).
insert into staging.push_log (
    object_type, run_id, target, legacy_id, hubspot_id, properties, payload_hash, outcome, action, api_object
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
    %(api_object)s
from unnest(
    %(legacy_ids)s::bigint [], %(hubspot_ids)s::text [], %(properties)s::text [], %(payload_hashes)s::text []
) as batch (legacy_id, hubspot_id, properties, payload_hash)
