-- Normalising functions shared by every object: each turns a legacy or HubSpot value into
-- the canonical form compared and pushed. NULL means "no value"; callers tell "unparsable"
-- from "empty" by testing the source with staging.crm_text.

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
-- the u sample compares a record with hundreds of others (score/parameters.sql). Names, cities
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

-- A number written '12 500,50', '12500.5', '1.250.000,5', '12,500.50' or '1.25e+06'; NULL when
-- the text is not a number, or not one numeric can hold ('1e999999', 200,000 digits): at most
-- 1,000 characters and a three-digit exponent, checked before the cast so it never errors.
-- A lone comma is a decimal comma (French exports).
create or replace function staging.crm_number(value text) returns numeric
language plpgsql immutable parallel safe
as $fn$
declare
    v text := regexp_replace(staging.crm_text(value), E'[\\s\u00a0\u202f'']', '', 'g');
begin
    return case
        when length(v) > 1000 then null
        when v ~ '^[-+]?[0-9]+(\.[0-9]+)?([eE][-+]?0*[0-9]{1,3})?$' then v::numeric
        when v ~ '^[-+]?[0-9]+,[0-9]+$' then replace(v, ',', '.')::numeric
        when v ~ '^[-+]?[0-9]{1,3}(\.[0-9]{3})+(,[0-9]+)?$' then replace(replace(v, '.', ''), ',', '.')::numeric
        when v ~ '^[-+]?[0-9]{1,3}(,[0-9]{3})+(\.[0-9]+)?$' then replace(v, ',', '')::numeric
    end;
end
$fn$;

create or replace function staging.crm_number_text(value numeric) returns text
language sql immutable parallel safe
as $fn$ select trim_scale(value)::text $fn$;

-- Plain arithmetic (no make_date): an impossible date (2019-02-30, month 13) is false, never an error.
create or replace function staging.crm_valid_date(y integer, m integer, d integer) returns boolean
language sql immutable parallel safe
as $fn$
    select y between 1 and 9999 and m between 1 and 12 and d between 1 and case
        when m = 2 and (y % 4 = 0 and y % 100 <> 0 or y % 400 = 0) then 29
        when m = 2 then 28
        when m in (4, 6, 9, 11) then 30
        else 31
    end
$fn$;

-- A moment from SQL Server / ISO text ('2019-03-14 09:30:00.000', '2019-03-14T09:30:00Z'),
-- French dates ('14/03/2019 09:30') or epoch milliseconds (HubSpot). Text without an offset
-- is read in time zone tz. NULL when unparsable, never an error: impossible dates (2019-02-30,
-- 14/13/2019), years beyond 9999 and offsets beyond ±14:59 (+25:00, +99:99) are NULL, checked
-- before any cast. Fields are cut by position once a capture-free pattern has matched:
-- capturing regular expressions cost ~100 µs a call.
create or replace function staging.crm_timestamp(value text, tz text) returns timestamptz
language plpgsql stable parallel safe
as $fn$
declare
    v text := staging.crm_text(value);
    y integer;
    m integer;
    d integer;
    hh integer := 0;
    mi integer := 0;
    ss numeric := 0;
    zoned boolean := false;
    tzh integer := 0;
    tzm integer := 0;
