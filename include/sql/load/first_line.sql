{#- reads: nothing / creates: nothing / updates: bronze.<legacy table> (its row numbering) -#}
-- COPY numbers the records it writes (_source_line) from 2, the line after a header on line 1.
-- After Excel's sep= line the header is line 2: numbering starts at the bound first_line.
select setval(
    pg_get_serial_sequence({{ ("bronze." ~ (object.bronze_table | identifier)) | literal }}, '_source_line'),
    %(first_line)s,
    false
) as first_line
