{#- reads: nothing / creates: nothing / updates: bronze.<legacy table> (emptied, columns added) -#}
-- A new snapshot starts from an empty table whose row numbering (_source_line, from 2: the
-- header is line 1) starts again, and which has a text column for every column of the file the
-- registry does not name. Inside the COPY's savepoint, so that COPY may write frozen rows.
truncate bronze.{{ object.bronze_table | identifier }} restart identity;
{%- for column in layout.extra_columns %}

alter table bronze.{{ object.bronze_table | identifier }} add column if not exists {{ column | identifier }} text;
{%- endfor %}
