"""Session-token verification against forged, altered and misused tokens (JWT-01 .. JWT-12)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from iamguard.credentials import (
    ConfigurationError,
    Credentials,
    ExpiredToken,
    InvalidToken,
    MissingToken,
    RevokedToken,
    TokenError,
)
from iamguard.credentials.signing import check_hmac_secret
from iamguard.credentials.tokens import TOKEN_TYPE
from iamguard.directory import Directory
from tests.credentials.conftest import TENANT, Env, build_env, cheap_settings


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def segments(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    header, payload, _ = token.split(".")
    return (json.loads(base64.urlsafe_b64decode(header + "==")),
            json.loads(base64.urlsafe_b64decode(payload + "==")))


def hand_signed(header: dict[str, Any], payload: dict[str, Any], hmac_key: bytes | None = None,
                signature: bytes = b"") -> str:
    """A token built by hand, HMAC-signed with an arbitrary key (pyjwt refuses key-like secrets)."""
    signing_input = b64(json.dumps(header).encode()) + "." + b64(json.dumps(payload).encode())
    if hmac_key is not None:
        signature = hmac.new(hmac_key, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64(signature)


@pytest.fixture
def issued(mem_env: Env) -> tuple[Env, str]:
    key = mem_env.user_with_key()
    return mem_env, mem_env.creds.get_session_token(key).token


def resign(env: Env, token: str, *, header: dict[str, Any] | None = None, drop: tuple[str, ...] = (),
           **claims: Any) -> str:
    """The token with some claims changed, properly signed with the deployment's active key."""
    old_header, payload = segments(token)
    payload.update(claims)
    for name in drop:
        payload.pop(name, None)
    key = env.creds._keys.active()
    assert key.algorithm == "EdDSA"
    headers = {"alg": "EdDSA", "kid": old_header["kid"], "typ": TOKEN_TYPE, **(header or {})}
    headers = {name: value for name, value in headers.items() if value is not None}
    signing_input = b64(json.dumps(headers).encode()) + "." + b64(json.dumps(payload).encode())
    return signing_input + "." + b64(key.private.sign(signing_input.encode()))


def test_a_genuine_token_verifies(issued: tuple[Env, str]) -> None:
    env, token = issued
    session = env.creds.authenticate(token)
    assert session.principal_arn == f"arn:aws:iam::{TENANT}:user/alice"
    header, payload = segments(token)
    assert header["alg"] == "EdDSA" and header["typ"] == TOKEN_TYPE
    assert {"exp", "iat", "nbf", "iss", "aud", "sub", "jti", "token_use"} <= set(payload)


@pytest.mark.parametrize("value", [None, "", b""])
def test_no_token_is_missing_not_invalid(mem_env: Env, value: object) -> None:
    with pytest.raises(MissingToken) as raised:
        mem_env.creds.authenticate(value)
    assert raised.value.reason == "missing"


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
def test_alg_none_in_every_case_is_refused(issued: tuple[Env, str], alg: str) -> None:
    env, token = issued
    header, payload = segments(token)
    header["alg"] = alg
    for forged in (hand_signed(header, payload), hand_signed(header, payload, signature=b"x")):
        with pytest.raises(InvalidToken):
            env.creds.authenticate(forged)


def test_a_stripped_signature_is_refused(issued: tuple[Env, str]) -> None:
    env, token = issued
    with pytest.raises(InvalidToken):
        env.creds.authenticate(token.rsplit(".", 1)[0] + ".")


def test_a_token_signed_by_a_foreign_key_is_refused(issued: tuple[Env, str]) -> None:
    env, token = issued
    header, payload = segments(token)
    forged = jwt.encode(payload, Ed25519PrivateKey.generate(), algorithm="EdDSA", headers={
        "kid": header["kid"], "typ": TOKEN_TYPE})
    with pytest.raises(InvalidToken):
        env.creds.authenticate(forged)


def test_a_token_signed_with_another_algorithm_is_refused(issued: tuple[Env, str]) -> None:
    env, token = issued
    header, payload = segments(token)
    forged = jwt.encode(payload, ec.generate_private_key(ec.SECP256R1()), algorithm="ES256",
                        headers={"kid": header["kid"], "typ": TOKEN_TYPE})
    with pytest.raises(InvalidToken):
        env.creds.authenticate(forged)


