{#- reads: nothing (save_rejects.sql's copy, from stdin) / creates: nothing / updates:
    staging.bronze_rejects -#}
{%- from "load/macros.sql" import reject_columns -%}
-- The rejects of a refused snapshot, as save_rejects.sql copied them out: they outlive the
-- rollback of the snapshot itself.
copy staging.bronze_rejects ({{ reject_columns() }}) from stdin
