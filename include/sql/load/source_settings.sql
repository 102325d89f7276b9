{#- reads: nothing / creates: nothing (the load transaction's settings) -#}
-- Every bronze row records the file, snapshot date and run it came from: the defaults of those
-- columns read these settings (ddl/bronze_table.sql), so that COPY need not send them with
-- each row. Local to the load's transaction.
select
    set_config('crm_recon.source_file', %(source_file)s, true) as source_file,
    set_config('crm_recon.snapshot_date', %(snapshot_date)s::text, true) as snapshot_date,
    set_config('crm_recon.run_id', %(run_id)s, true) as run_id
