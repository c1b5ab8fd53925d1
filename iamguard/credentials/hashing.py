"""Hashing of secrets that are never stored in clear.

- Passwords and recovery codes (low or moderate entropy): scrypt with a per-secret salt; the cost
  travels with the hash, so raising the cost later keeps old hashes verifiable.
- Access-key secrets (>= 160 random bits): a keyed HMAC-SHA-256 with a server pepper. A slow hash
  would add nothing for such secrets and would make the key-exchange endpoint a CPU lever.

Every comparison uses hmac.compare_digest, and every "not found" path does the same work against
a dummy value so that timing does not reveal whether an account or key exists.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from iamguard.credentials.config import ScryptCost

_SCRYPT = "scrypt"
_SALT_BYTES = 16
_HASH_BYTES = 32


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


def _scrypt(secret: str, salt: bytes, cost: ScryptCost) -> bytes:
    return hashlib.scrypt(
        secret.encode("utf-8"), salt=salt, n=cost.n, r=cost.r, p=cost.p, maxmem=cost.maxmem, dklen=_HASH_BYTES)


def hash_secret(secret: str, cost: ScryptCost) -> str:
    """`scrypt$n$r$p$salt$hash`, salt and hash in base64."""
    salt = secrets.token_bytes(_SALT_BYTES)
    digest = _scrypt(secret, salt, cost)
    return f"{_SCRYPT}${cost.n}${cost.r}${cost.p}${_b64(salt)}${_b64(digest)}"


def _parse(encoded: str) -> tuple[ScryptCost, bytes, bytes] | None:
    parts = encoded.split("$")
    if len(parts) != 6 or parts[0] != _SCRYPT:
        return None
    try:
        cost = ScryptCost(int(parts[1]), int(parts[2]), int(parts[3]))
        return cost, _unb64(parts[4]), _unb64(parts[5])
    except Exception:  # a corrupt stored hash verifies nothing
        return None


def verify_secret(secret: str, encoded: str) -> bool:
    """Constant-time check of `secret` against a stored hash. A corrupt hash never verifies."""
    parsed = _parse(encoded)
    if parsed is None:
        return False
    cost, salt, expected = parsed
    try:
        actual = _scrypt(secret, salt, cost)
    except (ValueError, MemoryError):
        return False
    return hmac.compare_digest(actual, expected)


def needs_rehash(encoded: str, cost: ScryptCost) -> bool:
    parsed = _parse(encoded)
    return parsed is None or parsed[0] != cost


class DummyHash:
    """A hash of a random secret at the configured cost, verified when the real one is missing.
    Made on first use, so constructing a facade costs no hashing."""

    def __init__(self, cost: ScryptCost) -> None:
        self._cost = cost
        self._encoded: str | None = None

    def prime(self) -> None:
        """Make the dummy now. Called at the start of every check, before the paths diverge, so
        the one-time cost is paid the same way whether or not the account exists."""
        if self._encoded is None:
            self._encoded = hash_secret(secrets.token_urlsafe(16), self._cost)

    def burn(self, secret: str) -> None:
        self.prime()
        assert self._encoded is not None
        verify_secret(secret, self._encoded)

    def __repr__(self) -> str:
        return "<DummyHash>"


def key_verifier(pepper: bytes, key_id: str, secret: str) -> str:
    """The stored verifier of an access-key secret: HMAC-SHA-256 under the server pepper, bound to
    the key id so a verifier cannot be moved to another key."""
    message = key_id.encode("ascii", "replace") + b"\x00" + secret.encode("utf-8", "surrogatepass")
    return hmac.new(pepper, message, hashlib.sha256).hexdigest()


def verifiers_match(expected: str, actual: str) -> bool:
    return hmac.compare_digest(expected.encode("ascii", "replace"), actual.encode("ascii", "replace"))
