{#- reads: nothing / creates: staging."_<object>_push_plan" (unlogged; what the last push of the object
    planned)

    What a push writes and holds back, computed once per run (push/payloads.sql converts every
    value, the costly part): the payloads (kind 'payload': updates and creations) and the values
    held back (kind 'held'). The push's selections (select.sql, select_create.sql), the held
    values (held_values.sql) and the approval gate's counts read this table, so a run converts
    its values once however many times it reads them. -#}
{%- from "push/payloads.sql" import payloads -%}
{%- from "macros/session.sql" import step_memory -%}
{%- set o = params.object -%}
{{ step_memory() }}

drop table if exists staging."_{{ o.name }}_push_plan";

create unlogged table staging."_{{ o.name }}_push_plan" as
with {{ payloads(o) }}

select
    'payload'::text as kind,
    payloads.action,
    payloads.legacy_id,
    payloads.hubspot_id,
    payloads.api_object,
    payloads.properties,
    payloads.before_values,
    payloads.payload_hash,
    null::text as property,
    null::text as staged,
    null::text as reason,
    null::jsonb as allowed
from payloads

union all

select 'held', held.action, held.legacy_id, null, held.api_object, null, null, null, held.property, held.staged,
    held.reason, held.allowed
from held;

create index on staging."_{{ o.name }}_push_plan" (kind, action, api_object, legacy_id);

analyze staging."_{{ o.name }}_push_plan";
