"""Session-token signing keys: generated, sealed in the store under a `kid`, rotated, published.

Verification never trusts the token to say how it is signed: the `kid` is looked up in the local
map loaded from the store (never a file, URL or SQL string built from it), and that record alone
says which algorithm and which key object verify it. A retired key keeps verifying tokens it
signed before retirement until they have all expired, then it is pruned.

A `kid` missing from the map may be a key another process rotated in a moment ago, so it forces
a re-read of the stored keys, but at most once per `KEY_REFRESH_INTERVAL` seconds (a monotonic
clock): each re-read queries the store and unseals every key, and the `kid` is attacker-chosen
(JWT-04, DOS-05). Within the interval an unknown `kid` is refused without touching the store. A
key rotated in elsewhere is therefore found at once or within the interval, and in any case once
the generation watch sees the other process's write; a key this process creates is always found
at once, since its own write moves the generation it watches.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import re
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import ECAlgorithm, OKPAlgorithm

from iamguard.clock import Clock
from iamguard.credentials.errors import ConfigurationError
from iamguard.credentials.records import SigningKeyRecord
from iamguard.credentials.sealing import Sealer
from iamguard.credentials.store import CredentialStore

KID = re.compile(r"[A-Za-z0-9_-]{1,64}", re.ASCII)
_SEAL_PURPOSE = "signing-key"
_MIN_HMAC_BYTES = 32
# Seconds between two re-reads of the signing keys forced by an unknown `kid` (see above).
KEY_REFRESH_INTERVAL = 5.0
_LOOKS_LIKE_KEY = (b"-----BEGIN", b"ssh-", b"ecdsa-sha2-", b"{", b"0\x82", b"0\x81", b"0Y0", b"0*0")


def check_hmac_secret(secret: bytes) -> None:
    """Refuse HS256 secrets that are short, low-entropy, or look like a public key in PEM, SSH, JWK
    or DER form (a public key used as an HMAC secret is the classic key-confusion forgery)."""
    if not isinstance(secret, bytes):
        raise ConfigurationError("the HS256 secret must be bytes")
    if len(secret) < _MIN_HMAC_BYTES:
        raise ConfigurationError(f"the HS256 secret must be at least {_MIN_HMAC_BYTES} random bytes (256 bits)")
    stripped = secret.lstrip()
    if any(stripped.startswith(prefix) for prefix in _LOOKS_LIKE_KEY):
        raise ConfigurationError("the HS256 secret looks like a PEM, SSH, JWK or DER key; use random bytes "
                                 "from secrets.token_bytes(32)")
    counts = Counter(secret)
    entropy = -sum(n / len(secret) * math.log2(n / len(secret)) for n in counts.values()) * len(secret)
    if entropy < 128:
        raise ConfigurationError("the HS256 secret has too little entropy; use secrets.token_bytes(32)")


@dataclass(frozen=True)
class SigningKey:
    kid: str
    algorithm: str
    private: Any = field(repr=False)  # key object, or HMAC bytes
    public: Any = field(repr=False)  # key object, or the same HMAC bytes
    public_jwk: dict[str, Any] | None
    created_at: float
    retired_at: float | None = None


def _generate(algorithm: str) -> tuple[bytes, str | None]:
    """(private material to seal, public JWK text or None)."""
    if algorithm == "EdDSA":
        private = Ed25519PrivateKey.generate()
        raw = private.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                    serialization.NoEncryption())
        return raw, json.dumps(OKPAlgorithm.to_jwk(private.public_key(), as_dict=True), sort_keys=True)
    if algorithm == "ES256":
        ec_private = ec.generate_private_key(ec.SECP256R1())
        der = ec_private.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption())
        return der, json.dumps(ECAlgorithm.to_jwk(ec_private.public_key(), as_dict=True), sort_keys=True)
    if algorithm == "HS256":
        return secrets.token_bytes(32), None
    raise ConfigurationError(f"cannot generate a {algorithm} key")


def _load(algorithm: str, material: bytes) -> tuple[Any, Any]:
    if algorithm == "EdDSA":
        private = Ed25519PrivateKey.from_private_bytes(material)
        return private, private.public_key()
    if algorithm == "ES256":
        ec_private = serialization.load_der_private_key(material, password=None)
        if not isinstance(ec_private, ec.EllipticCurvePrivateKey) or ec_private.curve.name != "secp256r1":
            raise ValueError("stored ES256 key is not a P-256 key")
        return ec_private, ec_private.public_key()
    if algorithm == "HS256":
        return material, material
    raise ValueError(f"unknown signing algorithm {algorithm!r}")


class KeyManager:
    """The signing keys of this deployment, cached per store generation.

    With a configured HS256 secret the key lives only in configuration (kid derived from it);
    otherwise keys are generated on first use and kept sealed in the store, shared by processes.
    """

    def __init__(self, store: CredentialStore, sealer: Callable[[], Sealer], clock: Clock, *, algorithm: str,
                 hmac_secret: bytes | None, max_token_lifetime: int, leeway: int,
                 generation: Callable[[], Any] | None = None,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._store = store
        # How to tell that the stored keys may have changed: by default the store's generation,
        # read every time; the facade passes a watch that re-reads it only after a local write or
        # once per cache bound, which keeps a database query off every request.
        self._generation: Callable[[], Any] = generation or store.generation
        self._sealer = sealer
        self._clock = clock
        self._algorithm = algorithm
        self._max_lifetime = max_token_lifetime
        self._leeway = leeway
        self._lock = threading.Lock()
        self._monotonic = monotonic
        self._last_forced: float | None = None  # monotonic time of the last re-read an unknown kid forced
        self._started = clock.time()
        self._cached: tuple[Any, dict[str, SigningKey], SigningKey | None] | None = None
        self._configured: SigningKey | None = None
        if hmac_secret is not None:
            check_hmac_secret(hmac_secret)
            kid = "hs-" + hmac.new(hmac_secret, b"iamguard kid", hashlib.sha256).hexdigest()[:16]
            self._configured = SigningKey(kid, "HS256", hmac_secret, hmac_secret, None, 0.0)

    def _keys(self, *, fresh: bool = False) -> tuple[dict[str, SigningKey], SigningKey | None]:
        # A fresh read is filed under the generation read before it: the keys are at least that
        # new, and the next change of the generation reloads them anyway.
        generation = self._generation()
        cached = self._cached
        if cached is not None and cached[0] == generation and not fresh:
            return cached[1], cached[2]
        with self._lock:
            keys: dict[str, SigningKey] = {}
            active: SigningKey | None = None
            for record in self._store.signing_keys():
                try:
                    key = self._open(record)
                except Exception:  # a key that cannot be opened verifies nothing
                    continue
                keys[key.kid] = key
                if key.retired_at is None and active is None:
                    active = key
            self._cached = (generation, keys, active)
            return keys, active

    def _open(self, record: SigningKeyRecord) -> SigningKey:
        material = self._sealer().open(record.sealed_private, purpose=_SEAL_PURPOSE, row=record.kid)
        private, public = _load(record.algorithm, material)
        jwk = json.loads(record.public_jwk) if record.public_jwk else None
        return SigningKey(record.kid, record.algorithm, private, public, jwk, record.created_at, record.retired_at)

    def _new_record(self) -> SigningKeyRecord:
        kid = f"{self._algorithm.lower()}-{secrets.token_hex(8)}"
        material, jwk = _generate(self._algorithm)
        sealed = self._sealer().seal(material, purpose=_SEAL_PURPOSE, row=kid)
        return SigningKeyRecord(kid, self._algorithm, sealed, jwk, self._clock.time())

    def active(self) -> SigningKey:
        """The key new tokens are signed with, created on first use.

        When the configured algorithm differs from the active key's, the key is rotated only if
        it predates this process's configuration. A process still running the old configuration
        during a rolling change then signs with the newer key instead of rotating back, so the
        fleet converges instead of rotating keys back and forth."""
        if self._configured is not None:
            return self._configured
        _, active = self._keys()
        if active is not None and (active.algorithm == self._algorithm or active.created_at > self._started):
            return active
        if active is None:
            self._store.add_signing_key(self._new_record(), retire_at=None)
        else:
            self._store.add_signing_key(self._new_record(), retire_at=self._clock.time())
        _, active = self._keys()
        if active is None:
            raise ConfigurationError("no usable active signing key: the stored one cannot be opened with the "
                                     "configured data_key")
        return active

    def rotate(self) -> str:
        if self._configured is not None:
            raise ConfigurationError("the HS256 secret comes from configuration; rotate it there")
        now = self._clock.time()
        record = self._new_record()
        self._store.add_signing_key(record, retire_at=now)
        self._store.prune_signing_keys(now - self._max_lifetime - self._leeway)
        return record.kid

    def lookup(self, kid: str) -> SigningKey | None:
        """The key for a `kid` from the local map, or None. Never consults anything the token names."""
        if self._configured is not None:
            return self._configured if hmac.compare_digest(kid, self._configured.kid) else None
        keys, _ = self._keys()
        key = keys.get(kid)
        if key is None and self._may_force_refresh():
            # Perhaps another process rotated in a key this one has not seen yet: re-read once.
            keys, _ = self._keys(fresh=True)
            key = keys.get(kid)
        return key

    def _may_force_refresh(self) -> bool:
        """Whether an unknown kid may re-read the keys now; claims the interval when it may."""
        now = self._monotonic()
        with self._lock:
            last = self._last_forced
            if last is not None and 0.0 <= now - last < KEY_REFRESH_INTERVAL:
                return False
            self._last_forced = now
            return True

    def jwks(self) -> dict[str, Any]:
        """Public keys still able to verify a live token. HS256 keys are never published."""
        if self._configured is not None:
            return {"keys": []}
        self.active()
        keys, _ = self._keys()
        horizon = self._clock.time() - self._max_lifetime - self._leeway
        published = []
        for key in keys.values():
            if key.public_jwk is None or (key.retired_at is not None and key.retired_at < horizon):
                continue
            published.append({**key.public_jwk, "kid": key.kid, "alg": key.algorithm, "use": "sig"})
        return {"keys": published}
