{#- reads: nothing / creates: nothing / updates: staging.push_log (verification)

    What the read-back found: 'verified', or 'mismatch' with the values HubSpot holds instead. -#}
update staging.push_log as ledger
set
    verification = checked.verification,
    verified_values = checked.found::jsonb,
    verified_at = now()
from unnest(%(push_ids)s::bigint [], %(verifications)s::text [], %(found)s::text [])
    as checked (push_id, verification, found)
where ledger.push_id = checked.push_id
