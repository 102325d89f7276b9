{#- reads: staging.bronze_rejects / creates: nothing

    Written into the message of a snapshot refused for its rejects, for the reader to run: never
    run by the loader, so it has no bound values and writes them as string literals. -#}
select line_number, field, reason, raw_text
from staging.bronze_rejects
where object_type = {{ object_type | literal }} and snapshot_date = {{ snapshot_date | literal }} and outcome = 'refused'
order by line_number
