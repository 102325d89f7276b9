{#- reads: staging."_<object>_push_plan" / creates: nothing

    What push sends for one object: matched rows (and probable ones when the registry or the run allows)
    at or above the run's min_confidence, with something to update once converted to the
    portal's values (push/payloads.sql), whose exact payload was never confirmed sent, nor
    quarantined under the current mapping. maybe_sent: an earlier run sent it without recording
    the answer; before_values: what the mirror held; selected: how many rows (counted in the
    one pass that sends them). api_object: the endpoint (an activity's own object); the push
    batches per api_object. -#}
{%- from "push/macros.sql" import still_to_send -%}
select
    payloads.legacy_id,
    payloads.hubspot_id,
    payloads.properties,
    payloads.payload_hash,
    exists (
        select 1 from staging.push_log as ledger
        where ledger.payload_hash = payloads.payload_hash and ledger.outcome = 'in_flight'
    ) as maybe_sent,
    payloads.before_values,
    count(*) over () as selected,
    payloads.api_object
from staging."_{{ params.object.name }}_push_plan" as payloads
where payloads.kind = 'payload' and payloads.action = 'update' and {{ still_to_send("payloads.payload_hash") }}
order by payloads.api_object, payloads.legacy_id
