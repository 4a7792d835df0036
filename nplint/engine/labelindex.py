"""Label indexes over pod classes and namespaces, so a selector is matched without a full scan.

Selector peers select pods that are on the pod network only: host-network pods
are never selected (networkpolicy-semantics §2.10), so they are left out of
every index here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from nplint.engine.endpoints import PodClass
from nplint.model import Inventory, LabelSelector, Operator


class SelectorIndex:
    """Which pod classes and namespaces a selector matches, by label lookups first."""

    def __init__(self, classes: Sequence[PodClass], inventory: Inventory) -> None:
        self._classes = classes
        self._by_namespace: dict[str, list[int]] = defaultdict(list)
        self._by_label: dict[tuple[str, str], set[int]] = defaultdict(set)
        self._by_key: dict[str, set[int]] = defaultdict(set)
        for cls in classes:
            if cls.host_network:
                continue
            self._by_namespace[cls.namespace].append(cls.index)
            for key, value in cls.labels.items():
                self._by_label[(key, value)].add(cls.index)
                self._by_key[key].add(cls.index)
        names = set(inventory.namespaces) | set(self._by_namespace)
        self._namespaces = sorted(names)
        self._namespace_labels = {name: inventory.namespace_labels(name) for name in self._namespaces}
        self._namespace_cache: dict[object, frozenset[str]] = {}

    def namespaces_matching(self, selector: LabelSelector) -> frozenset[str]:
        key = selector.signature()
        found = self._namespace_cache.get(key)
        if found is None:
            found = frozenset(n for n in self._namespaces if selector.matches(self._namespace_labels[n]))
            self._namespace_cache[key] = found
        return found

    def pods_matching(self, namespaces: frozenset[str], selector: LabelSelector | None) -> frozenset[int]:
        """Classes in ``namespaces`` whose labels the selector matches (None or ``{}``: every class)."""
        in_namespaces = sum(len(self._by_namespace.get(n, ())) for n in namespaces)
        pool: Iterable[int]
        indexed = self._indexed_candidates(selector, in_namespaces) if selector is not None else None
        if indexed is not None and len(indexed) < in_namespaces:
            pool = indexed
        else:
            pool = (i for n in namespaces for i in self._by_namespace.get(n, ()))
        classes = self._classes
        return frozenset(
            i
            for i in pool
            if classes[i].namespace in namespaces
            and (selector is None or selector.matches(classes[i].labels))
        )

    def _indexed_candidates(self, selector: LabelSelector, limit: int) -> set[int] | None:
        """A superset of the classes the selector matches, from one requirement; None when none helps.

        A candidate set of ``limit`` classes or more does not help (the caller scans
        that many anyway), so such a union is never built.
        """
        best: set[int] | None = None
        for pair in selector.match_labels:
            found = self._by_label.get(pair, set())
            if best is None or len(found) < len(best):
                best = found
        for requirement in selector.expressions:
            if requirement.operator is Operator.IN:
                parts = [self._by_label.get((requirement.key, v), set()) for v in requirement.values]
                if sum(map(len, parts)) >= min(limit, len(best) if best is not None else limit):
                    continue
                found = set().union(*parts)
            elif requirement.operator is Operator.EXISTS:
                found = self._by_key.get(requirement.key, set())
            elif requirement.operator is None:
                return set()  # an operator the API rejects matches nothing
            else:
                continue
            if best is None or len(found) < len(best):
                best = found
        return best
