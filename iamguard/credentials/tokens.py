"""Session tokens: the claims they carry, minting, and verification.

Verification order (JWT-01..08, DOS-04): size limit and shape before anything else; header keys
from an allowlist (so `jku`, `x5u`, `jwk`, `x5c` and any `crit` are refused); explicit `typ`;
`kid` looked up in the local key map; header `alg` must equal the algorithm recorded for that kid;
then pyjwt verifies the signature with exactly that one algorithm and key object, with `iss` and
`aud` compared exactly and every required claim present. Times are checked against the injected
clock (pyjwt's own clock cannot be injected) with a leeway of at most 60 s applied to `exp`, `nbf`
and `iat` alike, and the lifetime `exp - iat` is capped.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import cachetools
import jwt

from iamguard.clock import Clock
from iamguard.credentials.errors import ExpiredToken, InvalidToken, MissingToken, PackedPolicyTooLarge
from iamguard.credentials.signing import KID, KeyManager
from iamguard.policy.jsondoc import unique_members

TOKEN_TYPE = "iamguard-session+jwt"
TOKEN_USE = "session"
REQUIRED_CLAIMS = ("exp", "iat", "nbf", "iss", "aud", "sub", "jti")
_ALLOWED_HEADER_KEYS = frozenset({"alg", "kid", "typ"})
_COMPACT = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+", re.ASCII)

CREDENTIAL_SESSION = "session"  # GetSessionToken
CREDENTIAL_ROLE = "role"  # AssumeRole
CREDENTIAL_WEB_IDENTITY = "web-identity"  # AssumeRoleWithWebIdentity
CREDENTIAL_TYPES = (CREDENTIAL_SESSION, CREDENTIAL_ROLE, CREDENTIAL_WEB_IDENTITY)


@dataclass(frozen=True)
class SessionClaims:
    """Everything a session token asserts. Signed, so every field can be trusted once verified."""

    tenant_id: str
    credential_type: str
    principal_arn: str  # user ARN, or arn:...:sts::<tenant>:assumed-role/<role>/<session>
    source_arn: str  # the user or role whose policies apply
    principal_id: str  # unique id of that user or role
    userid: str  # aws:userid
    issued_at: int
    expires_at: int
    jti: str
    lineage: tuple[str, ...]  # unique ids of every user and role this session descends from
    user_name: str | None = None
    role_session_name: str | None = None
    mfa_time: int | None = None  # when a TOTP or recovery code was last verified for this chain
    mfa_device_id: str | None = None
    access_key_id: str | None = None
    source_identity: str | None = None
    session_tags: tuple[tuple[str, str], ...] = ()
    session_policies: tuple[str, ...] = ()  # policy JSON, compiled again (cached) on use
    federated_provider: str | None = None
    web_identity_keys: tuple[tuple[str, Any], ...] = ()
    not_before: int | None = None
    # jtis of the sessions this one was minted from (AssumeRole from a session, step-up), so that
    # revoking one session also ends every session derived from it (ROLE-06, JWT-09).
    ancestor_jtis: tuple[str, ...] = ()

    def to_payload(self, issuer: str, audience: str) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "iss": issuer, "aud": audience, "sub": self.principal_arn, "iat": self.issued_at,
            "nbf": self.not_before if self.not_before is not None else self.issued_at, "exp": self.expires_at,
            "jti": self.jti, "token_use": TOKEN_USE, "tid": self.tenant_id, "ctype": self.credential_type,
            "src": self.source_arn, "pid": self.principal_id, "uid": self.userid, "lin": list(self.lineage),
        }
        optional: dict[str, Any] = {
            "uname": self.user_name, "rsn": self.role_session_name, "mfa": self.mfa_time,
            "mfadev": self.mfa_device_id, "akid": self.access_key_id, "srcid": self.source_identity,
            "fed": self.federated_provider,
            "stags": dict(self.session_tags) if self.session_tags else None,
            "spol": list(self.session_policies) if self.session_policies else None,
            "wik": dict(self.web_identity_keys) if self.web_identity_keys else None,
            "ajti": list(self.ancestor_jtis) if self.ancestor_jtis else None,
        }
        payload.update({key: value for key, value in optional.items() if value is not None})
        return payload


def new_jti() -> str:
    return secrets.token_urlsafe(18)


class TokenCodec:
    def __init__(self, keys: KeyManager, clock: Clock, *, issuer: str, audience: str, leeway: int,
                 max_lifetime: int, max_bytes: int, verified_cache_size: int = 4096) -> None:
        self._keys = keys
        self._clock = clock
        self._issuer = issuer
        self._audience = audience
        self._leeway = leeway
        self._max_lifetime = max_lifetime
        self._max_bytes = max_bytes
        # Signature checks dominate per-request cost (~130 µs). A token whose exact bytes were
        # verified before keeps its verified claims here; every use still re-checks its key, its
        # times, and (in the caller) revocation and liveness, so nothing is trusted for longer
        # than before. Keyed by a hash so the cache holds no bearer tokens.
        self._verified: cachetools.LRUCache[bytes, tuple[str, dict[str, Any], SessionClaims]] = \
            cachetools.LRUCache(maxsize=verified_cache_size)
        self._verified_lock = threading.Lock()

    def mint(self, claims: SessionClaims) -> str:
        key = self._keys.active()
        token = jwt.encode(claims.to_payload(self._issuer, self._audience), key.private, algorithm=key.algorithm,
                           headers={"kid": key.kid, "typ": TOKEN_TYPE})
        if len(token) > self._max_bytes:
            raise PackedPolicyTooLarge(
                f"the session policies and tags make the token {len(token)} bytes; the limit is {self._max_bytes}")
        return token

    def verify(self, token: object) -> SessionClaims:
        if token is None or token == "" or token == b"":
            raise MissingToken("no session token was presented")
        if isinstance(token, bytes):
            if len(token) > self._max_bytes:
                raise InvalidToken(f"the token is larger than {self._max_bytes} bytes")
            try:
                token = token.decode("ascii")
            except UnicodeDecodeError:
                raise InvalidToken("the token is not ASCII") from None
        if not isinstance(token, str):
            raise InvalidToken("the token must be a string")
        if len(token) > self._max_bytes:
            raise InvalidToken(f"the token is larger than {self._max_bytes} bytes")
        if not _COMPACT.fullmatch(token):
            raise InvalidToken("the token is not a signed JWT in compact form (header.payload.signature)")
        digest = hashlib.sha256(token.encode("ascii")).digest()
        with self._verified_lock:
            cached = self._verified.get(digest)
        if cached is not None:
            kid, payload, claims = cached
            key = self._keys.lookup(kid)
            if key is None:
                raise InvalidToken("the token was signed with an unknown key")
            self._check_times(payload, key.retired_at)
            return claims
        claims, kid, payload = self._verify_signed(token)
        with self._verified_lock:
            self._verified[digest] = (kid, payload, claims)
        return claims

    def _verify_signed(self, token: str) -> tuple[SessionClaims, str, dict[str, Any]]:
        header = _read_header(token)
        extra = sorted(set(header) - _ALLOWED_HEADER_KEYS)
        if extra:
            raise InvalidToken(f"the token header has fields this verifier refuses: {', '.join(extra)}")
        if header.get("typ") != TOKEN_TYPE:
            raise InvalidToken(f"the token type must be {TOKEN_TYPE!r}")
        kid = header.get("kid")
        if not isinstance(kid, str) or not KID.fullmatch(kid):
            raise InvalidToken("the token header has no valid kid")
        key = self._keys.lookup(kid)
        if key is None:
            raise InvalidToken("the token was signed with an unknown key")
        if header.get("alg") != key.algorithm:
            raise InvalidToken("the token's algorithm does not match its key")
        try:
            payload = jwt.decode(
                token, key.public, algorithms=[key.algorithm], audience=self._audience, issuer=self._issuer,
                options={"require": list(REQUIRED_CLAIMS), "verify_exp": False, "verify_nbf": False,
                         "verify_iat": False, "strict_aud": True},
            )
        except jwt.InvalidTokenError as exc:
            raise InvalidToken(f"the token was refused: {type(exc).__name__}") from None
        except Exception:  # anything unexpected in verification refuses the token
            raise InvalidToken("the token could not be verified") from None
        if payload.get("iss") != self._issuer or payload.get("aud") != self._audience:
            raise InvalidToken("the token's issuer or audience is not this deployment's")
        if payload.get("token_use") != TOKEN_USE:
            raise InvalidToken("the token is not a session token")
        self._check_times(payload, key.retired_at)
        try:
            return _claims_from(payload), kid, payload
        except (KeyError, TypeError, ValueError):
            raise InvalidToken("the token's claims are malformed") from None

    def _check_times(self, payload: Mapping[str, Any], retired_at: float | None) -> None:
        times = {name: payload.get(name) for name in ("iat", "nbf", "exp")}
        for name, value in times.items():
            if not isinstance(value, int) or isinstance(value, bool):
                raise InvalidToken(f"the token's {name} must be an integer")
        now = self._clock.time()
        iat, nbf, exp = times["iat"], times["nbf"], times["exp"]
        assert isinstance(iat, int) and isinstance(nbf, int) and isinstance(exp, int)
        if exp <= iat or exp - iat > self._max_lifetime:
            raise InvalidToken("the token's lifetime is outside the allowed range")
        if iat > now + self._leeway or nbf > now + self._leeway:
            raise InvalidToken("the token is not valid yet")
        if now >= exp + self._leeway:
            raise ExpiredToken("the token has expired")
        if retired_at is not None and iat > retired_at + self._leeway:
            raise InvalidToken("the token was signed by a retired key after its retirement")


def _read_header(token: str) -> dict[str, Any]:
    segment = token.split(".", 1)[0]
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        header = json.loads(raw, object_pairs_hook=unique_members)
    except (binascii.Error, ValueError, RecursionError):
        raise InvalidToken("the token header is not valid base64url JSON") from None
    if not isinstance(header, dict):
        raise InvalidToken("the token header is not a JSON object")
    return header


def _text(payload: Mapping[str, Any], name: str, *, optional: bool = False) -> Any:
    value = payload.get(name)
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value:
        raise ValueError(name)
    return value


def _claims_from(payload: Mapping[str, Any]) -> SessionClaims:
    lineage = payload["lin"]
    if not isinstance(lineage, list) or not lineage or not all(isinstance(item, str) for item in lineage):
        raise ValueError("lin")
    credential_type = _text(payload, "ctype")
    if credential_type not in CREDENTIAL_TYPES:
        raise ValueError("ctype")
    tags = payload.get("stags") or {}
    policies = payload.get("spol") or []
    web_keys = payload.get("wik") or {}
    if not isinstance(tags, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in tags.items()):
        raise ValueError("stags")
    if not isinstance(policies, list) or not all(isinstance(item, str) for item in policies):
        raise ValueError("spol")
    if not isinstance(web_keys, dict) or not all(
            isinstance(value, str) or (isinstance(value, list) and all(isinstance(item, str) for item in value))
            for value in web_keys.values()):
        raise ValueError("wik")
    ancestors = payload.get("ajti") or []
    if not isinstance(ancestors, list) or not all(isinstance(item, str) and item for item in ancestors):
        raise ValueError("ajti")
    mfa = payload.get("mfa")
    if mfa is not None and (not isinstance(mfa, int) or isinstance(mfa, bool)):
        raise ValueError("mfa")
    return SessionClaims(
        tenant_id=_text(payload, "tid"), credential_type=credential_type,
        principal_arn=_text(payload, "sub"), source_arn=_text(payload, "src"),
        principal_id=_text(payload, "pid"), userid=_text(payload, "uid"),
        issued_at=payload["iat"], expires_at=payload["exp"], jti=_text(payload, "jti"),
        lineage=tuple(lineage), user_name=_text(payload, "uname", optional=True),
        role_session_name=_text(payload, "rsn", optional=True), mfa_time=mfa,
        mfa_device_id=_text(payload, "mfadev", optional=True), access_key_id=_text(payload, "akid", optional=True),
        source_identity=_text(payload, "srcid", optional=True), session_tags=tuple(sorted(tags.items())),
        session_policies=tuple(policies), federated_provider=_text(payload, "fed", optional=True),
        web_identity_keys=tuple(sorted((key, tuple(value) if isinstance(value, list) else value)
                                       for key, value in web_keys.items())),
        not_before=payload["nbf"], ancestor_jtis=tuple(ancestors),
    )


@dataclass(frozen=True)
class IssuedToken:
    """What an STS call returns: the token (a secret, kept out of repr) and when it expires."""

    token: str = field(repr=False)
    expires_at: int
    session_arn: str
    jti: str
