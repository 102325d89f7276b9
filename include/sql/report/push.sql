{#- reads: staging.push_log, staging.push_quarantine, staging.push_held_values,
    staging.push_associations / creates: nothing

    What the report of one object shows of the run's push: its outcomes, what the read-back
    found, what is quarantined or held back, the associations; one JSON object. -#}
{%- from "review/held_values.sql" import held_values -%}
select jsonb_build_object(
    'push', (
        select coalesce(jsonb_object_agg(outcome, rows), '{}'::jsonb)
        from (
            select outcome, count(*) as rows from staging.push_log
            where object_type = %(object_type)s and run_id = %(run_id)s and action = 'update'
            group by outcome
        ) as outcomes
    ),
    'creations', (
        select coalesce(jsonb_object_agg(outcome, rows), '{}'::jsonb)
        from (
            select outcome, count(*) as rows from staging.push_log
            where object_type = %(object_type)s and run_id = %(run_id)s and action = 'create'
            group by outcome
        ) as outcomes
    ),
    -- What the read-back after the push found, for this run's writes (not checked: no read).
    'verification', (
        select coalesce(jsonb_object_agg(verdict, rows), '{}'::jsonb)
        from (
            select coalesce(verification, 'not checked') as verdict, count(*) as rows
            from staging.push_log
            where object_type = %(object_type)s and run_id = %(run_id)s and outcome = 'sent'
                and action in ('update', 'create', 'revert') and properties <> '{}'::jsonb
            group by 1
        ) as verdicts
    ),
    'mismatches', (
        select coalesce(jsonb_agg(row_to_json(mismatch)), '[]'::jsonb)
        from (
            select legacy_id, hubspot_id, properties as sent, verified_values as found
            from staging.push_log
            where object_type = %(object_type)s and run_id = %(run_id)s and verification = 'mismatch'
            order by push_id
            limit 20
        ) as mismatch
    ),
    -- Payloads held back: refused with the same error on two runs running, not sent again
    -- until their content or the mapping changes.
    'quarantine', (
        select jsonb_build_object(
            'total', count(*),
            'rows', coalesce(jsonb_agg(jsonb_build_object(
                'legacy_id', legacy_id, 'hubspot_id', hubspot_id, 'error', error,
                'refusals', refusals, 'since', first_run_id
            ) order by legacy_id) filter (where rank <= 20), '[]'::jsonb)
        )
        from (
            select *, row_number() over (order by legacy_id) as rank
            from staging.push_quarantine
            where object_type = %(object_type)s and mapping_version = %(mapping_version)s
        ) as held
    ),
    -- Values this run's push held back, the portal cannot take them (an enumeration value neither
    -- an option nor mapped, a malformed or shared unique e-mail…): grouped by (api_object,
    -- property, value), the most records first.
    'held_values', {{ held_values("%(run_id)s") | indent(4) }},
    -- Per association type (from → to): how many this run wanted, by what became of them.
    'associations', (
        select coalesce(jsonb_agg(jsonb_build_object(
            'link', link, 'outcome', outcome, 'rows', rows
        ) order by link, outcome), '[]'::jsonb)
        from (
            select from_object || ' → ' || to_object as link, outcome, count(*) as rows
            from staging.push_associations
            where object_type = %(object_type)s and run_id = %(run_id)s
            group by 1, 2
        ) as links
    )
) as report
