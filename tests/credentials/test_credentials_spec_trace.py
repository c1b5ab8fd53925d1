"""Traceability tests for the security catalogue's JWT, KEY and MFA sections: the parts of an
item's expected behaviour that no other test shows end to end, each named after its item.

Most tests run the real `Credentials` behind the framework-neutral `Guard` or `AuthEndpoints`, so
they check what a client sees (status, challenge, body) and not only which exception is raised.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from secrets import token_bytes as random_bytes
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from iamguard.audit import MemorySink
from iamguard.credentials import (
    AccessKeyCredentials,
    Credentials,
    InvalidAuthenticationCode,
    InvalidClientTokenId,
    InvalidToken,
    Lockout,
    Throttled,
)
from iamguard.credentials.sealing import Sealer, SealError
from iamguard.store.database import StoreError
from iamguard.web import Guard, WebRequest, rule
from iamguard.web.endpoints import AuthEndpoints
from tests.credentials.conftest import TENANT, Env, build_env
from tests.credentials.test_credentials_tokens import b64, segments

ALICE = f"arn:aws:iam::{TENANT}:user/alice"
ORDER = "arn:app:orders::{tenant}:order/{order_id}"
ROUTES = [
    rule("orders:GetOrder", ORDER, methods="GET", path="/orders/{order_id}"),
    rule("orders:DeleteOrder", ORDER, methods="DELETE", path="/orders/{order_id}"),
    rule("orders:PurgeOrder", ORDER, methods="POST", path="/orders/{order_id}"),
]
# Reads freely; deletes only with an MFA at most 300 s old; never purges.
ORDERS_POLICY = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "orders:GetOrder", "Resource": "*"},
    {"Effect": "Allow", "Action": "orders:DeleteOrder", "Resource": "*",
     "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"},
                   "NumericLessThanEquals": {"aws:MultiFactorAuthAge": "300"}}},
    {"Effect": "Deny", "Action": "orders:PurgeOrder", "Resource": "*"},
]}


# ---- helpers ------------------------------------------------------------------------------------


def signing_input(header: dict[str, Any], payload: dict[str, Any]) -> str:
    return b64(json.dumps(header).encode()) + "." + b64(json.dumps(payload).encode())


def signed_by(env: Env, header: dict[str, Any], payload: dict[str, Any]) -> str:
    """Signed with the deployment's own active key: only the header decides whether it is refused."""
    key = env.creds._keys.active()
    assert key.algorithm == "EdDSA"
    text = signing_input(header, payload)
    return text + "." + b64(key.private.sign(text.encode()))


def hmac_signed(header: dict[str, Any], payload: dict[str, Any], secret: bytes) -> str:
    text = signing_input(header, payload)
    return text + "." + b64(hmac.new(secret, text.encode(), hashlib.sha256).digest())


def public_key_forms(env: Env) -> dict[str, bytes]:
    """The deployment's public key in every form a key-confusion forgery has used as an HMAC secret."""
    public = env.creds._keys.active().public
    return {
        "pem": public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
        "der": public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo),
        "ssh": public.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH),
        "jwk": json.dumps(env.creds.jwks()["keys"][0]).encode(),
    }


def get_order(token: str | None, method: str = "GET") -> WebRequest:
    headers = (("authorization", f"Bearer {token}"),) if token is not None else ()
    return WebRequest(method, "/orders/7", route="/orders/{order_id}", path_params={"order_id": "7"},
                      headers=headers, client="192.0.2.10")


def guard_for(env: Env, sink: MemorySink | None = None) -> Guard:
    return Guard(env.creds, tenant=TENANT, routes=ROUTES, audit=sink or MemorySink(), clock=env.clock,
                 step_up_endpoint="/auth/step-up", reuse_allows=False)


def post_json(call: Callable[..., Any], body: Any, token: str | None = None) -> tuple[int, dict[str, str], Any]:
    headers = [("content-type", "application/json")]
    if token is not None:
        headers.append(("authorization", f"Bearer {token}"))
    answer = call(headers, json.dumps(body).encode(), "192.0.2.10")
    return answer.status, dict(answer.headers), answer.json()


