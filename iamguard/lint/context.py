"""The document under review, as the rules see it: the parsed model next to the raw JSON.

Rules reason on the validated model, but report pointers into the document as the author wrote
it (`"Action": "x"` is `/Statement/0/Action`, `"Action": ["x"]` is `/Statement/0/Action/0`), so
each parsed statement is paired with its raw object.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from iamguard.engine.patterns import compile_action
from iamguard.engine.wildcard import Matcher
from iamguard.errors import join_pointer
from iamguard.lint.coverage import action_services
from iamguard.lint.keys import DeclaredKeys
from iamguard.policy.model import ConditionEntry, PolicyDocument, PolicyKind, Statement, StatementEffect


def raw_statements(data: Any) -> list[tuple[str, Any]]:
    """Each raw statement with its pointer, whatever shape `Statement` has (never raises)."""
    if not isinstance(data, Mapping):
        return []
    raw = data.get("Statement")
    if isinstance(raw, Mapping):
        return [("/Statement", raw)]
    if isinstance(raw, list):
        return [(join_pointer("/Statement", index), item) for index, item in enumerate(raw)]
    return []


def item_pointer(raw_statement: Any, pointer: str, element: str, index: int) -> str:
    """The pointer of item `index` of an element that may be one string or a list."""
    element_pointer = join_pointer(pointer, element)
    if isinstance(raw_statement, Mapping) and isinstance(raw_statement.get(element), list):
        return join_pointer(element_pointer, index)
    return element_pointer


@dataclass(frozen=True)
class StatementView:
    statement: Statement
    raw: Mapping[str, Any]

    @property
    def pointer(self) -> str:
        return self.statement.pointer

    @property
    def label(self) -> str:
        return self.statement.label

    @property
    def is_allow(self) -> bool:
        return self.statement.effect is StatementEffect.ALLOW

    @property
    def is_deny(self) -> bool:
        return self.statement.effect is StatementEffect.DENY

    @property
    def action_element(self) -> str:
        return "NotAction" if self.statement.not_action else "Action"

    @property
    def resource_element(self) -> str:
        return "NotResource" if self.statement.not_resource else "Resource"

    def element_pointer(self, element: str) -> str:
        return join_pointer(self.pointer, element)

    def action_pointer(self, index: int) -> str:
        return item_pointer(self.raw, self.pointer, self.action_element, index)

    def resource_pointer(self, index: int) -> str:
        return item_pointer(self.raw, self.pointer, self.resource_element, index)

    @cached_property
    def services(self) -> frozenset[str] | None:
        return action_services(self.statement)

    @cached_property
    def _action_matchers(self) -> tuple[Matcher, ...]:
        return tuple(compile_action(action) for action in self.statement.actions)

    def grants_action(self, action: str) -> bool:
        """True when the statement's Action/NotAction covers the concrete action name."""
        lowered = action.lower()
        hit = any(matcher(lowered) for matcher in self._action_matchers)
        return hit != self.statement.not_action

    def conditions_on(self, key: str) -> list[ConditionEntry]:
        lowered = key.lower()
        return [entry for entry in self.statement.conditions if entry.key_lower == lowered]

    def has_null_guard(self, key: str) -> bool:
        """A `Null: {key: false}` condition: the statement applies only when the key is present."""
        return any(
            entry.operator.name == "Null" and any(str(value).lower() == "false" for value in entry.values)
            for entry in self.conditions_on(key)
        )


@dataclass(frozen=True)
class LintContext:
    document: PolicyDocument
    data: Any
    declared_keys: DeclaredKeys

    @property
    def kind(self) -> PolicyKind:
        return self.document.kind

    @property
    def variables(self) -> bool:
        return self.document.variables_enabled

    @cached_property
    def statements(self) -> tuple[StatementView, ...]:
        raw_by_pointer = dict(raw_statements(self.data))
        return tuple(
            StatementView(statement, raw_by_pointer.get(statement.pointer) or {})
            for statement in self.document.statements
        )

