"""Document builders for the linter tests."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tests.engine.support import statement

V2012 = "2012-10-17"
V2008 = "2008-10-17"
ACCOUNT = "123456789012"
ORDERS = f"arn:app:orders:us-east-1:{ACCOUNT}:order/*"
ORDER_42 = f"arn:app:orders:us-east-1:{ACCOUNT}:order/42"
USERS = f"arn:aws:iam::{ACCOUNT}:user/*"
ROLES = f"arn:aws:iam::{ACCOUNT}:role/*"
RUNNER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/app-runner"
_UNSET: Any = object()


def stmt(
    effect: str = "Allow",
    action: Any = "orders:GetOrder",
    resource: Any = ORDERS,
    *,
    not_action: Any = None,
    not_resource: Any = None,
    principal: Any = None,
    condition: Mapping[str, Any] | None = None,
    sid: str | None = None,
) -> dict[str, Any]:
    """The engine tests' statement builder, with defaults that suit the linter's cases."""
    return statement(effect, action, resource, not_action=not_action, not_resource=not_resource,
                     principal=principal, condition=condition, sid=sid)


def doc(*statements: dict[str, Any], version: Any = V2012) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if version is not None:
        out["Version"] = version
    out["Statement"] = list(statements)
    return out


def trust(*statements: dict[str, Any]) -> dict[str, Any]:
    return doc(*statements)


def assume(principal: Any, condition: Mapping[str, Any] | None = None,
           action: str = "sts:AssumeRole") -> dict[str, Any]:
    return stmt("Allow", action, None, principal=principal, condition=condition)
