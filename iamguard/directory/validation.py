"""Input validation with IAM's rules, ASCII only.

Every pattern is matched with `re.fullmatch` over explicit ASCII classes: Python's `\\w` and
`\\d` accept Unicode letters and digits (look-alike names, security spec ID-02), and `$` also
matches before a trailing newline.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from iamguard.directory.errors import InvalidInputError, LimitExceededError
from iamguard.directory.model import Tag
from iamguard.store.base import Tags

_NAME_CHARS = r"[A-Za-z0-9+=,.@_-]"
USER_NAME = re.compile(_NAME_CHARS + "{1,64}")
ROLE_NAME = re.compile(_NAME_CHARS + "{1,64}")
GROUP_NAME = re.compile(_NAME_CHARS + "{1,128}")
POLICY_NAME = re.compile(_NAME_CHARS + "{1,128}")
PATH = re.compile(r"/|/[\x21-\x7e]{1,510}/")
PATH_PREFIX = re.compile(r"/[\x21-\x7e]{0,511}")
TAG_KEY = re.compile(r"[A-Za-z0-9 _.:/=+@-]{1,128}")
TAG_VALUE = re.compile(r"[A-Za-z0-9 _.:/=+@-]{0,256}")
DESCRIPTION = re.compile(r"[\t\n\r\x20-\x7e\xa1-\xff]{0,1000}")
VERSION_ID = re.compile(r"v[1-9][0-9]{0,8}")
MAX_VERSION_NUMBER = 999_999_999  # the largest n of a VersionId vn
TENANT_ID = re.compile(r"[a-z0-9-]{1,64}")
TENANT_NAME = re.compile(r"[\x20-\x7e]{1,256}")
PARTITION = re.compile(r"[a-z][a-z0-9-]{0,31}")
MARKER = re.compile(r"[\x21-\x7e]{1,256}")

MIN_SESSION_DURATION = 3600
MAX_SESSION_DURATION = 43200
MAX_ITEMS = 1000


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def check(pattern: re.Pattern[str], value: object, parameter: str, rule: str) -> str:
    if not isinstance(value, str) or pattern.fullmatch(value) is None:
        raise InvalidInputError(f"{parameter} {_shown(value)} is invalid: {rule}")
    return value


def user_name(value: object, parameter: str = "UserName") -> str:
    return check(USER_NAME, value, parameter, "use 1-64 ASCII letters, digits or +=,.@_-")


def role_name(value: object, parameter: str = "RoleName") -> str:
    return check(ROLE_NAME, value, parameter, "use 1-64 ASCII letters, digits or +=,.@_-")


def group_name(value: object, parameter: str = "GroupName") -> str:
    return check(GROUP_NAME, value, parameter, "use 1-128 ASCII letters, digits or +=,.@_-")


def policy_name(value: object, parameter: str = "PolicyName") -> str:
    return check(POLICY_NAME, value, parameter, "use 1-128 ASCII letters, digits or +=,.@_-")


def path(value: object, parameter: str = "Path") -> str:
    return check(PATH, value, parameter, "a path is '/' or starts and ends with '/', at most 512 printable "
                                         "ASCII characters")


def path_prefix(value: object) -> str:
    return check(PATH_PREFIX, value, "PathPrefix", "a path prefix starts with '/', at most 512 printable "
                                                   "ASCII characters")


def description(value: object, parameter: str = "Description") -> str:
    return check(DESCRIPTION, value, parameter, "at most 1000 printable characters")


def version_id(value: object) -> str:
    return check(VERSION_ID, value, "VersionId", "a version id looks like v1, v2, ...")


def tenant_id(value: object) -> str:
    return check(TENANT_ID, value, "TenantId", "use 1-64 lowercase ASCII letters, digits or '-'")


def tenant_name(value: object) -> str:
    return check(TENANT_NAME, value, "TenantName", "use 1-256 printable ASCII characters")


def partition(value: object) -> str:
    return check(PARTITION, value, "Partition", "a partition is a lowercase ASCII word such as 'aws'")


def marker(value: object) -> str | None:
    if value is None:
        return None
    return check(MARKER, value, "Marker", "pass back the marker of the previous page unchanged")


def max_items(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ITEMS:
        raise InvalidInputError(f"MaxItems {_shown(value)} is invalid: use an integer from 1 to {MAX_ITEMS}")
    return value


def session_duration(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not (
            MIN_SESSION_DURATION <= value <= MAX_SESSION_DURATION):
        raise InvalidInputError(f"MaxSessionDuration {_shown(value)} is invalid: use whole seconds from "
                                f"{MIN_SESSION_DURATION} (1 hour) to {MAX_SESSION_DURATION} (12 hours)")
    return value


def _tag_pairs(tags: object) -> list[tuple[object, object]]:
    if isinstance(tags, Mapping):
        return list(tags.items())
    if isinstance(tags, (str, bytes)) or not isinstance(tags, Iterable):
        raise InvalidInputError("Tags must be a mapping of key to value or a list of tags")
    pairs: list[tuple[object, object]] = []
    for item in tags:
        if isinstance(item, Tag):
            pairs.append((item.key, item.value))
        elif isinstance(item, Mapping) and set(item) == {"Key", "Value"}:
            pairs.append((item["Key"], item["Value"]))
        elif isinstance(item, tuple) and len(item) == 2:
            pairs.append((item[0], item[1]))
        else:
            raise InvalidInputError(f"tag {_shown(item)} is invalid: use Tag(key, value), "
                                    "{'Key': ..., 'Value': ...} or a (key, value) pair")
    return pairs


def tag_key(value: object) -> str:
    key = check(TAG_KEY, value, "TagKey", "use 1-128 ASCII letters, digits, spaces or _.:/=+-@")
    if key.lower().startswith("aws:"):
        raise InvalidInputError(f"TagKey {_shown(key)} is invalid: the 'aws:' prefix is reserved")
    return key


def tags(value: object) -> Tags:
    """Tags in order, keys checked for IAM's rules and for case-insensitive uniqueness."""
    if value is None:
        return ()
    result: list[tuple[str, str]] = []
    seen: set[str] = set()
    for key, tag_value in _tag_pairs(value):
        key = tag_key(key)
        tag_value = check(TAG_VALUE, tag_value, "TagValue",
                          "use 0-256 ASCII letters, digits, spaces or _.:/=+-@")
        if key.lower() in seen:
            raise InvalidInputError(f"duplicate tag key {_shown(key)}: tag keys are unique regardless of case")
        seen.add(key.lower())
        result.append((key, tag_value))
    return tuple(result)


def merge_tags(current: Tags, added: Tags, limit: int) -> Tags:
    """IAM's TagUser: a key that exists (in any case) takes the new spelling and value in place."""
    merged = list(current)
    positions = {key.lower(): index for index, (key, _) in enumerate(merged)}
    for key, value in added:
        index = positions.get(key.lower())
        if index is None:
            positions[key.lower()] = len(merged)
            merged.append((key, value))
        else:
            merged[index] = (key, value)
    if len(merged) > limit:
        raise LimitExceededError(f"an entity can have at most {limit} tags; this would make {len(merged)}")
    return tuple(merged)


def tag_keys(value: object) -> list[str]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise InvalidInputError("TagKeys must be a list of tag keys")
    keys = list(value)
    if not keys or len(keys) > 50:
        raise InvalidInputError("TagKeys must list 1 to 50 keys")
    return [check(TAG_KEY, key, "TagKey", "use 1-128 ASCII letters, digits, spaces or _.:/=+-@") for key in keys]


def as_bool(value: Any, parameter: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidInputError(f"{parameter} must be True or False, not {_shown(value)}")
    return value
