"""`Credentials`: one entry point for passwords, access keys, MFA, session tokens and STS.

Bound to one tenant's Directory, as a boto3 client is bound to one account. Method names follow
IAM's and STS's APIs in snake case.
"""

from __future__ import annotations

import functools
import logging
import math
import threading
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timezone
from typing import Any

import httpx

from iamguard.audit import AuditOption
from iamguard.clock import Clock
from iamguard.credentials.access_keys import AccessKey, AccessKeyLastUsed, AccessKeyMetadata, AccessKeyService
from iamguard.credentials.audit import CredentialsAudit
from iamguard.credentials.config import MAX_LEEWAY_SECONDS, CredentialsConfig
from iamguard.credentials.errors import (
    AccessDenied,
    ConfigurationError,
    InvalidToken,
    NoSuchEntity,
    RevokedToken,
    ValidationError,
)
from iamguard.credentials.liveness import GenerationWatch, LivenessChecker
from iamguard.credentials.memory_store import MemoryCredentialStore
from iamguard.credentials.mfa import MfaDevice, MfaService, RecoveryCodes, VirtualMfaDevice
from iamguard.credentials.oidc import OidcVerifier
from iamguard.credentials.passwords import LoginProfileInfo, PasswordService
from iamguard.credentials.records import PasswordPolicy
from iamguard.credentials.sealing import Sealer
from iamguard.credentials.session import ACCESS_KEY, Session, iso, merge_tags
from iamguard.credentials.signing import KeyManager
from iamguard.credentials.sqlite_store import SQLiteCredentialStore
from iamguard.credentials.store import CredentialStore
from iamguard.credentials.sts import LongTermIdentity, StsService, extra_context
from iamguard.credentials.tokens import IssuedToken, SessionClaims, TokenCodec
from iamguard.credentials.warm import WarmSessions
from iamguard.directory import Directory
from iamguard.directory.auditing import batch_records
from iamguard.directory.errors import NoSuchEntityError
from iamguard.directory.resolver import ResolvedPrincipal
from iamguard.engine.compiler import parse_policy
from iamguard.engine.context import Request
from iamguard.engine.decision import Decision, Effect
from iamguard.engine.evaluator import PolicySet
from iamguard.errors import PolicyError
from iamguard.store.base import DirectoryStore

_log = logging.getLogger("iamguard.credentials")
_MEMORY_STORES: weakref.WeakKeyDictionary[Any, MemoryCredentialStore] = weakref.WeakKeyDictionary()
_REGISTERED: weakref.WeakKeyDictionary[Any, set[tuple[str, Any]]] = weakref.WeakKeyDictionary()
_SHARED_LOCK = threading.Lock()


@dataclass(frozen=True)
class AccessKeyCredentials:
    access_key_id: str
    secret_access_key: str = field(repr=False)


@dataclass(frozen=True)
class PasswordCredentials:
    user_name: str
    password: str = field(repr=False)


def _default_store(directory: Directory) -> CredentialStore:
    database = getattr(directory.store, "database", None)
    if database is not None:
        return SQLiteCredentialStore(database)
    with _SHARED_LOCK:  # every Credentials over one memory directory store shares its state
        store = _MEMORY_STORES.get(directory.store)
        if store is None:
            store = _MEMORY_STORES[directory.store] = MemoryCredentialStore()
        return store


