-- reads: nothing / creates: nothing / updates: staging.api_limits
-- Holds every request of the app for the seconds HubSpot's 429 asked (a longer pause already
-- booked is kept).
insert into staging.api_limits as limits (app_key, paused_until)
values (%(app)s, clock_timestamp() + make_interval(secs => %(seconds)s))
on conflict (app_key) do update
set paused_until = greatest(limits.paused_until, excluded.paused_until)
returning 1
