-- reads: nothing / creates: nothing / updates: staging.api_limits
-- Records what HubSpot says is left of the app's daily quota (X-HubSpot-RateLimit-Daily-Remaining).
insert into staging.api_limits as limits (app_key, daily_remaining, daily_seen_at)
values (%(app)s, %(remaining)s, clock_timestamp())
on conflict (app_key) do update
set daily_remaining = excluded.daily_remaining, daily_seen_at = excluded.daily_seen_at
returning 1
