"""Regression tests for defects found in a red-team review of the directory, its stores and the
audit trail. Each test failed before its fix."""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import pytest

from iamguard.audit import FAILURE_LOGGER, Auditor, AuditRecord, MemorySink
from iamguard.clock import FrozenClock
from iamguard.directory import Directory
from iamguard.directory.errors import (
    InvalidInputError,
    LimitExceededError,
    MalformedPolicyDocumentError,
)
from iamguard.directory.ids import new_unique_id
from iamguard.directory.quotas import Quotas
from iamguard.engine.decision import Effect
from iamguard.store.base import DirectoryStore
from iamguard.store.database import StoreError
from iamguard.store.memory import MemoryStore
from iamguard.store.sqlite import SQLiteStore
from tests.directory.helpers import TENANT, allow, arn, deny, trust

# --- FAIL-06: an attached policy whose default version cannot be read denies -----------------------


def _drop_default_version(store: DirectoryStore, policy_id: str) -> None:
    """Corrupt the store the way a damaged row or a careless manual edit would."""
    if isinstance(store, SQLiteStore):
        connection = sqlite3.connect(store.path)
        with connection:
            connection.execute("DELETE FROM dir_policy_versions WHERE policy_id = ?", (policy_id,))
            connection.execute("UPDATE generation SET value = value + 1")
        connection.close()
    else:
        assert isinstance(store, MemoryStore)
        del store._state.versions[policy_id]["v1"]
        store._generation += 1


def test_an_attached_policy_with_a_missing_default_version_denies(directory: Directory) -> None:
    directory.create_user("bob")
    directory.put_user_policy("bob", "Grant", allow())
    guard = directory.create_policy("DenyReads", deny())
    directory.attach_user_policy("bob", guard.arn)
    bob = arn("user", "bob")
    assert directory.authorize(bob, "s3:GetObject", "*").effect is Effect.EXPLICIT_DENY

    _drop_default_version(directory.store, guard.policy_id)
    fresh = Directory(directory.store, TENANT, cache_ttl=0)
    decision = fresh.authorize(bob, "s3:GetObject", "*")
    # Before the fix the SQLite store's inner join dropped the Deny policy and this was an Allow.
    assert decision.effect is Effect.EXPLICIT_DENY
    assert decision.error is not None and "missing" in decision.error
    with pytest.raises(StoreError):
        fresh.resolve(bob)


# --- import: the same quotas and open-trust rule as the live API -------------------------------------

OTHER_TENANT = "999999999999"


def _exported(directory: Directory) -> dict[str, Any]:
    directory.create_user("bob")
    directory.create_group("devs")
    directory.add_user_to_group("devs", "bob")
    directory.create_role("app", trust())
    read = directory.create_policy("Read", allow())
    directory.attach_user_policy("bob", read.arn)
    directory.put_user_policy("bob", "Mine", allow("sqs:SendMessage"))
    exported = directory.export_tenant()
    exported["tenant"]["tenant_id"] = OTHER_TENANT
    return exported


def _policy_entry(exported: dict[str, Any], name: str, document: Any) -> dict[str, Any]:
    created = exported["tenant"]["created"]
    return {"unique_id": new_unique_id("policy"), "name": name, "path": "/", "created": created, "updated": created,
            "description": "", "default_version": "v1", "next_version": 2,
            "versions": [{"version_id": "v1", "document": json.dumps(document), "created": created}]}


def _group_entry(exported: dict[str, Any], name: str) -> dict[str, Any]:
    return {"unique_id": new_unique_id("group"), "name": name, "path": "/", "created": exported["tenant"]["created"]}


def _open_trust(exported: dict[str, Any]) -> None:
    exported["roles"][0]["trust_policy"] = json.dumps(trust("*"))


def _many_attachments(exported: dict[str, Any]) -> None:
    bob = exported["users"][0]["unique_id"]
    for index in range(10):
        policy = _policy_entry(exported, f"Extra{index}", allow())
        exported["policies"].append(policy)
        exported["attachments"].append([bob, policy["unique_id"]])


def _many_groups(exported: dict[str, Any]) -> None:
    bob = exported["users"][0]["unique_id"]
    for index in range(10):
        group = _group_entry(exported, f"team{index}")
        exported["groups"].append(group)
        exported["memberships"].append([group["unique_id"], bob])


def _many_versions(exported: dict[str, Any]) -> None:
    policy = exported["policies"][0]
    policy["versions"] = [{"version_id": f"v{number}", "document": json.dumps(allow()), "created": policy["created"]}
                          for number in range(1, 7)]
    policy["next_version"] = 7


def _many_tags(exported: dict[str, Any]) -> None:
    exported["users"][0]["tags"] = [[f"key{index}", "value"] for index in range(51)]


def _huge_managed_policy(exported: dict[str, Any]) -> None:
    actions = [f"s3:GetObjectVersion{index}" for index in range(400)]
    exported["policies"][0]["versions"][0]["document"] = json.dumps(allow(actions))  # type: ignore[arg-type]


def _huge_inline_policies(exported: dict[str, Any]) -> None:
    owner = exported["users"][0]["unique_id"]
    actions = [f"sqs:SendMessage{index}" for index in range(60)]
    for index in range(3):
        exported["inline_policies"].append({"owner_id": owner, "name": f"Big{index}",
                                            "document": json.dumps(allow(actions))})  # type: ignore[arg-type]


