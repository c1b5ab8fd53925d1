"""The catalogue of finding codes. Codes are stable: tools may match on them.

ERROR codes are the parser's own finding codes written in UPPER_SNAKE form (`InvalidAction`
becomes `INVALID_ACTION`), so a document rejected by `iamguard.parse_policy` and the same
document run through the linter name the same problems. The linter adds a few ERRORs of its own
for documents IAM's grammar accepts but that cannot mean what they say under iamguard's context
keys (listed in `LINT_ONLY_ERRORS`); `iamguard validate` and the CLI's create-policy refuse them too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from iamguard.lint.findings import Severity


@dataclass(frozen=True)
class CodeInfo:
    code: str
    severity: Severity
    summary: str


_E, _S, _W, _G = Severity.ERROR, Severity.SECURITY_WARNING, Severity.WARNING, Severity.SUGGESTION

_CATALOGUE = (
    # Everything the strict loader and parser reject.
    CodeInfo("INVALID_JSON", _E, "the text is not valid JSON (or not UTF-8)"),
    CodeInfo("UNREADABLE", _E, "the policy file cannot be read"),
    CodeInfo("TOO_LARGE", _E, "the document exceeds the size limit"),
    CodeInfo("TOO_DEEP", _E, "the document is nested too deeply"),
    CodeInfo("TOO_MANY_STATEMENTS", _E, "more statements than the limit"),
    CodeInfo("DUPLICATE_KEY", _E, "a key appears twice in one JSON object"),
    CodeInfo("INVALID_NUMBER", _E, "NaN, Infinity or another non-finite number"),
    CodeInfo("INVALID_CHARACTER", _E, "a character outside IAM's policy character set"),
    CodeInfo("INVALID_TYPE", _E, "an element has the wrong JSON type"),
    CodeInfo("UNKNOWN_ELEMENT", _E, "an element IAM does not define (often a typo)"),
    CodeInfo("MISSING_ELEMENT", _E, "a required element is missing"),
    CodeInfo("PROHIBITED_ELEMENT", _E, "an element this kind of policy must not have"),
    CodeInfo("CONFLICTING_ELEMENTS", _E, "both X and NotX in one statement"),
    CodeInfo("EMPTY_LIST", _E, "an empty list where IAM requires at least one item"),
    CodeInfo("INVALID_VERSION", _E, "Version is neither 2012-10-17 nor 2008-10-17"),
    CodeInfo("INVALID_SID", _E, "a Sid with characters IAM refuses"),
    CodeInfo("DUPLICATE_SID", _E, "two statements share a Sid"),
    CodeInfo("INVALID_EFFECT", _E, "Effect is not exactly Allow or Deny"),
    CodeInfo("INVALID_ACTION", _E, "an action that is not `*` or `service:Action`"),
    CodeInfo("INVALID_RESOURCE", _E, "a resource that is not `*` or a valid ARN pattern"),
    CodeInfo("INVALID_PRINCIPAL", _E, "a malformed Principal or NotPrincipal"),
    CodeInfo("UNKNOWN_OPERATOR", _E, "a condition operator IAM does not define"),
    CodeInfo("INVALID_CONDITION_KEY", _E, "a malformed condition key"),
    CodeInfo("INVALID_CONDITION_VALUE", _E, "a condition value the operator cannot read"),
    # The linter's own ERRORs: documents IAM's grammar accepts but iamguard refuses (security spec POL-03).
    CodeInfo("SET_QUALIFIER_ON_SINGLE_VALUED_KEY", _E,
             "ForAllValues:/ForAnyValue: on a key iamguard declares single-valued"),
    # Grants wider than they look.
    CodeInfo("ALLOW_WITH_NOT_ACTION", _S, "Allow with NotAction grants every other action, including future ones"),
    CodeInfo("ALLOW_WITH_NOT_RESOURCE", _S, "Allow with NotResource grants every other resource"),
    CodeInfo("ALLOW_STAR_ON_STAR", _S, "Allow of every action on every resource"),
    CodeInfo("PRIVILEGE_ESCALATION", _S,
             "Allow, without a condition, of IAM actions that let a principal change its own permissions"),
    CodeInfo("PASS_ROLE_WITH_STAR", _S, "iam:PassRole allowed on a wildcard resource"),
    CodeInfo("ALLOW_GATED_ON_CLIENT_TEXT", _S,
             "Allow whose only conditions test aws:UserAgent or aws:Referer, which the client writes"),
    CodeInfo("PRINCIPAL_STAR_WITHOUT_CONDITION", _S,
             "a resource or trust policy that allows everyone (`Principal: \"*\"`) unconditionally"),
    CodeInfo("WEB_IDENTITY_TRUST_WITHOUT_SUBJECT", _S,
             "a role any identity of an OpenID Connect issuer can assume (no `<issuer>:sub` condition)"),
    CodeInfo("MFA_DENY_USES_BOOL", _S,
             "Deny on aws:MultiFactorAuthPresent with Bool, which long-term keys slip past; use BoolIfExists"),
    CodeInfo("MFA_ALLOW_USES_IF_EXISTS", _S,
             "Allow on aws:MultiFactorAuthPresent with BoolIfExists, which admits long-term keys without MFA"),
    CodeInfo("MFA_PRESENCE_CHECKED_WITH_NULL", _S,
             "Allow gated on `Null aws:MultiFactorAuthPresent false`, which admits sessions without MFA"),
    CodeInfo("MFA_AGE_ALLOWS_NO_MFA", _S,
             "a freshness check on aws:MultiFactorAuthAge that lets requests with no MFA at all through"),
    # Conditions and variables that do not do what they seem to.
    CodeInfo("MISSING_SET_QUALIFIER", _W, "a plain operator on a multivalued key"),
    CodeInfo("FOR_ALL_VALUES_WITHOUT_NULL_GUARD", _W,
             "ForAllValues in an Allow holds when the key is absent; add `Null: {key: false}`"),
    CodeInfo("NEGATED_OPERATOR_MATCHES_ABSENT_KEY", _W,
             "a negated operator in an Allow holds for every request that lacks the key"),
    CodeInfo("DENY_SKIPPED_WHEN_KEY_ABSENT", _W,
             "a Deny whose condition is false when the key is absent, on a key that may be absent"),
    CodeInfo("DATE_VALUE_READ_AS_EPOCH", _W,
             "a Date value of digits alone before 2001 (`\"2030\"` is 2030 seconds after 1970)"),
    CodeInfo("UNKNOWN_CONDITION_KEY", _W,
             "a condition key (or variable) that nothing puts in the request context"),
    CodeInfo("VARIABLE_NOT_EXPANDED", _W, "a policy variable where IAM does not expand it"),
    CodeInfo("VARIABLE_FOLLOWED_BY_NAME_CHARACTER", _W,
             "a Resource variable directly followed by a character names may contain (`${aws:username}-*`)"),
    CodeInfo("REDUNDANT_STATEMENT", _W, "another statement with the same effect already covers this one"),
    CodeInfo("UNREACHABLE_STATEMENT", _W, "an Allow that a Deny in the same policy always overrides"),
    # Tidiness.
    CodeInfo("DUPLICATE_ACTION", _G, "the same action listed twice in one statement"),
    CodeInfo("REDUNDANT_ACTION", _G, "an action already matched by a wildcard in the same statement"),
    CodeInfo("DUPLICATE_RESOURCE", _G, "the same resource listed twice in one statement"),
    CodeInfo("REDUNDANT_RESOURCE", _G, "a resource already matched by a wildcard in the same statement"),
    CodeInfo("MISSING_VERSION", _G, "no Version: policy variables are off; add \"Version\": \"2012-10-17\""),
    CodeInfo("OLD_VERSION", _G, "Version 2008-10-17: policy variables are off; use 2012-10-17"),
)

CODES: dict[str, CodeInfo] = {info.code: info for info in _CATALOGUE}

# ERROR codes the parser never produces: `iamguard.parse_policy` accepts these documents.
LINT_ONLY_ERRORS = frozenset(("SET_QUALIFIER_ON_SINGLE_VALUED_KEY",))

_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def error_code(parser_code: str) -> str:
    """`InvalidConditionValue` -> `INVALID_CONDITION_VALUE`."""
    return _CAMEL_BOUNDARY.sub("_", parser_code).upper()
