-- reads: staging.reports / creates: nothing
-- The page the report app serves: run %(run_id)s's, or with no run the object's latest (the one
-- written last of the pages that count as latest); and whether the object has a latest page.
with latest as (
    select run_id
    from staging.reports
    where object_type = %(object_type)s and counts_as_latest
    order by written_at desc, run_id desc
    limit 1
)
select
    (
        select html
        from staging.reports
        where object_type = %(object_type)s and run_id = coalesce(%(run_id)s::text, (select run_id from latest))
    ),
    exists (select from latest)
