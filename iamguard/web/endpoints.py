"""Framework-neutral handlers for the token endpoints an app can mount:

- `POST {prefix}/token`: `{"access_key_id", "secret_access_key"}` or `{"user_name", "password"}`,
  optionally `"mfa_code"` (or `"recovery_code"`) and `"duration_seconds"` -> a session token;
- `POST {prefix}/assume-role` (Bearer session): `{"role_arn", "session_name"}`, optionally
  `"duration_seconds"`, `"mfa_code"`, `"source_identity"` -> a role session token; the trust
  policy (and the caller's own policies) see the request's `aws:SourceIp`, `aws:SecureTransport`,
  `aws:UserAgent` and `aws:Referer`, read as the guard reads them;
- `POST {prefix}/step-up` (Bearer session): `{"mfa_code"}` or `{"recovery_code"}` -> a fresh
  session token for the same principal with a new MFA time (RFC 9470's remedy).

Successful answers are `{"token", "token_type": "Bearer", "expires_at", "expires_in",
"session_arn"}`. Errors carry the credentials layer's status and IAM error code; throttled
callers get 429 with `Retry-After` (spec KEY-03, MFA-04).

Per-source limit (KEY-03): `AuthEndpoints(credentials, source_limit=SourceLimit(...),
trusted_proxies=[...])` counts refused credentials per client address (see `iamguard.web.throttle`;
by default 20 in any 10 minutes) and answers an address over its limit 429 `Throttling` with
`Retry-After`, before reading its body or doing any credential work. The address is the guard's
`aws:SourceIp`: the TCP peer, or with `trusted_proxies` (pass the guard's) the right-most untrusted
`X-Forwarded-For`/`Forwarded` hop; a forwarding header from a trusted proxy that cannot be read is
400. What counts as a refusal: a refused access key, password or MFA/recovery code
(`InvalidClientTokenId`, `AuthenticationFailed`, `InvalidAuthenticationCode`) and a per-key,
per-user or per-device lock answering `Throttling` (a guess sent to a locked subject is still a
guess). What does not: malformed bodies (400, no credential was tried), a missing or refused Bearer
session (signed tokens cannot be guessed, and an expired one is a client bug, not an attack), an
expired but correct password, authorization refusals (`AccessDenied`) and store outages.
`source_limit=None` turns the limit off.

Audit (spec LOG-02): every refusal an endpoint makes itself leaves one Deny record on the
credentials' `auditor` (`Credentials(..., audit=...)`: share the guard's Auditor to keep one
trail): a throttled address (`throttled`), a malformed body or forwarding header
(`malformed_request`), a body over 16 KiB (`malformed_request`, status 413), a missing, ambiguous
or refused Bearer session (`missing_credentials`, `invalid_request`, `invalid_token`) and a
failure to answer (503). Refused credentials are recorded by the credentials layer itself
(`access_key_rejected`, `login_failed`, `mfa_code_rejected`, ...), so they are not recorded twice.
Records carry the endpoint's name in `extra.endpoint`, the client address and user agent, never
the body.

Refused credentials: `/token` reads its credentials from the body, not from an HTTP
authentication scheme, so no `WWW-Authenticate` challenge could name a remedy there. A refused
access key, password (unknown user and wrong password alike: one error, KEY-02) or expired
password is therefore 403, as STS answers a refused key (RFC 9110 15.5.4: credentials were
given and are not sufficient). `/assume-role` and `/step-up` authenticate with the Bearer
session: a missing or refused token there is 401 with its `Bearer` challenge, as on any
protected route. Every 401 carries `WWW-Authenticate` (RFC 9110 11.6.1); every 405 carries
`Allow: POST` (each adapter adds it). Bodies must be JSON objects of at most
16 KiB with string values where strings are expected; nothing else is read. Secrets never appear
in an answer or a log line.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from iamguard import audit as codes
from iamguard.audit import Auditor, AuditRecord
from iamguard.errors import IamGuardError
from iamguard.policy.jsondoc import DuplicateMemberError, unique_members
from iamguard.store.database import StoreError
from iamguard.web import responses
from iamguard.web.guard import new_request_id
from iamguard.web.network import ForwardedHeaderError, TrustedProxies, connection_keys
from iamguard.web.request import group_headers
from iamguard.web.responses import WebResponse, json_response
from iamguard.web.throttle import DEFAULT_SOURCE_LIMIT, SourceLimit, SourceLimiter
from iamguard.web.tokens import CredentialError, find_credential

logger = logging.getLogger("iamguard.web.endpoints")
MAX_BODY = 16 * 1024


class TokenIssuer(Protocol):
    """What the endpoints need from `iamguard.credentials.Credentials`."""

    clock: Any

    def get_session_token(self, credentials: Any, *, mfa_code: str | None = None, duration: int | None = None,
                          serial_number: str | None = None, recovery_code: str | None = None) -> Any: ...

    def assume_role(self, role_arn: str, session_name: str, caller: Any, duration: int | None = None,
                    session_policy: Any = None, tags: Any = None, source_identity: str | None = None,
                    mfa_code: str | None = None, *, request_context: Mapping[str, Any] | None = None) -> Any: ...

    def step_up(self, session: Any, mfa_code: str | None = None, *, serial_number: str | None = None,
                recovery_code: str | None = None) -> Any: ...

    def authenticate(self, token: object) -> Any: ...


class _BadBody(ValueError):
    pass


def _read(content_type: str | None, body: bytes) -> dict[str, Any]:
    if content_type is None or content_type.split(";")[0].strip().lower() != "application/json":
        raise _BadBody("send a JSON object with Content-Type: application/json")
    if len(body) > MAX_BODY:
        raise _BadBody("the body is too large")

    def refuse_constant(name: str) -> Any:
        raise _BadBody("non-finite numbers are not accepted")

    try:
        data = json.loads(body, object_pairs_hook=unique_members, parse_constant=refuse_constant)
    except DuplicateMemberError:
        raise _BadBody("duplicate keys in the body") from None
    except (ValueError, RecursionError) as exc:
        raise _BadBody(str(exc) if isinstance(exc, _BadBody) else "the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise _BadBody("the body must be a JSON object")
    return data


def _text(data: Mapping[str, Any], name: str, *, required: bool = True) -> str | None:
    value = data.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value or len(value) > 2048:
        raise _BadBody(f"{name!r} must be a non-empty string")
    return value


def _duration(data: Mapping[str, Any]) -> int | None:
    value = data.get("duration_seconds")
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise _BadBody("'duration_seconds' must be an integer")
    return value


def _issued(issued: Any, now: float) -> WebResponse:
    return json_response(200, {
        "token": issued.token, "token_type": "Bearer", "expires_at": issued.expires_at,
        "expires_in": max(0, int(issued.expires_at - now)), "session_arn": issued.session_arn,
    })


ALLOWED_METHODS = "POST"  # the endpoints' `Allow` header, for the adapters' 405 answers

# The error codes of a presented credential refused, or refused unchecked because its subject is
# locked: what the per-source limit counts (see the module docstring for what it does not).
REFUSED_CREDENTIAL_CODES = frozenset({"InvalidClientTokenId", "AuthenticationFailed", "InvalidAuthenticationCode",
                                      "Throttling"})


def _refused_credential(exc: Exception) -> bool:
    return isinstance(exc, IamGuardError) and getattr(exc, "code", None) in REFUSED_CREDENTIAL_CODES


def _source_throttled(retry_after: int) -> WebResponse:
    # The shape of the credentials layer's Throttled answer, so clients handle both alike.
    return json_response(429, {"error": "Throttling",
                               "message": "too many failed attempts from this address; try again later"},
                         (("retry-after", str(retry_after)),))


def _failure_reason(exc: Exception, answer: WebResponse) -> str | None:
    """The audit reason of a failed call that the credentials layer did not record itself (None:
    it did, as for every refused key, password, code or role assumption)."""
    if isinstance(exc, _BadBody):
        return codes.MALFORMED_REQUEST
    if isinstance(exc, StoreError):
        return codes.STORE_UNAVAILABLE
    if isinstance(exc, TimeoutError):
        return codes.TIMEOUT
    if not isinstance(exc, IamGuardError) or answer.status >= 500:
        return codes.INTERNAL_ERROR
    if answer.status == 401 and getattr(exc, "reason", None) is not None:  # a refused Bearer session
        return codes.INVALID_TOKEN
    return None


def _failure(exc: Exception, *, bearer: bool) -> WebResponse:
    """The answer to a failed call. `bearer`: the endpoint authenticates the caller with a
    Bearer session (so a 401 can carry a Bearer challenge); otherwise the credentials came in
    the body and a refusal of them is 403."""
    if isinstance(exc, _BadBody):
        return json_response(400, {"error": "ValidationError", "message": str(exc)})
    if isinstance(exc, (StoreError, TimeoutError)):
        return responses.unavailable()
    if isinstance(exc, IamGuardError):
        status = getattr(exc, "status", 400)
        status = status if isinstance(status, int) and 400 <= status < 600 else 400
        if status >= 500:  # the server's own fault (a signing key it cannot open): said to the log, not the client
            logger.error("iamguard endpoint cannot answer: %s", getattr(exc, "code", type(exc).__name__))
            return responses.unavailable()
        code = getattr(exc, "code", type(exc).__name__)
        message = getattr(exc, "message", "the request was refused")
        headers: tuple[tuple[str, str], ...] = ()
        retry_after = getattr(exc, "retry_after", None)
        if status == 429 and isinstance(retry_after, int):
            headers = (("retry-after", str(retry_after)),)
        if status == 401 and getattr(exc, "reason", None) is not None:  # a token problem
            return responses.invalid_token(None)
        if status == 401:
            if not bearer:
                status = 403
            else:
                # A 401 other than a token problem: the Bearer session is what this endpoint
                # authenticates with, so that is the credential to renew.
                headers = (*headers, ("www-authenticate", responses.challenge(None, error="invalid_token")))
        return json_response(status, {"error": code, "message": message}, headers)
    logger.error("iamguard endpoint failed with %s", type(exc).__name__, exc_info=(type(exc), exc, exc.__traceback__))
    return responses.unavailable()


class AuthEndpoints:
    """The three handlers, each taking the request headers, body and client (the TCP peer's
    address, or None when the server gives none) and the connection's `scheme`, and returning a
    WebResponse. They run blocking credential work (password hashing); async adapters call them in
    a thread.

    `source_limit`: refused credentials allowed per client address (None: no per-source limit);
    one budget per address across the three endpoints, in this process. `trusted_proxies`: the
    guard's trusted proxies (`GuardConfig.trusted_proxies`), whose forwarding headers name the
    client; none by default, so the peer is the client."""

    def __init__(self, credentials: TokenIssuer, *, source_limit: SourceLimit | None = DEFAULT_SOURCE_LIMIT,
                 trusted_proxies: TrustedProxies | Sequence[str] = ()) -> None:
        self.credentials = credentials
        self.trusted_proxies = TrustedProxies.of(trusted_proxies)
        self.source_limiter = SourceLimiter(source_limit, credentials.clock) if source_limit is not None else None

    def _request_context(self, headers: Sequence[tuple[str, str]], client: str | None, scheme: str
                         ) -> dict[str, Any]:
        """The request's network keys exactly as the guard computes them (`aws:SourceIp`,
        `aws:SecureTransport`, `aws:UserAgent`, `aws:Referer`): for the per-source limit, and for
        the trust and identity policies that `/assume-role` evaluates. The time keys are the
        credentials layer's own."""
        lines = group_headers(tuple(headers))
        address, secure = connection_keys(scheme, client, lines, self.trusted_proxies)
        context: dict[str, Any] = {"aws:SecureTransport": secure}
        if address is not None:
            context["aws:SourceIp"] = address
        for key, name in (("aws:UserAgent", "user-agent"), ("aws:Referer", "referer")):
            if lines.get(name):
                context[key] = ", ".join(lines[name])
        return context

    def _caller(self, headers: Sequence[tuple[str, str]]) -> Any:
        authorization = [value for name, value in headers if name == "authorization"]
        try:
            credential = find_credential(authorization, [], None)
        except CredentialError as exc:
            raise _TokenProblem(exc.status) from None
        if credential is None:
            raise _TokenProblem(401, missing=True)
        return self.credentials.authenticate(credential.token)

    def too_large(self, headers: Sequence[tuple[str, str]], client: str | None = None, *, scheme: str = "http",
                  endpoint: str | None = None) -> WebResponse:
        """The 413 an adapter sends for a body over `MAX_BODY`, audited as the endpoints' other refusals."""
        answer = json_response(413, {"error": "PayloadTooLarge"})
        try:
            address = self._request_context(headers, client, scheme).get("aws:SourceIp")
        except ForwardedHeaderError:
            address = None
        self._audit(endpoint, headers, address, answer, codes.MALFORMED_REQUEST, "the body is too large")
        return answer

    def _audit(self, endpoint: str | None, headers: Sequence[tuple[str, str]], address: str | None,
               answer: WebResponse, reason: str, detail: str | None) -> None:
        """One Deny record of a refusal the endpoint made itself (see the module docstring)."""
        with contextlib.suppress(Exception):  # the refusal is the answer whether or not it is recorded
            auditor = getattr(self.credentials, "auditor", None)
            if not isinstance(auditor, Auditor):
                return
            auditor.emit(AuditRecord(
                time=self.credentials.clock.now(), request_id=new_request_id(), effect="Deny", reason=reason,
                status=answer.status, method="POST", source_ip=address,
                user_agent=next((value for name, value in headers if name == "user-agent"), None),
                detail=detail, extra={"component": "endpoints", "endpoint": endpoint},
            ))

    def _run(self, headers: Sequence[tuple[str, str]], body: bytes, client: str | None, scheme: str, action: Any, *,
             bearer: bool = True, endpoint: str | None = None) -> WebResponse:
        try:
            context = self._request_context(headers, client, scheme)
        except ForwardedHeaderError as exc:  # as the guard answers it (CTX-02): never a guess
            answer = responses.bad_request(str(exc), codes.MALFORMED_REQUEST)
            self._audit(endpoint, headers, None, answer, codes.MALFORMED_REQUEST, str(exc))
            return answer
        address = context.get("aws:SourceIp")
        limiter = self.source_limiter
        source = ""
        if limiter is not None:
            source = limiter.key(address)
            wait = limiter.retry_after(source)
            if wait is not None:
                answer = _source_throttled(wait)
                self._audit(endpoint, headers, address, answer, codes.THROTTLED,
                            "too many refused credentials from this address")
                return answer
        try:
            answer, reason = self._attempt(headers, body, functools.partial(action, context=context), bearer=bearer)
            detail = None
        except Exception as exc:
            if limiter is not None and _refused_credential(exc):
                limiter.record_refusal(source)
            answer = _failure(exc, bearer=bearer)
            reason = _failure_reason(exc, answer)
            detail = str(exc) if isinstance(exc, _BadBody) else type(exc).__name__
        if reason is not None:
            self._audit(endpoint, headers, address, answer, reason, detail)
        return answer

    def _attempt(self, headers: Sequence[tuple[str, str]], body: bytes, action: Any, *, bearer: bool
                 ) -> tuple[WebResponse, str | None]:
        """The answer to one call with the reason to audit it under (None: nothing to record here),
        or the credentials layer's exception for `_run` to count and answer."""
        content_type = next((value for name, value in headers if name == "content-type"), None)
        try:
            data = _read(content_type, body)
            issued = action(data)
            return _issued(issued, self.credentials.clock.time()), None
        except _TokenProblem as problem:
            if problem.missing:
                return responses.missing_credentials(None), codes.MISSING_CREDENTIALS
            if problem.status == 400:
                return responses.invalid_request(None, "ambiguous credentials"), codes.INVALID_REQUEST
            return responses.invalid_token(None), codes.INVALID_TOKEN
        # Every other failure propagates to `_run`, which answers it: never a crash or a token.

    def token(self, headers: Sequence[tuple[str, str]], body: bytes, client: str | None = None, *,
              scheme: str = "http") -> WebResponse:
        from iamguard.credentials import AccessKeyCredentials, PasswordCredentials

        def exchange(data: Mapping[str, Any], context: Mapping[str, Any]) -> Any:
            if "access_key_id" in data:
                given: Any = AccessKeyCredentials(_text(data, "access_key_id") or "",
                                                  _text(data, "secret_access_key") or "")
            elif "user_name" in data:
                given = PasswordCredentials(_text(data, "user_name") or "", _text(data, "password") or "")
            else:
                raise _BadBody("send access_key_id and secret_access_key, or user_name and password")
            return self.credentials.get_session_token(
                given, mfa_code=_text(data, "mfa_code", required=False), duration=_duration(data),
                recovery_code=_text(data, "recovery_code", required=False))

        return self._run(headers, body, client, scheme, exchange, bearer=False, endpoint="token")

    def assume_role(self, headers: Sequence[tuple[str, str]], body: bytes, client: str | None = None, *,
                    scheme: str = "http") -> WebResponse:
        def assume(data: Mapping[str, Any], context: Mapping[str, Any]) -> Any:
            caller = self._caller(headers)
            return self.credentials.assume_role(
                _text(data, "role_arn") or "", _text(data, "session_name") or "", caller,
                duration=_duration(data), source_identity=_text(data, "source_identity", required=False),
                mfa_code=_text(data, "mfa_code", required=False), request_context=context)

        return self._run(headers, body, client, scheme, assume, endpoint="assume-role")

    def step_up(self, headers: Sequence[tuple[str, str]], body: bytes, client: str | None = None, *,
                scheme: str = "http") -> WebResponse:
        def step(data: Mapping[str, Any], context: Mapping[str, Any]) -> Any:
            session = self._caller(headers)
            code = _text(data, "mfa_code", required=False)
            recovery = _text(data, "recovery_code", required=False)
            if (code is None) == (recovery is None):
                raise _BadBody("send exactly one of mfa_code or recovery_code")
            return self.credentials.step_up(session, code, recovery_code=recovery)

        return self._run(headers, body, client, scheme, step, endpoint="step-up")


class _TokenProblem(Exception):
    def __init__(self, status: int, *, missing: bool = False) -> None:
        super().__init__("token problem")
        self.status = status
        self.missing = missing
