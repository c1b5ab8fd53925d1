"""What the linter knows about condition keys: which carry one value or a set, which iamguard fills in.

The catalogues follow the AWS global condition key reference. A key the linter does not know is
not an error by itself: it is reported only when neither iamguard nor the application (through
`declared_keys`) says it will ever be in the request context, because a condition on a key that
is never present silently never matches (or, under IfExists or a negated operator, always does).
"""

from __future__ import annotations

from collections.abc import Iterable

from iamguard.engine.wildcard import Matcher, compile_tokens
from iamguard.policy.template import tokenize

# Keys whose value is a set; conditions on them need ForAnyValue: or ForAllValues:.
MULTIVALUED_KEYS = frozenset(key.lower() for key in (
    "aws:TagKeys",
    "aws:CalledVia",
    "aws:PrincipalOrgPaths",
    "aws:ResourceOrgPaths",
    "aws:PrincipalServiceNamesList",
    "sts:TransitiveTagKeys",
))

# Keys that always carry exactly one value; a set qualifier on them is a mistake.
SINGLE_VALUED_KEYS = frozenset(key.lower() for key in (
    "aws:SourceIp",
    "aws:SecureTransport",
    "aws:CurrentTime",
    "aws:EpochTime",
    "aws:UserAgent",
    "aws:Referer",
    "aws:PrincipalArn",
    "aws:PrincipalAccount",
    "aws:PrincipalType",
    "aws:PrincipalOrgID",
    "aws:PrincipalIsAWSService",
    "aws:PrincipalServiceName",
    "aws:userid",
    "aws:username",
    "aws:TokenIssueTime",
    "aws:MultiFactorAuthPresent",
    "aws:MultiFactorAuthAge",
    "aws:SourceIdentity",
    "aws:SourceArn",
    "aws:SourceAccount",
    "aws:SourceOrgID",
    "aws:SourceVpc",
    "aws:SourceVpce",
    "aws:VpcSourceIp",
    "aws:RequestedRegion",
    "aws:ResourceAccount",
    "aws:ResourceOrgID",
    "aws:ViaAWSService",
    "aws:CalledViaFirst",
    "aws:CalledViaLast",
    "aws:FederatedProvider",
    "sts:RoleSessionName",
    "sts:ExternalId",
    "sts:SourceIdentity",
    "iam:PassedToService",
    "iam:PolicyARN",
    "iam:PermissionsBoundary",
))

# Single-valued key families: one tag key names one tag, which has one value.
SINGLE_VALUED_PREFIXES = ("aws:principaltag/", "aws:requesttag/", "aws:resourcetag/", "iam:resourcetag/")

# What iamguard's own layers (credentials, sessions, web adapters) put in the request context.
POPULATED_KEY_NAMES = (
    "aws:SourceIp",
    "aws:SecureTransport",
    "aws:CurrentTime",
    "aws:EpochTime",
    "aws:UserAgent",
    "aws:Referer",
    "aws:PrincipalArn",
    "aws:PrincipalAccount",
    "aws:PrincipalType",
    "aws:userid",
    "aws:username",
    "aws:TagKeys",
    "aws:TokenIssueTime",
    "aws:MultiFactorAuthPresent",
    "aws:MultiFactorAuthAge",
    "aws:SourceIdentity",
    "sts:RoleSessionName",
    "sts:ExternalId",
    "sts:SourceIdentity",
    "aws:FederatedProvider",
    "iam:PolicyARN",  # iamguard.directory.authorized: attaching and detaching managed policies
    "iam:PermissionsBoundary",  # iamguard.directory.authorized: creating principals, setting boundaries
    "aws:PrincipalTag/",
    "aws:RequestTag/",
    "aws:ResourceTag/",
    "iam:ResourceTag/",  # iamguard.directory.authorized: acting on a tagged user or role
)
POPULATED_KEYS = frozenset(key.lower() for key in POPULATED_KEY_NAMES if not key.endswith("/"))
POPULATED_PREFIXES = SINGLE_VALUED_PREFIXES

# Claims of an external OpenID Connect token, exposed as `<issuer>:<claim>` in trust policies.
OIDC_CLAIMS = frozenset(("sub", "aud", "oaud", "amr"))
OIDC_MULTIVALUED_CLAIMS = frozenset(("amr",))

# Keys iamguard fills on every authenticated request, so they are never absent when policies run.
ALWAYS_PRESENT_KEYS = frozenset(key.lower() for key in (
    "aws:SourceIp",
    "aws:SecureTransport",
    "aws:CurrentTime",
    "aws:EpochTime",
    "aws:PrincipalArn",
    "aws:PrincipalAccount",
    "aws:PrincipalType",
    "aws:userid",
))


def _oidc_claim(key_lower: str) -> str | None:
    """`accounts.example.com:sub` -> `sub`: an issuer is a host name, so its prefix has a dot."""
    prefix, _, claim = key_lower.rpartition(":")
    return claim if "." in prefix and claim in OIDC_CLAIMS else None


def is_multivalued(key: str) -> bool:
    lowered = key.lower()
    return lowered in MULTIVALUED_KEYS or _oidc_claim(lowered) in OIDC_MULTIVALUED_CLAIMS


def is_single_valued(key: str) -> bool:
    lowered = key.lower()
    if lowered in SINGLE_VALUED_KEYS or lowered.startswith(SINGLE_VALUED_PREFIXES):
        return True
    claim = _oidc_claim(lowered)
    return claim is not None and claim not in OIDC_MULTIVALUED_CLAIMS


def is_populated(key: str) -> bool:
    """True when some iamguard layer puts this key in the request context (in some requests)."""
    lowered = key.lower()
    return lowered in POPULATED_KEYS or lowered.startswith(POPULATED_PREFIXES) or _oidc_claim(lowered) is not None


def is_always_present(key: str) -> bool:
    return key.lower() in ALWAYS_PRESENT_KEYS


class DeclaredKeys:
    """Keys an application promises to put in the context. A `*` in a declared key is a wildcard
    (`app:*` declares every key with the `app:` prefix); matching ignores case, like IAM's key names."""

    def __init__(self, keys: Iterable[str] = ()) -> None:
        self._exact: set[str] = set()
        self._patterns: list[Matcher] = []
        for key in keys:
            lowered = key.strip().lower()
            if not lowered:
                continue
            if "*" in lowered or "?" in lowered:
                self._patterns.append(compile_tokens(tokenize(lowered, variables=False, wildcards=True)))
            else:
                self._exact.add(lowered)

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        lowered = key.lower()
        return lowered in self._exact or any(pattern(lowered) for pattern in self._patterns)

    def __bool__(self) -> bool:
        return bool(self._exact or self._patterns)
