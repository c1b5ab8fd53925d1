"""Amazon Resource Names: splitting, and the principal shapes iamguard understands."""

from __future__ import annotations

import re
from dataclasses import dataclass

TENANT_ID = re.compile(r"[a-z0-9-]{1,64}", re.ASCII)
# The unique id of an IAM user or role. IAM leaves it in a trust policy in place of the ARN of a
# principal that was deleted, so that one recreated under the same name is not trusted: it names
# the deleted principal alone, and so matches no request.
PRINCIPAL_ID = re.compile(r"(AIDA|AROA)[A-Z0-9]{16}", re.ASCII)


def split_arn(text: str) -> tuple[str, str, str, str, str, str] | None:
    """`arn:partition:service:region:account:resource` as six parts, or None when not an ARN.
    The resource part keeps any further colons."""
    parts = text.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        return None
    return parts[0], parts[1], parts[2], parts[3], parts[4], parts[5]


@dataclass(frozen=True)
class PrincipalName:
    """A request principal read from its ARN.

    kind is one of: user, role, assumed-role, root, federated-user, oidc-provider, other, external
    (a non-ARN name such as a service principal or an OIDC issuer).
    """

    text: str
    kind: str
    partition: str = ""
    account: str = ""
    name: str = ""  # user or role name (last path component); role name for a session
    session: str = ""

    @property
    def is_session(self) -> bool:
        return self.kind == "assumed-role"


def read_principal(text: str) -> PrincipalName:
    parts = split_arn(text)
    if parts is None:
        return PrincipalName(text, "external")
    _, partition, service, _, account, resource = parts
    kind, _, rest = resource.partition("/")
    if service == "iam" and resource == "root":
        return PrincipalName(text, "root", partition, account)
    if service == "iam" and kind in ("user", "role") and rest:
        return PrincipalName(text, kind, partition, account, rest.rsplit("/", 1)[-1])
    if service == "iam" and kind == "oidc-provider" and rest:
        return PrincipalName(text, "oidc-provider", partition, account, rest)
    if service == "sts" and kind == "assumed-role" and "/" in rest:
        role, _, session = rest.partition("/")
        return PrincipalName(text, "assumed-role", partition, account, role, session)
    if service == "sts" and kind == "federated-user" and rest:
        return PrincipalName(text, "federated-user", partition, account, rest)
    return PrincipalName(text, "other", partition, account)
