"""A small in-memory session authority for testing the web layer without the credentials store.

Tokens are plain names ("reader", "admin", "mfa-fresh", ...) mapped to sessions; anything else is
refused with an IamGuardError, like a bad token. Seams can be broken on purpose to test that the
guard fails closed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from iamguard import PolicySet, parse_policy
from iamguard.errors import IamGuardError

TENANT = "123456789012"
ORDER_ARN = f"arn:app:orders::{TENANT}:order"
ALICE = f"arn:aws:iam::{TENANT}:user/alice"
BOB = f"arn:aws:iam::{TENANT}:user/bob"

READER = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["orders:GetOrder", "orders:ListOrders"], "Resource": f"{ORDER_ARN}/*"}]}
WRITER = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["orders:*"], "Resource": f"{ORDER_ARN}/*"},
    {"Effect": "Deny", "Action": "orders:DeleteOrder", "Resource": "*",
     "Condition": {"NumericGreaterThanIfExists": {"aws:MultiFactorAuthAge": "300"}}},
    {"Effect": "Deny", "Action": "orders:DeleteOrder", "Resource": "*",
     "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}}]}
ONLY_SEVEN = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "orders:GetOrder", "Resource": f"{ORDER_ARN}/7"}]}
DENY_ALL_DELETES = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "orders:*", "Resource": "*"},
    {"Effect": "Deny", "Action": "orders:DeleteOrder", "Resource": "*"}]}
OWNER_ONLY = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "orders:GetOrder", "Resource": f"{ORDER_ARN}/*",
     "Condition": {"StringEquals": {"aws:ResourceTag/owner": "${aws:username}"}}}]}


class TokenRefused(IamGuardError):
    """Stands for the credentials layer's InvalidToken/ExpiredToken/RevokedToken."""


@dataclass(frozen=True)
class StubSession:
    principal_arn: str
    user_name: str
    mfa_age: int | None = None  # None: no MFA in this session
    jti: str = "jti-0001"

    def context(self, now: datetime) -> dict[str, Any]:
        context: dict[str, Any] = {
            "aws:PrincipalArn": self.principal_arn,
            "aws:username": self.user_name,
            "aws:MultiFactorAuthPresent": self.mfa_age is not None,
        }
        if self.mfa_age is not None:
            context["aws:MultiFactorAuthAge"] = self.mfa_age
        return context


@dataclass
class StubAuthority:
    """Maps tokens to (session, policy documents). `fail` breaks a seam: "authenticate" or
    "policy_set_for", with the exception to raise."""

    sessions: dict[str, tuple[StubSession, tuple[Mapping[str, Any], ...]]] = field(default_factory=dict)
    fail: dict[str, BaseException] = field(default_factory=dict)
    seen_tokens: list[str] = field(default_factory=list)

    def add(self, token: str, session: StubSession, *policies: Mapping[str, Any]) -> None:
        self.sessions[token] = (session, policies)

    def authenticate(self, token: str) -> StubSession:
        self.seen_tokens.append(token)
        if "authenticate" in self.fail:
            raise self.fail["authenticate"]
        if token not in self.sessions:
            raise TokenRefused("token refused")
        return self.sessions[token][0]

    def policy_set_for(self, session: StubSession, resource_policy: Any = None) -> PolicySet:
        if "policy_set_for" in self.fail:
            raise self.fail["policy_set_for"]
        for known, policies in self.sessions.values():
            if known is session:
                return PolicySet([parse_policy(document) for document in policies])
        raise TokenRefused("unknown session")


def standard_authority() -> StubAuthority:
    authority = StubAuthority()
    authority.add("reader", StubSession(ALICE, "alice"), READER)
    authority.add("writer", StubSession(BOB, "bob"), WRITER)
    authority.add("writer-mfa", StubSession(BOB, "bob", mfa_age=30, jti="jti-0002"), WRITER)
    authority.add("writer-old-mfa", StubSession(BOB, "bob", mfa_age=3600), WRITER)
    authority.add("seven", StubSession(ALICE, "alice"), ONLY_SEVEN)
    authority.add("no-deletes", StubSession(ALICE, "alice"), DENY_ALL_DELETES)
    authority.add("owner", StubSession(ALICE, "alice"), OWNER_ONLY)
    return authority


@dataclass(frozen=True)
class StubResolved:
    policy_set: PolicySet
    context: Mapping[str, Any]


@dataclass
class StubDirectory:
    """For principal-resolver tests: resolves ARNs to policy sets."""

    principals: dict[str, tuple[Mapping[str, Any], ...]] = field(default_factory=dict)

    def resolve(self, principal_arn: str) -> StubResolved:
        if principal_arn not in self.principals:
            raise TokenRefused("no such principal")
        policies = self.principals[principal_arn]
        return StubResolved(PolicySet([parse_policy(document) for document in policies]),
                            {"aws:PrincipalArn": principal_arn})


def counting_screens(guard: Any) -> list[str]:
    """Wraps `guard`'s screening so that each screened request's path is appended to the list
    returned: how tests see that a request is screened once."""
    seen: list[str] = []
    checks = guard._screen_checks

    def counted(request: Any) -> Any:
        seen.append(request.path)
        return checks(request)

    guard._screen_checks = counted
    return seen
