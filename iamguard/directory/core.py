"""What every part of the Directory facade shares: the bound tenant, transactions, look-ups that
raise IAM's errors, and turning store records into the public values."""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import TypeVar

from iamguard.audit import Auditor, AuditSink, as_auditor
from iamguard.clock import SYSTEM_CLOCK, Clock
from iamguard.directory import validation as valid
from iamguard.directory.arns import entity_arn, parse_iam_arn
from iamguard.directory.auditing import audited_write
from iamguard.directory.errors import InvalidInputError, NoSuchEntityError
from iamguard.directory.ids import new_unique_id
from iamguard.directory.model import Group, ManagedPolicy, Page, PolicyVersion, Role, Tag, User
from iamguard.directory.quotas import DEFAULT_QUOTAS, Quotas
from iamguard.directory.resolver import PrincipalResolver
from iamguard.store.base import (
    GROUP,
    ROLE,
    USER,
    DirectoryReader,
    DirectoryStore,
    DirectoryWriter,
    EntityRecord,
    PolicyRecord,
    TenantRecord,
    VersionRecord,
    name_key,
)

T = TypeVar("T")
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

_NAME_CHECKS: dict[str, Callable[[object, str], str]] = {
    USER: valid.user_name, GROUP: valid.group_name, ROLE: valid.role_name,
}
_NAME_PARAMETERS = {USER: "UserName", GROUP: "GroupName", ROLE: "RoleName"}
_TITLES = {USER: "User", GROUP: "Group", ROLE: "Role"}


