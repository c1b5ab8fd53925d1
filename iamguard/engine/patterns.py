"""Compiled action and ARN patterns, including patterns with policy variables."""

from __future__ import annotations

import functools
import sys
from collections.abc import Sequence

from iamguard.engine.context import EvaluationState
from iamguard.engine.wildcard import MATCHER_CACHE_SIZE, Matcher, compile_tokens
from iamguard.policy.arn import split_arn
from iamguard.policy.template import STAR, Token, Variable, has_variables, tokenize

_MEMO_LIMIT = 512
_UNSEEN = object()  # a memo miss (None is a memoized answer: a variable without a value)


@functools.lru_cache(maxsize=MATCHER_CACHE_SIZE)
def compile_action(action: str) -> Matcher:
    """Actions ignore case: the matcher expects the request action lowercased."""
    return compile_tokens(tokenize(action, variables=False, wildcards=True), lowercase=True)


def _split_on_colons(tokens: Sequence[Token], limit: int = 5) -> list[list[Token]]:
    """Split tokens at the colons of the policy's own text (never inside a variable's value)."""
    segments: list[list[Token]] = [[]]
    for token in tokens:
        if isinstance(token, str) and len(segments) <= limit and ":" in token:
            pieces = token.split(":", limit - len(segments) + 1)
            for index, piece in enumerate(pieces):
                if index:
                    segments.append([])
                if piece:
                    segments[-1].append(piece)
        else:
            segments[-1].append(token)
    return segments


def resolve(tokens: Sequence[Token], state: EvaluationState) -> list[Token] | None:
    """Substitute variables with their values as literal text; None when one has no value."""
    resolved: list[Token] = []
    for token in tokens:
        if isinstance(token, Variable):
            value = state.variable_or_default(token.key, token.default)
            if value is None:
                return None
            resolved.append(value)
        else:
            resolved.append(token)
    return resolved


def _all_text(segments: Sequence[Sequence[Token]]) -> bool:
    for segment in segments:
        for token in segment:
            if not isinstance(token, str):
                return False
    return True


@functools.lru_cache(maxsize=MATCHER_CACHE_SIZE)
def arn_pattern(text: str, *, variables: bool) -> ArnPattern:
    """An ArnPattern shared by every statement that names the same pattern (patterns are
    immutable; the memo of a pattern with variables is a cache of pure results)."""
    return ArnPattern(text, variables=variables)


class ArnPattern:
    """An ARN pattern matched segment by segment: wildcards stay inside their segment, except in
    the final resource part, where `*` spans `:` and `/`. Also used by the Arn* operators.

    Most patterns have a literal head (`arn:app:orders:us-east-1:123456789012:`): those keep only
    that string and a matcher for the resource part, since one compiled policy set can hold tens
    of thousands of patterns and every object costs memory and garbage-collector time.
    """

    __slots__ = ("_memo", "_segments", "account", "head", "matchers", "matches_everything", "static_pair", "tail",
                 "text")

    def __init__(self, text: str, *, variables: bool) -> None:
        self.text = text
        tokens = tokenize(text, variables=variables, wildcards=True)
        self.matches_everything = tokens == (STAR,)
        self.head: str | None = None  # the literal first five segments joined, when they are literal
        self.tail: Matcher | None = None  # with `head`: the resource-part matcher of a static pattern
        self.account: str | None = None  # the literal account segment, used for indexing
        self.matchers: tuple[Matcher, ...] | None = None  # static patterns with a wildcard head
        self._segments: tuple[tuple[Token, ...], ...] | None = None  # patterns with variables only
        self._memo: dict[tuple[str | None, ...], tuple[Matcher, ...] | None] | None = None
        self.static_pair: tuple[str, Matcher] | None = None  # (head, tail), when both are set
        if self.matches_everything:
            return
        segments = _split_on_colons(tokens)
        if len(segments) != 6:
            return  # not an ARN: matches nothing (the parser reports it for policy resources)
        if _all_text(segments[:5]):
            head = ["".join(segment) for segment in segments[:5]]  # type: ignore[arg-type]
            # Interned: thousands of patterns share a few heads, compared on every decision.
            self.head = sys.intern(":".join(head) + ":")
            self.account = head[4]
        if has_variables(tokens):
            self._segments = tuple(tuple(segment) for segment in segments)
            self._memo = {}
        elif self.head is not None:
            self.tail = compile_tokens(segments[5])
            self.static_pair = (self.head, self.tail)
        else:
            self.matchers = tuple(compile_tokens(segment) for segment in segments)

    @property
    def dynamic(self) -> bool:
        return self._segments is not None

    def _resolved_matchers(self, state: EvaluationState) -> tuple[Matcher, ...] | None:
        assert self._segments is not None and self._memo is not None
        values: list[str | None] = []
        for segment in self._segments:
            for token in segment:
                if isinstance(token, Variable):
                    values.append(state.variable_or_default(token.key, token.default))
        key = tuple(values)  # None (no value) can never collide with a real value
        # One lookup, not `in` then `[]`: another thread may clear the shared memo between the two.
        found = self._memo.get(key, _UNSEEN)
        if found is not _UNSEEN:
            return found  # type: ignore[return-value]
        resolved = [resolve(segment, state) for segment in self._segments]
        matchers = None if any(segment is None for segment in resolved) else \
            tuple(compile_tokens(segment) for segment in resolved)  # type: ignore[arg-type]
        if len(self._memo) >= _MEMO_LIMIT:
            self._memo.clear()
        self._memo[key] = matchers
        return matchers

    def match(self, parts: tuple[str, ...] | None, head: str, state: EvaluationState | None) -> bool:
        if self.matches_everything:
            return True
        if parts is None:
            return False
        if self.tail is not None:
            return head == self.head and self.tail(parts[5])
        matchers = self.matchers
        if matchers is None:
            if self._segments is None or state is None:
                return False
            matchers = self._resolved_matchers(state)
            if matchers is None:  # a variable without a value matches nothing
                return False
            if self.head is not None:
                return head == self.head and matchers[5](parts[5])
        for matcher, part in zip(matchers, parts, strict=True):
            if not matcher(part):
                return False
        return True

    def match_text(self, value: str, state: EvaluationState | None) -> bool:
        parts = split_arn(value)
        head = value[: len(value) - len(parts[5])] if parts else ""
        return self.match(parts, head, state)