def _public_forms(env: Env) -> dict[str, bytes]:
    public = env.creds._keys.active().public
    return {
        "raw": public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw),
        "pem": public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
        "der": public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo),
        "ssh": public.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH),
        "jwk": json.dumps(env.creds.jwks()["keys"][0]).encode(),
    }


@pytest.mark.parametrize("form", ["raw", "pem", "der", "ssh", "jwk"])
def test_hs256_signed_with_the_public_key_is_refused(issued: tuple[Env, str], form: str) -> None:
    env, token = issued
    header, payload = segments(token)
    header["alg"] = "HS256"
    forged = hand_signed(header, payload, hmac_key=_public_forms(env)[form])
    with pytest.raises(InvalidToken):
        env.creds.authenticate(forged)


def test_expiry_uses_the_injected_clock_and_the_leeway(issued: tuple[Env, str]) -> None:
    env, token = issued
    expires = segments(token)[1]["exp"]
    env.clock.set(expires + env.creds.config.leeway_seconds - 1)
    env.creds.authenticate(token)
    env.clock.set(expires + env.creds.config.leeway_seconds)
    with pytest.raises(ExpiredToken) as raised:
        env.creds.authenticate(token)
    assert raised.value.reason == "expired"


@pytest.mark.parametrize("claim", ["nbf", "iat"])
def test_a_token_from_the_future_is_refused(issued: tuple[Env, str], claim: str) -> None:
    env, token = issued
    now = int(env.clock.time())
    leeway = env.creds.config.leeway_seconds
    within = resign(env, token, **{claim: now + leeway})
    env.creds.authenticate(within)
    beyond = resign(env, token, **{claim: now + leeway + 1})
    with pytest.raises(InvalidToken):
        env.creds.authenticate(beyond)


@pytest.mark.parametrize(("claim", "value"), [
    ("aud", "another-service"), ("aud", ["iamguard"]), ("aud", ["iamguard", "other"]),
    ("iss", "iam"), ("iss", "iamguard2"), ("iss", "https://iamguard"), ("token_use", "refresh"),
    ("token_use", None), ("tid", "999988887777"), ("ctype", "admin"), ("lin", []),
    ("exp", "9999999999"), ("iat", 1.5), ("mfa", "yes"), ("stags", {"team": 1}),
])
def test_wrong_audience_issuer_purpose_or_claim_shapes_are_refused(issued: tuple[Env, str], claim: str,
                                                                   value: Any) -> None:
    env, token = issued
    with pytest.raises(InvalidToken):
        env.creds.authenticate(resign(env, token, **{claim: value}))


@pytest.mark.parametrize("claim", ["exp", "iat", "nbf", "iss", "aud", "sub", "jti", "token_use", "tid", "lin", "pid"])
def test_every_required_claim_must_be_present(issued: tuple[Env, str], claim: str) -> None:
    env, token = issued
    with pytest.raises(InvalidToken):
        env.creds.authenticate(resign(env, token, drop=(claim,)))


def test_lifetime_is_capped(issued: tuple[Env, str]) -> None:
    env, token = issued
    now = int(env.clock.time())
    too_long = resign(env, token, iat=now, nbf=now, exp=now + env.creds.config.max_token_lifetime + 1)
    with pytest.raises(InvalidToken):
        env.creds.authenticate(too_long)


@pytest.mark.parametrize("kid", ["unknown", "../../../dev/null", "' UNION SELECT 'k'--", "http://evil.example/k",
                                 "", 7])
def test_unknown_or_injected_kid_is_refused(issued: tuple[Env, str], kid: Any) -> None:
    env, token = issued
    with pytest.raises(InvalidToken):
        env.creds.authenticate(resign(env, token, header={"kid": kid}))


@pytest.mark.parametrize("extra", [
    {"crit": ["exp"]}, {"crit": ["b64"], "b64": False}, {"jku": "https://evil.example/jwks.json"},
    {"x5u": "https://evil.example/cert.pem"}, {"jwk": {"kty": "OKP", "crv": "Ed25519", "x": "AAAA"}},
    {"x5c": ["MIIB"]}, {"typ": "JWT"}, {"typ": "at+jwt"},
])
def test_refused_header_fields(issued: tuple[Env, str], extra: dict[str, Any]) -> None:
    env, token = issued
    with pytest.raises(InvalidToken):
        env.creds.authenticate(resign(env, token, header=extra))


