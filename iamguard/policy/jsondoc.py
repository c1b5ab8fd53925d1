"""Strict JSON loading for policy documents.

Python's json module keeps the last of two duplicate keys, accepts NaN and Infinity, and
recurses without a bound. Each of those has broken authorization systems, so policy text goes
through this loader: duplicates, non-finite numbers, oversized and deeply nested documents, and
characters outside IAM's policy character set are all errors with a JSON pointer.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from iamguard.errors import Finding, PolicyError, join_pointer

DEFAULT_MAX_BYTES = 128 * 1024
DEFAULT_MAX_DEPTH = 16
DEFAULT_MAX_STATEMENTS = 500


@dataclass(frozen=True)
class Limits:
    """Bounds on a policy document. The defaults suit every document IAM itself accepts."""

    max_bytes: int = DEFAULT_MAX_BYTES
    max_depth: int = DEFAULT_MAX_DEPTH
    max_statements: int = DEFAULT_MAX_STATEMENTS


DEFAULT_LIMITS = Limits()


class _JsonObject(dict):  # type: ignore[type-arg]
    """A decoded JSON object that remembers keys it saw more than once (reported with a pointer)."""

    duplicate_keys: tuple[str, ...] = ()


def _record_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = _JsonObject()
    duplicates: list[str] = []
    for key, value in pairs:
        if key in result and key not in duplicates:
            duplicates.append(key)
        result[key] = value
    if duplicates:
        result.duplicate_keys = tuple(duplicates)
    return result


class DuplicateMemberError(ValueError):
    """A JSON object names a member twice (see `unique_members`)."""

    def __init__(self, name: str) -> None:
        super().__init__(f"the member {name!r} appears twice in one object")
        self.name = name


def unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A `json.loads` object hook for JSON that must not name a member twice (POL-08): readers
    disagree on which value wins (Python's `json` keeps the last), so the value checked could differ
    from the value another reader acts on. Policy documents instead report every duplicate with
    its pointer (`load_document`)."""
    result: dict[str, Any] = {}
    for name, value in pairs:
        if name in result:
            raise DuplicateMemberError(name)
        result[name] = value
    return result


class _NonFinite(Exception):
    pass


def _reject_constant(name: str) -> Any:
    raise _NonFinite(name)


# IAM accepts TAB, LF, CR and U+0020..U+00FF (minus DEL) in policy text; everything else (controls,
# bidi overrides, other scripts) could hide content from a reviewer.
_DISALLOWED = re.compile(r"[^\t\n\r\x20-\x7e\x80-\xff]")


def _check_text(text: str, path: tuple[Any, ...], findings: list[Finding]) -> None:
    match = _DISALLOWED.search(text)
    if match:
        findings.append(
            Finding(
                join_pointer("", *path),
                f"character U+{ord(match.group()):04X} at offset {match.start()} is not allowed in a policy; "
                "use printable Latin-1 text",
                "InvalidCharacter",
            )
        )


