"""Policy documents on their way into the directory: text, size quota, validation.

A document is stored as the JSON text the caller gave (a mapping is serialized once), so what
comes back is exactly what went in. It is validated with the engine's parser before anything is
stored; a malformed document raises MalformedPolicyDocumentError with every finding.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from iamguard.directory.errors import InvalidInputError, LimitExceededError, MalformedPolicyDocumentError
from iamguard.engine.compiler import Policy, parse_policy
from iamguard.errors import Finding, PolicyError, join_pointer
from iamguard.policy.arn import PrincipalName, read_principal
from iamguard.policy.model import PolicyKind, StatementEffect

_WHITESPACE = " \t\n\r"


def document_text(source: object, what: str) -> str:
    """JSON text for a document given as text, bytes, a mapping or a compiled Policy."""
    if isinstance(source, str):
        return source
    if isinstance(source, (bytes, bytearray)):
        try:
            return bytes(source).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedPolicyDocumentError(f"{what} is not valid UTF-8 (byte {exc.start})") from None
    # ensure_ascii=False: IAM measures a policy in characters, and "\u00e9" would count six for
    # the one "é" the same document given as text counts (a quota that depends on the form).
    if isinstance(source, Policy):
        return json.dumps(source.to_dict(), ensure_ascii=False)
    if isinstance(source, Mapping):
        try:
            return json.dumps(source, allow_nan=False, ensure_ascii=False)
        except (TypeError, ValueError, RecursionError) as exc:
            raise MalformedPolicyDocumentError(f"{what} cannot be written as JSON: {exc}") from None
    raise InvalidInputError(f"{what} must be JSON text or a mapping, not {type(source).__name__}")


def size(text: str) -> int:
    """IAM's measure of a policy: characters that are not whitespace."""
    return len(text) - sum(text.count(char) for char in _WHITESPACE)


def validated(source: object, kind: PolicyKind, *, limit: int, what: str) -> tuple[str, Policy]:
    """The document's text and compiled policy, or an error naming what is wrong and where."""
    text = document_text(source, what)
    measured = size(text)
    if measured > limit:
        raise LimitExceededError(f"{what} has {measured} characters (not counting whitespace); "
                                 f"the limit is {limit}")
    try:
        policy = parse_policy(text, kind)
    except PolicyError as exc:
        raise MalformedPolicyDocumentError(f"{what} is not a valid {kind.value} policy", exc.findings) from None
    return text, policy


# A number of the document as `principal_replaced` holds it while the rest is rewritten: a string
# that no stored policy can hold (U+0000 is refused in policy text), as json.dumps writes it.
_KEPT_NUMBER = re.compile(r'"\\u0000([0-9]+)\\u0000"')


def _names_principal(item: object, old: str, named: PrincipalName) -> bool:
    """Whether a principal entry names `old` (read as `named`): its ARN as written, or for a role
    any ARN of that role (the engine matches a role's sessions by the role's name, whatever path
    the entry writes)."""
    if item == old:
        return True
    if not isinstance(item, str) or named.kind != "role":
        return False
    entry = read_principal(item)
    return entry.kind == "role" and \
        (entry.partition, entry.account, entry.name) == (named.partition, named.account, named.name)


def principal_replaced(text: str, old: str, new: str) -> str:
    """The document `text` with every `AWS` principal (Principal and NotPrincipal) that names `old`
    written as `new`; `text` itself when it names `old` nowhere. Read as JSON, not searched as text,
    so no spelling of `old` (an escaped `\\/`, a role ARN with another path) is missed. Numbers keep
    their text (`1E5` stays `1E5`): only principals change, so a unique id written for an ARN never
    makes a document larger than the quota it met."""
    numbers: list[str] = []

    def kept(raw: str) -> str:
        numbers.append(raw)
        return f"\x00{len(numbers) - 1}\x00"

    document = json.loads(text, parse_int=kept, parse_float=kept)
    named = read_principal(old)
    changed = False
    statements = document.get("Statement") if isinstance(document, dict) else None
    for statement in statements if isinstance(statements, list) else [statements]:
        if not isinstance(statement, dict):
            continue
        for element in ("Principal", "NotPrincipal"):
            principal = statement.get(element)
            if not isinstance(principal, dict):
                continue
            written = principal.get("AWS")
            if _names_principal(written, old, named):
                principal["AWS"], changed = new, True
            elif isinstance(written, list) and any(_names_principal(item, old, named) for item in written):
                principal["AWS"] = [new if _names_principal(item, old, named) else item for item in written]
                changed = True
    if not changed:
        return text
    return _KEPT_NUMBER.sub(lambda match: numbers[int(match.group(1))], json.dumps(document, ensure_ascii=False))


def open_trust_findings(policy: Policy) -> list[Finding]:
    """Statements that let anyone at all assume a role: Allow, Principal "*" (or {"AWS": "*"})
    and no Condition to narrow it (security spec ROLE-01; AWS guardrail IAM-STS-2)."""
    findings = []
    for statement in policy.document.statements:
        principal = statement.principal
        if (statement.effect is StatementEffect.ALLOW and principal is not None and not principal.negated
                and principal.everyone and not statement.conditions):
            findings.append(Finding(
                join_pointer(statement.pointer, "Principal"),
                "this statement lets anyone assume the role; name the trusted principals or add a Condition "
                "(such as sts:ExternalId or aws:PrincipalAccount)", "OpenTrust"))
    return findings
