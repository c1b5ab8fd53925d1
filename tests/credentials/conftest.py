"""Fixtures for the credentials tests: a frozen clock, a tenant directory on either store, and a
Credentials facade with cheap hashing so the suite stays fast."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from iamguard.clock import FrozenClock
from iamguard.credentials import AccessKeyCredentials, Credentials, ScryptCost
from iamguard.credentials import totp as totp_math
from iamguard.credentials.mfa import VirtualMfaDevice
from iamguard.directory import Directory
from iamguard.store.memory import MemoryStore
from iamguard.store.sqlite import SQLiteStore

TENANT = "111122223333"
CHEAP = ScryptCost(n=16, r=1, p=1)
ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


def cheap_settings(**extra: Any) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "password_cost": CHEAP, "recovery_code_cost": CHEAP,
        "data_key": secrets.token_bytes(32), "pepper": secrets.token_bytes(32),
    }
    settings.update(extra)
    return settings


def make_store(kind: str, path: Path) -> Any:
    return MemoryStore() if kind == "memory" else SQLiteStore(path / "iamguard.db")


@dataclass
class Env:
    clock: FrozenClock
    store: Any
    directory: Directory
    creds: Credentials
    settings: dict[str, Any]

    def credentials(self, **settings: Any) -> Credentials:
        """Another facade over the same directory with the same keys (as another process would
        be configured)."""
        return Credentials(self.directory, clock=self.clock, **{**self.settings, **settings})

    def user_with_key(self, name: str = "alice", policy: Any = ALLOW_ALL) -> AccessKeyCredentials:
        self.directory.create_user(name)
        if policy is not None:
            self.directory.put_user_policy(name, "main", policy)
        key = self.creds.create_access_key(name)
        return AccessKeyCredentials(key.access_key_id, key.secret_access_key)

    def enabled_device(self, user_name: str = "alice", device_name: str = "phone") -> VirtualMfaDevice:
        device = self.creds.create_virtual_mfa_device(user_name, device_name)
        now = self.clock.time()
        self.creds.enable_mfa_device(user_name, device.serial_number,
                                     totp_math.code_at(device.base32_seed, now - 30),
                                     totp_math.code_at(device.base32_seed, now))
        self.clock.advance(30)  # the enrolment step is used up; the next login needs a newer one
        return device

    def code(self, device: VirtualMfaDevice, offset_steps: int = 0) -> str:
        return totp_math.code_at(device.base32_seed, self.clock.time() + 30 * offset_steps)

    def wrong_code(self, device: VirtualMfaDevice) -> str:
        """A well-formed code that matches no step in the window around now."""
        valid = {self.code(device, offset) for offset in (-2, -1, 0, 1, 2)}
        return next(candidate for candidate in ("000000", "111111", "222222") if candidate not in valid)


def build_env(kind: str, path: Path, **settings: Any) -> Env:
    clock = FrozenClock()
    store = make_store(kind, path)
    Directory.create_tenant(store, TENANT, clock=clock)
    directory = Directory(store, TENANT, clock=clock)
    chosen = cheap_settings(**settings)
    creds = Credentials(directory, clock=clock, **chosen)
    return Env(clock, store, directory, creds, chosen)


@pytest.fixture(params=["memory", "sqlite"])
def env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Env]:
    built = build_env(request.param, tmp_path)
    yield built
    if request.param == "sqlite":
        built.store.close()


@pytest.fixture
def mem_env(tmp_path: Path) -> Env:
    return build_env("memory", tmp_path)
