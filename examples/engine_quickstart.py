"""Evaluate a policy and print the explained decision: the engine on its own, no web app."""

import iamguard

POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "ReadOwnTeamOrders",
            "Effect": "Allow",
            "Action": "orders:Get*",
            "Resource": "arn:app:orders:us-east-1:123456789012:order/*",
            "Condition": {
                "IpAddress": {"aws:SourceIp": "10.0.0.0/8"},
                "StringEquals": {"aws:PrincipalTag/team": "blue"},
            },
        },
        {
            "Sid": "DeletesNeedFreshMfa",
            "Effect": "Deny",
            "Action": "orders:DeleteOrder",
            "Resource": "*",
            "Condition": {"NumericGreaterThanIfExists": {"aws:MultiFactorAuthAge": "300"}},
        },
    ],
}


def main() -> None:
    policy_set = iamguard.PolicySet(identity_policies=[POLICY])
    for source_ip in ("10.0.0.7", "192.0.2.1"):
        request = iamguard.Request(
            principal="arn:aws:iam::123456789012:user/alice",
            action="orders:GetOrder",
            resource="arn:app:orders:us-east-1:123456789012:order/42",
            context={"aws:SourceIp": source_ip, "aws:PrincipalTag/team": "blue"},
        )
        decision = policy_set.evaluate(request)
        print(decision.explain())
        print()


if __name__ == "__main__":
    main()
