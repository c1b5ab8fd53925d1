"""Fixtures shared by the directory tests: every test that takes `store` or `directory` runs once
against the in-memory store and once against SQLite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from iamguard.clock import FrozenClock
from iamguard.directory import Directory
from iamguard.store.base import DirectoryStore
from iamguard.store.memory import MemoryStore
from iamguard.store.sqlite import SQLiteStore
from tests.directory.helpers import TENANT


def make_store(kind: str, path: Path) -> DirectoryStore:
    return MemoryStore() if kind == "memory" else SQLiteStore(path / "directory.db")


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DirectoryStore]:
    made = make_store(request.param, tmp_path)
    yield made
    made.close()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def directory(store: DirectoryStore, clock: FrozenClock) -> Directory:
    Directory.create_tenant(store, TENANT, name="acme", clock=clock)
    return Directory(store, TENANT, clock=clock)
