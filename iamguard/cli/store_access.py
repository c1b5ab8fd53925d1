"""Finding the store and the tenant a command works on, and opening the directory over them.

The store is `--store`, else `$IAMGUARD_STORE`, else `./iamguard.db`. The tenant is `--tenant`,
else `$IAMGUARD_TENANT`, else the store's only tenant. Commands other than `init` and `import`
never create a store: a mistyped path is an error, not a new empty database.
"""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from iamguard.cli.context import CliContext
from iamguard.cli.errors import CliError
from iamguard.directory import Directory
from iamguard.engine.decision import Decision
from iamguard.store.sqlite import SQLiteStore

if TYPE_CHECKING:
    from iamguard.credentials import Credentials

STORE_VARIABLE = "IAMGUARD_STORE"
TENANT_VARIABLE = "IAMGUARD_TENANT"
DEFAULT_STORE = "iamguard.db"


def store_path(args: argparse.Namespace, ctx: CliContext) -> Path:
    text = getattr(args, "store", None) or ctx.environ.get(STORE_VARIABLE) or DEFAULT_STORE
    return Path(text).expanduser()


def open_store(args: argparse.Namespace, ctx: CliContext, *, create: bool = False) -> SQLiteStore:
    return _open(args, ctx, create=create)[0]


def _open(args: argparse.Namespace, ctx: CliContext, *, create: bool) -> tuple[SQLiteStore, bool]:
    """The store, and whether this call created its file."""
    ctx.auditor  # noqa: B018 -- opens --audit-log first: an unwritable log stops the command before the store is touched
    path = store_path(args, ctx)
    if not create and not path.exists():
        raise CliError(f"no store at {path}; run `iamguard init` first, or pass --store / set {STORE_VARIABLE}")
    if create and path.parent and not path.parent.exists():
        raise CliError(f"cannot create a store at {path}: directory {path.parent} does not exist")
    created = _create_private_file(path) if create else False
    return SQLiteStore(path), created


def _create_private_file(path: Path) -> bool:
    """A new store starts as an empty file readable by its owner only: it holds access-key
    verifiers, sealed TOTP seeds and signing keys, and (when no data key or pepper is configured)
    the keys that unseal them. SQLite gives its -wal and -shm files the database file's mode."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False  # an existing store keeps the mode its owner chose
    except OSError as exc:
        raise CliError(f"cannot create a store at {path}: {exc.strerror or type(exc).__name__}") from None
    os.close(descriptor)
    return True


@contextmanager
def opened_store(args: argparse.Namespace, ctx: CliContext, *, create: bool = False) -> Iterator[SQLiteStore]:
    """The store, closed afterwards. A store this command created is removed again when the
    command fails (`init` or `import` refused): a failed command leaves nothing behind."""
    path = store_path(args, ctx)
    # Created here, by this process (an exclusive create): another `init` that raced it and lost
    # never removes the store the winner made.
    store, created = _open(args, ctx, create=create)
    try:
        yield store
    except BaseException:
        # Only a store that holds nothing: a concurrent `init` may have put its tenant in the
        # file this one created (and then refused its own).
        empty = created and _holds_no_tenant(store)
        store.database.close()
        if empty:
            for leftover in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
                with contextlib.suppress(OSError):
                    leftover.unlink()
        raise
    store.database.close()


def _holds_no_tenant(store: SQLiteStore) -> bool:
    try:
        return not Directory.list_tenants(store)
    except Exception:  # cannot tell: keep the file
        return False


def choose_tenant(args: argparse.Namespace, ctx: CliContext, store: SQLiteStore) -> str:
    wanted = getattr(args, "tenant", None) or ctx.environ.get(TENANT_VARIABLE)
    if wanted:
        return str(wanted)
    tenants = Directory.list_tenants(store)
    if not tenants:
        raise CliError(f"the store {store.path} has no tenant; run `iamguard init`")
    if len(tenants) > 1:
        names = ", ".join(tenant.tenant_id for tenant in tenants)
        raise CliError(f"the store has {len(tenants)} tenants ({names}); choose one with --tenant or {TENANT_VARIABLE}")
    return tenants[0].tenant_id


@dataclass
class StoreSession:
    """The opened store, the chosen tenant's directory, and (on first use) its credentials."""

    ctx: CliContext
    store: SQLiteStore
    directory: Directory

    @property
    def tenant_id(self) -> str:
        return self.directory.tenant_id

    def close(self) -> None:
        self.store.database.close()

    @cached_property
    def credentials(self) -> Credentials:
        from iamguard.cli.credentials_access import open_credentials

        return open_credentials(self)


def open_session(args: argparse.Namespace, ctx: CliContext) -> StoreSession:
    store = open_store(args, ctx)
    tenant_id = choose_tenant(args, ctx, store)
    directory = Directory(store, tenant_id, clock=ctx.clock, cache_ttl=0, audit=ctx.auditor)
    return StoreSession(ctx, store, directory)


def simulate_stored(args: argparse.Namespace, ctx: CliContext, context: dict[str, Any],
                    resources: Sequence[str]) -> list[Decision]:
    """`iamguard simulate --principal-arn ARN`: the stored principal's own policies (and the
    --resource-policy, if given), like IAM's SimulatePrincipalPolicy."""
    from iamguard.cli.simulate import read_policy

    resource_policy = read_policy(ctx, "--resource-policy", args.resource_policy, "resource") \
        if args.resource_policy else None
    session = open_session(args, ctx)
    try:
        results = session.directory.simulate_principal_policy(
            args.principal_arn, list(args.action), list(resources), context, resource_policy)
    finally:
        session.close()
    return [result.decision for result in results]
