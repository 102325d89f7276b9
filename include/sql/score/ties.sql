{#- reads: _eligible / creates: _ties

    Near-ties, reported, never picked. Nothing for an object without matching. -#}
{%- if params.object.matching %}
-- Ties: a legacy record with two candidates, or a HubSpot record with two legacy records,
-- whose match weights differ by less than the tie margin (bits). Reported, never picked.
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
{%- else %}
-- No matching configured for {{ params.object.name }}: no ties.
{%- endif %}
