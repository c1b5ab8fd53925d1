"""Directory values in the shape of the AWS CLI's JSON: PascalCase keys, ISO 8601 dates, tags as
`{"Key": ..., "Value": ...}` and policy documents as JSON objects rather than text."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timezone
from typing import Any


def pascal(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def shape(value: Any) -> Any:
    """A JSON-ready form of a directory or credentials value (dataclasses, dates, tuples)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: dict[str, Any] = {}
        for item in dataclasses.fields(value):
            if item.name.startswith("_"):
                continue
            content = getattr(value, item.name)
            if item.name.endswith("document") and isinstance(content, str):
                content = _document(content)
            out[pascal(item.name)] = shape(content)
        return out
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, (list, tuple)):
        return [shape(item) for item in value]
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    return value


def _document(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text
