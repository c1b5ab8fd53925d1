"""AssumeRoleWithWebIdentity: tokens from a configured OpenID Connect issuer, keys generated here,
JWKS inline or fetched through an httpx MockTransport."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from iamguard.credentials import (
    AccessDenied,
    ConfigurationError,
    Credentials,
    ExpiredIdentityToken,
    IdpCommunicationError,
    InvalidIdentityToken,
    OidcIssuer,
)
from iamguard.credentials.oidc_config import OidcIssuer as _OidcIssuer
from tests.credentials.conftest import TENANT, Env, build_env

ISSUER = "https://idp.example.com"
JWKS_URL = "https://idp.example.com/.well-known/jwks.json"
CLIENT = "my-app"
ROLE_ARN = f"arn:aws:iam::{TENANT}:role/web"
PROVIDER_ARN = f"arn:aws:iam::{TENANT}:oidc-provider/idp.example.com"


class Idp:
    """A tiny identity provider: an RSA key and an EC key, published as a JWKS."""

    def __init__(self) -> None:
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ec = ec.generate_private_key(ec.SECP256R1())
        self.fetches = 0

    def jwks(self) -> dict[str, Any]:
        rsa_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.rsa.public_key()))
        ec_jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(self.ec.public_key()))
        return {"keys": [{**rsa_jwk, "kid": "rsa-1", "use": "sig", "alg": "RS256"}, {**ec_jwk, "kid": "ec-1"}]}

    def transport(self) -> httpx.MockTransport:
        def handler(request: httpx.Request) -> httpx.Response:
            assert str(request.url) == JWKS_URL  # only ever the configured URL
            self.fetches += 1
            return httpx.Response(200, json=self.jwks())

        return httpx.MockTransport(handler)

    def token(self, now: float, *, kid: str = "rsa-1", alg: str = "RS256", headers: dict[str, Any] | None = None,
              drop: tuple[str, ...] = (), **claims: Any) -> str:
        payload: dict[str, Any] = {"iss": ISSUER, "aud": CLIENT, "sub": "user-123", "iat": int(now),
                                   "exp": int(now) + 600, "amr": ["pwd", "mfa"]}
        payload.update(claims)
        for name in drop:
            payload.pop(name)
        key = self.rsa if alg.startswith(("RS", "PS")) else self.ec
        return jwt.encode(payload, key, algorithm=alg, headers={"kid": kid, **(headers or {})})


def web_trust(principal: str = PROVIDER_ARN, condition: Any = None) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": "Allow", "Principal": {"Federated": principal},
                                 "Action": "sts:AssumeRoleWithWebIdentity"}
    statement["Condition"] = condition or {"StringEquals": {"idp.example.com:aud": CLIENT}}
    return {"Version": "2012-10-17", "Statement": [statement]}


@pytest.fixture
def idp() -> Idp:
    return Idp()


def env_with(tmp_path: Path, idp: Idp, *, inline: bool = False, **issuer: Any) -> Env:
    source = {"jwks": idp.jwks()} if inline else {"jwks_url": JWKS_URL}
    config = OidcIssuer(ISSUER, issuer.pop("audiences", (CLIENT,)), **source, **issuer)
    env = build_env("memory", tmp_path, oidc_issuers=(config,))
    if not inline:
        env.creds = Credentials(env.directory, clock=env.clock, http_client=httpx.Client(transport=idp.transport()),
                                **env.settings)
    return env


def test_web_identity_session_with_fetched_and_cached_keys(tmp_path: Path, idp: Idp) -> None:
    env = env_with(tmp_path, idp)
    env.directory.create_role("web", web_trust(), tags={"app": "portal"})
    env.directory.put_role_policy("web", "own-prefix", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject",
         "Resource": "arn:aws:s3:::bucket/${idp.example.com:sub}/*"}]})
    issued = env.creds.assume_role_with_web_identity(ROLE_ARN, "web-1", idp.token(env.clock.time()))
    session = env.creds.authenticate(issued.token)
    assert session.principal_arn == f"arn:aws:sts::{TENANT}:assumed-role/web/web-1"
    context = session.context(env.clock.now())
    assert context["idp.example.com:sub"] == "user-123" and context["idp.example.com:aud"] == CLIENT
    assert context["idp.example.com:amr"] == ["pwd", "mfa"]
    assert context["aws:FederatedProvider"] == PROVIDER_ARN
    assert context["aws:MultiFactorAuthPresent"] is False and context["aws:PrincipalTag/app"] == "portal"
    assert env.creds.authorize(session, "s3:GetObject", "arn:aws:s3:::bucket/user-123/a").allowed
    assert not env.creds.authorize(session, "s3:GetObject", "arn:aws:s3:::bucket/user-999/a").allowed
    env.creds.assume_role_with_web_identity(ROLE_ARN, "web-2", idp.token(env.clock.time(), kid="ec-1", alg="ES256"))
    assert idp.fetches == 1  # cached
    env.clock.advance(3601)
    env.creds.assume_role_with_web_identity(ROLE_ARN, "web-3", idp.token(env.clock.time()))
    assert idp.fetches == 2  # refreshed after the configured time


def test_trust_may_name_the_issuer_host(tmp_path: Path, idp: Idp) -> None:
    env = env_with(tmp_path, idp, inline=True)
    env.directory.create_role("web", web_trust("idp.example.com"))
    env.creds.assume_role_with_web_identity(ROLE_ARN, "web-1", idp.token(env.clock.time()))


def test_trust_conditions_on_claims(tmp_path: Path, idp: Idp) -> None:
    env = env_with(tmp_path, idp, inline=True)
    env.directory.create_role("web", web_trust(condition={"StringEquals": {
        "idp.example.com:aud": CLIENT, "idp.example.com:sub": "user-123"}}))
    env.creds.assume_role_with_web_identity(ROLE_ARN, "web-1", idp.token(env.clock.time()))
    with pytest.raises(AccessDenied):
        env.creds.assume_role_with_web_identity(ROLE_ARN, "web-1", idp.token(env.clock.time(), sub="user-9"))


def test_azp_becomes_aud_and_aud_becomes_oaud(tmp_path: Path, idp: Idp) -> None:
    env = env_with(tmp_path, idp, inline=True)
    env.directory.create_role("web", web_trust(condition={"StringEquals": {
        "idp.example.com:aud": "service-account-7", "idp.example.com:oaud": CLIENT}}))
    env.creds.assume_role_with_web_identity(ROLE_ARN, "web-1", idp.token(env.clock.time(), azp="service-account-7"))


def test_a_trust_deny_on_either_name_wins(tmp_path: Path, idp: Idp) -> None:
    env = env_with(tmp_path, idp, inline=True)
    document = web_trust()
    document["Statement"].append({"Effect": "Deny", "Principal": {"Federated": "idp.example.com"},
                                  "Action": "sts:AssumeRoleWithWebIdentity"})
    env.directory.create_role("web", document)
    with pytest.raises(AccessDenied):
        env.creds.assume_role_with_web_identity(ROLE_ARN, "web-1", idp.token(env.clock.time()))


def test_role_trusting_users_only_refuses_web_identities(tmp_path: Path, idp: Idp) -> None:
    env = env_with(tmp_path, idp, inline=True)
    env.directory.create_role("web", {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{TENANT}:root"}, "Action": "sts:AssumeRole"}]})
    with pytest.raises(AccessDenied):
        env.creds.assume_role_with_web_identity(ROLE_ARN, "web-1", idp.token(env.clock.time()))


@pytest.mark.parametrize(("change", "error"), [
    ({"aud": "other-app"}, InvalidIdentityToken),
    ({"iss": "https://evil.example.com"}, InvalidIdentityToken),
    ({"iss": "https://idp.example.com/"}, InvalidIdentityToken),
    ({"drop": ("sub",)}, InvalidIdentityToken),
    ({"drop": ("exp",)}, InvalidIdentityToken),
    ({"drop": ("iat",)}, InvalidIdentityToken),
    ({"sub": ""}, InvalidIdentityToken),
    ({"kid": "unknown"}, InvalidIdentityToken),
    ({"alg": "RS512"}, InvalidIdentityToken),  # not in this issuer's allowlist
    ({"kid": "ec-1", "alg": "RS256"}, InvalidIdentityToken),  # algorithm does not fit the key
    ({"headers": {"jku": "https://evil.example.com/jwks"}}, InvalidIdentityToken),
    ({"headers": {"jwk": {"kty": "RSA"}}}, InvalidIdentityToken),
    ({"headers": {"crit": ["exp"]}}, InvalidIdentityToken),
])
def test_bad_web_identity_tokens(tmp_path: Path, idp: Idp, change: dict[str, Any], error: type[Exception]) -> None:
    env = env_with(tmp_path, idp)
    env.directory.create_role("web", web_trust())
    options = dict(change)
    token = idp.token(env.clock.time(), **options)
    with pytest.raises(error):
        env.creds.assume_role_with_web_identity(ROLE_ARN, "web-1", token)
    assert idp.fetches <= 1  # an unknown kid or a jku header never triggers another fetch


def test_expired_and_future_tokens(tmp_path: Path, idp: Idp) -> None:
    env = env_with(tmp_path, idp, inline=True)
    env.directory.create_role("web", web_trust())
    now = env.clock.time()
    with pytest.raises(ExpiredIdentityToken):
        env.creds.assume_role_with_web_identity(ROLE_ARN, "web-1", idp.token(now - 1200))
    with pytest.raises(InvalidIdentityToken):
        env.creds.assume_role_with_web_identity(ROLE_ARN, "web-1", idp.token(now + 600))
    with pytest.raises(InvalidIdentityToken):
        env.creds.assume_role_with_web_identity(ROLE_ARN, "web-1", idp.token(now, exp=int(now) + 10 * 86400))


def test_hs256_and_none_from_an_issuer_are_refused(tmp_path: Path, idp: Idp) -> None:
    env = env_with(tmp_path, idp, inline=True)
    env.directory.create_role("web", web_trust())
    payload = {"iss": ISSUER, "aud": CLIENT, "sub": "u", "iat": int(env.clock.time()),
               "exp": int(env.clock.time()) + 60}
    hs = jwt.encode(payload, "x" * 32, algorithm="HS256", headers={"kid": "rsa-1"})
    with pytest.raises(InvalidIdentityToken):
        env.creds.assume_role_with_web_identity(ROLE_ARN, "web-1", hs)
    unsigned = jwt.encode(payload, None, algorithm="none", headers={"kid": "rsa-1"})
    with pytest.raises(InvalidIdentityToken):
        env.creds.assume_role_with_web_identity(ROLE_ARN, "web-1", unsigned)


def test_oversized_or_malformed_web_tokens(tmp_path: Path, idp: Idp) -> None:
    env = env_with(tmp_path, idp, inline=True)
    env.directory.create_role("web", web_trust())
    big = idp.token(env.clock.time(), padding="x" * 9000)
    for token in (big, "", "a.b", None, "a.b.c"):
        with pytest.raises(InvalidIdentityToken):
            env.creds.assume_role_with_web_identity(ROLE_ARN, "web-1", token)  # type: ignore[arg-type]


def test_jwks_fetch_failure_refuses(tmp_path: Path, idp: Idp) -> None:
    env = env_with(tmp_path, idp)
    env.directory.create_role("web", web_trust())
    for answer in (httpx.Response(500), httpx.Response(200, content=b"not json"),
                   httpx.Response(200, json={"keys": "none"}), httpx.Response(200, content=b"{" * 70000)):
        client = httpx.Client(transport=httpx.MockTransport(lambda request, _answer=answer: _answer))
        creds = Credentials(env.directory, clock=env.clock, http_client=client, **env.settings)
        with pytest.raises(IdpCommunicationError):
            creds.assume_role_with_web_identity(ROLE_ARN, "web-1", idp.token(env.clock.time()))


def test_web_identity_duration_follows_the_role(tmp_path: Path, idp: Idp) -> None:
    env = env_with(tmp_path, idp, inline=True)
    env.directory.create_role("web", web_trust(), max_session_duration=3600)
    with pytest.raises(Exception) as raised:
        env.creds.assume_role_with_web_identity(ROLE_ARN, "web-1", idp.token(env.clock.time()), duration=3601)
    assert getattr(raised.value, "code", None) == "ValidationError"


@pytest.mark.parametrize("settings", [
    {"issuer": "http://idp.example.com", "audiences": ("a",), "jwks": {"keys": []}},
    {"issuer": "https://idp.example.com:8443", "audiences": ("a",), "jwks": {"keys": []}},
    {"issuer": "https://idp.example.com", "audiences": (), "jwks": {"keys": []}},
    {"issuer": "https://idp.example.com", "audiences": ("a",)},
    {"issuer": "https://idp.example.com", "audiences": ("a",), "jwks_url": "http://idp.example.com/jwks"},
    {"issuer": "https://idp.example.com", "audiences": ("a",), "jwks": {"keys": []}, "algorithms": ("HS256",)},
    {"issuer": "https://idp.example.com", "audiences": ("a",), "jwks": {"keys": []}, "algorithms": ("none",)},
])
def test_unsafe_issuer_configuration_is_refused(settings: dict[str, Any]) -> None:
    issuer = settings.pop("issuer")
    audiences = settings.pop("audiences")
    with pytest.raises(ConfigurationError):
        _OidcIssuer(issuer, audiences, **settings)


def test_web_identity_sessions_are_hashable_values(tmp_path: Path, idp: Idp) -> None:
    env = env_with(tmp_path, idp, inline=True)
    env.directory.create_role("web", web_trust())
    issued = env.creds.assume_role_with_web_identity(ROLE_ARN, "web-1", idp.token(env.clock.time()))
    session = env.creds.authenticate(issued.token)
    assert dict(session.web_identity_keys)["idp.example.com:amr"] == ("pwd", "mfa")
    assert hash(session) == hash(env.creds.authenticate(issued.token))
