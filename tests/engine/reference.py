"""A deliberately naive IAM evaluator, used only to cross-check the real one in tests.

It reads raw policy dicts, loops over every statement of every policy for every request, builds a
regular expression per comparison, and caches nothing. It covers what the differential test
generates: Action/NotAction, Resource/NotResource with `${key}` variables, Principal/NotPrincipal
in a same- or cross-tenant resource policy, boundaries, session policies, and the String*,
Numeric*, Date*, Bool, BinaryEquals, IpAddress, Arn*, Null operators with IfExists and set
qualifiers. It assumes valid
documents (the real parser is tested separately) and is written from the IAM documentation, not
from the engine.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

ALLOW = "Allow"
EXPLICIT_DENY = "ExplicitDeny"
IMPLICIT_DENY = "ImplicitDeny"


class Unevaluable(Exception):
    """A request value that the operator cannot read."""


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def _statements(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return _as_list(document["Statement"])


def _lookup(body: str, variables: Mapping[str, str | None]) -> str | None:
    """The text of `${body}`: a literal for `*`, `?`, `$`, else the value or the default."""
    if body in ("*", "?", "$"):
        return body
    name, _, default = body.partition(",")
    key = name.strip().lower()
    if key not in variables:  # the default stands in for a missing key only (iamguard's reading)
        return default.strip().strip("'") if default else None
    return variables[key]  # None: present without one usable value


def _pieces(pattern: str, variables: Mapping[str, str | None] | None) -> list[tuple[bool, str]] | None:
    """(is_literal_text, text) pieces: substituted variables are literal, the rest is pattern
    text. None when a variable has no value (then the pattern matches nothing)."""
    out: list[tuple[bool, str]] = []
    index = 0
    while index < len(pattern):
        if variables is not None and pattern.startswith("${", index):
            end = pattern.index("}", index)
            value = _lookup(pattern[index + 2:end], variables)
            if value is None:
                return None
            out.append((True, value))
            index = end + 1
        else:
            out.append((False, pattern[index]))
            index += 1
    return out


def _glob_regex(pattern: str, variables: Mapping[str, str | None] | None) -> str | None:
    pieces = _pieces(pattern, variables)
    if pieces is None:
        return None
    return "".join(
        re.escape(text) if literal else ".*" if text == "*" else "." if text == "?" else re.escape(text)
        for literal, text in pieces
    )


def _substitute(text: str, variables: Mapping[str, str | None] | None) -> str | None:
    pieces = _pieces(text, variables)
    return None if pieces is None else "".join(piece for _, piece in pieces)


def _glob(pattern: str, text: str, variables: Mapping[str, str | None] | None = None, *,
          ignore_case: bool = False) -> bool:
    regex = _glob_regex(pattern, variables)
    if regex is None:
        return False
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return re.fullmatch(regex, text, flags) is not None


def _context(request_context: Mapping[str, Any]) -> dict[str, list[Any]]:
    """Lowercased key -> list of values; empty lists and None are absent."""
    out: dict[str, list[Any]] = {}
    for key, value in request_context.items():
        values = list(value) if isinstance(value, (list, tuple)) else [] if value is None else [value]
        if values:
            out[key.lower()] = values
    return out


def _variables(context: Mapping[str, list[Any]]) -> dict[str, str | None]:
    return {key: _text(values[0]) if len(values) == 1 and not isinstance(values[0], bytes) else None
            for key, values in context.items()}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, bytes):
        raise Unevaluable("bytes have no text form")
    return str(value)


def _ordered(left: Any, right: Any, comparison: str) -> bool:
    """Numeric and Date operators: `comparison` is the name after the family (Equals, LessThan...)."""
    return {"Equals": left == right, "LessThan": left < right, "LessThanEquals": left <= right,
            "GreaterThan": left > right, "GreaterThanEquals": left >= right}[comparison]


def _number(value: Any) -> Decimal:
    text = _text(value)
    if not re.fullmatch(r"[+-]?[0-9]+(\.[0-9]+)?", text):
        raise Unevaluable(text)
    return Decimal(text)


def _boolean(value: Any) -> bool:
    text = _text(value).lower()
    if text not in ("true", "false"):
        raise Unevaluable(text)
    return text == "true"


def _address(value: Any) -> Any:
    try:
        address = ipaddress.ip_address(_text(value))
    except ValueError:
        raise Unevaluable(value) from None
    # iamguard reads an IPv4-mapped IPv6 address as the IPv4 address it carries (documented in
    # iamguard.policy.values): a dual-stack socket reports IPv4 clients that way.
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped if mapped is not None else address


def _network(value: Any) -> Any:
    network = ipaddress.ip_network(value, strict=False)
    mapped = getattr(network.network_address, "ipv4_mapped", None)
    if mapped is not None and network.prefixlen >= 96:
        return ipaddress.ip_network(f"{mapped}/{network.prefixlen - 96}")
    return network


_EPOCH_SECONDS = re.compile(r"-?[0-9]+")
_EPOCH_START = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _date(value: Any) -> datetime:
    """An instant: epoch seconds (number or digits), or ISO 8601 with a zone, or a bare date
    (midnight UTC)."""
    if isinstance(value, bool):
        raise Unevaluable(value)
    if isinstance(value, (int, float)):
        return _EPOCH_START + timedelta(seconds=value)
    text = _text(value)
    if _EPOCH_SECONDS.fullmatch(text):
        return _EPOCH_START + timedelta(seconds=int(text))
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise Unevaluable(text) from None
    if moment.tzinfo is None:
        if "T" in text:
            raise Unevaluable(text)  # a time without a zone names no instant
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def _binary(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if not isinstance(value, str):
        raise Unevaluable(value)  # binary data arrives as bytes or base64 text, nothing else
    try:
        return base64.b64decode(_text(value).encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise Unevaluable(value) from None


_NEGATED = ("StringNot", "NumericNot", "DateNot", "NotIp", "ArnNot")


def _one_value_matches(base: str, request_value: Any, policy_values: Sequence[Any],
                       variables: Mapping[str, str | None] | None) -> bool:
    """Does one request value satisfy the positive form of `base` for any policy value?"""
    positive = base.replace("Not", "", 1) if base.startswith(_NEGATED) else base
    for policy_value in policy_values:
        if positive.startswith("String"):
            text = _text(request_value)
            if positive == "StringLike":
                if _glob(_text(policy_value), text, variables):
                    return True
                continue
            expected = _substitute(_text(policy_value), variables)
            if expected is None:
                continue
            if positive == "StringEqualsIgnoreCase":
                expected, text = expected.lower(), text.lower()
            if expected == text:
                return True
        elif positive.startswith("Numeric"):
            if _ordered(_number(request_value), _number(policy_value), positive[len("Numeric"):]):
                return True
        elif positive.startswith("Date"):
            if _ordered(_date(request_value), _date(policy_value), positive[len("Date"):]):
                return True
        elif positive == "Bool":
            expected_text = _substitute(_text(policy_value), variables)
            if expected_text is None or expected_text.lower() not in ("true", "false"):
                continue  # a variable with no (boolean) value matches nothing
            if _boolean(request_value) == _boolean(expected_text):
                return True
        elif positive == "BinaryEquals":
            if _binary(request_value) == _binary(policy_value):
                return True
        elif positive == "IpAddress":
            address = _address(request_value)
            network = _network(policy_value)
            if address.version == network.version and address in network:
                return True
        elif positive in ("ArnEquals", "ArnLike"):
            # Both take wildcards; a request value that is not an ARN matches no ARN pattern.
            if _arn_matches(_text(policy_value), _text(request_value), variables):
                return True
        else:  # pragma: no cover - the generators stay within the families above
            raise AssertionError(f"reference evaluator does not know {base}")
    return False


def _condition_holds(operator: str, key: str, policy_values: Any, context: Mapping[str, list[Any]],
                     variables: Mapping[str, str | None] | None) -> bool:
    qualifier, _, name = operator.rpartition(":")
    if_exists = name.endswith("IfExists")
    base = name[: -len("IfExists")] if if_exists else name
    values = context.get(key.lower())
    expected = _as_list(policy_values)
    if base == "Null":
        return (values is None) in {_boolean(value) for value in expected}
    negated = base.startswith(_NEGATED)
    if values is None:
        if if_exists or qualifier == "ForAllValues":
            return True
        if qualifier == "ForAnyValue":
            return False
        return negated
    if not qualifier and len(values) > 1:
        raise Unevaluable(f"{key} has several values")
    results = [_one_value_matches(base, value, expected, variables) != negated for value in values]
    return any(results) if qualifier == "ForAnyValue" else all(results)


def _conditions_hold(statement: Mapping[str, Any], context: Mapping[str, list[Any]],
                     variables: Mapping[str, str | None] | None) -> bool:
    # Every condition is tested (no short cut), so an unevaluable one is never hidden behind a
    # false one: the order of the condition block must not decide whether a Deny fails closed.
    results = [_condition_holds(operator, key, policy_values, context, variables)
               for operator, block in statement.get("Condition", {}).items()
               for key, policy_values in block.items()]
    return all(results)


def _action_matches(statement: Mapping[str, Any], action: str) -> bool:
    patterns = _as_list(statement.get("Action", statement.get("NotAction")))
    hit = any(_glob(pattern, action, ignore_case=True) for pattern in patterns)
    return hit != ("NotAction" in statement)


def _split_pattern(pattern: str, variables_on: bool) -> list[str]:
    """A pattern's six parts, cut at its own colons: never at one inside `${...}`."""
    parts: list[str] = []
    current = ""
    index = 0
    while index < len(pattern):
        if variables_on and pattern.startswith("${", index):
            end = pattern.index("}", index)
            current += pattern[index:end + 1]
            index = end + 1
            continue
        char = pattern[index]
        if char == ":" and len(parts) < 5:
            parts.append(current)
            current = ""
        else:
            current += char
        index += 1
    return [*parts, current]


