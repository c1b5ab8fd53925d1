"""Regression tests from the sixth red-team review of the directory's IAM API semantics.

- GetAccountAuthorizationDetails' Filter: a number, a nested list or a number beside a misspelled
  type was a TypeError, a lone string a message listing single letters, and a mapping was read as
  its keys; IAM's fifth value, AWSManagedPolicy, was refused.
- A policy document given as a mapping was serialized with ASCII escapes, so each Latin-1
  character counted six towards IAM's size quota: the same document passed as text and failed as
  a mapping.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from iamguard.directory import Directory
from iamguard.directory.errors import InvalidInputError
from tests.directory.helpers import allow, trust

ALL_LISTS = ("UserDetailList", "GroupDetailList", "RoleDetailList", "Policies")


def _populated(directory: Directory) -> Directory:
    directory.create_user("alice")
    directory.create_group("ops")
    directory.create_role("deployer", trust())
    directory.create_policy("read", allow())
    return directory


def _sizes(details: dict[str, Any]) -> dict[str, int]:
    return {name: len(details[name]) for name in ALL_LISTS}


@pytest.mark.parametrize("filter_value, shown", [
    pytest.param("User", "not str", id="a-lone-string"),
    pytest.param(b"User", "not bytes", id="bytes"),
    pytest.param(1, "not int", id="a-number"),
    pytest.param({"User": True}, "not dict", id="a-mapping"),
    pytest.param([["User"]], "['User'] is invalid", id="a-nested-list"),
    # Sorting a misspelled name with a number to show them raised TypeError.
    pytest.param(["Users", 7], "'Users', 7 is invalid", id="a-non-string-item"),
])
def test_a_malformed_filter_is_invalid_input_naming_the_problem(directory: Directory, filter_value: Any,
                                                                  shown: str) -> None:
    with pytest.raises(InvalidInputError, match="Filter") as info:
        _populated(directory).get_account_authorization_details(filter_value)
    assert shown in str(info.value)


@pytest.mark.parametrize("filter_value, expected", [
    pytest.param(["AWSManagedPolicy"], {name: 0 for name in ALL_LISTS}, id="only-aws-managed"),
    pytest.param(["User", "Group", "Role", "LocalManagedPolicy", "AWSManagedPolicy"],
                 {name: 1 for name in ALL_LISTS}, id="all-five-values"),
    pytest.param(("Role", "AWSManagedPolicy"), {"UserDetailList": 0, "GroupDetailList": 0, "RoleDetailList": 1,
                                                "Policies": 0}, id="a-tuple"),
])
def test_iam_s_aws_managed_policy_filter_is_accepted_and_selects_nothing(directory: Directory, filter_value: Any,
                                                                        expected: dict[str, int]) -> None:
    assert _sizes(_populated(directory).get_account_authorization_details(filter_value)) == expected


# About 1,460 characters that are not whitespace: inside each quota below when counted as IAM does.
LATIN_1_DOCUMENT = allow(resource="arn:aws:s3:::bucket/" + "é" * 1400)


@pytest.mark.parametrize("store_it", [
    pytest.param(lambda d: d.put_user_policy("alice", "latin", LATIN_1_DOCUMENT), id="user-inline-2048"),
    pytest.param(lambda d: d.put_group_policy("ops", "latin", LATIN_1_DOCUMENT), id="group-inline"),
    pytest.param(lambda d: d.create_policy("latin", LATIN_1_DOCUMENT), id="managed"),
    pytest.param(lambda d: d.create_policy_version(d.create_policy("p", allow()).arn, LATIN_1_DOCUMENT),
                 id="managed-version"),
])
def test_a_mapping_counts_against_the_size_quota_as_its_text_does(directory: Directory, store_it: Any) -> None:
    _populated(directory)
    store_it(directory)
    details = directory.get_account_authorization_details()
    stored = json.dumps(details, ensure_ascii=False)
    assert "é" * 1400 in stored


def test_a_mapping_is_stored_as_readable_text_that_round_trips(directory: Directory) -> None:
    _populated(directory)
    directory.put_user_policy("alice", "latin", LATIN_1_DOCUMENT)
    inline = directory.get_user_policy("alice", "latin")
    assert "é" * 1400 in inline.policy_document
    assert inline.document_dict() == LATIN_1_DOCUMENT
