{#- reads: nothing / creates: staging.api_requests (unlogged), staging.api_limits,
    staging.crm_book_request()

    The rate limit belongs to the HubSpot app, not to a task: every push holding the same token
    (app_key, a hash of it) books its requests here, on the database's clock. paused_until holds a
    429's Retry-After for all of them; daily_remaining the last daily quota HubSpot reported. -#}

create unlogged table if not exists staging.api_requests (
    app_key text not null,
    started_at timestamptz not null
);

create index if not exists api_requests_app_idx on staging.api_requests (app_key, started_at);

create table if not exists staging.api_limits (
    app_key text primary key,
    paused_until timestamptz,
    daily_remaining bigint,
    daily_seen_at timestamptz
);

-- The HubSpot app's rolling limit, booked in the database so that every push task (any DAG, any
-- worker) holding the same token shares it, on one clock. Returns 0 when the request is booked,
-- the seconds to wait before asking again, or -1 when the day's quota (less the reserve) is used.
create or replace function staging.crm_book_request(
    app text, max_requests integer, window_seconds double precision, daily_reserve bigint
) returns double precision
language plpgsql
as $fn$
declare
    moment timestamptz;
    limits staging.api_limits;
    booked integer;
    oldest timestamptz;
begin
    perform pg_advisory_xact_lock(hashtextextended('crm_rate_limit ' || app, 0));
    -- The clock is read once the lock is held: read before, a booking that waited for the lock
    -- would be counted in the window before the one it is made in (issue 28).
    moment := clock_timestamp();
    select * into limits from staging.api_limits where app_key = app;
    -- HubSpot's daily quota resets at midnight (the portal's time zone; UTC here, the safe side).
    if limits.daily_remaining is not null and limits.daily_remaining <= daily_reserve
        and date_trunc('day', limits.daily_seen_at at time zone 'UTC') = date_trunc('day', moment at time zone 'UTC') then
        return -1;
    end if;
    if limits.paused_until > moment then
        return extract(epoch from limits.paused_until - moment);
    end if;
    delete from staging.api_requests
    where app_key = app and started_at <= moment - make_interval(secs => window_seconds);
    select count(*), min(started_at) into booked, oldest from staging.api_requests where app_key = app;
    if booked < max_requests then
        insert into staging.api_requests (app_key, started_at) values (app, moment);
        if limits.daily_remaining is not null then
            update staging.api_limits set daily_remaining = daily_remaining - 1 where app_key = app;
        end if;
        return 0;
    end if;
    return greatest(extract(epoch from oldest + make_interval(secs => window_seconds) - moment), 0.001);
end
$fn$;