def _arn_matches(pattern: str, resource: str, variables: Mapping[str, str | None] | None) -> bool:
    if pattern == "*":
        return True
    wanted, actual = _split_pattern(pattern, variables is not None), resource.split(":", 5)
    if len(wanted) != 6 or len(actual) != 6 or actual[0] != "arn":
        return False
    return all(_glob(w, a, variables) for w, a in zip(wanted, actual, strict=True))


def _resource_matches(statement: Mapping[str, Any], resource: str,
                      variables: Mapping[str, str | None] | None) -> bool:
    patterns = _as_list(statement.get("Resource", statement.get("NotResource")))
    hit = any(_arn_matches(pattern, resource, variables) for pattern in patterns)
    return hit != ("NotResource" in statement)


def _account_of(arn: str) -> str:
    parts = arn.split(":")
    return parts[4] if len(parts) > 5 and parts[0] == "arn" else ""


def _role_of_session(principal: str) -> str | None:
    parts = principal.split(":", 5)
    if len(parts) == 6 and parts[2] == "sts" and parts[5].startswith("assumed-role/"):
        role = parts[5].split("/")[1]
        return f"arn:{parts[1]}:iam::{parts[4]}:role/{role}"
    return None


def _names_role_of(name: str, principal: str) -> bool:
    """Is `name` the ARN of the role whose session `principal` is? A role ARN may carry a path
    (`role/team/app`); a session ARN names the role by its name alone."""
    role = _role_of_session(principal)
    if role is None:
        return False
    parts = name.split(":", 5)
    if len(parts) != 6 or parts[2] != "iam" or not parts[5].startswith("role/"):
        return False
    return f"arn:{parts[1]}:iam::{parts[4]}:role/{parts[5].rsplit('/', 1)[-1]}" == role


