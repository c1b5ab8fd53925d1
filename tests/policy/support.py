"""Shared helpers of the policy grammar tests."""

from __future__ import annotations

from typing import Any

V2012 = "2012-10-17"


def statement(**elements: Any) -> dict[str, Any]:
    """A Deny of orders:GetOrder on every resource, with `elements` added or replaced."""
    return {"Effect": "Deny", "Action": "orders:GetOrder", "Resource": "*", **elements}