class Credentials:
    """`Credentials(directory, *, clock=None, config=None, store=None, http_client=None, audit=None,
    **settings)` where settings are CredentialsConfig fields (issuer, audience, signing_algorithm, ...).
    A DirectoryStore may be passed instead of a Directory together with `tenant_id=`.
    Security events (logins, lockouts, MFA, keys, sessions) are recorded through `audit`: an
    `iamguard.audit.Auditor`, a sink or sinks (default: one JSON line each on the `iamguard.audit`
    logger). Pass the Auditor the Directory and the web guard use to keep one audit trail."""

    def __init__(self, directory_or_store: Directory | DirectoryStore, *, tenant_id: str | None = None,
                 clock: Clock | None = None, config: CredentialsConfig | None = None,
                 store: CredentialStore | None = None, http_client: httpx.Client | None = None,
                 audit: AuditOption = None, **settings: Any) -> None:
        if isinstance(directory_or_store, Directory):
            directory = directory_or_store
        elif isinstance(directory_or_store, DirectoryStore):
            if tenant_id is None:
                raise ConfigurationError("give tenant_id= when passing a store instead of a Directory")
            directory = Directory(directory_or_store, tenant_id, clock=clock)
        else:
            raise ConfigurationError("Credentials needs a Directory (or a DirectoryStore and tenant_id)")
        known = {item.name for item in fields(CredentialsConfig)}
        unknown = sorted(set(settings) - known)
        if unknown:
            raise ConfigurationError(f"unknown Credentials settings: {', '.join(unknown)}")
        self.config = replace(config, **settings) if config is not None else CredentialsConfig(**settings)
        self.directory = directory
        self.clock: Clock = clock or directory.clock
        self.tenant_id: str = directory.tenant_id
        self.partition: str = directory.partition
        self.store = store or _default_store(directory)
        self._events = CredentialsAudit(audit, self.clock)
        self.auditor = self._events.auditor
        self._register_dependents()
        self._sealer: Sealer | None = None
        self._pepper: bytes | None = None
        config = self.config
        shared_file = isinstance(self.store, SQLiteCredentialStore) and \
            self.store.database is getattr(directory.store, "database", None)
        if shared_file:  # the directory's transactions hold this store's changes too: so do its records
            self._events.batch = functools.partial(batch_records, directory.store)
        sources = (directory.store,) if shared_file else (directory.store, self.store)
        self._watch = watch = GenerationWatch(sources, self.clock, directory.cache_ttl)
        self._keys = KeyManager(self.store, self._get_sealer, self.clock, algorithm=config.signing_algorithm,
                                hmac_secret=config.hmac_secret, max_token_lifetime=config.max_token_lifetime,
                                leeway=config.leeway_seconds, generation=watch.current)
        self._codec = TokenCodec(self._keys, self.clock, issuer=config.issuer, audience=config.audience,
                                 leeway=config.leeway_seconds, max_lifetime=config.max_token_lifetime,
                                 max_bytes=config.max_token_bytes)
        self._passwords = PasswordService(self.store, self.clock, config, tenant_id=self.tenant_id,
                                          events=self._events)
        self._access_keys = AccessKeyService(self.store, self._get_pepper, self.clock, config, tenant_id=self.tenant_id,
                                             events=self._events)
        self._mfa = MfaService(self.store, self._get_sealer, self.clock, config, tenant_id=self.tenant_id,
                               partition=self.partition, events=self._events)
        self._liveness = LivenessChecker(directory=directory, store=self.store, watch=watch,
                                         tenant_id=self.tenant_id, cache_size=config.cache_size)
        self._warm = WarmSessions(watch, self.clock, leeway=config.leeway_seconds, limit=config.cache_size,
                                  max_token_bytes=config.max_token_bytes)
        self._oidc = OidcVerifier(config.oidc_issuers, self.clock, leeway=config.leeway_seconds,
                                  http_client=http_client)
        self._sts = StsService(directory=directory, codec=self._codec, mfa=self._mfa, oidc=self._oidc,
                               liveness=self._liveness, config=config, clock=self.clock, events=self._events)

    def __repr__(self) -> str:
        return f"<Credentials tenant={self.tenant_id} store={type(self.store).__name__}>"

    # wiring

    def _register_dependents(self) -> None:
        """Make DeleteUser refuse while the user has credentials, once per (directory store,
        credential data): several facades over the same data must not list things twice."""
        directory_store = self.directory.store
        database = getattr(self.store, "database", None)
        backing = ("sqlite", database.path) if database is not None else ("object", id(self.store))
        with _SHARED_LOCK:
            seen = _REGISTERED.setdefault(directory_store, set())
            if backing in seen:
                return
            seen.add(backing)
        directory_store.register_dependents("user", self.store.user_dependents)
        directory_store.register_dependents("tenant", self.store.tenant_dependents)

    def _get_sealer(self) -> Sealer:
        if self._sealer is None:
            key = self.config.data_key
            if key is None:
                _log.warning("no data_key configured: TOTP seeds and signing keys are sealed with a key kept in "
                             "the same store; configure CredentialsConfig.data_key from a secret manager")
                key = self.store.server_secret("data-key")
            self._sealer = Sealer(key)
        return self._sealer

    def _get_pepper(self) -> bytes:
        if self._pepper is None:
            self._pepper = self.config.pepper or self.store.server_secret("access-key-pepper")
        return self._pepper

    def _user(self, user_name: str) -> tuple[str, str]:
        """(unique id, name) of a user of this tenant; NoSuchEntity otherwise."""
        try:
            user = self.directory.get_user(user_name)
        except NoSuchEntityError as exc:
            raise NoSuchEntity(exc.message) from None
        return user.user_id, user.user_name

    def _user_or_none(self, user_name: object) -> tuple[str, str] | None:
        try:
            user = self.directory.get_user(user_name)  # type: ignore[arg-type]
        except Exception:  # unknown or malformed names are all "no such user" at login
            return None
        return user.user_id, user.user_name

    # password policy and login profiles

    def get_account_password_policy(self) -> PasswordPolicy:
        return self._passwords.policy()

    def update_account_password_policy(self, **settings: Any) -> PasswordPolicy:
        policy = PasswordPolicy(**settings)
        self._passwords.set_policy(policy)
        return policy

    def delete_account_password_policy(self) -> None:
        self._passwords.set_policy(None)

    def create_login_profile(self, user_name: str, password: str, password_reset_required: bool = False
                             ) -> LoginProfileInfo:
        user_id, name = self._user(user_name)
        return self._passwords.create(user_id, name, password, password_reset_required)

    def get_login_profile(self, user_name: str) -> LoginProfileInfo:
        return self._passwords.get(*self._user(user_name))

    def update_login_profile(self, user_name: str, password: str | None = None,
                             password_reset_required: bool | None = None) -> None:
        user_id, name = self._user(user_name)
        self._passwords.update(user_id, name, password, password_reset_required)

    def delete_login_profile(self, user_name: str) -> None:
        self._passwords.delete(*self._user(user_name))

    def change_password(self, user_name: str, old_password: str, new_password: str) -> None:
        found = self._user_or_none(user_name)
        self._passwords.change(found[1] if found else str(user_name), found[0] if found else None,
                               old_password, new_password)

    def check_password(self, user_name: str, password: str) -> LongTermIdentity:
        """Verify a login (lockout, expiry) without issuing a token."""
        found = self._user_or_none(user_name)
        self._passwords.check(user_name, found[0] if found else None, password)
        assert found is not None
        resolved = self.directory.resolve_id(found[0])
        return LongTermIdentity(found[0], resolved.arn, resolved.name, None)

    # access keys

    def create_access_key(self, user_name: str) -> AccessKey:
        return self._access_keys.create(*self._user(user_name))

    def list_access_keys(self, user_name: str) -> tuple[AccessKeyMetadata, ...]:
        return self._access_keys.list(*self._user(user_name))

    def update_access_key(self, access_key_id: str, status: str, user_name: str | None = None) -> None:
        user_id = self._user(user_name)[0] if user_name is not None else None
        self._access_keys.update_status(access_key_id, status, user_id)

    def delete_access_key(self, access_key_id: str, user_name: str | None = None) -> None:
        user_id = self._user(user_name)[0] if user_name is not None else None
        self._access_keys.delete(access_key_id, user_id)

    def get_access_key_last_used(self, access_key_id: str) -> AccessKeyLastUsed:
        return self._access_keys.last_used(access_key_id)

    def authenticate_access_key(self, access_key_id: str, secret_access_key: str, *, action: str | None = None,
                                source_ip: str | None = None) -> Session:
        """A request signed with a long-term key: a Session without token, and without MFA keys."""

        def user_exists(user_id: str) -> bool:
            try:
                self.directory.resolve_id(user_id)
            except NoSuchEntityError:
                return False
            return True

        owner = self._access_keys.authenticate(access_key_id, secret_access_key, user_exists=user_exists,
                                               action=action, source_ip=source_ip)
        resolved = self.directory.resolve_id(owner.user_id)
        return Session(
            tenant_id=self.tenant_id, credential_type=ACCESS_KEY, principal_arn=resolved.arn,
            source_arn=resolved.arn, principal_id=resolved.unique_id, userid=resolved.unique_id,
            principal_type="User", user_name=resolved.name, access_key_id=owner.access_key_id,
            principal_tags=tuple((tag.key, tag.value) for tag in resolved.tags), lineage=(resolved.unique_id,),
        )

    # MFA

    def create_virtual_mfa_device(self, user_name: str, device_name: str) -> VirtualMfaDevice:
        user_id, name = self._user(user_name)
        return self._mfa.create_device(user_id, name, device_name)

    def enable_mfa_device(self, user_name: str, serial_number: str, authentication_code1: str,
                          authentication_code2: str) -> None:
        user_id, _ = self._user(user_name)
        self._mfa.enable(user_id, serial_number, authentication_code1, authentication_code2)

    def deactivate_mfa_device(self, user_name: str, serial_number: str, authentication_code: str | None = None,
                              *, recovery_code: str | None = None) -> None:
        user_id, _ = self._user(user_name)
        self._mfa.deactivate(user_id, serial_number, authentication_code, recovery_code)

    def delete_virtual_mfa_device(self, serial_number: str) -> None:
        self._mfa.delete(serial_number)

    def list_mfa_devices(self, user_name: str) -> tuple[MfaDevice, ...]:
        return self._mfa.list_devices(*self._user(user_name))

    def create_recovery_codes(self, user_name: str, serial_number: str, authentication_code: str) -> RecoveryCodes:
        user_id, _ = self._user(user_name)
        return self._mfa.create_recovery_codes(user_id, serial_number, authentication_code)

    def recovery_codes_remaining(self, user_name: str) -> int:
        return self._mfa.recovery_codes_left(self._user(user_name)[0])

    # STS

    def _long_term(self, credentials: AccessKeyCredentials | PasswordCredentials | Session) -> LongTermIdentity:
        if isinstance(credentials, Session) and credentials.credential_type == ACCESS_KEY:
            # Security spec APP-04: another tenant's key must not mint a token here (its claims
            # would pair this tenant's tid with a principal of that tenant); a held Session may
            # also have died since it was made.
            if credentials.tenant_id != self.tenant_id:
                raise AccessDenied("the caller belongs to another tenant")
            self._liveness.check_session(credentials, self.clock.time(), self.config.leeway_seconds)
        if isinstance(credentials, AccessKeyCredentials):
            credentials = self.authenticate_access_key(credentials.access_key_id, credentials.secret_access_key,
                                                       action="sts:GetSessionToken")
        if isinstance(credentials, PasswordCredentials):
            return self.check_password(credentials.user_name, credentials.password)
        if isinstance(credentials, Session):
            if credentials.credential_type != ACCESS_KEY:
                raise ValidationError("GetSessionToken needs long-term credentials (an access key or a password), "
                                      "not a session")
            return LongTermIdentity(credentials.principal_id, credentials.principal_arn,
                                    credentials.user_name or "", credentials.access_key_id)
        raise ValidationError("credentials must be AccessKeyCredentials, PasswordCredentials or an access-key "
                              "Session")

    def get_session_token(self, credentials: AccessKeyCredentials | PasswordCredentials | Session, *,
                          mfa_code: str | None = None, duration: int | None = None,
                          serial_number: str | None = None, recovery_code: str | None = None) -> IssuedToken:
        identity = self._long_term(credentials)
        return self._sts.get_session_token(identity, duration_seconds=duration, mfa_code=mfa_code,
                                           serial_number=serial_number, recovery_code=recovery_code)

    def login(self, user_name: str, password: str, *, mfa_code: str | None = None, duration: int | None = None,
              serial_number: str | None = None, recovery_code: str | None = None) -> IssuedToken:
        """Password (and optional second factor) for a session token."""
        return self.get_session_token(PasswordCredentials(user_name, password), mfa_code=mfa_code,
                                      duration=duration, serial_number=serial_number, recovery_code=recovery_code)

    def assume_role(self, role_arn: str, session_name: str, caller: Session, duration: int | None = None,
                    session_policy: Any = None, tags: Mapping[str, str] | Iterable[Any] | None = None,
                    source_identity: str | None = None, mfa_code: str | None = None, *,
                    serial_number: str | None = None, recovery_code: str | None = None,
                    external_id: str | None = None, request_context: Mapping[str, Any] | None = None) -> IssuedToken:
        return self._sts.assume_role(
            caller, role_arn, session_name, duration_seconds=duration, session_policy=session_policy, tags=tags,
            source_identity=source_identity, mfa_code=mfa_code, serial_number=serial_number,
            recovery_code=recovery_code, external_id=external_id, request_context=request_context)

    def assume_role_with_web_identity(self, role_arn: str, session_name: str, oidc_token: str,
                                      duration: int | None = None, session_policy: Any = None, *,
                                      request_context: Mapping[str, Any] | None = None) -> IssuedToken:
        return self._sts.assume_role_with_web_identity(role_arn, session_name, oidc_token, duration_seconds=duration,
                                                       session_policy=session_policy, request_context=request_context)

    def step_up(self, session: Session | str, mfa_code: str | None = None, *, serial_number: str | None = None,
                recovery_code: str | None = None) -> IssuedToken:
        verified = self.authenticate(session) if isinstance(session, str) else session
        return self._sts.step_up(verified, mfa_code=mfa_code, serial_number=serial_number,
                                 recovery_code=recovery_code)

    # sessions

    def authenticate(self, token: object) -> Session:
        """Verify a session token and check that it is still alive. Raises a TokenError subclass:
        MissingToken, InvalidToken, ExpiredToken or RevokedToken (the web layer answers 401), or
        StoreError when liveness cannot be established (503)."""
        warm = self._warm.session(token)
        if warm is not None:
            return warm
        # Read before any check, so that a write landing meanwhile leaves the results stale.
        generation = self._warm.generation()
        claims = self._codec.verify(token)
        if claims.tenant_id != self.tenant_id:
            raise InvalidToken("the token belongs to another tenant")
        self._liveness.check(claims)
        try:
            resolved = self.directory.resolve(claims.source_arn, unique_id=claims.principal_id,
                                              at_least=generation[0])
        except NoSuchEntityError:
            raise RevokedToken("the user or role of this session no longer exists") from None
        session = self._session(claims, resolved)
        if isinstance(token, str):  # verify() takes bytes too; the warm path looks up text only
            self._warm.remember(token, generation, claims, session)
        return session

    def _session(self, claims: SessionClaims, resolved: ResolvedPrincipal) -> Session:
        try:
            policies = tuple(parse_policy(document, "session", name=f"session policy {index}")
                             for index, document in enumerate(claims.session_policies))
        except PolicyError:
            raise InvalidToken("the session policy in the token cannot be read") from None
        tags = {tag.key: tag.value for tag in resolved.tags}
        role_session = claims.credential_type != "session"
        return Session(
            tenant_id=claims.tenant_id, credential_type=claims.credential_type, principal_arn=claims.principal_arn,
            source_arn=claims.source_arn, principal_id=claims.principal_id, userid=claims.userid,
            principal_type="AssumedRole" if role_session else "User",
            user_name=claims.user_name, role_session_name=claims.role_session_name,
            issued_at=datetime.fromtimestamp(claims.issued_at, timezone.utc),
            expires_at=datetime.fromtimestamp(claims.expires_at, timezone.utc),
            mfa_authenticated_at=datetime.fromtimestamp(claims.mfa_time, timezone.utc)
            if claims.mfa_time is not None else None,
            access_key_id=claims.access_key_id, jti=claims.jti, source_identity=claims.source_identity,
            session_policies=policies, principal_tags=merge_tags(tags, claims.session_tags),
            session_tags=claims.session_tags, federated_provider=claims.federated_provider,
            web_identity_keys=claims.web_identity_keys, lineage=claims.lineage, mfa_device_id=claims.mfa_device_id,
            claims=claims,
        )

    def revoke_sessions(self, principal_arn: str, before: datetime | float | None = None) -> datetime:
        """Revoke every session of a user or role (and every session derived from them) issued
        before `before` (default: now). Effective on the next authentication in this process."""
        try:
            resolved = self.directory.resolve(principal_arn)
        except NoSuchEntityError as exc:
            raise NoSuchEntity(exc.message) from None
        moment = self.clock.time() if before is None else (
            before.timestamp() if isinstance(before, datetime) else float(before))
        if not math.isfinite(moment):  # NaN would revoke nothing; infinity could not be audited
            raise ValidationError("before must be a finite time")
        self.store.revoke_sessions(self.tenant_id, resolved.unique_id, moment)
        self._events.emit("sessions_revoked", outcome="success", tenant_id=self.tenant_id, principal_arn=principal_arn,
                          before=moment)
        return datetime.fromtimestamp(moment, timezone.utc)

    def revoke_session(self, session: Session) -> None:
        """End one session and every session created from it (roles assumed with it, its step-ups):
        its jti goes on the deny list until it would have expired, and derived sessions carry it."""
        if session.claims is None:
            raise ValidationError("a long-term access key is not a session; deactivate the key instead")
        if session.tenant_id != self.tenant_id:
            # Recorded under this tenant, the revocation would never apply to the session (APP-04).
            raise InvalidToken("the session belongs to another tenant")
        self.store.revoke_token(self.tenant_id, session.claims.jti, float(session.claims.expires_at))
        self._events.emit("session_revoked", outcome="success", tenant_id=self.tenant_id,
                          principal_arn=session.principal_arn, jti=session.claims.jti)

    def jwks(self) -> dict[str, Any]:
        return self._keys.jwks()

    def rotate_signing_key(self) -> str:
        """Sign new tokens with a new key; tokens signed by the previous one stay valid until they
        expire. Returns the new kid."""
        return self._keys.rotate()

    def refresh_oidc_keys(self) -> None:
        self._oidc.refresh()

    def prune(self) -> None:
        """Housekeeping: forget revocations and failure counters that can no longer matter."""
        now = self.clock.time()
        # A revoked token is still refused as revoked until its exp plus the leeway (up to the
        # largest leeway any process may be configured with); forgetting its jti earlier would let
        # it authenticate again for the rest of that leeway.
        self.store.prune(now - MAX_LEEWAY_SECONDS, now - self.config.max_token_lifetime - self.config.leeway_seconds)

    # authorization helpers

    def generation(self) -> tuple[int, ...]:
        """The store generation that `authenticate` and `policy_set_for` check their own cached
        answers against: every write that could change one of those answers (a revocation, a
        policy, a key, a device) moves it, at once in this process and, for other processes'
        writes, within the directory's cache TTL. An answer derived from theirs stays true while
        the generation read before it was derived is still current, and the clock has not moved
        into another second (`iamguard.web.memo` relies on exactly this)."""
        return self._watch.current()

    @property
    def generation_watch(self) -> GenerationWatch:
        """What `generation` reads, for callers that keep answers derived from it: its
        `snapshot()` says how long the generation stays current without being read again, and
        `local_commits()` whether this process wrote since (`iamguard.web.memo`)."""
        return self._watch

    def policy_set_for(self, session: Session, resource_policy: Any = None) -> PolicySet:
        """The policies deciding this session's requests: the user's or role's identity policies
        and permissions boundary (current, from the directory), plus the session policies.
        Memoized per (principal, store generation, policy digests)."""
        if resource_policy is None:
            warm = self._warm.policy_set(session)
            if warm is not None:
                return warm
        generation = self._warm.generation()
        try:
            resolved = self.directory.resolve(session.source_arn, unique_id=session.principal_id,
                                              at_least=generation[0])
        except NoSuchEntityError:
            raise RevokedToken("the user or role of this session no longer exists") from None
        policy_set = resolved.policy_set_with(resource_policy, session.session_policies or None)
        if resource_policy is None:
            self._warm.remember_policy_set(generation, session, policy_set)
        return policy_set

    def request_context(self, session: Session, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The full request context: the caller's extra keys (aws:SourceIp, ...; keys describing the
        principal are dropped), the server's time, and the session's keys."""
        moment = self.clock.now()
        context = extra_context(extra)
        context.update({"aws:CurrentTime": iso(moment), "aws:EpochTime": int(moment.timestamp())})
        context.update(session.context(moment))
        return context

    def authorize(self, session: Session, action: str, resource: str, context: Mapping[str, Any] | None = None,
                  *, resource_policy: Any = None) -> Decision:
        """Decide one request for a verified session. Never raises: any failure is a deny with
        `decision.error` set."""
        try:
            if session.tenant_id != self.tenant_id:
                raise InvalidToken("the session belongs to another tenant")
            self._liveness.check_session(session, self.clock.time(), self.config.leeway_seconds)
            policy_set = self.policy_set_for(session, resource_policy)
            request = Request(session.principal_arn, action, resource, self.request_context(session, context))
        except Exception as exc:  # every fault is a deny, never an allow
            request = Request(str(session.principal_arn), str(action), str(resource), {})
            return Decision(Effect.EXPLICIT_DENY, request, error=f"{type(exc).__name__}: {exc}")
        return policy_set.evaluate(request)
