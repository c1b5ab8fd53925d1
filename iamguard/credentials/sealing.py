"""Encryption at rest for secrets that must be recovered: TOTP seeds and signing keys.

AES-256-GCM with a key kept outside the sealed tables (configuration, ideally a secret manager).
The associated data binds each ciphertext to its purpose and row, so a sealed value copied into
another row or table does not open.
"""

from __future__ import annotations

import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from iamguard.credentials.errors import ConfigurationError
from iamguard.errors import IamGuardError

_VERSION = b"\x01"
_NONCE_BYTES = 12


class SealError(IamGuardError):
    """A sealed value could not be opened (wrong key, tampered or moved). Fails closed.

    The server's fault, not the caller's (most often a process configured with another
    `data_key`): the web endpoints answer it 503, and an MFA code checked against a seed that
    does not open is not counted as a wrong one."""

    code = "SealError"
    status = 500


class Sealer:
    def __init__(self, key: bytes) -> None:
        if not isinstance(key, bytes) or len(key) != 32:
            raise ConfigurationError("the data key must be exactly 32 bytes")
        self._aead = AESGCM(key)

    def seal(self, plaintext: bytes, *, purpose: str, row: str) -> bytes:
        nonce = secrets.token_bytes(_NONCE_BYTES)
        return _VERSION + nonce + self._aead.encrypt(nonce, plaintext, _aad(purpose, row))

    def open(self, sealed: bytes, *, purpose: str, row: str) -> bytes:
        if len(sealed) <= 1 + _NONCE_BYTES or sealed[:1] != _VERSION:
            raise SealError(f"sealed {purpose} for {row!r} is malformed")
        nonce, ciphertext = sealed[1:1 + _NONCE_BYTES], sealed[1 + _NONCE_BYTES:]
        try:
            return self._aead.decrypt(nonce, ciphertext, _aad(purpose, row))
        except InvalidTag:
            raise SealError(f"sealed {purpose} for {row!r} does not open with the configured data key") from None

    def __repr__(self) -> str:
        return "<Sealer>"


def _aad(purpose: str, row: str) -> bytes:
    return b"iamguard-credentials\x00" + purpose.encode("utf-8") + b"\x00" + row.encode("utf-8")
