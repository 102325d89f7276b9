"""How a push stops: errors the sender, the limiter and the service share (their own module,
so that the limiter and the sender need not import each other)."""

from __future__ import annotations


class DailyLimitReached(RuntimeError):
    """HubSpot's daily API limit is used up: stop, the rest waits for a later run."""


class RequestFailed(RuntimeError):
    """A request that is safe to repeat still failed after every attempt (transport error or 5xx)."""
