"""Configuration of one trusted external OpenID Connect issuer (web identity federation)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from iamguard.credentials.errors import ConfigurationError

# Asymmetric only: an external issuer never shares an HMAC secret with us, and "none" is never valid.
OIDC_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA")
# IAM builds condition keys as "<issuer host and path>:<claim>"; the policy parser accepts this
# character set in a key prefix, so an issuer outside it could never be named in a policy.
_KEY_PREFIX = re.compile(r"[A-Za-z0-9._\-/]+", re.ASCII)


@dataclass(frozen=True)
class OidcIssuer:
    """A trusted issuer: its exact `iss`, the audiences (client ids) we accept, and where its keys
    come from: an inline JWKS document, or an https URL fetched on first use and cached.

    Trust policies name it as `{"Federated": "<host and path>"}` (for example
    `idp.example.com`) or as the provider ARN `arn:aws:iam::<tenant>:oidc-provider/<host and path>`.
    """

    issuer: str
    audiences: tuple[str, ...]
    jwks: str | None = field(default=None, repr=False)
    jwks_url: str | None = None
    algorithms: tuple[str, ...] = ("RS256", "ES256", "EdDSA")
    jwks_cache_seconds: int = 3600

    def __init__(
        self,
        issuer: str,
        audiences: str | tuple[str, ...] | list[str],
        *,
        jwks: Mapping[str, Any] | str | None = None,
        jwks_url: str | None = None,
        algorithms: tuple[str, ...] | list[str] = ("RS256", "ES256", "EdDSA"),
        jwks_cache_seconds: int = 3600,
    ) -> None:
        setter = object.__setattr__
        setter(self, "issuer", issuer)
        setter(self, "audiences", (audiences,) if isinstance(audiences, str) else tuple(audiences))
        if isinstance(jwks, Mapping):
            jwks = json.dumps(jwks, sort_keys=True)
        setter(self, "jwks", jwks)
        setter(self, "jwks_url", jwks_url)
        setter(self, "algorithms", tuple(algorithms))
        setter(self, "jwks_cache_seconds", int(jwks_cache_seconds))
        self._check()

    def _check(self) -> None:
        parts = urlsplit(self.issuer)
        if parts.scheme != "https" or not parts.hostname or parts.query or parts.fragment or parts.port:
            raise ConfigurationError(
                f"OpenID Connect issuer {self.issuer!r} must be an https URL without port, query or fragment")
        if not _KEY_PREFIX.fullmatch(self.key_prefix):
            raise ConfigurationError(
                f"OpenID Connect issuer {self.issuer!r} has characters IAM condition keys cannot carry")
        if not self.audiences or not all(isinstance(a, str) and a for a in self.audiences):
            raise ConfigurationError(f"issuer {self.issuer!r}: give at least one audience (client id)")
        if (self.jwks is None) == (self.jwks_url is None):
            raise ConfigurationError(f"issuer {self.issuer!r}: give exactly one of jwks and jwks_url")
        if self.jwks_url is not None and urlsplit(self.jwks_url).scheme != "https":
            raise ConfigurationError(f"issuer {self.issuer!r}: jwks_url must be an https URL")
        unknown = [alg for alg in self.algorithms if alg not in OIDC_ALGORITHMS]
        if unknown or not self.algorithms:
            raise ConfigurationError(
                f"issuer {self.issuer!r}: algorithms must be chosen from {', '.join(OIDC_ALGORITHMS)}")
        if not 60 <= self.jwks_cache_seconds <= 86400:
            raise ConfigurationError(f"issuer {self.issuer!r}: jwks_cache_seconds must be between 60 and 86400")

    @property
    def key_prefix(self) -> str:
        """The issuer URL without its scheme: the prefix of its condition keys (`<prefix>:sub`)."""
        return self.issuer[len("https://"):]

    def provider_arn(self, partition: str, tenant_id: str) -> str:
        return f"arn:{partition}:iam::{tenant_id}:oidc-provider/{self.key_prefix}"
