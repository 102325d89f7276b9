{#- reads: _hubspot / creates: _links

    The id links: which HubSpot records carry each legacy id. -#}
-- Which HubSpot records carry each legacy id: how many, and the first ten (shortest id
-- first). The list is capped so that a mirror where a million records carry one id costs
-- what a million distinct ids cost: later steps read the count, never the whole list.
create temp table _links on commit drop as
select
    legacy_id,
    count(*) as link_count,
    (array_agg(hubspot_id order by length(hubspot_id), hubspot_id))[1:10] as hubspot_ids
from _hubspot
where legacy_id is not null
group by legacy_id;

analyze _links;
