"""Identifiers: IAM-style unique ids and random tenant ids, drawn from `secrets`.

A unique id is a four-letter prefix naming the kind of entity and 16 random characters from
[A-Z0-9] (about 82 bits), so ids are never reused in practice; stores also refuse an id that is
already live. Identity is the unique id: a user deleted and recreated under the same name gets a
new id and inherits nothing.
"""

from __future__ import annotations

import re
import secrets
import string

PREFIXES = {"user": "AIDA", "group": "AGPA", "role": "AROA", "policy": "ANPA"}
_ALPHABET = string.ascii_uppercase + string.digits
UNIQUE_ID = re.compile(r"(AIDA|AGPA|AROA|ANPA)[A-Z0-9]{16}")


def new_unique_id(kind: str) -> str:
    return PREFIXES[kind] + "".join(secrets.choice(_ALPHABET) for _ in range(16))


def new_tenant_id() -> str:
    """Twelve random digits, like an AWS account id."""
    return "".join(secrets.choice(string.digits) for _ in range(12))


def is_unique_id(value: object, kind: str) -> bool:
    return isinstance(value, str) and UNIQUE_ID.fullmatch(value) is not None and value.startswith(PREFIXES[kind])
