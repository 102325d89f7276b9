{#- reads: nothing (what Python read, from stdin) / creates: nothing / updates: bronze.<legacy table> -#}
{%- from "load/macros.sql" import column_list -%}
-- The well-formed records Python read, as it writes them (CSV in UTF-8, each record's first
-- line first): the file's own dialect no longer matters.
copy bronze.{{ object.bronze_table | identifier }} (_source_line, {{ column_list(layout) }}) from stdin (format csv)
