"""Linear-time matching of IAM wildcard patterns (`*` any run, `?` one character).

No regular expressions and no backtracking: a pattern is split at its stars into fixed-length
segments; the first must sit at the start, the last at the end, and each middle one is placed at
its earliest occurrence. Earliest placement is always safe because every segment has a fixed
length, so the worst case is O(len(pattern) * len(value)) whatever the pattern's shape.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from iamguard.policy.template import STAR, Token

Matcher = Callable[[str], bool]
T = TypeVar("T")
Segment = tuple[str | int, ...]  # literal text pieces and runs of `?`


def _segment_length(segment: Segment) -> int:
    return sum(len(piece) if isinstance(piece, str) else piece for piece in segment)


def _matches_at(segment: Segment, value: str, position: int) -> bool:
    for piece in segment:
        if isinstance(piece, str):
            if not value.startswith(piece, position):
                return False
            position += len(piece)
        else:
            position += piece
    return position <= len(value)


def _find(segment: Segment, length: int, value: str, start: int, end: int) -> int:
    """Earliest position >= start where `segment` matches and ends at or before `end`, else -1."""
    lead = segment[0] if isinstance(segment[0], int) else 0
    anchor = next((piece for piece in segment if isinstance(piece, str)), None)
    if anchor is None:  # only `?`: any position works
        return start if start + length <= end else -1
    position = value.find(anchor, start + lead)
    while position >= 0:
        candidate = position - lead
        if candidate + length > end:
            return -1
        if _matches_at(segment, value, candidate):
            return candidate
        position = value.find(anchor, position + 1)
    return -1


class Glob:
    """A compiled wildcard pattern. Call it with a value; case folding is the caller's job."""

    __slots__ = ("_first", "_first_length", "_last", "_last_length", "_middle", "_minimum")

    def __init__(self, segments: list[Segment]) -> None:
        self._first = segments[0]
        self._first_length = _segment_length(segments[0])
        self._last = segments[-1]
        self._last_length = _segment_length(segments[-1])
        self._middle = [(segment, _segment_length(segment)) for segment in segments[1:-1]]
        self._minimum = self._first_length + self._last_length + sum(length for _, length in self._middle)

    def __call__(self, value: str) -> bool:
        if len(value) < self._minimum or not _matches_at(self._first, value, 0):
            return False
        end = len(value) - self._last_length
        if not _matches_at(self._last, value, end):
            return False
        position = self._first_length
        for segment, length in self._middle:
            found = _find(segment, length, value, position, end)
            if found < 0:
                return False
            position = found + length
        return True


def _segments(tokens: Iterable[Token | str]) -> list[Segment]:
    segments: list[Segment] = []
    current: list[str | int] = []
    for token in tokens:
        if token is STAR:
            if segments and not current:
                # Two stars with nothing between (a variable resolved to "" between `*`s) are
                # one star: an empty middle segment has nothing to find.
                continue
            segments.append(tuple(current))
            current = []
        elif isinstance(token, str):
            if token:
                if current and isinstance(current[-1], str):
                    current[-1] += token
                else:
                    current.append(token)
        elif isinstance(token, int):
            if current and isinstance(current[-1], int):
                current[-1] += token
            else:
                current.append(token)
        else:  # pragma: no cover - variables are resolved before compiling
            raise TypeError(f"unresolved token {token!r}")
    segments.append(tuple(current))
    return segments


def _always(_value: str) -> bool:
    return True


# Matchers are pure functions of their tokens, so equal patterns share one matcher: a large
# policy set repeats the same few action and resource shapes thousands of times, and a shared
# matcher costs neither memory nor compile time nor a cache miss when a decision calls it.
MATCHER_CACHE_SIZE = 16384


# Plain dicts keyed by the tuple itself, cleared when full: unlike lru_cache they add no key
# objects of their own for the garbage collector to walk (it walks every object of a large set).
_MATCHERS: tuple[dict[tuple[Token | str, ...], Matcher], dict[tuple[Token | str, ...], Matcher]] = ({}, {})
_SHARED: dict[tuple[Any, ...], tuple[Any, ...]] = {}


def compile_tokens(tokens: Iterable[Token | str], *, lowercase: bool = False) -> Matcher:
    """Build the fastest matcher for a token sequence. With `lowercase`, literals are folded and
    the caller must pass lowercased values."""
    key = tuple(tokens)
    cache = _MATCHERS[lowercase]
    matcher = cache.get(key)
    if matcher is None:
        matcher = _compile(key, lowercase)
        if len(cache) >= MATCHER_CACHE_SIZE:
            cache.clear()
        cache[key] = matcher
    return matcher


def _compile(tokens: tuple[Token | str, ...], lowercase: bool) -> Matcher:
    if len(tokens) <= 2 and all(isinstance(token, str) or token is STAR for token in tokens):
        # The shapes nearly every policy uses: "literal", "prefix*", "*", "" (fast to build).
        if lowercase:
            tokens = tuple(token.lower() if isinstance(token, str) else token for token in tokens)
        if not tokens:
            return "".__eq__
        if len(tokens) == 1:
            return _always if tokens[0] is STAR else tokens[0].__eq__
        if tokens[1] is STAR and isinstance(tokens[0], str):
            head = tokens[0]
            return lambda value: value.startswith(head)
    if lowercase:
        tokens = tuple(token.lower() if isinstance(token, str) else token for token in tokens)
    segments = _segments(tokens)
    if len(segments) == 1:
        (only,) = segments
        if all(isinstance(piece, str) for piece in only):
            return "".join(only).__eq__  # type: ignore[arg-type]
        length = _segment_length(only)
        return lambda value: len(value) == length and _matches_at(only, value, 0)
    if len(segments) == 2 and all(isinstance(p, str) for segment in segments for p in segment):
        head, tail = ("".join(segments[0]), "".join(segments[1]))  # type: ignore[arg-type]
        if not head and not tail:
            return _always
        if not tail:
            return lambda value: value.startswith(head)
        if not head:
            return lambda value: value.endswith(tail)
        minimum = len(head) + len(tail)
        return lambda value: len(value) >= minimum and value.startswith(head) and value.endswith(tail)
    return Glob(segments)


def share_tuple(items: tuple[T, ...]) -> tuple[T, ...]:
    """One tuple object for equal tuples of shared parts (matchers, patterns): fewer objects to
    compile, to keep, to collect, and for a decision to touch."""
    shared = _SHARED.get(items)
    if shared is None:
        if len(_SHARED) >= MATCHER_CACHE_SIZE:
            _SHARED.clear()
        _SHARED[items] = shared = items
    return shared


def clear_shared() -> None:
    for cache in _MATCHERS:
        cache.clear()
    _SHARED.clear()


def is_match_all(matcher: Matcher) -> bool:
    return matcher is _always
