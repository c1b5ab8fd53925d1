"""Access keys: an id anyone may see (`AKIA` + 16 characters) and a secret shown exactly once.

The secret (240 random bits) is stored only as an HMAC-SHA-256 verifier under the server pepper.
Authentication does the same work whatever happens: the verifier of the presented pair is always
computed and always compared, against a dummy when the key id is unknown, and an unknown id, a
wrong secret and an inactive key all raise the same InvalidClientTokenId (KEY-01, KEY-02).
Failures are counted per key id in the store, whether or not the id exists (KEY-03). A locked key
id still accepts its correct secret: key ids are not secret, so a lock that refused the right pair
too would let anyone keep a machine credential out (ASVS 5.0 6.1.1); the lock refuses wrong
secrets only, with Throttled, and the per-source limit (`iamguard.web.throttle`) bounds volume.
"""

from __future__ import annotations

import hmac
import logging
import math
import secrets
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone

from iamguard.clock import Clock
from iamguard.credentials import audit
from iamguard.credentials.config import CredentialsConfig
from iamguard.credentials.errors import InvalidClientTokenId, LimitExceeded, NoSuchEntity, Throttled, ValidationError
from iamguard.credentials.hashing import key_verifier
from iamguard.credentials.names import ACCESS_KEY_ID
from iamguard.credentials.records import ACTIVE, KEY_STATUSES, AccessKeyRecord
from iamguard.credentials.store import AlreadyExists, CredentialStore, LimitReached

_ID_ALPHABET = string.ascii_uppercase + string.digits
_INVALID = "the security token included in the request is invalid"
_DUMMY_VERIFIER = "0" * 64


@dataclass(frozen=True)
class AccessKey:
    """Returned once by create_access_key. The secret cannot be retrieved again."""

    user_name: str
    access_key_id: str
    status: str
    create_date: datetime
    secret_access_key: str = field(repr=False)


@dataclass(frozen=True)
class AccessKeyMetadata:
    user_name: str
    access_key_id: str
    status: str
    create_date: datetime


@dataclass(frozen=True)
class AccessKeyLastUsed:
    access_key_id: str
    last_used_date: datetime | None
    last_used_action: str | None
    last_used_source_ip: str | None


@dataclass(frozen=True)
class KeyOwner:
    """Who a verified access key belongs to (the record's tenant and user unique id)."""

    access_key_id: str
    user_id: str


def new_access_key_id() -> str:
    return "AKIA" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(16))


def new_secret() -> str:
    return secrets.token_urlsafe(30)  # 240 bits, 40 characters


def _when(moment: float) -> datetime:
    return datetime.fromtimestamp(moment, timezone.utc)