def _how_named(element: Any, principal: str) -> str | None:
    """How a Principal element names the caller: everyone/user/session/role/account, or None."""
    if element == "*":
        return "everyone"
    found: list[str] = []
    for kind, names in element.items():
        for name in _as_list(names):
            if kind != "AWS":
                if name == principal:
                    found.append("user")
            elif name == "*":
                found.append("everyone")
            elif name == principal:
                found.append("session" if _role_of_session(principal) else "user")
            elif _names_role_of(name, principal):
                found.append("role")
            elif name in (_account_of(principal), f"arn:aws:iam::{_account_of(principal)}:root"):
                found.append("account")
    for strongest in ("everyone", "user", "session", "role", "account"):
        if strongest in found:
            return strongest
    return None


def _exempt_by_not_principal(element: Any, principal: str) -> bool:
    """Exempt only when the whole chain is listed: the principal itself, its account, and for a
    role session also its role (AWS may check the account, then the role, then the session)."""
    if element == "*":
        return True
    listed = {name for names in element.values() for name in _as_list(names)}
    account = _account_of(principal)
    chain = [principal, account if account in listed else f"arn:aws:iam::{account}:root"]
    if not all(link in listed for link in chain):
        return False
    return _role_of_session(principal) is None or any(_names_role_of(name, principal) for name in listed)


