"""Finding the one credential a request carries.

Exactly one source is accepted (RFC 6750 section 2, spec JWT-10): the `Authorization: Bearer`
header, or, when the app enables it, one session cookie. Two Authorization headers, a header
and a cookie, or a repeated cookie are ambiguous and answered 400 `invalid_request`; a token in
the query string is refused earlier, by the target screen. Tokens longer than 8 KiB are refused
before any cryptography (DOS-04).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from iamguard.web.values import quick_init

MAX_TOKEN_LENGTH = 8192
# RFC 6750 b64token: [A-Za-z0-9-._~+/]+ then any number of "=". Checked by deleting the allowed
# characters from the part before the "=" run: anything left over is a character a token
# cannot have (a tight C loop; a regex over a long token costs several times as much).
_B64TOKEN_CHARACTERS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/"


def is_b64token(token: str) -> bool:
    body = token.rstrip("=")
    return bool(body) and body.isascii() and not body.encode("ascii").translate(None, _B64TOKEN_CHARACTERS)


@quick_init
@dataclass(frozen=True)
class Credential:
    token: str = field(repr=False)  # a bearer token: never in a repr (LOG-03)
    source: str  # "bearer" or "cookie"


class CredentialError(ValueError):
    """The request's credentials are ambiguous or malformed. `reason` is the audit code and
    `oauth_error` the RFC 6750 error attribute."""

    def __init__(self, message: str, *, status: int, reason: str, oauth_error: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.oauth_error = oauth_error


def _ambiguous(message: str) -> CredentialError:
    return CredentialError(message, status=400, reason="invalid_request", oauth_error="invalid_request")


def _invalid(message: str) -> CredentialError:
    return CredentialError(message, status=401, reason="invalid_token", oauth_error="invalid_token")


def cookie_values(cookie_headers: Sequence[str], name: str) -> list[str]:
    """Every value of cookie `name`, across all Cookie headers (a repeated name is ambiguous)."""
    values = []
    for header in cookie_headers:
        for part in header.split(";"):
            key, separator, value = part.strip().partition("=")
            if separator and key == name:
                values.append(value.strip().strip('"'))
    return values


def find_credential(authorization: Sequence[str], cookie_headers: Sequence[str], cookie_name: str | None,
                    *, max_length: int = MAX_TOKEN_LENGTH) -> Credential | None:
    """The request's single credential, None when it has none, or CredentialError."""
    bearer: str | None = None
    if len(authorization) > 1:
        raise _ambiguous("more than one Authorization header")
    if authorization:
        scheme, _, rest = authorization[0].strip().partition(" ")
        if scheme.lower() == "bearer":
            bearer = rest.strip()
            if not bearer:
                raise _invalid("the Bearer credential is empty")
            if "," in bearer:  # two header lines joined by a WSGI server: "Bearer a, Bearer b"
                raise _ambiguous("more than one Authorization value")
    cookies = cookie_values(cookie_headers, cookie_name) if cookie_name else []
    if len(cookies) > 1:
        raise _ambiguous("the session cookie is sent more than once")
    if bearer is not None and cookies:
        raise _ambiguous("both an Authorization header and a session cookie were sent")
    if bearer is not None:
        credential = Credential(bearer, "bearer")
    elif cookies and cookies[0]:
        credential = Credential(cookies[0], "cookie")
    else:
        return None  # other schemes (Basic, ...) are not credentials iamguard accepts
    if len(credential.token) > max_length:
        raise _ambiguous("the token is too long")
    if not is_b64token(credential.token):
        raise _invalid("the token has characters a bearer token cannot have")
    return credential
