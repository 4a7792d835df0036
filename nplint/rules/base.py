"""What a rule is, what it is given, and the registry that holds the catalog."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import field
from typing import TYPE_CHECKING, Any, ClassVar

from nplint.findings import FILE_START, Edit, Finding, Fix, Level, ObjectRef, Related, Span
from nplint.records import record

if TYPE_CHECKING:
    from nplint.cluster.view import ClusterView
    from nplint.config import Config
    from nplint.discovery import SkippedFile
    from nplint.loading import LoadedFile
    from nplint.loading.nodes import Node
    from nplint.model import Inventory, KubeObject, NetworkPolicy
    from nplint.render import Listing, Target
    from nplint.selection import Suppression
    from nplint.units import World

RULE_ID = re.compile(r"NP\d{3}\Z")
RULE_NAME = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*\Z")


@record(frozen=True, slots=True)
class WorldFacts:
    """What a rule of the "run" phase may know of one world: its cluster view and its policies."""

    #: None when the run was judged as one inventory outside the worlds stage.
    world: World | None
    cluster: ClusterView
    policies: Sequence[NetworkPolicy]


@record(slots=True)
class RuleContext:
    """Everything a rule may read. Rules never read files or print."""

    inventory: Inventory
    config: Config
    #: The loaded files (documents and load problems), for the schema rules.
    files: Sequence[LoadedFile] = ()
    #: Options of the running rule: its defaults overlaid with ``rules.<ID>`` from the config.
    options: Mapping[str, Any] = field(default_factory=dict)
    #: Files discovery skipped (Helm templates, kustomizations), for the rules that explain them.
    skipped: Sequence[SkippedFile] = ()
    #: Kustomizations and charts that were not rendered, with the reason.
    unrendered: Sequence[tuple[Target, str]] = ()
    #: What the kustomizations of the tree list (rendered or not).
    listing: Listing | None = None
    #: For rules of the "meta" phase: every suppression of the run, with what it suppressed.
    suppressions: Sequence[Suppression] = ()
    #: IDs of the rules that ran, and the catalog, for rules that judge rule references.
    enabled_ids: frozenset[str] = frozenset()
    registry: RuleRegistry | None = None
    #: For rules of the "run" phase that set ``needs_worlds``: every world's facts, in order.
    worlds: Sequence[WorldFacts] = ()

    @property
    def cluster(self) -> ClusterView:
        """The one view of the inventory's cluster (CNI, engine profile, facts, ranges) every rule reads."""
        from nplint.cluster.view import cluster_view

        return cluster_view(self.inventory, self.config)


class Rule:
    """Base class of every rule, built-in or from a plugin.

    Subclasses set the class attributes and implement :meth:`check`, a
    generator of findings made with :meth:`finding`.
    """

    id: ClassVar[str]
    name: ClassVar[str]
    summary: ClassVar[str]
    level: ClassVar[Level]
    tags: ClassVar[tuple[str, ...]] = ()
    #: Opt-in rules run only when selected explicitly.
    default_enabled: ClassVar[bool] = True
    #: Option names and default values, settable as ``rules.<ID>.<option>``.
    options: ClassVar[Mapping[str, Any]] = {}
    #: "main" rules read the inventory, and run once per world; "run" rules judge the
    #: run's own input (what was not rendered), which no world holds, and run once;
    #: "meta" rules run after suppression and judge the suppressions themselves.
    phase: ClassVar[str] = "main"
    #: A "run" rule that judges what each world's cluster is (:attr:`RuleContext.worlds`).
    needs_worlds: ClassVar[bool] = False
    #: The rule asks for a policy to be written otherwise (its form, breadth or redundancy),
    #: not for something that fails: quiet on a generated file (``lint-generated-files``),
    #: where the remedy is in the generator, not the file.
    about_form: ClassVar[bool] = False

    def __init__(self, level: Level | None = None) -> None:
        self.effective_level = level or self.level

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        raise NotImplementedError

    def finding(
        self,
        obj: KubeObject | None,
        node: Node | None,
        message: str,
        *,
        path: str | None = None,
        span: Span | None = None,
        related: Iterable[Related] = (),
        fix: str | None = None,
        document_index: int | None = None,
        detail: str = "",
        fixes: Iterable[Fix] = (),
    ) -> Finding:
        """A finding at ``node`` (or ``span``) of ``obj``'s file.

        ``message`` is the headline (what is wrong, where, what to do, in under 160
        characters); ``detail`` the longer explanation shown with ``--verbose``;
        ``fixes`` the changes ``--fix`` may write (made with :meth:`make_fix`).
        """
        if span is None:
            span = node.span if node is not None else (obj.span if obj is not None else FILE_START)
        ref: ObjectRef | None = obj.ref if obj is not None else None
        return Finding(
            rule_id=self.id,
            level=self.effective_level,
            message=message,
            path=path if path is not None else (obj.path if obj is not None else ""),
            span=span,
            object=ref,
            yaml_path=node.path if node is not None else "",
            document_index=document_index
            if document_index is not None
            else (obj.document_index if obj is not None else 0),
            related=tuple(related),
            fix=fix,
            detail=detail,
            fixes=tuple(fixes),
        )

    @staticmethod
    def make_fix(
        obj: KubeObject | None,
        description: str,
        edits: Iterable[Edit],
        *,
        safe: bool,
        path: str | None = None,
    ) -> tuple[Fix, ...]:
        """A fix of ``obj``'s document, for :meth:`finding`'s ``fixes``; none when it has no document.

        An object that is no document of its own file (one a Kyverno rule generates, made
        of the rule's nodes) gets none: its YAML paths lead nowhere in the file.
        """
        edits = tuple(edits)
        if obj is None or not edits or not in_document(obj.node):
            return ()
        return (Fix(description, safe, edits, path if path is not None else obj.path, obj.document_index),)


