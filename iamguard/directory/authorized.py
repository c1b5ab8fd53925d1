"""An IAM-authorized face of the directory: every call is first authorized for a caller the way AWS
authorizes IAM API calls (security spec ESC-01..06).

`Directory` itself is a trusted administrative API. `AuthorizedDirectory` (from
`Directory.acting_as(caller_arn, context)`) offers the same methods, but each one is first decided
with `Directory.authorize(caller_arn, "iam:<ApiName>", <target ARN>, context)` and performed only
when that decision allows it; otherwise `AccessDeniedError` (IAM's AccessDenied, HTTP 403) is
raised and nothing changes.

The request context carries the keys IAM defines for these calls, filled here from the request and
from the stored target, never from the caller: `iam:PolicyARN` (attach/detach), `iam:PermissionsBoundary`
(the boundary being set, or the target's current one), `aws:RequestTag/<key>` and `aws:TagKeys`
(tags being written or removed) and `aws:ResourceTag/<key>` (tags the target user or role already
has). The caller's own context (aws:SourceIp, aws:MultiFactorAuthPresent, ...) is merged in, but
any key in those namespaces it carries is dropped, so a request cannot claim a boundary it does
not set.

A mutation's decision and the change run in one store transaction (`Directory.batch()`), so the
tags, boundary and path the decision saw are those the change applies to. Refusals are recorded
on the directory's auditor as Deny records.
"""

from __future__ import annotations

import contextlib
import functools
import secrets
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeVar, cast

from iamguard.audit import EXPLICIT_DENY, IMPLICIT_DENY, AuditRecord
from iamguard.directory import validation as valid
from iamguard.directory.arns import entity_arn, parse_iam_arn
from iamguard.directory.auditing import acting_for
from iamguard.directory.errors import IamError, NoSuchEntityError
from iamguard.directory.model import (
    AttachedPolicy,
    Group,
    GroupDetail,
    InlinePolicy,
    ManagedPolicy,
    Page,
    PolicyEntities,
    PolicyVersion,
    Role,
    Tag,
    User,
)
from iamguard.directory.simulation import SimulationResult
from iamguard.engine.context import Request
from iamguard.engine.decision import Decision, Effect

if TYPE_CHECKING:
    from iamguard.directory.directory import Directory

POLICY_ARN_KEY = "iam:PolicyARN"
PERMISSIONS_BOUNDARY_KEY = "iam:PermissionsBoundary"
TAG_KEYS_KEY = "aws:TagKeys"
REQUEST_TAG_PREFIX = "aws:RequestTag/"
RESOURCE_TAG_PREFIX = "aws:ResourceTag/"
# IAM's own spelling of the same key for users and roles (the service authorization reference lists
# both): a Deny written with it must see the tags too.
IAM_RESOURCE_TAG_PREFIX = "iam:ResourceTag/"

# Namespaces whose keys describe the IAM request itself: only this module fills them. A caller's
# value for any of them is dropped (names ignore case, as in IAM).
_FILLED_PREFIXES = ("iam:", REQUEST_TAG_PREFIX.lower(), RESOURCE_TAG_PREFIX.lower())
_FILLED_KEYS = frozenset({TAG_KEYS_KEY.lower()})

# Actions on an existing user or role for which IAM sets iam:PermissionsBoundary to the target's
# current boundary (the AWS service authorization reference), so a delegate can be limited to
# principals that carry a given boundary.
_CURRENT_BOUNDARY_ACTIONS = frozenset({
    "AttachUserPolicy", "DetachUserPolicy", "PutUserPolicy", "DeleteUserPolicy", "DeleteUserPermissionsBoundary",
    "AttachRolePolicy", "DetachRolePolicy", "PutRolePolicy", "DeleteRolePolicy", "DeleteRolePermissionsBoundary",
})

_SHOWN_LIMIT = 300


class AccessDeniedError(IamError):
    """The caller's policies do not allow this IAM call on this resource. Nothing was changed.

    The message names the caller, the action and the resource, as IAM's does, and nothing about
    the policies; `decision` holds the full decision for the application's own logs."""

    code = "AccessDenied"
    status = 403

    def __init__(self, caller_arn: object, action: object, resource: object,
                 decision: Decision | None = None) -> None:
        self.caller_arn = _shown(caller_arn)
        self.action = _shown(action)
        self.resource = _shown(resource)
        self.decision = decision
        super().__init__(f"User: {self.caller_arn} is not authorized to perform: {self.action} on resource: "
                         f"{self.resource}")


