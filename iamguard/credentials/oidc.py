"""Verification of OpenID Connect tokens from configured external issuers (web identity).

- The issuer is chosen by exact match of the token's `iss` against the configuration; that
  unverified value is used for nothing else (JWT-11).
- Keys come from the issuer's configured JWKS, inline or fetched with httpx from the configured
  URL and cached for the configured time. A token can never cause a fetch from a URL of its
  choosing: `jku`, `x5u`, `jwk`, `x5c` and `crit` headers are refused, and an unknown `kid` is
  simply refused (no refetch on demand). The fetch follows no redirect, stops reading past
  MAX_JWKS_BYTES, and after a failure is not retried for FETCH_RETRY_SECONDS (requests meanwhile
  fail as IdpCommunicationError; nothing is cached as a decision). JWKS entries that are not
  signature keys (`use`/`key_ops`) or are RSA keys below 2048 bits are ignored.
- Algorithms are asymmetric only, from the issuer's allowlist, and must fit the key's type (and
  equal the key's `alg` when the JWK declares one).
- `iss` exact, `aud` one of the configured client ids, `exp`, `iat` and `sub` required, times
  checked against the injected clock with the configured leeway, lifetime capped at 24 hours.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import jwt

from iamguard.clock import Clock
from iamguard.credentials.errors import ExpiredIdentityToken, IdpCommunicationError, InvalidIdentityToken
from iamguard.credentials.oidc_config import OidcIssuer
from iamguard.policy.jsondoc import unique_members

MAX_TOKEN_BYTES = 8192
MAX_JWKS_BYTES = 64 * 1024
MAX_TOKEN_LIFETIME = 86400
MIN_RSA_BITS = 2048
# After a failed JWKS fetch, requests for that issuer are refused without another fetch for this
# long: an unreachable IdP must not cost every request (serialized behind the lock) a full timeout.
FETCH_RETRY_SECONDS = 10.0
_COMPACT = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+", re.ASCII)
_ALLOWED_HEADER_KEYS = frozenset({"alg", "kid", "typ"})
_KID = re.compile(r"[\x21-\x7e]{1,256}", re.ASCII)


def _compatible(jwk: Mapping[str, Any], algorithm: str) -> bool:
    kty, crv = jwk.get("kty"), jwk.get("crv")
    if kty == "RSA":
        return algorithm[:2] in ("RS", "PS")
    if kty == "EC":
        return (crv, algorithm) in (("P-256", "ES256"), ("P-384", "ES384"))
    if kty == "OKP":
        return crv == "Ed25519" and algorithm == "EdDSA"
    return False  # "oct" (symmetric) keys are never accepted from an external issuer


@dataclass(frozen=True)
class VerifiedIdentity:
    issuer: OidcIssuer
    claims: Mapping[str, Any]

    def condition_keys(self) -> dict[str, Any]:
        """The provider's keys as IAM names them: `<issuer host and path>:sub`, `:aud` (the `azp`
        claim when present, IAM's rule, with the token's `aud` then under `:oaud`), `:amr`."""
        prefix = self.issuer.key_prefix
        claims = self.claims
        keys: dict[str, Any] = {f"{prefix}:sub": claims["sub"]}
        audience = claims["aud"]
        if isinstance(audience, list):
            audience = next((item for item in audience if item in self.issuer.audiences), audience[0])
        if isinstance(claims.get("azp"), str):
            keys[f"{prefix}:aud"] = claims["azp"]
            keys[f"{prefix}:oaud"] = audience
        else:
            keys[f"{prefix}:aud"] = audience
        amr = claims.get("amr")
        if isinstance(amr, list) and all(isinstance(item, str) for item in amr):
            keys[f"{prefix}:amr"] = tuple(amr)
        elif isinstance(amr, str):
            keys[f"{prefix}:amr"] = amr
        return keys


class _KeySet:
    def __init__(self, keys: dict[str, tuple[Mapping[str, Any], str | None]], expires_at: float) -> None:
        self.keys = keys  # kid -> (jwk, declared alg)
        self.expires_at = expires_at


class OidcVerifier:
    def __init__(self, issuers: tuple[OidcIssuer, ...], clock: Clock, *, leeway: int,
                 http_client: httpx.Client | None = None) -> None:
        self._issuers = {issuer.issuer: issuer for issuer in issuers}
        self._clock = clock
        self._leeway = leeway
        self._http = http_client
        self._cache: dict[str, _KeySet] = {}
        self._failed_until: dict[str, float] = {}
        self._lock = threading.Lock()

    @property
    def issuers(self) -> tuple[OidcIssuer, ...]:
        return tuple(self._issuers.values())

    def verify(self, token: object) -> VerifiedIdentity:
        if not isinstance(token, str) or not token:
            raise InvalidIdentityToken("WebIdentityToken must be a non-empty string")
        if len(token) > MAX_TOKEN_BYTES:
            raise InvalidIdentityToken(f"WebIdentityToken is larger than {MAX_TOKEN_BYTES} bytes")
        if not _COMPACT.fullmatch(token):
            raise InvalidIdentityToken("WebIdentityToken is not a signed JWT in compact form")
        header_segment, payload_segment, _ = token.split(".")
        header = _decode_segment(header_segment, "header")
        extra = sorted(set(header) - _ALLOWED_HEADER_KEYS)
        if extra:
            raise InvalidIdentityToken(f"the token header has fields this verifier refuses: {', '.join(extra)}")
        typ = header.get("typ")
        if typ is not None and (not isinstance(typ, str) or typ.upper() != "JWT"):
            raise InvalidIdentityToken("the token type must be JWT")
        # The unverified issuer only picks one of the configured issuers; nothing else is read.
        claimed = _decode_segment(payload_segment, "payload").get("iss")
        issuer = self._issuers.get(claimed) if isinstance(claimed, str) else None
        if issuer is None:
            raise InvalidIdentityToken("the token's issuer is not a configured identity provider")
        algorithm = header.get("alg")
        if not isinstance(algorithm, str) or algorithm not in issuer.algorithms:
            raise InvalidIdentityToken("the token's algorithm is not allowed for this issuer")
        kid = header.get("kid")
        if not isinstance(kid, str) or not _KID.fullmatch(kid):
            raise InvalidIdentityToken("the token header has no valid kid")
        entry = self._key_set(issuer).keys.get(kid)
        if entry is None:
            raise InvalidIdentityToken("the token was signed with a key the issuer does not publish")
        jwk, declared = entry
        if (declared is not None and declared != algorithm) or not _compatible(jwk, algorithm):
            raise InvalidIdentityToken("the token's algorithm does not match the issuer's key")
        try:
            key = jwt.PyJWK(dict(jwk), algorithm=algorithm).key
            claims = jwt.decode(
                token, key, algorithms=[algorithm], audience=list(issuer.audiences), issuer=issuer.issuer,
                options={"require": ["exp", "iat", "iss", "sub", "aud"], "verify_exp": False,
                         "verify_nbf": False, "verify_iat": False},
            )
        except jwt.PyJWTError as exc:
            raise InvalidIdentityToken(f"the token was refused: {type(exc).__name__}") from None
        except Exception:  # anything unexpected refuses the token
            raise InvalidIdentityToken("the token could not be verified") from None
        self._check_claims(issuer, claims)
        return VerifiedIdentity(issuer, claims)

    def _check_claims(self, issuer: OidcIssuer, claims: Mapping[str, Any]) -> None:
        if claims.get("iss") != issuer.issuer:
            raise InvalidIdentityToken("the token's issuer does not match")
        subject = claims.get("sub")
        if not isinstance(subject, str) or not 1 <= len(subject) <= 255:
            raise InvalidIdentityToken("the token's sub must be a string of 1 to 255 characters")
        times = {name: claims.get(name) for name in ("iat", "exp", "nbf")}
        for name, value in times.items():
            if value is None and name == "nbf":
                continue
            # NaN compares false with everything, so it would slip past every check below.
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise InvalidIdentityToken(f"the token's {name} must be a finite number")
        now = self._clock.time()
        iat, exp, nbf = float(times["iat"]), float(times["exp"]), times["nbf"]  # type: ignore[arg-type]
        if exp <= iat or exp - iat > MAX_TOKEN_LIFETIME:
            raise InvalidIdentityToken("the token's lifetime is outside the allowed range")
        if iat > now + self._leeway or (nbf is not None and float(nbf) > now + self._leeway):
            raise InvalidIdentityToken("the token is not valid yet")
        if now >= exp + self._leeway:
            raise ExpiredIdentityToken("the web identity token has expired")

    # keys

    def _key_set(self, issuer: OidcIssuer) -> _KeySet:
        now = self._clock.time()
        cached = self._cache.get(issuer.issuer)
        if cached is not None and now < cached.expires_at:
            return cached
        with self._lock:
            cached = self._cache.get(issuer.issuer)
            if cached is not None and now < cached.expires_at:
                return cached
            if issuer.jwks is not None:
                keys = _read_jwks(json.loads(issuer.jwks), issuer)
            else:
                if now < self._failed_until.get(issuer.issuer, -math.inf):
                    raise IdpCommunicationError(f"the JWKS of {issuer.issuer} is unavailable (recent fetch failed)")
                try:
                    keys = _read_jwks(self._fetch(issuer), issuer)
                except IdpCommunicationError:
                    self._failed_until[issuer.issuer] = now + FETCH_RETRY_SECONDS
                    raise
                self._failed_until.pop(issuer.issuer, None)
            expires = float("inf") if issuer.jwks is not None else now + issuer.jwks_cache_seconds
            key_set = _KeySet(keys, expires)
            self._cache[issuer.issuer] = key_set
            return key_set

    def refresh(self) -> None:
        """Drop cached JWKS documents; each is fetched again on next use."""
        with self._lock:
            self._cache.clear()
            self._failed_until.clear()

    def _fetch(self, issuer: OidcIssuer) -> Any:
        assert issuer.jwks_url is not None
        client = self._http or httpx.Client(timeout=5.0, follow_redirects=False)
        try:
            # Redirects are refused whatever the injected client's setting (no hop to http or another
            # host), and the body is read in chunks so an oversized answer is dropped at the limit.
            with client.stream("GET", issuer.jwks_url, headers={"Accept": "application/json"},
                               follow_redirects=False) as response:
                if response.status_code != 200:
                    raise IdpCommunicationError(f"the JWKS of {issuer.issuer} answered HTTP {response.status_code}")
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > MAX_JWKS_BYTES:
                        raise IdpCommunicationError(
                            f"the JWKS of {issuer.issuer} is larger than {MAX_JWKS_BYTES} bytes")
            return json.loads(bytes(body))
        except IdpCommunicationError:
            raise
        except (httpx.HTTPError, ValueError, RecursionError) as exc:
            raise IdpCommunicationError(f"cannot fetch the JWKS of {issuer.issuer}: {type(exc).__name__}") from None
        finally:
            if self._http is None:
                client.close()


def _read_jwks(document: Any, issuer: OidcIssuer) -> dict[str, tuple[Mapping[str, Any], str | None]]:
    if not isinstance(document, Mapping) or not isinstance(document.get("keys"), list):
        raise IdpCommunicationError(f"the JWKS of {issuer.issuer} is not a JSON object with a keys list")
    keys: dict[str, tuple[Mapping[str, Any], str | None]] = {}
    for jwk in document["keys"]:
        if not isinstance(jwk, Mapping) or not isinstance(jwk.get("kid"), str):
            continue
        if jwk.get("use") not in (None, "sig") or jwk.get("kty") not in ("RSA", "EC", "OKP"):
            continue
        key_ops = jwk.get("key_ops")
        if key_ops is not None and (not isinstance(key_ops, list) or "verify" not in key_ops):
            continue
        if jwk["kty"] == "RSA" and _rsa_bits(jwk.get("n")) < MIN_RSA_BITS:
            continue
        declared = jwk.get("alg")
        if declared is not None and declared not in issuer.algorithms:
            continue
        keys[jwk["kid"]] = (dict(jwk), declared if isinstance(declared, str) else None)
    return keys


def _rsa_bits(modulus: object) -> int:
    """The bit length of a JWK's base64url modulus; 0 when it is not one."""
    if not isinstance(modulus, str) or len(modulus) > 2048:
        return 0
    try:
        raw = base64.urlsafe_b64decode(modulus + "=" * (-len(modulus) % 4))
    except (binascii.Error, ValueError):
        return 0
    return int.from_bytes(raw, "big").bit_length()


def _decode_segment(segment: str, what: str) -> dict[str, Any]:
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        # Duplicate names are refused (POL-08): pyjwt and most readers keep the last value, others
        # the first, so the claims this verifier checks may not be the claims another reads.
        value = json.loads(raw, object_pairs_hook=unique_members)
    except (binascii.Error, ValueError, RecursionError):
        raise InvalidIdentityToken(f"the token {what} is not valid base64url JSON with unique names") from None
    if not isinstance(value, dict):
        raise InvalidIdentityToken(f"the token {what} is not a JSON object")
    return value