def test_missing_typ_is_refused(issued: tuple[Env, str]) -> None:
    env, token = issued
    header, payload = segments(token)
    key = env.creds._keys.active()
    untyped = jwt.encode(payload, key.private, algorithm="EdDSA", headers={"kid": header["kid"], "typ": None})
    assert "typ" not in segments(untyped)[0]
    with pytest.raises(InvalidToken):
        env.creds.authenticate(untyped)


def test_oversized_tokens_are_refused_before_any_crypto(issued: tuple[Env, str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    env, token = issued
    big = resign(env, token, padding="x" * 9000)
    called: list[str] = []
    monkeypatch.setattr("iamguard.credentials.tokens.jwt.decode", lambda *a, **k: called.append("decode"))
    with pytest.raises(InvalidToken):
        env.creds.authenticate(big)
    with pytest.raises(InvalidToken):
        env.creds.authenticate(big.encode())
    assert called == []


@pytest.mark.parametrize("garbage", ["abc", "a.b", "a.b.c.d", "eyJ.eyJ.sig!", "\u00e9.a.b", "a..b", 42, ["x"]])
def test_malformed_tokens_are_invalid(mem_env: Env, garbage: Any) -> None:
    with pytest.raises(InvalidToken):
        mem_env.creds.authenticate(garbage)


def test_a_bad_signature_reads_nothing_keyed_on_its_claims(issued: tuple[Env, str],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    env, token = issued
    header, payload = segments(token)
    forged = jwt.encode(payload, Ed25519PrivateKey.generate(), algorithm="EdDSA",
                        headers={"kid": header["kid"], "typ": TOKEN_TYPE})
    lookups: list[str] = []
    for name in ("token_revoked", "sessions_not_before", "get_access_key", "get_mfa_device_by_id"):
        original = getattr(env.creds.store, name)
        monkeypatch.setattr(env.creds.store, name, lambda *a, _n=name, _o=original, **k: (lookups.append(_n),
                                                                                          _o(*a, **k))[1])
    monkeypatch.setattr(env.directory, "resolve", lambda *a, **k: lookups.append("resolve"))
    with pytest.raises(InvalidToken):
        env.creds.authenticate(forged)
    assert lookups == []


def test_tokens_issued_before_a_revocation_are_refused(issued: tuple[Env, str]) -> None:
    env, token = issued
    env.clock.advance(10)
    env.creds.revoke_sessions(f"arn:aws:iam::{TENANT}:user/alice")
    with pytest.raises(RevokedToken) as raised:
        env.creds.authenticate(token)
    assert raised.value.reason == "revoked"
    assert isinstance(raised.value, TokenError) and raised.value.status == 401


def test_a_token_for_another_tenant_is_refused(tmp_path: Path) -> None:
    env = build_env("memory", tmp_path)
    key = env.user_with_key()
    token = env.creds.get_session_token(key).token
    Directory.create_tenant(env.store, "444455556666", clock=env.clock)
    other = Directory(env.store, "444455556666", clock=env.clock)
    other.create_user("alice")
    other_creds = Credentials(other, clock=env.clock, **env.settings)
    with pytest.raises(InvalidToken):
        other_creds.authenticate(token)


# keys: rotation, JWKS, algorithms


def test_rotation_keeps_earlier_tokens_valid_until_they_expire(mem_env: Env) -> None:
    env = mem_env
    key = env.user_with_key()
    token = env.creds.get_session_token(key).token
    old_kid = segments(token)[0]["kid"]
    old_key = env.creds._keys.lookup(old_kid)
    assert old_key is not None
    new_kid = env.creds.rotate_signing_key()
    assert new_kid != old_kid
    assert {item["kid"] for item in env.creds.jwks()["keys"]} == {old_kid, new_kid}
    env.creds.authenticate(token)
    assert segments(env.creds.get_session_token(key).token)[0]["kid"] == new_kid
    # the retired key must not sign anything new
    env.clock.advance(120)
    now = int(env.clock.time())
    late = jwt.encode({**segments(token)[1], "iat": now, "nbf": now}, old_key.private, algorithm="EdDSA",
                      headers={"kid": old_kid, "typ": TOKEN_TYPE})
    with pytest.raises(InvalidToken):
        env.creds.authenticate(late)
    # once every token it signed has expired, the old key is pruned and unpublished
    env.clock.advance(env.creds.config.max_token_lifetime + 61)
    env.creds.rotate_signing_key()
    assert old_kid not in {item["kid"] for item in env.creds.jwks()["keys"]}
    assert env.creds._keys.lookup(old_kid) is None


def test_other_processes_see_a_rotation(env: Env) -> None:
    key = env.user_with_key()
    other = env.credentials()
    kid = env.creds.rotate_signing_key()
    token = other.get_session_token(key).token
    assert segments(token)[0]["kid"] == kid
    env.creds.authenticate(token)


def test_jwks_publishes_public_keys_only(mem_env: Env) -> None:
    document = mem_env.creds.jwks()
    assert len(document["keys"]) == 1
    published = document["keys"][0]
    assert published["kty"] == "OKP" and published["alg"] == "EdDSA" and published["use"] == "sig"
    assert "d" not in published


def test_es256_deployment(tmp_path: Path) -> None:
    env = build_env("memory", tmp_path, signing_algorithm="ES256")
    key = env.user_with_key()
    token = env.creds.get_session_token(key).token
    assert segments(token)[0]["alg"] == "ES256"
    assert env.creds.jwks()["keys"][0]["crv"] == "P-256"
    env.creds.authenticate(token)


def test_hs256_deployment_publishes_nothing_and_refuses_asymmetric_tokens(tmp_path: Path) -> None:
    secret = secrets.token_bytes(32)
    env = build_env("memory", tmp_path, signing_algorithm="HS256", hmac_secret=secret)
    key = env.user_with_key()
    token = env.creds.get_session_token(key).token
    assert segments(token)[0]["alg"] == "HS256"
    assert env.creds.jwks() == {"keys": []}
    assert env.creds.authenticate(token).user_name == "alice"
    header, payload = segments(token)
    forged = jwt.encode(payload, Ed25519PrivateKey.generate(), algorithm="EdDSA",
                        headers={"kid": header["kid"], "typ": TOKEN_TYPE})
    with pytest.raises(InvalidToken):
        env.creds.authenticate(forged)
    with pytest.raises(ConfigurationError):
        env.creds.rotate_signing_key()


def test_hs256_with_a_generated_secret_rotates(tmp_path: Path) -> None:
    env = build_env("memory", tmp_path, signing_algorithm="HS256")
    key = env.user_with_key()
    token = env.creds.get_session_token(key).token
    env.creds.rotate_signing_key()
    env.creds.authenticate(token)
    assert env.creds.jwks() == {"keys": []}


@pytest.mark.parametrize("secret", [
    b"short-secret",
    b"a" * 64,
    b"passwordpasswordpasswordpassword",
    b"-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA" + b"A" * 40 + b"\n-----END PUBLIC KEY-----\n",
    b'{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}',
    b"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE",
    Ed25519PrivateKey.generate().public_key().public_bytes(serialization.Encoding.DER,
                                                          serialization.PublicFormat.SubjectPublicKeyInfo),
    "text-not-bytes-" * 4,
])
def test_weak_or_key_like_hmac_secrets_are_refused(secret: Any) -> None:
    with pytest.raises(ConfigurationError):
        check_hmac_secret(secret)


def test_hmac_secret_requires_hs256_and_leeway_is_bounded(mem_env: Env) -> None:
    with pytest.raises(ConfigurationError):
        Credentials(mem_env.directory, hmac_secret=secrets.token_bytes(32))
    with pytest.raises(ConfigurationError):
        Credentials(mem_env.directory, leeway_seconds=61)
    with pytest.raises(ConfigurationError):
        Credentials(mem_env.directory, signing_algorithm="none")
    with pytest.raises(ConfigurationError):
        Credentials(mem_env.directory, signing_algorithm="RS256")
    Credentials(mem_env.directory, **cheap_settings(leeway_seconds=60))


def test_changing_the_algorithm_rotates_once_and_keeps_old_tokens(mem_env: Env) -> None:
    key = mem_env.user_with_key()
    old_token = mem_env.creds.get_session_token(key).token
    mem_env.clock.advance(10)
    switched = mem_env.credentials(signing_algorithm="ES256")  # a process started with the new setting
    new_token = switched.get_session_token(key).token
    assert segments(new_token)[0]["alg"] == "ES256"
    # a process still on the old setting signs with the newer key rather than rotating back
    assert segments(mem_env.creds.get_session_token(key).token)[0]["alg"] == "ES256"
    for facade in (mem_env.creds, switched):
        facade.authenticate(old_token)
        facade.authenticate(new_token)
    assert {item["alg"] for item in switched.jwks()["keys"]} == {"EdDSA", "ES256"}
    assert len(mem_env.creds.store.signing_keys()) == 2
