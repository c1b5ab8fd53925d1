"""Red-team round 6 on evaluation across policy types, principals and tenants: regressions.

- Principal types were not kept apart: `{"Service": "idp.example.com"}` and
  `{"Federated": "idp.example.com"}` were one set of names, and AssumeRoleWithWebIdentity
  evaluated the trust policy with the issuer's bare host as the principal too. A role that trusts
  only the *service* `idp.example.com` could then be assumed by anyone holding a token from the
  OpenID Connect issuer `https://idp.example.com` (IAM: a Service principal never matches a
  federated caller). The provider is now evaluated by its ARN alone, which Federated entries name
  by ARN or by provider name, and Service entries never name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from iamguard import Effect
from iamguard.credentials import AccessDenied
from tests.credentials.conftest import TENANT
from tests.credentials.test_credentials_oidc import ROLE_ARN, Idp, env_with
from tests.engine.support import ACCOUNT, ALLOW, EXPLICIT, IMPLICIT, allow, decide, deny, policy

HOST = "idp.example.com"
PROVIDER = f"arn:aws:iam::{ACCOUNT}:oidc-provider/{HOST}"
OTHER_PROVIDER = f"arn:aws:iam::{ACCOUNT}:oidc-provider/other.example.com"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/web"
FEDERATE = "sts:AssumeRoleWithWebIdentity"


def _grant(principal: Any) -> dict[str, Any]:
    return policy(allow(FEDERATE, ROLE, principal=principal))


@pytest.mark.parametrize(
    ("named", "principal", "expected"),
    [
        ({"Federated": PROVIDER}, PROVIDER, ALLOW),
        ({"Federated": HOST}, PROVIDER, ALLOW),  # IAM names an identity provider by ARN or by name
        ({"Service": HOST}, PROVIDER, IMPLICIT),  # a service is never a federated caller
        ({"Service": HOST}, HOST, ALLOW),  # a bare service name is still named by Service
        ({"Federated": HOST}, OTHER_PROVIDER, IMPLICIT),
        ({"Federated": f"{HOST}/realms/a"}, PROVIDER, IMPLICIT),  # the whole provider name, not a prefix
        ({"AWS": ACCOUNT}, PROVIDER, IMPLICIT),  # the tenant does not name its identity providers
    ],
)
def test_principal_types_stay_apart_for_an_identity_provider(named: Any, principal: str, expected: Effect) -> None:
    assert decide(resource_policy=_grant(named), principal=principal, action=FEDERATE,
                  resource=ROLE).effect is expected


@pytest.mark.parametrize(
    ("not_principal", "expected"),
    [
        ({"Federated": HOST}, ALLOW),  # listed by name: exempt
        ({"Federated": PROVIDER}, ALLOW),
        ({"Service": HOST}, EXPLICIT),  # a Service entry does not exempt the provider
    ],
)
def test_not_principal_exempts_a_provider_only_as_federated(not_principal: Any, expected: Effect) -> None:
    document = policy(allow(FEDERATE, ROLE, principal="*"), deny(FEDERATE, ROLE, not_principal=not_principal))
    assert decide(resource_policy=document, principal=PROVIDER, action=FEDERATE, resource=ROLE).effect is expected


# --- end to end through AssumeRoleWithWebIdentity ------------------------------------------------


def _trust(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _statement(effect: str, principal: Any) -> dict[str, Any]:
    return {"Effect": effect, "Principal": principal, "Action": FEDERATE}


@pytest.mark.parametrize(
    ("trust", "assumed"),
    [
        (_trust(_statement("Allow", {"Service": HOST})), False),
        (_trust(_statement("Allow", {"Service": [HOST, "jobs.example.com"]})), False),
        (_trust(_statement("Allow", {"Federated": HOST})), True),
        (_trust(_statement("Allow", {"Federated": f"arn:aws:iam::{TENANT}:oidc-provider/{HOST}"})), True),
        # A Deny naming the provider by name still applies, now that only its ARN is evaluated.
        (_trust(_statement("Allow", {"Federated": f"arn:aws:iam::{TENANT}:oidc-provider/{HOST}"}),
                _statement("Deny", {"Federated": HOST})), False),
    ],
)
def test_web_identity_needs_a_federated_trust(tmp_path: Path, trust: dict[str, Any], assumed: bool) -> None:
    idp = Idp()
    env = env_with(tmp_path, idp, inline=True)
    env.directory.create_role("web", trust)
    token = idp.token(env.clock.time())
    if assumed:
        issued = env.creds.assume_role_with_web_identity(ROLE_ARN, "web-1", token)
        assert issued.session_arn == f"arn:aws:sts::{TENANT}:assumed-role/web/web-1"
    else:
        with pytest.raises(AccessDenied):
            env.creds.assume_role_with_web_identity(ROLE_ARN, "web-1", token)
