"""Red-team regressions for web identity (OIDC) JWKS fetching and key selection.

- DOS-04: an oversized JWKS was read whole into memory before its size was checked.
- JWT-03: a redirect (even to http) was followed when the injected httpx client follows redirects.
- JWT-12: RSA keys below 2048 bits and keys whose `key_ops` exclude `verify` were trusted.
- FAIL-03: a deeply nested JWKS escaped as a bare RecursionError instead of IdpCommunicationError.
- DOS/FAIL-02: while the IdP was down every request paid a full fetch (serialized behind the lock).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from iamguard.clock import FrozenClock
from iamguard.credentials import IdpCommunicationError, InvalidIdentityToken
from iamguard.credentials.oidc import FETCH_RETRY_SECONDS, MAX_JWKS_BYTES, OidcVerifier
from iamguard.credentials.oidc_config import OidcIssuer
from tests.credentials.test_credentials_oidc import CLIENT, ISSUER, JWKS_URL, Idp

Handler = Callable[[httpx.Request], httpx.Response]


def verifier(handler: Handler, clock: FrozenClock, **client: Any) -> OidcVerifier:
    issuer = OidcIssuer(ISSUER, CLIENT, jwks_url=JWKS_URL)
    http = httpx.Client(transport=httpx.MockTransport(handler), **client)
    return OidcVerifier((issuer,), clock, leeway=30, http_client=http)


class EndlessBody(httpx.SyncByteStream):
    def __init__(self) -> None:
        self.sent = 0

    def __iter__(self) -> Iterator[bytes]:
        chunk = b" " * 65536
        for _ in range(160):  # 10 MiB if read to the end
            self.sent += len(chunk)
            yield chunk


def test_an_oversized_jwks_is_not_read_past_the_limit() -> None:
    clock, idp, body = FrozenClock(), Idp(), EndlessBody()
    oidc = verifier(lambda request: httpx.Response(200, stream=body), clock)
    with pytest.raises(IdpCommunicationError):
        oidc.verify(idp.token(clock.time()))
    assert body.sent <= MAX_JWKS_BYTES + 65536


def test_a_redirect_is_never_followed_even_by_a_following_client() -> None:
    clock, idp, seen = FrozenClock(), Idp(), []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        if str(request.url) == JWKS_URL:
            return httpx.Response(302, headers={"Location": "http://evil.example/jwks"})
        return httpx.Response(200, json=idp.jwks())

    oidc = verifier(handler, clock, follow_redirects=True)
    with pytest.raises(IdpCommunicationError):
        oidc.verify(idp.token(clock.time()))
    assert seen == [JWKS_URL]


def _weak_rsa_jwks_and_token(clock: FrozenClock, **extra: Any) -> tuple[dict[str, Any], str]:
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    jwk = {**json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(weak.public_key())), "kid": "k", **extra}
    now = int(clock.time())
    claims = {"iss": ISSUER, "aud": CLIENT, "sub": "u", "iat": now, "exp": now + 60}
    with pytest.warns(jwt.warnings.InsecureKeyLengthWarning):
        token = jwt.encode(claims, weak, algorithm="RS256", headers={"kid": "k"})
    return {"keys": [jwk]}, token


def _strong_jwks_with(idp: Idp, **extra: Any) -> dict[str, Any]:
    return {"keys": [{**idp.jwks()["keys"][0], **extra}]}


@pytest.mark.parametrize("case", ["rsa-1024", "key_ops-encrypt", "key_ops-not-a-list"])
def test_keys_unfit_for_signature_verification_are_ignored(case: str) -> None:
    clock, idp = FrozenClock(), Idp()
    if case == "rsa-1024":
        document, token = _weak_rsa_jwks_and_token(clock)
    else:
        ops: Any = ["encrypt"] if case == "key_ops-encrypt" else "verify"
        document, token = _strong_jwks_with(idp, key_ops=ops), idp.token(clock.time())
    oidc = verifier(lambda request: httpx.Response(200, json=document), clock)
    with pytest.raises(InvalidIdentityToken, match="does not publish"):
        oidc.verify(token)


def test_a_key_whose_key_ops_include_verify_is_still_used() -> None:
    clock, idp = FrozenClock(), Idp()
    oidc = verifier(lambda request: httpx.Response(200, json=_strong_jwks_with(idp, key_ops=["verify"])), clock)
    assert oidc.verify(idp.token(clock.time())).claims["sub"] == "user-123"


def test_a_deeply_nested_jwks_is_an_idp_error() -> None:
    clock, idp = FrozenClock(), Idp()
    oidc = verifier(lambda request: httpx.Response(200, content=b"[" * 60000), clock)
    with pytest.raises(IdpCommunicationError):
        oidc.verify(idp.token(clock.time()))


def test_a_failed_fetch_is_retried_after_a_short_pause_not_on_every_request() -> None:
    clock, idp, up, fetches = FrozenClock(), Idp(), [False], []

    def handler(request: httpx.Request) -> httpx.Response:
        fetches.append(1)
        if not up[0]:
            raise httpx.ConnectError("down")
        return httpx.Response(200, json=idp.jwks())

    oidc = verifier(handler, clock)
    for _ in range(5):
        with pytest.raises(IdpCommunicationError):
            oidc.verify(idp.token(clock.time()))
    assert len(fetches) == 1
    up[0] = True
    with pytest.raises(IdpCommunicationError):  # still inside the pause: no fetch, and never an allow
        oidc.verify(idp.token(clock.time()))
    clock.advance(FETCH_RETRY_SECONDS)
    assert oidc.verify(idp.token(clock.time())).claims["sub"] == "user-123"  # the error was not kept
    assert len(fetches) == 2
