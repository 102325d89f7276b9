{#- reads: _eligible, _ties / creates: _assigned

    The twins: a one-to-one assignment keeps the best pairs. Nothing for an object without
    matching. -#}
{%- if params.object.matching %}
-- One-to-one assignment: rounds of mutual best choices (the best remaining pair always is
-- one), tied records and their candidates left out.
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
{%- else %}
-- No matching configured for {{ params.object.name }}: no twins to assign.
{%- endif %}
