{#- reads: staging.review_decisions, staging.<referring object>_reconciliation? (when it exists) /
    creates: nothing / updates: staging.<object>_reconciliation, staging."_<object>_scored",
    staging."_<object>_score_labels", staging."_<object>_weight_vectors", staging."_<object>_gammas",
    staging."_<object>_tf_<comparison>", staging."_<object>_linked", staging."_<object>_pairs",
    staging."_<object>_legacy_named", staging."_<object>_hubspot_named" (the work tables: dropped)

    review_apply: the reviewers' active decisions on the rows this run scored, and what the
    review queue orders by. 'same': matched, the reviewer named, the legacy id queued for the
    twin that does not carry it yet; 'create_new': new (the push may create it); 'different' and
    'leave_aside': the status the model gave, out of the queue. Runs after probable.sql; the last
    file of score, it drops the task's work tables. -#}
{%- from "score/macros.sql" import work_table -%}
{%- set o = params.object -%}
{%- set scored, labels = work_table(o, "scored"), work_table(o, "score_labels") -%}
update staging.{{ o.staging_table }} set review = null where review is not null;

with applied as (
    select distinct on (decision.legacy_id)
        decision.*,
        reconciliation.reconciliation_status as status
    from staging.review_decisions as decision
    inner join staging.{{ o.staging_table }} as reconciliation
        on reconciliation.{{ o.legacy_key }} = decision.legacy_id
    where
        decision.object_type = %(object_type)s
        and decision.state = 'active'
        and (
            decision.verdict = 'create_new'
            or decision.hubspot_id = reconciliation.{{ o.hubspot_key }}
            or (decision.hubspot_id is null and reconciliation.{{ o.hubspot_key }} is null)
        )
    order by decision.legacy_id, decision.decided_at desc
)

update staging.{{ o.staging_table }} as reconciliation
set
    reconciliation_status = case applied.verdict
        when 'same' then 'matched'
        when 'create_new' then 'new'
        else reconciliation.reconciliation_status
    end,
    {{ o.hubspot_key }} = case
        when applied.verdict = 'create_new' then null else reconciliation.{{ o.hubspot_key }}
    end,
    properties_to_update = case
        when applied.verdict = 'create_new' then '{}'::jsonb
        when applied.verdict = 'same' and applied.status = 'probable'
            then reconciliation.properties_to_update
                || jsonb_build_object('{{ o.legacy_id_property }}', reconciliation.{{ o.legacy_key }}::text)
        else reconciliation.properties_to_update
    end,
    review = jsonb_build_object(
        'decision_id', applied.decision_id,
        'verdict', applied.verdict,
        'reviewer', applied.reviewer,
        'decided_at', applied.decided_at,
        'comment', applied.comment
    ),
    notes = regexp_replace(coalesce(reconciliation.notes, ''), ' Reviewed: .*$', '') || ' Reviewed: '
        || case applied.verdict
            when 'same' then 'the same record as HubSpot ' || applied.hubspot_id
            when 'different' then 'a different record from HubSpot ' || applied.hubspot_id
            when 'create_new' then 'to be created as a new record'
            else 'left aside'
        end
        || ' (' || applied.reviewer || ', ' || to_char(applied.decided_at at time zone 'UTC', 'YYYY-MM-DD') || ').'
from applied
where reconciliation.{{ o.legacy_key }} = applied.legacy_id;

-- The queue's order: what each undecided conflict or probable twin holds back, and the other
-- candidates a reviewer may want to see beside the proposed one.
update staging.{{ o.staging_table }} as reconciliation
set
    held_back = (select count(*) from jsonb_object_keys(reconciliation.properties_to_update)),
    score_components = reconciliation.score_components || jsonb_build_object(
        'alternatives', coalesce((
            select jsonb_agg(jsonb_build_object('hubspot_id', other.hubspot_id, 'confidence', other.confidence)
                order by other.match_weight desc, other.hubspot_id)
            from (
                select scored.hubspot_id, scored.confidence, scored.match_weight
                from {{ scored }} as scored
                where
                    scored.legacy_id = reconciliation.{{ o.legacy_key }}
                    and scored.hubspot_id is distinct from reconciliation.{{ o.hubspot_key }}
                -- The HubSpot id breaks ties: the work table's row order varies from run to run.
                order by scored.match_weight desc, scored.hubspot_id
                limit 3
            ) as other
        ), '[]'::jsonb)
    )
where reconciliation.reconciliation_status in ('conflict', 'probable');
{% for reference in o.referenced_by %}

do $held$
begin
    if to_regclass('staging.{{ reference.staging_table }}') is not null then
        update staging.{{ o.staging_table }} as reconciliation
        set held_back = reconciliation.held_back + dependents.rows
        from (
            select (referring.legacy_references ->> '{{ reference.property }}')::bigint as legacy_id, count(*) as rows
            from staging.{{ reference.staging_table }} as referring
            where referring.legacy_references ? '{{ reference.property }}'
            group by 1
        ) as dependents
        where
            dependents.legacy_id = reconciliation.{{ o.legacy_key }}
            and reconciliation.reconciliation_status in ('conflict', 'probable');
    end if;
end
$held$;
{%- endfor %}

-- The score task's work tables (named.sql, candidates.sql, linked.sql, compare.sql, score.sql).
drop table
    {{ scored }},
    {{ labels }},
    {{ work_table(o, "weight_vectors") }},
    {{ work_table(o, "gammas") }},
    {{ work_table(o, "linked") }},
    {{ work_table(o, "pairs") }},
    {{ work_table(o, "legacy_named") }},
    {{ work_table(o, "hubspot_named") }}
    {%- for c in o.model.comparisons if c.term_frequency %},
    {{ work_table(o, "tf_" ~ c.name) }}
    {%- endfor %};
