"""Opening `iamguard.credentials.Credentials` for the command line, with the deployment's settings.

Access-key verifiers depend on the pepper, sealed TOTP seeds and signing keys on the data key, and
session tokens on issuer and audience. When the application configures them (as it should, from a
secret manager), the command line must use the same values, so it reads them from the
environment: IAMGUARD_PEPPER and IAMGUARD_DATA_KEY (32 bytes, base64 or hex), IAMGUARD_ISSUER,
IAMGUARD_AUDIENCE and IAMGUARD_SIGNING_ALGORITHM. Unset, the credentials component falls back to
keys kept in the store itself.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from iamguard.cli.context import CliContext
from iamguard.cli.errors import CliError
from iamguard.cli.shapes import shape
from iamguard.credentials import Credentials
from iamguard.directory import Directory, User
from iamguard.store.sqlite import SQLiteStore

if TYPE_CHECKING:
    from iamguard.cli.store_access import StoreSession

SECRET_SETTINGS = {"IAMGUARD_PEPPER": "pepper", "IAMGUARD_DATA_KEY": "data_key"}
TEXT_SETTINGS = {"IAMGUARD_ISSUER": "issuer", "IAMGUARD_AUDIENCE": "audience",
                 "IAMGUARD_SIGNING_ALGORITHM": "signing_algorithm"}


def _key_bytes(variable: str, text: str) -> bytes:
    value = text.strip()
    try:
        raw = bytes.fromhex(value) if len(value) == 64 else base64.b64decode(value, validate=True)
    except (ValueError, binascii.Error):
        raw = b""
    if len(raw) != 32:
        # The value itself is a secret: the message names the variable, never its content.
        raise CliError(f"${variable} must be 32 bytes written as base64 (44 characters) or hex (64 characters)")
    return raw


def settings_from(environ: Mapping[str, str]) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    for variable, name in SECRET_SETTINGS.items():
        if environ.get(variable):
            settings[name] = _key_bytes(variable, environ[variable])
    for variable, name in TEXT_SETTINGS.items():
        if environ.get(variable):
            settings[name] = environ[variable]
    return settings


def credentials_for(directory: Directory, ctx: CliContext) -> Credentials:
    return Credentials(directory, clock=ctx.clock, audit=ctx.auditor, **settings_from(ctx.environ))


def open_credentials(session: StoreSession) -> Credentials:
    return credentials_for(session.directory, session.ctx)


def bootstrap_credentials(store: SQLiteStore, directory: Directory, user: User, ctx: CliContext) -> dict[str, Any]:
    """For `iamguard init`: make sure token signing keys exist, and give the administrator an access key."""
    del store  # the credentials component finds the same database through the directory
    credentials = credentials_for(directory, ctx)
    keys = credentials.jwks()["keys"]
    access_key = credentials.create_access_key(user.user_name)
    shaped: dict[str, Any] = shape(access_key)
    shaped["SigningKeyIds"] = [key["kid"] for key in keys]
    return shaped
