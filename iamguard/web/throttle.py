"""Per-source limits on refused credentials at the token endpoints (spec KEY-03).

The per-key and per-user locks in `iamguard.credentials` bound guesses against one subject; they
cannot see credential stuffing, where each leaked pair is tried once. This module bounds refused
attempts per client address instead: at most `failures` within any `window_seconds` (a sliding
window: the times of the last `failures` refusals are kept per address), after which that address
is answered 429 with `Retry-After` until its oldest remembered refusal leaves the window.

It is deliberately small and local:

- in memory, per process (N worker processes allow N times the budget): it is a brake on one
  address's volume, not the account-level bound, which lives in the shared store;
- bounded: at most `max_sources` addresses are remembered. Addresses whose refusals have all left
  the window go first; after that the one refused least recently is forgotten, so an attacker
  rotating addresses cannot grow memory, only churn the table (and an attacker with that many
  addresses already has that many budgets);
- IPv6 clients are counted per `/ipv6_prefix` network (64 by default): one subscriber or host
  is routinely given a whole /64, so counting single IPv6 addresses would give it 2**64 budgets;
- a request whose address is unknown (a unix-socket peer, a test client without an address)
  shares one budget with every other such request, rather than escaping the limit.

Only refusals are recorded; a success neither records nor clears anything, so one address's
success never resets another's count. The check reads before the attempt and the refusal is
recorded after it, so requests already in flight from one address when its limit is reached are
still answered: the bound per window is `failures` plus that address's concurrency.
"""

from __future__ import annotations

import ipaddress
import math
import threading
from collections import OrderedDict, deque
from dataclasses import dataclass

from iamguard.clock import Clock
from iamguard.web.network import parse_address

UNKNOWN_SOURCE = "unknown"


@dataclass(frozen=True)
class SourceLimit:
    """At most `failures` refused attempts per client address within any `window_seconds`."""

    failures: int = 20
    window_seconds: int = 600
    max_sources: int = 10_000
    ipv6_prefix: int = 64

    def __post_init__(self) -> None:
        for name in ("failures", "window_seconds", "max_sources", "ipv6_prefix"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"SourceLimit.{name} must be a positive integer, not {value!r}")
        if self.ipv6_prefix > 128:
            raise ValueError(f"SourceLimit.ipv6_prefix must be at most 128, not {self.ipv6_prefix}")


DEFAULT_SOURCE_LIMIT = SourceLimit()  # 20 refusals in any 10 minutes per address (IPv6: per /64)


class SourceLimiter:
    """The refusal log of `SourceLimit`, safe to share between threads."""

    def __init__(self, limit: SourceLimit, clock: Clock) -> None:
        self.limit = limit
        self._clock = clock
        self._lock = threading.Lock()
        # Address key -> times of its most recent refusals (oldest first), ordered by last refusal.
        self._refusals: OrderedDict[str, deque[float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._refusals)

    def key(self, address: str | None) -> str:
        """The budget `address` (the client address as the guard computes it) counts against."""
        # The guard's own reading of an address: strict, memoized, IPv4-mapped IPv6 as IPv4.
        parsed = parse_address(address) if address is not None else None
        if parsed is None:
            return UNKNOWN_SOURCE
        if parsed.version == 6 and self.limit.ipv6_prefix < 128:
            return str(ipaddress.IPv6Network((parsed, self.limit.ipv6_prefix), strict=False))
        return str(parsed)

    def retry_after(self, key: str) -> int | None:
        """Seconds until `key` may try again, or None when it is under its limit now."""
        now = self._clock.time()
        with self._lock:
            times = self._refusals.get(key)
            if times is None or len(times) < self.limit.failures:
                return None
            wait = times[0] + self.limit.window_seconds - now
        return max(1, math.ceil(wait)) if wait > 0 else None

    def record_refusal(self, key: str) -> None:
        now = self._clock.time()
        window = self.limit.window_seconds
        with self._lock:
            refusals = self._refusals
            times = refusals.pop(key, None)
            while refusals:  # forget addresses whose refusals have all left the window (oldest first)
                oldest_key = next(iter(refusals))
                if refusals[oldest_key][-1] + window > now:
                    break
                del refusals[oldest_key]
            if times is None:
                if len(refusals) >= self.limit.max_sources:
                    refusals.popitem(last=False)
                times = deque(maxlen=self.limit.failures)
            times.append(now)
            refusals[key] = times  # re-inserted last: the table stays ordered by last refusal

    def clear(self) -> None:
        with self._lock:
            self._refusals.clear()
