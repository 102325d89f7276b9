{%- from "load/macros.sql" import reject_columns -%}
-- A refused snapshot is rolled back, its rejects with it: they are copied out first, so that
-- the user can see why it was refused (restore_rejects.sql writes them back).
copy (
    select {{ reject_columns() }}
    from staging.bronze_rejects
    where object_type = %(object_type)s and snapshot_date = %(snapshot_date)s
) to stdout
