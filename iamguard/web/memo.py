"""Allows remembered for the rest of their second, for a client that repeats the same request.

Every input of an allow the guard decides for an iamguard session token is one of:
- the request as the adapter received it (method, target, headers, peer, scheme) and the app's
  routes, which do not change once the app serves requests;
- the guard's route map, whose version every recall compares with the one the allow was
  decided under;
- what the token's authority answers for it, which is a function of the token's bytes, its
  store's generation (every write that could change an answer moves it: revocations, policies,
  keys, devices; see `Credentials.generation`) and the clock, through whole-second token
  lifetimes and whole-second MFA ages;
- the clock, through `aws:CurrentTime`, `aws:EpochTime` and `aws:MultiFactorAuthAge`, all whole
  seconds.

So the same request, under the same generation, within the same whole second of the clock,
gets the same allow; the guard stamps such allows (`Verdict.reuse`) and a `VerdictMemo` gives
them again without deciding anew. The key is the adapter's: everything it reads from the
request, byte for byte (CACHE-04), so no two requests that could be told apart share an entry.
Each recall checks that the generation is still the one its entries were decided under exactly as
the authority's own caches do (`GenerationWatch.snapshot`): no write committed in this process
since, and the store read within the directory's cache TTL. So a revocation in this process
applies to the next request (CACHE-01) and another process's within the same bound as before
(CACHE-02).

The audit trail is the one deciding would leave:
- a sink that wants allows gets, for every recalled allow, the allow's own record with this
  request's time and id (its latency is the audit step's own: the recall is not timed);
- a record that cannot be delivered, when the guard requires audit, refuses the request as the
  full path refuses it (503 and one `audit_unavailable` record) rather than deciding it anew,
  which would leave an allow, or two records, for one request;
- an adapter that reads its key before routing (`recall_witnessed`) audits only once the routing
  is confirmed (`give`), so a request routed elsewhere, or never dispatched, leaves no allow.

Anything else takes the guard's full path: a denial, a miss, the first request of a new second,
a route map changed since, an allow remembered while no sink wanted allows (it has no record to
repeat), or any error in reading the generation.

Only allows are remembered, and each is used only within the second it was decided in: at the
first recall in a later second the whole memo is dropped, and with it every request it held. Until
then the requests of the last second with traffic (their bearer tokens and cookies included) stay
in memory, at most `limit` of them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from collections.abc import Hashable, Mapping
from typing import TYPE_CHECKING, Any

from iamguard import audit as codes
from iamguard.web import responses
from iamguard.web.guard import Verdict, new_request_id
from iamguard.web.request import IamContext

if TYPE_CHECKING:
    from iamguard.audit import AuditRecord
    from iamguard.web.guard import GenerationWatch, Guard

logger = logging.getLogger("iamguard.web")

DEFAULT_LIMIT = 1024  # requests remembered per second at most; more only empties the memo


def scope_key(scope: Mapping[str, Any]) -> tuple[Any, ...]:
    """What the guard reads from an ASGI HTTP scope (request line, query, scheme, the peer's address,
    headers), as a key: the peer's port is left out, as it changes with every connection."""
    client = scope.get("client")
    headers = scope.get("headers", ())  # as the adapters read it: a scope without headers is decided, not a crash
    return (scope.get("method"), scope.get("path"), scope.get("raw_path"), scope.get("root_path", ""),
            scope.get("query_string", b""), scope.get("scheme"), client[0] if client else None,
            headers if type(headers) is tuple else tuple(headers))


class _Remembered:
    __slots__ = ("fields", "record", "routes_version", "witness")

    def __init__(self, routes_version: int, iam: IamContext, witness: object, record: AuditRecord | None) -> None:
        self.routes_version = routes_version
        self.record = record
        self.fields = dict(iam.__dict__)  # the handler's IamContext, to copy (its path_params are read-only)
        self.witness = witness


# A window no time falls in: every recall opens a new one (after a store error, and at first).
_CLOSED: tuple[Any, ...] = (None, 0.0, 0.0, object(), (), {})


