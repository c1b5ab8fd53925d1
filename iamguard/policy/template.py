"""Reading pattern text into tokens: literal text, `*`, runs of `?`, and policy variables.

A pattern is tokenized once at parse time. Variables are resolved per request into literal
text, so a value such as `*` taken from a user name can never act as a wildcard.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass


class _Star:
    __slots__ = ()

    def __repr__(self) -> str:
        return "STAR"


STAR = _Star()


@dataclass(frozen=True)
class Variable:
    """`${key}` or `${key, 'default'}`. The key is stored lowercased: variable names ignore case."""

    key: str
    default: str | None = None

    def __str__(self) -> str:
        return "${" + self.key + (f", '{self.default}'" if self.default is not None else "") + "}"


Token = str | int | _Star | Variable  # str: literal text, int: that many `?`

_VARIABLE_BODY = re.compile(r"\s*([^\s,'{}$]+)\s*(?:,\s*'([^']*)'\s*)?", re.ASCII)
_SPECIAL = {"*": "*", "?": "?", "$": "$"}


_PIECES = re.compile(r"\$\{[^}]*\}?|\*+|\?+|[^$*?]+|\$", re.ASCII)
_PIECES_WITHOUT_VARIABLES = re.compile(r"\*+|\?+|[^*?]+", re.ASCII)


@functools.lru_cache(maxsize=16384)
def tokenize(text: str, *, variables: bool, wildcards: bool) -> tuple[Token, ...]:
    """Split `text` into tokens. Raises ValueError for a malformed `${...}` when variables apply.

    Memoized: the parser and the compiler both read the same texts, and policies repeat them."""
    special = ("*?" if wildcards else "") + ("$" if variables else "")
    if not any(char in text for char in special):
        return (text,) if text else ()
    tokens: list[Token] = []

    def literal(piece: str) -> None:
        if tokens and isinstance(tokens[-1], str):
            tokens[-1] += piece
        else:
            tokens.append(piece)

    for match in (_PIECES if variables else _PIECES_WITHOUT_VARIABLES).finditer(text):
        piece = match.group()
        first = piece[0]
        if variables and first == "$" and piece.startswith("${"):  # outside 2012 `${` is plain text
            if not piece.endswith("}"):
                raise ValueError(f"policy variable at offset {match.start()} is not closed with '}}'")
            body = piece[2:-1]
            if body in _SPECIAL:
                literal(_SPECIAL[body])
                continue
            parsed = _VARIABLE_BODY.fullmatch(body)
            if not parsed:
                raise ValueError(f"malformed policy variable '${{{body}}}'; write ${{key}} or ${{key, 'default'}}")
            tokens.append(Variable(parsed.group(1).lower(), parsed.group(2)))
        elif first == "*" and wildcards:
            if not (tokens and tokens[-1] is STAR):  # `**` means the same as `*`
                tokens.append(STAR)
        elif first == "?" and wildcards:
            tokens.append(len(piece))
        else:
            literal(piece)
    return tuple(tokens)


def has_variables(tokens: tuple[Token, ...]) -> bool:
    return any(isinstance(token, Variable) for token in tokens)


def has_wildcards(tokens: tuple[Token, ...]) -> bool:
    return any(token is STAR or isinstance(token, int) for token in tokens)
