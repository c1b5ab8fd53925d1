"""GetAccountAuthorizationDetails: the whole tenant as one JSON-serializable document, in the
shape of IAM's response (UserDetailList, GroupDetailList, RoleDetailList, Policies)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from iamguard.directory.errors import InvalidInputError
from iamguard.store.base import GROUP, ROLE, USER, DirectoryReader, EntityRecord
from iamguard.store.database import StoreError

if TYPE_CHECKING:
    from iamguard.directory.core import DirectoryCore

FILTERS = ("User", "Group", "Role", "LocalManagedPolicy")
# IAM's fifth Filter value. iamguard has no AWS managed policies, so it selects nothing, but a tool
# written for IAM that names all five must not be refused.
AWS_MANAGED_FILTER = "AWSManagedPolicy"


def _document(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise StoreError(f"a stored policy document is not JSON: {exc}") from None


def _tags(record: EntityRecord) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in record.tags]


def read_filter(filter: Iterable[str] | None) -> set[str]:
    if filter is None:
        return set(FILTERS)
    # A lone string is iterable too: "User" would be read as the filters U, s, e and r.
    if isinstance(filter, (str, bytes, Mapping)) or not isinstance(filter, Iterable):
        raise InvalidInputError(f"Filter must be a list of entity types such as ['User'], not {type(filter).__name__}")
    chosen = list(filter)
    allowed = (*FILTERS, AWS_MANAGED_FILTER)
    unknown = [item for item in chosen if not isinstance(item, str) or item not in allowed]
    if unknown:
        shown = ", ".join(repr(item)[:40] for item in unknown)
        raise InvalidInputError(f"Filter {shown} is invalid; use {', '.join(allowed)}")
    return set(chosen) - {AWS_MANAGED_FILTER}


def authorization_details(core: DirectoryCore, reader: DirectoryReader, chosen: set[str]) -> dict[str, Any]:
    tenant = core.tenant_id

    def attached(record: EntityRecord) -> list[dict[str, str]]:
        return [{"PolicyName": policy.name, "PolicyArn": core._policy_arn(policy)}
                for policy in reader.attached_policies(record.unique_id)]

    def inline(record: EntityRecord) -> list[dict[str, Any]]:
        return [{"PolicyName": policy.name, "PolicyDocument": _document(policy.document)}
                for policy in reader.list_inline(record.unique_id)]

    def boundary(record: EntityRecord) -> dict[str, dict[str, str]]:
        arn = core._boundary_arn(reader, record)
        return {"PermissionsBoundary": {"PermissionsBoundaryType": "Policy", "PermissionsBoundaryArn": arn}} \
            if arn else {}

    def common(record: EntityRecord, kind_title: str) -> dict[str, Any]:
        return {"Path": record.path, f"{kind_title}Name": record.name, f"{kind_title}Id": record.unique_id,
                "Arn": core._arn(record), "CreateDate": record.created}

    users, groups, roles, policies = [], [], [], []
    if "User" in chosen:
        for record in reader.list_entities(tenant, USER):
            users.append({**common(record, "User"), "UserPolicyList": inline(record),
                          "GroupList": [group.name for group in reader.groups_of(record.unique_id)],
                          "AttachedManagedPolicies": attached(record), **boundary(record), "Tags": _tags(record)})
    if "Group" in chosen:
        for record in reader.list_entities(tenant, GROUP):
            groups.append({**common(record, "Group"), "GroupPolicyList": inline(record),
                           "AttachedManagedPolicies": attached(record)})
    if "Role" in chosen:
        for record in reader.list_entities(tenant, ROLE):
            roles.append({**common(record, "Role"),
                          "AssumeRolePolicyDocument": _document(record.trust_policy or "{}"),
                          "Description": record.description or "",
                          "MaxSessionDuration": record.max_session_duration or 3600,
                          "InstanceProfileList": [], "RolePolicyList": inline(record),
                          "AttachedManagedPolicies": attached(record), **boundary(record), "Tags": _tags(record)})
    if "LocalManagedPolicy" in chosen:
        for policy in reader.list_policies(tenant):
            policies.append({
                "PolicyName": policy.name, "PolicyId": policy.unique_id, "Arn": core._policy_arn(policy),
                "Path": policy.path, "DefaultVersionId": policy.default_version,
                "AttachmentCount": len(reader.attached_principals(policy.unique_id)),
                "PermissionsBoundaryUsageCount": len(reader.boundary_principals(policy.unique_id)),
                "IsAttachable": True, "Description": policy.description, "CreateDate": policy.created,
                "UpdateDate": policy.updated,
                "PolicyVersionList": [
                    {"Document": _document(version.document), "VersionId": version.version_id,
                     "IsDefaultVersion": version.version_id == policy.default_version,
                     "CreateDate": version.created}
                    for version in reader.list_versions(policy.unique_id)
                ],
            })
    return {"UserDetailList": users, "GroupDetailList": groups, "RoleDetailList": roles, "Policies": policies,
            "IsTruncated": False}
