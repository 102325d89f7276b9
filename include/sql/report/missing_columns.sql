{#- reads: staging.reconciliation_log / creates: nothing

    The mapped columns this run's export lacked (load_bronze's details): their properties are
    empty on every record, which reads as a change on every twin. -#}
select jsonb_build_object('missing_columns', (
    select coalesce(details -> 'missing_columns', '[]'::jsonb)
    from staging.reconciliation_log
    where object_type = %(object_type)s and run_id = %(run_id)s and step = 'load_bronze'
))
