"""IAM roles: CreateRole, GetRole, ListRoles, UpdateRole, UpdateAssumeRolePolicy, DeleteRole and
their tags, boundary and policies.

The trust (assume-role) policy is validated as a trust policy. By default a trust statement that
lets anyone assume the role with no Condition is refused (security spec ROLE-01); construct the
Directory with `allow_open_trust=True` to accept it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from iamguard.directory import documents
from iamguard.directory import validation as valid
from iamguard.directory.core import page_from_store
from iamguard.directory.errors import EntityAlreadyExistsError, LimitExceededError, MalformedPolicyDocumentError
from iamguard.directory.model import AttachedPolicy, InlinePolicy, Page, Role, Tag
from iamguard.directory.principals import PrincipalOperations
from iamguard.engine.compiler import Policy
from iamguard.errors import Finding, join_pointer
from iamguard.policy.arn import read_principal
from iamguard.policy.model import PolicyKind
from iamguard.store.base import ROLE, USER, DirectoryReader, EntityRecord


class RoleOperations(PrincipalOperations):
    def _trust_policy(self, source: object) -> tuple[str, Policy]:
        text, policy = documents.validated(source, PolicyKind.TRUST, limit=self.quotas.trust_policy_size,
                                           what="AssumeRolePolicyDocument")
        if not self.allow_open_trust:
            findings = documents.open_trust_findings(policy)
            if findings:
                raise MalformedPolicyDocumentError("AssumeRolePolicyDocument trusts everyone", findings)
        return text, policy

    def _refuse_unknown_principals(self, reader: DirectoryReader, policy: Policy) -> None:
        """IAM refuses a trust policy that names a user or role of its own account that does not
        exist ("Invalid principal in policy"): the name would trust whoever takes it later (security
        spec ROLE-04). Deleting or renaming a principal rewrites the trust policies that name it, so
        a stored name always means the principal it was written for."""
        findings = []
        for statement in policy.document.statements:
            clause = statement.principal
            if clause is None:
                continue
            for entry in clause.entries:
                named = read_principal(entry.value) if entry.type == "AWS" else None
                if named is None or named.kind not in (USER, ROLE) or \
                        (named.partition, named.account) != (self.partition, self.tenant_id):
                    continue  # not a user or role of this tenant: not the directory's to check
                record = reader.get_entity(self.tenant_id, named.kind, named.name)
                if record is None or self._arn(record) != entry.value:
                    element = "NotPrincipal" if clause.negated else "Principal"
                    findings.append(Finding(join_pointer(join_pointer(statement.pointer, element), "AWS"),
                                            f"{entry.value} names no {named.kind} of this tenant", "InvalidPrincipal"))
        if findings:
            raise MalformedPolicyDocumentError("Invalid principal in policy", findings)

    def create_role(self, role_name: str, assume_role_policy_document: Any, path: str = "/",
                    description: str = "", max_session_duration: int = 3600,
                    permissions_boundary: str | None = None,
                    tags: Mapping[str, str] | Iterable[Any] | None = None) -> Role:
        name, checked_path = valid.role_name(role_name), valid.path(path)
        checked_description = valid.description(description)
        duration = valid.session_duration(max_session_duration)
        checked_tags = valid.tags(tags)
        if len(checked_tags) > self.quotas.tags_per_entity:
            raise LimitExceededError(f"a role can have at most {self.quotas.tags_per_entity} tags")
        trust, trust_policy = self._trust_policy(assume_role_policy_document)
        with self._writing("CreateRole") as writer:
            if writer.get_entity(self.tenant_id, ROLE, name) is not None:
                raise EntityAlreadyExistsError(f"Role with name {name} already exists.")
            self._refuse_unknown_principals(writer, trust_policy)
            boundary_id = self._boundary_id(writer, permissions_boundary) if permissions_boundary is not None \
                else None
            record = EntityRecord(self.tenant_id, ROLE, self._fresh_id(writer, ROLE), name, checked_path,
                                  self._now(), checked_tags, boundary_id, trust, checked_description, duration)
            writer.insert_entity(record)
            return self._role(writer, record)

    def get_role(self, role_name: str) -> Role:
        with self._reading() as reader:
            return self._role(reader, self._entity(reader, ROLE, role_name))

    def list_roles(self, path_prefix: str = "/", marker: str | None = None, max_items: int = 100) -> Page[Role]:
        prefix, after, limit = valid.path_prefix(path_prefix), valid.marker(marker), valid.max_items(max_items)
        with self._reading() as reader:
            records = reader.list_entities(self.tenant_id, ROLE, path_prefix=prefix, after=after, limit=limit + 1)
            chosen, truncated, next_marker = page_from_store(records, [self._key(r.name) for r in records], limit)
            return Page(tuple(self._role(reader, record) for record in chosen), truncated, next_marker)

    def update_role(self, role_name: str, description: str | None = None,
                    max_session_duration: int | None = None) -> Role:
        checked_description = valid.description(description) if description is not None else None
        duration = valid.session_duration(max_session_duration) if max_session_duration is not None else None
        with self._writing("UpdateRole") as writer:
            record = self._entity(writer, ROLE, role_name)
            updated = replace(
                record,
                description=checked_description if checked_description is not None else record.description,
                max_session_duration=duration if duration is not None else record.max_session_duration,
            )
            if updated != record:
                writer.update_entity(updated)
            return self._role(writer, updated)

    def update_assume_role_policy(self, role_name: str, policy_document: Any) -> None:
        """Replace the trust policy. Sessions already issued are not revoked by this (as in AWS)."""
        trust, trust_policy = self._trust_policy(policy_document)
        with self._writing("UpdateAssumeRolePolicy") as writer:
            record = self._entity(writer, ROLE, role_name)
            self._refuse_unknown_principals(writer, trust_policy)
            if trust != record.trust_policy:
                writer.update_entity(replace(record, trust_policy=trust))

    def delete_role(self, role_name: str) -> None:
        """Refused (DeleteConflict) while the role has policies, or dependents registered by other
        components."""
        with self._writing("DeleteRole") as writer:
            self._delete_principal(writer, self._entity(writer, ROLE, role_name))

    def tag_role(self, role_name: str, tags: Mapping[str, str] | Iterable[Any]) -> None:
        self._tag(ROLE, role_name, tags)

    def untag_role(self, role_name: str, tag_keys: Iterable[str]) -> None:
        self._untag(ROLE, role_name, tag_keys)

    def list_role_tags(self, role_name: str) -> tuple[Tag, ...]:
        return self._list_tags(ROLE, role_name)

    def put_role_permissions_boundary(self, role_name: str, permissions_boundary: str) -> None:
        self._put_boundary(ROLE, role_name, permissions_boundary)

    def delete_role_permissions_boundary(self, role_name: str) -> None:
        self._delete_boundary(ROLE, role_name)

    def attach_role_policy(self, role_name: str, policy_arn: str) -> None:
        self._attach(ROLE, role_name, policy_arn)

    def detach_role_policy(self, role_name: str, policy_arn: str) -> None:
        self._detach(ROLE, role_name, policy_arn)

    def list_attached_role_policies(self, role_name: str, path_prefix: str = "/", marker: str | None = None,
                                    max_items: int = 100) -> Page[AttachedPolicy]:
        return self._list_attached(ROLE, role_name, path_prefix, marker, max_items)

    def put_role_policy(self, role_name: str, policy_name: str, policy_document: Any) -> None:
        self._put_inline(ROLE, role_name, policy_name, policy_document)

    def get_role_policy(self, role_name: str, policy_name: str) -> InlinePolicy:
        return self._get_inline(ROLE, role_name, policy_name)

    def delete_role_policy(self, role_name: str, policy_name: str) -> None:
        self._delete_inline(ROLE, role_name, policy_name)

    def list_role_policies(self, role_name: str, marker: str | None = None, max_items: int = 100) -> Page[str]:
        return self._list_inline(ROLE, role_name, marker, max_items)
