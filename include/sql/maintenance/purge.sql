{#- reads: nothing / creates: nothing / updates: staging.reconciliation_log, staging.bronze_rejects,
    staging.match_parameters, staging.push_log, staging.push_held_values, staging.push_associations,
    staging.reports

    Purge bookkeeping (logs, rejects, the push ledger, held values, learned parameters, report
    pages) older than the retention setting (days, bound as %(retention_days)s).
    Each object's latest report page is kept however old: the UI serves it as `latest`.
    Unresolved 'in_flight' pushes are kept: the next push must read them back. So are the
    creations that landed (they hold the HubSpot id of each record a push created) and the
    associations made or found (they keep them from being sent again). -#}
with purged_log as (
    delete from staging.reconciliation_log
    where started_at < now() - make_interval(days => %(retention_days)s)
    returning 1
),

purged_rejects as (
    delete from staging.bronze_rejects
    where rejected_at < now() - make_interval(days => %(retention_days)s)
    returning 1
),

purged_parameters as (
    delete from staging.match_parameters
    where learned_at < now() - make_interval(days => %(retention_days)s)
    returning 1
),

purged_pushes as (
    delete from staging.push_log
    where
        updated_at < now() - make_interval(days => %(retention_days)s)
        and outcome <> 'in_flight'
        and not (action = 'create' and outcome = 'sent')
    returning 1
),

purged_held_values as (
    delete from staging.push_held_values
    where recorded_at < now() - make_interval(days => %(retention_days)s)
    returning 1
),

purged_reports as (
    delete from staging.reports
    where
        written_at < now() - make_interval(days => %(retention_days)s)
        and (object_type, run_id) not in (
            select distinct on (latest.object_type) latest.object_type, latest.run_id
            from staging.reports as latest
            where latest.counts_as_latest
            order by latest.object_type, latest.written_at desc, latest.run_id desc
        )
    returning 1
),

purged_associations as (
    delete from staging.push_associations
    where updated_at < now() - make_interval(days => %(retention_days)s) and outcome not in ('created', 'exists')
    returning 1
)

select jsonb_build_object(
    'purged_reconciliation_log', (select count(*) from purged_log),
    'purged_bronze_rejects', (select count(*) from purged_rejects),
    'purged_push_log', (select count(*) from purged_pushes),
    'purged_push_associations', (select count(*) from purged_associations),
    'purged_push_held_values', (select count(*) from purged_held_values),
    'purged_match_parameters', (select count(*) from purged_parameters),
    'purged_reports', (select count(*) from purged_reports)
) as purged
