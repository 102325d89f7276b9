{#- reads: nothing / creates: nothing / updates: staging.push_log, staging.<object>_reconciliation

    After a batch: every in-flight row of its payloads (this run's and a killed run's) takes
    the outcome, a creation the id HubSpot gave the record, and the staging rows show it (a
    revert's rows only in the ledger: the staging row still says what reconcile found). -#}
{%- set o = params.object -%}
update staging.push_log as ledger
set
    outcome = batch.outcome,
    http_status = batch.http_status,
    error = batch.error,
    attempts = batch.attempts,
    skipped = coalesce(batch.skipped::jsonb, ledger.skipped),
    hubspot_id = coalesce(batch.created_id, ledger.hubspot_id),
    updated_at = now()
from unnest(
    %(payload_hashes)s::text [], %(outcomes)s::text [], %(http_statuses)s::integer [], %(errors)s::text [],
    %(attempts)s::integer [], %(created_ids)s::text [], %(skipped)s::text []
) as batch (payload_hash, outcome, http_status, error, attempts, created_id, skipped)
where ledger.payload_hash = batch.payload_hash and ledger.outcome = 'in_flight';

update staging.{{ o.staging_table }} as reconciliation
set
    push_status = case when batch.created_id is not null then 'created' else batch.outcome end,
    {{ o.hubspot_key }} = coalesce(batch.created_id, reconciliation.{{ o.hubspot_key }}),
    pushed_at = case when batch.outcome = 'sent' then now() else reconciliation.pushed_at end
from unnest(%(legacy_ids)s::bigint [], %(outcomes)s::text [], %(created_ids)s::text []) as batch (legacy_id, outcome, created_id)
where reconciliation.{{ o.legacy_key }} = batch.legacy_id and %(action)s in ('update', 'create')
