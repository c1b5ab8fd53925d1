"""IAM groups and their members: CreateGroup, GetGroup, ListGroups, UpdateGroup, DeleteGroup,
AddUserToGroup, RemoveUserFromGroup, and the group's policies."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from iamguard.directory import validation as valid
from iamguard.directory.core import page_from_store, paginate
from iamguard.directory.errors import EntityAlreadyExistsError, LimitExceededError, NoSuchEntityError
from iamguard.directory.model import AttachedPolicy, Group, GroupDetail, InlinePolicy, Page
from iamguard.directory.principals import PrincipalOperations
from iamguard.store.base import GROUP, USER, EntityRecord


class GroupOperations(PrincipalOperations):
    def create_group(self, group_name: str, path: str = "/") -> Group:
        name, checked_path = valid.group_name(group_name), valid.path(path)
        with self._writing("CreateGroup") as writer:
            if writer.get_entity(self.tenant_id, GROUP, name) is not None:
                raise EntityAlreadyExistsError(f"Group with name {name} already exists.")
            record = EntityRecord(self.tenant_id, GROUP, self._fresh_id(writer, GROUP), name, checked_path,
                                  self._now())
            writer.insert_entity(record)
        return self._group(record)

    def get_group(self, group_name: str, marker: str | None = None, max_items: int = 100) -> GroupDetail:
        """The group and one page of its members."""
        after, limit = valid.marker(marker), valid.max_items(max_items)
        with self._reading() as reader:
            record = self._entity(reader, GROUP, group_name)
            members = reader.members_of(record.unique_id)
            page = paginate([self._user(reader, user) for user in members],
                            [self._key(user.name) for user in members], after, limit)
        return GroupDetail(self._group(record), page.items, page.is_truncated, page.marker)

    def list_groups(self, path_prefix: str = "/", marker: str | None = None, max_items: int = 100) -> Page[Group]:
        prefix, after, limit = valid.path_prefix(path_prefix), valid.marker(marker), valid.max_items(max_items)
        with self._reading() as reader:
            records = reader.list_entities(self.tenant_id, GROUP, path_prefix=prefix, after=after, limit=limit + 1)
        chosen, truncated, next_marker = page_from_store(records, [self._key(r.name) for r in records], limit)
        return Page(tuple(self._group(record) for record in chosen), truncated, next_marker)

    def update_group(self, group_name: str, new_group_name: str | None = None, new_path: str | None = None) -> Group:
        name = valid.group_name(new_group_name, "NewGroupName") if new_group_name is not None else None
        moved = valid.path(new_path, "NewPath") if new_path is not None else None
        with self._writing("UpdateGroup") as writer:
            record = self._entity(writer, GROUP, group_name)
            if name is not None and self._key(name) != self._key(record.name) and \
                    writer.get_entity(self.tenant_id, GROUP, name) is not None:
                raise EntityAlreadyExistsError(f"Group with name {name} already exists.")
            updated = replace(record, name=name if name is not None else record.name,
                              path=moved if moved is not None else record.path)
            if updated != record:
                writer.update_entity(updated)
        return self._group(updated)

    def delete_group(self, group_name: str) -> None:
        """Refused (DeleteConflict) while the group has members or policies."""
        with self._writing("DeleteGroup") as writer:
            record = self._entity(writer, GROUP, group_name)
            self._refuse_if_dependents(writer, record)
            writer.delete_entity(record.unique_id)

    def add_user_to_group(self, group_name: str, user_name: str) -> None:
        with self._writing("AddUserToGroup") as writer:
            group = self._entity(writer, GROUP, group_name)
            user = self._entity(writer, USER, user_name)
            groups = writer.groups_of(user.unique_id)
            if any(item.unique_id == group.unique_id for item in groups):
                return  # IAM: adding a member again succeeds and changes nothing
            if len(groups) >= self.quotas.groups_per_user:
                raise LimitExceededError(f"Cannot exceed quota for GroupsPerUser: {self.quotas.groups_per_user}")
            writer.add_member(group.unique_id, user.unique_id)

    def remove_user_from_group(self, group_name: str, user_name: str) -> None:
        with self._writing("RemoveUserFromGroup") as writer:
            group = self._entity(writer, GROUP, group_name)
            user = self._entity(writer, USER, user_name)
            if not any(item.unique_id == group.unique_id for item in writer.groups_of(user.unique_id)):
                raise NoSuchEntityError(f"User {user.name} is not in group {group.name}.")
            writer.remove_member(group.unique_id, user.unique_id)

    def attach_group_policy(self, group_name: str, policy_arn: str) -> None:
        self._attach(GROUP, group_name, policy_arn)

    def detach_group_policy(self, group_name: str, policy_arn: str) -> None:
        self._detach(GROUP, group_name, policy_arn)

    def list_attached_group_policies(self, group_name: str, path_prefix: str = "/", marker: str | None = None,
                                     max_items: int = 100) -> Page[AttachedPolicy]:
        return self._list_attached(GROUP, group_name, path_prefix, marker, max_items)

    def put_group_policy(self, group_name: str, policy_name: str, policy_document: Any) -> None:
        self._put_inline(GROUP, group_name, policy_name, policy_document)

    def get_group_policy(self, group_name: str, policy_name: str) -> InlinePolicy:
        return self._get_inline(GROUP, group_name, policy_name)

    def delete_group_policy(self, group_name: str, policy_name: str) -> None:
        self._delete_inline(GROUP, group_name, policy_name)

    def list_group_policies(self, group_name: str, marker: str | None = None, max_items: int = 100) -> Page[str]:
        return self._list_inline(GROUP, group_name, marker, max_items)
