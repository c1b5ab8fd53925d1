"""IAM actions that let whoever holds them change what a principal may do (privilege escalation).

Holding any of these without a condition or a narrow Resource is equivalent to holding every
permission the action can grant: a user who may attach policies can attach AdministratorAccess
to itself (security spec ESC-01..05).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SensitiveAction:
    name: str
    why: str
    # Credential actions are the normal self-service when every resource is the caller itself.
    self_service: bool = False


SENSITIVE_ACTIONS: tuple[SensitiveAction, ...] = (
    SensitiveAction("iam:AttachUserPolicy", "attaches any managed policy to a user"),
    SensitiveAction("iam:AttachGroupPolicy", "attaches any managed policy to a group"),
    SensitiveAction("iam:AttachRolePolicy", "attaches any managed policy to a role"),
    SensitiveAction("iam:PutUserPolicy", "writes an inline policy on a user"),
    SensitiveAction("iam:PutGroupPolicy", "writes an inline policy on a group"),
    SensitiveAction("iam:PutRolePolicy", "writes an inline policy on a role"),
    SensitiveAction("iam:CreatePolicyVersion", "rewrites a managed policy that is already attached"),
    SensitiveAction("iam:SetDefaultPolicyVersion", "switches a managed policy to another of its versions"),
    SensitiveAction("iam:PutUserPermissionsBoundary", "replaces a user's permissions boundary"),
    SensitiveAction("iam:PutRolePermissionsBoundary", "replaces a role's permissions boundary"),
    SensitiveAction("iam:DeleteUserPermissionsBoundary", "removes a user's permissions boundary"),
    SensitiveAction("iam:DeleteRolePermissionsBoundary", "removes a role's permissions boundary"),
    SensitiveAction("iam:UpdateAssumeRolePolicy", "adds anyone to a role's trust policy"),
    SensitiveAction("iam:AddUserToGroup", "joins any group, with the group's policies"),
    SensitiveAction("iam:PassRole", "hands a role to something that runs with its permissions"),
    SensitiveAction("iam:TagUser", "sets the principal tags that aws:PrincipalTag conditions trust"),
    SensitiveAction("iam:TagRole", "sets the principal tags that aws:PrincipalTag conditions trust"),
    SensitiveAction("iam:CreateAccessKey", "issues credentials for another user", self_service=True),
    SensitiveAction("iam:CreateLoginProfile", "sets another user's password", self_service=True),
    SensitiveAction("iam:UpdateLoginProfile", "changes another user's password", self_service=True),
    SensitiveAction("iam:DeactivateMFADevice", "removes another user's MFA", self_service=True),
)

PASS_ROLE = "iam:PassRole"

# Policy variables naming the caller: a Resource built only from them is the caller's own user.
SELF_VARIABLES = ("${aws:username}", "${aws:userid}")
