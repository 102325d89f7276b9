{#- reads: nothing / creates: nothing

    Macros of the load: the columns of a reject, and of a file. -#}
{#- The columns of staging.bronze_rejects a refused snapshot saves and writes back (all but its
    id): one list, so that what is copied out is what is copied in. -#}
{%- macro reject_columns(outcome="outcome") -%}
object_type, snapshot_date, run_id, source_file, line_number, field, reason, raw_text, {{ outcome }}, rejected_at
{%- endmacro -%}

{#- A file's columns as a list of identifiers, in file order (the names come from its header). -#}
{%- macro column_list(layout) -%}
{{ layout.columns | map("identifier") | join(", ") }}
{%- endmacro -%}
