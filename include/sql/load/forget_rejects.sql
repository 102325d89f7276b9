-- After the refused snapshot was rolled back: the rejects an earlier load of the same logical
-- date left make way for those of this load (restore_rejects.sql).
delete from staging.bronze_rejects
where object_type = %(object_type)s and snapshot_date = %(snapshot_date)s
