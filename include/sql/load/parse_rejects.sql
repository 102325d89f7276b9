{#- reads: nothing / creates: _bronze_parse_rejects -#}
-- The records Python sets aside while it reads a file (malformed, a wrong field count, a NUL)
-- and those it repaired, with their line: record_rejects.sql copies them to
-- staging.bronze_rejects, count_records.sql counts them. Empty when COPY read the file.
create temp table _bronze_parse_rejects (
    _line bigint,
    field text,
    reason text,
    raw_text text,
    outcome text
) on commit drop
