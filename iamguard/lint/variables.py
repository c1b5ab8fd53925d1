"""WARNING rule on the raw document: policy variables where IAM leaves them as literal text.

IAM expands `${...}` only under Version 2012-10-17, and only in the resource part of Resource /
NotResource and in String, ARN and Bool condition values. Anywhere else the author's
`${aws:username}` is compared as those sixteen characters, which is never what was meant.
Reads the JSON as written, so it also explains some of the parser's ERRORs (a variable in a
Numeric condition is both an unreadable number and a variable IAM will not expand).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from iamguard.errors import join_pointer
from iamguard.lint.context import item_pointer, raw_statements
from iamguard.lint.findings import LintFinding, Severity
from iamguard.policy.model import VERSION_2012
from iamguard.policy.operators import parse_operator

_W = Severity.WARNING
_CODE = "VARIABLE_NOT_EXPANDED"


def _has_variable(value: Any) -> bool:
    return isinstance(value, str) and "${" in value


def _strings(value: Any, pointer: str) -> Iterator[tuple[str, str]]:
    """Every string inside a JSON value, with its pointer."""
    if isinstance(value, str):
        yield pointer, value
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, join_pointer(pointer, index))
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _strings(item, join_pointer(pointer, key))


def check_variables(data: Any) -> Iterator[LintFinding]:
    if not isinstance(data, Mapping):
        return
    version = data.get("Version")
    expands = version == VERSION_2012
    version_fix = (f"the policy's Version is {version!r}" if "Version" in data else "the policy has no Version") + \
        f", so IAM reads it as literal text; set \"Version\": \"{VERSION_2012}\""
    for pointer, raw in raw_statements(data):
        if not isinstance(raw, Mapping):
            continue
        for element in ("Action", "NotAction"):
            for where, text in _strings(raw.get(element), join_pointer(pointer, element)):
                if _has_variable(text):
                    yield LintFinding(_W, _CODE, where,
                                      f"{text!r}: IAM never expands policy variables in {element}; "
                                      "name the actions literally")
        for element in ("Principal", "NotPrincipal"):
            for where, text in _strings(raw.get(element), join_pointer(pointer, element)):
                if _has_variable(text):
                    yield LintFinding(_W, _CODE, where,
                                      f"{text!r}: IAM never expands policy variables in {element}; name the "
                                      "principal literally, or test aws:PrincipalArn in a Condition")
        if not expands:
            for element in ("Resource", "NotResource"):
                items = raw.get(element)
                for index, text in enumerate(items if isinstance(items, list) else [items]):
                    if _has_variable(text):
                        yield LintFinding(_W, _CODE, item_pointer(raw, pointer, element, index),
                                          f"{text!r} uses a policy variable, but {version_fix}")
        yield from _condition_variables(raw.get("Condition"), join_pointer(pointer, "Condition"), expands,
                                        version_fix)


def _condition_variables(block: Any, pointer: str, expands: bool, version_fix: str) -> Iterator[LintFinding]:
    if not isinstance(block, Mapping):
        return
    for operator_name, keys in block.items():
        if not isinstance(keys, Mapping):
            continue
        try:
            operator = parse_operator(str(operator_name))
        except ValueError:
            continue  # the parser reports unknown operators
        operator_pointer = join_pointer(pointer, operator_name)
        for key, values in keys.items():
            for where, text in _strings(values, join_pointer(operator_pointer, key)):
                if not _has_variable(text):
                    continue
                if not operator.base.accepts_variables:
                    yield LintFinding(_W, _CODE, where,
                                      f"{text!r}: IAM does not expand policy variables in {operator.base.name} "
                                      "conditions (only in String, ARN and Bool ones); write the value literally "
                                      "or compare with a String operator")
                elif not expands:
                    yield LintFinding(_W, _CODE, where, f"{text!r} uses a policy variable, but {version_fix}")
