"""The verified session: who is calling, and the request-context keys IAM derives from that.

Which keys are present follows IAM (KEYS, MFAAPI in the IAM semantics checklist):
- `aws:MultiFactorAuthPresent` exists only for temporary credentials: `true` when MFA was used in
  the chain that produced the session, `false` otherwise; it is absent for long-term access keys.
- `aws:MultiFactorAuthAge` exists only when MFA was used: `now - mfa time`, the time being the
  signed claim set by a successful code (never by a client, never reset by a refresh).
- `aws:TokenIssueTime` exists only for temporary credentials.
- For a role session `aws:PrincipalArn` is the role's ARN (IAM's rule, so trust and resource
  policies can name the role), `aws:userid` is `<role id>:<session name>`, there is no
  `aws:username`, `sts:RoleSessionName` is set, and the principal tags are the role's tags with
  the session's tags overriding keys they share (compared case-insensitively).
- `aws:SourceIdentity` only when one was set; web identity sessions add the provider's keys
  (`<issuer>:sub`, `:aud`, ...) and `aws:FederatedProvider`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from iamguard.credentials.tokens import SessionClaims
from iamguard.engine.compiler import Policy

ACCESS_KEY = "access-key"
SESSION_TOKEN = "session"
ROLE_SESSION = "role"
WEB_IDENTITY = "web-identity"
TEMPORARY = (SESSION_TOKEN, ROLE_SESSION, WEB_IDENTITY)


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def merge_tags(principal_tags: Mapping[str, str], session_tags: tuple[tuple[str, str], ...]) -> tuple[
        tuple[str, str], ...]:
    """Principal tags with session tags laid over them; keys compare case-insensitively."""
    overridden = {key.lower() for key, _ in session_tags}
    kept = [(key, value) for key, value in principal_tags.items() if key.lower() not in overridden]
    return tuple(sorted(kept + list(session_tags)))


@dataclass(frozen=True)
class Session:
    """A verified caller. Built only by `Credentials.authenticate`, `authenticate_access_key`
    and the STS calls; every field comes from a signed token or from the store."""

    tenant_id: str
    credential_type: str  # access-key, session, role or web-identity
    principal_arn: str  # user ARN, or the assumed-role session ARN
    source_arn: str  # user or role ARN whose policies apply
    principal_id: str  # unique id of that user or role
    userid: str  # aws:userid
    principal_type: str  # User or AssumedRole
    user_name: str | None = None
    role_session_name: str | None = None
    issued_at: datetime | None = None
    expires_at: datetime | None = None
    mfa_authenticated_at: datetime | None = None
    access_key_id: str | None = None
    jti: str | None = None
    source_identity: str | None = None
    session_policies: tuple[Policy, ...] = ()
    principal_tags: tuple[tuple[str, str], ...] = ()
    session_tags: tuple[tuple[str, str], ...] = ()
    federated_provider: str | None = None
    web_identity_keys: tuple[tuple[str, Any], ...] = ()
    lineage: tuple[str, ...] = ()
    mfa_device_id: str | None = None
    claims: SessionClaims | None = field(default=None, repr=False, compare=False)

    @property
    def is_temporary(self) -> bool:
        return self.credential_type in TEMPORARY

    @property
    def is_role_session(self) -> bool:
        return self.credential_type in (ROLE_SESSION, WEB_IDENTITY)

    @property
    def unique_id(self) -> str:
        """aws:userid (the user id, or `<role id>:<session name>`)."""
        return self.userid

    @property
    def mfa_present(self) -> bool:
        return self.mfa_authenticated_at is not None

    def mfa_age(self, now: datetime | float) -> int | None:
        if self.mfa_authenticated_at is None:
            return None
        moment = now.timestamp() if isinstance(now, datetime) else float(now)
        return max(0, int(moment - self.mfa_authenticated_at.timestamp()))

    def context(self, now: datetime | float) -> dict[str, Any]:
        """The request-context keys this session contributes, at `now` (the server's clock)."""
        context: dict[str, Any] = {
            "aws:PrincipalArn": self.source_arn if self.is_role_session else self.principal_arn,
            "aws:PrincipalAccount": self.tenant_id,
            "aws:PrincipalType": self.principal_type,
            "aws:userid": self.userid,
        }
        if self.user_name is not None and not self.is_role_session:
            context["aws:username"] = self.user_name
        for key, value in self.principal_tags:
            context[f"aws:PrincipalTag/{key}"] = value
        if self.is_temporary:
            assert self.issued_at is not None
            context["aws:TokenIssueTime"] = iso(self.issued_at)
            context["aws:MultiFactorAuthPresent"] = self.mfa_present
            age = self.mfa_age(now)
            if age is not None:
                context["aws:MultiFactorAuthAge"] = age
        if self.source_identity is not None:
            context["aws:SourceIdentity"] = self.source_identity
        if self.role_session_name is not None:
            context["sts:RoleSessionName"] = self.role_session_name
        if self.federated_provider is not None:
            context["aws:FederatedProvider"] = self.federated_provider
        for key, value in self.web_identity_keys:
            context[key] = list(value) if isinstance(value, tuple) else value
        return context
