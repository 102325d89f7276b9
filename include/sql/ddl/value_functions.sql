{#- reads: nothing / creates: staging.crm_number(), staging.crm_number_text(),
    staging.crm_valid_date(), staging.crm_timestamp(), staging.crm_iso_datetime(),
    staging.crm_iso_date()

    Numbers, dates and moments, read from the many ways exports write them and written as
    HubSpot takes them. NULL when a value cannot be read, never an error. -#}

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
