"""The credentials component's laws, checked over generated sequences of calls (many of them
invalid), run in lockstep on a MemoryStore and on an SQLiteStore in a temporary folder, with one
FrozenClock that the sequence advances (across expiries, lockouts and cache TTLs):

1. a refused call changes nothing observable: the credential state in the store (failure counters
   and last-used bookkeeping aside: counting refusals is what they are for), the directory export,
   and which held session tokens a fresh facade accepts;
2. both stores answer every call alike (the same result shape, or the same error type);
3. revocation is monotonic: a token once refused (revoked, expired, its key, device or user gone)
   is never accepted again, by the long-lived facade or a fresh one; the two always agree; and
   another process's facade (the SQLite file opened again) agrees once `cache_ttl` has passed;
4. a TOTP step is accepted at most once per device, across facades (a replayed, wrong or used
   code never succeeds), and lockouts count per the configured Lockout and lift after their time
   (modelled separately below, per subject kind);
5. every accepted session carries what the sequence that made it implies: principal, session
   name, source identity (AssumeRole's rules included), session tags over the principal's tags,
   MFA time and expiry;
6. no secret (secret access key, password, TOTP seed or code, recovery code, session token)
   appears in an exception message, a repr or an audit record (a MemorySink collects them).
"""

from __future__ import annotations

import math
import re
import shutil
import sqlite3
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from iamguard.audit import MemorySink
from iamguard.clock import FrozenClock
from iamguard.credentials import (
    AccessKey,
    AccessKeyCredentials,
    AuthenticationFailed,
    Credentials,
    InvalidAuthenticationCode,
    InvalidClientTokenId,
    IssuedToken,
    Lockout,
    PasswordCredentials,
    RecoveryCodes,
    Session,
    Throttled,
    TokenError,
    VirtualMfaDevice,
)
from iamguard.credentials import totp as totp_math
from iamguard.directory import Directory
from iamguard.errors import ServiceError
from iamguard.store.memory import MemoryStore
from iamguard.store.sqlite import SQLiteStore
from tests.credentials.conftest import ALLOW_ALL, TENANT, build_env, cheap_settings

LOCK = Lockout(3, 300)
SETTINGS = {"login_lockout": LOCK, "mfa_lockout": LOCK, "access_key_lockout": LOCK}

USERS = ["alice", "bob"]
ROLES = ["deploy", "audit"]
DEVICES = ["phone", "token"]
# Distinctive texts, so that finding one in a message or record means it leaked (law 6).
PASSWORDS = ["Correct-Horse-41!", "Battery-Staple-73$", "Zq9!x", "Tr0ub4dor&3-Kestrel"]
SIGNING = "iamguard.credentials"


def user_arn(name: str) -> str:
    return f"arn:aws:iam::{TENANT}:user/{name}"


def role_arn(name: str) -> str:
    return f"arn:aws:iam::{TENANT}:role/{name}"


def serial(name: str) -> str:
    return f"arn:aws:iam::{TENANT}:mfa/{name}"


def trust(principals: list[str], actions: list[str]) -> dict[str, Any]:
    return {"Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"AWS": principals}, "Action": actions}]}


# deploy trusts the users and the audit role, for tags and source identities too; audit trusts
# alice and the deploy role for AssumeRole only (so tags or a source identity are refused there).
TRUSTS = {
    "deploy": trust([user_arn("alice"), user_arn("bob"), role_arn("audit")],
                    ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"]),
    "audit": trust([user_arn("alice"), role_arn("deploy")], ["sts:AssumeRole"]),
}


def current_trust(directory: Directory, role: str) -> dict[str, Any]:
    """TRUSTS[role] naming only the principals that exist now (IAM refuses unknown ones)."""
    document = TRUSTS[role]
    statement = document["Statement"][0]
    alive = []
    for principal in statement["Principal"]["AWS"]:
        kind, name = principal.rsplit(":", 1)[1].split("/")
        try:
            directory.get_user(name) if kind == "user" else directory.get_role(name)
        except ServiceError:
            continue
        alive.append(principal)
    return {**document, "Statement": [{**statement, "Principal": {"AWS": alive}}]}


ROLE_TAGS = {"deploy": {"team": "blue", "env": "prod"}, "audit": {}}
USER_TAGS = {"alice": {"team": "red"}, "bob": {}}
OTHER = st.sampled_from([False, False, False, True])
SESSION_POLICIES: list[Any] = [
    None, None, None, None,
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]},
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]},
    {"Version": "2012-10-17", "Statement": [{"Effect": "Maybe", "Action": "s3:*", "Resource": "*"}]},
]
BIG_TAGS = {f"key{index:02d}-" + "k" * 100: "v" * 200 for index in range(30)}  # too large for a token
TAG_CHOICES: list[Any] = [None, None, None, None, {"team": "green"}, {"Team": "x", "project": "p1"},
                         {"aws:x": "y"}, BIG_TAGS]
SOURCE_IDENTITIES = [None, None, None, None, "alice-si", "alice-si", "other-si", "aws:bad"]
FACTORS = ["none", "none", "now", "now", "prev", "next", "wrong", "malformed", "replay",
           "recovery", "recovery", "recovery_used", "recovery_wrong"]
ROLE_FACTORS = ["none"] * 6 + FACTORS
TOTP_OFFSETS = {"now": 0, "prev": -1, "next": 1}
PASSWORD_POLICIES: list[dict[str, Any] | None] = [
    None, {"minimum_length": 12, "require_symbols": True}, {"reuse_prevention": 2},
    {"max_age_days": 1}, {"minimum_length": 3}, {"reuse_prevention": 1.5},
]
DEAD = ("RevokedToken", "ExpiredToken", "InvalidToken")

# ---------------------------------------------------------------------------------------------
# reading results


