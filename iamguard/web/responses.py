"""Framework-neutral responses for every way the guard can refuse a request.

Status conventions (spec "How to read this"): missing credentials 401 `Bearer`; bad credentials
401 `Bearer error="invalid_token"`; ambiguous credentials 400 `invalid_request`; not allowed
403; MFA too weak or too old 401 `insufficient_user_authentication` with `max_age`; malformed
target 400; the authorizer could not decide 503. Bodies are small JSON documents that never
contain policy text (a 403 explanation appears only in debug mode).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from iamguard.web.values import quick_init

_NO_STORE = ("cache-control", "no-store")


@quick_init
@dataclass(frozen=True)
class WebResponse:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


def _quoted(value: str) -> str:
    # Challenge parameters are quoted-strings: no quotes, backslashes or control characters.
    return "".join(char for char in value if char not in '"\\' and 0x20 <= ord(char) < 0x7F)


def challenge(realm: str | None, **params: str | int | None) -> str:
    parts = [f'realm="{_quoted(realm)}"'] if realm else []
    for name, value in params.items():
        if value is None:
            continue
        parts.append(f"{name}={value}" if isinstance(value, int) else f'{name}="{_quoted(value)}"')
    return "Bearer" + (" " + ", ".join(parts) if parts else "")


def json_response(status: int, body: dict[str, Any], headers: tuple[tuple[str, str], ...] = ()) -> WebResponse:
    if status == 401 and not any(name == "www-authenticate" for name, _ in headers):
        # RFC 9110 11.6.1: every 401 carries a challenge. The callers here give their own; this
        # keeps the rule for any future one that forgets.
        headers = (*headers, ("www-authenticate", challenge(None)))
    payload = json.dumps(body, ensure_ascii=True, separators=(",", ":")).encode("ascii")
    return WebResponse(status, (("content-type", "application/json"), _NO_STORE, *headers), payload)


def bad_request(detail: str, reason: str) -> WebResponse:
    return json_response(400, {"error": "BadRequest", "reason": reason, "message": detail})


def method_not_allowed(allow: str | None) -> WebResponse:
    """405 with `Allow: <allow>` (RFC 9110 15.5.6: the target's methods, comma-separated; ""
    when it allows none). `allow=None` omits the header: only for a target whose methods the
    caller cannot know, which it must say where it passes None."""
    headers = (("allow", allow),) if allow is not None else ()
    return json_response(405, {"error": "MethodNotAllowed"}, headers)


def invalid_request(realm: str | None, detail: str) -> WebResponse:
    header = challenge(realm, error="invalid_request", error_description=detail)
    return json_response(400, {"error": "invalid_request", "error_description": detail},
                         (("www-authenticate", header),))


def missing_credentials(realm: str | None) -> WebResponse:
    return json_response(401, {"error": "Unauthorized", "message": "authentication required"},
                         (("www-authenticate", challenge(realm)),))


def invalid_token(realm: str | None) -> WebResponse:
    # One description for every token problem, so the answer is no oracle (KEY-02 spirit).
    description = "the access token is invalid, expired or revoked"
    header = challenge(realm, error="invalid_token", error_description=description)
    return json_response(401, {"error": "invalid_token", "error_description": description},
                         (("www-authenticate", header),))


def access_denied(action: str | None, resource: str | None, explanation: str | None = None) -> WebResponse:
    body: dict[str, Any] = {"error": "AccessDenied", "action": action, "resource": resource}
    if explanation is not None:
        body["explanation"] = explanation
    return json_response(403, body)


def step_up(realm: str | None, max_age: int | None, endpoint: str | None, action: str,
            resource: str) -> WebResponse:
    description = "a fresh multi-factor authentication is required"
    header = challenge(realm, error="insufficient_user_authentication", error_description=description,
                       max_age=max_age)
    body: dict[str, Any] = {
        "error": "insufficient_user_authentication",
        "error_description": description,
        "max_age": max_age,
        "step_up_endpoint": endpoint,
        "action": action,
        "resource": resource,
    }
    return json_response(401, body, (("www-authenticate", header),))


def unavailable() -> WebResponse:
    return json_response(503, {"error": "ServiceUnavailable",
                               "message": "authorization is temporarily unavailable"},
                         (("retry-after", "1"),))


def preflight(allow: str | None) -> WebResponse:
    headers = (("allow", allow),) if allow else ()
    return WebResponse(204, (_NO_STORE, *headers), b"")
