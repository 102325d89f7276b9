{#- reads: nothing / creates: staging.crm_text(), staging.crm_compared(), staging.crm_similarity(),
    staging.crm_email(), staging.crm_is_email(), staging.crm_domain(), staging.crm_phone(),
    staging.crm_fold(), staging.crm_fold_name(), staging.crm_option_key(), staging.crm_key(),
    staging.crm_block_tokens()

    Text normalising functions shared by every object: each turns a legacy or HubSpot value into
    the canonical form compared and pushed. NULL means "no value"; callers tell "unparsable"
    from "empty" by testing the source with staging.crm_text. -#}

-- Blanks, no-break and zero-width spaces and byte-order marks around a value are no part of it
-- (a portal refuses a non-text value that carries them).
create or replace function staging.crm_text(value text) returns text
language sql immutable parallel safe
as $fn$ select nullif(btrim(value, E' \t\r\n\u00a0\u2007\u202f\u200b\ufeff'), '') $fn$;

-- The part of a value a comparison reads: its first 65,536 characters, HubSpot's own limit for
-- a property value (nothing longer can be in HubSpot to compare with). Folding or comparing a
-- 10 MB paste costs seconds a call, once per pair it is in: a 10 MB name made the score take a
-- quarter of an hour, the u sample comparing it with 317 HubSpot records. Comparisons only:
-- bronze, staging, the diffs and the pushed values keep the whole value. substr, not left: it
-- reads only the slice it needs of a value stored out of line.
create or replace function staging.crm_compared(value text) returns text
language sql immutable parallel safe
as $fn$ select substr(value, 1, 65536) $fn$;

-- Trigram similarity (pg_trgm) of the first 4,096 characters of two values: similarity() builds
-- both trigram sets anew on every call (~15 ms a call at 65,536 characters, ~1 ms at 4,096), and
-- the u sample compares a record with hundreds of others (score/u_sample.sql). Names, cities
-- and subjects are far shorter; a note body is told apart by its first 4,096 characters.
create or replace function staging.crm_similarity(a text, b text) returns real
language sql immutable parallel safe
as $fn$ select similarity(substr(a, 1, 4096), substr(b, 1, 4096)) $fn$;

-- The one address of '<jean@x.fr>', 'Jean <jean@x.fr>' or 'mailto:jean@x.fr', lower case;
-- anything else as written (lower case): the push holds back what is no address.
create or replace function staging.crm_email(value text) returns text
language sql immutable parallel safe
as $fn$
    select staging.crm_text(regexp_replace(
        coalesce(substring(lower(staging.crm_text(value)) from '^[^<>]*<([^<>]+)>$'), lower(staging.crm_text(value))),
        '^mailto:', ''
    ))
$fn$;

-- One e-mail address a portal accepts: a local part, one @, a domain with a dot, no blanks.
create or replace function staging.crm_is_email(value text) returns boolean
language sql immutable parallel safe
as $fn$
    select value ~* '^[a-z0-9.!#$%&''*+/=?^_`{|}~-]+@[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$'
        and value !~ '\.\.'
$fn$;

-- Host of a web address: no scheme, no www., no path, query or port; lower case.
create or replace function staging.crm_domain(value text) returns text
language sql immutable parallel safe
as $fn$
    select nullif(
        regexp_replace(
            regexp_replace(
                regexp_replace(lower(staging.crm_text(value)), '^[a-z][a-z0-9+.-]*://', ''),
                '[/?#].*$', ''
            ),
            '^www\.|:[0-9]+$|\.$', '', 'g'
        ),
        ''
    )
$fn$;

-- A phone number as +<country><number> so that '04 76 12 34 56' and '+33476123456' compare
-- equal; a value that is not recognisably a phone number is kept as written. The digits are
-- read from the compared part only (staging.crm_compared): a longer value is no phone number,
-- and reading all of a 10 MB paste takes seconds.
create or replace function staging.crm_phone(value text, country_code text) returns text
language plpgsql immutable parallel safe
as $fn$
declare
    original text := staging.crm_text(value);
    compared text := staging.crm_compared(original);
    digits text := regexp_replace(replace(compared, '(0)', ''), '[^0-9+]', '', 'g');
begin
    return case
        when original is null then null
        when compared <> original then original
        when digits ~ '^\+[0-9]{6,15}$' then digits
        when digits ~ '^00[0-9]{6,15}$' then '+' || substr(digits, 3)
        when digits ~ '^0[0-9]{8,10}$' then '+' || country_code || substr(digits, 2)
        when digits ~ '^[1-9][0-9]{10,14}$' then '+' || digits
        else original
    end;
end
$fn$;

-- Lower case, accents and ligatures folded, punctuation to spaces, blanks collapsed.
create or replace function staging.crm_fold(value text) returns text
language sql immutable parallel safe
as $fn$
    select nullif(btrim(regexp_replace(
        translate(
            replace(replace(replace(lower(value), 'œ', 'oe'), 'æ', 'ae'), 'ß', 'ss'),
            'àáâãäåāçćčèéêëēėęìíîïīñńòóôõöøōùúûüūýÿžźż',
            'aaaaaaaccceeeeeeeiiiiinnooooooouuuuuyyzzz'
        ),
        '[^a-z0-9]+', ' ', 'g'
    )), '')
$fn$;

-- A company or person name for comparison: folded, legal forms removed, words sorted.
create or replace function staging.crm_fold_name(value text) returns text
language sql immutable parallel safe
as $fn$
    select nullif(array_to_string(array(
        select word
        from unnest(string_to_array(
            staging.crm_fold(regexp_replace(lower(value), 's\.a\.s\.u\.?|s\.a\.s\.?|s\.a\.r\.l\.?|e\.u\.r\.l\.?|s\.a\.', ' ', 'g')),
            ' '
        )) as word
        where word not in (
            'sa', 'sas', 'sasu', 'sarl', 'eurl', 'sci', 'snc', 'gmbh', 'ag', 'kg', 'ltd', 'limited', 'inc',
            'incorporated', 'corp', 'corporation', 'llc', 'plc', 'bv', 'nv', 'spa', 'srl', 'sl', 'oy', 'ab'
        )
        order by word
    ), ' '), '')
$fn$;

-- How an enumeration's options are looked up: case, accents, punctuation and spaces ignored
-- ('New Business', 'newbusiness' and 'NEW_BUSINESS' are one key). A lookup compares: it reads
-- the compared part of a value (staging.crm_compared), not all of a 10 MB paste.
create or replace function staging.crm_option_key(value text) returns text
language sql immutable parallel safe
as $fn$ select replace(staging.crm_fold(staging.crm_compared(value)), ' ', '') $fn$;

-- A value to block or index on: NULL when longer than 256 characters, so that a pasted e-mail
-- body in a HubSpot field blocks nothing instead of exceeding btree's ~2,700-byte row limit.
create or replace function staging.crm_key(value text) returns text
language sql immutable parallel safe
as $fn$ select case when length(value) <= 256 then value end $fn$;

-- The tokens a trigram blocking key is looked up by: its words and each pair of neighbouring
-- words. A pair of frequent words ("leman plasturgie") is rare enough to block on where each
-- word alone is held by too many records to find anything.
create or replace function staging.crm_block_tokens(value text) returns text []
language sql immutable parallel safe
as $fn$
    select array_cat(words, array(
        select words[position] || ' ' || words[position + 1]
        from generate_series(1, cardinality(words) - 1) as position
    ))
    from (select string_to_array(value, ' ') as words) as split
$fn$;
