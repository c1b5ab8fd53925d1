"""Reading pattern text into tokens: literal text, `*`, runs of `?`, and policy variables.

A pattern is tokenized once at parse time. Variables are resolved per request into literal
text, so a value such as `*` taken from a user name can never act as a wildcard.
"""

from __future__ import annotations

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


def tokenize(text: str, *, variables: bool, wildcards: bool) -> tuple[Token, ...]:
    """Split `text` into tokens. Raises ValueError for a malformed `${...}` when variables apply."""
    tokens: list[Token] = []
    literal: list[str] = []
    index = 0
    length = len(text)

    def flush() -> None:
        if literal:
            tokens.append("".join(literal))
            literal.clear()

    while index < length:
        char = text[index]
        if variables and char == "$" and text.startswith("${", index):
            end = text.find("}", index + 2)
            if end < 0:
                raise ValueError(f"policy variable at offset {index} is not closed with '}}'")
            body = text[index + 2 : end]
            if body in _SPECIAL:
                literal.append(_SPECIAL[body])
            else:
                match = _VARIABLE_BODY.fullmatch(body)
                if not match:
                    raise ValueError(
                        f"malformed policy variable '${{{body}}}'; write ${{key}} or ${{key, 'default'}}"
                    )
                flush()
                tokens.append(Variable(match.group(1).lower(), match.group(2)))
            index = end + 1
            continue
        if wildcards and char == "*":
            flush()
            if not (tokens and tokens[-1] is STAR):  # `**` means the same as `*`
                tokens.append(STAR)
        elif wildcards and char == "?":
            flush()
            if tokens and isinstance(tokens[-1], int) and not isinstance(tokens[-1], bool):
                tokens[-1] = tokens[-1] + 1
            else:
                tokens.append(1)
        else:
            literal.append(char)
        index += 1
    flush()
    return tuple(tokens)


def has_variables(tokens: tuple[Token, ...]) -> bool:
    return any(isinstance(token, Variable) for token in tokens)


def has_wildcards(tokens: tuple[Token, ...]) -> bool:
    return any(token is STAR or isinstance(token, int) for token in tokens)
