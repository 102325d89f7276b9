{#- reads: nothing / creates: nothing / updates: staging.bronze_rejects -#}
-- After the refused snapshot was rolled back: the rejects of an earlier refused load of the same
-- logical date make way for those of this one (restore_rejects.sql). The rejects of the snapshot
-- that stays are left as they are: it still adds up.
delete from staging.bronze_rejects
where object_type = %(object_type)s and snapshot_date = %(snapshot_date)s and outcome = 'refused'
