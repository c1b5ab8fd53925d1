"""IAM users: CreateUser, GetUser, ListUsers, UpdateUser, DeleteUser and their tags, boundary and
policies."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from iamguard.directory import validation as valid
from iamguard.directory.core import page_from_store, paginate
from iamguard.directory.errors import EntityAlreadyExistsError, LimitExceededError
from iamguard.directory.model import AttachedPolicy, Group, InlinePolicy, Page, Tag, User
from iamguard.directory.principals import PrincipalOperations
from iamguard.store.base import USER, EntityRecord


class UserOperations(PrincipalOperations):
    def create_user(self, user_name: str, path: str = "/", tags: Mapping[str, str] | Iterable[Any] | None = None,
                    permissions_boundary: str | None = None) -> User:
        name, checked_path, checked_tags = valid.user_name(user_name), valid.path(path), valid.tags(tags)
        if len(checked_tags) > self.quotas.tags_per_entity:
            raise LimitExceededError(f"a user can have at most {self.quotas.tags_per_entity} tags")
        with self._writing("CreateUser") as writer:
            if writer.get_entity(self.tenant_id, USER, name) is not None:
                raise EntityAlreadyExistsError(f"User with name {name} already exists.")
            boundary_id = self._boundary_id(writer, permissions_boundary) if permissions_boundary is not None \
                else None
            record = EntityRecord(self.tenant_id, USER, self._fresh_id(writer, USER), name, checked_path,
                                  self._now(), checked_tags, boundary_id)
            writer.insert_entity(record)
            return self._user(writer, record)

    def get_user(self, user_name: str) -> User:
        with self._reading() as reader:
            return self._user(reader, self._entity(reader, USER, user_name))

    def list_users(self, path_prefix: str = "/", marker: str | None = None, max_items: int = 100) -> Page[User]:
        prefix, after, limit = valid.path_prefix(path_prefix), valid.marker(marker), valid.max_items(max_items)
        with self._reading() as reader:
            records = reader.list_entities(self.tenant_id, USER, path_prefix=prefix, after=after, limit=limit + 1)
            chosen, truncated, next_marker = page_from_store(records, [self._key(r.name) for r in records], limit)
            return Page(tuple(self._user(reader, record) for record in chosen), truncated, next_marker)

    def update_user(self, user_name: str, new_user_name: str | None = None, new_path: str | None = None) -> User:
        """Rename and/or move a user. The unique id (and so everything bound to it) is kept, and trust
        policies that named the old ARN name the new one (as in IAM), so the freed name is trusted by
        none of them. Refused (LimitExceeded) if that would take a trust policy past its size quota."""
        name = valid.user_name(new_user_name, "NewUserName") if new_user_name is not None else None
        moved = valid.path(new_path, "NewPath") if new_path is not None else None
        with self._writing("UpdateUser") as writer:
            record = self._entity(writer, USER, user_name)
            if name is not None and self._key(name) != self._key(record.name) and \
                    writer.get_entity(self.tenant_id, USER, name) is not None:
                raise EntityAlreadyExistsError(f"User with name {name} already exists.")
            updated = replace(record, name=name if name is not None else record.name,
                              path=moved if moved is not None else record.path)
            if updated != record:
                writer.update_entity(updated)
                if self._arn(updated) != self._arn(record):  # trust follows the user, not its old ARN
                    self._replace_trusted(writer, self._arn(record), self._arn(updated))
            return self._user(writer, updated)

    def delete_user(self, user_name: str) -> None:
        """Refused (DeleteConflict) while the user has groups, policies, or credentials registered
        by other components (access keys, passwords, MFA devices)."""
        with self._writing("DeleteUser") as writer:
            self._delete_principal(writer, self._entity(writer, USER, user_name))

    def list_groups_for_user(self, user_name: str, marker: str | None = None, max_items: int = 100) -> Page[Group]:
        after, limit = valid.marker(marker), valid.max_items(max_items)
        with self._reading() as reader:
            groups = reader.groups_of(self._entity(reader, USER, user_name).unique_id)
        return paginate([self._group(group) for group in groups], [self._key(group.name) for group in groups],
                        after, limit)

    def tag_user(self, user_name: str, tags: Mapping[str, str] | Iterable[Any]) -> None:
        self._tag(USER, user_name, tags)

    def untag_user(self, user_name: str, tag_keys: Iterable[str]) -> None:
        self._untag(USER, user_name, tag_keys)

    def list_user_tags(self, user_name: str) -> tuple[Tag, ...]:
        return self._list_tags(USER, user_name)

    def put_user_permissions_boundary(self, user_name: str, permissions_boundary: str) -> None:
        self._put_boundary(USER, user_name, permissions_boundary)

    def delete_user_permissions_boundary(self, user_name: str) -> None:
        self._delete_boundary(USER, user_name)

    def attach_user_policy(self, user_name: str, policy_arn: str) -> None:
        self._attach(USER, user_name, policy_arn)

    def detach_user_policy(self, user_name: str, policy_arn: str) -> None:
        self._detach(USER, user_name, policy_arn)

    def list_attached_user_policies(self, user_name: str, path_prefix: str = "/", marker: str | None = None,
                                    max_items: int = 100) -> Page[AttachedPolicy]:
        return self._list_attached(USER, user_name, path_prefix, marker, max_items)

    def put_user_policy(self, user_name: str, policy_name: str, policy_document: Any) -> None:
        self._put_inline(USER, user_name, policy_name, policy_document)

    def get_user_policy(self, user_name: str, policy_name: str) -> InlinePolicy:
        return self._get_inline(USER, user_name, policy_name)

    def delete_user_policy(self, user_name: str, policy_name: str) -> None:
        self._delete_inline(USER, user_name, policy_name)

    def list_user_policies(self, user_name: str, marker: str | None = None, max_items: int = 100) -> Page[str]:
        return self._list_inline(USER, user_name, marker, max_items)
