{#- What a run wrote, to read back: its sent updates, creations and reverts, by endpoint.
    A creation is checked on the id HubSpot gave it. -#}
select
    ledger.push_id,
    ledger.hubspot_id,
    ledger.properties,
    coalesce(ledger.api_object, %(api_object)s) as api_object
from staging.push_log as ledger
where
    ledger.object_type = %(object_type)s
    and ledger.run_id = %(run_id)s
    and ledger.outcome = 'sent'
    and ledger.action in ('update', 'create', 'revert')
    and ledger.hubspot_id is not null
    and ledger.properties <> '{}'::jsonb
order by coalesce(ledger.api_object, %(api_object)s), ledger.push_id