@pytest.fixture
def shop(mem_env: Env) -> tuple[Env, AccessKeyCredentials]:
    return mem_env, mem_env.user_with_key("alice", ORDERS_POLICY)


# ---- JWT-01 .. JWT-05: forged session tokens, as a client of the guard sees them -------------------


def _forgeries(env: Env, token: str) -> dict[str, str]:
    header, payload = segments(token)
    signing = signing_input(header, payload)
    forged = {f"JWT-01 alg {alg}": signing_input({**header, "alg": alg}, payload) + "."
              for alg in ("none", "None", "NONE", "nOnE")}
    forged["JWT-01 signature stripped"] = signing + "."
    for form, secret in public_key_forms(env).items():
        forged[f"JWT-02 HS256 keyed with the {form} public key"] = hmac_signed({**header, "alg": "HS256"}, payload,
                                                                               secret)
    foreign = Ed25519PrivateKey.generate()
    for name, extra in [("jku", "https://evil.example/jwks.json"), ("x5u", "https://evil.example/cert.pem"),
                        ("x5c", ["MIIB"]),
                        ("jwk", {"kty": "OKP", "crv": "Ed25519", "x": b64(foreign.public_key().public_bytes(
                            serialization.Encoding.Raw, serialization.PublicFormat.Raw))})]:
        forged[f"JWT-03 {name} header"] = signed_by(env, {**header, name: extra}, payload)
    for kid in ("../../../../dev/null", "' UNION SELECT 'k'--", "https://evil.example/k", "unknown-kid"):
        forged[f"JWT-04 kid {kid}"] = hmac_signed({**header, "alg": "HS256", "kid": kid}, payload, b"")
    forged["JWT-05 crit exp"] = signed_by(env, {**header, "crit": ["exp"]}, payload)
    forged["JWT-05 crit unknown"] = signed_by(env, {**header, "crit": ["urn:example:bind"],
                                                   "urn:example:bind": True}, payload)
    return forged


FORGERY_NAMES = [
    *(f"JWT-01 alg {alg}" for alg in ("none", "None", "NONE", "nOnE")), "JWT-01 signature stripped",
    *(f"JWT-02 HS256 keyed with the {form} public key" for form in ("pem", "der", "ssh", "jwk")),
    *(f"JWT-03 {name} header" for name in ("jku", "x5u", "x5c", "jwk")),
    *(f"JWT-04 kid {kid}" for kid in ("../../../../dev/null", "' UNION SELECT 'k'--", "https://evil.example/k",
                                      "unknown-kid")),
    "JWT-05 crit exp", "JWT-05 crit unknown",
]


@pytest.mark.parametrize("forgery", FORGERY_NAMES)
def test_jwt_01_to_05_forged_session_tokens_are_401_invalid_token(shop: tuple[Env, AccessKeyCredentials],
                                                                   forgery: str) -> None:
    env, key = shop
    token = env.creds.get_session_token(key).token
    sink = MemorySink()
    guard = guard_for(env, sink)
    assert guard.check_sync(get_order(token)).allowed  # the genuine token passes the same guard
    sink.clear()
    verdict = guard.check_sync(get_order(_forgeries(env, token)[forgery]))
    assert (verdict.allowed, verdict.status, verdict.reason) == (False, 401, "invalid_token")
    assert verdict.response is not None
    assert dict(verdict.response.headers)["www-authenticate"].startswith('Bearer error="invalid_token"')
    assert [(record.effect, record.reason) for record in sink.records] == [("Deny", "invalid_token")]


def test_jwt_03_a_token_naming_a_key_location_causes_no_outbound_request(mem_env: Env) -> None:
    requested: list[str] = []

    def record(request: httpx.Request) -> httpx.Response:
        requested.append(str(request.url))
        return httpx.Response(200, json={"keys": []})

    creds = Credentials(mem_env.directory, clock=mem_env.clock, http_client=httpx.Client(
        transport=httpx.MockTransport(record)), **mem_env.settings)
    key = mem_env.user_with_key()
    header, payload = segments(creds.get_session_token(key).token)
    for name, location in [("jku", "https://evil.example/jwks.json"), ("x5u", "https://evil.example/c.pem")]:
        with pytest.raises(InvalidToken):
            creds.authenticate(signed_by(mem_env, {**header, name: location}, payload))
        with pytest.raises(InvalidToken):  # an unknown kid beside it does not send the verifier anywhere either
            creds.authenticate(signed_by(mem_env, {**header, "kid": "rotated-in-elsewhere", name: location}, payload))
    assert requested == []


