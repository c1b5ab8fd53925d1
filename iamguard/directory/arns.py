"""ARNs of directory entities: `arn:<partition>:iam::<tenant>:user<path><name>` and friends."""

from __future__ import annotations

from dataclasses import dataclass

from iamguard.directory.errors import InvalidInputError
from iamguard.policy.arn import split_arn


def entity_arn(partition: str, tenant_id: str, kind: str, path: str, name: str) -> str:
    """`kind` is user, group, role or policy."""
    return f"arn:{partition}:iam::{tenant_id}:{kind}{path}{name}"


@dataclass(frozen=True)
class IamArn:
    partition: str
    account: str
    kind: str
    path: str
    name: str


def parse_iam_arn(arn: object, kinds: tuple[str, ...], parameter: str) -> IamArn:
    """Read an IAM ARN of one of `kinds`. Raises InvalidInputError when it is not one."""
    shown = repr(arn) if not isinstance(arn, str) or len(arn) <= 200 else repr(arn[:197] + "...")
    expected = " or ".join(kinds)
    if not isinstance(arn, str):
        raise InvalidInputError(f"{parameter} {shown} is not an ARN")
    parts = split_arn(arn)
    if parts is None or parts[2] != "iam" or parts[3] != "":
        raise InvalidInputError(f"{parameter} {shown} is not an IAM {expected} ARN "
                                f"(arn:<partition>:iam::<tenant>:{kinds[0]}/<path/><name>)")
    _, partition, _, _, account, resource = parts
    kind, slash, rest = resource.partition("/")
    if kind not in kinds or not slash or not rest or rest.endswith("/"):
        raise InvalidInputError(f"{parameter} {shown} is not an IAM {expected} ARN")
    cut = rest.rfind("/") + 1
    return IamArn(partition, account, kind, "/" + rest[:cut], rest[cut:])
