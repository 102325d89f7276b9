{#- reads: _bronze_flags / creates: nothing / updates: bronze.<legacy table> -#}
-- Rejected records leave the snapshot (they are in staging.bronze_rejects); soft-deleted
-- ones stay, marked. Both by row address: the flags hold a handful of rows, the table millions.
delete from bronze.{{ object.bronze_table | identifier }}
where ctid = any(array(select flags.row_ctid from _bronze_flags as flags where flags.rejected));

update bronze.{{ object.bronze_table | identifier }} set _is_deleted = true
where ctid = any(array(select flags.row_ctid from _bronze_flags as flags where flags.is_deleted and not flags.rejected))
