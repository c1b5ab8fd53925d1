"""Export and import of a whole tenant as JSON, exact on round trip.

The export holds every record as stored: unique ids, creation dates, policy documents as their
original text, version counters. Importing it into any store (memory or SQLite) and exporting
again gives the same document. An import is validated completely (names, paths, tags, ids,
documents, references, and the same quotas and open-trust rule as the live API) before anything
is written, and is written in one transaction.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from iamguard.audit import Auditor, AuditSink, as_auditor
from iamguard.clock import SYSTEM_CLOCK, Clock
from iamguard.directory import documents
from iamguard.directory import validation as valid
from iamguard.directory.auditing import audited_write
from iamguard.directory.core import TIMESTAMP_FORMAT, parse_timestamp
from iamguard.directory.errors import (
    EntityAlreadyExistsError,
    InvalidInputError,
    LimitExceededError,
    MalformedPolicyDocumentError,
)
from iamguard.directory.ids import is_unique_id
from iamguard.directory.quotas import DEFAULT_QUOTAS, Quotas
from iamguard.engine.compiler import parse_policy
from iamguard.errors import PolicyError
from iamguard.policy.jsondoc import unique_members
from iamguard.store.base import (
    ENTITY_KINDS,
    GROUP,
    ROLE,
    USER,
    DirectoryReader,
    DirectoryStore,
    EntityRecord,
    InlineRecord,
    PolicyRecord,
    TenantRecord,
    VersionRecord,
    name_key,
)
from iamguard.store.database import StoreError

FORMAT = "iamguard.directory.tenant"
FORMAT_VERSION = 1
_SECTIONS = {USER: "users", GROUP: "groups", ROLE: "roles"}

# The number the next version would get: at most one past the last VersionId (v999999999).
_MAX_NEXT_VERSION = valid.MAX_VERSION_NUMBER + 1


def _entity_out(record: EntityRecord) -> dict[str, Any]:
    out: dict[str, Any] = {"unique_id": record.unique_id, "name": record.name, "path": record.path,
                           "created": record.created}
    if record.kind in (USER, ROLE):
        out["tags"] = [[key, value] for key, value in record.tags]
        out["boundary_id"] = record.boundary_id
    if record.kind == ROLE:
        out["trust_policy"] = record.trust_policy
        out["description"] = record.description
        out["max_session_duration"] = record.max_session_duration
    return out


def export_tenant(reader: DirectoryReader, tenant_id: str) -> dict[str, Any]:
    tenant = reader.get_tenant(tenant_id)
    if tenant is None:
        raise StoreError(f"tenant {tenant_id} is missing from the store")
    document: dict[str, Any] = {
        "format": FORMAT, "version": FORMAT_VERSION,
        "tenant": {"tenant_id": tenant.tenant_id, "name": tenant.name, "partition": tenant.partition,
                   "created": tenant.created},
    }
    principals: list[EntityRecord] = []
    for kind in ENTITY_KINDS:
        records = reader.list_entities(tenant_id, kind)
        document[_SECTIONS[kind]] = [_entity_out(record) for record in records]
        principals.extend(records)
    document["policies"] = [
        {"unique_id": policy.unique_id, "name": policy.name, "path": policy.path, "created": policy.created,
         "updated": policy.updated, "description": policy.description, "default_version": policy.default_version,
         "next_version": policy.next_version,
         "versions": [{"version_id": version.version_id, "document": version.document, "created": version.created}
                      for version in reader.list_versions(policy.unique_id)]}
        for policy in reader.list_policies(tenant_id)
    ]
    inline: list[dict[str, Any]] = []
    memberships: list[list[str]] = []
    attachments: list[list[str]] = []
    for record in principals:
        inline.extend({"owner_id": record.unique_id, "name": policy.name, "document": policy.document}
                      for policy in reader.list_inline(record.unique_id))
        if record.kind == USER:
            memberships.extend([group.unique_id, record.unique_id] for group in reader.groups_of(record.unique_id))
        attachments.extend([record.unique_id, policy.unique_id]
                           for policy in reader.attached_policies(record.unique_id))
    document["inline_policies"] = sorted(inline, key=lambda item: (item["owner_id"], name_key(item["name"])))
    document["memberships"] = sorted(memberships)
    document["attachments"] = sorted(attachments)
    return document


class _Reader:
    """Strict access to the imported JSON, with the location of every problem."""

    def __init__(self, where: str, data: object) -> None:
        if not isinstance(data, Mapping):
            raise InvalidInputError(f"{where} must be an object")
        self.where = where
        self.data = data

    def get(self, key: str, check: Callable[[object], Any] | None = None, *, optional: bool = False) -> Any:
        if key not in self.data:
            if optional:
                return None
            raise InvalidInputError(f"{self.where}.{key} is missing")
        value = self.data[key]
        if check is None or (optional and value is None):
            return value
        try:
            return check(value)
        except InvalidInputError as exc:
            raise InvalidInputError(f"{self.where}.{key}: {exc.message}") from None

    def items(self, key: str) -> list[Any]:
        value = self.data.get(key, [])
        if not isinstance(value, list):
            raise InvalidInputError(f"{self.where}.{key} must be a list")
        return value


def _timestamp(value: object) -> str:
    if not isinstance(value, str):
        raise InvalidInputError("a timestamp must be a string")
    try:
        parse_timestamp(value)
    except ValueError:
        raise InvalidInputError(f"timestamp {value!r} is not in the form {TIMESTAMP_FORMAT}") from None
    return value


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise InvalidInputError("expected a string")
    return value


def _id_of(kind: str) -> Callable[[object], str]:
    def check(value: object) -> str:
        if not is_unique_id(value, kind):
            raise InvalidInputError(f"{value!r} is not a {kind} unique id")
        assert isinstance(value, str)
        return value
    return check


def _document(text: str, kind: str, where: str) -> str:
    try:
        parse_policy(text, kind)
    except PolicyError as exc:
        raise MalformedPolicyDocumentError(f"{where} is not a valid {kind} policy", exc.findings) from None
    return text


def _is_pair(value: object) -> bool:
    return isinstance(value, list) and len(value) == 2 and all(isinstance(item, str) for item in value)


class _Import:
    def __init__(self, document: object, quotas: Quotas, allow_open_trust: bool) -> None:
        self.quotas = quotas
        self.allow_open_trust = allow_open_trust
        root = _Reader("document", document)
        if root.get("format") != FORMAT or root.get("version") != FORMAT_VERSION:
            raise InvalidInputError(f"not an iamguard tenant export (format {FORMAT!r} version {FORMAT_VERSION})")
        tenant = _Reader("tenant", root.get("tenant"))
        self.tenant = TenantRecord(tenant.get("tenant_id", valid.tenant_id), tenant.get("name", valid.tenant_name),
                                   tenant.get("partition", valid.partition), tenant.get("created", _timestamp))
        self.policies: list[PolicyRecord] = []
        self.versions: list[VersionRecord] = []
        self.entities: list[EntityRecord] = []
        self.inline: list[InlineRecord] = []
        self.memberships: list[tuple[str, str]] = []
        self.attachments: list[tuple[str, str]] = []
        self._read_policies(root)
        for kind in ENTITY_KINDS:
            for index, item in enumerate(root.items(_SECTIONS[kind])):
                self.entities.append(self._entity(kind, _Reader(f"{_SECTIONS[kind]}[{index}]", item)))
        self._read_links(root)
        self._check_unique()
        self._check_quotas()

    def _read_policies(self, root: _Reader) -> None:
        tenant_id = self.tenant.tenant_id
        for index, item in enumerate(root.items("policies")):
            entry = _Reader(f"policies[{index}]", item)
            policy = PolicyRecord(
                tenant_id, entry.get("unique_id", _id_of("policy")), entry.get("name", valid.policy_name),
                entry.get("path", valid.path), entry.get("created", _timestamp), entry.get("updated", _timestamp),
                entry.get("description", valid.description), entry.get("default_version", valid.version_id),
                entry.get("next_version", lambda value: value if isinstance(value, int) and
                          not isinstance(value, bool) and 1 < value <= _MAX_NEXT_VERSION
                          else _bad(f"next_version must be an integer from 2 to {_MAX_NEXT_VERSION}")),
            )
            versions = []
            for position, raw in enumerate(entry.items("versions")):
                version = _Reader(f"policies[{index}].versions[{position}]", raw)
                versions.append(VersionRecord(
                    policy.unique_id, version.get("version_id", valid.version_id),
                    _document(version.get("document", _text), "identity", version.where + ".document"),
                    version.get("created", _timestamp)))
            numbers = [version.number for version in versions]
            if len(set(numbers)) != len(numbers) or policy.default_version not in \
                    {version.version_id for version in versions} or max(numbers) >= policy.next_version:
                raise InvalidInputError(f"policies[{index}]: versions must be distinct, include the default "
                                        "version, and be numbered below next_version")
            self.policies.append(policy)
            self.versions.extend(versions)

    def _entity(self, kind: str, entry: _Reader) -> EntityRecord:
        name_check = {USER: valid.user_name, GROUP: valid.group_name, ROLE: valid.role_name}[kind]
        tags: tuple[tuple[str, str], ...] = ()
        boundary_id = trust = description = duration = None
        if kind in (USER, ROLE):
            tags = entry.get("tags", lambda value: valid.tags([tuple(pair) if isinstance(pair, list) else pair
                                                               for pair in value] if isinstance(value, list)
                                                              else value))
            boundary_id = entry.get("boundary_id", _id_of("policy"), optional=True)
        if kind == ROLE:
            trust = _document(entry.get("trust_policy", _text), "trust", entry.where + ".trust_policy")
            # The live API refuses a role anyone may assume (security spec ROLE-01); so does an import.
            findings = [] if self.allow_open_trust else documents.open_trust_findings(parse_policy(trust, "trust"))
            if findings:
                raise MalformedPolicyDocumentError(f"{entry.where}.trust_policy trusts everyone", findings)
            description = entry.get("description", valid.description)
            duration = entry.get("max_session_duration", valid.session_duration)
        return EntityRecord(self.tenant.tenant_id, kind, entry.get("unique_id", _id_of(kind)),
                            entry.get("name", name_check), entry.get("path", valid.path),
                            entry.get("created", _timestamp), tags, boundary_id, trust, description, duration)

    def _read_links(self, root: _Reader) -> None:
        kinds = {entity.unique_id: entity.kind for entity in self.entities}
        policy_ids = {policy.unique_id for policy in self.policies}
        for entity in self.entities:
            if entity.boundary_id is not None and entity.boundary_id not in policy_ids:
                raise InvalidInputError(f"{entity.kind} {entity.name}: boundary {entity.boundary_id} is not in "
                                        "the export")
        for index, item in enumerate(root.items("inline_policies")):
            entry = _Reader(f"inline_policies[{index}]", item)
            owner = entry.get("owner_id", _text)
            if owner not in kinds:
                raise InvalidInputError(f"{entry.where}: owner {owner} is not in the export")
            self.inline.append(InlineRecord(owner, entry.get("name", valid.policy_name),
                                            _document(entry.get("document", _text), "identity",
                                                      entry.where + ".document")))
        for index, pair in enumerate(root.items("memberships")):
            if not (_is_pair(pair) and kinds.get(pair[0]) == GROUP and kinds.get(pair[1]) == USER):
                raise InvalidInputError(f"memberships[{index}] must be [group id, user id] of exported entities")
            self.memberships.append((pair[0], pair[1]))
        for index, pair in enumerate(root.items("attachments")):
            if not (_is_pair(pair) and pair[0] in kinds and pair[1] in policy_ids):
                raise InvalidInputError(f"attachments[{index}] must be [principal id, policy id] of exported "
                                        "entities")
            self.attachments.append((pair[0], pair[1]))

    def _check_unique(self) -> None:
        ids = [entity.unique_id for entity in self.entities] + [policy.unique_id for policy in self.policies]
        names = [(entity.kind, name_key(entity.name)) for entity in self.entities] + \
            [("policy", name_key(policy.name)) for policy in self.policies]
        inline = [(record.owner_id, name_key(record.name)) for record in self.inline]
        for label, values in (("unique ids", ids), ("names", names), ("inline policy names", inline),
                              ("memberships", self.memberships), ("attachments", self.attachments)):
            if len(set(values)) != len(values):
                raise InvalidInputError(f"the export repeats {label}")

    def _check_quotas(self) -> None:
        """The quotas every live operation enforces: an import must not build a tenant the API
        could never have produced (unbounded evaluation work per request, security spec DOS-02)."""
        quotas = self.quotas
        versions: dict[str, list[VersionRecord]] = {}
        for version in self.versions:
            versions.setdefault(version.policy_id, []).append(version)
        for policy in self.policies:
            if len(versions.get(policy.unique_id, ())) > quotas.versions_per_policy:
                raise LimitExceededError(f"policy {policy.name} has more than {quotas.versions_per_policy} versions")
            for version in versions.get(policy.unique_id, ()):
                if documents.size(version.document) > quotas.managed_policy_size:
                    raise LimitExceededError(f"policy {policy.name} version {version.version_id} is larger than "
                                             f"{quotas.managed_policy_size} characters")
        inline_sizes: dict[str, int] = {}
        for record in self.inline:
            inline_sizes[record.owner_id] = inline_sizes.get(record.owner_id, 0) + documents.size(record.document)
        groups: dict[str, int] = {}
        for _, user_id in self.memberships:
            groups[user_id] = groups.get(user_id, 0) + 1
        attached: dict[str, int] = {}
        for principal_id, _ in self.attachments:
            attached[principal_id] = attached.get(principal_id, 0) + 1
        for entity in self.entities:
            where = f"{entity.kind} {entity.name}"
            if len(entity.tags) > quotas.tags_per_entity:
                raise LimitExceededError(f"{where} has more than {quotas.tags_per_entity} tags")
            if entity.trust_policy is not None and documents.size(entity.trust_policy) > quotas.trust_policy_size:
                raise LimitExceededError(f"{where}: the trust policy is larger than {quotas.trust_policy_size} "
                                         "characters")
            if inline_sizes.get(entity.unique_id, 0) > quotas.inline_policy_size(entity.kind):
                raise LimitExceededError(f"{where}: its inline policies are larger than "
                                         f"{quotas.inline_policy_size(entity.kind)} characters together")
            if groups.get(entity.unique_id, 0) > quotas.groups_per_user:
                raise LimitExceededError(f"{where} is in more than {quotas.groups_per_user} groups")
            if attached.get(entity.unique_id, 0) > quotas.managed_policies_per(entity.kind):
                raise LimitExceededError(f"{where} has more than {quotas.managed_policies_per(entity.kind)} "
                                         "attached policies")

    def write(self, store: DirectoryStore, auditor: Auditor, clock: Clock) -> TenantRecord:
        # One "ImportTenant" record: the tenant, the first changes and counts of the rest.
        with audited_write(store, auditor, "ImportTenant", None, clock) as writer:
            if writer.get_tenant(self.tenant.tenant_id) is not None:
                raise EntityAlreadyExistsError(f"tenant {self.tenant.tenant_id} already exists")
            # Unique ids are unique in the whole store, not only in a tenant.
            taken = [unique_id for unique_id in [entity.unique_id for entity in self.entities] +
                     [policy.unique_id for policy in self.policies] if writer.unique_id_taken(unique_id)]
            if taken:
                raise EntityAlreadyExistsError(f"unique ids already in use in this store: {', '.join(taken[:5])}")
            writer.insert_tenant(self.tenant)
            for policy in self.policies:
                writer.insert_policy(policy)
            for version in self.versions:
                writer.insert_version(version)
            for entity in self.entities:
                writer.insert_entity(entity)
            for record in self.inline:
                writer.put_inline(record)
            for group_id, user_id in self.memberships:
                writer.add_member(group_id, user_id)
            for principal_id, policy_id in self.attachments:
                writer.attach(principal_id, policy_id)
        return self.tenant


def _bad(message: str) -> Any:
    raise InvalidInputError(message)


def import_tenant(store: DirectoryStore, document: object, *, quotas: Quotas | None = None,
                  allow_open_trust: bool = False, clock: Clock | None = None,
                  audit: Auditor | AuditSink | Iterable[AuditSink] | None = None) -> TenantRecord:
    """`quotas`, `allow_open_trust` and `audit` mean what they mean for `Directory`: give the
    values the exporting directory used if they differ from the defaults."""
    if isinstance(document, (str, bytes)):
        try:
            # A repeated member is refused: a reviewer reading the file and the import could
            # otherwise see different boundaries, attachments or tenants.
            document = json.loads(document, object_pairs_hook=unique_members)
        except ValueError as exc:
            raise InvalidInputError(f"the export is not JSON: {exc}") from None
        except RecursionError:  # arrays or objects nested beyond what the parser can follow (DOS-01)
            raise InvalidInputError("the export is not an iamguard tenant export: its JSON nests too deeply") \
                from None
    return _Import(document, quotas or DEFAULT_QUOTAS, allow_open_trust).write(
        store, as_auditor(audit), clock or SYSTEM_CLOCK)
