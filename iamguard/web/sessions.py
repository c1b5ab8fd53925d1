"""What the guard remembers between requests about iamguard's own sessions.

A warm principal sends the same token again and again; `Credentials.authenticate` checks it on
every request (signature, expiry, revocation) and hands back the same `Session` object while
nothing in the store moved. What the guard derives from that object alone need not be derived
again: its principal, its token id and its request-context keys.

Only `iamguard.credentials.Session` is remembered, because its behaviour is known: it is frozen,
and `Session.context(now)` depends on `now` only through `aws:MultiFactorAuthAge`, which is whole
seconds between whole-second claims. Its keys are therefore the same for every `now` within one
whole second, and are recomputed when the second changes. Sessions of other authorities are asked
on every request, as before. Nothing here decides anything, and nothing that depends on the store
(policies, liveness) is kept: the authority is still asked for those on every request.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from iamguard.engine.context import normalize_context

if TYPE_CHECKING:
    from iamguard.credentials.session import Session

_SESSION_MODULE = "iamguard.credentials.session"

_LIMIT = 4096  # sessions remembered at most; a flood of new sessions only empties the memo


class SessionFacts:
    """The principal, token id and context keys of one iamguard Session."""

    __slots__ = ("_current", "principal", "session", "session_id")

    def __init__(self, session: Session, principal: Any, session_id: Any) -> None:
        self.session = session
        self.principal = principal
        self.session_id = session_id
        # (whole second, the keys, their normalized form, whether a value is a list): one tuple,
        # replaced at once, so a thread never sees the keys of one second with another's number.
        self._current: tuple[int, dict[str, Any], dict[str, tuple[Any, ...]], bool] | None = None

    def context_at(self, now: datetime) -> tuple[dict[str, Any], dict[str, tuple[Any, ...]]]:
        """The session's context keys at `now` (a fresh dict, as `Session.context` returns) and
        their normalized form (shared: the evaluator only reads it)."""
        second = int(now.timestamp())
        current = self._current
        if current is None or current[0] != second:
            keys = self.session.context(now)
            lists = any(type(value) is list for value in keys.values())
            current = self._current = (second, keys, normalize_context(keys), lists)
        if current[3]:  # a web identity session's multi-valued keys: each request gets its own lists
            return {key: list(value) if type(value) is list else value for key, value in current[1].items()}, current[2]
        return dict(current[1]), current[2]


class SessionMemo:
    """`SessionFacts` per Session object (by identity; each entry keeps its session alive, so an
    identity is never reused while remembered)."""

    def __init__(self) -> None:
        self._facts: dict[int, SessionFacts] = {}
        self._session_class: type | None = None

    def facts(self, session: Any, describe: Callable[[Any], tuple[Any, Any]]) -> SessionFacts | None:
        """The facts of `session`, or None when it is not an iamguard Session. `describe` gives a
        new session's (principal, token id), read once."""
        if type(session) is not self._session_class:
            # Looked up, not imported: the web layer does not load the credentials layer, and a
            # process that never loaded it has no iamguard Session to remember.
            known = getattr(sys.modules.get(_SESSION_MODULE), "Session", None)
            if known is None or type(session) is not known:
                return None
            self._session_class = known
        facts = self._facts.get(id(session))
        if facts is None or facts.session is not session:
            facts = SessionFacts(session, *describe(session))
            if len(self._facts) >= _LIMIT:
                self._facts.clear()
            self._facts[id(session)] = facts
        return facts
