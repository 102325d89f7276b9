{#- reads: staging.<object>_reconciliation, staging.bronze_rejects, staging.review_decisions,
    staging.reconciliation_log, staging.match_parameters / creates: nothing

    What the report of one object shows of the run's rows, rejects, labels, steps and learned
    model, as one JSON object (report/push.sql, mirror_guard.sql and missing_columns.sql add
    theirs). It reads only tables that create_staging makes, so that a run which failed before
    reconcile still gets its report. params.match_parameters false: a database whose
    create_staging predates staging.match_parameters (the page then says so instead of listing
    the learned parameters). -#}
{%- set o = params.object -%}
{%- set comparison_order = ["prior"] + (o.model.comparisons | map(attribute="name") | list) -%}
{%- from "macros/summary.sql" import status_counts -%}
select jsonb_build_object(
    'by_status', {{ status_counts("staging." ~ o.staging_table) | indent(4) }},
    'confidence_histogram', (
        select coalesce(jsonb_object_agg(bucket, rows), '{}'::jsonb)
        from (
            select least(floor(match_confidence / 10)::integer * 10, 90) as bucket, count(*) as rows
            from staging.{{ o.staging_table }}
            where reconciliation_status in ('matched', 'probable', 'conflict')
            group by 1
        ) as histogram
    ),
    -- Match weights (bits) of every scored row, in bins of 5 bits by status; rows never scored
    -- (rejected, a legacy id on several HubSpot records) have no match_weight.
    'weight_histogram', (
        select coalesce(jsonb_agg(jsonb_build_object('bin', bin, 'status', reconciliation_status, 'rows', rows)
            order by bin, reconciliation_status), '[]'::jsonb)
        from (
            select
                floor((score_components ->> 'match_weight')::numeric / 5)::integer * 5 as bin,
                reconciliation_status,
                count(*) as rows
            from staging.{{ o.staging_table }}
            where reconciliation_status in ('matched', 'probable', 'conflict', 'new')
                and jsonb_typeof(score_components -> 'match_weight') = 'number'
            group by 1, 2
        ) as bins
    ),
    'properties_to_update', (
        select count(*) from staging.{{ o.staging_table }}
        where reconciliation_status = 'matched' and properties_to_update <> '{}'::jsonb
    ),
    'conflicts', (
        select coalesce(jsonb_agg(row_to_json(top)), '[]'::jsonb)
        from (
            select {{ o.legacy_key }} as legacy_id, {{ o.hubspot_key }} as hubspot_id, match_confidence,
                candidate_hubspot_ids, notes, field_diffs, score_components
            from staging.{{ o.staging_table }}
            where reconciliation_status = 'conflict'
            order by match_confidence desc, {{ o.legacy_key }}
            limit 20
        ) as top
    ),
    'probable', (
        select coalesce(jsonb_agg(row_to_json(top)), '[]'::jsonb)
        from (
            select {{ o.legacy_key }} as legacy_id, {{ o.hubspot_key }} as hubspot_id, match_confidence, notes,
                field_diffs, score_components
            from staging.{{ o.staging_table }}
            where reconciliation_status = 'probable'
            order by match_confidence desc, {{ o.legacy_key }}
            limit 20
        ) as top
    ),
    'rejects', (
        select coalesce(jsonb_agg(row_to_json(reasons)), '[]'::jsonb)
        from (
            select
                outcome,
                regexp_replace(reason, '''.*''', '''…''') as reason,
                count(*) as rows,
                min(line_number) as first_line
            from staging.bronze_rejects
            where object_type = %(object_type)s
                and snapshot_date = (select max(snapshot_date) from staging.bronze_rejects where object_type = %(object_type)s)
            group by 1, 2
            order by 1 desc, 3 desc
        ) as reasons
    ),
    'unusable', (
        select count(*) from staging.{{ o.staging_table }} where reconciliation_status = 'rejected'
    ),
    -- The reviewers' decisions as labelled pairs ('same': a true match, 'different': not), against
    -- the model's confidence for each pair: precision and recall by threshold.
    'labels', (
        select jsonb_build_object(
            'same', count(*) filter (where verdict = 'same'),
            'different', count(*) filter (where verdict = 'different'),
            'by_threshold', (
                select coalesce(jsonb_agg(jsonb_build_object(
                    'threshold', threshold,
                    'precision', case when predicted > 0 then round(hits::numeric / predicted, 3) end,
                    'recall', case when positives > 0 then round(hits::numeric / positives, 3) end
                ) order by threshold), '[]'::jsonb)
                from (
                    select
                        threshold,
                        count(*) filter (where labelled.verdict = 'same' and labelled.model_confidence >= threshold) as hits,
                        count(*) filter (where labelled.model_confidence >= threshold) as predicted,
                        count(*) filter (where labelled.verdict = 'same') as positives
                    from generate_series(50, 100, 5) as threshold
                    cross join staging.review_decisions as labelled
                    where
                        labelled.object_type = %(object_type)s and labelled.state = 'active'
                        and labelled.verdict in ('same', 'different') and labelled.model_confidence is not null
                    group by threshold
                ) as counted
            )
        )
        from staging.review_decisions
        where object_type = %(object_type)s and state = 'active' and model_confidence is not null
    ),
    'steps', ({% include "report/steps.sql" %}),
    -- The model this run learned: the prior (level 0), then each comparison's levels, in the
    -- registry's order.
    'parameters', {% if params.get("match_parameters", true) %}(
        select coalesce(jsonb_agg(jsonb_build_object(
            'comparison', comparison,
            'level_index', level_index,
            'level', level,
            'm', m,
            'u', u,
            'weight', weight,
            'm_configured', m_configured,
            'u_configured', u_configured,
            'm_source', m_source,
            'u_source', u_source,
            'pairs', pairs
        ) order by
            array_position(array[{% for name in comparison_order %}'{{ name }}'{{ ", " if not loop.last }}{% endfor %}]::text[], comparison),
            comparison,
            level_index
        ), '[]'::jsonb)
        from staging.match_parameters
        where object_type = %(object_type)s and run_id = %(run_id)s
    ){% else %}null{% endif %},
    -- Counted by this run's reconcile (the orphans view is its own); null when it did not run.
    'orphans', (
        select (details ->> 'orphans')::bigint from staging.reconciliation_log
        where object_type = %(object_type)s and run_id = %(run_id)s and step = 'reconcile'
    )
) as report
