"""Validate decoded JSON into a PolicyDocument, collecting every problem before failing.

Rules follow the IAM policy grammar. Each finding names its place with a JSON pointer and says
how to fix it; nothing partial is ever returned.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Mapping
from typing import Any

from iamguard.errors import Finding, PolicyError, join_pointer
from iamguard.policy import values as value_readers
from iamguard.policy.arn import PRINCIPAL_ID, TENANT_ID, split_arn
from iamguard.policy.globalkeys import global_key_problem
from iamguard.policy.jsondoc import DEFAULT_LIMITS, Limits
from iamguard.policy.model import (
    VERSION_2008,
    VERSION_2012,
    ConditionEntry,
    PolicyDocument,
    PolicyKind,
    PrincipalClause,
    PrincipalEntry,
    Statement,
    StatementEffect,
)
from iamguard.policy.operators import Family, parse_operator
from iamguard.policy.template import STAR, Variable, tokenize

TOP_LEVEL_KEYS = ("Version", "Id", "Statement")
STATEMENT_KEYS = (
    "Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction",
    "Resource", "NotResource", "Condition",
)
PRINCIPAL_TYPES = ("AWS", "Service", "Federated", "CanonicalUser")

_ACTION_PREFIX = re.compile(r"[A-Za-z0-9.\-*?]+", re.ASCII)
_IAM_SID = re.compile(r"[A-Za-z0-9]*", re.ASCII)
_SERVICE_PRINCIPAL = re.compile(r"[A-Za-z0-9][A-Za-z0-9.\-]*", re.ASCII)
_CANONICAL_USER = re.compile(r"[0-9a-fA-F]{64}", re.ASCII)
# The checks below are pure functions of their arguments, and policies repeat the same actions,
# resources, keys and values many times over: each distinct one is checked once (typed for
# values, where 1, 1.0 and True are different policy values).
_CHECK_CACHE_SIZE = 16384
_CONDITION_KEY_PREFIX = re.compile(r"[A-Za-z0-9._\-/]+", re.ASCII)
_SERVICE_SEGMENT = re.compile(r"[A-Za-z0-9\-]+", re.ASCII)
# The resource part of a principal ARN, by service: IAM names accounts, users and roles; STS names
# role sessions and federated users. Any other pairing (an `sts` role, an `iam` session, an
# identity provider under "AWS") names no principal, so a Deny written with it would never apply.
_PRINCIPAL_RESOURCES = {
    "iam": re.compile(r"root|(user|role)(/[\x21-\x7e]*)?/[\w+=,.@\-]+", re.ASCII),
    "sts": re.compile(r"assumed-role/[\w+=,.@\-]+/[\w+=,.@\-]+|federated-user/[\w+=,.@\-]+", re.ASCII),
}
_PARTITION = re.compile(r"[a-z][a-z0-9-]{0,31}", re.ASCII)
_IDENTITY_PROVIDER = re.compile(r"(saml|oidc)-provider/[\x21-\x7e]+", re.ASCII)


class _Collector:
    def __init__(self) -> None:
        self.findings: list[Finding] = []

    def add(self, pointer: str, message: str, code: str = "InvalidPolicy") -> None:
        self.findings.append(Finding(pointer, message, code))


def parse_document(data: Any, kind: PolicyKind, limits: Limits = DEFAULT_LIMITS) -> PolicyDocument:
    report = _Collector()
    document = _read_document(data, kind, limits, report)
    if report.findings or document is None:
        raise PolicyError(report.findings)
    return document


def _unknown_key_message(key: str, allowed: tuple[str, ...], where: str) -> str:
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else f"; allowed: {', '.join(allowed)}"
    return f"unknown element {key!r} in {where}{hint}"


def _read_document(data: Any, kind: PolicyKind, limits: Limits, report: _Collector) -> PolicyDocument | None:
    if not isinstance(data, Mapping):
        report.add("", f"a policy document must be a JSON object, not {_json_type(data)}", "InvalidType")
        return None
    for key in data:
        if key not in TOP_LEVEL_KEYS:
            report.add(join_pointer("", key), _unknown_key_message(key, TOP_LEVEL_KEYS, "the policy"),
                       "UnknownElement")
    version = data.get("Version")
    if "Version" in data and version not in (VERSION_2012, VERSION_2008):
        report.add("/Version", f"Version must be {VERSION_2012!r} or {VERSION_2008!r}, not {version!r}",
                   "InvalidVersion")
        version = None
    policy_id = data.get("Id")
    if "Id" in data and not isinstance(policy_id, str):
        report.add("/Id", "Id must be a string", "InvalidType")
        policy_id = None
    if "Statement" not in data:
        report.add("", "the policy has no Statement; add a Statement object or list", "MissingElement")
        return None
    raw_statements = data["Statement"]
    if isinstance(raw_statements, Mapping):
        entries: list[tuple[str, Any]] = [("/Statement", raw_statements)]
    elif isinstance(raw_statements, list):
        if not raw_statements:
            report.add("/Statement", "Statement must not be an empty list", "EmptyList")
        entries = [(join_pointer("/Statement", index), item) for index, item in enumerate(raw_statements)]
    else:
        report.add("/Statement", "Statement must be an object or a list of objects", "InvalidType")
        return None
    if len(entries) > limits.max_statements:
        report.add("/Statement", f"{len(entries)} statements exceed the limit of {limits.max_statements}",
                   "TooManyStatements")
        return None
    variables = version == VERSION_2012
    statements: list[Statement] = []
    sids: dict[str, str] = {}
    for index, (pointer, raw) in enumerate(entries):
        statement = _read_statement(index, pointer, raw, kind, variables, report)
        if statement is None:
            continue
        if statement.sid:
            if statement.sid in sids:
                report.add(join_pointer(pointer, "Sid"),
                           f"Sid {statement.sid!r} is already used by {sids[statement.sid]}; Sids must be unique",
                           "DuplicateSid")
            else:
                sids[statement.sid] = pointer
        statements.append(statement)
    return PolicyDocument(version if "Version" in data else None, policy_id, tuple(statements), kind)


def _json_type(value: Any) -> str:
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    return "null" if value is None else type(value).__name__


def _string_list(value: Any, pointer: str, name: str, report: _Collector) -> list[tuple[str, str]] | None:
    """A string or non-empty list of strings, with the pointer of each item."""
    if isinstance(value, str):
        return [(pointer, value)]
    if isinstance(value, list):
        if not value:
            report.add(pointer, f"{name} must not be an empty list", "EmptyList")
            return None
        items = []
        for index, item in enumerate(value):
            item_pointer = join_pointer(pointer, index)
            if not isinstance(item, str):
                report.add(item_pointer, f"each {name} entry must be a string, not {_json_type(item)}",
                           "InvalidType")
            else:
                items.append((item_pointer, item))
        return items if len(items) == len(value) else None
    report.add(pointer, f"{name} must be a string or a list of strings, not {_json_type(value)}", "InvalidType")
    return None


def _read_statement(
    index: int, pointer: str, raw: Any, kind: PolicyKind, variables: bool, report: _Collector
) -> Statement | None:
    if not isinstance(raw, Mapping):
        report.add(pointer, f"a statement must be an object, not {_json_type(raw)}", "InvalidType")
        return None
    before = len(report.findings)
    for key in raw:
        if key not in STATEMENT_KEYS:
            report.add(join_pointer(pointer, key), _unknown_key_message(key, STATEMENT_KEYS, "a statement"),
                       "UnknownElement")

    sid = raw.get("Sid")
    if "Sid" in raw:
        if not isinstance(sid, str):
            report.add(join_pointer(pointer, "Sid"), "Sid must be a string", "InvalidType")
            sid = None
        elif not kind.names_principals and not _IAM_SID.fullmatch(sid):
            report.add(join_pointer(pointer, "Sid"), f"Sid {sid!r} may contain only ASCII letters and digits",
                       "InvalidSid")

    effect: StatementEffect | None = None
    if "Effect" not in raw:
        report.add(pointer, "the statement has no Effect; add \"Effect\": \"Allow\" or \"Deny\"", "MissingElement")
    else:
        try:
            effect = StatementEffect(raw["Effect"])
        except ValueError:
            report.add(join_pointer(pointer, "Effect"),
                       f"Effect must be exactly \"Allow\" or \"Deny\" (case-sensitive), not {raw['Effect']!r}",
                       "InvalidEffect")

    actions, not_action = _read_pair(raw, pointer, "Action", "NotAction", report, required=True)
    action_list: list[str] = []
    if actions is not None:
        for item_pointer, action in actions:
            problem = _action_problem(action)
            if problem:
                report.add(item_pointer, problem, "InvalidAction")
            action_list.append(action)

    resource_list: list[str] = []
    not_resource = False
    if kind is PolicyKind.TRUST:
        for name in ("Resource", "NotResource"):
            if name in raw:
                report.add(join_pointer(pointer, name),
                           f"a trust policy must not have {name}: the role itself is the resource",
                           "ProhibitedElement")
    else:
        resources, not_resource = _read_pair(raw, pointer, "Resource", "NotResource", report, required=True)
        if resources is not None:
            for item_pointer, resource in resources:
                problem = _resource_problem(resource, variables)
                if problem:
                    report.add(item_pointer, problem, "InvalidResource")
                resource_list.append(resource)

    principal = _read_principal(raw, pointer, kind, effect, report)
    conditions = _read_conditions(raw.get("Condition"), join_pointer(pointer, "Condition"), variables, report) \
        if "Condition" in raw else ()

    if len(report.findings) > before or effect is None:
        return None
    return Statement(
        index=index, sid=sid, effect=effect, actions=tuple(action_list), not_action=not_action,
        resources=tuple(resource_list), not_resource=not_resource, principal=principal,
        conditions=conditions, pointer=pointer,
    )


def _read_pair(
    raw: Mapping[str, Any], pointer: str, name: str, negated: str, report: _Collector, *, required: bool
) -> tuple[list[tuple[str, str]] | None, bool]:
    if name in raw and negated in raw:
        report.add(pointer, f"a statement must have either {name} or {negated}, not both", "ConflictingElements")
        return None, False
    if name not in raw and negated not in raw:
        if required:
            report.add(pointer, f"the statement has no {name}; add {name} (or {negated})", "MissingElement")
        return None, False
    key = name if name in raw else negated
    return _string_list(raw[key], join_pointer(pointer, key), key, report), key == negated


@functools.lru_cache(maxsize=_CHECK_CACHE_SIZE)
def _action_problem(action: str) -> str | None:
    if action == "*":
        return None
    prefix, colon, name = action.partition(":")
    if not colon or ":" in name:
        return f"action {action!r} must be '*' or 'service:Action' with exactly one colon"
    if not prefix or not _ACTION_PREFIX.fullmatch(prefix):
        return (f"action {action!r} has an invalid service prefix {prefix!r}; use letters, digits, '-' and '.' "
                "(for example orders:GetOrder)")
    if not name:
        return f"action {action!r} has no action name after the colon; use 'service:Action' or 'service:*'"
    return None


@functools.lru_cache(maxsize=_CHECK_CACHE_SIZE)
def _resource_problem(resource: str, variables: bool) -> str | None:
    if resource == "*":
        return None
    parts = split_arn(resource)
    if parts is None:
        return f"resource {resource!r} must be '*' or an ARN (arn:partition:service:region:account:resource)"
    _, partition, service, region, account, resource_part = parts
    if not partition:
        return f"resource {resource!r} has an empty partition; use for example 'aws' or 'app'"
    if any(char.isspace() for char in partition + region + account):
        # No request ARN has whitespace there, so such a Resource (say `arn: aws:...`) would match nothing.
        return f"resource {resource!r} has whitespace in its partition, region or account"
    if not _SERVICE_SEGMENT.fullmatch(service):
        return (f"resource {resource!r} has an invalid service segment {service!r}; "
                "wildcards are not allowed in the service")
    if not resource_part:
        return f"resource {resource!r} has an empty resource part; use '*' to mean every resource"
    head = resource[: len(resource) - len(resource_part)]
    if variables and "${" in head:
        return f"resource {resource!r} uses a policy variable before the resource part, where IAM does not expand it"
    try:
        tokenize(resource_part, variables=variables, wildcards=True)
    except ValueError as exc:
        return f"resource {resource!r}: {exc}"
    return None


def _read_principal(
    raw: Mapping[str, Any], pointer: str, kind: PolicyKind, effect: StatementEffect | None, report: _Collector
) -> PrincipalClause | None:
    present = [name for name in ("Principal", "NotPrincipal") if name in raw]
    if not kind.names_principals:
        for name in present:
            report.add(join_pointer(pointer, name),
                       f"a {kind.value} policy must not specify {name}; principals belong in resource policies",
                       "ProhibitedElement")
        return None
    if not present:
        report.add(pointer, "a resource policy statement needs Principal (or NotPrincipal)", "MissingElement")
        return None
    if len(present) == 2:
        report.add(pointer, "a statement must have either Principal or NotPrincipal, not both", "ConflictingElements")
        return None
    name = present[0]
    negated = name == "NotPrincipal"
    element_pointer = join_pointer(pointer, name)
    if negated and effect is StatementEffect.ALLOW:
        report.add(element_pointer, "NotPrincipal is only supported with \"Effect\": \"Deny\"", "InvalidPrincipal")
    value = raw[name]
    if value == "*":
        return PrincipalClause(negated, everyone=True)
    if not isinstance(value, Mapping) or not value:
        report.add(element_pointer, f"{name} must be \"*\" or an object such as {{\"AWS\": \"arn:...\"}}",
                   "InvalidPrincipal")
        return None
    entries: list[PrincipalEntry] = []
    everyone = False
    for principal_type, names in value.items():
        type_pointer = join_pointer(element_pointer, principal_type)
        if principal_type not in PRINCIPAL_TYPES:
            report.add(type_pointer, _unknown_key_message(principal_type, PRINCIPAL_TYPES, name), "InvalidPrincipal")
            continue
        items = _string_list(names, type_pointer, f"{name} {principal_type}", report)
        for item_pointer, item in items or ():
            problem = _principal_problem(principal_type, item)
            if problem:
                report.add(item_pointer, problem, "InvalidPrincipal")
            elif principal_type == "AWS" and item == "*":
                everyone = True
            else:
                entries.append(PrincipalEntry(principal_type, item))
    return PrincipalClause(negated, everyone, tuple(entries))


def _principal_problem(principal_type: str, value: str) -> str | None:
    if principal_type == "AWS":
        if value == "*" or TENANT_ID.fullmatch(value) or PRINCIPAL_ID.fullmatch(value):
            return None
        if "*" in value or "?" in value:
            return f"principal {value!r}: wildcards are not allowed inside a principal; use \"*\" alone"
        parts = split_arn(value)
        shape = _PRINCIPAL_RESOURCES.get(parts[2]) if parts is not None else None
        if parts is None or shape is None or not shape.fullmatch(parts[5]):
            return (f"principal {value!r} must be \"*\", an account id, or an ARN of an account root, user or "
                    "role (arn:PARTITION:iam::ACCOUNT:...) or of an STS assumed-role or federated-user session "
                    "(arn:PARTITION:sts::ACCOUNT:...)")
        return _principal_arn_head_problem(value, parts)
    if "*" in value or "?" in value:
        return f"{principal_type} principal {value!r}: wildcards are not allowed; use \"*\" alone"
    if any(char.isspace() for char in value):
        return f"{principal_type} principal {value!r} must not contain whitespace"
    if principal_type == "Federated" and value.startswith("arn:"):
        parts = split_arn(value)
        if parts is None or parts[2] != "iam" or not _IDENTITY_PROVIDER.fullmatch(parts[5]):
            return (f"federated principal {value!r} must be an identity provider name or the ARN of an IAM "
                    "saml-provider or oidc-provider")
        return _principal_arn_head_problem(value, parts)
    if principal_type == "Service" and not _SERVICE_PRINCIPAL.fullmatch(value):
        return f"service principal {value!r} must be a service name such as orders.example.com"
    if principal_type == "CanonicalUser" and not _CANONICAL_USER.fullmatch(value):
        return f"canonical user {value!r} must be 64 hexadecimal digits"
    if not value.strip():
        return f"{principal_type} principal must not be empty"
    return None


def _principal_arn_head_problem(value: str, parts: tuple[str, str, str, str, str, str]) -> str | None:
    """Principal ARNs have a partition, no region and an account: a request principal always
    looks like that, so a principal written otherwise would silently match no one."""
    _, partition, _, region, account, _ = parts
    if not _PARTITION.fullmatch(partition):
        return f"principal {value!r} has an invalid partition {partition!r}; use a lowercase word such as 'aws'"
    if region:
        return f"principal {value!r} must not name a region ({region!r}); IAM and STS ARNs leave it empty"
    if not TENANT_ID.fullmatch(account):
        return (f"principal {value!r} has an invalid account {account!r}; use the account id "
                "(lowercase letters, digits and '-')")
    return None


def _read_conditions(raw: Any, pointer: str, variables: bool, report: _Collector) -> tuple[ConditionEntry, ...]:
    if not isinstance(raw, Mapping):
        report.add(pointer, f"Condition must be an object of operators, not {_json_type(raw)}", "InvalidType")
        return ()
    entries: list[ConditionEntry] = []
    for operator_name, block in raw.items():
        operator_pointer = join_pointer(pointer, operator_name)
        if not isinstance(block, Mapping):
            report.add(operator_pointer,
                       f"condition operator {operator_name!r} must map to an object of condition keys, "
                       f"not {_json_type(block)}", "InvalidType")
            continue
        if not block:
            continue  # an operator without keys imposes nothing, as in IAM
        try:
            operator = parse_operator(operator_name)
        except ValueError as exc:
            report.add(operator_pointer, str(exc), "UnknownOperator")
            continue
        for key, raw_values in block.items():
            key_pointer = join_pointer(operator_pointer, key)
            key_problem = _condition_key_problem(key)
            if key_problem:
                report.add(key_pointer, key_problem, "InvalidConditionKey")
                continue
            values = _condition_values(raw_values, key_pointer, report)
            if values is None:
                continue
            checked = []
            ok = True
            for index, value in enumerate(values):
                value_pointer = key_pointer if not isinstance(raw_values, list) else join_pointer(key_pointer, index)
                problem = _condition_value_problem(operator.base.family, operator.base.accepts_variables and variables,
                                                   value)
                if problem:
                    report.add(value_pointer, f"{operator.name}: {problem}", "InvalidConditionValue")
                    ok = False
                checked.append(value)
            if ok:
                entries.append(ConditionEntry(operator, key, tuple(checked), key_pointer))
    return tuple(entries)


@functools.lru_cache(maxsize=_CHECK_CACHE_SIZE)
def _condition_key_problem(key: str) -> str | None:
    prefix, colon, name = key.partition(":")
    if not colon or not name or not _CONDITION_KEY_PREFIX.fullmatch(prefix):
        return f"condition key {key!r} must look like 'prefix:name', for example aws:SourceIp"
    if any(char.isspace() for char in key) or "${" in key:
        return f"condition key {key!r} must not contain spaces or policy variables"
    return global_key_problem(key)


def _condition_values(raw: Any, pointer: str, report: _Collector) -> list[Any] | None:
    items = raw if isinstance(raw, list) else [raw]
    if isinstance(raw, list) and not raw:
        report.add(pointer, "a condition key needs at least one value", "EmptyList")
        return None
    for index, item in enumerate(items):
        if not isinstance(item, (str, int, float, bool)) or item is None:
            where = join_pointer(pointer, index) if isinstance(raw, list) else pointer
            report.add(where, f"condition values must be strings, numbers or booleans, not {_json_type(item)}",
                       "InvalidType")
            return None
    return list(items)


def _condition_value_problem(family: Family, variables: bool, value: Any) -> str | None:
    if family is Family.STRING:  # tokenizing is memoized already; values such as ids rarely repeat
        return _value_problem(family, variables, value)
    return _repeated_value_problem(family.value, variables, value)


@functools.lru_cache(maxsize=_CHECK_CACHE_SIZE, typed=True)
def _repeated_value_problem(family_name: str, variables: bool, value: Any) -> str | None:
    return _value_problem(Family(family_name), variables, value)


def _value_problem(family: Family, variables: bool, value: Any) -> str | None:
    try:
        if family is Family.NUMERIC:
            value_readers.to_decimal(value)
        elif family is Family.DATE:
            value_readers.to_datetime(value)
        elif family is Family.NULL:
            value_readers.to_bool(value)
        elif family is Family.BINARY:
            value_readers.to_binary(value)
        elif family is Family.IP:
            value_readers.to_network(value)
        elif family is Family.BOOL:
            if variables and isinstance(value, str) and "${" in value:
                # Read as the compiler reads it, so a malformed variable is reported here; a value
                # with only `${*}`-style escapes is fixed text and must still be a boolean.
                tokens = tokenize(value, variables=True, wildcards=False)
                if not any(isinstance(token, Variable) for token in tokens):
                    value_readers.to_bool("".join(str(token) for token in tokens))
            else:
                value_readers.to_bool(value)
        elif family in (Family.STRING, Family.ARN):
            text = value_readers.to_text(value)
            tokens = tokenize(text, variables=variables, wildcards=True)
            if family is Family.ARN and text != "*" and not any(t is STAR for t in tokens[:1]) \
                    and split_arn(text) is None:
                return f"{text!r} is not an ARN (arn:partition:service:region:account:resource)"
            if family is Family.ARN and tokens != (STAR,) and _pattern_colons(tokens) < 5:
                # ARN operators compare six colon-separated parts; with fewer the value matches
                # nothing, which would silently disable a Deny.
                return (f"{text!r} does not have the six parts of an ARN "
                        "(arn:partition:service:region:account:resource); use '*' alone to match any ARN")
            del tokens
    except ValueError as exc:
        return str(exc)
    return None



def _pattern_colons(tokens: tuple[Any, ...]) -> int:
    """Colons in the pattern's own text (not in a variable's value or default)."""
    return sum(token.count(":") for token in tokens if isinstance(token, str))


def clear_check_caches() -> None:
    """Forget the memoized checks (so that a cold compile can be measured)."""
    for check in (_action_problem, _resource_problem, _condition_key_problem, _repeated_value_problem):
        check.cache_clear()
