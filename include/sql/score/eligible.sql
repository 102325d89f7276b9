{#- reads: staging.review_decisions, staging."_<object>_scored" / creates: _decided, _eligible

    The first file of the probable twins: for legacy records that no HubSpot record links by id,
    the blocked candidates (candidates.sql) scored by the object's one match model (score.sql)
    that may be a twin. Runs after review_check.sql (a decision that went stale is no longer
    active). Nothing for an object without matching. -#}
{%- from "score/macros.sql" import work_table -%}
{%- set o = params.object -%}
{%- if o.matching %}
-- The blocked pairs at or above the probable threshold that show identity evidence, as
-- reviewers decided: a pair judged the same record is kept whatever its score (and its two
-- records for each other), one judged different is never proposed again, a record to be
-- created has no twin.
create temp table _decided on commit drop as
select decision.legacy_id, decision.hubspot_id, decision.verdict
from staging.review_decisions as decision
where decision.object_type = %(object_type)s and decision.state = 'active';

create temp table _eligible on commit drop as
select scored.*
from {{ work_table(o, "scored") }} as scored
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
{%- else %}
-- No matching configured for {{ o.name }}: no candidate is eligible.
{%- endif %}