begin
    if v is null or length(v) > 64 then
        return null;
    elsif v ~ '^[0-9]{10,14}$' then
        return to_timestamp(v::bigint / 1000.0);
    elsif v ~ '^[0-9]{2}/[0-9]{2}/[0-9]{4}( [0-9]{2}:[0-9]{2}(:[0-9]{2})?)?$' then
        d := substr(v, 1, 2);
        m := substr(v, 4, 2);
        y := substr(v, 7, 4);
        if length(v) >= 16 then
            hh := substr(v, 12, 2);
            mi := substr(v, 15, 2);
        end if;
        if length(v) = 19 then
            ss := substr(v, 18, 2);
        end if;
    elsif v ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}([ T][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?(Z|[-+][0-9]{2}(:?[0-9]{2})?)?)?$' then
        y := substr(v, 1, 4);
        m := substr(v, 6, 2);
        d := substr(v, 9, 2);
        if length(v) > 10 then
            hh := substr(v, 12, 2);
            mi := substr(v, 15, 2);
            zoned := substr(v, 17) ~ '(Z|[-+][0-9]{2}(:?[0-9]{2})?)$';
            if not zoned and length(v) > 16 then
                ss := substr(v, 18);
            elsif zoned and substr(v, 17, 1) = ':' then
                ss := substr(v, 18, 2);
            end if;
        end if;
    else
        return null;
    end if;
    if not staging.crm_valid_date(y, m, d) or hh > 23 or mi > 59 or ss >= 60 then
        return null;
    end if;
    if zoned then
        -- The offset: Z, ±HH:MM, ±HHMM or ±HH.
        if right(v, 6) ~ '^[-+][0-9]{2}:[0-9]{2}$' then
            tzh := substr(right(v, 6), 2, 2);
            tzm := right(v, 2);
        elsif right(v, 5) ~ '^[-+][0-9]{4}$' then
            tzh := substr(right(v, 5), 2, 2);
            tzm := right(v, 2);
        elsif right(v, 1) <> 'Z' then
            tzh := right(v, 2);
        end if;
        if tzh > 14 or tzm > 59 then
            return null;
        end if;
        return v::timestamptz;
    end if;
    return make_timestamptz(y, m, d, hh, mi, ss::double precision, tz);
end
$fn$;

-- HubSpot's formats: datetimes as ISO-8601 UTC with milliseconds, dates as midnight UTC.
create or replace function staging.crm_iso_datetime(value timestamptz) returns text
language sql immutable parallel safe
as $fn$ select to_char(value at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') $fn$;

create or replace function staging.crm_iso_date(value timestamptz) returns text
language sql immutable parallel safe
as $fn$ select to_char(value at time zone 'UTC', 'YYYY-MM-DD') $fn$;

-- How a mirror column is read as text, whatever type the sync tool gave it: a SQL expression
-- for dynamic SQL (format's %s), NULL when there is no such column (no type). json and jsonb
-- values unquoted ('"5001"' and '5001' both read 5001), numbers without trailing zeros
-- (5001.0 reads 5001), anything else cast to text.
create or replace function staging.crm_mirror_text(column_name text, data_type text) returns text
language sql immutable parallel safe
as $fn$
    select case
        when data_type is null then null
        when data_type in ('json', 'jsonb') then format('(%I #>> ''{}'')', column_name)
        when data_type in ('numeric', 'real', 'double precision')
            then format('staging.crm_number_text(%I::numeric)', column_name)
        else format('%I::text', column_name)
    end
$fn$;

-- A mirror's record id as text: as crm_mirror_text, and a JSON number such as 5001.0 as 5001.
create or replace function staging.crm_mirror_id(column_name text, data_type text) returns text
language sql immutable parallel safe
as $fn$
    select case
        when data_type in ('json', 'jsonb') then format(
            'coalesce(staging.crm_legacy_id(%1$s)::text, %1$s)', staging.crm_mirror_text(column_name, data_type)
        )
        else staging.crm_mirror_text(column_name, data_type)
    end
$fn$;

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

-- A legacy id as a number: '123', '123.0', ' 123' are the same id; '' and 'abc' are none.
create or replace function staging.crm_legacy_id(value text) returns bigint
language sql immutable parallel safe
as $fn$
    select case
        when length(value) between 1 and 18 and ltrim(value, '0123456789') = '' then value::bigint  -- no regex: cheaper
        when btrim(value) ~ '^[0-9]{1,18}([.,]0*)?$' then split_part(replace(btrim(value), ',', '.'), '.', 1)::bigint
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

-- A comparison's m per level made monotone against its u (pool adjacent violators): levels go
-- from the closest to the loosest, and where a looser level weighs more (log m/u) than a closer
-- one, the two are pooled into one weight, keeping their total m. Returns the new m per level.
create or replace function staging.crm_pool_levels(m float8 [], u float8 []) returns float8 []
language plpgsql immutable parallel safe
as $fn$
declare
    block_m float8 [] := '{}';
    block_u float8 [] := '{}';
    block_start integer [] := '{}';
    blocks integer := 0;
    pooled float8 [] := m;
    block_end integer;
begin
    for level in 1..cardinality(m) loop
        blocks := blocks + 1;
        block_m[blocks] := m[level];
        block_u[blocks] := u[level];
        block_start[blocks] := level;
        while blocks > 1 and block_m[blocks] / block_u[blocks] > block_m[blocks - 1] / block_u[blocks - 1] * (1 + 1e-9) loop
            block_m[blocks - 1] := block_m[blocks - 1] + block_m[blocks];
            block_u[blocks - 1] := block_u[blocks - 1] + block_u[blocks];
            blocks := blocks - 1;
        end loop;
    end loop;
    for block in 1..blocks loop
        block_end := case when block < blocks then block_start[block + 1] - 1 else cardinality(m) end;
        if block_end > block_start[block] then
            for level in block_start[block]..block_end loop
                pooled[level] := u[level] * block_m[block] / block_u[block];
            end loop;
        end if;
    end loop;
    return pooled;
end
$fn$;

-- The columns of a mirror table and their types (NULL when the table does not exist): how each
-- column is read depends on its type (staging.crm_mirror_text).
create or replace function staging.crm_relation_types(relation_schema text, relation_name text) returns jsonb
language sql stable parallel safe
as $fn$
    select jsonb_object_agg(column_name::text, data_type::text)
    from information_schema.columns
    where table_schema = relation_schema and table_name = relation_name
$fn$;

create or replace function staging.crm_mirror_types(mirror_table text) returns jsonb
language sql stable parallel safe
as $fn$ select staging.crm_relation_types('hubspot', mirror_table) $fn$;

-- A mirror's record-id column: the configured name, else "id" (some sync tools name it so).
create or replace function staging.crm_mirror_key(mirror_types jsonb, preferred text) returns text
language sql immutable parallel safe
as $fn$
    select case when mirror_types ? preferred then preferred when mirror_types ? 'id' then 'id' end
$fn$;

-- A setting for the current transaction, or NULL when the server refuses it (temp_buffers
-- cannot change once the session has used a temporary table): a step asks for memory and
-- keeps working without it.
create or replace function staging.crm_set_local(setting text, value text) returns text
language plpgsql volatile
as $fn$
begin
    return set_config(setting, value, true);
exception when others then
    return null;
end
$fn$;

-- The HubSpot activity object a legacy row becomes (registry ``activities``, bound as JSON):
-- the first property of picked_by that has a value decides (the action; the type only when
-- the action is blank): the object listing that value (case ignored), else the default.
create or replace function staging.crm_activity_object(properties jsonb, activities jsonb) returns text
language sql immutable parallel safe
as $fn$
    select coalesce(
        (
            select picked.name
            from (
                select properties ->> source.property as value
                from jsonb_array_elements_text(activities -> 'picked_by') with ordinality as source (property, position)
                where staging.crm_text(properties ->> source.property) is not null
                order by source.position
                limit 1
            ) as deciding
            cross join jsonb_each(activities -> 'objects') as picked (name, spec)
            where (picked.spec -> 'when') ? lower(deciding.value)
            order by picked.name
            limit 1
        ),
        activities ->> 'default'
    )
$fn$;

-- An activity's properties in its object's own names, from the row's canonical values: those
-- whose sources include a key of ``changed`` (NULL: all of them, for a creation). A property
-- from several sources joins their values with a blank line; one with a value map takes the
-- mapped value, or keeps its own when the map lacks it (the push converts it to one of the
-- portal's options or holds it back: never dropped unseen).
create or replace function staging.crm_activity_properties(
    object text, properties jsonb, changed jsonb, activities jsonb
) returns jsonb
language sql immutable parallel safe
as $fn$
    select coalesce(jsonb_object_agg(target.name, target.value), '{}'::jsonb)
    from (
        select
            target.name,
            case
                when target.spec ? 'values' then coalesce(
                    (
                        select mapped.value from jsonb_each_text(target.spec -> 'values') as mapped
                        where lower(mapped.key) = lower(joined.value)
                        limit 1
                    ),
                    joined.value
                )
                else joined.value
            end as value
        from jsonb_each(activities -> 'objects' -> object -> 'properties') as target (name, spec)
        cross join lateral (
            select
                nullif(string_agg(properties ->> source.property, E'\n\n' order by source.position), '') as value,
                bool_or(changed is null or changed ? source.property) as touched
            from jsonb_array_elements_text(target.spec -> 'sources') with ordinality as source (property, position)
        ) as joined
        where joined.touched
    ) as target
    where target.value is not null
$fn$;

-- How an enumeration's options are looked up: case, accents, punctuation and spaces ignored
-- ('New Business', 'newbusiness' and 'NEW_BUSINESS' are one key). A lookup compares: it reads
-- the compared part of a value (staging.crm_compared), not all of a 10 MB paste.
create or replace function staging.crm_option_key(value text) returns text
language sql immutable parallel safe
as $fn$ select replace(staging.crm_fold(staging.crm_compared(value)), ' ', '') $fn$;

-- A value as the portal takes it for a property of type ``type`` / ``field_type``:
-- {"value": …} or {"reason": …}. ``lookup``: an enumeration's names → option value, as
-- staging.crm_option_lookup keys them (as written after '=', and folded), read the same way;
-- ``allowed``: its option values (NULL: not known here, not checked). '' (a clear) passes. A
-- type the catalogue does not give (no preflight read: the workflow target) passes as it is.
create or replace function staging.crm_portal_value(
    value text, type text, field_type text, lookup jsonb, allowed jsonb, is_email boolean
) returns jsonb
language plpgsql immutable parallel safe
as $fn$
declare
    v text := staging.crm_text(value);
    part text;
    parts text [] := '{}';
    found text;
    moment timestamptz;
begin
    if value = '' then
        return jsonb_build_object('value', '');
    elsif v is null then
        return jsonb_build_object('reason', 'only blanks');
    elsif is_email then
        v := staging.crm_email(v);
        if not staging.crm_is_email(v) then
            return jsonb_build_object('reason', 'not one e-mail address a portal accepts');
        end if;
        return jsonb_build_object('value', v);
    elsif type = 'enumeration' and allowed is not null then
        foreach part in array case when field_type = 'checkbox' then string_to_array(v, ';') else array[v] end loop
            part := staging.crm_text(part);
            continue when part is null;
            found := case when allowed ? part then part end;
            found := coalesce(found, lookup ->> ('=' || part), lookup ->> staging.crm_option_key(part));
            if found is null or not allowed ? found then
                return jsonb_build_object('reason', format('%s is not one of its options', quote_literal(part)));
            end if;
            parts := parts || found;
        end loop;
        return jsonb_build_object('value', array_to_string(parts, ';'));
    elsif type = 'number' then
        found := staging.crm_number_text(staging.crm_number(v));
        return case when found is null then jsonb_build_object('reason', 'not a number')
            else jsonb_build_object('value', found) end;
    elsif type in ('date', 'datetime') then
        moment := staging.crm_timestamp(v, 'UTC');
        return case
            when moment is null then jsonb_build_object('reason', format('not a %s', type))
            when type = 'date' then jsonb_build_object('value', staging.crm_iso_date(moment))
            else jsonb_build_object('value', staging.crm_iso_datetime(moment))
        end;
    elsif type = 'bool' then
        found := case
            when staging.crm_fold(v) in ('true', 'yes', 'oui', 'vrai', '1', 'y', 'o') then 'true'
            when staging.crm_fold(v) in ('false', 'no', 'non', 'faux', '0', 'n') then 'false'
        end;
        return case when found is null then jsonb_build_object('reason', 'not a yes/no value')
            else jsonb_build_object('value', found) end;
    elsif type in ('string', 'phone_number') then
        return jsonb_build_object('value', case when field_type in ('text', 'textarea', 'html') then value else v end);
    end if;
    return jsonb_build_object('value', case when type is null then value else v end);
end
$fn$;

-- Whether a value HubSpot (or its mirror) holds is the one a push sent, as HubSpot hands values
-- back: empty and NULL alike, booleans in any case, numbers without a trailing .0, moments in
-- any of their formats (epoch milliseconds, ISO). push_service.same_value reads a read-back alike.
create or replace function staging.crm_same_value(sent text, found text) returns boolean
language sql stable parallel safe
as $fn$
    select case
        when staging.crm_text(sent) is null or staging.crm_text(found) is null
            then staging.crm_text(sent) is not distinct from staging.crm_text(found)
        when trim(sent) = trim(found) then true
        when lower(trim(sent)) in ('true', 'false') then lower(trim(sent)) = lower(trim(found))
        when staging.crm_number(sent) is not null then staging.crm_number(sent) = staging.crm_number(found)
        else staging.crm_timestamp(sent, 'UTC') = staging.crm_timestamp(found, 'UTC')
    end is true
$fn$;
