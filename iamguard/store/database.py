"""One SQLite file shared by every component (directory, credentials, audit).

- WAL journal, so readers never block the writer and several processes (gunicorn workers) can
  share the file;
- one connection per thread;
- `transaction()` takes the write lock up front (BEGIN IMMEDIATE), so a read-then-write inside
  it is atomic across processes;
- migrations are registered per component and applied forward only, recorded in
  `schema_versions`;
- a global generation counter, bumped in the same transaction as every write, lets caches in
  every process detect that something changed.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from iamguard.errors import IamGuardError


class StoreError(IamGuardError):
    """The store could not be read or written. Authorization that needs it must deny."""


class PolicyLoadError(StoreError):
    """A stored policy that applies to the request could not be loaded (a document that no longer
    parses, a missing version or boundary). Evaluating with the policies that did load could drop
    the Deny that matters, so the request is denied (spec FAIL-06, reason `policy_load_error`)."""


class Database:
    def __init__(self, path: str | Path, *, timeout: float = 5.0) -> None:
        # Absolute: every thread opens its own connection, possibly after the process changed
        # directory, and `generation()` checks that the path still names the file that was opened.
        self.path = str(path) if str(path) in (":memory:", "") else os.path.abspath(path)
        self.timeout = timeout
        self._local = threading.local()
        self._migrate_lock = threading.Lock()
        self._commit_lock = threading.Lock()
        # How many write transactions committed through this object (read-only for everyone else).
        # Caches in this process compare it on every call, so they see this process's own writes
        # at once without querying the file; a plain attribute, as it is read on every request.
        self.commit_count = 0
        # An in-memory (or temporary: "") database lives in the one connection that created it; any
        # other connection (another thread, or this one after close()) would open a new, empty one.
        self._private_opened = False
        if self._initialized():  # a store in use: opening it takes no write lock (a reader never waits)
            return
        with self.transaction() as connection:
            connection.execute(
                "CREATE TABLE IF NOT EXISTS schema_versions (component TEXT PRIMARY KEY, version INTEGER NOT NULL)"
            )
            connection.execute("CREATE TABLE IF NOT EXISTS generation (id INTEGER PRIMARY KEY CHECK (id = 1), "
                               "value INTEGER NOT NULL)")
            connection.execute("INSERT OR IGNORE INTO generation (id, value) VALUES (1, 0)")

    def _initialized(self) -> bool:
        try:
            connection = self.connection()
            tables = {row[0] for row in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('schema_versions', 'generation')")}
            return len(tables) == 2 and \
                connection.execute("SELECT 1 FROM generation WHERE id = 1").fetchone() is not None
        except sqlite3.Error:  # the write below meets the same problem and reports it
            return False

    def connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            if self.path in (":memory:", ""):
                if self._private_opened:
                    raise StoreError(f"the SQLite store {self.path!r} is private to the connection that created it and "
                                     "cannot be opened again (from another thread, or after close()); use a file path, "
                                     "or iamguard.store.memory.MemoryStore for a store kept in this process")
                self._private_opened = True
            try:
                connection = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None,
                                             check_same_thread=True)
                connection.row_factory = sqlite3.Row
                if self.path != ":memory:":
                    connection.execute("PRAGMA journal_mode=WAL")
                connection.execute("PRAGMA foreign_keys=ON")
                connection.execute("PRAGMA synchronous=NORMAL")
                connection.execute(f"PRAGMA busy_timeout={int(self.timeout * 1000)}")
                self._local.file = self._file_identity()
            except (sqlite3.Error, OSError) as exc:
                raise StoreError(f"cannot open the store at {self.path!r}: {exc}") from None
            self._local.connection = connection
        return connection

    def _file_identity(self) -> tuple[int, int] | None:
        if self.path in (":memory:", ""):  # no file to compare
            return None
        status = os.stat(self.path)
        return status.st_dev, status.st_ino

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction. Everything inside commits together or not at all."""
        connection = self.connection()
        if connection.in_transaction:  # nested use joins the outer transaction
            yield connection
            return
        try:
            connection.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot start a transaction: {exc}") from None
        try:
            yield connection
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        else:
            try:
                connection.execute("COMMIT")
            except sqlite3.Error as exc:
                connection.execute("ROLLBACK")
                raise StoreError(f"cannot commit: {exc}") from None
            with self._commit_lock:
                self.commit_count += 1

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """A consistent read snapshot (several SELECTs see one state of the file)."""
        connection = self.connection()
        if connection.in_transaction:
            yield connection
            return
        try:
            connection.execute("BEGIN")
            try:
                yield connection
            finally:
                connection.execute("COMMIT")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read the store: {exc}") from None

    def migrate(self, component: str, migrations: Sequence[str]) -> None:
        """Apply `migrations[n:]` for a component at schema version n. Each entry is one SQL script.
        A component already at the latest version is left alone without taking the write lock."""
        try:
            if self.schema_version(component) == len(migrations):
                return
        except sqlite3.Error:  # read again, and answered, inside the write below
            pass
        with self._migrate_lock, self.transaction() as connection:
            row = connection.execute("SELECT version FROM schema_versions WHERE component = ?", (component,)).fetchone()
            current = row["version"] if row else 0
            if current > len(migrations):
                raise StoreError(
                    f"the store's {component} schema is version {current}, newer than this iamguard knows "
                    f"({len(migrations)}); upgrade iamguard"
                )
            for script in migrations[current:]:
                for statement in _split_script(script):
                    connection.execute(statement)
            connection.execute(
                "INSERT INTO schema_versions (component, version) VALUES (?, ?) "
                "ON CONFLICT(component) DO UPDATE SET version = excluded.version",
                (component, len(migrations)),
            )

    def schema_version(self, component: str) -> int:
        row = self.connection().execute(
            "SELECT version FROM schema_versions WHERE component = ?", (component,)).fetchone()
        return int(row["version"]) if row else 0

    def generation(self) -> int:
        """The generation counter. Every cache re-reads it (at most every TTL) to learn of other
        processes' writes, so it also checks that the path still names the file this thread's
        connection has open: a file replaced or removed under a running process would otherwise
        keep being read from the old inode for ever, and no later write to the new file (a
        revocation by another process) would ever be seen."""
        connection = self.connection()
        try:
            same_file = self._file_identity() == getattr(self._local, "file", None)
        except OSError:
            same_file = False
        if not same_file:
            raise StoreError(f"the store file {self.path!r} was replaced or removed while open; restart the process")
        try:
            row = connection.execute("SELECT value FROM generation WHERE id = 1").fetchone()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read the store generation: {exc}") from None
        if row is None:
            raise StoreError("the store's generation row is missing")
        return int(row["value"])

    @staticmethod
    def bump_generation(connection: sqlite3.Connection) -> None:
        """Call inside every write transaction that changes what a decision could depend on."""
        connection.execute("UPDATE generation SET value = value + 1 WHERE id = 1")

    def close(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None


def _split_script(script: str) -> list[str]:
    # sqlite3's executescript commits implicitly, which would break the migration transaction.
    return [statement.strip() for statement in script.split(";") if statement.strip()]
