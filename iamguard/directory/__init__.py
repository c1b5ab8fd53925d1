"""The identity directory: tenants, users, groups, roles, managed and inline policies, boundaries
and tags, with IAM's API and rules, resolved into compiled policy sets for decisions."""

from iamguard.directory.authorized import AccessDeniedError, AuthorizedDirectory, authorize_iam_call
from iamguard.directory.directory import Directory
from iamguard.directory.errors import (
    AuditUnavailableError,
    DeleteConflictError,
    EntityAlreadyExistsError,
    IamError,
    InvalidInputError,
    LimitExceededError,
    MalformedPolicyDocumentError,
    NoSuchEntityError,
    StoreError,
)
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
    Tenant,
    User,
)
from iamguard.directory.quotas import Quotas
from iamguard.directory.resolver import ResolvedPrincipal
from iamguard.directory.simulation import SimulationResult

__all__ = [
    "AccessDeniedError",
    "AttachedPolicy",
    "AuditUnavailableError",
    "AuthorizedDirectory",
    "DeleteConflictError",
    "Directory",
    "EntityAlreadyExistsError",
    "Group",
    "GroupDetail",
    "IamError",
    "InlinePolicy",
    "InvalidInputError",
    "LimitExceededError",
    "MalformedPolicyDocumentError",
    "ManagedPolicy",
    "NoSuchEntityError",
    "Page",
    "PolicyEntities",
    "PolicyVersion",
    "Quotas",
    "ResolvedPrincipal",
    "Role",
    "SimulationResult",
    "StoreError",
    "Tag",
    "Tenant",
    "User",
    "authorize_iam_call",
]