def _plainly_valid(value: Any, max_depth: int) -> bool:
    """True when `_measure(value, ..., check_text=False)` would find nothing, for data decoded
    from JSON text. Checks exact types and builds no paths, so the common case (a valid document)
    costs a fraction of the full walk; anything unusual answers False and gets the full walk."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if depth >= max_depth:
            return False
        kind = type(node)
        if kind is _JsonObject:
            if node.duplicate_keys:
                return False
            for key, child in node.items():
                if type(key) is not str:
                    return False
                if type(child) is not str:
                    stack.append((child, depth + 1))
        elif kind is list:
            stack.extend((child, depth + 1) for child in node)
        elif kind is str or kind is bool or kind is int or node is None:
            continue
        elif kind is float:
            if not math.isfinite(node):
                return False
        else:
            return False
    return True


def _measure(value: Any, limits: Limits, findings: list[Finding], *, check_text: bool = True) -> None:
    """Walk a decoded document iteratively: depth, value types, character set. Paths are kept as
    tuples and rendered as JSON pointers only when something is reported. `check_text=False` when
    the raw JSON text was already found free of disallowed characters and escapes."""
    stack: list[tuple[Any, tuple[Any, ...]]] = [(value, ())]
    while stack:
        node, path = stack.pop()
        if len(path) >= limits.max_depth:
            findings.append(
                Finding(join_pointer("", *path), f"document is nested deeper than {limits.max_depth} levels", "TooDeep")
            )
            return
        if isinstance(node, str):
            if check_text:
                _check_text(node, path, findings)
        elif isinstance(node, Mapping):
            for key in getattr(node, "duplicate_keys", ()):
                findings.append(
                    Finding(join_pointer("", *path, key),
                            f"key {key!r} appears twice in one object; keep exactly one", "DuplicateKey")
                )
            for key, child in node.items():
                if not isinstance(key, str):
                    findings.append(Finding(join_pointer("", *path), f"object key {key!r} is not a string",
                                            "InvalidType"))
                    continue
                child_path = (*path, key)
                if check_text:
                    _check_text(key, child_path, findings)
                if isinstance(child, str):
                    # Checked here, not by depth: a string held by an object adds no nesting, as in
                    # `_plainly_valid`, so text and a mapping of the same document agree.
                    if check_text:
                        _check_text(child, child_path, findings)
                else:
                    stack.append((child, child_path))
        elif isinstance(node, (list, tuple)):
            stack.extend((child, (*path, index)) for index, child in enumerate(node))
        elif isinstance(node, float):
            if not math.isfinite(node):
                findings.append(Finding(join_pointer("", *path), "numbers must be finite", "InvalidNumber"))
        elif isinstance(node, int) and not isinstance(node, bool) and _too_many_digits(node):
            findings.append(Finding(join_pointer("", *path), "this number has too many digits", "InvalidNumber"))
        elif node is None or isinstance(node, (bool, int)):
            pass
        else:
            findings.append(
                Finding(join_pointer("", *path), f"a {type(node).__name__} is not a JSON value", "InvalidType")
            )


def load_document(source: Any, limits: Limits = DEFAULT_LIMITS) -> Any:
    """Turn str/bytes JSON text, a path, or an already decoded mapping into checked JSON data.

    A `str` is always JSON text, never a file name: reading files is opt-in through a
    `pathlib.Path` (or any `os.PathLike`), so a policy string can never make iamguard open a file.
    """
    if isinstance(source, os.PathLike):
        try:
            with open(source, "rb") as handle:
                source = handle.read(limits.max_bytes + 1)
        except OSError as exc:
            raise PolicyError([Finding("", f"cannot read policy file: {exc.strerror}", "Unreadable")]) from None
    if isinstance(source, (bytes, bytearray, memoryview)):
        raw = bytes(source)
        if len(raw) > limits.max_bytes:
            raise PolicyError([_too_large(len(raw), limits)])
        try:
            source = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise PolicyError([Finding("", f"policy is not valid UTF-8 (byte {exc.start})", "InvalidJson")]) from None
    if isinstance(source, str):
        size = len(source.encode("utf-8", "surrogatepass"))
        if size > limits.max_bytes:
            raise PolicyError([_too_large(size, limits)])
        try:
            data = json.loads(source, object_pairs_hook=_record_duplicates, parse_constant=_reject_constant)
        except _NonFinite as bad:
            raise PolicyError([Finding("", f"{bad.args[0]} is not a valid JSON number", "InvalidNumber")]) from None
        except RecursionError:
            raise PolicyError([Finding("", "document is nested too deeply", "TooDeep")]) from None
        except json.JSONDecodeError as exc:
            raise PolicyError(
                [Finding("", f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}", "InvalidJson")]
            ) from None
        except ValueError:
            # json raises a plain ValueError for an integer longer than Python converts (4300 digits).
            raise PolicyError([Finding("", "a number in the document has too many digits", "InvalidNumber")]) from None
    elif isinstance(source, Mapping):
        data = source
        try:
            mapping_text = json.dumps(source, allow_nan=True, default=_as_json)
            size = len(mapping_text.encode("utf-8", "surrogatepass"))
        except RecursionError:
            raise PolicyError([Finding("", "document is nested too deeply", "TooDeep")]) from None
        except (TypeError, ValueError):
            # A key that is no string (json only converts a few), a cycle, or an integer too long
            # to write: the walk below names each one with its pointer.
            problems: list[Finding] = []
            _measure(source, limits, problems)
            raise PolicyError(
                problems or [Finding("", "the mapping cannot be written as JSON", "InvalidType")]
            ) from None
        if size > limits.max_bytes:
            raise PolicyError([_too_large(size, limits)])
    else:
        raise PolicyError(
            [Finding("", f"a policy must be JSON text, bytes, a path or a mapping, not {type(source).__name__}",
                     "InvalidType")]
        )
    findings: list[Finding] = []
    # Text with no disallowed character and no escape that decodes to one (\u, and \b or \f, which
    # are U+0008 and U+000C) cannot hold one: skip per-string checks.
    text_is_clean = (isinstance(source, str) and "\\u" not in source and "\\b" not in source
                     and "\\f" not in source and not _DISALLOWED.search(source))
    if not (text_is_clean and _plainly_valid(data, limits.max_depth)):
        _measure(data, limits, findings, check_text=not text_is_clean)
    if findings:
        raise PolicyError(findings)
    if isinstance(source, Mapping):
        # The caller's objects become plain JSON data, as the policy cache sees them (it keys a
        # mapping by its JSON text): tuples are arrays, str subclasses plain strings (their own
        # comparisons never reach the evaluator), other mappings dicts. So a document is read the
        # same whether or not an equal one was cached before. (Checked above: every value is a
        # JSON value, so the text is exactly the data's.)
        data = json.loads(mapping_text)
    return data


def _too_many_digits(number: int) -> bool:
    """True for an integer longer than Python writes as text (its int/str conversion limit)."""
    try:
        str(number)
    except ValueError:
        return True
    return False


def _as_json(value: Any) -> Any:
    """For `json.dumps` of a caller's mapping: another Mapping type is an object; anything else
    that is no JSON value is measured as its text (and reported by `_measure`)."""
    return dict(value) if isinstance(value, Mapping) else str(value)


def _too_large(size: int, limits: Limits) -> Finding:
    return Finding(
        "", f"document is {size} bytes; the limit is {limits.max_bytes} bytes", "TooLarge"
    )