def yaml_path(node: Node) -> tuple[str | int, ...] | None:
    """The keys and indexes that lead from ``node``'s document root to it, for an :class:`Edit`.

    None when the chain of parents is not the file's own (a node made for an object
    a Kyverno rule generates), so no fix points into a place that does not exist.
    """
    parts: list[str | int] = []
    current: Node | None = node
    while current is not None and current.key is not None:
        parent = current.parent
        if parent is None:
            return None
        parts.append(current.key)
        current = parent
    if current is None or not in_document(current):
        return None
    return tuple(reversed(parts))


def replacing(node: Node, value: object) -> Edit | None:
    """An edit that writes ``value`` in place of ``node`` (a mapping's value or a sequence's item)."""
    parent = node.parent
    where = yaml_path(parent) if parent is not None else None
    if where is None or node.key is None:
        return None
    return Edit.make("set", where, node.key, value)


def in_document(node: Node) -> bool:
    """Whether ``node``'s parents lead to a root whose values are its own (a document, not a made object)."""
    from nplint.loading.nodes import MapNode

    current = node
    while current.parent is not None:
        current = current.parent
    if isinstance(current, MapNode):
        return all(value.parent is current for value in current.entries.values())
    return True


class RuleRegistry:
    """The rule catalog: ID → rule class, names resolvable to IDs."""

    def __init__(self) -> None:
        self._rules: dict[str, type[Rule]] = {}
        self._names: dict[str, str] = {}

    def add(self, rule: type[Rule]) -> None:
        for attribute in ("id", "name", "summary", "level"):
            if not hasattr(rule, attribute):
                raise ValueError(f"rule class {rule.__qualname__} has no {attribute!r}")
        if not RULE_ID.match(rule.id):
            raise ValueError(f"rule {rule.__qualname__}: id {rule.id!r} is not NP followed by three digits")
        if not RULE_NAME.match(rule.name):
            raise ValueError(f"rule {rule.id}: name {rule.name!r} is not kebab-case")
        existing = self._rules.get(rule.id)
        if existing is not None and existing is not rule:
            raise ValueError(
                f"rule id {rule.id} is registered twice ({existing.__qualname__}, {rule.__qualname__})"
            )
        if rule.name in self._names and self._names[rule.name] != rule.id:
            raise ValueError(f"rule name {rule.name!r} is used by {self._names[rule.name]} and {rule.id}")
        self._rules[rule.id] = rule
        self._names[rule.name] = rule.id

    def extend(self, rules: Iterable[type[Rule]]) -> None:
        for rule in rules:
            self.add(rule)

    def resolve(self, code: str) -> str | None:
        """The rule ID for an ID or a name, or None when neither is known."""
        upper = code.strip().upper()
        if upper in self._rules:
            return upper
        return self._names.get(code.strip().lower())

    def matching(self, code: str) -> list[str]:
        """IDs selected by a code: an ID, a name, a family prefix (``NP3``) or ``ALL``."""
        code = code.strip()
        resolved = self.resolve(code)
        if resolved is not None:
            return [resolved]
        upper = code.upper()
        if upper == "ALL":
            return sorted(self._rules)
        if upper.startswith("NP") and upper[2:].isdigit() and len(upper) < 5:
            return sorted(rule_id for rule_id in self._rules if rule_id.startswith(upper))
        return []

    def get(self, rule_id: str) -> type[Rule]:
        return self._rules[rule_id]

    def __contains__(self, rule_id: object) -> bool:
        return rule_id in self._rules

    def __iter__(self) -> Iterator[type[Rule]]:
        return iter(sorted(self._rules.values(), key=lambda r: r.id))

    def __len__(self) -> int:
        return len(self._rules)
