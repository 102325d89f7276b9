{#- reads: nothing / creates: nothing

    A step's summary: rows of a staging table per reconciliation status, as a JSON object. -#}
{%- macro status_counts(table) -%}
coalesce((
    select jsonb_object_agg(reconciliation_status, rows)
    from (
        select reconciliation_status, count(*) as rows
        from {{ table }}
        group by reconciliation_status
    ) as counts
), '{}'::jsonb)
{%- endmacro -%}