def shape(result: Any) -> Any:
    """What must be equal between the two stores (ids, secrets and seeds are random per store)."""
    if isinstance(result, AccessKey):
        return ("AccessKey", result.user_name, result.status, result.create_date)
    if isinstance(result, VirtualMfaDevice):
        return ("Device", result.serial_number, result.user_name)
    if isinstance(result, RecoveryCodes):
        return ("RecoveryCodes", len(result))
    if isinstance(result, IssuedToken):
        return ("Token", result.session_arn, result.expires_at)
    if isinstance(result, Session):
        return session_shape(result)
    if hasattr(result, "arn") and (hasattr(result, "user_id") or hasattr(result, "role_id")):
        return ("Entity", result.arn)  # the directory's unique ids are random per store
    return result


def session_shape(session: Session) -> tuple[Any, ...]:
    return (session.credential_type, session.principal_arn, session.source_arn, session.user_name,
            session.role_session_name, session.issued_at, session.expires_at, session.mfa_authenticated_at,
            session.source_identity, session.principal_tags, session.session_tags, len(session.session_policies),
            session.access_key_id is not None)


@dataclass
class Outcome:
    ok: bool
    value: Any = None
    error: BaseException | None = None

    def shape(self) -> tuple[Any, ...]:
        return ("ok", shape(self.value)) if self.ok else ("error", type(self.error).__name__)


def attempt(call: Callable[[], Any]) -> Outcome:
    """Run one call. Errors raised on purpose (ServiceError) are outcomes; anything else (a bare
    TypeError, a StoreError, an AssertionError) fails the test."""
    try:
        return Outcome(True, call())
    except ServiceError as exc:
        return Outcome(False, error=exc)


