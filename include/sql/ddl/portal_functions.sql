{#- reads: nothing / creates: staging.crm_portal_value(), staging.crm_same_value()

    A value as the portal takes it for a property of a given type, or the reason it cannot; and
    whether a value HubSpot hands back is the one a push sent. -#}

-- A value as the portal takes it for a property of type ``type`` / ``field_type``:
-- {"value": …} or {"reason": …}. ``lookup``: an enumeration's names → option value, as
-- staging.crm_option_lookup keys them (as written after '=', and folded), read the same way;
-- ``allowed``: its option values (NULL: not known here, not checked). '' (a clear) passes. A
-- type the catalogue does not give (no preflight read: the workflow target) passes as it is,
-- unless it is longer than HubSpot keeps.
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
    elsif length(value) > 65536 then
        -- HubSpot keeps at most 65,536 characters of a value: a longer one would fail its batch.
        return jsonb_build_object(
            'reason', format('%s characters, more than the 65,536 HubSpot keeps', to_char(length(value), 'FM999,999,999'))
        );
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
