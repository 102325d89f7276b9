{#- reads: staging.push_log / creates: nothing

    What a run wrote, to read back (verify 'every'; a random verify_sample_share of it with
    'sample'): its sent updates, creations and reverts, by endpoint, with how many there are.
    A creation is checked on the id HubSpot gave it. -#}
select
    ledger.push_id,
    ledger.hubspot_id,
    ledger.properties,
    count(*) over () as selected,
    coalesce(ledger.api_object, %(api_object)s) as api_object
from staging.push_log as ledger
where
    ledger.object_type = %(object_type)s
    and ledger.run_id = %(run_id)s
    and ledger.outcome = 'sent'
    and ledger.action in ('update', 'create', 'revert')
    and ledger.hubspot_id is not null
    and ledger.properties <> '{}'::jsonb
    and (%(verify)s = 'every' or random() < %(verify_sample_share)s)
order by coalesce(ledger.api_object, %(api_object)s), ledger.push_id
