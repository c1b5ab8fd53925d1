"""IAM's input rules, ASCII only (security spec ID-02): every refusal is InvalidInput and changes
nothing."""

from __future__ import annotations

from typing import Any

import pytest

from iamguard.directory import Directory, InvalidInputError, Quotas
from tests.directory.helpers import refused, trust

GOOD_USER_NAMES = ["a", "A" * 64, "alice.smith@example.com", "x+y=z,w_v-u", "0"]
BAD_USER_NAMES = [
    "", "A" * 65, "alice smith", "alice/bob", "al*ce", "al?ce", "alice\n", "\nalice", "alice\x00",
    "\u0430lice",  # Cyrillic a
    "\uff41lice",  # fullwidth a
    "alice\u0663",  # Arabic-Indic digit: \d would accept it
    "\ufb00",  # a ligature letter: \w would accept it
    "\u212a",  # Kelvin sign, folds to k under IGNORECASE
    "${aws:username}", "alice:bob", None, 7, b"alice",
]


@pytest.mark.parametrize("name", GOOD_USER_NAMES)
def test_valid_user_names(directory: Directory, name: str) -> None:
    assert directory.create_user(name).user_name == name


@pytest.mark.parametrize("name", BAD_USER_NAMES)
def test_invalid_user_names(directory: Directory, name: Any) -> None:
    error = refused(directory, InvalidInputError, directory.create_user, name)
    assert error.code == "InvalidInput" and "UserName" in str(error)


@pytest.mark.parametrize("name, valid", [("g" * 128, True), ("g" * 129, False), ("dev ops", False),
                                         ("devs\n", False)])
def test_group_name_lengths(directory: Directory, name: str, valid: bool) -> None:
    if valid:
        assert directory.create_group(name).group_name == name
    else:
        refused(directory, InvalidInputError, directory.create_group, name)


@pytest.mark.parametrize("name, valid", [("r" * 64, True), ("r" * 65, False), ("rôle", False)])
def test_role_name_lengths(directory: Directory, name: str, valid: bool) -> None:
    if valid:
        assert directory.create_role(name, trust()).role_name == name
    else:
        refused(directory, InvalidInputError, directory.create_role, name, trust())


@pytest.mark.parametrize("name, valid", [("p" * 128, True), ("p" * 129, False), ("Read Only", False)])
def test_policy_name_lengths(directory: Directory, name: str, valid: bool) -> None:
    document = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    if valid:
        assert directory.create_policy(name, document).policy_name == name
    else:
        refused(directory, InvalidInputError, directory.create_policy, name, document)


@pytest.mark.parametrize("path, valid", [
    ("/", True), ("/a/", True), ("/a/b/c/", True), ("/" + "p" * 510 + "/", True), ("///", True),
    ("", False), ("a/", False), ("/a", False), ("//", False), ("/" + "p" * 511 + "/", False),
    ("/a b/", False), ("/é/", False), ("/a/\n", False), ("/a/\x7f/", False),
])
def test_paths(directory: Directory, path: str, valid: bool) -> None:
    if valid:
        assert directory.create_user("alice", path=path).path == path
    else:
        refused(directory, InvalidInputError, directory.create_user, "alice", path=path)


@pytest.mark.parametrize("prefix", ["", "eng", "/é", "/" + "p" * 512, None])
def test_bad_path_prefixes(directory: Directory, prefix: Any) -> None:
    with pytest.raises(InvalidInputError):
        directory.list_users(path_prefix=prefix)


@pytest.mark.parametrize("tags, valid", [
    ({"team": "blue"}, True),
    ({"k" * 128: "v" * 256}, True),
    ({"a b:c/d=e+f-g@h_i.j": ""}, True),
    ({"k" * 129: "v"}, False),
    ({"k": "v" * 257}, False),
    ({"": "v"}, False),
    ({"aws:team": "blue"}, False),
    ({"AWS:team": "blue"}, False),
    ({"team": "blue\n"}, False),
    ({"tëam": "blue"}, False),
    ({"team": "*"}, False),
    ([("team", "a"), ("TEAM", "b")], False),
    ([{"Key": "team"}], False),
    ("team=blue", False),
    ({"team": 7}, False),
])
def test_tags(directory: Directory, tags: Any, valid: bool) -> None:
    if valid:
        assert directory.create_user("alice", tags=tags).tags
    else:
        refused(directory, InvalidInputError, directory.create_user, "alice", tags=tags)


def test_description_rules(directory: Directory) -> None:
    assert directory.create_role("a", trust(), description="Déjà vu\tok").description == "Déjà vu\tok"
    refused(directory, InvalidInputError, directory.create_role, "b", trust(), description="x" * 1001)
    refused(directory, InvalidInputError, directory.create_role, "b", trust(), description="snow ☃")


@pytest.mark.parametrize("document", [42, None, ["Statement"], object()])
def test_documents_must_be_json_text_or_mappings(directory: Directory, document: Any) -> None:
    directory.create_user("alice")
    refused(directory, InvalidInputError, directory.put_user_policy, "alice", "P", document)


def test_markers_are_checked(directory: Directory) -> None:
    for marker in ("", "a b", "\n", 5):
        with pytest.raises(InvalidInputError):
            directory.list_users(marker=marker)  # type: ignore[arg-type]


def test_quotas_must_be_positive_integers() -> None:
    assert Quotas().groups_per_user == 10
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError):
            Quotas(groups_per_user=bad)  # type: ignore[arg-type]
