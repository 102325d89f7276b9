-- reads: nothing / creates: nothing / updates: staging.reports
-- One run's report page (see ddl/report_tables.sql); a re-run of the report overwrites it, and
-- its time: written again, it is the latest when it counts as latest.
insert into staging.reports (object_type, run_id, dag_id, html, counts_as_latest, written_at)
values (%(object_type)s, %(run_id)s, %(dag_id)s, %(html)s, %(counts_as_latest)s, clock_timestamp())
on conflict (object_type, run_id) do update set
    dag_id = excluded.dag_id, html = excluded.html,
    counts_as_latest = excluded.counts_as_latest, written_at = excluded.written_at
