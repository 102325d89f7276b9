{#- probable: for legacy records that no HubSpot record links by id, the twin among the blocked
    candidates (score/pairs.sql), scored by the object's one match model (score/score.sql): a
    one-to-one assignment keeps the best pairs; near-ties are reported, never picked. -#}
{%- from "reconcile/macros.sql" import hubspot_value, hubspot_json, field_diffs_json, updates_json, pushed_properties -%}
{%- from "macros/summary.sql" import status_counts -%}
{%- from "score/macros.sql" import identity_reason, score_components, score_summary, work_table -%}
{%- set o = params.object -%}
{%- set scored, labels = work_table(o, "scored"), work_table(o, "score_labels") -%}
{%- if o.matching -%}

-- 1. The blocked pairs at or above the probable threshold that show identity evidence, as
--    reviewers decided: a pair
--    judged the same record is kept whatever its score (and its two records for each other),
--    one judged different is never proposed again, a record to be created has no twin.
create temp table _decided on commit drop as
select decision.legacy_id, decision.hubspot_id, decision.verdict
from staging.review_decisions as decision
where decision.object_type = %(object_type)s and decision.state = 'active';

create temp table _eligible on commit drop as
select scored.*
from {{ scored }} as scored
where
    scored.rules <> array['legacy_id']
    and (
        -- Identity evidence (registry: Model.identity) is required, whatever the confidence.
        (scored.confidence >= (%(matching)s::jsonb ->> 'probable_min_confidence')::numeric and scored.identity)
        or exists (
            select 1 from _decided as same
            where same.verdict = 'same' and same.legacy_id = scored.legacy_id and same.hubspot_id = scored.hubspot_id
        )
    )
    and not exists (
        select 1 from _decided as decided
        where
            decided.legacy_id = scored.legacy_id and decided.hubspot_id = scored.hubspot_id
            and decided.verdict = 'different'
    )
    and not exists (
        select 1 from _decided as decided
        where
            (decided.verdict = 'create_new' and decided.legacy_id = scored.legacy_id)
            or (
                decided.verdict = 'same'
                and (decided.legacy_id = scored.legacy_id) <> (decided.hubspot_id = scored.hubspot_id)
            )
    );

-- 2. Ties: a legacy record with two candidates, or a HubSpot record with two legacy records,
--    whose match weights differ by less than the tie margin (bits). Reported, never picked.

create temp table _ties on commit drop as
with margin as (select (%(matching)s::jsonb ->> 'tie_margin')::numeric as bits),

by_legacy as (
    select
        eligible.legacy_id,
        eligible.hubspot_id,
        eligible.confidence,
        eligible.match_weight,
        row_number() over win as position,
        lead(eligible.hubspot_id) over win as next_hubspot_id,
        lead(eligible.confidence) over win as next_confidence,
        lead(eligible.match_weight) over win as next_weight
    from _eligible as eligible
    window win as (partition by eligible.legacy_id order by eligible.match_weight desc, eligible.hubspot_id)
),

by_hubspot as (
    select
        eligible.hubspot_id,
        eligible.legacy_id,
        eligible.confidence,
        eligible.match_weight,
        row_number() over win as position,
        lead(eligible.legacy_id) over win as next_legacy_id,
        lead(eligible.confidence) over win as next_confidence,
        lead(eligible.match_weight) over win as next_weight
    from _eligible as eligible
    window win as (partition by eligible.hubspot_id order by eligible.match_weight desc, eligible.legacy_id)
)

select
    by_legacy.legacy_id,
    by_legacy.confidence,
    'HubSpot ' || by_legacy.hubspot_id || ' (confidence ' || round(by_legacy.confidence) || ') and HubSpot '
    || by_legacy.next_hubspot_id || ' (confidence ' || round(by_legacy.next_confidence)
    || ') are equally likely twins' as reason
from by_legacy
cross join margin
where by_legacy.position = 1 and by_legacy.match_weight - by_legacy.next_weight < margin.bits

union all

select
    tied.legacy_id,
    tied.confidence,
    'HubSpot ' || top.hubspot_id || ' is as likely the twin of legacy ' || top.legacy_id || ' (confidence '
    || round(top.confidence) || ') as of legacy ' || top.next_legacy_id || ' (confidence '
    || round(top.next_confidence) || ')' as reason
from by_hubspot as top
cross join margin
inner join by_hubspot as tied
    on tied.hubspot_id = top.hubspot_id and tied.legacy_id in (top.legacy_id, top.next_legacy_id)
where top.position = 1 and top.match_weight - top.next_weight < margin.bits;

-- 3. One-to-one assignment: rounds of mutual best choices (the best remaining pair always is
--    one), tied records and their candidates left out.
create temp table _assigned (
    legacy_id bigint primary key,
    hubspot_id text not null,
    confidence numeric,
    match_weight numeric
) on commit drop;

-- A HubSpot id is a mirror value, of any length: unique on its hash, looked up by a hash index
-- (a btree on the id itself fails on a value over ~2,700 bytes).
create unique index on _assigned (md5(hubspot_id));

create index on _assigned using hash (hubspot_id);

do $assign$
declare
    added integer;
begin
    loop
        insert into _assigned (legacy_id, hubspot_id, confidence, match_weight)
        select ranked.legacy_id, ranked.hubspot_id, ranked.confidence, ranked.match_weight
        from (
            select
                eligible.*,
                row_number() over (
                    partition by eligible.legacy_id order by eligible.match_weight desc, eligible.hubspot_id
                ) as legacy_rank,
                row_number() over (
                    partition by eligible.hubspot_id order by eligible.match_weight desc, eligible.legacy_id
                ) as hubspot_rank
            from _eligible as eligible
            where
                not exists (select 1 from _ties as ties where ties.legacy_id = eligible.legacy_id)
                and not exists (select 1 from _assigned as taken where taken.legacy_id = eligible.legacy_id)
                and not exists (select 1 from _assigned as taken where taken.hubspot_id = eligible.hubspot_id)
        ) as ranked
        where ranked.legacy_rank = 1 and ranked.hubspot_rank = 1;
        get diagnostics added = row_count;
        exit when added = 0;
    end loop;
end
$assign$;

-- 4. Every unlinked row gets its outcome: probable (with the diff against its twin), a tie
--    (conflict), or new with the best candidate named.
with settings as (
    select
        %(settings)s::jsonb ->> 'phone_country_code' as phone_country_code,
        %(matching)s::jsonb as matching
),

-- The best candidate: only what names it (the pair shown is read whole below).
best as (
    select distinct on (scored.legacy_id) scored.legacy_id, scored.hubspot_id, scored.confidence
    from {{ scored }} as scored
    where scored.rules <> array['legacy_id']
    order by scored.legacy_id, scored.match_weight desc, scored.hubspot_id
),

twins as materialized (
    select
        assigned.legacy_id,
        assigned.hubspot_id,
        true as has_twin,
        reconciliation.legacy_properties,
        {%- if o.activities %}
        -- The twin keeps its object (an activity's type, read from its values).
        staging.crm_activity_object(jsonb_build_object(
            {%- for m in o.mappings %}
            '{{ m.property }}', hubspot.{{ m.property }}{{ "," if not loop.last }}
            {%- endfor %}
        ), %(activities)s::jsonb) as api_object
        {%- else %}
        reconciliation.api_object
        {%- endif %}
        {%- for m in o.mappings %},
        reconciliation.legacy_properties ->> '{{ m.property }}' as v_{{ m.property }},
        {{ hubspot_value(m, "hubspot." ~ m.property) }} as h_{{ m.property }}
        {%- endfor %}
    from _assigned as assigned
    inner join staging.{{ o.staging_table }} as reconciliation on reconciliation.{{ o.legacy_key }} = assigned.legacy_id
    inner join staging.{{ o.name }}_hubspot_source as hubspot on hubspot.hubspot_id = assigned.hubspot_id
    cross join settings
),

outcomes as (
    select
        legacy.legacy_id,
        assigned.hubspot_id as twin_id,
        twins.api_object as twin_object,
        assigned.confidence as twin_confidence,
        ties.reason as tie_reason,
        ties.confidence as tie_confidence,
        best.hubspot_id as best_id,
        best.confidence as best_confidence,
        -- Read only where there is no twin: there the pair shown is the best candidate.
        {{ identity_reason(o.model, "shown") | indent(8) }} as best_identity_reason,
        -- Components and notes only for the pair shown (score/macros.sql: score_components),
        -- built once: the twin, else the best candidate.
        case
            when shown.legacy_id is not null
                then {{ score_components(o.model, "shown", "labels") | indent(16) }}
                    || jsonb_build_object('candidate', shown.hubspot_id)
        end as shown_components,
        case
            when shown.legacy_id is not null
                then {{ score_summary(o.model, "shown", "labels") | indent(16) }}
        end as shown_summary,
        {{ hubspot_json(o.mappings, "twins.has_twin") | indent(8) }} as hubspot_properties,
        {{ field_diffs_json(o.mappings, "twins.has_twin") | indent(8) }} as field_diffs,
        {{ pushed_properties(o, updates_json(o.mappings, "twins.has_twin"), "twins.legacy_properties", "twins.api_object") | indent(8) }}
        || case
            when (settings.matching ->> 'auto_link')::boolean
                and assigned.confidence >= (settings.matching ->> 'auto_link_min_confidence')::numeric
                then jsonb_build_object('{{ o.legacy_id_property }}', legacy.legacy_id::text)
            else '{}'::jsonb
        end as properties_to_update
    from {{ work_table(o, "legacy_named") }} as legacy
    cross join settings
    cross join {{ labels }} as labels
    left join _assigned as assigned on assigned.legacy_id = legacy.legacy_id
    left join twins on twins.legacy_id = legacy.legacy_id
    left join (
        select distinct on (ties.legacy_id) ties.* from _ties as ties order by ties.legacy_id, ties.confidence desc
    ) as ties on ties.legacy_id = legacy.legacy_id
    left join best on best.legacy_id = legacy.legacy_id
    left join {{ scored }} as shown
        on shown.legacy_id = legacy.legacy_id and shown.hubspot_id = coalesce(assigned.hubspot_id, best.hubspot_id)
)

update staging.{{ o.staging_table }} as reconciliation
set
    reconciliation_status = case
        when outcomes.twin_id is not null then 'probable'
        when outcomes.tie_reason is not null then 'conflict'
        else 'new'
    end,
    {{ o.hubspot_key }} = outcomes.twin_id,
    api_object = coalesce(outcomes.twin_object, reconciliation.api_object),
    match_confidence = coalesce(outcomes.twin_confidence, outcomes.tie_confidence, 0),
    -- The pair shown, with its HubSpot record as the candidate: the twin, else the best candidate.
    score_components = coalesce(outcomes.shown_components, '{}'::jsonb),
    hubspot_properties = outcomes.hubspot_properties,
    field_diffs = coalesce(outcomes.field_diffs, '{}'::jsonb),
    properties_to_update = case when outcomes.twin_id is not null then outcomes.properties_to_update else '{}'::jsonb end,
    notes = regexp_replace(reconciliation.notes, ' (Probable twin|Tie|Best candidate|No similar).*$', '')
        || case
            when outcomes.twin_id is not null then
                ' Probable twin: HubSpot ' || outcomes.twin_id || ' (confidence ' || round(outcomes.twin_confidence)
                || '): ' || outcomes.shown_summary || '.'
            when outcomes.tie_reason is not null then ' Tie: ' || outcomes.tie_reason || '; not picked.'
            when outcomes.best_id is not null then
                ' Best candidate: HubSpot ' || outcomes.best_id || ' (confidence ' || round(outcomes.best_confidence)
                || case
                    when outcomes.best_confidence < (%(matching)s::jsonb ->> 'probable_min_confidence')::numeric
                        then ', below ' || round((%(matching)s::jsonb ->> 'probable_min_confidence')::numeric)
                    when outcomes.best_identity_reason is not null then ', ' || outcomes.best_identity_reason
                    else ', the twin of another legacy record'
                end
                || '): ' || outcomes.shown_summary || '.'
            else ' No similar HubSpot record.'
        end
from outcomes
where reconciliation.{{ o.legacy_key }} = outcomes.legacy_id;

select jsonb_build_object(
    'by_status', {{ status_counts("staging." ~ o.staging_table) | indent(4) }},
    'candidates', (select count(*) from {{ work_table(o, "pairs") }}),
    'probable', (select count(*) from _assigned),
    'ties', (select count(distinct legacy_id) from _ties),
    'unlinked', (select count(*) from {{ work_table(o, "legacy_named") }})
) as summary
{%- else %}
select jsonb_build_object(
    'by_status', {{ status_counts("staging." ~ o.staging_table) | indent(4) }},
    'probable', 'no matching configured for {{ o.name }}'
) as summary
{%- endif %}