def _huge_next_version(exported: dict[str, Any]) -> None:
    exported["policies"][0]["next_version"] = 10**30  # would overflow SQLite's INTEGER


def _unhashable_membership(exported: dict[str, Any]) -> None:
    exported["memberships"].append([["not", "an", "id"], exported["users"][0]["unique_id"]])


def _unhashable_attachment(exported: dict[str, Any]) -> None:
    exported["attachments"].append([{"id": 1}, exported["policies"][0]["unique_id"]])


@pytest.mark.parametrize(("change", "error"), [
    (_open_trust, MalformedPolicyDocumentError),
    (_many_attachments, LimitExceededError),
    (_many_groups, LimitExceededError),
    (_many_versions, LimitExceededError),
    (_many_tags, LimitExceededError),
    (_huge_managed_policy, LimitExceededError),
    (_huge_inline_policies, LimitExceededError),
    (_unhashable_membership, InvalidInputError),
    (_unhashable_attachment, InvalidInputError),
    (_huge_next_version, InvalidInputError),
])
def test_import_is_held_to_the_rules_of_the_live_api(directory: Directory, change: Callable[[dict[str, Any]], None],
                                                      error: type[Exception]) -> None:
    exported = _exported(directory)
    change(exported)
    target = MemoryStore()
    with pytest.raises(error):
        Directory.import_tenant(target, exported)
    assert Directory.list_tenants(target) == ()


def test_import_accepts_what_the_exporting_directory_allowed(store: DirectoryStore, clock: FrozenClock) -> None:
    """A tenant built with larger quotas or open trust re-imports when the importer says so."""
    Directory.create_tenant(store, TENANT, clock=clock)
    roomy = Quotas(managed_policies_per_user=20)
    directory = Directory(store, TENANT, clock=clock, quotas=roomy, allow_open_trust=True)
    directory.create_user("bob")
    for index in range(12):
        directory.attach_user_policy("bob", directory.create_policy(f"P{index}", allow()).arn)
    directory.create_role("open", trust("*"))
    exported = directory.export_tenant()
    with pytest.raises(LimitExceededError):
        Directory.import_tenant(MemoryStore(), exported, allow_open_trust=True)
    with pytest.raises(MalformedPolicyDocumentError):
        Directory.import_tenant(MemoryStore(), exported, quotas=roomy)
    target = MemoryStore()
    Directory.import_tenant(target, exported, quotas=roomy, allow_open_trust=True)
    assert Directory(target, TENANT).export_tenant() == exported


# --- LOG-04: a record that cannot be rendered is still reported, never dropped silently --------------


class _Refusing:
    def emit(self, record: AuditRecord) -> None:
        record.to_json()  # a sink that serializes, as LoggingSink and JsonLinesSink do


@pytest.mark.parametrize("extra", [{"score": float("nan")}, {("tuple", "key"): 1}])
def test_an_unrenderable_audit_record_is_reported_on_the_failure_logger(caplog: pytest.LogCaptureFixture,
                                                                        extra: dict[Any, Any]) -> None:
    kept = MemorySink()
    auditor = Auditor([_Refusing(), kept])
    record = AuditRecord(datetime(2026, 1, 1, tzinfo=timezone.utc), "req-7", "Deny", "explicit_deny",
                         principal="arn:aws:iam::123456789012:user/a\nb\u2028c", extra=extra)
    with caplog.at_level(logging.ERROR, logger=FAILURE_LOGGER):
        assert auditor.emit(record) is False
    assert auditor.failures == 1 and kept.records == [record]
    reports = [entry.getMessage() for entry in caplog.records if entry.name == FAILURE_LOGGER]
    assert len(reports) == 1 and "req-7" in reports[0]
    # The report itself stays one printable ASCII line.
    assert reports[0].isascii() and "\n" not in reports[0] and "\u2028" not in reports[0]


@pytest.mark.parametrize(("next_version", "imported"), [
    (999_999_999, True), (1_000_000_000, True), (1_000_000_001, False), (2**62, False),
])
def test_imported_version_numbers_stay_within_version_ids(directory: Directory, next_version: int,
                                                          imported: bool) -> None:
    """Every version the imported policy can still create has an id the API accepts (v1 to
    v999999999); once those are used up, creating another is refused rather than made unreadable."""
    exported = _exported(directory)
    exported["policies"][0]["next_version"] = next_version
    target = MemoryStore()
    if not imported:
        with pytest.raises(InvalidInputError, match="next_version must be an integer from 2 to 1000000000"):
            Directory.import_tenant(target, exported)
        assert Directory.list_tenants(target) == ()
        return
    copy = Directory(target, Directory.import_tenant(target, exported).tenant_id)
    policy_arn = copy.list_policies().items[0].arn
    if next_version == 999_999_999:
        created = copy.create_policy_version(policy_arn, allow(), set_as_default=True)
        assert created.version_id == "v999999999"
        assert copy.get_policy_version(policy_arn, "v999999999").is_default_version
    with pytest.raises(LimitExceededError, match="used every version id up to v999999999"):
        copy.create_policy_version(policy_arn, allow())
