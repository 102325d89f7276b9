{#- reads: nothing (the export's bytes, from stdin) / creates: nothing / updates: bronze.<legacy table> -#}
{%- from "load/macros.sql" import column_list -%}
-- COPY reads the export's bytes itself: CSV parsing and encoding conversion by PostgreSQL,
-- rows written frozen (the table was emptied in the same savepoint). force_null: an empty
-- field is null whether quoted or not. COPY takes no bound values: the file's delimiter and
-- encoding are written as string literals.
copy bronze.{{ object.bronze_table | identifier }} ({{ column_list(layout) }}) from stdin (
    format csv,
    header true,
    delimiter {{ delimiter | literal }},
    encoding {{ encoding | literal }},
    force_null ({{ column_list(layout) }}),
    freeze true
)
