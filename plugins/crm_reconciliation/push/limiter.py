"""A client-side rolling-window rate limiter: stay under the API's limit instead of finding it.

HubSpot's private apps allow 100 or 190 requests per rolling 10 seconds; a 429 costs a wait
anyway, so the pusher asks this limiter before every request.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

from crm_reconciliation.common.sql_templates import statement


class RollingWindowLimiter:
    """At most ``max_requests`` starts in any ``window_seconds`` interval."""

    def __init__(
        self,
        max_requests: int,
        window_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if max_requests < 1 or window_seconds <= 0:
            raise ValueError("a rate limit needs at least one request per positive window")
        self.max_requests, self.window_seconds = max_requests, window_seconds
        self._clock, self._sleep = clock, sleep
        self._starts: deque[float] = deque()
        self._paused_until = 0.0
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Block until a request may start; return the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                while self._starts and self._starts[0] <= now - self.window_seconds:
                    self._starts.popleft()
                wait = max(self._paused_until - now, 0.0)
                if not wait and len(self._starts) < self.max_requests:
                    self._starts.append(now)
                    return waited
                if not wait:
                    wait = self._starts[0] + self.window_seconds - now
            self._sleep(wait)
            waited += wait

    def pause(self, seconds: float) -> None:
        """Hold every request for ``seconds`` (the server said 429)."""
        with self._lock:
            self._paused_until = max(self._paused_until, self._clock() + seconds)

    def note_daily(self, remaining: int) -> None:
        """In one process the daily quota is HubSpot's to enforce (its DAILY 429 stops the push)."""


class SharedLimiter:
    """The same rule booked in the database (``staging.crm_book_request``): every push using one
    HubSpot app (``app_key``, a hash of its token) shares its limit, whichever task or DAG runs it.

    A 429's wait and the daily quota HubSpot reports are shared too: one task throttled holds all.
    ``connect`` opens an autocommit warehouse session (``WarehouseHook.autocommit_session``): one
    is kept, guarded by a lock, until ``close``. The statements are ``include/sql/hook/limiter_*.sql``.
    """

    def __init__(
        self,
        connect: Callable[[], object],
        app_key: str,
        max_requests: int,
        window_seconds: float,
        daily_reserve: int = 0,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if max_requests < 1 or window_seconds <= 0:
            raise ValueError("a rate limit needs at least one request per positive window")
        self.app_key, self.max_requests, self.window_seconds = app_key, max_requests, window_seconds
        self.daily_reserve, self._sleep = daily_reserve, sleep
        self._connect, self._session = connect, None
        self._lock = threading.Lock()

    def _execute(self, name: str, values: dict) -> object:
        """Run the statement file ``name`` on the kept session (opened at first use); its one row."""
        with self._lock:
            if self._session is None:
                self._session = self._connect()
            return self._session.execute(statement(name), values).fetchone()

    def acquire(self) -> float:
        """Block until a request may start; return the seconds waited. Raises ``DailyLimitReached``."""
        from crm_reconciliation.push.errors import DailyLimitReached

        waited = 0.0
        values = {
            "app": self.app_key,
            "max_requests": self.max_requests,
            "window": self.window_seconds,
            "reserve": self.daily_reserve,
        }
        while True:
            (wait,) = self._execute("hook/limiter_book.sql", values)
            if wait == 0:
                return waited
            if wait < 0:
                raise DailyLimitReached(
                    f"HubSpot's daily API quota is used up (reserve {self.daily_reserve} kept): the rest waits for "
                    "a run after midnight"
                )
            self._sleep(wait)
            waited += wait

    def pause(self, seconds: float) -> None:
        """Hold every request of this app for ``seconds`` (HubSpot said 429)."""
        self._execute("hook/limiter_pause.sql", {"app": self.app_key, "seconds": seconds})

    def note_daily(self, remaining: int) -> None:
        """Record what HubSpot says is left of the day's quota (``X-HubSpot-RateLimit-Daily-Remaining``)."""
        self._execute("hook/limiter_daily.sql", {"app": self.app_key, "remaining": remaining})

    def close(self) -> None:
        with self._lock:
            if self._session is not None:
                self._session.close()
                self._session = None
