{#- reads: staging.review_decisions, staging.<object>_reconciliation, staging.<object>_hubspot_source,
    staging."_<object>_scored" / creates: nothing / updates: staging.review_decisions

    review_check: the reviewers' active decisions against what this run found. A decision whose
    records changed since it was made comes back to the queue (state 'stale'), saying why; each
    one keeps the model's confidence for its pair (the labels the report measures). Runs after
    score.sql (the id links are scored), before eligible.sql (which leaves 'different' pairs out). -#}
{%- from "score/macros.sql" import work_table -%}
{%- set o = params.object -%}
{%- set scored = work_table(o, "scored") -%}
with decided as (
    select
        decision.decision_id,
        decision.verdict,
        decision.hubspot_id,
        decision.legacy_id,
        reconciliation.{{ o.legacy_key }} is not null as legacy_exists,
        reconciliation.reconciliation_status in ('matched', 'conflict') as id_linked,
        reconciliation.{{ o.hubspot_key }} as linked_id,
        decision.hubspot_id is null or exists (
            select 1 from staging.{{ o.name }}_hubspot_source as hubspot where hubspot.hubspot_id = decision.hubspot_id
        ) as twin_exists
    from staging.review_decisions as decision
    left join staging.{{ o.staging_table }} as reconciliation
        on reconciliation.{{ o.legacy_key }} = decision.legacy_id
    where decision.object_type = %(object_type)s and decision.state = 'active'
),

verdicts as (
    select
        decided.decision_id,
        case
            when not decided.legacy_exists then 'the legacy record is no longer in the export'
            when not decided.twin_exists then 'HubSpot record ' || decided.hubspot_id || ' no longer exists'
            when decided.verdict = 'same' and decided.id_linked and decided.linked_id <> decided.hubspot_id
                then 'HubSpot record ' || decided.linked_id || ' now carries legacy id ' || decided.legacy_id
            when decided.verdict = 'create_new' and decided.id_linked
                then 'HubSpot record ' || decided.linked_id || ' now carries legacy id ' || decided.legacy_id
                    || ': a record cannot be created beside it'
        end as reason
    from decided
)

update staging.review_decisions as decision
set state = 'stale', stale_reason = verdicts.reason
from verdicts
where verdicts.decision_id = decision.decision_id and verdicts.reason is not null;

update staging.review_decisions as decision
set model_confidence = scored.confidence
from {{ scored }} as scored
where
    decision.object_type = %(object_type)s
    and scored.legacy_id = decision.legacy_id
    and scored.hubspot_id = decision.hubspot_id
    and decision.model_confidence is distinct from scored.confidence
