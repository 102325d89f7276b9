-- The live records of the snapshot about to be replaced: a new snapshot that drops too many of
-- them is refused.
with live as (
    select count(*) as records
    from bronze.{{ object.bronze_table | identifier }} as bronze_row
    where not bronze_row._is_deleted
)

select jsonb_build_object('previous_live', live.records)
from live
