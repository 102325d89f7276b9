{#- After a batch: every in-flight row of its payloads (this run's and a killed run's) takes
    the outcome, and the staging rows show it. -#}
{%- set o = params.object -%}
update staging.push_log as ledger
set
    outcome = batch.outcome,
    http_status = batch.http_status,
    error = batch.error,
    attempts = batch.attempts,
    updated_at = now()
from unnest(
    %(payload_hashes)s::text [], %(outcomes)s::text [], %(http_statuses)s::integer [], %(errors)s::text [],
    %(attempts)s::integer []
) as batch (payload_hash, outcome, http_status, error, attempts)
where ledger.payload_hash = batch.payload_hash and ledger.outcome = 'in_flight';

update staging.{{ o.staging_table }} as reconciliation
set
    push_status = batch.outcome,
    pushed_at = case when batch.outcome = 'sent' then now() else reconciliation.pushed_at end
from unnest(%(legacy_ids)s::bigint [], %(outcomes)s::text []) as batch (legacy_id, outcome)
where reconciliation.{{ o.legacy_key }} = batch.legacy_id
