{#- reads: staging.push_log, staging.push_quarantine, staging.reconciliation_log, staging.mirror_checks,
    staging.previous_links / creates: nothing

    The rule every push selection keeps: a payload confirmed sent is never sent again, and one
    quarantined under the object's current mapping waits for its content or the mapping to change. -#}
{%- macro still_to_send(payload_hash) -%}
not exists (
        select 1 from staging.push_log as ledger
        where ledger.payload_hash = {{ payload_hash }} and ledger.outcome = 'sent'
    )
    and not exists (
        select 1 from staging.push_quarantine as quarantine
        where
            quarantine.object_type = %(object_type)s
            and quarantine.payload_hash = {{ payload_hash }}
            and quarantine.mapping_version = %(mapping_version)s
    )
{%- endmacro -%}

{#- The mirror guard (reconcile/mirror_links.sql): until a person approves this run's push, a
    creation waits when the previous run linked its legacy record (it is `new` only because its
    HubSpot record left the mirror, or lost its legacy id), or when the mirror shrank beyond
    max_drop_rate (no `new` can be trusted). -#}
{%- macro mirror_guard_holds(legacy_id) -%}
(
    not exists (
        select 1 from staging.reconciliation_log as gate
        where gate.object_type = %(object_type)s and gate.run_id = %(run_id)s and gate.step = 'approve_push'
            and gate.details ->> 'approved' = 'true'
    )
    and (
        exists (
            select 1 from staging.mirror_checks as checks
            where checks.object_type = %(object_type)s and checks.run_id = %(run_id)s and checks.shrunk
        )
        or exists (
            select 1 from staging.previous_links as linked
            where linked.object_type = %(object_type)s and linked.run_id = %(run_id)s
                and linked.legacy_id = {{ legacy_id }}
        )
    )
)
{%- endmacro -%}


{#- The creations the mirror guard holds in this run (create_missing on): a count, for the
    approval gate, the push's summary and the report. -#}
{%- macro guarded_creations(o) -%}
(
    select count(*)
    from staging."_{{ o.name }}_push_plan" as payloads
    where payloads.kind = 'payload' and payloads.action = 'create' and %(create_missing)s
        and {{ still_to_send("payloads.payload_hash") }} and {{ mirror_guard_holds("payloads.legacy_id") }}
)
{%- endmacro -%}
