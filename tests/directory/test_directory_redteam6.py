"""Regression tests from the sixth red-team review of the identity directory: an import whose JSON
nests too deeply is refused with InvalidInput (security spec DOS-01), never a RecursionError."""

from __future__ import annotations

import pytest

from iamguard.directory import Directory
from iamguard.directory.errors import InvalidInputError
from iamguard.store.base import DirectoryStore

DEPTH = 100_000

# Text Python's json module cannot follow to the end: it raises RecursionError, which is not a
# ValueError, so the import let it escape as a crash instead of an input error.
DEEP_EXPORTS = [
    pytest.param("[" * DEPTH + "]" * DEPTH, id="arrays-str"),
    pytest.param(b'{"a":' * DEPTH + b"1" + b"}" * DEPTH, id="objects-bytes"),
    pytest.param('{"format": "iamguard.directory.tenant", "version": 1, "tenant": ' + "[" * DEPTH + "]" * DEPTH + "}",
                 id="inside-an-export"),
]


@pytest.mark.parametrize("document", DEEP_EXPORTS)
def test_an_import_nested_too_deeply_is_invalid_input(store: DirectoryStore, document: str | bytes) -> None:
    with pytest.raises(InvalidInputError, match="nests too deeply"):
        Directory.import_tenant(store, document)
    assert Directory.list_tenants(store) == ()
    assert store.generation() == 0


def test_an_import_that_is_not_json_is_still_reported_as_such(store: DirectoryStore) -> None:
    with pytest.raises(InvalidInputError, match="the export is not JSON"):
        Directory.import_tenant(store, "{not json")
