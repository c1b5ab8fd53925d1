"""Builders shared by the engine tests: statements, documents and one-call decisions.

Every request uses one tenant (account 123456789012) unless a test says otherwise, and the
context given is the whole request context: the evaluator adds no key of its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hypothesis import strategies as st

import iamguard
from iamguard import Decision, Effect, Request

ACCOUNT = "123456789012"
OTHER_ACCOUNT = "999988887777"
ALICE = f"arn:aws:iam::{ACCOUNT}:user/alice"
BOB = f"arn:aws:iam::{ACCOUNT}:user/bob"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/app"
SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/app/worker"
OTHER_SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/app/other"
OTHER_ROLE_SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/batch/worker"
STRANGER = f"arn:aws:iam::{OTHER_ACCOUNT}:user/mallory"
SERVICE = "orders.example.com"
ORDER = f"arn:app:orders:us-east-1:{ACCOUNT}:order/42"
GET = "orders:GetOrder"
V2012 = "2012-10-17"
V2008 = "2008-10-17"

ALLOW = Effect.ALLOW
EXPLICIT = Effect.EXPLICIT_DENY
IMPLICIT = Effect.IMPLICIT_DENY


def statement(
    effect: str = "Allow",
    action: str | list[str] | None = "*",
    resource: str | list[str] | None = "*",
    *,
    not_action: str | list[str] | None = None,
    not_resource: str | list[str] | None = None,
    principal: Any = None,
    not_principal: Any = None,
    condition: Mapping[str, Any] | None = None,
    sid: str | None = None,
) -> dict[str, Any]:
    """A statement dict. `not_action`/`not_resource` replace `action`/`resource` when given."""
    out: dict[str, Any] = {}
    if sid is not None:
        out["Sid"] = sid
    out["Effect"] = effect
    if principal is not None:
        out["Principal"] = principal
    if not_principal is not None:
        out["NotPrincipal"] = not_principal
    if not_action is not None:
        out["NotAction"] = not_action
    elif action is not None:
        out["Action"] = action
    if not_resource is not None:
        out["NotResource"] = not_resource
    elif resource is not None:
        out["Resource"] = resource
    if condition is not None:
        out["Condition"] = dict(condition)
    return out


def allow(action: str | list[str] | None = "*", resource: str | list[str] | None = "*", **elements: Any) -> dict:
    return statement("Allow", action, resource, **elements)


def deny(action: str | list[str] | None = "*", resource: str | list[str] | None = "*", **elements: Any) -> dict:
    return statement("Deny", action, resource, **elements)


def policy(*statements: Mapping[str, Any], version: str | None = V2012) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if version is not None:
        out["Version"] = version
    out["Statement"] = [dict(item) for item in statements]
    return out


def decide(
    identity: Sequence[Any] = (),
    *,
    resource_policy: Any = None,
    boundary: Any = None,
    session: Sequence[Any] | None = None,
    principal: str = ALICE,
    action: str = GET,
    resource: str = ORDER,
    context: Mapping[str, Any] | None = None,
) -> Decision:
    request = Request(principal, action, resource, dict(context or {}))
    return iamguard.evaluate(
        request,
        identity_policies=list(identity),
        resource_policy=resource_policy,
        permissions_boundary=boundary,
        session_policies=session,
    )


def effect_of(*statements: Mapping[str, Any], version: str | None = V2012, **request: Any) -> Effect:
    """The effect of one identity policy holding `statements`."""
    return decide([policy(*statements, version=version)], **request).effect


def condition_holds(condition: Mapping[str, Any], context: Mapping[str, Any], *, version: str | None = V2012) -> bool:
    """Whether a Condition block holds, read two ways that must agree: an Allow guarded by it
    applies, and a Deny guarded by it (next to an unconditional Allow) denies."""
    allowed = effect_of(allow(condition=condition), version=version, context=context)
    denied = effect_of(allow(), deny(condition=condition), version=version, context=context)
    assert (allowed is ALLOW) == (denied is EXPLICIT), (allowed, denied)
    return allowed is ALLOW


# In a table of context choices (key -> the values a generated request may carry): the key is left
# out of the request context.
ABSENT = None


def contexts_from(choices: Mapping[str, Sequence[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """Request contexts drawing one of `choices[key]` for every key (ABSENT: no such key)."""

    @st.composite
    def contexts(draw: st.DrawFn) -> dict[str, Any]:
        context: dict[str, Any] = {}
        for key, values in choices.items():
            value = draw(st.sampled_from(values))
            if value is not ABSENT:
                context[key] = value
        return context

    return contexts()
