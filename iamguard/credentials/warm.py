"""The warm path for a token seen before: one generation check and one clock read.

Authenticating a token runs several checks (shape, signature or verified-token cache, key map,
times, tenant, liveness, the session's stored state) and loading its policies resolves the
principal again. For a token already accepted, every one of those answers is a function of the
token's exact bytes, the store generation (which every write that could change an answer bumps:
revocations, deletions, key and device changes, signing keys, policies, tags) and the clock. So
the warm path keeps, per token digest, what the full path concluded together with the generation
it was computed under, and re-checks only the two things that can move: the generation (through
the same watch the full path uses, so the cross-process freshness bound is unchanged) and the
token's validity window. Anything else, including a token never seen, takes the full path.

Keyed by a SHA-256 digest so the memory holds no bearer token.
"""

from __future__ import annotations

import hashlib
from typing import Any

from iamguard.clock import Clock
from iamguard.credentials.liveness import GenerationWatch
from iamguard.credentials.session import Session
from iamguard.credentials.tokens import SessionClaims
from iamguard.engine.evaluator import PolicySet


class WarmSession:
    """What the full path concluded for one token: immutable once made."""

    __slots__ = ("generation", "session", "valid_from", "valid_until")

    def __init__(self, generation: tuple[int, ...], session: Session, valid_from: float, valid_until: float) -> None:
        self.generation = generation
        self.session = session
        self.valid_from = valid_from
        self.valid_until = valid_until


class WarmSessions:
    """Bounded, thread-safe under the GIL (single dict operations, immutable entries)."""

    def __init__(self, watch: GenerationWatch, clock: Clock, *, leeway: int, limit: int, max_token_bytes: int) -> None:
        self._watch = watch
        self._max_token_bytes = max_token_bytes
        self._clock = clock
        self._leeway = leeway
        self._limit = limit
        self._sessions: dict[bytes, WarmSession] = {}
        # The policies of a warm session without a resource policy: (generation, session, set).
        self._policy_sets: dict[str, tuple[tuple[int, ...], Session, PolicySet]] = {}

    def generation(self) -> tuple[int, ...]:
        return self._watch.current()

    def session(self, token: object) -> Session | None:
        """The session the full path would return for `token` now, or None to take the full path."""
        if type(token) is not str or len(token) > self._max_token_bytes:  # no hashing of oversized input
            return None
        entry = self._sessions.get(hashlib.sha256(token.encode()).digest())
        if entry is None:
            return None
        now = self._clock.time()
        if not entry.valid_from <= now < entry.valid_until or entry.generation != self._watch.current():
            return None
        return entry.session

    def remember(self, token: str, generation: tuple[int, ...], claims: SessionClaims, session: Session) -> None:
        """Record a token the full path accepted, with the generation read before it started, so a
        write that landed meanwhile makes the entry stale at once."""
        # The window in which the full path's time checks pass (tokens.TokenCodec._check_times):
        # not before iat and nbf (less leeway), and until exp (plus leeway).
        start = max(claims.issued_at, claims.not_before if claims.not_before is not None else claims.issued_at)
        entry = WarmSession(generation, session, float(start - self._leeway), float(claims.expires_at + self._leeway))
        self._bounded(self._sessions)[hashlib.sha256(token.encode()).digest()] = entry

    def policy_set(self, session: Session) -> PolicySet | None:
        jti = session.jti
        if jti is None:
            return None
        found = self._policy_sets.get(jti)
        if found is None or found[1] is not session or found[0] != self._watch.current():
            return None
        return found[2]

    def remember_policy_set(self, generation: tuple[int, ...], session: Session, policy_set: PolicySet) -> None:
        if session.jti is not None:
            self._bounded(self._policy_sets)[session.jti] = (generation, session, policy_set)

    def _bounded(self, table: dict[Any, Any]) -> dict[Any, Any]:
        # Emptied when full rather than evicted one by one: refilling costs one full-path pass per
        # live token, and a plain dict keeps the hit path to a single lookup.
        if len(table) >= self._limit:
            table.clear()
        return table
