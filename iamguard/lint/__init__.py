"""Policy validation findings, like IAM Access Analyzer's `ValidatePolicy`.

    >>> from iamguard.lint import validate_policy
    >>> for finding in validate_policy(document, "identity", declared_keys=["app:Owner"]):
    ...     print(finding)   # e.g. "SECURITY_WARNING ALLOW_STAR_ON_STAR at /Statement/0: ..."

Each finding has a `severity`, a stable `code`, a JSON `pointer` into the document and a `message`
that says how to fix it. Severities are ordered: ERROR > SECURITY_WARNING > WARNING > SUGGESTION.
An ERROR means iamguard refuses the document (`iamguard validate` fails, the CLI will not store
it); the other findings describe documents that are valid but probably do not mean what their
author intended.

ERROR codes are the parser's finding codes in UPPER_SNAKE form (`InvalidAction` is
`INVALID_ACTION`): INVALID_JSON, UNREADABLE, TOO_LARGE, TOO_DEEP, TOO_MANY_STATEMENTS,
DUPLICATE_KEY, INVALID_NUMBER, INVALID_CHARACTER, INVALID_TYPE, UNKNOWN_ELEMENT, MISSING_ELEMENT,
PROHIBITED_ELEMENT, CONFLICTING_ELEMENTS, EMPTY_LIST, INVALID_VERSION, INVALID_SID, DUPLICATE_SID,
INVALID_EFFECT, INVALID_ACTION, INVALID_RESOURCE, INVALID_PRINCIPAL, UNKNOWN_OPERATOR,
INVALID_CONDITION_KEY, INVALID_CONDITION_VALUE; plus one the linter adds, for a document
`iamguard.parse_policy` accepts: SET_QUALIFIER_ON_SINGLE_VALUED_KEY (ForAllValues:/ForAnyValue: on
a key iamguard declares single-valued, security spec POL-03).

| code                                | severity         | reported when                                   |
| ----------------------------------- | ---------------- | ----------------------------------------------- |
| ALLOW_WITH_NOT_ACTION               | SECURITY_WARNING | Allow with NotAction                            |
| ALLOW_WITH_NOT_RESOURCE             | SECURITY_WARNING | Allow with NotResource                          |
| ALLOW_STAR_ON_STAR                  | SECURITY_WARNING | Allow of Action `*` on Resource `*`             |
| PRIVILEGE_ESCALATION                | SECURITY_WARNING | Allow of permission-changing actions [1]        |
| PASS_ROLE_WITH_STAR                 | SECURITY_WARNING | iam:PassRole on a wildcard resource             |
| ALLOW_GATED_ON_CLIENT_TEXT          | SECURITY_WARNING | Allow gated only on aws:UserAgent/aws:Referer   |
| PRINCIPAL_STAR_WITHOUT_CONDITION    | SECURITY_WARNING | `Principal: "*"` without a Condition            |
| WEB_IDENTITY_TRUST_WITHOUT_SUBJECT  | SECURITY_WARNING | OIDC trust with no `<issuer>:sub` condition     |
| MFA_DENY_USES_BOOL                  | SECURITY_WARNING | Deny, Bool on MultiFactorAuthPresent [2]        |
| MFA_ALLOW_USES_IF_EXISTS            | SECURITY_WARNING | Allow, BoolIfExists MultiFactorAuthPresent true |
| MFA_PRESENCE_CHECKED_WITH_NULL      | SECURITY_WARNING | Allow, Null MultiFactorAuthPresent false        |
| MFA_AGE_ALLOWS_NO_MFA               | SECURITY_WARNING | MultiFactorAuthAge check admits no-MFA [3]      |
| SET_QUALIFIER_ON_SINGLE_VALUED_KEY  | ERROR            | set qualifier on a single-valued key            |
| MISSING_SET_QUALIFIER               | WARNING          | plain operator on a multivalued key             |
| FOR_ALL_VALUES_WITHOUT_NULL_GUARD   | WARNING          | ForAllValues in an Allow, no Null guard         |
| NEGATED_OPERATOR_MATCHES_ABSENT_KEY | WARNING          | negated operator in an Allow, no Null guard     |
| DENY_SKIPPED_WHEN_KEY_ABSENT        | WARNING          | Deny, operator false on a maybe-absent key [6]  |
| DATE_VALUE_READ_AS_EPOCH            | WARNING          | Date value `"2030"`: epoch seconds, in 1970 [8] |
| UNKNOWN_CONDITION_KEY               | WARNING          | a key nothing populates, not declared [4]       |
| VARIABLE_NOT_EXPANDED               | WARNING          | `${...}` where IAM does not expand it [5]       |
| VARIABLE_FOLLOWED_BY_NAME_CHARACTER | WARNING          | `${aws:username}-*` in a Resource [7]           |
| REDUNDANT_STATEMENT                 | WARNING          | covered by a statement of the same effect       |
| UNREACHABLE_STATEMENT               | WARNING          | an Allow covered by a Deny in the policy        |
| DUPLICATE_ACTION                    | SUGGESTION       | an action twice in one list                     |
| REDUNDANT_ACTION                    | SUGGESTION       | an action a wildcard beside it matches          |
| DUPLICATE_RESOURCE                  | SUGGESTION       | a resource twice in one list                    |
| REDUNDANT_RESOURCE                  | SUGGESTION       | a resource a wildcard beside it matches         |
| MISSING_VERSION                     | SUGGESTION       | no Version (policy variables are off)           |
| OLD_VERSION                         | SUGGESTION       | Version 2008-10-17 (variables are off)          |

[1] attach/put policies, create policy versions, set default versions, change or remove boundaries,
    update trust policies, add a user to a group, PassRole, tag principals, and credentials for
    other users; matched through wildcards too (`iam:*`, `iam:Put*`, `*`).
[2] long-term access keys carry no aws:MultiFactorAuthPresent, so the Deny skips them; use BoolIfExists.
[3] a Deny with NumericGreaterThan (not IfExists, no companion Deny with `Null ... true`), or an
    Allow with NumericLessThanIfExists.
[4] no iamguard layer puts it in the request context and it is not in `declared_keys`.
[5] Version other than 2012-10-17; Numeric, Date, IP, Binary or Null values; Action; principals.
[6] a plain positive operator or ForAnyValue (not IfExists, not Null) on a key iamguard does not
    fill on every request (everything but aws:SecureTransport, aws:SourceIp, aws:CurrentTime,
    aws:EpochTime, aws:PrincipalArn, aws:PrincipalAccount, aws:PrincipalType, aws:userid), unless a
    Deny in the policy tests `Null: {key: "true"}`; the MFA keys have their own codes.
[7] the variable is directly followed by a character principal names may contain
    (`[A-Za-z0-9_+=,.@-]`), by a wildcard (`*`, `?`) or by another variable, so `alice`'s pattern also
    covers `alice-x`'s resources.
[8] IAM reads a Date value of digits alone as epoch seconds; one before 2001-09-09 (fewer than ten
    digits) is almost always a year or a compact date (`"2030"`, `"20300101"`) meant as ISO 8601.

Coverage (redundant, unreachable, redundant items) is decided only in the cases that are certain
(equal text, `*`, `prefix*`, a pattern against a literal, subsets of conditions), so the linter
may miss a redundancy but does not report a false one. `iamguard.lint.CODES` holds the same
catalogue as data.
"""

from __future__ import annotations

from iamguard.lint.codes import CODES, CodeInfo
from iamguard.lint.findings import LintFinding, Severity
from iamguard.lint.validator import highest_severity, validate_policy

__all__ = ["CODES", "CodeInfo", "LintFinding", "Severity", "highest_severity", "validate_policy"]