def _shown(value: object) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= _SHOWN_LIMIT else text[:_SHOWN_LIMIT - 3] + "..."


def _filled_here(key: object) -> bool:
    if not isinstance(key, str):
        return False
    lowered = key.lower()
    return lowered in _FILLED_KEYS or lowered.startswith(_FILLED_PREFIXES)


def iam_call_context(context: Mapping[str, Any] | None, request_keys: Mapping[str, Any] | None) -> dict[str, Any]:
    """The caller's context without any key of the IAM request's own namespaces, plus
    `request_keys` (the keys iamguard fills for this call)."""
    if context is not None and not isinstance(context, Mapping):
        raise TypeError(f"context must be a mapping of condition keys to values, not {type(context).__name__}")
    merged = {key: value for key, value in (context or {}).items() if not _filled_here(key)}
    merged.update(request_keys or {})
    return merged


def authorize_iam_call(
    directory: Directory,
    caller_arn: str,
    action: str,
    resource: str,
    context: Mapping[str, Any] | None = None,
    *,
    request_keys: Mapping[str, Any] | None = None,
    shown_resource: str | None = None,
) -> Decision:
    """Authorize one IAM call (`action` like "iam:CreateAccessKey") by a stored user or role on
    `resource` (the target's ARN). Returns the allowing decision; raises AccessDeniedError (and
    records a Deny on the directory's auditor) otherwise, including when anything goes wrong.

    `context` is the caller's request context (aws:SourceIp, aws:MultiFactorAuthPresent, ...);
    its iam:*, aws:RequestTag/*, aws:ResourceTag/* and aws:TagKeys keys are dropped. `request_keys`
    are the keys the application fills for this call from the request and the stored target
    (for example {"aws:ResourceTag/team": "ops"}); they are trusted as given. The caller's own keys
    (aws:username, aws:PrincipalTag/*, ...) come from the directory, as in `Directory.authorize`.
    `shown_resource`, when given, is the resource the AccessDeniedError names instead of `resource`
    (the Deny audit record and `error.decision` keep `resource`).
    """
    try:
        merged = iam_call_context(context, request_keys)
        decision = directory.authorize(caller_arn, action, resource, merged)
    except Exception as exc:  # a fault is a refusal, never a pass
        decision = Decision(Effect.EXPLICIT_DENY, Request(_shown(caller_arn), _shown(action), _shown(resource), {}),
                            error=f"{type(exc).__name__}: {exc}")
    if decision.allowed:
        return decision
    _record_denial(directory, caller_arn, action, resource, decision)
    raise AccessDeniedError(caller_arn, action, resource if shown_resource is None else shown_resource, decision)


def _record_denial(directory: Directory, caller_arn: object, action: object, resource: object,
                   decision: Decision) -> None:
    # A refusal stands whether or not it could be recorded; a failing sink is reported by the
    # auditor itself on the iamguard.audit.failure logger.
    with contextlib.suppress(Exception):
        auditor = directory.auditor
        if not auditor.wants("Deny"):
            return
        event = _shown(action).partition(":")[2] or _shown(action)
        auditor.emit(AuditRecord(
            time=directory.clock.now(),
            request_id=f"iam-{secrets.token_hex(8)}",
            effect="Deny",
            reason=IMPLICIT_DENY if decision.effect is Effect.IMPLICIT_DENY else EXPLICIT_DENY,
            status=AccessDeniedError.status,
            principal=_shown(caller_arn),
            action=_shown(action),
            resource=_shown(resource),
            statements=tuple(str(ref) for ref in decision.statements),
            detail=f"{event} denied",
            extra={"component": "directory", "event": event, "outcome": "denied", "tenant": directory.tenant_id},
        ))


# context keys of the request and of its target

