{#- reads: staging."_<object>_push_plan" / creates: nothing

    What push creates for one object (run param create_missing): every `new` row, with its
    writable legacy values converted to the portal's (an activity's in its own object's names;
    push/payloads.sql, as push/plan.sql kept them) and its legacy id, which the upsert is keyed on. A payload confirmed sent
    is never sent again; a changed one is upserted again, which updates the record it created
    instead of creating a second. A quarantined payload waits for its content or the mapping to change.
    The mirror guard holds a creation of a record linked before until a person approves. -#}
{%- from "push/macros.sql" import still_to_send, mirror_guard_holds -%}
select
    payloads.legacy_id,
    payloads.properties,
    payloads.payload_hash,
    count(*) over () as selected,
    payloads.api_object
from staging."_{{ params.object.name }}_push_plan" as payloads
where payloads.kind = 'payload' and payloads.action = 'create' and {{ still_to_send("payloads.payload_hash") }}
    and not {{ mirror_guard_holds("payloads.legacy_id") }}
order by payloads.api_object, payloads.legacy_id
