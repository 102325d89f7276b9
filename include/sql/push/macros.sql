{#- The rule every push selection keeps: a payload confirmed sent is never sent again, and one
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