# ---- JWT-11: claims of a token that fails verification are not acted upon ---------------------------


def test_jwt_11_a_badly_signed_token_s_claims_reach_no_lookup_and_no_audit_field(
        shop: tuple[Env, AccessKeyCredentials], monkeypatch: pytest.MonkeyPatch) -> None:
    env, key = shop
    env.directory.create_user("victim")
    victim_arn = f"arn:aws:iam::{TENANT}:user/victim"
    header, payload = segments(env.creds.get_session_token(key).token)
    payload.update(sub=victim_arn, src=victim_arn, jti="attacker-chosen-jti", uname="victim")
    foreign = Ed25519PrivateKey.generate()
    text = signing_input(header, payload)
    forged = text + "." + b64(foreign.sign(text.encode()))
    looked_up: list[str] = []
    for name in ("resolve", "resolve_id", "get_user"):
        original = getattr(env.directory, name)
        monkeypatch.setattr(env.directory, name,
                            lambda *a, _n=name, _o=original, **k: (looked_up.append(_n), _o(*a, **k))[1])
    sink = MemorySink()
    verdict = guard_for(env, sink).check_sync(get_order(forged))
    assert (verdict.status, verdict.reason) == (401, "invalid_token")
    assert looked_up == []
    assert len(sink.records) == 1
    record = sink.records[0]
    assert (record.principal, record.session_id) == (None, None)
    line = record.to_json()
    assert victim_arn not in line and "attacker-chosen-jti" not in line and "victim" not in line


# ---- KEY-02: one answer for an unknown key id, a wrong secret and an inactive key -------------------


def test_key_02_unknown_wrong_and_inactive_keys_get_one_identical_http_answer(mem_env: Env) -> None:
    alice = mem_env.user_with_key("alice")
    bob = mem_env.user_with_key("bob")
    mem_env.creds.update_access_key(bob.access_key_id, "Inactive")
    endpoints = AuthEndpoints(mem_env.creds, source_limit=None)
    wrong_secret = alice.secret_access_key[:-1] + ("A" if alice.secret_access_key[-1] != "A" else "B")
    answers = [post_json(endpoints.token, {"access_key_id": key_id, "secret_access_key": secret})
               for key_id, secret in [("AKIAZZZZZZZZZZZZZZZZ", alice.secret_access_key),
                                      (alice.access_key_id, wrong_secret),
                                      (bob.access_key_id, bob.secret_access_key)]]
    assert answers[0][0] == 403 and answers[0][2]["error"] == "InvalidClientTokenId"
    assert answers[1] == answers[0] and answers[2] == answers[0]
    right = post_json(endpoints.token, {"access_key_id": alice.access_key_id,
                                        "secret_access_key": alice.secret_access_key})
    assert right[0] == 200 and right[2]["token_type"] == "Bearer"


# ---- KEY-05: session durations are validated, never stretched ----------------------------------------


@pytest.mark.parametrize(("duration", "status"), [
    (899, 400), (0, 400), (-1, 400), (43201, 400), (10**12, 400),
    ("3600", 400), (3600.5, 400), (True, 400), (900, 200), (43200, 200),
])
def test_key_05_requested_durations_out_of_range_are_400_at_the_token_endpoint(
        shop: tuple[Env, AccessKeyCredentials], duration: Any, status: int) -> None:
    env, key = shop
    endpoints = AuthEndpoints(env.creds, source_limit=None)
    answer = post_json(endpoints.token, {"access_key_id": key.access_key_id,
                                         "secret_access_key": key.secret_access_key, "duration_seconds": duration})
    assert answer[0] == status
    if status == 200:
        assert answer[2]["expires_in"] == duration  # exactly what was asked, never more
    else:
        assert "token" not in answer[2]


