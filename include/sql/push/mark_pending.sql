{#- reads: nothing / creates: nothing / updates: staging.push_log (verification)

    What this run wrote and did not read back (verify 'mirror', the rest of a 'sample', a read
    that failed): 'pending', verified from the mirror by a later run (push/verify_mirror.sql). -#}
update staging.push_log
set verification = 'pending'
where
    object_type = %(object_type)s
    and run_id = %(run_id)s
    and outcome = 'sent'
    and action in ('update', 'create', 'revert')
    and hubspot_id is not null
    and properties <> '{}'::jsonb
    and verification is null
