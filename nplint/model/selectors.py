"""Label selectors with the exact ``metav1.LabelSelector`` semantics.

``matchLabels`` and ``matchExpressions`` are ANDed; an empty selector matches
everything; ``NotIn`` and ``DoesNotExist`` match objects that lack the key
(networkpolicy-semantics §2.5).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum

from nplint.loading.nodes import Node
from nplint.records import record
from nplint.untrusted import shown


class Operator(Enum):
    IN = "In"
    NOT_IN = "NotIn"
    EXISTS = "Exists"
    DOES_NOT_EXIST = "DoesNotExist"


@record(frozen=True, slots=True)
class Requirement:
    key: str
    #: None when the operator is not one of the four the API accepts; such a
    #: requirement matches nothing (the API server would reject the object).
    operator: Operator | None
    values: frozenset[str]

    def matches(self, labels: Mapping[str, str]) -> bool:
        operator = self.operator
        if operator is Operator.IN:
            value = labels.get(self.key)
            return value is not None and value in self.values
        if operator is Operator.NOT_IN:
            value = labels.get(self.key)
            return value is None or value not in self.values
        if operator is Operator.EXISTS:
            return self.key in labels
        if operator is Operator.DOES_NOT_EXIST:
            return self.key not in labels
        return False

    def __str__(self) -> str:
        # Keys and values are the repository's: messages quote them escaped and capped.
        operator = self.operator.value if self.operator else "?"
        key = shown(self.key)
        if self.operator in (Operator.IN, Operator.NOT_IN):
            return f"{key} {operator} ({', '.join(shown(value) for value in sorted(self.values))})"
        if self.operator is Operator.DOES_NOT_EXIST:
            return f"!{key}"
        return key if self.operator is Operator.EXISTS else f"{key} {operator}"


@record(frozen=True, slots=True, eq=False)
class LabelSelector:
    """A parsed selector. ``node`` is the YAML node it came from, for positions."""

    match_labels: tuple[tuple[str, str], ...] = ()
    expressions: tuple[Requirement, ...] = ()
    node: Node | None = None

    @property
    def is_empty(self) -> bool:
        """An empty selector selects everything."""
        return not self.match_labels and not self.expressions

    def matches(self, labels: Mapping[str, str]) -> bool:
        for key, value in self.match_labels:
            if labels.get(key) != value:
                return False
        # Most selectors have none: no generator made for them (asked of every pod, for every selector).
        return not self.expressions or all(requirement.matches(labels) for requirement in self.expressions)

    @property
    def keys(self) -> frozenset[str]:
        return frozenset(key for key, _ in self.match_labels) | frozenset(r.key for r in self.expressions)

    def signature(self) -> tuple[object, ...]:
        """A hashable value equal for selectors with the same requirements."""
        return (
            tuple(sorted(self.match_labels)),
            tuple(sorted((r.key, str(r.operator), tuple(sorted(r.values))) for r in self.expressions)),
        )

    def __str__(self) -> str:
        parts = [f"{shown(key)}={shown(value)}" for key, value in self.match_labels]
        parts.extend(str(requirement) for requirement in self.expressions)
        return "{" + ", ".join(parts) + "}" if parts else "{}"


#: The selector that matches everything.
EVERYTHING = LabelSelector()
