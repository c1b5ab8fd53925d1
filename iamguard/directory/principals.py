"""Operations users, groups and roles share: tags, permissions boundaries, attached managed
policies and inline policies. The public methods (`attach_user_policy`, ...) are thin wrappers in
users.py, groups.py and roles.py."""

from __future__ import annotations

from dataclasses import replace

from iamguard.directory import documents
from iamguard.directory import validation as valid
from iamguard.directory.core import DirectoryCore, paginate
from iamguard.directory.errors import (
    DeleteConflictError,
    InvalidInputError,
    LimitExceededError,
    NoSuchEntityError,
)
from iamguard.directory.model import AttachedPolicy, InlinePolicy, Page, Tag
from iamguard.policy.model import PolicyKind
from iamguard.store.base import GROUP, ROLE, USER, DirectoryReader, DirectoryWriter, EntityRecord, InlineRecord


class PrincipalOperations(DirectoryCore):
    # tags (users and roles)

    def _tag(self, kind: str, name: object, tags: object) -> None:
        added = valid.tags(tags)
        if not added:
            raise InvalidInputError("Tags must list at least one tag")
        with self._writing(f"Tag{self._title(kind)}") as writer:
            record = self._entity(writer, kind, name)
            merged = valid.merge_tags(record.tags, added, self.quotas.tags_per_entity)
            writer.update_entity(replace(record, tags=merged))

    def _untag(self, kind: str, name: object, tag_keys: object) -> None:
        removed = {key.lower() for key in valid.tag_keys(tag_keys)}
        with self._writing(f"Untag{self._title(kind)}") as writer:
            record = self._entity(writer, kind, name)
            kept = tuple((key, value) for key, value in record.tags if key.lower() not in removed)
            if kept != record.tags:
                writer.update_entity(replace(record, tags=kept))

    def _list_tags(self, kind: str, name: object) -> tuple[Tag, ...]:
        with self._reading() as reader:
            record = self._entity(reader, kind, name)
        return tuple(Tag(key, value) for key, value in record.tags)

    # permissions boundaries (users and roles)

    def _put_boundary(self, kind: str, name: object, boundary_arn: object) -> None:
        with self._writing(f"Put{self._title(kind)}PermissionsBoundary") as writer:
            record = self._entity(writer, kind, name)
            boundary_id = self._boundary_id(writer, boundary_arn)
            if boundary_id != record.boundary_id:
                writer.update_entity(replace(record, boundary_id=boundary_id))

    def _delete_boundary(self, kind: str, name: object) -> None:
        with self._writing(f"Delete{self._title(kind)}PermissionsBoundary") as writer:
            record = self._entity(writer, kind, name)
            if record.boundary_id is not None:
                writer.update_entity(replace(record, boundary_id=None))

    # attached managed policies

    def _attach(self, kind: str, name: object, policy_arn: object) -> None:
        with self._writing(f"Attach{self._title(kind)}Policy") as writer:
            record = self._entity(writer, kind, name)
            policy = self._policy(writer, policy_arn)
            attached = writer.attached_policies(record.unique_id)
            if any(item.unique_id == policy.unique_id for item in attached):
                return  # IAM: attaching an attached policy succeeds and changes nothing
            limit = self.quotas.managed_policies_per(kind)
            if len(attached) >= limit:
                raise LimitExceededError(f"Cannot exceed quota for PoliciesPer{self._title(kind)}: {limit}")
            writer.attach(record.unique_id, policy.unique_id)

    def _detach(self, kind: str, name: object, policy_arn: object) -> None:
        with self._writing(f"Detach{self._title(kind)}Policy") as writer:
            record = self._entity(writer, kind, name)
            policy = self._policy(writer, policy_arn)
            if not any(item.unique_id == policy.unique_id for item in writer.attached_policies(record.unique_id)):
                raise NoSuchEntityError(f"Policy {policy_arn} was not found attached to {kind} {record.name}.")
            writer.detach(record.unique_id, policy.unique_id)

    def _list_attached(self, kind: str, name: object, path_prefix: object, marker: object,
                       max_items: object) -> Page[AttachedPolicy]:
        prefix, after, limit = valid.path_prefix(path_prefix), valid.marker(marker), valid.max_items(max_items)
        with self._reading() as reader:
            record = self._entity(reader, kind, name)
            policies = [policy for policy in reader.attached_policies(record.unique_id)
                        if policy.path.startswith(prefix)]
        items = [AttachedPolicy(policy.name, self._policy_arn(policy)) for policy in policies]
        return paginate(items, [self._key(policy.name) for policy in policies], after, limit)

    # inline policies

    def _put_inline(self, kind: str, name: object, policy_name: object, policy_document: object) -> None:
        checked_name = valid.policy_name(policy_name)
        quota = self.quotas.inline_policy_size(kind)
        text, _ = documents.validated(policy_document, PolicyKind.IDENTITY, limit=quota,
                                      what=f"inline policy {checked_name}")
        with self._writing(f"Put{self._title(kind)}Policy") as writer:
            record = self._entity(writer, kind, name)
            others = sum(documents.size(policy.document) for policy in writer.list_inline(record.unique_id)
                         if self._key(policy.name) != self._key(checked_name))
            total = others + documents.size(text)
            if total > quota:
                raise LimitExceededError(f"Maximum policy size of {quota} characters exceeded for {kind} "
                                         f"{record.name}: its inline policies would have {total}")
            writer.put_inline(InlineRecord(record.unique_id, checked_name, text))

    def _get_inline(self, kind: str, name: object, policy_name: object) -> InlinePolicy:
        checked_name = valid.policy_name(policy_name)
        with self._reading() as reader:
            record = self._entity(reader, kind, name)
            inline = reader.get_inline(record.unique_id, checked_name)
        if inline is None:
            raise NoSuchEntityError(f"The {kind} policy with name {checked_name} cannot be found.")
        return InlinePolicy(record.name, inline.name, inline.document)

    def _delete_inline(self, kind: str, name: object, policy_name: object) -> None:
        checked_name = valid.policy_name(policy_name)
        with self._writing(f"Delete{self._title(kind)}Policy") as writer:
            record = self._entity(writer, kind, name)
            if writer.get_inline(record.unique_id, checked_name) is None:
                raise NoSuchEntityError(f"The {kind} policy with name {checked_name} cannot be found.")
            writer.delete_inline(record.unique_id, checked_name)

    def _list_inline(self, kind: str, name: object, marker: object, max_items: object) -> Page[str]:
        after, limit = valid.marker(marker), valid.max_items(max_items)
        with self._reading() as reader:
            record = self._entity(reader, kind, name)
            names = [policy.name for policy in reader.list_inline(record.unique_id)]
        return paginate(names, [self._key(item) for item in names], after, limit)

    # deletion

    def _delete_principal(self, writer: DirectoryWriter, record: EntityRecord) -> None:
        """Delete a user or role, and write its unique id for its ARN in the tenant's trust policies.

        IAM keeps a principal's unique id in a trust policy and shows it as the ARN while the
        principal lives; once deleted, the id stays, so a user or role recreated under the same
        name is not trusted (security spec ROLE-04). `iamguard.policy.arn.PRINCIPAL_ID` matches
        no request."""
        self._refuse_if_dependents(writer, record)
        writer.delete_entity(record.unique_id)
        self._replace_trusted(writer, self._arn(record), record.unique_id)

    def _replace_trusted(self, writer: DirectoryWriter, old: str, new: str) -> None:
        """Write `new` for the AWS principal `old` in every trust policy of the tenant. Used when a
        principal is deleted (`new` is its unique id) and when a user is renamed or moved (`new` is
        its new ARN: IAM's trust follows the unique id, so the freed name is trusted no more).
        A longer ARN must not take a trust policy past its quota (an export must stay importable)."""
        limit = self.quotas.trust_policy_size
        for role in writer.list_entities(self.tenant_id, ROLE):
            if role.trust_policy is None:
                continue
            try:
                rewritten = documents.principal_replaced(role.trust_policy, old, new)
            except ValueError:  # a damaged document: it grants no one (it cannot be evaluated) until replaced
                continue
            if rewritten == role.trust_policy:
                continue
            if documents.size(rewritten) > max(limit, documents.size(role.trust_policy)):
                raise LimitExceededError(f"the trust policy of role {role.name} names {old}; written as {new} it "
                                         f"would have more than {limit} characters")
            writer.update_entity(replace(role, trust_policy=rewritten))

    def _refuse_if_dependents(self, reader: DirectoryReader, record: EntityRecord) -> None:
        """IAM refuses to delete a principal that still has anything attached to it."""
        found: list[str] = []
        if record.kind == USER:
            groups = reader.groups_of(record.unique_id)
            if groups:
                found.append("groups: " + ", ".join(group.name for group in groups))
        if record.kind == GROUP:
            members = reader.members_of(record.unique_id)
            if members:
                found.append("members: " + ", ".join(user.name for user in members))
        attached = reader.attached_policies(record.unique_id)
        if attached:
            found.append("attached policies: " + ", ".join(self._policy_arn(policy) for policy in attached))
        inline = reader.list_inline(record.unique_id)
        if inline:
            found.append("inline policies: " + ", ".join(policy.name for policy in inline))
        found.extend(self.store.dependents(record.kind, self.tenant_id, record.unique_id))
        if found:
            raise DeleteConflictError(f"Cannot delete {record.kind} {record.name}, it still has dependents", found)

