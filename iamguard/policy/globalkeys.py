"""The `aws:` condition keys IAM defines (its global condition context keys).

The `aws:` namespace belongs to AWS: a key in it that AWS does not define is a typo, and a
condition on a key that is never present silently never holds, which quietly disables a Deny
(`aws:MultiFactorAuthPresnt`). The parser rejects such keys; other namespaces are the
application's and are left alone.
"""

from __future__ import annotations

import difflib

# From the AWS global condition context keys reference.
_NAMES = (
    # the principal
    "aws:PrincipalArn", "aws:PrincipalAccount", "aws:PrincipalOrgPaths", "aws:PrincipalOrgID",
    "aws:PrincipalIsAWSService", "aws:PrincipalServiceName", "aws:PrincipalServiceNamesList",
    "aws:PrincipalType", "aws:userid", "aws:username",
    # the session
    "aws:AssumedRoot", "aws:FederatedProvider", "aws:TokenIssueTime", "aws:MultiFactorAuthAge",
    "aws:MultiFactorAuthPresent", "aws:ChatbotSourceArn", "aws:Ec2InstanceSourceVpc",
    "aws:Ec2InstanceSourcePrivateIPv4", "aws:SourceIdentity",
    # the network
    "aws:SourceIp", "aws:SourceVpc", "aws:SourceVpcArn", "aws:SourceVpce", "aws:VpceAccount",
    "aws:VpceOrgPaths", "aws:VpceOrgID", "aws:VpcSourceIp",
    # the resource
    "aws:ResourceAccount", "aws:ResourceOrgPaths", "aws:ResourceOrgID",
    # the request
    "aws:CalledVia", "aws:CalledViaFirst", "aws:CalledViaLast", "aws:ViaAWSService", "aws:CurrentTime",
    "aws:EpochTime", "aws:Referer", "aws:RequestedRegion", "aws:TagKeys", "aws:SecureTransport",
    "aws:SourceAccount", "aws:SourceArn", "aws:SourceOrgID", "aws:SourceOrgPaths", "aws:UserAgent",
)
GLOBAL_KEYS = frozenset(key.lower() for key in _NAMES)  # key names ignore case
# Keys that name a tag after the slash (`aws:PrincipalTag/team`).
TAG_PREFIXES = ("aws:principaltag/", "aws:requesttag/", "aws:resourcetag/")
_SPELLINGS = {name.lower(): name for name in (*_NAMES, "aws:PrincipalTag/", "aws:RequestTag/", "aws:ResourceTag/")}


def global_key_problem(key: str) -> str | None:
    """Why `key` is not a key IAM defines in the `aws:` namespace; None when it is one, or when it
    is in another namespace."""
    lowered = key.lower()
    if not lowered.startswith("aws:"):
        return None
    if lowered in GLOBAL_KEYS:
        return None
    for prefix in TAG_PREFIXES:
        if lowered.startswith(prefix):
            return None if len(lowered) > len(prefix) else f"condition key {key!r} names no tag after the '/'"
    close = difflib.get_close_matches(lowered, list(_SPELLINGS), n=1, cutoff=0.8)
    hint = f"; did you mean {_SPELLINGS[close[0]]!r}?" if close else ""
    return (f"condition key {key!r} is not one of IAM's aws: global condition keys, so no request would "
            f"ever carry it{hint}")
