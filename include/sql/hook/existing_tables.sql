-- reads: nothing (to_regclass: which of the named staging tables exist) / creates: nothing
-- Which of the named staging tables exist, in the order given.
select names.name
from unnest(%(tables)s::text[]) with ordinality as names (name, position)
where to_regclass('staging.' || quote_ident(names.name)) is not null
order by names.position
