"""Customer managed policies and their versions, with IAM's rules: versions v1..vN (ids never
reused), at most five kept, one default; the default version cannot be deleted; a policy that is
attached anywhere or used as a permissions boundary cannot be deleted."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from iamguard.directory import documents
from iamguard.directory import validation as valid
from iamguard.directory.core import page_from_store, paginate
from iamguard.directory.errors import (
    DeleteConflictError,
    EntityAlreadyExistsError,
    LimitExceededError,
    MalformedPolicyDocumentError,
)
from iamguard.directory.model import ManagedPolicy, Page, PolicyEntities, PolicyVersion
from iamguard.directory.principals import PrincipalOperations
from iamguard.errors import Finding
from iamguard.policy.model import PolicyKind
from iamguard.store.base import GROUP, ROLE, USER, PolicyRecord, VersionRecord


class PolicyOperations(PrincipalOperations):
    def _managed_document(self, source: object) -> str:
        text, policy = documents.validated(source, PolicyKind.IDENTITY, limit=self.quotas.managed_policy_size,
                                           what="PolicyDocument")
        # IAM's CreatePolicy and CreatePolicyVersion take only the current language (policy
        # variables on); inline policies may still omit Version or name 2008-10-17.
        if not policy.document.variables_enabled:
            raise MalformedPolicyDocumentError("Policy document must be version 2012-10-17 or greater", [Finding(
                "/Version", "a managed policy must say \"Version\": \"2012-10-17\"", "InvalidVersion")])
        return text

    def create_policy(self, policy_name: str, policy_document: Any, path: str = "/",
                      description: str = "") -> ManagedPolicy:
        name, checked_path = valid.policy_name(policy_name), valid.path(path)
        checked_description = valid.description(description)
        text = self._managed_document(policy_document)
        with self._writing("CreatePolicy") as writer:
            if writer.get_policy(self.tenant_id, name) is not None:
                raise EntityAlreadyExistsError(f"A policy called {name} already exists. Duplicate names are not "
                                               "allowed.")
            now = self._now()
            record = PolicyRecord(self.tenant_id, self._fresh_id(writer, "policy"), name, checked_path, now, now,
                                  checked_description, "v1", 2)
            writer.insert_policy(record)
            writer.insert_version(VersionRecord(record.unique_id, "v1", text, now))
            return self._managed(writer, record)

    def get_policy(self, policy_arn: str) -> ManagedPolicy:
        with self._reading() as reader:
            return self._managed(reader, self._policy(reader, policy_arn))

    def list_policies(self, only_attached: bool = False, path_prefix: str = "/", marker: str | None = None,
                      max_items: int = 100) -> Page[ManagedPolicy]:
        """The tenant's managed policies (iamguard has no AWS managed policies: scope is Local)."""
        attached_only = valid.as_bool(only_attached, "OnlyAttached")
        prefix, after, limit = valid.path_prefix(path_prefix), valid.marker(marker), valid.max_items(max_items)
        with self._reading() as reader:
            if attached_only:
                records = reader.list_policies(self.tenant_id, path_prefix=prefix)
                policies = [policy for policy in (self._managed(reader, record) for record in records)
                            if policy.attachment_count > 0]
                return paginate(policies, [self._key(policy.policy_name) for policy in policies], after, limit)
            records = reader.list_policies(self.tenant_id, path_prefix=prefix, after=after, limit=limit + 1)
            chosen, truncated, next_marker = page_from_store(records, [self._key(r.name) for r in records], limit)
            return Page(tuple(self._managed(reader, record) for record in chosen), truncated, next_marker)

    def delete_policy(self, policy_arn: str) -> None:
        """Refused (DeleteConflict) while the policy is attached, used as a permissions boundary,
        or has versions other than the default (delete those first, as in IAM)."""
        with self._writing("DeletePolicy") as writer:
            record = self._policy(writer, policy_arn)
            found = [f"attached to {entity.kind} {entity.name}"
                     for entity in writer.attached_principals(record.unique_id)]
            found += [f"permissions boundary of {entity.kind} {entity.name}"
                      for entity in writer.boundary_principals(record.unique_id)]
            others = [version.version_id for version in writer.list_versions(record.unique_id)
                      if version.version_id != record.default_version]
            if others:
                found.append("non-default versions: " + ", ".join(others))
            found += self.store.dependents("policy", self.tenant_id, record.unique_id)
            if found:
                raise DeleteConflictError(f"Cannot delete policy {policy_arn}", found)
            writer.delete_policy(record.unique_id)

    def create_policy_version(self, policy_arn: str, policy_document: Any,
                              set_as_default: bool = False) -> PolicyVersion:
        make_default = valid.as_bool(set_as_default, "SetAsDefault")
        text = self._managed_document(policy_document)
        with self._writing("CreatePolicyVersion") as writer:
            record = self._policy(writer, policy_arn)
            limit = self.quotas.versions_per_policy
            if len(writer.list_versions(record.unique_id)) >= limit:
                raise LimitExceededError(f"A managed policy can have up to {limit} versions. Before you create a "
                                         "new version, you must delete an existing version.")
            if record.next_version > valid.MAX_VERSION_NUMBER:  # one more id would not be a VersionId
                raise LimitExceededError("the policy has used every version id up to "
                                         f"v{valid.MAX_VERSION_NUMBER}; create a new policy")
            now = self._now()
            version = VersionRecord(record.unique_id, f"v{record.next_version}", text, now)
            writer.insert_version(version)
            updated = replace(record, next_version=record.next_version + 1)
            if make_default:
                updated = replace(updated, default_version=version.version_id, updated=now)
            writer.update_policy(updated)
            return self._policy_version(version, updated)

    def get_policy_version(self, policy_arn: str, version_id: str) -> PolicyVersion:
        with self._reading() as reader:
            record = self._policy(reader, policy_arn)
            return self._policy_version(self._version(reader, record, version_id), record)

    def list_policy_versions(self, policy_arn: str, marker: str | None = None,
                             max_items: int = 100) -> Page[PolicyVersion]:
        after, limit = valid.marker(marker), valid.max_items(max_items)
        with self._reading() as reader:
            record = self._policy(reader, policy_arn)
            versions = reader.list_versions(record.unique_id)
        # Markers must sort like the list: zero-pad the version number.
        return paginate([self._policy_version(version, record) for version in versions],
                        [f"{version.number:010d}" for version in versions], after, limit)

    def set_default_policy_version(self, policy_arn: str, version_id: str) -> None:
        with self._writing("SetDefaultPolicyVersion") as writer:
            record = self._policy(writer, policy_arn)
            version = self._version(writer, record, version_id)
            if version.version_id != record.default_version:
                writer.update_policy(replace(record, default_version=version.version_id, updated=self._now()))

    def delete_policy_version(self, policy_arn: str, version_id: str) -> None:
        with self._writing("DeletePolicyVersion") as writer:
            record = self._policy(writer, policy_arn)
            version = self._version(writer, record, version_id)
            if version.version_id == record.default_version:
                raise DeleteConflictError("Cannot delete the default version of a policy.")
            writer.delete_version(record.unique_id, version.version_id)

    def list_entities_for_policy(self, policy_arn: str) -> PolicyEntities:
        with self._reading() as reader:
            attached = reader.attached_principals(self._policy(reader, policy_arn).unique_id)

        def names(kind: str) -> tuple[str, ...]:
            return tuple(entity.name for entity in attached if entity.kind == kind)

        return PolicyEntities(names(USER), names(GROUP), names(ROLE))