# ---- MFA-02: a store failure while consuming a code is 503, and the code is not spent ----------------


def test_mfa_02_a_store_error_while_consuming_a_code_is_503_not_a_wrong_code(
        env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    key = env.user_with_key()
    device = env.enabled_device()
    code = env.code(device)
    endpoints = AuthEndpoints(env.creds, source_limit=None)
    body = {"access_key_id": key.access_key_id, "secret_access_key": key.secret_access_key, "mfa_code": code}
    consume = env.creds.store.consume_totp_step

    def broken(*args: object) -> bool:
        raise StoreError("disk I/O error")

    monkeypatch.setattr(env.creds.store, "consume_totp_step", broken)
    status, headers, answer = post_json(endpoints.token, body)
    assert (status, answer["error"], headers.get("retry-after")) == (503, "ServiceUnavailable", "1")
    monkeypatch.setattr(env.creds.store, "consume_totp_step", consume)
    status, _, answer = post_json(endpoints.token, body)  # the code was never consumed
    assert status == 200 and env.creds.authenticate(answer["token"]).mfa_present


# ---- MFA-06: the step-up challenge, its remedy, and when it is not offered ---------------------------


def test_mfa_06_step_up_challenge_remedy_and_plain_403(shop: tuple[Env, AccessKeyCredentials]) -> None:
    env, key = shop
    device = env.enabled_device()
    guard = guard_for(env)
    plain = env.creds.get_session_token(key).token
    challenged = guard.check_sync(get_order(plain, "DELETE"))
    assert (challenged.status, challenged.reason) == (401, "mfa_required")
    assert challenged.response is not None
    header = dict(challenged.response.headers)["www-authenticate"]
    assert header.startswith('Bearer error="insufficient_user_authentication"') and "max_age=300" in header
    # The remedy: a step-up with a TOTP code gives a token the same request is allowed with.
    fresh = env.creds.step_up(plain, env.code(device)).token
    assert guard.check_sync(get_order(fresh, "DELETE")).allowed
    # max_age is checked against the signed MFA time: 301 s later the same token is challenged again.
    env.clock.advance(301)
    assert guard.check_sync(get_order(fresh, "DELETE")).reason == "mfa_required"
    # An action fresh MFA would not allow is a plain 403, never a step-up that cannot help.
    for token in (plain, fresh):
        refused = guard.check_sync(get_order(token, "POST"))
        assert (refused.status, refused.reason) == (403, "explicit_deny")


# ---- MFA-07: the MFA keys come from the signed MFA time and are never reset by a new session ---------


def test_mfa_07_mfa_age_follows_the_signed_time_through_derived_sessions(env: Env) -> None:
    key = env.user_with_key()
    env.directory.create_role("deploy", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": ALICE}, "Action": "sts:AssumeRole"}]})
    device = env.enabled_device()
    without = env.creds.authenticate(env.creds.get_session_token(key).token)
    context = env.creds.request_context(without, {"aws:MultiFactorAuthPresent": True, "aws:MultiFactorAuthAge": 0})
    assert context["aws:MultiFactorAuthPresent"] is False and "aws:MultiFactorAuthAge" not in context
    verified = env.creds.authenticate(env.creds.get_session_token(key, mfa_code=env.code(device)).token)
    env.clock.advance(600)
    # A role session minted from it later, without a new code, carries the original MFA time.
    role = env.creds.authenticate(env.creds.assume_role(f"arn:aws:iam::{TENANT}:role/deploy", "s1", verified).token)
    assert env.creds.request_context(role)["aws:MultiFactorAuthAge"] == 600
    assert env.creds.request_context(verified)["aws:MultiFactorAuthAge"] == 600
    # Only a new successful code moves it.
    stepped = env.creds.authenticate(env.creds.step_up(role, env.code(device)).token)
    assert env.creds.request_context(stepped)["aws:MultiFactorAuthAge"] == 0


# ---- MFA-08: a recovery code is consumed once, even by racing requests -------------------------------


def test_mfa_08_racing_one_recovery_code_succeeds_exactly_once(env: Env) -> None:
    key = env.user_with_key()
    device = env.enabled_device()
    code = env.creds.create_recovery_codes("alice", device.serial_number, env.code(device))[0]
    facades = [env.credentials() for _ in range(6)]
    barrier = threading.Barrier(len(facades))
    outcomes: list[str] = []
    lock = threading.Lock()

    def attempt(facade: Credentials) -> None:
        barrier.wait()
        try:
            facade.get_session_token(key, recovery_code=code)
            outcome = "ok"
        except (InvalidAuthenticationCode, Throttled):
            outcome = "refused"
        except Exception as exc:  # pragma: no cover - reported by the assertion below
            outcome = f"error {type(exc).__name__}"
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=attempt, args=(facade,)) for facade in facades]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["ok"] + ["refused"] * (len(facades) - 1)
    assert env.creds.recovery_codes_remaining("alice") == 9


