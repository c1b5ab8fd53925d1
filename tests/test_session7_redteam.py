"""Red-team of session 7's changes: the defects found, each pinned by a test that failed before
its fix.

- Deleting a role rewrote only its exact ARN, but the engine matches a role's sessions by the
  role's name whatever path a trust entry writes: a recreated role was still trusted through any
  other spelling (ROLE-04).
- The rewrite re-serialized numbers (`1E5` became `100000.0`), so a trust policy within its quota
  could leave it: the tenant's export no longer imported, and the role's own document could not be
  stored again.
- A TOTP seed that does not open still counted towards a lock when enabling a device, and when the
  user had an earlier failure (the release undoes a count only while it is alone) (MFA-04).
- A context value read as a subclass of str, Decimal or datetime kept its own comparisons, and a
  policy variable's reader caught only ValueError: one that raised escaped its statement and made
  the whole decision a deny that depended on statement order (rules 4 and 11).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone, tzinfo
from decimal import Decimal
from pathlib import Path
from secrets import token_bytes
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import iamguard
from iamguard.credentials import totp as totp_math
from iamguard.credentials.sealing import SealError
from iamguard.directory import Directory, documents
from iamguard.directory.errors import MalformedPolicyDocumentError
from iamguard.policy import values as readers
from iamguard.store.memory import MemoryStore
from tests.credentials.conftest import TENANT, Env, build_env
from tests.directory.test_directory_recreated_principals import allow, arn, trust


@pytest.fixture(params=["memory", "sqlite"])
def env(request: pytest.FixtureRequest, tmp_path: Path) -> Env:
    return build_env(request.param, tmp_path)

# --- a deleted role, named by another spelling of its ARN ------------------------------------------

@pytest.mark.parametrize("spelling", ["first", "other/path/first"], ids=["no-path", "another-path"])
def test_a_trust_policy_names_a_role_by_its_exact_arn_only(env: Env, spelling: str) -> None:
    # Another spelling of an existing role's ARN names no role: it is refused when written (as IAM
    # refuses it), so it cannot outlive the role either. Documents that bypass the check (an import
    # of an older tenant) are rewritten in every spelling the engine matches (the test below).
    env.directory.create_user("alice")
    env.directory.create_role("first", trust(allow({"AWS": arn("user", "alice")})), path="/team/")
    with pytest.raises(MalformedPolicyDocumentError) as raised:
        env.directory.create_role("deploy", trust(allow({"AWS": [arn("role", spelling), arn("user", "alice")]})))
    assert [(finding.pointer, finding.code) for finding in raised.value.findings] == [
        ("/Statement/0/Principal/AWS", "InvalidPrincipal")]


@pytest.mark.parametrize(("entry", "rewritten"), [
    ("arn:aws:iam::1:role/first", True),
    ("arn:aws:iam::1:role/a/b/first", True),
    ("arn:aws:iam::1:role/firstly", False),  # another role
    ("arn:aws:iam::2:role/first", False),  # another tenant
    ("arn:aws-cn:iam::1:role/first", False),  # another partition
    ("arn:aws:sts::1:assumed-role/first/s0", False),  # a session ARN names no role entry
    ("arn:aws:iam::1:user/first", False),
])
def test_a_deleted_role_is_replaced_in_every_spelling_the_engine_matches_and_no_other(
        entry: str, rewritten: bool) -> None:
    text = json.dumps({"Statement": [{"NotPrincipal": {"AWS": [entry, "1"]}}]})
    out = documents.principal_replaced(text, "arn:aws:iam::1:role/team/first", "AROAABCDEFGHIJKLMNOP")
    assert json.loads(out)["Statement"][0]["NotPrincipal"]["AWS"] == (
        ["AROAABCDEFGHIJKLMNOP", "1"] if rewritten else [entry, "1"])


def test_a_user_entry_is_replaced_only_as_its_exact_arn() -> None:
    # The engine matches a user by its full ARN: user/bob never named the user at path /dev/.
    text = json.dumps({"Statement": [{"Principal": {"AWS": "arn:aws:iam::1:user/bob"}}]})
    assert documents.principal_replaced(text, "arn:aws:iam::1:user/dev/bob", "AIDAABCDEFGHIJKLMNOP") is text


# --- the rewrite keeps the document's size within its quota -------------------------------------------

def test_a_rewritten_trust_policy_at_its_quota_still_exports_and_stores(env: Env) -> None:
    env.directory.create_user("bob")
    head = ('{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"' + arn("user", "bob")
            + '"},"Action":"sts:AssumeRole","Condition":{"NumericLessThan":{"aws:MultiFactorAuthAge":[')
    count = (env.directory.quotas.trust_policy_size - documents.size(head + "]}}}]}") + 1) // 4
    text = head + ",".join(["1E5"] * count) + "]}}}]}"
    assert documents.size(text) <= env.directory.quotas.trust_policy_size
    env.directory.create_role("deploy", text)
    env.directory.delete_user("bob")
    stored = env.directory.get_role("deploy").assume_role_policy_document
    assert documents.size(stored) < documents.size(text) and "1E5" in stored and "100000.0" not in stored
    env.directory.update_assume_role_policy("deploy", stored)  # it can be stored again as it reads
    Directory.import_tenant(MemoryStore(), json.dumps(env.directory.export_tenant()))


_NUMBERS = st.sampled_from(["1E5", "1e-3", "1.50", "-0", "0.10000000000000000001", "12345678901234567890",
                            "2.5E+10", "7"])
_TARGET = "arn:aws:iam::1:role/team/first"
_ENTRIES = st.sampled_from([_TARGET, "arn:aws:iam::1:role/first", "arn:aws:iam::1:role/x\\/first",
                            "arn:aws:iam::1:user/first", "arn:aws:iam::1:role/firsts", "1", "*"])
_NAMES_TARGET = {_TARGET, "arn:aws:iam::1:role/first", "arn:aws:iam::1:role/x/first"}


@st.composite
def _trust_text(draw: st.DrawFn) -> str:
    statements = []
    for _ in range(draw(st.integers(1, 3))):
        entries = draw(st.lists(_ENTRIES, min_size=1, max_size=4))
        named = f'"{entries[0]}"' if len(entries) == 1 and draw(st.booleans()) else \
            "[" + ", ".join(f'"{entry}"' for entry in entries) + "]"
        numbers = ",".join(draw(st.lists(_NUMBERS, min_size=1, max_size=4)))
        element = draw(st.sampled_from(["Principal", "NotPrincipal"]))
        statements.append('{"Effect":"Deny","' + element + '":{"AWS":' + named + '},"Action":"sts:AssumeRole",'
                          '"Condition":{"NumericLessThan":{"aws:MultiFactorAuthAge":[' + numbers + ']}}}')
    body = statements[0] if len(statements) == 1 and draw(st.booleans()) else "[" + ",".join(statements) + "]"
    return '{"Version":"2012-10-17","Statement":' + body + "}"


@settings(max_examples=150, deadline=None, database=None)
@given(_trust_text())
def test_the_rewrite_changes_the_principals_alone_and_never_grows_the_document(text: str) -> None:
    new = "AROAABCDEFGHIJKLMNOP"
    out = documents.principal_replaced(text, _TARGET, new)

    def as_written(document: str) -> Any:  # numbers as their text, so a respelled one shows
        return json.loads(document, parse_int=lambda raw: ("n", raw), parse_float=lambda raw: ("n", raw))

    expected = as_written(text)
    statements = expected["Statement"] if isinstance(expected["Statement"], list) else [expected["Statement"]]
    changed = False
    for statement in statements:
        principal = statement.get("Principal") or statement["NotPrincipal"]
        named = principal["AWS"]
        if isinstance(named, str) and named in _NAMES_TARGET:
            principal["AWS"], changed = new, True
        elif isinstance(named, list) and _NAMES_TARGET.intersection(named):
            principal["AWS"], changed = [new if item in _NAMES_TARGET else item for item in named], True
    assert as_written(out) == expected
    assert (out is text) is not changed
    if changed:
        assert documents.size(out) < documents.size(text)


# --- a TOTP seed that does not open counts towards no lock ---------------------------------------

def test_enabling_a_device_against_a_seed_that_does_not_open_locks_nobody(env: Env) -> None:
    env.user_with_key()
    device = env.creds.create_virtual_mfa_device("alice", "phone")
    misconfigured = env.credentials(data_key=token_bytes(32))
    now = env.clock.time()
    codes = (totp_math.code_at(device.base32_seed, now - 30), totp_math.code_at(device.base32_seed, now))
    for _ in range(env.creds.config.mfa_lockout.max_failures + 1):
        with pytest.raises(SealError):
            misconfigured.enable_mfa_device("alice", device.serial_number, *codes)
    env.creds.enable_mfa_device("alice", device.serial_number, *codes)
    assert env.creds.list_mfa_devices("alice")[0].enabled


def test_a_seed_that_does_not_open_locks_nobody_after_an_earlier_wrong_code(env: Env) -> None:
    key = env.user_with_key()
    device = env.enabled_device()
    with pytest.raises(iamguard.credentials.InvalidAuthenticationCode):
        env.creds.get_session_token(key, mfa_code=env.wrong_code(device))
    misconfigured = env.credentials(data_key=token_bytes(32))
    for _ in range(env.creds.config.mfa_lockout.max_failures + 1):
        with pytest.raises(SealError):
            misconfigured.get_session_token(key, mfa_code=env.code(device))
    session = env.creds.get_session_token(key, mfa_code=env.code(device))
    assert env.creds.authenticate(session.token).mfa_present


# --- a context value that fails oddly fails its own statement, in any order ------------------------

class _RaisingZone(tzinfo):
    def utcoffset(self, dt: datetime | None) -> Any:
        raise RuntimeError("zone secret")

    def dst(self, dt: datetime | None) -> None:
        return None

    def tzname(self, dt: datetime | None) -> None:
        return None


class _RaisingText(str):
    def __eq__(self, other: object) -> bool:
        raise RuntimeError("text secret")

    def __hash__(self) -> int:
        raise RuntimeError("text secret")


class _RaisingNumber(Decimal):
    def __eq__(self, other: object) -> bool:
        raise RuntimeError("number secret")

    def __lt__(self, other: object) -> bool:
        raise RuntimeError("number secret")

    __le__ = __gt__ = __ge__ = __lt__
    __hash__ = Decimal.__hash__


class _RaisingMoment(datetime):
    def __eq__(self, other: object) -> bool:
        raise RuntimeError("date secret")

    def __lt__(self, other: object) -> bool:
        raise RuntimeError("date secret")

    __le__ = __gt__ = __ge__ = __lt__
    __hash__ = datetime.__hash__


PRINCIPAL = f"arn:aws:iam::{TENANT}:user/bob"
OBJECT = "arn:aws:s3:::bucket/bob"
ALLOW_ANY = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}

# (statement that reads the odd value, context, whether that statement applies once read)
_ODD: dict[str, tuple[dict[str, Any], dict[str, Any], bool]] = {
    "variable-with-raising-zone": (
        {"Resource": "arn:aws:s3:::bucket/${aws:username}"},
        {"aws:username": datetime(2020, 1, 1, tzinfo=_RaisingZone())}, False),
    "variable-in-condition": (
        {"Resource": "*", "Condition": {"StringEquals": {"aws:PrincipalTag/team": "${aws:username}"}}},
        {"aws:username": datetime(2020, 1, 1, tzinfo=_RaisingZone()), "aws:PrincipalTag/team": "x"}, False),
    "str-subclass": (
        {"Resource": "*", "Condition": {"StringEquals": {"aws:username": ["bob", "carol"]}}},
        {"aws:username": _RaisingText("bob")}, True),
    "decimal-subclass": (
        {"Resource": "*", "Condition": {"NumericLessThan": {"aws:MultiFactorAuthAge": "5"}}},
        {"aws:MultiFactorAuthAge": _RaisingNumber(1)}, True),
    "datetime-subclass": (
        {"Resource": "*", "Condition": {"DateGreaterThan": {"aws:CurrentTime": "2019-01-01T00:00:00Z"}}},
        {"aws:CurrentTime": _RaisingMoment(2020, 1, 1, tzinfo=timezone.utc)}, True),
}


@pytest.mark.parametrize("case", sorted(_ODD))
def test_an_odd_context_value_gives_the_same_answer_in_any_statement_order(case: str) -> None:
    extra, context, applies = _ODD[case]
    gated = {"Effect": "Allow", "Action": "s3:GetObject", **extra}
    answers = []
    for statements in ([ALLOW_ANY, gated], [gated, ALLOW_ANY]):
        decision = iamguard.evaluate(iamguard.Request(PRINCIPAL, "s3:GetObject", OBJECT, dict(context)),
                                     identity_policies=[trust(*statements)])
        answers.append((decision.effect, decision.error))
    assert answers == [(iamguard.Effect.ALLOW, None)] * 2
    # As a Deny: a value read as its base type compares as that value; a variable that cannot be
    # read has no text, as for any unusable value (a list), and no statement error escapes.
    denied = {**gated, "Effect": "Deny"}
    decision = iamguard.evaluate(iamguard.Request(PRINCIPAL, "s3:GetObject", OBJECT, dict(context)),
                                 identity_policies=[trust(ALLOW_ANY, denied)])
    assert (decision.effect, decision.error) == (
        iamguard.Effect.EXPLICIT_DENY if applies else iamguard.Effect.ALLOW, None)
    assert all("secret" not in error for error in decision.errors)


@pytest.mark.parametrize(("reader", "value", "expected"), [
    (readers.to_text, _RaisingText("bob"), "bob"),
    (readers.to_decimal, _RaisingNumber(3), Decimal(3)),
    (readers.to_datetime, _RaisingMoment(2020, 1, 1, 12, tzinfo=timezone.utc),
     datetime(2020, 1, 1, 12, tzinfo=timezone.utc)),
])
def test_each_reader_answers_a_value_of_its_exact_type(reader: Any, value: Any, expected: Any) -> None:
    read = reader(value)
    assert type(read) is type(expected) and read == expected