class AccessKeyService:
    def __init__(self, store: CredentialStore, pepper: Callable[[], bytes], clock: Clock, config: CredentialsConfig,
                 *, tenant_id: str, events: audit.CredentialsAudit | None = None) -> None:
        self._events = events or audit.CredentialsAudit(clock=clock)
        self._store = store
        self._pepper = pepper
        self._clock = clock
        self._config = config
        self._tenant = tenant_id

    def create(self, user_id: str, user_name: str) -> AccessKey:
        secret = new_secret()
        for _ in range(8):  # an id collision is vanishingly rare; retry rather than fail
            key_id = new_access_key_id()
            record = AccessKeyRecord(key_id, self._tenant, user_id, key_verifier(self._pepper(), key_id, secret),
                                     ACTIVE, self._clock.time())
            try:
                self._store.insert_access_key(record, self._config.max_access_keys_per_user)
            except AlreadyExists:
                continue
            except LimitReached:
                raise LimitExceeded(f"user {user_name} already has the maximum of "
                                    f"{self._config.max_access_keys_per_user} access keys") from None
            self._events.emit("access_key_created", outcome="success", tenant_id=self._tenant, user_id=user_id,
                              access_key_id=key_id)
            return AccessKey(user_name, key_id, ACTIVE, _when(record.created_at), secret)
        raise LimitExceeded("could not allocate a unique access key id")  # pragma: no cover

    def list(self, user_id: str, user_name: str) -> tuple[AccessKeyMetadata, ...]:
        return tuple(AccessKeyMetadata(user_name, key.access_key_id, key.status, _when(key.created_at))
                     for key in self._store.list_access_keys(self._tenant, user_id))

    def record(self, access_key_id: object, user_id: str | None = None) -> AccessKeyRecord:
        if not isinstance(access_key_id, str) or not ACCESS_KEY_ID.fullmatch(access_key_id):
            raise ValidationError("AccessKeyId must be AKIA followed by 16 uppercase letters or digits")
        record = self._store.get_access_key(access_key_id)
        if record is None or record.tenant_id != self._tenant or (user_id is not None and record.user_id != user_id):
            raise NoSuchEntity(f"the access key with id {access_key_id} cannot be found")
        return record

    def update_status(self, access_key_id: str, status: object, user_id: str | None = None) -> None:
        if status not in KEY_STATUSES:
            raise ValidationError("Status must be Active or Inactive")
        assert isinstance(status, str)
        record = self.record(access_key_id, user_id)
        # Deactivation is the answer to a leaked key: the sessions minted from it end for good, not
        # only while the key stays inactive (KEY-04).
        ended = self._clock.time() if status != ACTIVE else None
        self._store.set_access_key_status(self._tenant, record.access_key_id, status, changed_at=ended)
        self._events.emit("access_key_status_changed", outcome="success", tenant_id=self._tenant,
                          user_id=record.user_id, access_key_id=access_key_id, status=status)

    def delete(self, access_key_id: str, user_id: str | None = None) -> None:
        record = self.record(access_key_id, user_id)
        self._store.delete_access_key(self._tenant, record.access_key_id)
        self._events.emit("access_key_deleted", outcome="success", tenant_id=self._tenant, user_id=record.user_id,
                          access_key_id=access_key_id)

    def last_used(self, access_key_id: str) -> AccessKeyLastUsed:
        record = self.record(access_key_id)
        return AccessKeyLastUsed(record.access_key_id, _when(record.last_used_at) if record.last_used_at else None,
                                 record.last_used_action, record.last_used_ip)

    def authenticate(self, access_key_id: object, secret: object, *, user_exists: Callable[[str], bool],
                     action: str | None = None, source_ip: str | None = None) -> KeyOwner:
        """Check a key pair. `user_exists(user_id)` confirms the owner is still the same user."""
        self._store.check_attempts_commit()
        now = self._clock.time()
        key_id = access_key_id if isinstance(access_key_id, str) and ACCESS_KEY_ID.fullmatch(access_key_id) else None
        subject = f"key:{key_id or '?'}"
        # KEY-03: the lock is not a gate in front of the comparison but a verdict on a failed one.
        # Every pair is compared, locked or not, so the correct secret gets through a lock that
        # anyone knowing the (public) key id could otherwise hold shut for ever; a wrong one during
        # the lock is answered Throttled, without a store write (the lock is not extended, and
        # writing per refused guess would let a flood of them contend with real exchanges for
        # SQLite's single writer). The price: a locked key id no longer caps how many guesses
        # are compared (each is still answered 429, and the web layer's per-source limit caps them
        # per address). That is safe only because a secret is 240 random bits: even 2**20
        # comparisons per lock period succeed with probability below 2**-220. The lock exists to
        # cap ordinary refusals, flag stuffing and answer 429 (which the per-source limit counts),
        # not because secrets are guessable. For the same reason the count is check-then-count,
        # unlike passwords and MFA codes, which count each attempt before checking it: guesses in
        # flight when the threshold is crossed are each still counted, so the lock does take
        # effect, and counting first would add two write transactions (count, then clear) to every
        # successful exchange, the hot path. A success writes to the throttle state only when it
        # has something to clear (failures or a lock): a key without recent failures costs none.
        state = self._store.throttle_state(subject)
        locked = state.locked(now)
        record = self._store.get_access_key(key_id) if key_id is not None else None
        presented = secret if isinstance(secret, str) and len(secret) <= 128 else ""
        actual = key_verifier(self._pepper(), key_id or "AKIA0000000000000000", presented)
        expected = record.verifier if record is not None else _DUMMY_VERIFIER
        matches = hmac.compare_digest(expected.encode("ascii"), actual.encode("ascii"))
        ok = (matches and record is not None and record.tenant_id == self._tenant and record.status == ACTIVE
              and isinstance(secret, str) and user_exists(record.user_id))
        if not ok:
            if locked:
                assert state.locked_until is not None
                # No store write, but still a record (LOG-02): guesses against a locked key are
                # the evidence of the attack the lock answers, as for passwords and MFA codes.
                self._events.emit("access_key_attempt_while_locked", outcome="failure", level=logging.WARNING,
                                  tenant_id=self._tenant, access_key_id=key_id)
                raise Throttled("too many failed attempts for this access key; try again later",
                                math.ceil(state.locked_until - now))
            if key_id is not None:
                self._store.record_failure(subject, now, self._config.access_key_lockout)
            self._events.emit("access_key_rejected", outcome="failure", level=logging.WARNING, tenant_id=self._tenant,
                              access_key_id=key_id)
            raise InvalidClientTokenId(_INVALID)
        assert record is not None
        if state.failures or locked:
            self._store.clear_failures(subject)
        self._store.record_access_key_use(record.access_key_id, now, action, source_ip)
        return KeyOwner(record.access_key_id, record.user_id)
