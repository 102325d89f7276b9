{#- reads: bronze.<legacy table> / creates: nothing -#}
-- What COPY read, to be compared with what the export's CSV rules read from the same file:
-- records, characters and quote characters of all fields. A bare quote that COPY took for
-- the start of a quoted field changes at least one of them.
with source as (
    select concat(
        {%- for column in layout.columns | map("identifier") %}
        bronze_row.{{ column }}{{ "," if not loop.last }}
        {%- endfor %}
    ) as joined
    from bronze.{{ object.bronze_table | identifier }} as bronze_row
),

totals as (
    select
        count(*) as records,
        coalesce(sum(length(source.joined)), 0) as chars,
        coalesce(sum(length(source.joined) - length(replace(source.joined, '"', ''))), 0) as quotes
    from source
)

select jsonb_build_object('records', totals.records, 'chars', totals.chars, 'quotes', totals.quotes)
from totals