def timestamp(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime(TIMESTAMP_FORMAT)


def parse_timestamp(text: str) -> datetime:
    return datetime.strptime(text, TIMESTAMP_FORMAT).replace(tzinfo=timezone.utc)


def paginate(items: Sequence[T], keys: Sequence[str], marker: str | None, max_items: int) -> Page[T]:
    """A page of an in-memory list ordered by `keys` (used for short per-principal lists)."""
    start = 0 if marker is None else bisect.bisect_right(keys, marker)
    chosen = tuple(items[start:start + max_items])
    truncated = start + max_items < len(items)
    return Page(chosen, truncated, keys[start + max_items - 1] if truncated else None)


def page_from_store(records: Sequence[T], keys: Sequence[str], max_items: int) -> tuple[Sequence[T], bool, str | None]:
    """Records fetched with `limit=max_items + 1`: the page, whether more exist, the next marker."""
    if len(records) > max_items:
        return records[:max_items], True, keys[max_items - 1]
    return records, False, None


class DirectoryCore:
    """A directory bound to one tenant, as a boto3 IAM client is bound to one account."""

    def __init__(
        self,
        store: DirectoryStore,
        tenant_id: str,
        *,
        partition: str | None = None,
        clock: Clock | None = None,
        quotas: Quotas | None = None,
        cache_ttl: float = 1.0,
        cache_size: int = 4096,
        allow_open_trust: bool = False,
        audit: Auditor | AuditSink | Iterable[AuditSink] | None = None,
    ) -> None:
        valid.tenant_id(tenant_id)
        if isinstance(cache_ttl, bool) or not isinstance(cache_ttl, (int, float)) or cache_ttl < 0:
            raise ValueError(f"cache_ttl must be a number of seconds >= 0, not {cache_ttl!r}")
        with store.read() as reader:
            tenant = reader.get_tenant(tenant_id)
        if tenant is None:
            raise NoSuchEntityError(f"tenant {tenant_id} does not exist; create it with Directory.create_tenant")
        if partition is not None and partition != tenant.partition:
            raise InvalidInputError(f"tenant {tenant_id} uses partition {tenant.partition!r}, not {partition!r}")
        self.store = store
        self.tenant_id = tenant_id
        self.partition = tenant.partition
        self.clock: Clock = clock or SYSTEM_CLOCK
        self.quotas = quotas or DEFAULT_QUOTAS
        self.cache_ttl = float(cache_ttl)
        self.allow_open_trust = allow_open_trust
        # Every mutation is audited through this; reads never are (security spec LOG-02, LOG-04).
        self.auditor = as_auditor(audit)
        self._tenant = tenant
        self._resolver = PrincipalResolver(store, tenant, clock=self.clock, ttl=self.cache_ttl, maxsize=cache_size)

    def __repr__(self) -> str:
        return f"<Directory tenant={self.tenant_id} partition={self.partition} store={type(self.store).__name__}>"

    @property
    def tenant(self) -> TenantRecord:
        return self._tenant

    # transactions

    @contextmanager
    def _writing(self, event: str) -> Iterator[DirectoryWriter]:
        """The one way a directory operation writes: a transaction audited as `event` (the IAM
        API name). Its record is delivered before the commit; if it cannot be, the change is
        rolled back and AuditUnavailableError raised."""
        with audited_write(self.store, self.auditor, event, self.tenant_id, self.clock) as writer:
            yield writer

    @contextmanager
    def _reading(self) -> Iterator[DirectoryReader]:
        with self.store.read() as reader:
            yield reader

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Run many operations in one store transaction (fast bulk loads). Each operation inside
        is still atomic on its own (a savepoint); an exception escaping the block undoes all.
        The operations' audit records are delivered together just before the batch commits."""
        with audited_write(self.store, None, None, self.tenant_id, self.clock):
            yield

    def _now(self) -> str:
        return timestamp(self.clock.now())

    def _fresh_id(self, writer: DirectoryWriter, kind: str) -> str:
        while True:  # a collision is astronomically unlikely; never hand out a live id anyway
            unique_id = new_unique_id(kind)
            if not writer.unique_id_taken(unique_id):
                return unique_id

    # look-ups

    def _entity(self, reader: DirectoryReader, kind: str, name: object) -> EntityRecord:
        checked = _NAME_CHECKS[kind](name, _NAME_PARAMETERS[kind])
        record = reader.get_entity(self.tenant_id, kind, checked)
        if record is None:
            raise NoSuchEntityError(f"The {kind} with name {checked} cannot be found.")
        return record

    def _policy(self, reader: DirectoryReader, policy_arn: object, parameter: str = "PolicyArn") -> PolicyRecord:
        parsed = parse_iam_arn(policy_arn, ("policy",), parameter)
        if parsed.account == "aws":
            raise NoSuchEntityError(f"Policy {policy_arn} does not exist: AWS managed policies are not available; "
                                    "create a managed policy in the tenant instead.")
        record = None
        if parsed.partition == self.partition and parsed.account == self.tenant_id and \
                valid.POLICY_NAME.fullmatch(parsed.name):
            record = reader.get_policy(self.tenant_id, parsed.name)
        # ARNs compare case-sensitively, and the path is part of the ARN.
        if record is None or record.name != parsed.name or record.path != parsed.path:
            raise NoSuchEntityError(f"Policy {policy_arn} does not exist or is not attachable.")
        return record

    def _version(self, reader: DirectoryReader, policy: PolicyRecord, version_id: object) -> VersionRecord:
        checked = valid.version_id(version_id)
        record = reader.get_version(policy.unique_id, checked)
        if record is None:
            raise NoSuchEntityError(f"Policy {self._policy_arn(policy)} version {checked} does not exist.")
        return record

    def _boundary_id(self, reader: DirectoryReader, boundary_arn: object) -> str:
        return self._policy(reader, boundary_arn, "PermissionsBoundary").unique_id

    # ARNs and public values

    def _arn(self, record: EntityRecord) -> str:
        return entity_arn(self.partition, self.tenant_id, record.kind, record.path, record.name)

    def _policy_arn(self, record: PolicyRecord) -> str:
        return entity_arn(self.partition, self.tenant_id, "policy", record.path, record.name)

    def _boundary_arn(self, reader: DirectoryReader, record: EntityRecord) -> str | None:
        if record.boundary_id is None:
            return None
        policy = reader.get_policy_by_id(self.tenant_id, record.boundary_id)
        return self._policy_arn(policy) if policy is not None else None

    def _user(self, reader: DirectoryReader, record: EntityRecord) -> User:
        return User(record.path, record.name, record.unique_id, self._arn(record), parse_timestamp(record.created),
                    self._boundary_arn(reader, record), tuple(Tag(key, value) for key, value in record.tags))

    def _group(self, record: EntityRecord) -> Group:
        return Group(record.path, record.name, record.unique_id, self._arn(record), parse_timestamp(record.created))

    def _role(self, reader: DirectoryReader, record: EntityRecord) -> Role:
        return Role(record.path, record.name, record.unique_id, self._arn(record), parse_timestamp(record.created),
                    record.trust_policy or "", record.description or "", record.max_session_duration or 3600,
                    self._boundary_arn(reader, record), tuple(Tag(key, value) for key, value in record.tags))

    def _managed(self, reader: DirectoryReader, record: PolicyRecord) -> ManagedPolicy:
        return ManagedPolicy(
            record.name, record.unique_id, self._policy_arn(record), record.path, record.default_version,
            len(reader.attached_principals(record.unique_id)), len(reader.boundary_principals(record.unique_id)),
            True, record.description, parse_timestamp(record.created), parse_timestamp(record.updated),
        )

    @staticmethod
    def _policy_version(record: VersionRecord, policy: PolicyRecord) -> PolicyVersion:
        return PolicyVersion(record.document, record.version_id, record.version_id == policy.default_version,
                             parse_timestamp(record.created))

    @staticmethod
    def _title(kind: str) -> str:
        return _TITLES[kind]

    @staticmethod
    def _key(name: str) -> str:
        return name_key(name)
