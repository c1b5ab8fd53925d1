"""iamguard: AWS IAM's policy language and evaluation logic for Python web apps.

The public API lives here; everything else is an implementation detail.
"""

from iamguard.audit import AuditRecord, JsonLinesSink, LoggingSink
from iamguard.client import IamAuth
from iamguard.credentials import (
    AccessKeyCredentials,
    CredentialError,
    Credentials,
    CredentialsConfig,
    OidcIssuer,
    PasswordCredentials,
    Session,
    TokenError,
)
from iamguard.directory import (
    AttachedPolicy,
    DeleteConflictError,
    Directory,
    EntityAlreadyExistsError,
    Group,
    IamError,
    InlinePolicy,
    InvalidInputError,
    LimitExceededError,
    MalformedPolicyDocumentError,
    ManagedPolicy,
    NoSuchEntityError,
    Page,
    PolicyVersion,
    Quotas,
    ResolvedPrincipal,
    Role,
    SimulationResult,
    Tag,
    Tenant,
    User,
)
from iamguard.engine.compiler import DEFAULT_CACHE, Policy, PolicyCache, parse_policy
from iamguard.engine.context import Request
from iamguard.engine.decision import Decision, Effect, StatementRef
from iamguard.engine.evaluator import PolicySet, evaluate
from iamguard.errors import EvaluationError, Finding, IamGuardError, PolicyError, ServiceError
from iamguard.lint import LintFinding, Severity, validate_policy
from iamguard.policy.jsondoc import Limits
from iamguard.policy.model import PolicyDocument, PolicyKind, StatementEffect
from iamguard.store.base import DirectoryStore
from iamguard.store.database import StoreError
from iamguard.store.memory import MemoryStore
from iamguard.store.sqlite import SQLiteStore
from iamguard.web import Guard, GuardConfig, IamContext, Login, RouteMap, WebRequest, public, rule

__version__ = "0.1.0"

__all__ = [
    "ServiceError",
    "TokenError",
    "Session",
    "PasswordCredentials",
    "OidcIssuer",
    "CredentialsConfig",
    "Credentials",
    "CredentialError",
    "AccessKeyCredentials",
    "WebRequest",
    "RouteMap",
    "Login",
    "LoggingSink",
    "JsonLinesSink",
    "IamContext",
    "IamAuth",
    "GuardConfig",
    "Guard",
    "AuditRecord",
    "DEFAULT_CACHE",
    "AttachedPolicy",
    "DeleteConflictError",
    "Directory",
    "DirectoryStore",
    "EntityAlreadyExistsError",
    "Group",
    "IamError",
    "InlinePolicy",
    "InvalidInputError",
    "LimitExceededError",
    "MalformedPolicyDocumentError",
    "ManagedPolicy",
    "MemoryStore",
    "NoSuchEntityError",
    "Page",
    "PolicyVersion",
    "Quotas",
    "ResolvedPrincipal",
    "Role",
    "SQLiteStore",
    "Severity",
    "SimulationResult",
    "StoreError",
    "Tag",
    "Tenant",
    "User",
    "Decision",
    "Effect",
    "EvaluationError",
    "Finding",
    "IamGuardError",
    "Limits",
    "LintFinding",
    "Policy",
    "PolicyCache",
    "PolicyDocument",
    "PolicyError",
    "PolicyKind",
    "PolicySet",
    "Request",
    "StatementEffect",
    "StatementRef",
    "__version__",
    "evaluate",
    "parse_policy",
    "public",
    "rule",
    "validate_policy",
]