def merged_tags(principal: dict[str, str], session: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    overridden = {key.lower() for key, _ in session}
    return tuple(sorted([(k, v) for k, v in principal.items() if k.lower() not in overridden] + list(session)))


# ---------------------------------------------------------------------------------------------
# one store with its facades and what the sequence handed out


@dataclass
class Expected:
    """What an issued token's session must carry (law 5)."""

    principal_arn: str
    root: str  # the user the chain starts from (whose MFA devices and recovery codes count)
    source_kind: str  # "user" or "role"
    source_name: str
    session_name: str | None
    source_identity: str | None
    session_tags: tuple[tuple[str, str], ...]
    mfa_time: int | None
    expires_at: int
    issued_at: int


@dataclass(eq=False)  # hashed by identity: the rules key per-world values by it
class World:
    kind: str
    folder: Path
    clock: FrozenClock
    sink: MemorySink = field(default_factory=MemorySink)
    keys: dict[str, list[AccessKeyCredentials]] = field(default_factory=dict)
    devices: dict[str, tuple[str, VirtualMfaDevice]] = field(default_factory=dict)  # name -> (user, device)
    last_code: dict[str, str] = field(default_factory=dict)  # device name -> last accepted code
    used_steps: dict[str, set[int]] = field(default_factory=dict)  # seed -> steps accepted
    recovery: dict[str, list[str]] = field(default_factory=dict)
    recovery_used: dict[str, list[str]] = field(default_factory=dict)
    tokens: dict[str, tuple[str, Expected]] = field(default_factory=dict)
    dead: set[str] = field(default_factory=set)
    secrets: set[str] = field(default_factory=set)
    codes: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.store = MemoryStore() if self.kind == "memory" else SQLiteStore(self.folder / "iamguard.db")
        Directory.create_tenant(self.store, TENANT, clock=self.clock)
        self.directory = Directory(self.store, TENANT, clock=self.clock)
        self.settings = cheap_settings(**SETTINGS)
        self.creds = Credentials(self.directory, clock=self.clock, audit=self.sink, **self.settings)
        self.secrets.update(PASSWORDS)
        # Another process: the same file opened again, with its own caches (SQLite only).
        self.other_store: SQLiteStore | None = None
        self.other: Credentials | None = None
        if self.kind == "sqlite":
            self.other_store = SQLiteStore(self.folder / "iamguard.db")
            self.other = Credentials(Directory(self.other_store, TENANT, clock=self.clock), clock=self.clock,
                                     audit=self.sink, **self.settings)

    def fresh(self) -> Credentials:
        """A new facade over a new Directory on the same store: nothing cached."""
        return Credentials(Directory(self.store, TENANT, clock=self.clock), clock=self.clock, audit=self.sink,
                           **self.settings)

    def close(self) -> None:
        self.store.close()
        if self.other_store is not None:
            self.other_store.close()

    # observable state (law 1)

    def credential_state(self) -> Any:
        """The store's credential state, without failure counters (counting refusals is their job)
        and last-used bookkeeping (an authenticated key is used even when a later check refuses)."""
        if self.kind == "memory":
            store = self.creds.store
            keys = {kid: (r.user_id, r.status, r.created_at) for kid, r in store._keys.items()}  # type: ignore[attr-defined]
            return (dict(store._password_policies), dict(store._profiles),  # type: ignore[attr-defined]
                    {k: list(v) for k, v in store._history.items()}, keys,  # type: ignore[attr-defined]
                    dict(store._devices), dict(store._recovery), dict(store._signing),  # type: ignore[attr-defined]
                    dict(store._not_before), dict(store._revoked_tokens))  # type: ignore[attr-defined]
        connection = sqlite3.connect(self.folder / "iamguard.db")
        try:
            state = {}
            for table in ("cred_password_policies", "cred_login_profiles", "cred_password_history",
                          "cred_mfa_devices", "cred_recovery_codes", "cred_signing_keys",
                          "cred_session_revocations", "cred_revoked_tokens"):
                state[table] = sorted(map(tuple, connection.execute(f"SELECT * FROM {table}").fetchall()))
            state["cred_access_keys"] = sorted(connection.execute(
                "SELECT access_key_id, tenant_id, user_id, verifier, status, created_at FROM cred_access_keys"
            ).fetchall())
            return state
        finally:
            connection.close()

    def statuses(self, creds: Credentials | None = None) -> dict[str, Outcome]:
        creds = creds or self.fresh()
        return {label: attempt(lambda token=token: creds.authenticate(token))
                for label, (token, _) in self.tokens.items()}

    def observable(self) -> tuple[Any, ...]:
        return (self.directory.export_tenant(), self.credential_state(),
                {label: outcome.shape() for label, outcome in self.statuses().items()})

    # second factors

    def factor(self, kind: str, device_name: str, user: str) -> dict[str, Any]:
        """The mfa_code / serial_number / recovery_code arguments for a factor kind, in this world."""
        if kind == "none":
            return {}
        if kind.startswith("recovery"):
            unused, used = self.recovery.get(user, []), self.recovery_used.get(user, [])
            code = {"recovery": unused[0] if unused else "AAAA-BBBB-CCCC-DDDD",
                    "recovery_used": used[-1] if used else "AAAA-BBBB-CCCC-DDDD",
                    "recovery_wrong": "ZZZZ-YYYY-XXXX-WWWW"}[kind]
            return {"recovery_code": code}
        found = self.devices.get(device_name)
        return {"mfa_code": self.code(found[1] if found else None, kind, device_name),
                "serial_number": serial(device_name)}

    def code(self, device: VirtualMfaDevice | None, kind: str, device_name: str) -> str:
        if kind == "malformed":
            return "12ab56"
        if device is None:
            return "123456"
        now = self.clock.time()
        if kind == "replay":
            return self.last_code.get(device_name, "000000")
        if kind == "wrong":
            window = {totp_math.code_at(device.base32_seed, now + 30 * step) for step in (-1, 0, 1)}
            return next(code for code in ("000000", "111111", "222222", "333333") if code not in window)
        code = totp_math.code_at(device.base32_seed, now + 30 * TOTP_OFFSETS[kind])
        self.codes.add(code)
        return code

    def spent(self, kind: str, device_name: str, user: str, arguments: dict[str, Any]) -> None:
        """A call with this factor succeeded: record what it used up, and check law 4."""
        assert kind in ("none", "now", "prev", "next", "recovery"), f"a {kind} second factor was accepted"
        if kind == "recovery":
            code = arguments["recovery_code"]
            self.recovery[user].remove(code)
            self.recovery_used.setdefault(user, []).append(code)
        elif kind != "none":
            device = self.devices[device_name][1]
            step = totp_math.step_at(self.clock.time()) + TOTP_OFFSETS[kind]
            used = self.used_steps.setdefault(device.base32_seed, set())
            assert step not in used, f"TOTP step {step} of {device_name} was accepted twice"  # law 4
            used.add(step)
            self.last_code[device_name] = arguments["mfa_code"]

    def new_audit_text(self) -> list[str]:
        texts = [record.to_json() for record in self.sink.records]
        self.sink.clear()
        return texts


def leaks(world: World, texts: list[str]) -> list[str]:
    """The secrets found in these texts (law 6). TOTP codes count only as whole 6-digit numbers."""
    found = [secret for secret in world.secrets for text in texts if secret in text]
    for code in world.codes:
        pattern = re.compile(rf"(?<!\d){code}(?!\d)")
        found += [code for text in texts if pattern.search(text)]
    return found


def outcome_texts(outcome: Outcome) -> list[str]:
    if outcome.ok:
        return [repr(outcome.value), str(outcome.value)]
    assert outcome.error is not None
    return [str(outcome.error), repr(outcome.error), *map(str, outcome.error.args)]


# ---------------------------------------------------------------------------------------------
# the state machine


class CredentialLaws(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.folder = Path(tempfile.mkdtemp(prefix="iamguard-credlaws-"))
        self.clock = FrozenClock()
        self.worlds = []
        for kind in ("memory", "sqlite"):
            (self.folder / kind).mkdir()
            self.worlds.append(World(kind, self.folder / kind, self.clock))
        self.labels = 0

    def teardown(self) -> None:
        for world in self.worlds:
            world.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    # driving both stores

    def both(self, call: Callable[[World], Any], *, check_unchanged: bool = True) -> list[Outcome]:
        """Run one call in each world; laws 1, 2 and 6 are checked on the way."""
        outcomes = []
        for world in self.worlds:
            before = world.observable() if check_unchanged else None
            outcome = attempt(lambda w=world: call(w))
            if not outcome.ok and before is not None:  # law 1
                assert world.observable() == before, f"a refused call ({outcome.error!r}) changed the state"
            assert not leaks(world, outcome_texts(outcome)), "a secret appears in a result or an error"
            outcomes.append(outcome)
        assert outcomes[0].shape() == outcomes[1].shape(), \
            f"memory {outcomes[0].shape()} != sqlite {outcomes[1].shape()}"  # law 2
        return outcomes

    def keep(self, outcomes: list[Outcome], expected: Callable[[World, IssuedToken], Expected]) -> None:
        """Hold the tokens the call issued, under one label in both worlds."""
        if not outcomes[0].ok:
            return
        self.labels += 1
        label = f"t{self.labels}"
        for world, outcome in zip(self.worlds, outcomes, strict=True):
            issued = outcome.value
            world.secrets.add(issued.token)
            world.tokens[label] = (issued.token, expected(world, issued))
            if len(world.tokens) > 8:  # keep the per-step checks cheap: forget the oldest
                world.tokens.pop(next(iter(world.tokens)))
                world.dead &= set(world.tokens)

    @initialize()
    def populate(self) -> None:
        for world in self.worlds:
            for name in USERS:
                world.directory.create_user(name, tags=USER_TAGS[name])
                world.directory.put_user_policy(name, "main", ALLOW_ALL)
            for name in ROLES:
                world.directory.create_role(name, current_trust(world.directory, name), tags=ROLE_TAGS[name])
                world.directory.put_role_policy(name, "main", ALLOW_ALL)
            for name in ROLES:  # now that both roles exist, each may name the other
                world.directory.update_assume_role_policy(name, current_trust(world.directory, name))
            key = world.creds.create_access_key("alice")
            world.keys["alice"] = [AccessKeyCredentials(key.access_key_id, key.secret_access_key)]
            world.secrets.add(key.secret_access_key)
            world.creds.create_login_profile("alice", PASSWORDS[0])
            key = world.creds.create_access_key("bob")
            world.keys["bob"] = [AccessKeyCredentials(key.access_key_id, key.secret_access_key)]
            world.secrets.add(key.secret_access_key)
        # alice enrols a device and gets recovery codes; bob has a device not yet enabled.
        self.create_device("alice", "phone")
        self.create_device("bob", "token")
        self.enable_device("alice", "phone", "right")
        self.clock.advance(30)
        self.create_recovery_codes("alice", "phone", "now")
        self.clock.advance(30)
        # The first token also creates the signing key, which no later (refused) call then does.
        self.get_session_token(user="alice", via="key", factor="none", device="phone", duration=None,
                               facade="main")
        assert self.worlds[0].tokens and all(world.recovery["alice"] for world in self.worlds)

    # law 3 and 5 (and 6 for the audit trail), after every step

    @invariant()
    def tokens_agree_and_stay_dead(self) -> None:
        for world in self.worlds:
            main, fresh = world.statuses(world.creds), world.statuses()
            for label, outcome in main.items():
                assert outcome.shape() == fresh[label].shape(), f"{label}: cached {outcome.shape()} != fresh"
                if outcome.ok:
                    assert label not in world.dead, f"{label} was refused before, and is accepted again"
                    self.check_session(world, outcome.value, world.tokens[label][1])
                else:
                    assert type(outcome.error).__name__ in (*DEAD, "MissingToken"), outcome.error
                    world.dead.add(label)
                assert not leaks(world, outcome_texts(outcome))
            if world.other is not None:
                world.statuses(world.other)  # keeps the other process's caches warm: it may lag
            assert not leaks(world, world.new_audit_text()), "a secret appears in an audit record"
        shapes = [{label: o.shape() for label, o in world.statuses(world.creds).items()} for world in self.worlds]
        assert shapes[0] == shapes[1]  # law 2 for sessions

    def check_session(self, world: World, session: Session, expected: Expected) -> None:
        """Law 5: the accepted session is what the calls that made it imply."""
        assert session.principal_arn == expected.principal_arn
        assert session.role_session_name == expected.session_name
        assert session.source_identity == expected.source_identity
        assert session.session_tags == expected.session_tags
        assert int(session.expires_at.timestamp()) == expected.expires_at  # type: ignore[union-attr]
        assert int(session.issued_at.timestamp()) == expected.issued_at  # type: ignore[union-attr]
        now = world.clock.time()
        if expected.mfa_time is None:
            assert session.mfa_authenticated_at is None and "aws:MultiFactorAuthAge" not in session.context(now)
        else:
            assert session.mfa_age(now) == int(now) - expected.mfa_time
            assert session.context(now)["aws:MultiFactorAuthAge"] == int(now) - expected.mfa_time
        if expected.source_kind == "user":
            tags = {tag.key: tag.value for tag in world.directory.get_user(expected.source_name).tags}
            assert session.source_arn == user_arn(expected.source_name) and session.principal_type == "User"
        else:
            tags = {tag.key: tag.value for tag in world.directory.get_role(expected.source_name).tags}
            assert session.source_arn == role_arn(expected.source_name) and session.principal_type == "AssumedRole"
            assert session.context(now)["aws:PrincipalArn"] == role_arn(expected.source_name)
        assert session.principal_tags == merged_tags(tags, expected.session_tags)

    # access keys

    @rule(user=st.sampled_from(USERS))
    def create_access_key(self, user: str) -> None:
        outcomes = self.both(lambda w: w.creds.create_access_key(user))
        for world, outcome in zip(self.worlds, outcomes, strict=True):
            if outcome.ok:
                world.keys.setdefault(user, []).append(
                    AccessKeyCredentials(outcome.value.access_key_id, outcome.value.secret_access_key))
                world.secrets.add(outcome.value.secret_access_key)

    def key_id(self, world: World, user: str, slot: int) -> str:
        held = world.keys.get(user, [])
        return held[slot].access_key_id if slot < len(held) else "AKIA" + "Q" * 16

    @rule(user=st.sampled_from(USERS), slot=st.integers(0, 2), status=st.sampled_from(["Active", "Inactive", "Gone"]),
          named=st.sampled_from(["owner", "other", "none"]))
    def access_key_status(self, user: str, slot: int, status: str, named: str) -> None:
        name = {"owner": user, "other": "bob" if user == "alice" else "alice", "none": None}[named]
        if status == "Gone":
            outcomes = self.both(lambda w: w.creds.delete_access_key(self.key_id(w, user, slot), name))
            for world, outcome in zip(self.worlds, outcomes, strict=True):
                if outcome.ok:
                    del world.keys[user][slot]
        else:
            self.both(lambda w: w.creds.update_access_key(self.key_id(w, user, slot), status, name))

    @rule(user=st.sampled_from(USERS), slot=st.integers(0, 2), right=st.booleans(),
          facade=st.sampled_from(["main", "fresh"]))
    def authenticate_access_key(self, user: str, slot: int, right: bool, facade: str) -> None:
        def call(world: World) -> Session:
            held = world.keys.get(user, [])
            key_id = held[slot].access_key_id if slot < len(held) else "AKIA" + "Q" * 16
            secret = held[slot].secret_access_key if right and slot < len(held) else "not-the-secret"
            creds = world.creds if facade == "main" else world.fresh()
            return creds.authenticate_access_key(key_id, secret)

        for outcome in self.both(call):  # a refused pair is counted (law 4)
            assert outcome.ok or isinstance(outcome.error, (InvalidClientTokenId, Throttled)), outcome.error

    # passwords

    @rule(policy=st.sampled_from(PASSWORD_POLICIES))
    def password_policy(self, policy: dict[str, Any] | None) -> None:
        if policy is None:
            self.both(lambda w: w.creds.delete_account_password_policy())
        else:
            self.both(lambda w: w.creds.update_account_password_policy(**policy))

    @rule(user=st.sampled_from(USERS), operation=st.sampled_from(["create", "update", "reset", "delete", "change"]),
          password=st.sampled_from(PASSWORDS), other=st.sampled_from(PASSWORDS))
    def login_profile(self, user: str, operation: str, password: str, other: str) -> None:
        calls: dict[str, Callable[[World], Any]] = {
            "create": lambda w: w.creds.create_login_profile(user, password),
            "update": lambda w: w.creds.update_login_profile(user, password),
            "reset": lambda w: w.creds.update_login_profile(user, password_reset_required=True),
            "delete": lambda w: w.creds.delete_login_profile(user),
            "change": lambda w: w.creds.change_password(user, other, password),
        }
        # A wrong old password is a counted failure (law 4), not a state change.
        self.both(calls[operation])

    # MFA

    @rule(user=st.sampled_from(USERS), name=st.sampled_from(DEVICES))
    def create_device(self, user: str, name: str) -> None:
        outcomes = self.both(lambda w: w.creds.create_virtual_mfa_device(user, name))
        for world, outcome in zip(self.worlds, outcomes, strict=True):
            if outcome.ok:
                world.devices[name] = (user, outcome.value)
                world.secrets.add(outcome.value.base32_seed)
                world.last_code.pop(name, None)

    def owner(self, name: str, other: bool) -> str:
        """The device's user (or, with `other`, a user it does not belong to)."""
        owner = self.worlds[0].devices.get(name, ("alice",))[0]
        return ("bob" if owner == "alice" else "alice") if other else owner

    @rule(name=st.sampled_from(DEVICES), kind=st.sampled_from(["right", "right", "wrong"]), other=OTHER)
    def enable_device_rule(self, name: str, kind: str, other: bool) -> None:
        self.enable_device(self.owner(name, other), name, kind)

    def enable_device(self, user: str, name: str, kind: str) -> None:
        def call(world: World) -> None:
            found = world.devices.get(name)
            first = world.code(found[1] if found else None, "prev", name)
            second = world.code(found[1] if found else None, "now" if kind == "right" else "wrong", name)
            world.creds.enable_mfa_device(user, serial(name), first, second)

        outcomes = self.both(call)
        for world, outcome in zip(self.worlds, outcomes, strict=True):
            if outcome.ok:
                device = world.devices[name][1]
                step = totp_math.step_at(world.clock.time())
                world.used_steps.setdefault(device.base32_seed, set()).add(step)
                world.last_code[name] = totp_math.code_at(device.base32_seed, world.clock.time())
                assert kind == "right"

    @rule(name=st.sampled_from(DEVICES), factor=st.sampled_from(FACTORS[2:]), other=OTHER)
    def deactivate_device(self, name: str, factor: str, other: bool) -> None:
        user = self.owner(name, other)
        arguments: dict[World, dict[str, Any]] = {}

        def call(world: World) -> None:
            arguments[world] = given = world.factor(factor, name, user)
            world.creds.deactivate_mfa_device(user, serial(name), given.get("mfa_code"),
                                              recovery_code=given.get("recovery_code"))

        outcomes = self.both(call)
        for world, outcome in zip(self.worlds, outcomes, strict=True):
            if outcome.ok:
                world.spent(factor, name, user, arguments[world])
                if not any(owner == user and d.serial_number != serial(name) for owner, d in world.devices.values()):
                    world.recovery.pop(user, None)  # dropped with the last enabled device (MFA-08)

    @rule(name=st.sampled_from(DEVICES))
    def delete_device(self, name: str) -> None:
        outcomes = self.both(lambda w: w.creds.delete_virtual_mfa_device(serial(name)))
        for world, outcome in zip(self.worlds, outcomes, strict=True):
            if outcome.ok:
                del world.devices[name]

    @rule(name=st.sampled_from(DEVICES), factor=st.sampled_from(["now", "now", "next", "wrong", "replay"]),
          other=OTHER)
    def create_recovery_codes_rule(self, name: str, factor: str, other: bool) -> None:
        self.create_recovery_codes(self.owner(name, other), name, factor)

    def create_recovery_codes(self, user: str, name: str, factor: str) -> None:
        arguments: dict[World, dict[str, Any]] = {}

        def call(world: World) -> RecoveryCodes:
            arguments[world] = given = world.factor(factor, name, user)
            return world.creds.create_recovery_codes(user, serial(name), given["mfa_code"])

        outcomes = self.both(call)
        for world, outcome in zip(self.worlds, outcomes, strict=True):
            if outcome.ok:
                world.spent(factor, name, user, arguments[world])
                world.recovery[user] = list(outcome.value)
                world.recovery_used[user] = []
                world.secrets.update(outcome.value)

    # STS

    @rule(user=st.sampled_from(USERS), via=st.sampled_from(["key", "key", "password", "wrong-password"]),
          factor=st.sampled_from(FACTORS), device=st.sampled_from(DEVICES),
          duration=st.sampled_from([None, None, 900, 899, 43201]), facade=st.sampled_from(["main", "fresh"]))
    def get_session_token(self, user: str, via: str, factor: str, device: str, duration: int | None,
                          facade: str) -> None:
        arguments: dict[World, dict[str, Any]] = {}
        moment = int(self.clock.time())

        def call(world: World) -> IssuedToken:
            held = world.keys.get(user, [])
            credentials: Any = {
                "key": held[0] if held else AccessKeyCredentials("AKIA" + "Q" * 16, "none"),
                "password": PasswordCredentials(user, PASSWORDS[0]),
                "wrong-password": PasswordCredentials(user, PASSWORDS[1]),
            }[via]
            arguments[world] = given = world.factor(factor, device, user)
            creds = world.creds if facade == "main" else world.fresh()
            return creds.get_session_token(credentials, duration=duration, **given)

        outcomes = self.both(call)
        for world, outcome in zip(self.worlds, outcomes, strict=True):
            if outcome.ok:
                world.spent(factor, device, user, arguments[world])
                assert outcome.value.expires_at == moment + (duration or 43200)
            else:
                assert not isinstance(outcome.error, TokenError), outcome.error
        mfa_time = moment if factor != "none" else None
        self.keep(outcomes, lambda world, issued: Expected(
            user_arn(user), user, "user", user, None, None, (), mfa_time, issued.expires_at, moment))

    def caller(self, world: World, label: str | None, user: str) -> tuple[Session, Expected | None]:
        if label is None:
            held = world.keys.get(user, [])
            key = held[0] if held else AccessKeyCredentials("AKIA" + "Q" * 16, "none")
            return world.creds.authenticate_access_key(key.access_key_id, key.secret_access_key), None
        token, expected = world.tokens[label]
        return world.creds.authenticate(token), expected

    @rule(data=st.data(), user=st.sampled_from(USERS), role=st.sampled_from([*ROLES, "missing"]),
          session_name=st.sampled_from(["s1", "s2", "s1", "s2", "x"]), policy=st.sampled_from(SESSION_POLICIES),
          tags=st.sampled_from(TAG_CHOICES), source_identity=st.sampled_from(SOURCE_IDENTITIES),
          factor=st.sampled_from(ROLE_FACTORS), device=st.sampled_from(DEVICES),
          duration=st.sampled_from([None, None, None, 900, 3601, 7200]))
    def assume_role(self, data: st.DataObject, user: str, role: str, session_name: str, policy: Any, tags: Any,
                    source_identity: str | None, factor: str, device: str, duration: int | None) -> None:
        labels = sorted(self.worlds[0].tokens)
        alive = [label for label in labels if label not in self.worlds[0].dead]
        label = data.draw(st.sampled_from([None, *labels, *alive, *alive])) if labels else None
        arguments: dict[World, dict[str, Any]] = {}
        callers: dict[World, Expected | None] = {}
        moment = int(self.clock.time())

        def call(world: World) -> IssuedToken:
            session, callers[world] = self.caller(world, label, user)
            parent = callers[world]
            arguments[world] = given = world.factor(factor, device, parent.root if parent is not None else user)
            return world.creds.assume_role(role_arn(role), session_name, session, duration, policy, tags,
                                           source_identity, **given)

        outcomes = self.both(call)
        for world, outcome in zip(self.worlds, outcomes, strict=True):
            parent = callers.get(world)
            root = parent.root if parent is not None else user
            carried = parent.source_identity if parent is not None else None
            if carried is not None and source_identity is not None and source_identity != carried:
                assert not outcome.ok, "a chained session changed its source identity"  # law 5
            if outcome.ok:
                world.spent(factor, device, root, arguments[world])
                assert role != "missing"
                chained = parent is not None and parent.source_kind == "role"
                cap = min((parent.expires_at if parent is not None else moment + 43200),
                          moment + (3600 if chained else 43200))
                assert outcome.value.expires_at <= cap

        def expected(world: World, issued: IssuedToken) -> Expected:
            parent = callers[world]
            inherited = parent.mfa_time if parent is not None else None
            session_tags = tuple(sorted(tags.items())) if tags else ()
            return Expected(
                f"arn:aws:sts::{TENANT}:assumed-role/{role}/{session_name}",
                parent.root if parent is not None else user, "role", role, session_name,
                source_identity or (parent.source_identity if parent is not None else None), session_tags,
                moment if factor != "none" else inherited, issued.expires_at, moment)

        self.keep(outcomes, expected)

    @rule(data=st.data(), role=st.sampled_from(ROLES), factor=st.sampled_from(ROLE_FACTORS))
    def assume_role_plain(self, data: st.DataObject, role: str, factor: str) -> None:
        """alice (or a session she holds) assumes a role with valid arguments."""
        self.assume_role(data, "alice", role, "s1", None, None, None, factor, "phone", None)

    @rule(data=st.data(), factor=st.sampled_from(["now", "recovery"]))
    def oversized_assume_role(self, data: st.DataObject, factor: str) -> None:
        """Tags too large for a token, with a good second factor: refused, and nothing spent."""
        self.assume_role(data, "alice", "deploy", "s1", None, BIG_TAGS, None, factor, "phone", None)

    @rule(data=st.data(), factor=st.sampled_from(FACTORS[2:]), device=st.sampled_from(DEVICES))
    def step_up(self, data: st.DataObject, factor: str, device: str) -> None:
        labels = sorted(self.worlds[0].tokens)
        if not labels:
            return
        label = data.draw(st.sampled_from(labels))
        arguments: dict[World, dict[str, Any]] = {}
        roots: dict[World, str] = {}
        moment = int(self.clock.time())

        def call(world: World) -> IssuedToken:
            token, expected = world.tokens[label]
            roots[world] = root = expected.root
            arguments[world] = given = world.factor(factor, device, root)
            return world.creds.step_up(token, **given)

        outcomes = self.both(call)
        for world, outcome in zip(self.worlds, outcomes, strict=True):
            if outcome.ok:
                world.spent(factor, device, roots[world], arguments[world])
        self.keep(outcomes, lambda world, issued: Expected(
            **{**world.tokens[label][1].__dict__, "mfa_time": moment, "issued_at": moment}))

    @rule(data=st.data(), factor=st.sampled_from(["replay", "recovery_used"]), device=st.sampled_from(DEVICES),
          user=st.sampled_from(USERS))
    def replay_elsewhere(self, data: st.DataObject, factor: str, device: str, user: str) -> None:
        """A used code is refused by every facade: a fresh one here, another process's (SQLite)."""
        def call(world: World) -> IssuedToken:
            creds = world.other if world.other is not None else world.fresh()
            held = world.keys.get(user, [])
            key = held[0] if held else AccessKeyCredentials("AKIA" + "Q" * 16, "none")
            return creds.get_session_token(key, **world.factor(factor, device, user))

        for outcome in self.both(call):
            assert not outcome.ok, "a used code was accepted again by another facade"  # law 4

    # revocation

    @rule(principal=st.sampled_from([user_arn("alice"), user_arn("bob"), role_arn("deploy"), role_arn("audit"),
                                     role_arn("missing")]))
    def revoke_sessions(self, principal: str) -> None:
        self.both(lambda w: w.creds.revoke_sessions(principal))

    @rule(data=st.data())
    def revoke_session(self, data: st.DataObject) -> None:
        labels = sorted(self.worlds[0].tokens)
        if labels:
            label = data.draw(st.sampled_from(labels))
            self.both(lambda w: w.creds.revoke_session(w.creds.authenticate(w.tokens[label][0])))

    # the directory

    @rule(user=st.sampled_from(USERS), recreate=st.booleans())
    def delete_user(self, user: str, recreate: bool) -> None:
        """Refused while the user has credentials; then stripped of them and deleted (and created
        again under the same name: it inherits nothing, and its old sessions stay dead)."""
        self.both(lambda w: w.directory.delete_user(user))
        self.both(lambda w: w.creds.delete_login_profile(user))
        for slot in (2, 1, 0):
            self.access_key_status(user, slot, "Gone", "owner")
        for name in DEVICES:
            self.both(lambda w, name=name: w.creds.delete_virtual_mfa_device(serial(name))
                      if w.devices.get(name, ("",))[0] == user else None)
        outcomes = self.both(lambda w: w.directory.delete_user_policy(user, "main"))
        outcomes = self.both(lambda w: w.directory.delete_user(user))
        for world, outcome in zip(self.worlds, outcomes, strict=True):
            if outcome.ok:
                for name in [name for name, (owner, _) in world.devices.items() if owner == user]:
                    del world.devices[name]
                world.keys.pop(user, None)
                world.recovery.pop(user, None)
        if recreate:
            self.both(lambda w: w.directory.create_user(user, tags=USER_TAGS[user]))
            self.both(lambda w: w.directory.put_user_policy(user, "main", ALLOW_ALL))

    @rule(role=st.sampled_from(ROLES), operation=st.sampled_from(["retag", "retrust", "delete", "recreate"]))
    def change_role(self, role: str, operation: str) -> None:
        """Retag (sessions then carry the new tags), trust again whoever exists (a deleted and
        recreated user is not trusted until then), delete, or delete and create again."""
        if operation == "retag":
            self.both(lambda w: w.directory.tag_role(role, {"team": "purple"}))
            return
        if operation == "retrust":
            self.both(lambda w: w.directory.update_assume_role_policy(role, current_trust(w.directory, role)))
            return
        self.both(lambda w: w.directory.delete_role_policy(role, "main"))
        self.both(lambda w: w.directory.delete_role(role))
        if operation == "recreate":
            self.both(lambda w: w.directory.create_role(role, current_trust(w.directory, role),
                                                        tags=ROLE_TAGS[role]))
            self.both(lambda w: w.directory.put_role_policy(role, "main", ALLOW_ALL))

    # time

    @rule(seconds=st.sampled_from([1, 1, 30, 31, 31, 301, 901, 3601, 43201]))
    def time_passes(self, seconds: int) -> None:
        self.clock.advance(seconds)
        for world in self.worlds:
            if world.other is not None:  # another process agrees once its cache_ttl has passed (law 3)
                assert seconds >= world.other.directory.cache_ttl
                other = {label: o.shape() for label, o in world.statuses(world.other).items()}
                assert other == {label: o.shape() for label, o in world.statuses(world.creds).items()}


def test_credential_laws() -> None:
    run_state_machine_as_test(CredentialLaws, settings=settings(
        max_examples=30, stateful_step_count=25, deadline=None, database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]))


# ---------------------------------------------------------------------------------------------
# law 4: lockouts, against a model of the configured Lockout


class LockModel:
    """A subject's consecutive failures: `max_failures` of them lock it for `lock_seconds`; a
    success, a lock running out, or a quiet period as long as the lock period starts over."""

    def __init__(self, lockout: Lockout) -> None:
        self.lockout = lockout
        self.failures = 0
        self.locked_until: float | None = None
        self.last: float | None = None

    def locked(self, now: float) -> bool:
        return self.locked_until is not None and now < self.locked_until

    def retry_after(self, now: float) -> int:
        assert self.locked_until is not None
        return max(1, math.ceil(self.locked_until - now))

    def fail(self, now: float) -> None:
        if (self.locked_until is not None and now >= self.locked_until) or \
                (self.last is not None and now - self.last >= self.lockout.lock_seconds):
            self.failures, self.locked_until = 0, None
        self.failures += 1
        self.last = now
        if self.failures >= self.lockout.max_failures:
            self.failures, self.locked_until = 0, now + self.lockout.lock_seconds

    def succeed(self) -> None:
        self.failures, self.locked_until, self.last = 0, None, None


FACADES = st.sampled_from(["main", "fresh", "other"])
LOCK_OPS = st.lists(st.one_of(
    st.tuples(st.just("login"), st.booleans(), FACADES),
    st.tuples(st.just("mfa"), st.sampled_from(["fresh", "fresh", "prev", "wrong", "replay"]), FACADES),
    st.tuples(st.just("key"), st.booleans(), FACADES),
    st.tuples(st.just("wait"), st.sampled_from([1, 30, 120, 299, 300, 301]), st.just("")),
), max_size=30)


def expect(outcome: Outcome, error: type[BaseException] | None, retry_after: int | None = None) -> None:
    if error is None:
        assert outcome.ok, f"refused: {outcome.error!r}"
        return
    assert isinstance(outcome.error, error), f"expected {error.__name__}, got {outcome.shape()}"
    if retry_after is not None:
        assert isinstance(outcome.error, Throttled) and outcome.error.retry_after == retry_after


@settings(max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(["memory", "sqlite"]), ops=LOCK_OPS)
def test_lockouts_count_per_the_configured_lockout(kind: str, ops: list[tuple[str, Any, Any]]) -> None:
    folder = Path(tempfile.mkdtemp(prefix="iamguard-credlocks-"))
    env = build_env(kind, folder, **SETTINGS)
    other_store = SQLiteStore(folder / "iamguard.db") if kind == "sqlite" else None
    try:
        key = env.user_with_key()
        env.creds.create_login_profile("alice", PASSWORDS[0])
        device = env.enabled_device()
        facades = {"main": lambda: env.creds, "fresh": env.credentials,
                   "other": (lambda: Credentials(Directory(other_store, TENANT, clock=env.clock), clock=env.clock,
                                                 **env.settings)) if other_store is not None else env.credentials}
        login, mfa, key_lock = LockModel(LOCK), LockModel(LOCK), LockModel(LOCK)
        last_step = totp_math.step_at(env.clock.time()) - 1  # enrolment used the step before
        last_code = env.code(device, -1)
        for op, choice, facade in ops:
            now = env.clock.time()
            if op == "wait":
                env.clock.advance(choice)
                continue
            creds = facades[facade]()
            if op == "login":
                password = PASSWORDS[0] if choice else PASSWORDS[1]
                outcome = attempt(lambda c=creds, p=password: c.login("alice", p))
                if login.locked(now):
                    expect(outcome, Throttled, login.retry_after(now))
                elif choice:
                    expect(outcome, None)
                    login.succeed()
                else:
                    expect(outcome, AuthenticationFailed)
                    login.fail(now)
            elif op == "key":
                secret = key.secret_access_key if choice else "not-the-secret"
                outcome = attempt(lambda c=creds, s=secret: c.authenticate_access_key(key.access_key_id, s))
                if choice:  # the right secret gets through a lock (KEY-03)
                    expect(outcome, None)
                    key_lock.succeed()
                elif key_lock.locked(now):
                    expect(outcome, Throttled, key_lock.retry_after(now))
                else:
                    expect(outcome, InvalidClientTokenId)
                    key_lock.fail(now)
            else:
                step = {"fresh": 0, "prev": -1}.get(choice)
                code = {"wrong": env.wrong_code(device), "replay": last_code}.get(choice) or \
                    env.code(device, step or 0)
                outcome = attempt(lambda c=creds, code=code: c.get_session_token(key, mfa_code=code))
                key_lock.succeed()  # the key itself was right
                current = totp_math.step_at(now)
                if mfa.locked(now):
                    expect(outcome, Throttled, mfa.retry_after(now))
                elif step is not None and current + step > last_step:
                    expect(outcome, None)
                    mfa.succeed()
                    last_step, last_code = current + step, code
                else:  # wrong, replayed, or a step not newer than one used: refused, and counted
                    expect(outcome, InvalidAuthenticationCode)
                    mfa.fail(now)
    finally:
        env.store.close()
        if other_store is not None:
            other_store.close()
        shutil.rmtree(folder, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# regressions: refused STS calls spent single-use second factors


@pytest.fixture(params=["memory", "sqlite"])
def mfa_env(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    env = build_env(request.param, tmp_path)
    env.user_with_key()
    env.creds.create_login_profile("alice", PASSWORDS[0])
    yield env
    env.store.close()


def test_assume_role_refused_as_too_large_spends_no_code(mfa_env: Any) -> None:
    """AssumeRole verified the TOTP code (or used up the recovery code) before finding that the
    session tags did not fit in a token: the refused call spent a single-use factor (law 1)."""
    env = mfa_env
    device = env.enabled_device()
    codes = env.creds.create_recovery_codes("alice", device.serial_number, env.code(device))
    env.clock.advance(30)
    env.directory.create_role("deploy", trust([user_arn("alice")], ["sts:AssumeRole", "sts:TagSession"]))
    caller = env.creds.get_session_token(PasswordCredentials("alice", PASSWORDS[0]))
    session = env.creds.authenticate(caller.token)
    code = env.code(device)
    with pytest.raises(ServiceError) as raised:
        env.creds.assume_role(role_arn("deploy"), "s1", session, tags=BIG_TAGS, mfa_code=code)
    assert type(raised.value).__name__ == "PackedPolicyTooLarge"
    with pytest.raises(ServiceError) as raised:
        env.creds.assume_role(role_arn("deploy"), "s1", session, tags=BIG_TAGS, recovery_code=codes[0])
    assert type(raised.value).__name__ == "PackedPolicyTooLarge"
    assert env.creds.recovery_codes_remaining("alice") == len(codes)
    # Both factors are still good for a call that succeeds.
    issued = env.creds.assume_role(role_arn("deploy"), "s1", session, tags={"team": "green"}, mfa_code=code)
    assert env.creds.authenticate(issued.token).mfa_authenticated_at is not None
    env.creds.assume_role(role_arn("deploy"), "s2", session, recovery_code=codes[0])
    assert env.creds.recovery_codes_remaining("alice") == len(codes) - 1


def test_step_up_of_a_session_past_its_expiry_spends_no_code(mfa_env: Any) -> None:
    """A session just past `exp` (still within the leeway, so it passes the liveness check) got
    its code verified, and used up, before step-up refused it as expired."""
    env = mfa_env
    device = env.enabled_device()
    codes = env.creds.create_recovery_codes("alice", device.serial_number, env.code(device))
    env.clock.advance(30)
    issued = env.creds.get_session_token(PasswordCredentials("alice", PASSWORDS[0]), duration=900)
    env.clock.advance(905)  # past exp, within the 30 s leeway
    code = env.code(device)
    with pytest.raises(ServiceError) as raised:
        env.creds.step_up(issued.token, mfa_code=code)
    assert type(raised.value).__name__ == "ExpiredToken"
    with pytest.raises(ServiceError) as raised:
        env.creds.step_up(issued.token, recovery_code=codes[0])
    assert type(raised.value).__name__ == "ExpiredToken"
    assert env.creds.recovery_codes_remaining("alice") == len(codes)
    fresh = env.creds.login("alice", PASSWORDS[0], mfa_code=code)  # the code was not spent
    assert env.creds.authenticate(fresh.token).mfa_authenticated_at is not None