# ---- JWT-12: the configured HS256 secret never shows --------------------------------------------------


def test_jwt_12_the_hs256_secret_appears_in_no_repr_error_or_token(tmp_path: Path) -> None:
    secret = random_bytes(32)
    env = build_env("memory", tmp_path, signing_algorithm="HS256", hmac_secret=secret)
    key = env.user_with_key()
    token = env.creds.get_session_token(key).token
    texts = [repr(env.creds), repr(env.creds.config), repr(env.creds._keys.active()), token,
             json.dumps(env.creds.jwks())]
    header, payload = segments(token)
    try:
        env.creds.authenticate(hmac_signed(header, {**payload, "sub": "x"}, secret[:-1] + b"\x00"))
    except InvalidToken as exc:
        texts.extend([str(exc), repr(exc)])
    else:  # pragma: no cover - a wrongly keyed token must be refused
        pytest.fail("a token signed with another secret was accepted")
    haystack = "\n".join(texts)
    for form in (secret.hex(), repr(secret), b64(secret), base64.b64encode(secret).decode()):
        assert form not in haystack


# ---- MFA-10: TOTP seeds are sealed with the configured data key, kept outside the store --------------


def test_mfa_10_seeds_open_only_with_the_configured_data_key(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    key = env.user_with_key()
    device = env.enabled_device()
    record = env.creds.store.get_mfa_device(TENANT, device.serial_number)
    assert record is not None
    opened = Sealer(env.settings["data_key"]).open(record.sealed_seed, purpose="totp-seed", row=record.device_id)
    assert opened == device.base32_seed.encode("ascii")
    # A facade over the same store with another data key cannot read the seed, so it accepts no code.
    stranger = env.credentials(data_key=random_bytes(32))
    with pytest.raises(SealError):
        stranger.get_session_token(key, mfa_code=env.code(device))
    assert env.creds.authenticate(env.creds.get_session_token(key, mfa_code=env.code(device)).token).mfa_present
    # Without a configured data key the fallback (a key kept in the store) is announced, not silent.
    caplog.set_level(logging.WARNING, logger="iamguard.credentials")
    unkeyed = Credentials(env.directory, clock=env.clock, **{**env.settings, "data_key": None})
    env.directory.create_user("bob")
    unkeyed.create_virtual_mfa_device("bob", "tablet")
    assert any("no data_key configured" in entry.getMessage() for entry in caplog.records)


# ---- KEY-03: the default per-key-id lock: 100 refused secrets, then an hour of 429 ------------------


def test_key_03_the_default_lock_answers_429_after_100_wrong_secrets_and_spares_the_owner(mem_env: Env) -> None:
    key = mem_env.user_with_key()
    assert mem_env.creds.config.access_key_lockout == Lockout(100, 3600)
    for _ in range(100):
        with pytest.raises(InvalidClientTokenId):
            mem_env.creds.authenticate_access_key(key.access_key_id, "wrong")
    with pytest.raises(Throttled) as locked:
        mem_env.creds.authenticate_access_key(key.access_key_id, "wrong")
    assert 3500 < locked.value.retry_after <= 3600
    # Key ids are public: the lock must not let a stranger keep the owner out (ASVS 5.0 6.1.1).
    assert mem_env.creds.authenticate_access_key(key.access_key_id, key.secret_access_key).user_name == "alice"
