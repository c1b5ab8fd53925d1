"""Managed policies are written in the current policy language only, as IAM's CreatePolicy and
CreatePolicyVersion require; inline policies may still omit Version or name 2008-10-17."""

from __future__ import annotations

from typing import Any

import pytest

from iamguard.directory import Directory, MalformedPolicyDocumentError
from tests.directory.helpers import allow


def written_as(version: str | None) -> dict[str, Any]:
    document = dict(allow())
    document.pop("Version", None)
    if version is not None:
        document["Version"] = version
    return document


@pytest.mark.parametrize("version", [None, "2008-10-17"])
def test_a_managed_policy_in_the_old_language_is_refused_and_nothing_is_stored(directory: Directory,
                                                                               version: str | None) -> None:
    with pytest.raises(MalformedPolicyDocumentError) as raised:
        directory.create_policy("Old", written_as(version))
    assert "Policy document must be version 2012-10-17 or greater: /Version" in str(raised.value)
    assert [(finding.pointer, finding.code) for finding in raised.value.findings] == [("/Version", "InvalidVersion")]
    assert directory.list_policies().items == ()
    current = directory.create_policy("Current", written_as("2012-10-17"))
    with pytest.raises(MalformedPolicyDocumentError):
        directory.create_policy_version(current.arn, written_as(version), set_as_default=True)
    assert [item.version_id for item in directory.list_policy_versions(current.arn).items] == ["v1"]


@pytest.mark.parametrize("version", [None, "2008-10-17", "2012-10-17"])
def test_inline_policies_take_every_version_iam_accepts(directory: Directory, version: str | None) -> None:
    directory.create_user("alice")
    directory.put_user_policy("alice", "inline", written_as(version))
    assert list(directory.list_user_policies("alice").items) == ["inline"]
