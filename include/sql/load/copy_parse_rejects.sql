{#- reads: nothing (what Python set aside, from stdin) / creates: nothing / updates:
    _bronze_parse_rejects -#}
-- The records Python set aside or repaired while reading, as it wrote them (CSV in UTF-8).
copy _bronze_parse_rejects (_line, field, reason, raw_text, outcome) from stdin (format csv)
