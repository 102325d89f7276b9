{#- reads: staging.push_log / creates: nothing

    What a revert of run %(revert_run_id)s undoes for one object: each update it sent (back to
    what HubSpot held before it: its history before created_at, when the write left), and, when asked (archive_created), each record it created. An
    entry already reverted (or found with nothing to restore) is not selected again; one whose
    revert was in flight when a run was killed is read back before anything is sent. -#}
with pushed as (
    select ledger.*
    from staging.push_log as ledger
    where
        ledger.object_type = %(object_type)s
        and ledger.run_id = %(revert_run_id)s
        and ledger.outcome = 'sent'
        and (ledger.action = 'update' or (ledger.action = 'create' and %(archive_created)s))
        and ledger.hubspot_id is not null
),

reverts as (
    select distinct on (revert.revert_of)
        revert.revert_of,
        revert.properties,
        revert.payload_hash,
        bool_or(revert.outcome in ('sent', 'skipped')) over (partition by revert.revert_of) as done,
        revert.outcome = 'in_flight' as in_flight
    from staging.push_log as revert
    where
        revert.revert_of in (select pushed.push_id from pushed)
        and revert.action in ('revert', 'archive')
        and revert.outcome <> 'dry_run'
    order by revert.revert_of, (revert.outcome = 'in_flight') desc, revert.push_id desc
)

select
    pushed.push_id,
    pushed.legacy_id,
    pushed.hubspot_id,
    pushed.properties,
    coalesce(pushed.before_values, '{}'::jsonb) as before_values,
    pushed.updated_at,
    pushed.action,
    coalesce(reverts.in_flight, false) as maybe_sent,
    reverts.properties as revert_properties,
    reverts.payload_hash as revert_hash,
    pushed.created_at,
    count(*) over () as selected,
    coalesce(pushed.api_object, %(api_object)s) as api_object
from pushed
left join reverts on reverts.revert_of = pushed.push_id
where not coalesce(reverts.done, false)
order by coalesce(pushed.api_object, %(api_object)s), pushed.push_id
