"""What every example app shares: the orders service, its IAM actions and resources, and the
seeding of a small tenant on the SQLite store.

The tenant has three users:
- `admin`: every orders action;
- `reader`: list and read only;
- `manager`: every orders action, but deleting needs an MFA no older than five minutes (a TOTP
  device is enrolled for this user).
Each user gets an access key and a password. The Starlette, FastAPI, Flask and Django examples
all protect the same four operations with the same actions and resources, so the same request
gets the same answer from each of them.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyotp

from iamguard.clock import SYSTEM_CLOCK, Clock
from iamguard.credentials import Credentials
from iamguard.directory import Directory
from iamguard.store.sqlite import SQLiteStore

TENANT = "111122223333"
TENANT_NAME = "Example Shop"
MFA_MAX_AGE = 300

# The four operations of the orders service: action, resource template, HTTP method, path.
ORDERS_RESOURCE = "arn:app:orders::{tenant}:orders"
ORDER_RESOURCE = "arn:app:orders::{tenant}:order/{order_id}"
LIST = ("orders:ListOrders", ORDERS_RESOURCE)
READ = ("orders:GetOrder", ORDER_RESOURCE)
CREATE = ("orders:CreateOrder", ORDERS_RESOURCE)
DELETE = ("orders:DeleteOrder", ORDER_RESOURCE)

READ_ONLY_POLICY = {"Version": "2012-10-17", "Statement": [
    {"Sid": "ReadOrders", "Effect": "Allow", "Action": ["orders:ListOrders", "orders:GetOrder"],
     "Resource": [f"arn:app:orders::{TENANT}:orders", f"arn:app:orders::{TENANT}:order/*"]}]}
FULL_ACCESS_POLICY = {"Version": "2012-10-17", "Statement": [
    {"Sid": "AllOrders", "Effect": "Allow", "Action": "orders:*", "Resource": f"arn:app:orders::{TENANT}:*"}]}
FRESH_MFA_FOR_DELETE_POLICY = {"Version": "2012-10-17", "Statement": [
    {"Sid": "DeleteNeedsMfa", "Effect": "Deny", "Action": "orders:DeleteOrder", "Resource": "*",
     "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}},
    {"Sid": "DeleteNeedsFreshMfa", "Effect": "Deny", "Action": "orders:DeleteOrder", "Resource": "*",
     "Condition": {"NumericGreaterThanIfExists": {"aws:MultiFactorAuthAge": str(MFA_MAX_AGE)}}}]}

USERS = {
    "admin": ("OrdersFullAccess",),
    "reader": ("OrdersReadOnly",),
    "manager": ("OrdersFullAccess", "FreshMfaForDelete"),
}


@dataclass(frozen=True)
class DemoUser:
    name: str
    arn: str
    access_key_id: str
    secret_access_key: str = field(repr=False)
    password: str = field(repr=False)
    totp_seed: str | None = field(default=None, repr=False)
    mfa_serial: str | None = None

    def totp(self, clock: Clock = SYSTEM_CLOCK) -> str:
        """The current TOTP code of this user's device (the demo's stand-in for a phone app)."""
        if self.totp_seed is None:
            raise ValueError(f"{self.name} has no MFA device")
        return pyotp.TOTP(self.totp_seed).at(int(clock.time()))


@dataclass(frozen=True)
class Seeded:
    path: Path
    users: dict[str, DemoUser]


def open_store(path: str | Path, *, clock: Clock | None = None, **settings: Any) -> tuple[Directory, Credentials]:
    """The directory and credentials of the example tenant in the SQLite file at `path`.
    `settings` are CredentialsConfig fields (for example `data_key=` from a secret manager)."""
    store = SQLiteStore(Path(path))
    directory = Directory(store, TENANT, clock=clock)
    return directory, Credentials(directory, clock=clock, **settings)


def seed(path: str | Path, *, clock: Clock | None = None, **settings: Any) -> Seeded:
    """Create the example tenant in a new SQLite file and return the users' credentials.

    The secrets returned here exist nowhere else (the store keeps verifiers only): the demo
    prints them once, the tests use them directly.
    """
    clock = clock or SYSTEM_CLOCK
    store = SQLiteStore(Path(path))
    Directory.create_tenant(store, TENANT, TENANT_NAME)
    directory = Directory(store, TENANT, clock=clock)
    credentials = Credentials(directory, clock=clock, **settings)
    policy_arns = {}
    for name, document in (("OrdersReadOnly", READ_ONLY_POLICY), ("OrdersFullAccess", FULL_ACCESS_POLICY),
                           ("FreshMfaForDelete", FRESH_MFA_FOR_DELETE_POLICY)):
        policy_arns[name] = directory.create_policy(name, document).arn
    users: dict[str, DemoUser] = {}
    for user_name, attached in USERS.items():
        user = directory.create_user(user_name)
        for policy_name in attached:
            directory.attach_user_policy(user_name, policy_arns[policy_name])
        key = credentials.create_access_key(user_name)
        password = f"Demo-{secrets.token_urlsafe(12)}-pw1"
        credentials.create_login_profile(user_name, password)
        seed_text = serial = None
        if user_name == "manager":
            device = credentials.create_virtual_mfa_device(user_name, "phone")
            seed_text, serial = device.base32_seed, device.serial_number
            totp = pyotp.TOTP(seed_text)
            now = int(clock.time())
            # Two consecutive codes that end one step ago, so the current code is still unused.
            credentials.enable_mfa_device(user_name, serial, totp.at(now - 60), totp.at(now - 30))
        users[user_name] = DemoUser(user_name, user.arn, key.access_key_id, key.secret_access_key, password,
                                    seed_text, serial)
    return Seeded(Path(path), users)


class OrderBook:
    """The example's data: a few orders in memory, safe to share between threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._orders: dict[str, dict[str, Any]] = {
            "1001": {"id": "1001", "item": "coffee beans", "quantity": 2},
            "1002": {"id": "1002", "item": "tea", "quantity": 1},
        }
        self._next = 1003

    def list(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(order) for order in self._orders.values()]

    def get(self, order_id: str) -> dict[str, Any] | None:
        with self._lock:
            order = self._orders.get(order_id)
            return dict(order) if order is not None else None

    def create(self, item: str, quantity: int) -> dict[str, Any]:
        with self._lock:
            order: dict[str, Any] = {"id": str(self._next), "item": item, "quantity": quantity}
            self._orders[order["id"]] = order
            self._next += 1
            return dict(order)

    def delete(self, order_id: str) -> bool:
        with self._lock:
            return self._orders.pop(order_id, None) is not None


def read_new_order(payload: Any) -> tuple[str, int] | None:
    """Validate a create-order body: {"item": str (1-100 chars), "quantity": int 1..1000}."""
    if not isinstance(payload, dict):
        return None
    item, quantity = payload.get("item"), payload.get("quantity")
    if not isinstance(item, str) or not 0 < len(item) <= 100 or not item.isprintable():
        return None
    if not isinstance(quantity, int) or isinstance(quantity, bool) or not 0 < quantity <= 1000:
        return None
    return item, quantity
