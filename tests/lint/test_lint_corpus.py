"""The linter over ordinary, correct policies from the AWS documentation (written from memory):
no ERROR, only the findings listed below (each one defensible for iamguard), and every finding's
JSON pointer names an element that exists in the document."""

from __future__ import annotations

import json
from typing import Any

import pytest

from iamguard.lint import Severity, validate_policy

CORPUS: dict[str, dict[str, Any]] = {
    "s3_home_dir": {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AllowListingOfUserFolder",
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": "arn:aws:s3:::amzn-s3-demo-bucket",
                "Condition": {"StringLike": {"s3:prefix": ["${aws:username}/*", "${aws:username}"]}},
            },
            {
                "Sid": "AllowAllS3ActionsInUserFolder",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                "Resource": "arn:aws:s3:::amzn-s3-demo-bucket/${aws:username}/*",
            },
        ],
    },
    "mfa_protected": {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "AllowEc2", "Effect": "Allow", "Action": "ec2:*", "Resource": "*"},
            {
                "Sid": "DenyStopAndTerminateWhenMFAIsNotPresent",
                "Effect": "Deny",
                "Action": ["ec2:StopInstances", "ec2:TerminateInstances"],
                "Resource": "*",
                "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}},
            },
        ],
    },
    "ip_restrict": {
        "Version": "2012-10-17",
        "Statement": {
            "Effect": "Deny",
            "Action": "*",
            "Resource": "*",
            "Condition": {
                "NotIpAddress": {"aws:SourceIp": ["192.0.2.0/24", "203.0.113.0/24"]},
                "Bool": {"aws:ViaAWSService": "false"},
            },
        },
    },
    "time_window": {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "service-prefix:action-name",
                "Resource": "*",
                "Condition": {
                    "DateGreaterThan": {"aws:CurrentTime": "2020-04-01T00:00:00Z"},
                    "DateLessThan": {"aws:CurrentTime": "2020-06-30T23:59:59Z"},
                },
            }
        ],
    },
    "abac_tags": {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AllowActionsSameTeam",
                "Effect": "Allow",
                "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:ResourceTag/access-project": "${aws:PrincipalTag/access-project}"}},
            },
            {
                "Sid": "AllowCreateWithTags",
                "Effect": "Allow",
                "Action": "secretsmanager:CreateSecret",
                "Resource": "*",
                "Condition": {
                    "StringEquals": {"aws:RequestTag/access-project": "${aws:PrincipalTag/access-project}"},
                    "ForAllValues:StringEquals": {"aws:TagKeys": ["access-project", "Name"]},
                },
            },
        ],
    },
    "secure_transport": {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AllowSSLRequestsOnly",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": ["arn:aws:s3:::amzn-s3-demo-bucket", "arn:aws:s3:::amzn-s3-demo-bucket/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    },
    "self_manage_creds": {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AllowViewAccountInfo",
                "Effect": "Allow",
                "Action": ["iam:GetAccountPasswordPolicy", "iam:ListVirtualMFADevices"],
                "Resource": "*",
            },
            {
                "Sid": "AllowManageOwnPasswords",
                "Effect": "Allow",
                "Action": ["iam:ChangePassword", "iam:GetUser"],
                "Resource": "arn:aws:iam::*:user/${aws:username}",
            },
            {
                "Sid": "AllowManageOwnAccessKeys",
                "Effect": "Allow",
                "Action": ["iam:CreateAccessKey", "iam:DeleteAccessKey", "iam:ListAccessKeys", "iam:UpdateAccessKey"],
                "Resource": "arn:aws:iam::*:user/${aws:username}",
            },
            {
                "Sid": "AllowManageOwnVirtualMFADevice",
                "Effect": "Allow",
                "Action": ["iam:CreateVirtualMFADevice"],
                "Resource": "arn:aws:iam::*:mfa/*",
            },
            {
                "Sid": "AllowManageOwnUserMFA",
                "Effect": "Allow",
                "Action": [
                    "iam:DeactivateMFADevice",
                    "iam:EnableMFADevice",
                    "iam:ListMFADevices",
                    "iam:ResyncMFADevice",
                ],
                "Resource": "arn:aws:iam::*:user/${aws:username}",
            },
            {
                "Sid": "DenyAllExceptListedIfNoMFA",
                "Effect": "Deny",
                "NotAction": [
                    "iam:CreateVirtualMFADevice",
                    "iam:EnableMFADevice",
                    "iam:GetUser",
                    "iam:ChangePassword",
                    "iam:ListMFADevices",
                    "iam:ListVirtualMFADevices",
                    "iam:ResyncMFADevice",
                    "sts:GetSessionToken",
                ],
                "Resource": "*",
                "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}},
            },
        ],
    },
    "boundary_delegation": {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "CreateOrChangeOnlyWithBoundary",
                "Effect": "Allow",
                "Action": [
                    "iam:CreateUser",
                    "iam:DeleteUserPolicy",
                    "iam:AttachUserPolicy",
                    "iam:DetachUserPolicy",
                    "iam:PutUserPermissionsBoundary",
                    "iam:PutUserPolicy",
                ],
                "Resource": "*",
                "Condition": {
                    "StringEquals": {"iam:PermissionsBoundary": "arn:aws:iam::123456789012:policy/XCompanyBoundaries"}
                },
            },
            {
                "Sid": "CloudWatchAndOtherIAMTasks",
                "Effect": "Allow",
                "Action": [
                    "cloudwatch:*",
                    "iam:GetUser",
                    "iam:ListUsers",
                    "iam:DeleteUser",
                    "iam:UpdateUser",
                    "iam:CreateAccessKey",
                    "iam:CreateLoginProfile",
                    "iam:GetPolicy",
                    "iam:GetPolicyVersion",
                    "iam:GetUserPolicy",
                    "iam:ListAttachedUserPolicies",
                    "iam:ListPolicies",
                    "iam:ListUserPolicies",
                ],
                "Resource": "*",
            },
            {
                "Sid": "NoBoundaryPolicyEdit",
                "Effect": "Deny",
                "Action": [
                    "iam:CreatePolicyVersion",
                    "iam:DeletePolicy",
                    "iam:DeletePolicyVersion",
                    "iam:SetDefaultPolicyVersion",
                ],
                "Resource": [
                    "arn:aws:iam::123456789012:policy/XCompanyBoundaries",
                    "arn:aws:iam::123456789012:policy/DelegatedUserBoundary",
                ],
            },
            {
                "Sid": "NoBoundaryUserDelete",
                "Effect": "Deny",
                "Action": "iam:DeleteUserPermissionsBoundary",
                "Resource": "*",
            },
        ],
    },
    "mfa_age_deny": {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "ec2:*", "Resource": "*"},
            {
                "Effect": "Deny",
                "Action": "ec2:TerminateInstances",
                "Resource": "*",
                "Condition": {"NumericGreaterThanIfExists": {"aws:MultiFactorAuthAge": "3600"}},
            },
            {
                "Effect": "Deny",
                "Action": "ec2:TerminateInstances",
                "Resource": "*",
                "Condition": {"Null": {"aws:MultiFactorAuthAge": "true"}},
            },
        ],
    },
    "region_restrict": {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyAllOutsideRequestedRegions",
                "Effect": "Deny",
                "NotAction": ["iam:*", "sts:*", "support:*"],
                "Resource": "*",
                "Condition": {"StringNotEquals": {"aws:RequestedRegion": ["eu-central-1", "eu-west-1"]}},
            }
        ],
    },
    "dynamodb_leading_keys": {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["dynamodb:GetItem", "dynamodb:Query"],
                "Resource": ["arn:aws:dynamodb:*:123456789012:table/MyTable"],
                "Condition": {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["${aws:userid}"]}},
            }
        ],
    },
    "principal_org": {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::amzn-s3-demo-bucket/*",
                "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-xxxxxxxxxx"}},
            }
        ],
    },
}
RESOURCE_POLICIES = {"secure_transport", "principal_org"}
# What each document is expected to report, as (code, pointer). Why each is right for iamguard:
# - UNKNOWN_CONDITION_KEY: AWS fills s3:prefix, aws:ViaAWSService, aws:RequestedRegion,
#   dynamodb:LeadingKeys and aws:PrincipalOrgID; iamguard does not, so an application must declare them.
# - DENY_SKIPPED_WHEN_KEY_ABSENT on aws:ViaAWSService: without that key the IP-restricting Deny
#   never applies in iamguard (Bool false on an absent key is false).
# - FOR_ALL_VALUES_WITHOUT_NULL_GUARD: ForAllValues holds when the key is absent (AWS's own advice).
# - PRIVILEGE_ESCALATION in the delegation example: iam:CreateAccessKey / iam:CreateLoginProfile on
#   Resource "*" without a condition lets the delegate mint credentials for any user.
EXPECTED: dict[str, set[tuple[str, str]]] = {
    "s3_home_dir": {("UNKNOWN_CONDITION_KEY", "/Statement/0/Condition/StringLike/s3:prefix")},
    "mfa_protected": set(),
    "ip_restrict": {
        ("DENY_SKIPPED_WHEN_KEY_ABSENT", "/Statement/Condition/Bool/aws:ViaAWSService"),
        ("UNKNOWN_CONDITION_KEY", "/Statement/Condition/Bool/aws:ViaAWSService"),
    },
    "time_window": set(),
    "abac_tags": {
        ("FOR_ALL_VALUES_WITHOUT_NULL_GUARD", "/Statement/1/Condition/ForAllValues:StringEquals/aws:TagKeys")
    },
    "secure_transport": set(),
    "self_manage_creds": set(),
    "boundary_delegation": {("PRIVILEGE_ESCALATION", "/Statement/1/Action")},
    "mfa_age_deny": set(),
    "region_restrict": {("UNKNOWN_CONDITION_KEY", "/Statement/0/Condition/StringNotEquals/aws:RequestedRegion")},
    "dynamodb_leading_keys": {
        ("FOR_ALL_VALUES_WITHOUT_NULL_GUARD", "/Statement/0/Condition/ForAllValues:StringEquals/dynamodb:LeadingKeys"),
        ("UNKNOWN_CONDITION_KEY", "/Statement/0/Condition/ForAllValues:StringEquals/dynamodb:LeadingKeys"),
    },
    "principal_org": {("UNKNOWN_CONDITION_KEY", "/Statement/0/Condition/StringEquals/aws:PrincipalOrgID")},
}


def _resolve(document: Any, pointer: str) -> Any:
    target = document
    for token in pointer.split("/")[1:] if pointer else []:
        token = token.replace("~1", "/").replace("~0", "~")
        target = target[int(token)] if isinstance(target, list) else target[token]
    return target


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_ordinary_policies_report_only_defensible_findings(name: str) -> None:
    document = CORPUS[name]
    kind = "resource" if name in RESOURCE_POLICIES else "identity"
    findings = validate_policy(json.dumps(document), kind)
    assert not [finding for finding in findings if finding.severity is Severity.ERROR]
    assert {(finding.code, finding.pointer) for finding in findings} == EXPECTED[name]
    for finding in findings:
        _resolve(document, finding.pointer)  # raises (fails the test) when the pointer names nothing


def test_corpus_and_expectations_name_the_same_documents() -> None:
    assert set(CORPUS) == set(EXPECTED)
