{#- reads: bronze.<legacy table>, _bronze_parse_rejects, _bronze_flags / creates: nothing -#}
-- The load's counts, to prove that the records in the table plus those set aside are the
-- records in the file, and to report what was loaded, rejected, soft-deleted and repaired.
with in_table as (
    select count(*) as records
    from bronze.{{ object.bronze_table | identifier }}
),

set_aside as (
    select
        count(*) filter (where parse_rejects.outcome = 'rejected') as rejected,
        count(*) filter (where parse_rejects.outcome = 'repaired') as repaired
    from _bronze_parse_rejects as parse_rejects
),

flagged as (
    select
        count(*) filter (where flags.rejected) as rejected,
        count(*) filter (where flags.is_deleted and not flags.rejected) as deleted
    from _bronze_flags as flags
)

select jsonb_build_object(
    'in_table', in_table.records,
    'parse_rejects', set_aside.rejected,
    'repaired', set_aside.repaired,
    'flagged_rejects', flagged.rejected,
    'deleted', flagged.deleted
)
from in_table, set_aside, flagged
