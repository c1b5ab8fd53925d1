"""What the linter reports: a severity, a stable code, where (a JSON pointer) and how to fix it."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from iamguard.errors import printable


class Severity(str, enum.Enum):
    """Finding severities, ordered: SUGGESTION < WARNING < SECURITY_WARNING < ERROR."""

    SUGGESTION = "SUGGESTION"
    WARNING = "WARNING"
    SECURITY_WARNING = "SECURITY_WARNING"
    ERROR = "ERROR"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    @classmethod
    def parse(cls, value: Severity | str) -> Severity:
        """Accept a Severity or its name in any case (`error`, `security_warning`, `security-warning`)."""
        if isinstance(value, Severity):
            return value
        name = str(value).strip().upper().replace("-", "_")
        try:
            return cls(name)
        except ValueError:
            names = ", ".join(member.value for member in cls)
            raise ValueError(f"unknown severity {value!r}; use one of {names}") from None

    # str's own comparisons would order severities alphabetically; compare by rank instead.
    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank < other.rank

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank <= other.rank

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank > other.rank

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank >= other.rank

    def __str__(self) -> str:
        return self.value


_RANKS = {Severity.SUGGESTION: 0, Severity.WARNING: 1, Severity.SECURITY_WARNING: 2, Severity.ERROR: 3}


@dataclass(frozen=True)
class LintFinding:
    """One finding. `pointer` is an RFC 6901 JSON pointer into the document ("" is the whole document)."""

    severity: Severity
    code: str
    pointer: str
    message: str

    def __str__(self) -> str:
        # The pointer and message quote the document (a key may hold a newline): escape control
        # characters so that a finding stays one line and a document cannot forge another.
        return printable(f"{self.severity.value} {self.code} at {self.pointer or '/'}: {self.message}")

    def to_dict(self) -> dict[str, Any]:
        return {"severity": self.severity.value, "code": self.code, "pointer": self.pointer,
                "message": self.message}


_TOP_LEVEL_ORDER = {"Version": 0, "Id": 1, "Statement": 2}


def pointer_sort_key(pointer: str) -> tuple[tuple[int, int | str], ...]:
    """Order pointers as a policy reads: Version, Id, then statements, `/Statement/2` before `/Statement/10`."""
    tokens = pointer.split("/")[1:] if pointer else []
    # ASCII digits only: str.isdigit() is also true for `¹` or `①`, which int() refuses (a document
    # may hold such a key, and its findings are sorted by pointer too).
    key = [(0, int(token)) if token.isascii() and token.isdigit() else (1, token) for token in tokens]
    if tokens:
        key[0] = (_TOP_LEVEL_ORDER.get(tokens[0], 3), tokens[0])
    return tuple(key)
