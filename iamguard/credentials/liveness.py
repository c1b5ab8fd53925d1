"""Is a verified session still alive? Checked on every authentication (JWT-09, KEY-04, ROLE-05).

A session dies when any of these holds:
- its `jti` was revoked, or the `jti` of any session it was minted from (AssumeRole from a
  session, step-up);
- any principal in its lineage (the user and every role it descends from) had its sessions
  revoked after the session was issued (IAM's "revoke active sessions");
- any principal in its lineage no longer exists under the same unique id (deleted, or deleted and
  recreated under the same name: ROLE-04);
- the access key it was derived from was deactivated (even if activated again since) or deleted;
- the MFA device whose code it carries was deactivated or deleted;
- its second factor was a recovery code (an MFA time without a device) and the user's MFA
  configuration changed after that code was verified: a device deactivated or deleted, or the
  codes regenerated (MFA-09; `store.mfa_config_subject`).

The verdict is cached per (store generation, jti). Every write that can kill a session bumps the
generation, and the generation is re-read whenever this process committed a write or, for other
processes' writes, after at most `ttl` seconds (the directory's own cache bound), so revocation
is immediate in-process and bounded across processes. Errors are never cached.
"""

from __future__ import annotations

import functools
import itertools
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import cachetools

from iamguard.clock import Clock
from iamguard.credentials.errors import ExpiredToken, InvalidClientTokenId, InvalidToken, RevokedToken
from iamguard.credentials.records import ACTIVE
from iamguard.credentials.session import Session
from iamguard.credentials.store import CredentialStore, access_key_subject, mfa_config_subject
from iamguard.credentials.tokens import SessionClaims
from iamguard.directory.errors import NoSuchEntityError


class _Generations(Protocol):
    def generation(self) -> int: ...

    @property
    def local_commits(self) -> int: ...


@dataclass(frozen=True)
class GenerationSnapshot:
    """The generation, with how long it stays current without being read again: while this
    process commits no write (`commits` is what `GenerationWatch.local_commits` answers until
    then) and the clock stays before `until` (the directory's cache TTL after the store was last
    read), `generation` is what `GenerationWatch.current` answers."""

    commits: object
    generation: tuple[int, ...]
    checked_at: float
    until: float


class GenerationWatch:
    """The (directory, credentials) generations, re-read only when they may have moved."""

    def __init__(self, sources: tuple[_Generations, ...], clock: Clock, ttl: float) -> None:
        self._sources = sources
        self._clock = clock
        self._ttl = ttl
        # (commits seen, generations, when checked): one tuple, replaced whole, so that the hot
        # path (several reads per authenticated request) needs no lock to see a consistent state.
        self._state: tuple[object, tuple[int, ...], float] = (None, (), 0.0)
        # What changes whenever a write commits in this process, through any of the sources
        # (compared, never read as a number). One source (directory and credentials sharing a
        # database file) is the common case: read through getattr itself, with no frame of its own
        # (every request reads it).
        self.local_commits: Callable[[], object] = functools.partial(getattr, sources[0], "local_commits") \
            if len(sources) == 1 else lambda: tuple([source.local_commits for source in sources])
        # Inside a store transaction on the calling thread (a Directory.batch()) reads see uncommitted
        # state, and the generation read there is one the rollback hands back to a later, different
        # commit (or, for the memory store, the committed one). Answers derived there must not be
        # kept under it: such a call gets a number no other call ever gets.
        self._in_transaction: tuple[Callable[[], bool], ...] = tuple(
            check for check in (getattr(source, "in_write", None) for source in sources) if callable(check))
        self._unshared = itertools.count(-1, -1)

    def current(self) -> tuple[int, ...]:
        for in_transaction in self._in_transaction:
            if in_transaction():
                return (next(self._unshared),) * len(self._sources)
        commits = self.local_commits()
        now = self._clock.time()
        seen, value, checked_at = self._state
        if commits == seen and 0.0 <= now - checked_at < self._ttl:
            return value
        value = tuple(source.generation() for source in self._sources)
        self._state = (commits, value, now)
        return value

    def snapshot(self) -> GenerationSnapshot:
        """`current()`, with what keeps it current (for callers that check those instead of
        calling `current` again on every request)."""
        current = self.current()
        commits, value, checked_at = self._state
        if current != value:  # inside a transaction (or raced by a re-read): a window nothing is kept in
            now = self._clock.time()
            return GenerationSnapshot(object(), current, now, now)
        return GenerationSnapshot(commits, value, checked_at, checked_at + self._ttl)


