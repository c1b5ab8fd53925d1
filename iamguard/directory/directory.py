"""The Directory facade: IAM's API in snake case, bound to one tenant, plus resolution and
authorization of principals against the stored policies."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from iamguard.audit import AuditOption, as_auditor
from iamguard.clock import SYSTEM_CLOCK, Clock
from iamguard.directory import validation as valid
from iamguard.directory.auditing import audited_write
from iamguard.directory.authorized import AuthorizedDirectory
from iamguard.directory.core import parse_timestamp, timestamp
from iamguard.directory.details import authorization_details, read_filter
from iamguard.directory.errors import (
    DeleteConflictError,
    EntityAlreadyExistsError,
    MalformedPolicyDocumentError,
    NoSuchEntityError,
)
from iamguard.directory.groups import GroupOperations
from iamguard.directory.ids import new_tenant_id
from iamguard.directory.model import Tenant
from iamguard.directory.policies import PolicyOperations
from iamguard.directory.portable import export_tenant, import_tenant
from iamguard.directory.quotas import Quotas
from iamguard.directory.resolver import ResolvedPrincipal
from iamguard.directory.roles import RoleOperations
from iamguard.directory.simulation import SimulationResult, read_context_entries, read_targets
from iamguard.directory.users import UserOperations
from iamguard.engine.context import Request
from iamguard.engine.decision import Decision, Effect
from iamguard.errors import PolicyError
from iamguard.store.base import ENTITY_KINDS, DirectoryStore, TenantRecord


def _tenant(record: TenantRecord) -> Tenant:
    return Tenant(record.tenant_id, record.name, record.partition, parse_timestamp(record.created))


def _text(value: object) -> str:
    return value if isinstance(value, str) else repr(value)


def deny_decision(principal: object, action: object, resource: object, error: str) -> Decision:
    """An explicit deny carrying why no decision could be computed."""
    return Decision(Effect.EXPLICIT_DENY, Request(_text(principal), _text(action), _text(resource), {}), error=error)


class Directory(UserOperations, GroupOperations, RoleOperations, PolicyOperations):
    """Users, groups, roles and policies of one tenant, with IAM's API and rules.

    `Directory(store, tenant_id, *, partition=None, clock=None, quotas=None, cache_ttl=1.0,
    cache_size=4096, allow_open_trust=False, audit=None)`. The tenant must exist
    (`Directory.create_tenant`).
    Entity ARNs use the tenant's partition, "aws" by default, so policies written for AWS
    (`arn:aws:iam::123456789012:user/${aws:username}`) work unchanged.

    Decisions made through `authorize` see this process's writes on the next call and other
    processes' writes within `cache_ttl` seconds.

    Every successful mutation is recorded through `audit` (an `iamguard.audit.Auditor`, a sink or
    sinks; default: one JSON line on the `iamguard.audit` logger at INFO) as an "iam:<ApiName>"
    record with the identifiers before and after. A mutation whose record cannot be delivered is
    rolled back and raises AuditUnavailableError. Reads are never audited.
    """

    # tenants

    @staticmethod
    def create_tenant(store: DirectoryStore, tenant_id: str | None = None, name: str | None = None,
                      partition: str = "aws", *, clock: Clock | None = None, audit: AuditOption = None) -> Tenant:
        """Create a tenant (an account). Without an id, 12 random digits are drawn."""
        checked_id = valid.tenant_id(tenant_id) if tenant_id is not None else None
        checked_partition = valid.partition(partition)
        chosen_clock = clock or SYSTEM_CLOCK
        when = timestamp(chosen_clock.now())
        with audited_write(store, as_auditor(audit), "CreateTenant", checked_id, chosen_clock) as writer:
            if checked_id is None:
                checked_id = new_tenant_id()
                while writer.get_tenant(checked_id) is not None:
                    checked_id = new_tenant_id()
            elif writer.get_tenant(checked_id) is not None:
                raise EntityAlreadyExistsError(f"tenant {checked_id} already exists")
            record = TenantRecord(checked_id, valid.tenant_name(name if name is not None else checked_id),
                                  checked_partition, when)
            writer.insert_tenant(record)
        return _tenant(record)

    @staticmethod
    def list_tenants(store: DirectoryStore) -> tuple[Tenant, ...]:
        with store.read() as reader:
            return tuple(_tenant(record) for record in reader.list_tenants())

    @staticmethod
    def get_tenant(store: DirectoryStore, tenant_id: str) -> Tenant:
        with store.read() as reader:
            record = reader.get_tenant(valid.tenant_id(tenant_id))
        if record is None:
            raise NoSuchEntityError(f"tenant {tenant_id} does not exist")
        return _tenant(record)

    @staticmethod
    def delete_tenant(store: DirectoryStore, tenant_id: str, *, clock: Clock | None = None,
                      audit: AuditOption = None) -> None:
        """Delete an empty tenant. Refused (DeleteConflict) while it has users, groups, roles,
        managed policies or (when a Credentials uses this store) an account password policy."""
        with audited_write(store, as_auditor(audit), "DeleteTenant", valid.tenant_id(tenant_id),
                           clock or SYSTEM_CLOCK) as writer:
            record = writer.get_tenant(valid.tenant_id(tenant_id))
            if record is None:
                raise NoSuchEntityError(f"tenant {tenant_id} does not exist")
            found = [f"{kind}s" for kind in ENTITY_KINDS if writer.list_entities(record.tenant_id, kind, limit=1)]
            if writer.list_policies(record.tenant_id, limit=1):
                found.append("managed policies")
            found.extend(store.dependents("tenant", record.tenant_id, record.tenant_id))
            if found:
                raise DeleteConflictError(f"Cannot delete tenant {tenant_id}, it is not empty",
                                          [f"has {item}" for item in found])
            writer.delete_tenant(record.tenant_id)

    @staticmethod
    def import_tenant(store: DirectoryStore, document: Mapping[str, Any] | str | bytes, *,
                      quotas: Quotas | None = None, allow_open_trust: bool = False, clock: Clock | None = None,
                      audit: AuditOption = None) -> Tenant:
        """Load a tenant written by `export_tenant` (validated completely, one transaction). The
        tenant must not exist in `store`. The import is held to `quotas` (IAM's defaults unless
        given) and, unless `allow_open_trust`, refuses a role that anyone may assume, as the
        live API does. It is audited as one ImportTenant record."""
        return _tenant(import_tenant(store, document, quotas=quotas, allow_open_trust=allow_open_trust,
                                     clock=clock, audit=audit))

    def export_tenant(self) -> dict[str, Any]:
        """The whole tenant as JSON-serializable data; `import_tenant` restores it exactly."""
        with self._reading() as reader:
            return export_tenant(reader, self.tenant_id)

    def get_account_authorization_details(self, filter: Iterable[str] | None = None) -> dict[str, Any]:
        """Every user, group, role and managed policy in one document shaped like IAM's
        GetAccountAuthorizationDetails response. `filter` picks among User, Group, Role and
        LocalManagedPolicy."""
        chosen = read_filter(filter)
        with self._reading() as reader:
            return authorization_details(self, reader, chosen)

    def acting_as(self, caller_arn: str, context: Mapping[str, Any] | None = None) -> AuthorizedDirectory:
        """This directory's IAM API with every call authorized for `caller_arn` (a stored user or
        role) as AWS authorizes IAM calls; `context` is the caller's request context (aws:SourceIp,
        aws:MultiFactorAuthPresent, ...). See iamguard.directory.authorized."""
        return AuthorizedDirectory(self, caller_arn, context)

    # resolution and decisions

    def resolve(self, principal_arn: str, *, unique_id: str | None = None,
                at_least: int | None = None) -> ResolvedPrincipal:
        """The user or role with its compiled policies. With `unique_id`, the ARN must still name
        that principal (not a user recreated under the same name). With `at_least`, a store
        generation the caller has already seen, nothing read before it is used (see
        `PrincipalResolver.resolve`). Raises NoSuchEntityError, InvalidInputError, or StoreError
        when the store cannot be read."""
        return self._resolver.resolve(principal_arn, unique_id, at_least)

    def resolve_id(self, unique_id: str, *, at_least: int | None = None) -> ResolvedPrincipal:
        """Resolve a user or role by unique id (credentials are bound to ids: renames keep them)."""
        return self._resolver.resolve_id(unique_id, at_least)

    def authorize(
        self,
        principal_arn: str,
        action: str,
        resource: str,
        context: Mapping[str, Any] | None = None,
        *,
        resource_policy: Any = None,
        session_policies: Iterable[Any] | None = None,
        unique_id: str | None = None,
    ) -> Decision:
        """Decide one request for a stored principal. Never raises: an unknown principal, a store
        error or any other fault is an explicit deny with `decision.error` set.

        The principal's keys (aws:PrincipalArn, aws:userid, aws:username, aws:PrincipalTag/*, ...)
        come from the directory; the caller's context cannot override them.
        """
        try:
            resolved = self._resolver.resolve(principal_arn, unique_id)
            policy_set = resolved.policy_set_with(resource_policy, session_policies)
            request = Request(resolved.arn, action, resource, resolved.request_context(context))
        except Exception as exc:  # whatever went wrong, the answer is deny, never an exception
            return deny_decision(principal_arn, action, resource, f"{type(exc).__name__}: {exc}")
        return policy_set.evaluate(request)

    def simulate_principal_policy(
        self,
        policy_source_arn: str,
        action_names: Sequence[str],
        resource_arns: Sequence[str] = ("*",),
        context_entries: Any = None,
        resource_policy: Any = None,
    ) -> list[SimulationResult]:
        """One explained decision per (action, resource) pair for a stored user or role, like
        the AWS policy simulator, for at most `MAX_SIMULATED_PAIRS` (1,000) pairs. Raises for an
        unknown principal or a store error (it is a diagnostic, not an enforcement point)."""
        actions, resources = read_targets(action_names, resource_arns)
        context = read_context_entries(context_entries)
        resolved = self.resolve(policy_source_arn)
        try:
            policy_set = resolved.policy_set_with(resource_policy)
        except PolicyError as exc:  # the caller's document: refused as the directory refuses any other
            raise MalformedPolicyDocumentError("the resource policy is not valid", exc.findings) from None
        merged = resolved.request_context(context)
        return [SimulationResult(action, resource, policy_set.evaluate(Request(resolved.arn, action, resource, merged)))
                for action in actions for resource in resources]
