"""iamguard: AWS IAM's policy language and evaluation logic for Python web apps.

The public API lives here; everything else is an implementation detail. The engine is imported
eagerly; the directory, credentials, web, audit, client and linter layers load on first use, so
`import iamguard` stays cheap for processes (and the CLI) that only evaluate policies.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from iamguard.engine.compiler import DEFAULT_CACHE, Policy, PolicyCache, parse_policy
from iamguard.engine.context import Request
from iamguard.engine.decision import Decision, Effect, StatementRef
from iamguard.engine.evaluator import PolicySet, evaluate
from iamguard.errors import EvaluationError, Finding, IamGuardError, PolicyError, ServiceError
from iamguard.policy.jsondoc import Limits
from iamguard.policy.model import PolicyDocument, PolicyKind, StatementEffect

if TYPE_CHECKING:
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
    from iamguard.lint import LintFinding, Severity, validate_policy
    from iamguard.store.base import DirectoryStore
    from iamguard.store.database import PolicyLoadError, StoreError
    from iamguard.store.memory import MemoryStore
    from iamguard.store.sqlite import SQLiteStore
    from iamguard.web import Guard, GuardConfig, IamContext, Login, RouteMap, WebRequest, public, rule

__version__ = "0.1.0"

# Public name -> the module that defines it, for the layers loaded on first use.
_LAZY: dict[str, str] = {
    **dict.fromkeys(("AuditRecord", "JsonLinesSink", "LoggingSink"), "iamguard.audit"),
    "IamAuth": "iamguard.client",
    **dict.fromkeys(
        ("AccessKeyCredentials", "CredentialError", "Credentials", "CredentialsConfig", "OidcIssuer",
         "PasswordCredentials", "Session", "TokenError"),
        "iamguard.credentials",
    ),
    **dict.fromkeys(
        ("AttachedPolicy", "DeleteConflictError", "Directory", "EntityAlreadyExistsError", "Group", "IamError",
         "InlinePolicy", "InvalidInputError", "LimitExceededError", "MalformedPolicyDocumentError", "ManagedPolicy",
         "NoSuchEntityError", "Page", "PolicyVersion", "Quotas", "ResolvedPrincipal", "Role", "SimulationResult",
         "Tag", "Tenant", "User"),
        "iamguard.directory",
    ),
    **dict.fromkeys(("LintFinding", "Severity", "validate_policy"), "iamguard.lint"),
    "DirectoryStore": "iamguard.store.base",
    **dict.fromkeys(("PolicyLoadError", "StoreError"), "iamguard.store.database"),
    "MemoryStore": "iamguard.store.memory",
    "SQLiteStore": "iamguard.store.sqlite",
    **dict.fromkeys(("Guard", "GuardConfig", "IamContext", "Login", "RouteMap", "WebRequest", "public", "rule"),
                    "iamguard.web"),
}


if not TYPE_CHECKING:  # type checkers read the imports above: a name not among them is an error, not Any

    def __getattr__(name: str) -> Any:
        module = _LAZY.get(name)
        if module is None:
            raise AttributeError(f"module 'iamguard' has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        globals()[name] = value  # later lookups skip this function
        return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "DEFAULT_CACHE",
    "AccessKeyCredentials",
    "AttachedPolicy",
    "AuditRecord",
    "CredentialError",
    "Credentials",
    "CredentialsConfig",
    "Decision",
    "DeleteConflictError",
    "Directory",
    "DirectoryStore",
    "Effect",
    "EntityAlreadyExistsError",
    "EvaluationError",
    "Finding",
    "Group",
    "Guard",
    "GuardConfig",
    "IamAuth",
    "IamContext",
    "IamError",
    "IamGuardError",
    "InlinePolicy",
    "InvalidInputError",
    "JsonLinesSink",
    "LimitExceededError",
    "Limits",
    "LintFinding",
    "LoggingSink",
    "Login",
    "MalformedPolicyDocumentError",
    "ManagedPolicy",
    "MemoryStore",
    "NoSuchEntityError",
    "OidcIssuer",
    "Page",
    "PasswordCredentials",
    "Policy",
    "PolicyCache",
    "PolicyDocument",
    "PolicyError",
    "PolicyKind",
    "PolicyLoadError",
    "PolicySet",
    "PolicyVersion",
    "Quotas",
    "Request",
    "ResolvedPrincipal",
    "Role",
    "RouteMap",
    "SQLiteStore",
    "ServiceError",
    "Session",
    "Severity",
    "SimulationResult",
    "StatementEffect",
    "StatementRef",
    "StoreError",
    "Tag",
    "Tenant",
    "TokenError",
    "User",
    "WebRequest",
    "__version__",
    "evaluate",
    "parse_policy",
    "public",
    "rule",
    "validate_policy",
]
