"""A tenant for the VerdictMemo tests of every adapter: alice (allowed to read orders, with Denies
for a network, a user agent and one order), bob (allowed only with an MFA at most 60 s old), a
session token each (two for alice, one for bob with MFA), on a frozen clock."""

from __future__ import annotations

from iamguard.audit import AuditRecord, MemorySink
from iamguard.credentials import AccessKeyCredentials
from tests.credentials.conftest import Env

TENANT = "111122223333"
ORDER = "arn:app:orders::{tenant}:order/{order_id}"
ALICE = f"arn:aws:iam::{TENANT}:user/alice"

READ_ORDERS = {"Version": "2012-10-17", "Statement": [
    {"Sid": "Read", "Effect": "Allow", "Action": "orders:GetOrder", "Resource": f"arn:app:orders::{TENANT}:order/*",
     "Condition": {"StringEquals": {"aws:PrincipalTag/team": "blue"}}},
    {"Sid": "NotFromThere", "Effect": "Deny", "Action": "*", "Resource": "*",
     "Condition": {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}},
    {"Sid": "NotWithThatAgent", "Effect": "Deny", "Action": "*", "Resource": "*",
     "Condition": {"StringLike": {"aws:UserAgent": "evil*"}}},
    {"Sid": "NotOrderSeven", "Effect": "Deny", "Action": "*", "Resource": f"arn:app:orders::{TENANT}:order/7"}]}
FRESH_MFA = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "orders:GetOrder", "Resource": "*",
     "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"},
                   "NumericLessThanEquals": {"aws:MultiFactorAuthAge": "60"}}}]}


class DenialsOnly(MemorySink):
    """An audit sink that keeps denials only, as the default logging sink does with INFO off."""

    def wants(self, effect: str) -> bool:
        return effect == "Deny"


class Flaky(MemorySink):
    """An audit sink that cannot write (a full disk) while `failing` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.failing = False

    def emit(self, record: AuditRecord) -> None:
        if self.failing:
            raise OSError("disk full")
        super().emit(record)


def session_tokens(env: Env) -> dict[str, str]:
    directory, creds = env.directory, env.creds
    directory.create_user("alice")
    directory.tag_user("alice", {"team": "blue"})
    directory.attach_user_policy("alice", directory.create_policy("Read", READ_ORDERS).arn)
    key = creds.create_access_key("alice")
    alice = AccessKeyCredentials(key.access_key_id, key.secret_access_key)
    directory.create_user("bob")
    directory.put_user_policy("bob", "fresh", FRESH_MFA)
    key = creds.create_access_key("bob")
    bob = AccessKeyCredentials(key.access_key_id, key.secret_access_key)
    device = env.enabled_device("bob")
    return {
        "alice": creds.get_session_token(alice).token,
        "alice2": creds.get_session_token(alice).token,
        "bob": creds.get_session_token(bob).token,
        "bob_mfa": creds.get_session_token(bob, serial_number=device.serial_number, mfa_code=env.code(device)).token,
    }
