"""The credential store on the shared SQLite database (the directory's file), so that several
processes see one truth: used TOTP steps, failure counters, revocations and signing keys.

Atomic steps are single statements or single IMMEDIATE transactions; see `store.py`.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict

from iamguard.credentials.config import Lockout
from iamguard.credentials.records import (
    AccessKeyRecord,
    LoginProfile,
    MfaDeviceRecord,
    PasswordPolicy,
    RecoveryCodeRecord,
    SigningKeyRecord,
    ThrottleState,
)
from iamguard.credentials.store import (
    AlreadyExists,
    CredentialStore,
    LimitReached,
    access_key_subject,
    mfa_config_subject,
    next_failure_state,
    throttle_stale,
)
from iamguard.store.database import Database, StoreError

COMPONENT = "credentials"

MIGRATIONS = [
    """
    CREATE TABLE cred_server_secrets (name TEXT PRIMARY KEY, value BLOB NOT NULL);
    CREATE TABLE cred_password_policies (tenant_id TEXT PRIMARY KEY, document TEXT NOT NULL);
    CREATE TABLE cred_login_profiles (
        tenant_id TEXT NOT NULL, user_id TEXT NOT NULL, password_hash TEXT NOT NULL,
        created_at REAL NOT NULL, changed_at REAL NOT NULL, reset_required INTEGER NOT NULL,
        PRIMARY KEY (tenant_id, user_id));
    CREATE TABLE cred_password_history (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, tenant_id TEXT NOT NULL, user_id TEXT NOT NULL,
        password_hash TEXT NOT NULL);
    CREATE INDEX cred_password_history_user ON cred_password_history (tenant_id, user_id, seq);
    CREATE TABLE cred_access_keys (
        access_key_id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, user_id TEXT NOT NULL,
        verifier TEXT NOT NULL, status TEXT NOT NULL, created_at REAL NOT NULL,
        last_used_at REAL, last_used_action TEXT, last_used_ip TEXT);
    CREATE INDEX cred_access_keys_user ON cred_access_keys (tenant_id, user_id);
    CREATE TABLE cred_mfa_devices (
        device_id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, user_id TEXT NOT NULL,
        serial_number TEXT NOT NULL, sealed_seed BLOB NOT NULL, enabled INTEGER NOT NULL,
        created_at REAL NOT NULL, enabled_at REAL, last_step INTEGER,
        UNIQUE (tenant_id, serial_number));
    CREATE INDEX cred_mfa_devices_user ON cred_mfa_devices (tenant_id, user_id);
    CREATE TABLE cred_recovery_codes (
        code_id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, user_id TEXT NOT NULL, code_hash TEXT NOT NULL);
    CREATE INDEX cred_recovery_codes_user ON cred_recovery_codes (tenant_id, user_id);
    CREATE TABLE cred_throttle (
        subject TEXT PRIMARY KEY, failures INTEGER NOT NULL, locked_until REAL, last_failure REAL);
    CREATE TABLE cred_signing_keys (
        kid TEXT PRIMARY KEY, algorithm TEXT NOT NULL, sealed_private BLOB NOT NULL, public_jwk TEXT,
        created_at REAL NOT NULL, retired_at REAL);
    CREATE TABLE cred_session_revocations (
        tenant_id TEXT NOT NULL, principal_id TEXT NOT NULL, not_before REAL NOT NULL,
        PRIMARY KEY (tenant_id, principal_id));
    CREATE TABLE cred_revoked_tokens (
        tenant_id TEXT NOT NULL, jti TEXT NOT NULL, expires_at REAL NOT NULL, PRIMARY KEY (tenant_id, jti))
    """,
]


class SQLiteCredentialStore(CredentialStore):
    def __init__(self, database: Database) -> None:
        self._db = database
        database.migrate(COMPONENT, MIGRATIONS)

    @property
    def database(self) -> Database:
        return self._db

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        try:
            with self._db.transaction() as connection:
                yield connection
        except sqlite3.Error as exc:
            raise StoreError(f"credential store write failed: {exc}") from None

    def _query(self, sql: str, params: tuple[object, ...] = ()) -> list[sqlite3.Row]:
        try:
            return self._db.connection().execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"credential store read failed: {exc}") from None

    def generation(self) -> int:
        return self._db.generation()

    @property
    def local_commits(self) -> int:
        return self._db.commit_count

    def server_secret(self, name: str) -> bytes:
        rows = self._query("SELECT value FROM cred_server_secrets WHERE name = ?", (name,))
        if rows:
            return bytes(rows[0]["value"])
        with self._write() as connection:
            connection.execute("INSERT OR IGNORE INTO cred_server_secrets (name, value) VALUES (?, ?)",
                               (name, secrets.token_bytes(32)))
            row = connection.execute("SELECT value FROM cred_server_secrets WHERE name = ?", (name,)).fetchone()
        return bytes(row["value"])

    # password policy and login profiles

    def get_password_policy(self, tenant_id: str) -> PasswordPolicy | None:
        rows = self._query("SELECT document FROM cred_password_policies WHERE tenant_id = ?", (tenant_id,))
        return PasswordPolicy(**json.loads(rows[0]["document"])) if rows else None

    def put_password_policy(self, tenant_id: str, policy: PasswordPolicy | None) -> None:
        with self._write() as connection:
            if policy is None:
                connection.execute("DELETE FROM cred_password_policies WHERE tenant_id = ?", (tenant_id,))
            else:
                connection.execute(
                    "INSERT INTO cred_password_policies (tenant_id, document) VALUES (?, ?) "
                    "ON CONFLICT(tenant_id) DO UPDATE SET document = excluded.document",
                    (tenant_id, json.dumps(asdict(policy), sort_keys=True)))
            Database.bump_generation(connection)

    @staticmethod
    def _profile(row: sqlite3.Row) -> LoginProfile:
        return LoginProfile(row["tenant_id"], row["user_id"], row["password_hash"], row["created_at"],
                            row["changed_at"], bool(row["reset_required"]))

    def get_login_profile(self, tenant_id: str, user_id: str) -> LoginProfile | None:
        rows = self._query("SELECT * FROM cred_login_profiles WHERE tenant_id = ? AND user_id = ?",
                           (tenant_id, user_id))
        return self._profile(rows[0]) if rows else None

    def create_login_profile(self, profile: LoginProfile) -> None:
        with self._write() as connection:
            try:
                connection.execute(
                    "INSERT INTO cred_login_profiles (tenant_id, user_id, password_hash, created_at, changed_at, "
                    "reset_required) VALUES (?, ?, ?, ?, ?, ?)",
                    (profile.tenant_id, profile.user_id, profile.password_hash, profile.created_at,
                     profile.changed_at, int(profile.reset_required)))
            except sqlite3.IntegrityError:
                raise AlreadyExists(profile.user_id) from None
            Database.bump_generation(connection)

    def replace_password(self, profile: LoginProfile, history_limit: int, *, archive: bool = True) -> bool:
        key = (profile.tenant_id, profile.user_id)
        with self._write() as connection:
            old = connection.execute(
                "SELECT password_hash FROM cred_login_profiles WHERE tenant_id = ? AND user_id = ?", key).fetchone()
            if old is None:
                return False
            if archive:
                connection.execute(
                    "INSERT INTO cred_password_history (tenant_id, user_id, password_hash) VALUES (?, ?, ?)",
                    (*key, old["password_hash"]))
                connection.execute(
                    "DELETE FROM cred_password_history WHERE tenant_id = ? AND user_id = ? AND seq NOT IN "
                    "(SELECT seq FROM cred_password_history WHERE tenant_id = ? AND user_id = ? "
                    "ORDER BY seq DESC LIMIT ?)", (*key, *key, max(history_limit, 0)))
            connection.execute(
                "UPDATE cred_login_profiles SET password_hash = ?, changed_at = ?, reset_required = ? "
                "WHERE tenant_id = ? AND user_id = ?",
                (profile.password_hash, profile.changed_at, int(profile.reset_required), *key))
            Database.bump_generation(connection)
            return True

    def delete_login_profile(self, tenant_id: str, user_id: str) -> bool:
        with self._write() as connection:
            connection.execute("DELETE FROM cred_password_history WHERE tenant_id = ? AND user_id = ?",
                               (tenant_id, user_id))
            changed = connection.execute("DELETE FROM cred_login_profiles WHERE tenant_id = ? AND user_id = ?",
                                         (tenant_id, user_id)).rowcount
            if changed:
                Database.bump_generation(connection)
            return changed == 1

    def password_history(self, tenant_id: str, user_id: str) -> list[str]:
        rows = self._query("SELECT password_hash FROM cred_password_history WHERE tenant_id = ? AND user_id = ? "
                           "ORDER BY seq DESC", (tenant_id, user_id))
        return [row["password_hash"] for row in rows]

    # access keys

    @staticmethod
    def _key(row: sqlite3.Row) -> AccessKeyRecord:
        return AccessKeyRecord(row["access_key_id"], row["tenant_id"], row["user_id"], row["verifier"], row["status"],
                               row["created_at"], row["last_used_at"], row["last_used_action"], row["last_used_ip"])

    def insert_access_key(self, record: AccessKeyRecord, limit: int) -> None:
        with self._write() as connection:
            count = connection.execute("SELECT COUNT(*) AS n FROM cred_access_keys WHERE tenant_id = ? AND user_id = ?",
                                       (record.tenant_id, record.user_id)).fetchone()["n"]
            if count >= limit:
                raise LimitReached(record.user_id)
            try:
                connection.execute(
                    "INSERT INTO cred_access_keys (access_key_id, tenant_id, user_id, verifier, status, created_at) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (record.access_key_id, record.tenant_id, record.user_id, record.verifier, record.status,
                     record.created_at))
            except sqlite3.IntegrityError:
                raise AlreadyExists(record.access_key_id) from None
            Database.bump_generation(connection)

    def get_access_key(self, access_key_id: str) -> AccessKeyRecord | None:
        rows = self._query("SELECT * FROM cred_access_keys WHERE access_key_id = ?", (access_key_id,))
        return self._key(rows[0]) if rows else None

    def list_access_keys(self, tenant_id: str, user_id: str) -> list[AccessKeyRecord]:
        rows = self._query("SELECT * FROM cred_access_keys WHERE tenant_id = ? AND user_id = ? "
                           "ORDER BY created_at, access_key_id", (tenant_id, user_id))
        return [self._key(row) for row in rows]

    def set_access_key_status(self, tenant_id: str, access_key_id: str, status: str, *,
                              changed_at: float | None = None) -> bool:
        with self._write() as connection:
            changed = connection.execute(
                "UPDATE cred_access_keys SET status = ? WHERE tenant_id = ? AND access_key_id = ?",
                (status, tenant_id, access_key_id)).rowcount
            if changed:
                if changed_at is not None:
                    self._sessions_end(connection, tenant_id, access_key_subject(access_key_id), changed_at)
                Database.bump_generation(connection)
            return changed == 1

    def delete_access_key(self, tenant_id: str, access_key_id: str) -> bool:
        with self._write() as connection:
            changed = connection.execute("DELETE FROM cred_access_keys WHERE tenant_id = ? AND access_key_id = ?",
                                         (tenant_id, access_key_id)).rowcount
            if changed:
                Database.bump_generation(connection)
            return changed == 1

    def record_access_key_use(self, access_key_id: str, at: float, action: str | None, ip: str | None) -> None:
        with self._write() as connection:
            connection.execute(
                "UPDATE cred_access_keys SET last_used_at = ?, last_used_action = ?, last_used_ip = ? "
                "WHERE access_key_id = ? AND status = 'Active'", (at, action, ip, access_key_id))

    # MFA devices and recovery codes

    @staticmethod
    def _device(row: sqlite3.Row) -> MfaDeviceRecord:
        return MfaDeviceRecord(row["device_id"], row["tenant_id"], row["user_id"], row["serial_number"],
                               bytes(row["sealed_seed"]), bool(row["enabled"]), row["created_at"], row["enabled_at"],
                               row["last_step"])

    def insert_mfa_device(self, record: MfaDeviceRecord, limit: int) -> None:
        with self._write() as connection:
            taken = connection.execute("SELECT 1 FROM cred_mfa_devices WHERE tenant_id = ? AND serial_number = ?",
                                       (record.tenant_id, record.serial_number)).fetchone()
            if taken:
                raise AlreadyExists(record.serial_number)
            count = connection.execute("SELECT COUNT(*) AS n FROM cred_mfa_devices WHERE tenant_id = ? AND user_id = ?",
                                       (record.tenant_id, record.user_id)).fetchone()["n"]
            if count >= limit:
                raise LimitReached(record.user_id)
            connection.execute(
                "INSERT INTO cred_mfa_devices (device_id, tenant_id, user_id, serial_number, sealed_seed, enabled, "
                "created_at, enabled_at, last_step) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (record.device_id, record.tenant_id, record.user_id, record.serial_number, record.sealed_seed,
                 int(record.enabled), record.created_at, record.enabled_at, record.last_step))
            Database.bump_generation(connection)

    def get_mfa_device(self, tenant_id: str, serial_number: str) -> MfaDeviceRecord | None:
        rows = self._query("SELECT * FROM cred_mfa_devices WHERE tenant_id = ? AND serial_number = ?",
                           (tenant_id, serial_number))
        return self._device(rows[0]) if rows else None

    def get_mfa_device_by_id(self, device_id: str) -> MfaDeviceRecord | None:
        rows = self._query("SELECT * FROM cred_mfa_devices WHERE device_id = ?", (device_id,))
        return self._device(rows[0]) if rows else None

    def list_mfa_devices(self, tenant_id: str, user_id: str) -> list[MfaDeviceRecord]:
        rows = self._query("SELECT * FROM cred_mfa_devices WHERE tenant_id = ? AND user_id = ? "
                           "ORDER BY created_at, serial_number", (tenant_id, user_id))
        return [self._device(row) for row in rows]

    @staticmethod
    def _drop_unbacked_codes(connection: sqlite3.Connection, tenant_id: str, user_id: str,
                             besides: str = "") -> None:
        """Recovery codes back an enabled device (other than `besides`): with none, they go (MFA-08)."""
        connection.execute(
            "DELETE FROM cred_recovery_codes WHERE tenant_id = ? AND user_id = ? AND NOT EXISTS "
            "(SELECT 1 FROM cred_mfa_devices WHERE tenant_id = ? AND user_id = ? AND enabled = 1 AND device_id != ?)",
            (tenant_id, user_id, tenant_id, user_id, besides))

    @staticmethod
    def _sessions_end(connection: sqlite3.Connection, tenant_id: str, subject: str, before: float) -> None:
        """Sessions of `subject` (a unique id or one of the store's own subjects) issued before
        `before` are revoked; the latest moment is kept."""
        connection.execute(
            "INSERT INTO cred_session_revocations (tenant_id, principal_id, not_before) VALUES (?, ?, ?) "
            "ON CONFLICT(tenant_id, principal_id) DO UPDATE SET not_before = MAX(not_before, excluded.not_before)",
            (tenant_id, subject, before))

    @classmethod
    def _mfa_changed(cls, connection: sqlite3.Connection, tenant_id: str, user_id: str, at: float | None) -> None:
        if at is not None:
            cls._sessions_end(connection, tenant_id, mfa_config_subject(user_id), at)

    def enable_mfa_device(self, device_id: str, step: int, at: float) -> bool:
        with self._write() as connection:
            changed = connection.execute(
                "UPDATE cred_mfa_devices SET enabled = 1, enabled_at = ?, last_step = ? "
                "WHERE device_id = ? AND enabled = 0 AND (last_step IS NULL OR last_step < ?)",
                (at, step, device_id, step)).rowcount
            if not changed:
                return False
            row = connection.execute("SELECT tenant_id, user_id FROM cred_mfa_devices WHERE device_id = ?",
                                     (device_id,)).fetchone()
            # Codes stored while no other device was enabled belong to no live configuration.
            self._drop_unbacked_codes(connection, row["tenant_id"], row["user_id"], besides=device_id)
            Database.bump_generation(connection)
            return True

    def disable_mfa_device(self, device_id: str, *, changed_at: float | None = None) -> bool:
        with self._write() as connection:
            row = connection.execute("SELECT tenant_id, user_id FROM cred_mfa_devices WHERE device_id = ? "
                                     "AND enabled = 1", (device_id,)).fetchone()
            if row is None:
                return False
            connection.execute("UPDATE cred_mfa_devices SET enabled = 0, enabled_at = NULL WHERE device_id = ?",
                               (device_id,))
            self._drop_unbacked_codes(connection, row["tenant_id"], row["user_id"])
            self._mfa_changed(connection, row["tenant_id"], row["user_id"], changed_at)
            Database.bump_generation(connection)
            return True

    def delete_mfa_device(self, device_id: str, *, changed_at: float | None = None) -> bool:
        with self._write() as connection:
            row = connection.execute("SELECT tenant_id, user_id FROM cred_mfa_devices WHERE device_id = ?",
                                     (device_id,)).fetchone()
            if row is None:
                return False
            connection.execute("DELETE FROM cred_mfa_devices WHERE device_id = ?", (device_id,))
            self._drop_unbacked_codes(connection, row["tenant_id"], row["user_id"])
            self._mfa_changed(connection, row["tenant_id"], row["user_id"], changed_at)
            Database.bump_generation(connection)
            return True

    def consume_totp_step(self, device_id: str, step: int) -> bool:
        # The whole check-and-advance is one conditional UPDATE: two processes racing with the same
        # code both run it, and SQLite's write lock lets exactly one of them change the row.
        with self._write() as connection:
            changed = connection.execute(
                "UPDATE cred_mfa_devices SET last_step = ? "
                "WHERE device_id = ? AND enabled = 1 AND (last_step IS NULL OR last_step < ?)",
                (step, device_id, step)).rowcount
            return changed == 1

    def replace_recovery_codes(self, tenant_id: str, user_id: str, codes: Iterable[RecoveryCodeRecord], *,
                               changed_at: float | None = None) -> None:
        with self._write() as connection:
            connection.execute("DELETE FROM cred_recovery_codes WHERE tenant_id = ? AND user_id = ?",
                               (tenant_id, user_id))
            connection.executemany(
                "INSERT INTO cred_recovery_codes (code_id, tenant_id, user_id, code_hash) VALUES (?, ?, ?, ?)",
                [(code.code_id, code.tenant_id, code.user_id, code.code_hash) for code in codes])
            if changed_at is not None:
                self._mfa_changed(connection, tenant_id, user_id, changed_at)
                Database.bump_generation(connection)

    def list_recovery_codes(self, tenant_id: str, user_id: str) -> list[RecoveryCodeRecord]:
        rows = self._query("SELECT * FROM cred_recovery_codes WHERE tenant_id = ? AND user_id = ? ORDER BY code_id",
                           (tenant_id, user_id))
        return [RecoveryCodeRecord(row["code_id"], row["tenant_id"], row["user_id"], row["code_hash"]) for row in rows]

    def consume_recovery_code(self, code_id: str) -> bool:
        with self._write() as connection:
            return connection.execute("DELETE FROM cred_recovery_codes WHERE code_id = ?", (code_id,)).rowcount == 1

    # failure counters

    def check_attempts_commit(self) -> None:
        if self._db.connection().in_transaction:
            raise StoreError("credentials cannot be checked inside an open store transaction (such as "
                             "Directory.batch()): a failed attempt or a used code would be undone with it; "
                             "check them before the transaction")

    def throttle_state(self, subject: str) -> ThrottleState:
        rows = self._query("SELECT failures, locked_until, last_failure FROM cred_throttle WHERE subject = ?",
                           (subject,))
        if not rows:
            return ThrottleState(0, None, None)
        return ThrottleState(rows[0]["failures"], rows[0]["locked_until"], rows[0]["last_failure"])

    def record_failure(self, subject: str, now: float, lockout: Lockout) -> ThrottleState:
        with self._write() as connection:  # IMMEDIATE: the read and the write below are one step
            row = connection.execute("SELECT failures, locked_until, last_failure FROM cred_throttle "
                                     "WHERE subject = ?", (subject,)).fetchone()
            state = ThrottleState(row["failures"], row["locked_until"], row["last_failure"]) if row \
                else ThrottleState(0, None, None)
            state = next_failure_state(state, now, lockout)
            connection.execute(
                "INSERT INTO cred_throttle (subject, failures, locked_until, last_failure) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(subject) DO UPDATE SET failures = excluded.failures, "
                "locked_until = excluded.locked_until, last_failure = excluded.last_failure",
                (subject, state.failures, state.locked_until, state.last_failure))
            return state

    def clear_failures(self, subject: str, *, only_if_failures: int | None = None) -> None:
        with self._write() as connection:
            if only_if_failures is None:
                connection.execute("DELETE FROM cred_throttle WHERE subject = ?", (subject,))
            else:
                connection.execute("DELETE FROM cred_throttle WHERE subject = ? AND failures = ?",
                                   (subject, only_if_failures))

    # signing keys

    def signing_keys(self) -> list[SigningKeyRecord]:
        rows = self._query("SELECT * FROM cred_signing_keys ORDER BY created_at DESC, kid DESC")
        return [SigningKeyRecord(row["kid"], row["algorithm"], bytes(row["sealed_private"]), row["public_jwk"],
                                 row["created_at"], row["retired_at"]) for row in rows]

    def add_signing_key(self, record: SigningKeyRecord, *, retire_at: float | None) -> bool:
        with self._write() as connection:
            if retire_at is None:
                if connection.execute("SELECT 1 FROM cred_signing_keys WHERE retired_at IS NULL").fetchone():
                    return False
            else:
                connection.execute("UPDATE cred_signing_keys SET retired_at = ? WHERE retired_at IS NULL",
                                   (retire_at,))
            connection.execute(
                "INSERT INTO cred_signing_keys (kid, algorithm, sealed_private, public_jwk, created_at, retired_at) "
                "VALUES (?, ?, ?, ?, ?, NULL)",
                (record.kid, record.algorithm, record.sealed_private, record.public_jwk, record.created_at))
            Database.bump_generation(connection)
            return True

    def prune_signing_keys(self, retired_before: float) -> int:
        with self._write() as connection:
            removed = connection.execute(
                "DELETE FROM cred_signing_keys WHERE retired_at IS NOT NULL AND retired_at < ?",
                (retired_before,)).rowcount
            if removed:
                Database.bump_generation(connection)
            return int(removed)

    # revocation

    def revoke_sessions(self, tenant_id: str, principal_id: str, before: float) -> None:
        with self._write() as connection:
            self._sessions_end(connection, tenant_id, principal_id, before)
            Database.bump_generation(connection)

    def sessions_not_before(self, tenant_id: str, principal_ids: Iterable[str]) -> float | None:
        ids = list(principal_ids)
        if not ids:
            return None
        marks = ", ".join("?" for _ in ids)
        rows = self._query(f"SELECT MAX(not_before) AS moment FROM cred_session_revocations "
                           f"WHERE tenant_id = ? AND principal_id IN ({marks})", (tenant_id, *ids))
        moment = rows[0]["moment"] if rows else None
        return float(moment) if moment is not None else None

    def revoke_token(self, tenant_id: str, jti: str, expires_at: float) -> None:
        with self._write() as connection:
            connection.execute("INSERT OR REPLACE INTO cred_revoked_tokens (tenant_id, jti, expires_at) "
                               "VALUES (?, ?, ?)", (tenant_id, jti, expires_at))
            Database.bump_generation(connection)

    def token_revoked(self, tenant_id: str, jti: str) -> bool:
        return bool(self._query("SELECT 1 FROM cred_revoked_tokens WHERE tenant_id = ? AND jti = ?",
                                (tenant_id, jti)))

    def prune(self, now: float, horizon: float) -> None:
        with self._write() as connection:
            connection.execute("DELETE FROM cred_revoked_tokens WHERE expires_at < ?", (now,))
            connection.execute("DELETE FROM cred_session_revocations WHERE not_before < ?", (horizon,))
            rows = connection.execute("SELECT subject, failures, locked_until, last_failure FROM cred_throttle "
                                      "WHERE MAX(COALESCE(locked_until, 0), COALESCE(last_failure, 0)) < ?",
                                      (horizon,)).fetchall()
            stale = [row["subject"] for row in rows
                     if throttle_stale(ThrottleState(row["failures"], row["locked_until"], row["last_failure"]),
                                       horizon)]
            connection.executemany("DELETE FROM cred_throttle WHERE subject = ?", [(s,) for s in stale])
