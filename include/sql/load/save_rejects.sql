{#- reads: staging.bronze_rejects / creates: nothing -#}
{%- from "load/macros.sql" import reject_columns -%}
-- A refused snapshot is rolled back, its rejects with it: they are copied out first (in this
-- transaction the date holds this load's rejects alone), marked 'refused', so that the user can
-- see why it was refused (restore_rejects.sql writes them back beside the rejects of the
-- snapshot that stays, which the rollback brings back).
copy (
    select {{ reject_columns(outcome="'refused'::text") }}
    from staging.bronze_rejects
    where object_type = %(object_type)s and snapshot_date = %(snapshot_date)s and outcome = 'rejected'
) to stdout