class LivenessChecker:
    def __init__(self, *, directory: Any, store: CredentialStore, watch: GenerationWatch, tenant_id: str,
                 cache_size: int) -> None:
        self._directory = directory
        self._store = store
        self._watch = watch
        self._tenant = tenant_id
        self._cache: cachetools.LRUCache[tuple[Any, ...], bool] = cachetools.LRUCache(maxsize=cache_size)
        self._lock = threading.Lock()

    def generation(self) -> tuple[int, ...]:
        return self._watch.current()

    def check(self, claims: SessionClaims) -> None:
        """Raise RevokedToken when the session is dead; StoreError when that cannot be known."""
        key = (self._watch.current(), claims.jti, claims.lineage, claims.access_key_id, claims.mfa_device_id)
        with self._lock:
            if self._cache.get(key):
                return
        self._check_uncached(claims, key[0][0])
        with self._lock:
            self._cache[key] = True

    def check_session(self, session: Session, now: float, leeway: int) -> None:
        """Re-check a Session object that may have been held for a while."""
        if session.claims is not None:
            if now >= session.claims.expires_at + leeway:
                raise ExpiredToken("the session has expired")
            self.check(session.claims)
        elif session.access_key_id is not None:
            self.check_key(session.access_key_id, session.principal_id)
        else:
            raise InvalidToken("the session carries neither a token nor an access key")

    def check_key(self, access_key_id: str, user_id: str) -> None:
        """For a Session built from a long-term key some time ago: is the key still active and
        its user still the same user? Raises InvalidClientTokenId otherwise."""
        key = (self._watch.current(), "access-key", access_key_id, user_id)
        with self._lock:
            if self._cache.get(key):
                return
        record = self._store.get_access_key(access_key_id)
        if record is None or record.tenant_id != self._tenant or record.status != ACTIVE or record.user_id != user_id:
            raise InvalidClientTokenId("the access key is no longer active")
        try:
            self._directory.resolve_id(user_id, at_least=key[0][0])
        except NoSuchEntityError:
            raise InvalidClientTokenId("the access key's user no longer exists") from None
        with self._lock:
            self._cache[key] = True

    def _check_uncached(self, claims: SessionClaims, at_least: int) -> None:
        if self._store.token_revoked(self._tenant, claims.jti):
            raise RevokedToken("the session was revoked")
        for ancestor in claims.ancestor_jtis:
            if self._store.token_revoked(self._tenant, ancestor):
                raise RevokedToken("a session this one was created from was revoked")
        moment = self._store.sessions_not_before(self._tenant, claims.lineage)
        if moment is not None and claims.issued_at < moment:
            raise RevokedToken("the sessions of this principal were revoked after this one was issued")
        for unique_id in claims.lineage:
            try:
                self._directory.resolve_id(unique_id, at_least=at_least)
            except NoSuchEntityError:
                raise RevokedToken("a user or role this session derives from no longer exists") from None
        if claims.access_key_id is not None:
            key = self._store.get_access_key(claims.access_key_id)
            if key is None or key.tenant_id != self._tenant or key.status != ACTIVE or key.user_id != claims.lineage[0]:
                raise RevokedToken("the access key this session derives from is no longer active")
            deactivated = self._store.sessions_not_before(self._tenant, [access_key_subject(claims.access_key_id)])
            # Whole-second issue times: a session stamped with the very moment of deactivation may
            # have been minted just before it, so it ends too.
            if deactivated is not None and claims.issued_at <= deactivated:
                raise RevokedToken("the access key this session derives from was deactivated since")
        if claims.mfa_device_id is not None:
            device = self._store.get_mfa_device_by_id(claims.mfa_device_id)
            if device is None or device.tenant_id != self._tenant or not device.enabled:
                raise RevokedToken("the MFA device this session was verified with was removed")
            # A deactivated device may be enabled again; a code can only have been verified while
            # the device was enabled, so an MFA time from before its current enablement belongs to
            # a session its deactivation ended, which re-enabling must not bring back (MFA-09).
            if claims.mfa_time is None or device.enabled_at is None or claims.mfa_time < math.floor(device.enabled_at):
                raise RevokedToken("the MFA device this session was verified with was deactivated since")
        elif claims.mfa_time is not None:
            # Verified with a recovery code. The user is the root of the lineage, but every id is
            # asked: only users have MFA configurations, and asking more costs nothing.
            changed = self._store.sessions_not_before(self._tenant, [mfa_config_subject(i) for i in claims.lineage])
            if changed is not None and claims.mfa_time < changed:
                raise RevokedToken("the MFA configuration this session's recovery code belonged to has changed")
