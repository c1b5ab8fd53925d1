"""STS: GetSessionToken, AssumeRole, AssumeRoleWithWebIdentity and step-up.

Role assumption (ROLE-01): the role's trust policy is evaluated as the resource policy of the
request `sts:AssumeRole` on the role's ARN, by the caller, with the caller's context (MFA state
included). The caller's own identity policies, permissions boundary and session policies are in
the same evaluation, so IAM's same-tenant rule falls out of the evaluator:
- a trust statement naming the caller itself (user ARN or session ARN) grants on its own;
- a trust statement naming the caller's role grants, capped by the caller's boundary and session
  policies;
- a trust statement naming only the tenant (`"AWS": "<tenant>"` or `...:root`) delegates to the
  tenant: the caller's identity policies must then also allow `sts:AssumeRole` on the role;
- an identity Allow alone is never enough: some Allow statement of the trust policy must apply
  (unlike ordinary same-tenant resources, where either side suffices);
- an explicit Deny anywhere (trust, identity, boundary, session) refuses.
Tags require `sts:TagSession`, and a source identity `sts:SetSourceIdentity`, under the same rules:
whether the caller sets it now or carries it from its chain (AWS: in role chaining the target role's
trust policy must allow `sts:SetSourceIdentity`, or the call fails).
The role is the resource: `aws:ResourceTag/*` and `iam:ResourceTag/*` are the role's stored tags,
never the caller's values (AWS's ABAC pattern matches them against `${aws:PrincipalTag/...}`).
An unknown role is refused with the same AccessDenied as a trust policy that does not allow the
caller, so callers cannot probe which roles exist.

Durations (KEY-05, ROLE-06): at least 900 s; at most the role's MaxSessionDuration (AssumeRole)
or the configured maximum (GetSessionToken); at most one hour for role chaining; a session never
outlives the temporary session it was created from. Out of range is a ValidationError, never a
silent extension.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from iamguard.clock import Clock
from iamguard.credentials import audit, names
from iamguard.credentials.config import (
    CHAINED_ROLE_MAX_SECONDS,
    MIN_SESSION_SECONDS,
    CredentialsConfig,
)
from iamguard.credentials.errors import (
    AccessDenied,
    ExpiredToken,
    MalformedPolicyDocument,
    ValidationError,
)
from iamguard.credentials.liveness import LivenessChecker
from iamguard.credentials.mfa import MfaService, MfaVerification
from iamguard.credentials.oidc import OidcVerifier
from iamguard.credentials.session import ACCESS_KEY, Session, iso
from iamguard.credentials.tokens import (
    CREDENTIAL_ROLE,
    CREDENTIAL_SESSION,
    CREDENTIAL_WEB_IDENTITY,
    IssuedToken,
    SessionClaims,
    TokenCodec,
    new_jti,
)
from iamguard.directory.arns import parse_iam_arn
from iamguard.directory.authorized import resource_tag_keys
from iamguard.directory.errors import IamError, NoSuchEntityError
from iamguard.directory.model import Role
from iamguard.engine.compiler import Policy, parse_policy
from iamguard.engine.context import Request
from iamguard.engine.decision import Decision, Effect
from iamguard.engine.evaluator import PolicySet
from iamguard.errors import PolicyError

MAX_SESSION_POLICY_CHARS = 2048
# As long as MfaService's device ids ("mfa-" and 24 hex digits), for `_check_fits`.
_DEVICE_ID_PLACEHOLDER = "mfa-" + "0" * 24
# Keys describing the caller or the STS request are computed here; a caller-supplied value for
# any of them is dropped from the extra request context.
_RESERVED_PREFIXES = ("aws:principal", "aws:multifactor", "aws:tokenissuetime", "aws:sourceidentity",
                      "aws:federatedprovider", "aws:currenttime", "aws:epochtime", "sts:")
_RESERVED_KEYS = ("aws:userid", "aws:username")
# In an STS call the request tags are the session tags being set and the resource tags are the
# role's stored tags, both computed here.
_STS_RESERVED_PREFIXES = ("aws:requesttag/", "aws:tagkeys", "aws:resourcetag/", "iam:resourcetag/")


@dataclass(frozen=True)
class LongTermIdentity:
    """A user proven by an access key or a password, about to receive a session token."""

    user_id: str
    user_arn: str
    user_name: str
    access_key_id: str | None


def extra_context(request_context: Mapping[str, Any] | None, *, sts: bool = False) -> dict[str, Any]:
    """The caller-supplied part of a request context (network keys, resource tags...), without
    any key that describes the principal, the session or the time: those come from iamguard."""
    if not request_context:
        return {}
    reserved = _RESERVED_PREFIXES + _STS_RESERVED_PREFIXES if sts else _RESERVED_PREFIXES
    extra = {}
    for key, value in request_context.items():
        if not isinstance(key, str):
            raise ValidationError("request context keys must be strings")
        lowered = key.lower()
        if lowered in _RESERVED_KEYS or lowered.startswith(reserved):
            continue
        extra[key] = value
    return extra


def _minified(document: Any) -> str:
    policy = _session_policy(document)
    return json.dumps(policy.to_dict(), separators=(",", ":"), sort_keys=True)


def _session_policy(document: Any) -> Policy:
    try:
        return parse_policy(document, "session")
    except PolicyError as exc:
        raise MalformedPolicyDocument(f"the session policy is not valid: {exc}", exc.findings) from None


def _trust_allows(decision: Decision) -> bool:
    """Whether an Allow statement of the trust policy applied. The evaluator treats a same-tenant
    identity Allow as enough on its own (true for ordinary resources); a role's trust policy is
    different: it must itself allow the caller, directly or by naming the tenant."""
    return decision.resource_grant is not None


class StsService:
    def __init__(self, *, directory: Any, codec: TokenCodec, mfa: MfaService, oidc: OidcVerifier,
                 liveness: LivenessChecker, config: CredentialsConfig, clock: Clock,
                 events: audit.CredentialsAudit | None = None) -> None:
        self._events = events or audit.CredentialsAudit(clock=clock)
        self._directory = directory
        self._codec = codec
        self._mfa = mfa
        self._oidc = oidc
        self._liveness = liveness
        self._config = config
        self._clock = clock
        self._tenant: str = directory.tenant_id
        self._partition: str = directory.partition

    # helpers

    def _now(self) -> int:
        return int(self._clock.time())

    def _duration(self, requested: object, default: int, maximum: int, what: str) -> int:
        duration = default if requested is None else names.duration(requested)
        if duration < MIN_SESSION_SECONDS:
            raise ValidationError(f"DurationSeconds {duration} is below the minimum of {MIN_SESSION_SECONDS} seconds")
        if duration > maximum:
            raise ValidationError(f"DurationSeconds {duration} exceeds the maximum of {maximum} seconds {what}")
        return duration

    def _mint(self, claims: SessionClaims, event: str, caller_arn: str | None = None) -> IssuedToken:
        token = self._codec.mint(claims)
        # `caller_arn` names who asked for a role session: the new session's ARN carries a name the
        # caller chose, so it must not be the only identity in the record (spec ROLE-07).
        self._events.emit(event, outcome="success", tenant_id=self._tenant, principal_arn=claims.principal_arn,
                          source_arn=claims.source_arn, jti=claims.jti, expires_at=claims.expires_at,
                          mfa=claims.mfa_time is not None, access_key_id=claims.access_key_id,
                          session_name=claims.role_session_name, source_identity=claims.source_identity,
                          caller_arn=caller_arn)
        return IssuedToken(token, claims.expires_at, claims.principal_arn, claims.jti)

    def _check_fits(self, claims: SessionClaims, now: int, *, device: bool) -> None:
        """Raise PackedPolicyTooLarge before a second factor is spent on a token that could not be
        issued: a TOTP step or a recovery code is single-use, and a refused call must not use it up.
        Mints (and discards) the token with the claims the verification would set."""
        self._codec.mint(replace(claims, mfa_time=now, mfa_device_id=_DEVICE_ID_PLACEHOLDER if device else None))

    def _require_live(self, caller: Session) -> None:
        """A Session object may be held for a while; make sure it has not died since."""
        if not isinstance(caller, Session):
            raise ValidationError("the caller must be a Session from Credentials.authenticate or "
                                  "Credentials.authenticate_access_key")
        if caller.tenant_id != self._tenant:
            raise AccessDenied("the caller belongs to another tenant")
        self._liveness.check_session(caller, self._clock.time(), self._config.leeway_seconds)

    def _human(self, caller: Session) -> str:
        """The user at the root of the caller's chain (MFA devices belong to users)."""
        root = caller.lineage[0] if caller.lineage else ""
        try:
            resolved = self._directory.resolve_id(root)
        except NoSuchEntityError:
            raise AccessDenied("the caller's user no longer exists") from None
        if resolved.kind != "user":
            raise ValidationError("this session does not come from a user, so it has no MFA device to verify")
        return root

    def _second_factor(self, user_id: str, mfa_code: object, serial_number: str | None,
                       recovery_code: object) -> MfaVerification | None:
        if mfa_code is not None and recovery_code is not None:
            raise ValidationError("give either TokenCode or a recovery code, not both")
        if recovery_code is not None:
            return self._mfa.use_recovery_code(user_id, recovery_code)
        if mfa_code is not None:
            return self._mfa.verify_for_user(user_id, mfa_code, serial_number)
        if serial_number is not None:
            raise ValidationError("SerialNumber was given without TokenCode")
        return None

    # GetSessionToken

    def get_session_token(self, identity: LongTermIdentity, *, duration_seconds: object = None,
                          mfa_code: object = None, serial_number: str | None = None,
                          recovery_code: object = None) -> IssuedToken:
        duration = self._duration(duration_seconds, self._config.session_token_default_seconds,
                                  self._config.max_token_lifetime, "for GetSessionToken")
        verification = self._second_factor(identity.user_id, mfa_code, serial_number, recovery_code)
        now = self._now()
        claims = SessionClaims(
            tenant_id=self._tenant, credential_type=CREDENTIAL_SESSION, principal_arn=identity.user_arn,
            source_arn=identity.user_arn, principal_id=identity.user_id, userid=identity.user_id,
            issued_at=now, expires_at=now + duration, jti=new_jti(), lineage=(identity.user_id,),
            user_name=identity.user_name, access_key_id=identity.access_key_id,
            mfa_time=verification.verified_at if verification else None,
            mfa_device_id=verification.device_id if verification else None,
        )
        return self._mint(claims, "get_session_token")

    # AssumeRole

    def _find_role(self, role_arn: object) -> Role | None:
        try:
            parsed = parse_iam_arn(role_arn, ("role",), "RoleArn")
        except IamError as exc:
            raise ValidationError(exc.message) from None
        if parsed.partition != self._partition or parsed.account != self._tenant:
            return None  # another tenant's role: not assumable from here (cross-tenant is out of scope)
        try:
            role: Role = self._directory.get_role(parsed.name)
        except NoSuchEntityError:
            return None
        return role if role.arn == role_arn else None

    def _trust(self, role: Role) -> Policy | None:
        try:
            return parse_policy(role.assume_role_policy_document, "trust", name=f"trust policy of {role.arn}")
        except PolicyError:
            self._events.emit("trust_policy_unreadable", outcome="failure", level=logging.ERROR, tenant_id=self._tenant,
                              role_arn=role.arn)
            return None

    def _denied(self, principal: str, action: str, role_arn: str, reason: str) -> AccessDenied:
        self._events.emit("assume_role_denied", outcome="failure", level=logging.WARNING, tenant_id=self._tenant,
                          principal_arn=principal, action=action, role_arn=role_arn, reason=reason)
        return AccessDenied(f"User: {principal} is not authorized to perform: {action} on resource: {role_arn}")

    def assume_role(self, caller: Session, role_arn: str, session_name: str, *, duration_seconds: object = None,
                    session_policy: Any = None, tags: Mapping[str, str] | Iterable[Any] | None = None,
                    source_identity: str | None = None, mfa_code: object = None, serial_number: str | None = None,
                    recovery_code: object = None, external_id: str | None = None,
                    request_context: Mapping[str, Any] | None = None) -> IssuedToken:
        self._require_live(caller)
        name = names.role_session_name(session_name)
        session_tags = names.session_tags(tags)
        policies = self._packed_policies(session_policy)
        new_source = names.source_identity(source_identity) if source_identity is not None else None
        if caller.source_identity is not None and new_source is not None and new_source != caller.source_identity:
            raise self._denied(caller.principal_arn, "sts:SetSourceIdentity", str(role_arn),
                               "source_identity_change")
        checked_external_id = names.external_id(external_id) if external_id is not None else None
        extra = extra_context(request_context, sts=True)
        if isinstance(duration_seconds, int) and not isinstance(duration_seconds, bool) and caller.is_role_session \
                and duration_seconds > CHAINED_ROLE_MAX_SECONDS:
            raise ValidationError(f"DurationSeconds {duration_seconds} exceeds the one hour session limit for "
                                  "roles assumed by role chaining")

        role = self._find_role(role_arn)
        if role is None:
            raise self._denied(caller.principal_arn, "sts:AssumeRole", str(role_arn), "no_such_role")

        # The trust decision comes before anything that depends on the role (its maximum duration)
        # or that spends a code, so a caller the role does not trust learns nothing about it: the
        # trust policy sees the second factor as given, and the code is verified once it allows.
        now = self._now()
        context = caller.context(now)
        if mfa_code is not None or recovery_code is not None:
            context["aws:MultiFactorAuthPresent"] = True
            context["aws:MultiFactorAuthAge"] = 0
        context.update(extra)
        context.update(resource_tag_keys(role.tags))
        context.update(self._request_keys(now))
        context["sts:RoleSessionName"] = name
        if checked_external_id is not None:
            context["sts:ExternalId"] = checked_external_id
        if new_source is not None:
            context["sts:SourceIdentity"] = new_source
        if session_tags:
            for key, value in session_tags:
                context[f"aws:RequestTag/{key}"] = value
            context["aws:TagKeys"] = [key for key, _ in session_tags]

        actions = ["sts:AssumeRole"]
        if session_tags:
            actions.append("sts:TagSession")
        if new_source is not None or caller.source_identity is not None:
            actions.append("sts:SetSourceIdentity")
        trust = self._trust(role)
        if trust is None:
            raise self._denied(caller.principal_arn, "sts:AssumeRole", role.arn, "trust_policy_unreadable")
        try:
            resolved = self._directory.resolve(caller.source_arn, unique_id=caller.principal_id)
        except NoSuchEntityError:
            raise self._denied(caller.principal_arn, "sts:AssumeRole", role.arn, "caller_missing") from None
        policy_set: PolicySet = resolved.policy_set_with(
            resource_policy=trust, session_policies=caller.session_policies or None)
        for action in actions:
            decision = policy_set.evaluate(Request(caller.principal_arn, action, role.arn, context))
            if decision.effect is not Effect.ALLOW:
                reason = "explicit_deny" if decision.effect is Effect.EXPLICIT_DENY else "not_allowed"
                raise self._denied(caller.principal_arn, action, role.arn, reason)
            if not _trust_allows(decision):
                raise self._denied(caller.principal_arn, action, role.arn, "trust_policy_does_not_name_caller")

        maximum = min(role.max_session_duration, self._config.max_token_lifetime)
        if caller.is_role_session:
            maximum = min(maximum, CHAINED_ROLE_MAX_SECONDS)
        duration = self._duration(duration_seconds, min(self._config.role_session_default_seconds, maximum),
                                  maximum, "for this role")
        mfa_time = int(caller.mfa_authenticated_at.timestamp()) if caller.mfa_authenticated_at else None
        expires = now + duration
        if caller.claims is not None:
            expires = min(expires, caller.claims.expires_at)  # never outlive the parent session
        lineage = caller.lineage + ((role.role_id,) if role.role_id not in caller.lineage else ())
        claims = SessionClaims(
            tenant_id=self._tenant, credential_type=CREDENTIAL_ROLE,
            principal_arn=self.session_arn(role, name), source_arn=role.arn, principal_id=role.role_id,
            userid=f"{role.role_id}:{name}", issued_at=now, expires_at=expires, jti=new_jti(), lineage=lineage,
            role_session_name=name, mfa_time=mfa_time, mfa_device_id=caller.mfa_device_id,
            access_key_id=caller.access_key_id, source_identity=new_source or caller.source_identity,
            session_tags=session_tags, session_policies=policies,
            ancestor_jtis=(*caller.claims.ancestor_jtis, caller.claims.jti) if caller.claims is not None else (),
        )
        if mfa_code is not None or recovery_code is not None or serial_number is not None:
            human = self._human(caller)
            self._check_fits(claims, now, device=recovery_code is None)
            verification = self._second_factor(human, mfa_code, serial_number, recovery_code)
            if verification is not None:
                claims = replace(claims, mfa_time=verification.verified_at, mfa_device_id=verification.device_id)
        return self._mint(claims, "assume_role", caller_arn=caller.principal_arn)

    def session_arn(self, role: Role, session_name: str) -> str:
        return f"arn:{self._partition}:sts::{self._tenant}:assumed-role/{role.role_name}/{session_name}"

    def _packed_policies(self, session_policy: Any) -> tuple[str, ...]:
        if session_policy is None:
            return ()
        text = _minified(session_policy)
        if len(text) > MAX_SESSION_POLICY_CHARS:
            raise ValidationError(f"the session policy is {len(text)} characters once minified; the limit is "
                                  f"{MAX_SESSION_POLICY_CHARS}")
        return (text,)

    def _request_keys(self, now: int) -> dict[str, Any]:
        moment = self._clock.now()
        return {"aws:CurrentTime": iso(moment), "aws:EpochTime": now}

    # AssumeRoleWithWebIdentity

    def assume_role_with_web_identity(self, role_arn: str, session_name: str, web_identity_token: object, *,
                                      duration_seconds: object = None, session_policy: Any = None,
                                      request_context: Mapping[str, Any] | None = None) -> IssuedToken:
        name = names.role_session_name(session_name)
        policies = self._packed_policies(session_policy)
        extra = extra_context(request_context, sts=True)
        identity = self._oidc.verify(web_identity_token)
        provider_arn = identity.issuer.provider_arn(self._partition, self._tenant)
        action = "sts:AssumeRoleWithWebIdentity"
        role = self._find_role(role_arn)
        if role is None:
            raise self._denied(provider_arn, action, str(role_arn), "no_such_role")
        now = self._now()
        keys = identity.condition_keys()
        context: dict[str, Any] = {**extra, **resource_tag_keys(role.tags), **self._request_keys(now), **{
            key: list(value) if isinstance(value, tuple) else value for key, value in keys.items()}}
        context["aws:FederatedProvider"] = provider_arn
        context["sts:RoleSessionName"] = name
        trust = self._trust(role)
        if trust is None:
            raise self._denied(provider_arn, action, role.arn, "trust_policy_unreadable")
        # Trust policies name an OIDC provider as Federated, by its ARN or by its host-and-path
        # name; the evaluator matches the provider's ARN against both. The bare host is never the
        # request principal: it would also match a Service principal spelled the same.
        policy_set = PolicySet(resource_policy=trust)
        decision = policy_set.evaluate(Request(provider_arn, action, role.arn, context))
        if not decision.allowed:
            raise self._denied(provider_arn, action, role.arn, "not_allowed")
        # Only once the role trusts the caller: its maximum duration is not told to anyone else.
        maximum = min(role.max_session_duration, self._config.max_token_lifetime)
        duration = self._duration(duration_seconds, min(self._config.role_session_default_seconds, maximum),
                                  maximum, "for this role")
        claims = SessionClaims(
            tenant_id=self._tenant, credential_type=CREDENTIAL_WEB_IDENTITY,
            principal_arn=self.session_arn(role, name), source_arn=role.arn, principal_id=role.role_id,
            userid=f"{role.role_id}:{name}", issued_at=now, expires_at=now + duration, jti=new_jti(),
            lineage=(role.role_id,), role_session_name=name, session_policies=policies,
            federated_provider=provider_arn, web_identity_keys=tuple(sorted(keys.items())),
        )
        return self._mint(claims, "assume_role_with_web_identity")

    # step-up

    def step_up(self, session: Session, *, mfa_code: object = None, serial_number: str | None = None,
                recovery_code: object = None) -> IssuedToken:
        """A new token for the same principal with a fresh MFA time; it expires when the original
        does (never later), and keeps every other claim."""
        self._require_live(session)
        if session.claims is None or session.credential_type == ACCESS_KEY:
            raise ValidationError("step-up needs a session token, not a long-term access key")
        if mfa_code is None and recovery_code is None:
            raise ValidationError("step-up needs TokenCode or a recovery code")
        now = self._now()
        original = session.claims
        # Checked before the code is spent: a session within its leeway after exp passes
        # `_require_live`, but can get no step-up, and a refused call must not use up the code.
        if original.expires_at - now <= 0:
            raise ExpiredToken("the session has expired")
        human = self._human(session)
        self._check_fits(original, now, device=recovery_code is None)
        verification = self._second_factor(human, mfa_code, serial_number, recovery_code)
        assert verification is not None
        claims = replace(original, issued_at=now, not_before=now, jti=new_jti(), mfa_time=verification.verified_at,
                         mfa_device_id=verification.device_id,
                         ancestor_jtis=(*original.ancestor_jtis, original.jti))
        return self._mint(claims, "step_up")
