"""Compiled action and ARN patterns, including patterns with policy variables."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from iamguard.engine.context import EvaluationState, Request
from iamguard.engine.wildcard import Matcher, compile_tokens
from iamguard.policy.arn import split_arn
from iamguard.policy.template import STAR, Token, Variable, has_variables, tokenize

_MEMO_LIMIT = 512


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
            value = state.variable(token.key)
            if value is None:
                value = token.default
            if value is None:
                return None
            resolved.append(value)
        else:
            resolved.append(token)
    return resolved


class ArnPattern:
    """An ARN pattern matched segment by segment: wildcards stay inside their segment, except in
    the final resource part, where `*` spans `:` and `/`. Also used by the Arn* operators."""

    __slots__ = ("_head", "_matchers", "_memo", "_segments", "account", "match_request", "matches_everything",
                 "text")

    def __init__(self, text: str, *, variables: bool) -> None:
        self.text = text
        tokens = tokenize(text, variables=variables, wildcards=True)
        self.matches_everything = tokens == (STAR,)
        self._segments = _split_on_colons(tokens)
        self._head: str | None = None
        self._matchers: list[Matcher] | None = None
        self._memo: dict[tuple[str | None, ...], list[Matcher] | None] = {}
        self.account: str | None = None  # the literal account segment, used for indexing
        if not self.matches_everything and len(self._segments) == 6:
            head = self._segments[:5]
            if all(all(isinstance(token, str) for token in segment) for segment in head):
                self._head = ":".join("".join(segment) for segment in head) + ":"  # type: ignore[arg-type]
                self.account = "".join(head[4])  # type: ignore[arg-type]
            if not has_variables(tokens):
                self._matchers = [compile_tokens(segment) for segment in self._segments]
        self.match_request = self._request_matcher()

    def _request_matcher(self) -> Callable[[Request, EvaluationState | None], bool]:
        """The fastest test of a request's resource for this pattern's shape (hot path)."""
        if self.matches_everything:
            return lambda request, state: True
        head, matchers = self._head, self._matchers
        if head is not None and matchers is not None:
            tail = matchers[5]
            return lambda request, state: request.resource_head == head and tail(request.resource_parts[5])  # type: ignore[index]
        return lambda request, state: self.match(request.resource_parts, request.resource_head, state)

    @property
    def dynamic(self) -> bool:
        return not self.matches_everything and self._matchers is None

    def _resolved_matchers(self, state: EvaluationState) -> list[Matcher] | None:
        values: list[str | None] = []
        for segment in self._segments:
            for token in segment:
                if isinstance(token, Variable):
                    values.append(state.variable(token.key))
        key = tuple(values)  # None (no value) can never collide with a real value
        if key in self._memo:
            return self._memo[key]
        resolved = [resolve(segment, state) for segment in self._segments]
        matchers = None if any(segment is None for segment in resolved) else \
            [compile_tokens(segment) for segment in resolved]  # type: ignore[arg-type]
        if len(self._memo) >= _MEMO_LIMIT:
            self._memo.clear()
        self._memo[key] = matchers
        return matchers

    def match(self, parts: tuple[str, ...] | None, head: str, state: EvaluationState | None) -> bool:
        if self.matches_everything:
            return True
        if parts is None or len(self._segments) != 6:
            return False
        matchers = self._matchers
        if matchers is None:
            if state is None:
                return False
            matchers = self._resolved_matchers(state)
            if matchers is None:  # a variable without a value matches nothing
                return False
        if self._head is not None:
            return head == self._head and matchers[5](parts[5])
        return all(matcher(part) for matcher, part in zip(matchers, parts, strict=False))

    def match_text(self, value: str, state: EvaluationState | None) -> bool:
        parts = split_arn(value)
        head = value[: len(value) - len(parts[5])] if parts else ""
        return self.match(parts, head, state)

