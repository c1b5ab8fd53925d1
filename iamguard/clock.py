"""An injectable clock. Every time-dependent part of iamguard asks a Clock, so tests move time
instead of sleeping, and no request header can ever choose "now"."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time as an aware UTC datetime."""
        ...

    def time(self) -> float:
        """The current time as epoch seconds."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    # The C function itself, no Python frame around it: read on every request, several times.
    time = staticmethod(time.time)


class FrozenClock:
    """A clock for tests: stands still until moved."""

    def __init__(self, start: datetime | float | None = None) -> None:
        if start is None:
            start = datetime(2026, 1, 1, tzinfo=timezone.utc)
        if isinstance(start, datetime):
            start = start.timestamp()
        self._now = float(start)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        return datetime.fromtimestamp(self._now, timezone.utc)

    def time(self) -> float:
        return self._now

    def advance(self, seconds: float | timedelta) -> None:
        if isinstance(seconds, timedelta):
            seconds = seconds.total_seconds()
        with self._lock:
            self._now += seconds

    def set(self, moment: datetime | float) -> None:
        with self._lock:
            self._now = moment.timestamp() if isinstance(moment, datetime) else float(moment)


SYSTEM_CLOCK = SystemClock()
