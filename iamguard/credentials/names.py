"""Validation of caller-chosen strings, following IAM's character sets with ASCII-only patterns.

Python's `\\w` and `\\d` match non-ASCII letters and digits, so every pattern here spells its
character class out and is applied with `re.fullmatch` (never `$`, which accepts a trailing
newline). Errors say which parameter is wrong and what is allowed, without echoing secrets.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from iamguard.credentials.errors import ValidationError

_IAM_NAME = re.compile(r"[A-Za-z0-9_+=,.@-]+", re.ASCII)
_EXTERNAL_ID = re.compile(r"[A-Za-z0-9_+=,.@:/-]+", re.ASCII)
_TAG_TEXT = re.compile(r"[A-Za-z0-9 _.:/=+@-]*", re.ASCII)
_DEVICE_NAME = re.compile(r"[A-Za-z0-9_+=,.@-]+", re.ASCII)
ACCESS_KEY_ID = re.compile(r"AKIA[A-Z0-9]{16}", re.ASCII)
MAX_SESSION_TAGS = 50


def _check(value: object, pattern: re.Pattern[str], parameter: str, low: int, high: int, allowed: str) -> str:
    if not isinstance(value, str):
        raise ValidationError(f"{parameter} must be a string")
    if not low <= len(value) <= high:
        raise ValidationError(f"{parameter} must be {low} to {high} characters long")
    if not pattern.fullmatch(value):
        raise ValidationError(f"{parameter} may contain only {allowed}")
    return value


def role_session_name(value: object) -> str:
    return _check(value, _IAM_NAME, "RoleSessionName", 2, 64, "ASCII letters, digits and _+=,.@-")


def source_identity(value: object) -> str:
    checked = _check(value, _IAM_NAME, "SourceIdentity", 2, 64, "ASCII letters, digits and _+=,.@-")
    if checked.lower().startswith("aws:"):
        raise ValidationError("SourceIdentity must not start with 'aws:'")
    return checked


def external_id(value: object) -> str:
    return _check(value, _EXTERNAL_ID, "ExternalId", 2, 1224, "ASCII letters, digits and _+=,.@:/-")


def device_name(value: object) -> str:
    return _check(value, _DEVICE_NAME, "VirtualMFADeviceName", 1, 226, "ASCII letters, digits and _+=,.@-")


def duration(value: object, parameter: str = "DurationSeconds") -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"{parameter} must be a whole number of seconds")
    return value


def session_tags(tags: Mapping[str, str] | Iterable[Any] | None) -> tuple[tuple[str, str], ...]:
    """Tags as (key, value) pairs: a mapping, or items with Key/Value (IAM's shape) or key/value."""
    if tags is None:
        return ()
    if isinstance(tags, Mapping):
        pairs = list(tags.items())
    else:
        pairs = []
        for item in tags:
            if isinstance(item, Mapping):
                pairs.append((item.get("Key", item.get("key")), item.get("Value", item.get("value"))))
            elif isinstance(item, tuple) and len(item) == 2:
                pairs.append(item)
            elif hasattr(item, "key") and hasattr(item, "value"):
                pairs.append((item.key, item.value))
            else:
                raise ValidationError("each tag must be a mapping with Key and Value")
    if len(pairs) > MAX_SESSION_TAGS:
        raise ValidationError(f"a session can have at most {MAX_SESSION_TAGS} tags")
    seen: set[str] = set()
    checked: list[tuple[str, str]] = []
    for key, value in pairs:
        key = _check(key, _TAG_TEXT, "Tag key", 1, 128, "ASCII letters, digits, spaces and _.:/=+-@")
        value = _check(value, _TAG_TEXT, f"Tag value of {key}", 0, 256, "ASCII letters, digits, spaces and _.:/=+-@")
        if key.lower().startswith("aws:"):
            raise ValidationError(f"tag key {key!r} must not start with 'aws:'")
        if key.lower() in seen:  # tag keys are case-insensitive in IAM
            raise ValidationError(f"tag key {key!r} is given twice (keys are case-insensitive)")
        seen.add(key.lower())
        checked.append((key, value))
    return tuple(checked)
