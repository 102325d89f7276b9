{#- What push sends for one object: matched rows (and probable ones when the registry or the run allows)
    at or above the run's min_confidence, with something to update, whose exact payload was
    never confirmed sent, nor quarantined under the current mapping. maybe_sent: an earlier run
    sent it without recording the answer.
    api_object: the endpoint (an activity's own object); the push batches per api_object. -#}
{%- from "push/macros.sql" import still_to_send -%}
{%- set o = params.object -%}
with candidates as (
    select
        reconciliation.{{ o.legacy_key }} as legacy_id,
        reconciliation.{{ o.hubspot_key }} as hubspot_id,
        linked.properties,
        md5(reconciliation.{{ o.hubspot_key }} || ' ' || linked.properties::text) as payload_hash,
        coalesce(reconciliation.api_object, '{{ o.api_object }}') as api_object
    from staging.{{ o.staging_table }} as reconciliation
    -- Run param link_probable: a probable twin also gets the legacy id, linking the two for good.
    cross join lateral (
        select reconciliation.properties_to_update || case
            when %(link_probable)s and reconciliation.reconciliation_status = 'probable'
                then jsonb_build_object('{{ o.legacy_id_property }}', reconciliation.{{ o.legacy_key }}::text)
            else '{}'::jsonb
        end as properties
    ) as linked
    where
        reconciliation.{{ o.hubspot_key }} is not null
        and linked.properties <> '{}'::jsonb
        -- A pair a reviewer judged the same record is pushed whatever the model's confidence.
        and (reconciliation.match_confidence >= %(min_confidence)s or reconciliation.review ->> 'verdict' = 'same')
        and (
            reconciliation.reconciliation_status = 'matched'
            or ((%(push_probable)s or %(link_probable)s) and reconciliation.reconciliation_status = 'probable')
        )
)

select
    candidates.legacy_id,
    candidates.hubspot_id,
    candidates.properties,
    candidates.payload_hash,
    exists (
        select 1 from staging.push_log as ledger
        where ledger.payload_hash = candidates.payload_hash and ledger.outcome = 'in_flight'
    ) as maybe_sent,
    candidates.api_object
from candidates
where {{ still_to_send("candidates.payload_hash") }}
order by candidates.api_object, candidates.legacy_id
