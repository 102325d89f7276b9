"""A client-side rolling-window rate limiter: stay under the API's limit instead of finding it.

HubSpot's private apps allow 100 or 190 requests per rolling 10 seconds; a 429 costs a wait
anyway, so the pusher asks this limiter before every request.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable


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
