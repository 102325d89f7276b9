{#- reads: staging.push_log / creates: nothing / updates: staging.push_quarantine

    After a run's sends: a payload HubSpot refused in this run with the error it gave the last
    time it was sent is quarantined, not selected again until its content or the object's
    mapping changes. Returns what the quarantine holds for the object (for the step log). -#}
with refused as (
    select ledger.payload_hash, ledger.legacy_id, ledger.hubspot_id, ledger.error, ledger.push_id
    from staging.push_log as ledger
    where
        ledger.object_type = %(object_type)s
        and ledger.run_id = %(run_id)s
        and ledger.outcome = 'rejected'
        and ledger.action in ('update', 'create')
),

previous as (
    select distinct on (refused.payload_hash)
        refused.*,
        earlier.outcome as earlier_outcome,
        earlier.error as earlier_error,
        earlier.run_id as earlier_run_id
    from refused
    inner join staging.push_log as earlier
        on earlier.payload_hash = refused.payload_hash
        and earlier.run_id <> %(run_id)s
        and earlier.outcome in ('sent', 'rejected', 'failed')
    order by refused.payload_hash, earlier.push_id desc
),

quarantined as (
    insert into staging.push_quarantine (
        object_type, payload_hash, mapping_version, legacy_id, hubspot_id, error, first_run_id, last_run_id
    )
    select
        %(object_type)s, previous.payload_hash, %(mapping_version)s, previous.legacy_id, previous.hubspot_id,
        previous.error, previous.earlier_run_id, %(run_id)s
    from previous
    where previous.earlier_outcome = 'rejected' and previous.earlier_error = previous.error
    on conflict (object_type, payload_hash, mapping_version) do update
    set last_run_id = excluded.last_run_id, refusals = staging.push_quarantine.refusals + 1
    returning 1
)

select jsonb_build_object('quarantined_now', (select count(*) from quarantined))