class Request:
    def __init__(self, principal: str, action: str, resource: str, context: Mapping[str, Any]) -> None:
        self.principal = principal
        self.action = action
        self.resource = resource
        self.context = _context(context)


def _applies(statement: Mapping[str, Any], document: Mapping[str, Any], request: Request) -> bool:
    """Action, resource and conditions; an unevaluable condition applies a Deny, not an Allow."""
    variables = _variables(request.context) if document.get("Version") == "2012-10-17" else None
    if not _action_matches(statement, request.action):
        return False
    if not _resource_matches(statement, request.resource, variables):
        return False
    try:
        return _conditions_hold(statement, request.context, variables)
    except Unevaluable:
        return statement["Effect"] == "Deny"


def reference_decision(
    principal: str,
    action: str,
    resource: str,
    context: Mapping[str, Any],
    identity_policies: Sequence[Mapping[str, Any]] = (),
    resource_policy: Mapping[str, Any] | None = None,
    permissions_boundary: Mapping[str, Any] | None = None,
    session_policies: Sequence[Mapping[str, Any]] | None = None,
) -> str:
    request = Request(principal, action, resource, context)
    has_boundary = permissions_boundary is not None

    def named(statement: Mapping[str, Any]) -> str | None:
        if "NotPrincipal" in statement:
            exempt = not has_boundary and _exempt_by_not_principal(statement["NotPrincipal"], principal)
            return None if exempt else "everyone"
        return _how_named(statement["Principal"], principal)

    everything: list[tuple[str, Mapping[str, Any], Mapping[str, Any]]] = []
    for document in identity_policies:
        everything.extend(("identity", document, statement) for statement in _statements(document))
    if resource_policy is not None:
        everything.extend(("resource", resource_policy, statement) for statement in _statements(resource_policy))
    if permissions_boundary is not None:
        everything.extend(("boundary", permissions_boundary, s) for s in _statements(permissions_boundary))
    for document in session_policies or ():
        everything.extend(("session", document, statement) for statement in _statements(document))

    allowed_by: dict[str, bool] = {"identity": False, "boundary": False, "session": False}
    resource_grants: set[str] = set()
    for kind, document, statement in everything:
        if not _applies(statement, document, request):
            continue
        how = named(statement) if kind == "resource" else "self"
        if how is None:
            continue
        if statement["Effect"] == "Deny":
            return EXPLICIT_DENY
        if kind == "resource":
            resource_grants.add(how)
        else:
            allowed_by[kind] = True

    boundary_ok = not has_boundary or allowed_by["boundary"]
    session_ok = not session_policies or allowed_by["session"]
    identity_ok = allowed_by["identity"] and boundary_ok and session_ok
    principal_account, resource_account = _account_of(principal), _account_of(resource)
    same_tenant = not principal_account or not resource_account or principal_account == resource_account
    if same_tenant:
        if resource_grants & {"everyone", "user", "session"}:
            return ALLOW
        if "role" in resource_grants and boundary_ok and session_ok:
            return ALLOW
        return ALLOW if identity_ok else IMPLICIT_DENY
    return ALLOW if identity_ok and resource_grants else IMPLICIT_DENY