class VerdictMemo:
    """One adapter's memo over one guard. Thread-safe: the current window (its second, the span of
    it in which the store generation is known not to have moved, and the entries) is read and
    replaced as one tuple, so an entry is only ever found under the window it was decided in; an
    entry never changes once stored."""

    def __init__(self, guard: Guard, watch: GenerationWatch, *, limit: int = DEFAULT_LIMIT) -> None:
        self._guard = guard
        self._time = guard.clock.time
        self._watch = watch
        self._local_commits = watch.local_commits
        self._limit = limit
        # (second, start, until, commits, generation, entries): within [start, until), a part of
        # `second`, the store generation stays `generation` for as long as this process's writes
        # stay at `commits` (see GenerationWatch.snapshot), so an entry decided under it holds.
        self._current: tuple[Any, ...] = _CLOSED

    @classmethod
    def for_guard(cls, guard: Guard, *, limit: int = DEFAULT_LIMIT) -> VerdictMemo | None:
        """A memo for `guard`, or None when its allows cannot be reused (see `Guard.reuse_watch`)."""
        watch = guard.reuse_watch
        return cls(guard, watch, limit=limit) if watch is not None else None

    def recall(self, key: Hashable) -> IamContext | Verdict | None:
        """For a request equal to one allowed earlier in this second, what to answer (see `give`):
        the allow's IamContext (run the handler), or the full path's refusal. None: decide the
        request, and `remember` the verdict."""
        found = self._recall(key)
        if found is None:
            return None
        guard = self._guard
        if not (guard.config.audit_allows and guard.auditor.wants("Allow")):
            return found[0]  # as `give` does, without its call: this is every repeated request's path
        return self._audited(found[0], found[2])

    def recall_witnessed(self, key: Hashable) -> tuple[IamContext, object, _Remembered] | None:
        """`recall` before routing, not yet audited: the IamContext, the witness the allow was
        remembered with (the routing result to compare once the framework has routed; the
        request is decided anew when they differ) and the entry, for `give` once they agree."""
        return self._recall(key)

    def _recall(self, key: Hashable) -> tuple[IamContext, object, _Remembered] | None:
        now = self._time()
        _, start, until, commits, _, entries = self._current
        if not start <= now < until or self._local_commits() != commits:
            self._open(now)
            return None
        try:
            entry = entries.get(key)
        except TypeError:  # an unhashable part (a header given as a list): not rememberable
            return None
        if entry is None or entry.routes_version != self._guard.routes.version:
            return None
        # A copy of a frozen value with a request id of its own, without dataclasses.replace's cost.
        iam = object.__new__(IamContext)
        fields = iam.__dict__
        fields.update(entry.fields)
        fields["request_id"] = new_request_id()
        return iam, entry.witness, entry

    def _open(self, now: float) -> None:
        """A new, empty window from `now`: the rest of its second, or less when the generation
        must be read again before (the directory's cache TTL, for other processes' writes)."""
        try:
            snapshot = self._watch.snapshot()
        except Exception:  # the store cannot say: the full path meets the same error and answers it
            self._current = _CLOSED
            return
        second = int(now)
        self._current = (second, max(second, snapshot.checked_at), min(second + 1, snapshot.until),
                         snapshot.commits, snapshot.generation, {})

    def give(self, iam: IamContext, entry: _Remembered) -> IamContext | Verdict | None:
        """A recalled allow as far as audit goes:
        - `iam` itself (run the handler with it) when its record was delivered or need not be;
        - the full path's refusal (a Verdict) when it could not be and the guard requires audit;
        - None (decide anew) when a sink wants a record that the allow was remembered without.
        An allow is handed over as its IamContext alone, without a Verdict around it: this is the
        path of every repeated request."""
        guard = self._guard
        if not (guard.config.audit_allows and guard.auditor.wants("Allow")):
            return iam
        return self._audited(iam, entry)

    def _audited(self, iam: IamContext, entry: _Remembered) -> IamContext | Verdict | None:
        """`give` once a sink is known to want a record of this allow."""
        if entry.record is None:  # remembered while no sink wanted allows: decide and record anew
            return None
        guard = self._guard
        started = time.perf_counter()
        try:
            record = dataclasses.replace(entry.record, time=guard.clock.now(), request_id=iam.request_id,
                                         latency_ms=(time.perf_counter() - started) * 1000.0)
            delivered = guard.auditor.emit(record)
        except Exception as exc:  # as the guard treats a record it cannot build: not delivered
            logger.error("iamguard: cannot build the audit record (%s)", type(exc).__name__)
            delivered = False
        if delivered or not guard.config.require_audit:
            return iam
        # What Guard._finish does with an allow it could not audit: refuse it, and say so.
        refused = Verdict(False, codes.AUDIT_UNAVAILABLE, response=responses.unavailable(), decision=iam.decision)
        with contextlib.suppress(Exception):
            guard.auditor.emit(dataclasses.replace(
                entry.record, time=guard.clock.now(), request_id=iam.request_id, effect="Deny",
                reason=codes.AUDIT_UNAVAILABLE, status=refused.status,
                latency_ms=(time.perf_counter() - started) * 1000.0))
        return refused

    def remember(self, key: Hashable, verdict: Verdict, witness: object = None) -> None:
        """Keep `verdict` for requests equal to this one (same `key`) in the window it was decided
        in, with the `witness` that `recall_witnessed` hands back."""
        reuse = verdict.reuse
        if reuse is None or verdict.iam is None or not verdict.allowed:
            return
        current = self._current
        second, _, _, _, generation, entries = current
        # Decided in another second, or under another generation, than the window holds now.
        if second != reuse.second or generation != reuse.generation:
            return
        if len(entries) >= self._limit:
            entries = {}
            self._current = (*current[:5], entries)
        try:
            entries[key] = _Remembered(reuse.routes_version, verdict.iam, witness, reuse.record)
        except TypeError:  # unhashable key
            return