def request_tag_keys(tags: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """aws:RequestTag/<key> for each tag written, and aws:TagKeys listing their keys (absent when
    no tag is written, as in IAM)."""
    pairs = list(tags)
    if not pairs:
        return {}
    keys: dict[str, Any] = {f"{REQUEST_TAG_PREFIX}{key}": value for key, value in pairs}
    keys[TAG_KEYS_KEY] = [key for key, _ in pairs]
    return keys


def resource_tag_keys(tags: Iterable[Tag]) -> dict[str, Any]:
    """aws:ResourceTag/<key> and iam:ResourceTag/<key> for each tag the target user or role has."""
    keys: dict[str, Any] = {}
    for tag in tags:
        keys[f"{RESOURCE_TAG_PREFIX}{tag.key}"] = tag.value
        keys[f"{IAM_RESOURCE_TAG_PREFIX}{tag.key}"] = tag.value
    return keys


def _boundary_key(boundary_arn: str | None) -> dict[str, Any]:
    return {PERMISSIONS_BOUNDARY_KEY: boundary_arn} if boundary_arn is not None else {}


@dataclass(frozen=True)
class _Target:
    """The entity a call acts on, as its decision sees it."""

    arn: str
    tag_keys: Mapping[str, Any] = field(default_factory=dict)
    boundary: str | None = None
    # The ARN the caller's spelling of the name gives at path "/": what a refusal names, so the
    # refusal reads the same whether or not the target exists (the stored path and case of an
    # entity the caller may not act on would tell it the entity exists).
    requested: str | None = None

    def keys(self, api: str) -> dict[str, Any]:
        keys = dict(self.tag_keys)
        if api in _CURRENT_BOUNDARY_ACTIONS:
            keys.update(_boundary_key(self.boundary))
        return keys


T = TypeVar("T")


def _one_snapshot(method: Callable[..., T]) -> Callable[..., T]:
    """For a read: its decision and its answer read one snapshot of the store, so the answer shows
    the state the decision judged (a change that another thread or process commits between the
    two would otherwise be shown without having been judged: a tag that now denies, a policy
    attached since)."""

    @functools.wraps(method)
    def read(self: AuthorizedDirectory, *args: Any, **kwargs: Any) -> T:
        with self._directory.store.read():
            return method(self, *args, **kwargs)

    return read


class AuthorizedDirectory:
    """The directory's IAM API, each call authorized for `caller_arn` first (see the module doc).

    Only the calls listed here are offered; anything else (tenants, import/export, batches) stays
    on the trusted `Directory`. The arguments that name the target (names, paths, ARNs, tags) are
    validated as the directory validates them, before the decision, so an invalid target is
    InvalidInput whoever sends it; the rest (descriptions, documents, inline policy names,
    durations, simulation lists) only once the call is allowed, so a denied caller learns nothing
    from them. A denied call raises AccessDeniedError whether or not its target exists, so a caller
    learns nothing about entities it may not act on.
    """

    def __init__(self, directory: Directory, caller_arn: str, context: Mapping[str, Any] | None = None) -> None:
        if not isinstance(caller_arn, str) or not caller_arn:
            raise TypeError("caller_arn must be the ARN of a stored user or role")
        if context is not None and not isinstance(context, Mapping):
            raise TypeError(f"context must be a mapping of condition keys to values, not {type(context).__name__}")
        self._directory = directory
        self._caller = caller_arn
        self._context: Mapping[str, Any] = MappingProxyType(dict(context or {}))

    def __repr__(self) -> str:
        return f"<AuthorizedDirectory caller={self._caller} tenant={self._directory.tenant_id}>"

    @property
    def caller_arn(self) -> str:
        return self._caller

    # authorization

    def authorize_call(self, action: str, resource: str, request_keys: Mapping[str, Any] | None = None) -> Decision:
        """Authorize an IAM call this class does not wrap (credentials, for example) with this
        caller and context; raises AccessDeniedError unless allowed."""
        return authorize_iam_call(self._directory, self._caller, action, resource, self._context,
                                  request_keys=request_keys)

    def authorize_on_user(self, action: str, user_name: str, request_keys: Mapping[str, Any] | None = None) -> None:
        """Authorize `action` (like "iam:CreateAccessKey") on a stored user: its ARN and its tags
        (aws:ResourceTag/*) come from the directory. Raises AccessDeniedError unless allowed."""
        target = self._user(user_name)
        authorize_iam_call(self._directory, self._caller, action, target.arn, self._context,
                           request_keys={**target.keys(""), **(request_keys or {})}, shown_resource=target.requested)

    def _check(self, api: str, resource: str | _Target, keys: Mapping[str, Any] | None = None) -> None:
        if isinstance(resource, _Target):
            authorize_iam_call(self._directory, self._caller, f"iam:{api}", resource.arn, self._context,
                               request_keys=keys, shown_resource=resource.requested)
            return
        self.authorize_call(f"iam:{api}", resource, keys)

    @contextlib.contextmanager
    def _decided_write(self) -> Iterator[None]:
        # The decision and the change share one transaction: the state the decision read is the
        # state the change applies to.
        with self._directory.batch(), acting_for(self._caller):
            yield

    # targets, read from the store so ARNs use the stored spelling and path (names ignore case,
    # ARNs do not: "ADMIN" must be judged as user/admin)

    def _new_arn(self, kind: str, path: str, name: str) -> str:
        return entity_arn(self._directory.partition, self._directory.tenant_id, kind, path, name)

    def _user(self, user_name: object) -> _Target:
        name = valid.user_name(user_name)
        try:
            user = self._directory.get_user(name)
        except NoSuchEntityError:
            return _Target(self._new_arn("user", "/", name))
        return _Target(user.arn, resource_tag_keys(user.tags), user.permissions_boundary,
                       self._new_arn("user", "/", name))

    def _role(self, role_name: object) -> _Target:
        name = valid.role_name(role_name)
        try:
            role = self._directory.get_role(name)
        except NoSuchEntityError:
            return _Target(self._new_arn("role", "/", name))
        return _Target(role.arn, resource_tag_keys(role.tags), role.permissions_boundary,
                       self._new_arn("role", "/", name))

    def _group(self, group_name: object) -> _Target:
        name = valid.group_name(group_name)
        try:
            group = self._directory.get_group(name, max_items=1).group
        except NoSuchEntityError:
            return _Target(self._new_arn("group", "/", name))
        return _Target(group.arn, requested=self._new_arn("group", "/", name))

    @staticmethod
    def _policy_arn(policy_arn: object, parameter: str = "PolicyArn") -> str:
        parse_iam_arn(policy_arn, ("policy",), parameter)  # refuses anything but a policy ARN string
        return cast(str, policy_arn)

    # users

    def create_user(self, user_name: str, path: str = "/", tags: Mapping[str, str] | Iterable[Any] | None = None,
                    permissions_boundary: str | None = None) -> User:
        """iam:CreateUser on the new user's ARN with iam:PermissionsBoundary (only when a boundary
        is given) and the request's tag keys; with tags, iam:TagUser on it too."""
        name, checked_path, checked_tags = valid.user_name(user_name), valid.path(path), valid.tags(tags)
        boundary = self._policy_arn(permissions_boundary, "PermissionsBoundary") \
            if permissions_boundary is not None else None
        arn = self._new_arn("user", checked_path, name)
        with self._decided_write():
            self._check("CreateUser", arn, {**request_tag_keys(checked_tags), **_boundary_key(boundary)})
            if checked_tags:
                self._check("TagUser", arn, request_tag_keys(checked_tags))
            return self._directory.create_user(name, checked_path, checked_tags, boundary)

    @_one_snapshot
    def get_user(self, user_name: str) -> User:
        target = self._user(user_name)
        self._check("GetUser", target, target.keys("GetUser"))
        return self._directory.get_user(user_name)

    @_one_snapshot
    def list_users(self, path_prefix: str = "/", marker: str | None = None, max_items: int = 100) -> Page[User]:
        self._check("ListUsers", "*")
        return self._directory.list_users(path_prefix, marker, max_items)

    def update_user(self, user_name: str, new_user_name: str | None = None, new_path: str | None = None) -> User:
        """iam:UpdateUser on the user's current ARN and on the ARN it will have (IAM asks for
        permission on both the source and the target of a rename or move)."""
        new_name = valid.user_name(new_user_name, "NewUserName") if new_user_name is not None else None
        moved = valid.path(new_path, "NewPath") if new_path is not None else None
        with self._decided_write():
            target = self._user(user_name)
            self._check("UpdateUser", target, target.keys("UpdateUser"))
            current = parse_iam_arn(target.arn, ("user",), "UserName")
            renamed = self._new_arn("user", moved if moved is not None else current.path,
                                    new_name if new_name is not None else current.name)
            if renamed != target.arn:
                self._check("UpdateUser", renamed, target.keys("UpdateUser"))
            return self._directory.update_user(user_name, new_name, moved)

    def delete_user(self, user_name: str) -> None:
        self._user_write("DeleteUser", user_name, lambda: self._directory.delete_user(user_name))

    @_one_snapshot
    def list_groups_for_user(self, user_name: str, marker: str | None = None, max_items: int = 100) -> Page[Group]:
        target = self._user(user_name)
        self._check("ListGroupsForUser", target, target.keys("ListGroupsForUser"))
        return self._directory.list_groups_for_user(user_name, marker, max_items)

    def tag_user(self, user_name: str, tags: Mapping[str, str] | Iterable[Any]) -> None:
        checked = valid.tags(tags)
        self._user_write("TagUser", user_name, lambda: self._directory.tag_user(user_name, checked),
                         request_tag_keys(checked))

    def untag_user(self, user_name: str, tag_keys: Iterable[str]) -> None:
        keys = valid.tag_keys(tag_keys)
        self._user_write("UntagUser", user_name, lambda: self._directory.untag_user(user_name, keys),
                         {TAG_KEYS_KEY: keys})

    @_one_snapshot
    def list_user_tags(self, user_name: str) -> tuple[Tag, ...]:
        target = self._user(user_name)
        self._check("ListUserTags", target, target.keys("ListUserTags"))
        return self._directory.list_user_tags(user_name)

    def put_user_permissions_boundary(self, user_name: str, permissions_boundary: str) -> None:
        """iam:PutUserPermissionsBoundary with iam:PermissionsBoundary = the new boundary."""
        boundary = self._policy_arn(permissions_boundary, "PermissionsBoundary")
        self._user_write("PutUserPermissionsBoundary", user_name,
                         lambda: self._directory.put_user_permissions_boundary(user_name, boundary),
                         _boundary_key(boundary))

    def delete_user_permissions_boundary(self, user_name: str) -> None:
        self._user_write("DeleteUserPermissionsBoundary", user_name,
                         lambda: self._directory.delete_user_permissions_boundary(user_name))

    def attach_user_policy(self, user_name: str, policy_arn: str) -> None:
        policy = self._policy_arn(policy_arn)
        self._user_write("AttachUserPolicy", user_name, lambda: self._directory.attach_user_policy(user_name, policy),
                         {POLICY_ARN_KEY: policy})

    def detach_user_policy(self, user_name: str, policy_arn: str) -> None:
        policy = self._policy_arn(policy_arn)
        self._user_write("DetachUserPolicy", user_name, lambda: self._directory.detach_user_policy(user_name, policy),
                         {POLICY_ARN_KEY: policy})

    @_one_snapshot
    def list_attached_user_policies(self, user_name: str, path_prefix: str = "/", marker: str | None = None,
                                    max_items: int = 100) -> Page[AttachedPolicy]:
        target = self._user(user_name)
        self._check("ListAttachedUserPolicies", target, target.keys("ListAttachedUserPolicies"))
        return self._directory.list_attached_user_policies(user_name, path_prefix, marker, max_items)

    def put_user_policy(self, user_name: str, policy_name: str, policy_document: Any) -> None:
        self._user_write("PutUserPolicy", user_name,
                         lambda: self._directory.put_user_policy(user_name, policy_name, policy_document))

    @_one_snapshot
    def get_user_policy(self, user_name: str, policy_name: str) -> InlinePolicy:
        target = self._user(user_name)
        self._check("GetUserPolicy", target, target.keys("GetUserPolicy"))
        return self._directory.get_user_policy(user_name, policy_name)

    def delete_user_policy(self, user_name: str, policy_name: str) -> None:
        self._user_write("DeleteUserPolicy", user_name,
                         lambda: self._directory.delete_user_policy(user_name, policy_name))

    @_one_snapshot
    def list_user_policies(self, user_name: str, marker: str | None = None, max_items: int = 100) -> Page[str]:
        target = self._user(user_name)
        self._check("ListUserPolicies", target, target.keys("ListUserPolicies"))
        return self._directory.list_user_policies(user_name, marker, max_items)

    def _user_write(self, api: str, user_name: object, perform: Callable[[], object],
                    keys: Mapping[str, Any] | None = None) -> None:
        with self._decided_write():
            target = self._user(user_name)
            self._check(api, target, {**target.keys(api), **(keys or {})})
            perform()

    # groups

    def create_group(self, group_name: str, path: str = "/") -> Group:
        name, checked_path = valid.group_name(group_name), valid.path(path)
        with self._decided_write():
            self._check("CreateGroup", self._new_arn("group", checked_path, name))
            return self._directory.create_group(name, checked_path)

    @_one_snapshot
    def get_group(self, group_name: str, marker: str | None = None, max_items: int = 100) -> GroupDetail:
        self._check("GetGroup", self._group(group_name))
        return self._directory.get_group(group_name, marker, max_items)

    @_one_snapshot
    def list_groups(self, path_prefix: str = "/", marker: str | None = None, max_items: int = 100) -> Page[Group]:
        self._check("ListGroups", "*")
        return self._directory.list_groups(path_prefix, marker, max_items)

    def update_group(self, group_name: str, new_group_name: str | None = None,
                     new_path: str | None = None) -> Group:
        """iam:UpdateGroup on the group's current ARN and on the ARN it will have."""
        new_name = valid.group_name(new_group_name, "NewGroupName") if new_group_name is not None else None
        moved = valid.path(new_path, "NewPath") if new_path is not None else None
        with self._decided_write():
            target = self._group(group_name)
            arn = target.arn
            self._check("UpdateGroup", target)
            current = parse_iam_arn(arn, ("group",), "GroupName")
            renamed = self._new_arn("group", moved if moved is not None else current.path,
                                    new_name if new_name is not None else current.name)
            if renamed != arn:
                self._check("UpdateGroup", renamed)
            return self._directory.update_group(group_name, new_name, moved)

    def delete_group(self, group_name: str) -> None:
        self._group_write("DeleteGroup", group_name, lambda: self._directory.delete_group(group_name))

    def add_user_to_group(self, group_name: str, user_name: str) -> None:
        """iam:AddUserToGroup on the group's ARN (the resource IAM uses for membership changes)."""
        valid.user_name(user_name)
        self._group_write("AddUserToGroup", group_name,
                          lambda: self._directory.add_user_to_group(group_name, user_name))

    def remove_user_from_group(self, group_name: str, user_name: str) -> None:
        valid.user_name(user_name)
        self._group_write("RemoveUserFromGroup", group_name,
                          lambda: self._directory.remove_user_from_group(group_name, user_name))

    def attach_group_policy(self, group_name: str, policy_arn: str) -> None:
        policy = self._policy_arn(policy_arn)
        self._group_write("AttachGroupPolicy", group_name,
                          lambda: self._directory.attach_group_policy(group_name, policy), {POLICY_ARN_KEY: policy})

    def detach_group_policy(self, group_name: str, policy_arn: str) -> None:
        policy = self._policy_arn(policy_arn)
        self._group_write("DetachGroupPolicy", group_name,
                          lambda: self._directory.detach_group_policy(group_name, policy), {POLICY_ARN_KEY: policy})

    @_one_snapshot
    def list_attached_group_policies(self, group_name: str, path_prefix: str = "/", marker: str | None = None,
                                     max_items: int = 100) -> Page[AttachedPolicy]:
        self._check("ListAttachedGroupPolicies", self._group(group_name))
        return self._directory.list_attached_group_policies(group_name, path_prefix, marker, max_items)

    def put_group_policy(self, group_name: str, policy_name: str, policy_document: Any) -> None:
        self._group_write("PutGroupPolicy", group_name,
                          lambda: self._directory.put_group_policy(group_name, policy_name, policy_document))

    @_one_snapshot
    def get_group_policy(self, group_name: str, policy_name: str) -> InlinePolicy:
        self._check("GetGroupPolicy", self._group(group_name))
        return self._directory.get_group_policy(group_name, policy_name)

    def delete_group_policy(self, group_name: str, policy_name: str) -> None:
        self._group_write("DeleteGroupPolicy", group_name,
                          lambda: self._directory.delete_group_policy(group_name, policy_name))

    @_one_snapshot
    def list_group_policies(self, group_name: str, marker: str | None = None, max_items: int = 100) -> Page[str]:
        self._check("ListGroupPolicies", self._group(group_name))
        return self._directory.list_group_policies(group_name, marker, max_items)

    def _group_write(self, api: str, group_name: object, perform: Callable[[], object],
                     keys: Mapping[str, Any] | None = None) -> None:
        with self._decided_write():
            self._check(api, self._group(group_name), keys)
            perform()

    # roles

    def create_role(self, role_name: str, assume_role_policy_document: Any, path: str = "/",
                    description: str = "", max_session_duration: int = 3600,
                    permissions_boundary: str | None = None,
                    tags: Mapping[str, str] | Iterable[Any] | None = None) -> Role:
        """iam:CreateRole on the new role's ARN with iam:PermissionsBoundary (only when a boundary
        is given) and the request's tag keys; with tags, iam:TagRole on it too."""
        name, checked_path, checked_tags = valid.role_name(role_name), valid.path(path), valid.tags(tags)
        boundary = self._policy_arn(permissions_boundary, "PermissionsBoundary") \
            if permissions_boundary is not None else None
        arn = self._new_arn("role", checked_path, name)
        with self._decided_write():
            self._check("CreateRole", arn, {**request_tag_keys(checked_tags), **_boundary_key(boundary)})
            if checked_tags:
                self._check("TagRole", arn, request_tag_keys(checked_tags))
            return self._directory.create_role(name, assume_role_policy_document, checked_path, description,
                                               max_session_duration, boundary, checked_tags)

    @_one_snapshot
    def get_role(self, role_name: str) -> Role:
        target = self._role(role_name)
        self._check("GetRole", target, target.keys("GetRole"))
        return self._directory.get_role(role_name)

    @_one_snapshot
    def list_roles(self, path_prefix: str = "/", marker: str | None = None, max_items: int = 100) -> Page[Role]:
        self._check("ListRoles", "*")
        return self._directory.list_roles(path_prefix, marker, max_items)

    def update_role(self, role_name: str, description: str | None = None,
                    max_session_duration: int | None = None) -> Role:
        with self._decided_write():
            target = self._role(role_name)
            self._check("UpdateRole", target, target.keys("UpdateRole"))
            return self._directory.update_role(role_name, description, max_session_duration)

    def update_assume_role_policy(self, role_name: str, policy_document: Any) -> None:
        """iam:UpdateAssumeRolePolicy on the role's ARN (ESC-05: editing who may assume a role)."""
        self._role_write("UpdateAssumeRolePolicy", role_name,
                         lambda: self._directory.update_assume_role_policy(role_name, policy_document))

    def delete_role(self, role_name: str) -> None:
        self._role_write("DeleteRole", role_name, lambda: self._directory.delete_role(role_name))

    def tag_role(self, role_name: str, tags: Mapping[str, str] | Iterable[Any]) -> None:
        checked = valid.tags(tags)
        self._role_write("TagRole", role_name, lambda: self._directory.tag_role(role_name, checked),
                         request_tag_keys(checked))

    def untag_role(self, role_name: str, tag_keys: Iterable[str]) -> None:
        keys = valid.tag_keys(tag_keys)
        self._role_write("UntagRole", role_name, lambda: self._directory.untag_role(role_name, keys),
                         {TAG_KEYS_KEY: keys})

    @_one_snapshot
    def list_role_tags(self, role_name: str) -> tuple[Tag, ...]:
        target = self._role(role_name)
        self._check("ListRoleTags", target, target.keys("ListRoleTags"))
        return self._directory.list_role_tags(role_name)

    def put_role_permissions_boundary(self, role_name: str, permissions_boundary: str) -> None:
        """iam:PutRolePermissionsBoundary with iam:PermissionsBoundary = the new boundary."""
        boundary = self._policy_arn(permissions_boundary, "PermissionsBoundary")
        self._role_write("PutRolePermissionsBoundary", role_name,
                         lambda: self._directory.put_role_permissions_boundary(role_name, boundary),
                         _boundary_key(boundary))

    def delete_role_permissions_boundary(self, role_name: str) -> None:
        self._role_write("DeleteRolePermissionsBoundary", role_name,
                         lambda: self._directory.delete_role_permissions_boundary(role_name))

    def attach_role_policy(self, role_name: str, policy_arn: str) -> None:
        policy = self._policy_arn(policy_arn)
        self._role_write("AttachRolePolicy", role_name, lambda: self._directory.attach_role_policy(role_name, policy),
                         {POLICY_ARN_KEY: policy})

    def detach_role_policy(self, role_name: str, policy_arn: str) -> None:
        policy = self._policy_arn(policy_arn)
        self._role_write("DetachRolePolicy", role_name, lambda: self._directory.detach_role_policy(role_name, policy),
                         {POLICY_ARN_KEY: policy})

    @_one_snapshot
    def list_attached_role_policies(self, role_name: str, path_prefix: str = "/", marker: str | None = None,
                                    max_items: int = 100) -> Page[AttachedPolicy]:
        target = self._role(role_name)
        self._check("ListAttachedRolePolicies", target, target.keys("ListAttachedRolePolicies"))
        return self._directory.list_attached_role_policies(role_name, path_prefix, marker, max_items)

    def put_role_policy(self, role_name: str, policy_name: str, policy_document: Any) -> None:
        self._role_write("PutRolePolicy", role_name,
                         lambda: self._directory.put_role_policy(role_name, policy_name, policy_document))

    @_one_snapshot
    def get_role_policy(self, role_name: str, policy_name: str) -> InlinePolicy:
        target = self._role(role_name)
        self._check("GetRolePolicy", target, target.keys("GetRolePolicy"))
        return self._directory.get_role_policy(role_name, policy_name)

    def delete_role_policy(self, role_name: str, policy_name: str) -> None:
        self._role_write("DeleteRolePolicy", role_name,
                         lambda: self._directory.delete_role_policy(role_name, policy_name))

    @_one_snapshot
    def list_role_policies(self, role_name: str, marker: str | None = None, max_items: int = 100) -> Page[str]:
        target = self._role(role_name)
        self._check("ListRolePolicies", target, target.keys("ListRolePolicies"))
        return self._directory.list_role_policies(role_name, marker, max_items)

    def _role_write(self, api: str, role_name: object, perform: Callable[[], object],
                    keys: Mapping[str, Any] | None = None) -> None:
        with self._decided_write():
            target = self._role(role_name)
            self._check(api, target, {**target.keys(api), **(keys or {})})
            perform()

    # managed policies and versions

    def create_policy(self, policy_name: str, policy_document: Any, path: str = "/",
                      description: str = "") -> ManagedPolicy:
        name, checked_path = valid.policy_name(policy_name), valid.path(path)
        with self._decided_write():
            self._check("CreatePolicy", self._new_arn("policy", checked_path, name))
            return self._directory.create_policy(name, policy_document, checked_path, description)

    @_one_snapshot
    def get_policy(self, policy_arn: str) -> ManagedPolicy:
        self._check("GetPolicy", self._policy_arn(policy_arn))
        return self._directory.get_policy(policy_arn)

    @_one_snapshot
    def list_policies(self, only_attached: bool = False, path_prefix: str = "/", marker: str | None = None,
                      max_items: int = 100) -> Page[ManagedPolicy]:
        self._check("ListPolicies", "*")
        return self._directory.list_policies(only_attached, path_prefix, marker, max_items)

    def delete_policy(self, policy_arn: str) -> None:
        policy = self._policy_arn(policy_arn)
        with self._decided_write():
            self._check("DeletePolicy", policy)
            self._directory.delete_policy(policy)

    def create_policy_version(self, policy_arn: str, policy_document: Any,
                              set_as_default: bool = False) -> PolicyVersion:
        """iam:CreatePolicyVersion on the policy's ARN. Making the new version the default needs
        no other permission, as in IAM: CreatePolicyVersion alone rewrites what the policy grants."""
        policy = self._policy_arn(policy_arn)
        with self._decided_write():
            self._check("CreatePolicyVersion", policy)
            return self._directory.create_policy_version(policy, policy_document, set_as_default)

    @_one_snapshot
    def get_policy_version(self, policy_arn: str, version_id: str) -> PolicyVersion:
        self._check("GetPolicyVersion", self._policy_arn(policy_arn))
        return self._directory.get_policy_version(policy_arn, version_id)

    @_one_snapshot
    def list_policy_versions(self, policy_arn: str, marker: str | None = None,
                             max_items: int = 100) -> Page[PolicyVersion]:
        self._check("ListPolicyVersions", self._policy_arn(policy_arn))
        return self._directory.list_policy_versions(policy_arn, marker, max_items)

    def set_default_policy_version(self, policy_arn: str, version_id: str) -> None:
        policy = self._policy_arn(policy_arn)
        with self._decided_write():
            self._check("SetDefaultPolicyVersion", policy)
            self._directory.set_default_policy_version(policy, version_id)

    def delete_policy_version(self, policy_arn: str, version_id: str) -> None:
        policy = self._policy_arn(policy_arn)
        with self._decided_write():
            self._check("DeletePolicyVersion", policy)
            self._directory.delete_policy_version(policy, version_id)

    @_one_snapshot
    def list_entities_for_policy(self, policy_arn: str) -> PolicyEntities:
        self._check("ListEntitiesForPolicy", self._policy_arn(policy_arn))
        return self._directory.list_entities_for_policy(policy_arn)

    # account-wide reads

    @_one_snapshot
    def get_account_authorization_details(self, filter: Iterable[str] | None = None) -> dict[str, Any]:
        self._check("GetAccountAuthorizationDetails", "*")
        return self._directory.get_account_authorization_details(filter)

    @_one_snapshot
    def simulate_principal_policy(self, policy_source_arn: str, action_names: Any, resource_arns: Any = ("*",),
                                  context_entries: Any = None, resource_policy: Any = None) -> list[SimulationResult]:
        """iam:SimulatePrincipalPolicy on the simulated principal's ARN (the simulation reveals
        what that principal may do)."""
        parse_iam_arn(policy_source_arn, ("user", "role"), "PolicySourceArn")
        self._check("SimulatePrincipalPolicy", policy_source_arn)
        return self._directory.simulate_principal_policy(policy_source_arn, action_names, resource_arns,
                                                         context_entries, resource_policy)


__all__ = [
    "PERMISSIONS_BOUNDARY_KEY",
    "POLICY_ARN_KEY",
    "AccessDeniedError",
    "AuthorizedDirectory",
    "authorize_iam_call",
    "iam_call_context",
    "request_tag_keys",
    "resource_tag_keys",
]
