"""The values every stage passes along: levels, positions, object references, findings."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import field
from enum import Enum

from nplint.records import record
from nplint.untrusted import capped, escape, quoted, shown


class Level(Enum):
    """A finding's severity, in SARIF's words."""

    NOTE = "note"
    WARNING = "warning"
    ERROR = "error"

    @property
    def rank(self) -> int:
        return _RANK[self]

    @classmethod
    def parse(cls, text: str) -> Level:
        try:
            return cls(text.lower())
        except ValueError:
            raise ValueError(f"unknown level {text!r} (expected error, warning or note)") from None


_RANK = {Level.NOTE: 1, Level.WARNING: 2, Level.ERROR: 3}


@record(frozen=True, slots=True, order=True)
class Span:
    """A region of a file: 1-based lines and columns, the end exclusive as in SARIF."""

    line: int
    column: int
    end_line: int
    end_column: int

    @classmethod
    def point(cls, line: int, column: int) -> Span:
        return cls(line, column, line, column + 1)


#: Where a finding goes when no better position is known: the top of the file.
FILE_START = Span(1, 1, 1, 1)


@record(frozen=True, slots=True, order=True)
class ObjectRef:
    """The Kubernetes object a finding is about."""

    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{shown(self.kind)} {self.qualified}"

    @property
    def qualified(self) -> str:
        """``namespace/name`` as messages show it, escaped and capped; an unnamed namespace in words."""
        # Every field comes from the repository: shown escaped and capped, as messages quote it.
        if self.namespace.endswith("/"):
            # A unit's unnamed namespace (nplint.units): named by the folder it is applied from.
            return f"{shown(self.name)} (in {namespace_text(self.namespace)})"
        if self.namespace:
            return f"{shown(self.namespace)}/{shown(self.name)}"
        return shown(self.name)


def namespace_text(namespace: str) -> str:
    """A namespace as a message names it: ``namespace 'shop'``, or the folder of an unnamed one."""
    if namespace.endswith("/"):
        if "{{" in namespace or "$" in namespace:
            # A namespace another tool fills in (a Kyverno generate rule's variable).
            return f"each namespace `{shown(namespace[:-1])}` stands for"
        return f"the namespace `{shown(namespace)}` is applied to"
    return f"namespace {quoted(namespace)}"


@record(frozen=True, slots=True)
class Related:
    """Another place that explains a finding: the other policy, the workload."""

    path: str
    span: Span
    message: str

    def __post_init__(self) -> None:
        _sanitise_message(self)


#: The edits a fix may make (:class:`Edit`): ``set`` a mapping key (inserted when absent) or a
#: sequence item, ``append`` to a sequence, ``rename`` a mapping key, ``join`` two mapping items
#: of a sequence into one (the item ``value["from"]`` moved into the item ``key``, each holding
#: exactly the keys ``value["keys"]`` names), or ``new-document``: an object appended to the
#: file as a document of its own.
EDIT_OPS = frozenset(("set", "append", "rename", "join", "new-document"))


@record(frozen=True, slots=True)
class Edit:
    """One change to one document: a YAML-path edit, or a new document after the last one.

    ``path`` leads from the document's root to the mapping or sequence edited
    (keys and indexes, as the loader's nodes name them). ``value`` is JSON text,
    so an edit stays immutable and hashable and can only carry plain YAML data
    (mappings, sequences, strings, numbers, booleans, null): nothing a fix writes
    is code, a tag or an anchor. For ``rename`` the value is the new key.
    """

    op: str
    path: tuple[str | int, ...] = ()
    key: str | int | None = None
    value: str = "null"
    #: For ``set`` of a key that is absent: the key it goes after ("" for first; else it goes last).
    after: str | None = None

    def __post_init__(self) -> None:
        if self.op not in EDIT_OPS:
            raise ValueError(f"unknown edit {self.op!r} (known: {', '.join(sorted(EDIT_OPS))})")
        json.loads(self.value)  # a fix carries plain data only

    @classmethod
    def make(
        cls,
        op: str,
        path: Iterable[str | int] = (),
        key: str | int | None = None,
        value: object = None,
        *,
        after: str | None = None,
    ) -> Edit:
        """An edit whose ``value`` is given as plain Python data (dict, list, str, int, bool, None)."""
        return cls(op, tuple(path), key, json.dumps(value, sort_keys=False), after)

    @property
    def data(self) -> object:
        """The value as Python data."""
        return json.loads(self.value)


@record(frozen=True, slots=True)
class Fix:
    """A change to the user's file that resolves a finding.

    ``safe`` fixes do what the user clearly meant and open no connection the
    finding did not ask for; ``nplint check --fix`` applies them. Unsafe ones
    change behaviour in a way a person should review (``--unsafe-fixes``). The
    edits apply to one document of the finding's file (``document_index``), or
    add one after the file's last document.
    """

    description: str
    safe: bool
    edits: tuple[Edit, ...]
    path: str
    document_index: int

    def __post_init__(self) -> None:
        description = capped(escape(self.description))
        if description is not self.description:
            object.__setattr__(self, "description", description)


@record(frozen=True, slots=True)
class Finding:
    """One problem at one place.

    ``path`` is the display path of the file (POSIX, relative to the root when
    inside it). ``yaml_path`` is the node's path inside its document, used for
    fingerprints that survive moved lines.
    """

    rule_id: str
    level: Level
    message: str
    path: str
    span: Span
    object: ObjectRef | None = None
    yaml_path: str = ""
    document_index: int = 0
    related: tuple[Related, ...] = ()
    fix: str | None = field(default=None, compare=False)
    #: The worlds (nplint.units) the finding holds in, by label; empty when the run has one world.
    worlds: tuple[str, ...] = ()
    #: The long explanation behind the headline ``message``: why it matters and how to fix it,
    #: shown with ``--verbose`` and carried by the JSON and SARIF formats. Empty when the
    #: headline says it all.
    detail: str = field(default="", compare=False)
    #: The fixes that resolve the finding (:class:`Fix`), best first. Not part of the
    #: finding's identity: baselines, suppressions and fingerprints ignore them.
    fixes: tuple[Fix, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        # Messages quote repository values; whatever a rule (or a plugin's rule)
        # forgot to escape or cap is escaped and capped here, so no format can
        # show a control character or an unbounded message.
        _sanitise_message(self)
        if self.detail:
            detail = capped(escape(self.detail))
            if detail is not self.detail:
                object.__setattr__(self, "detail", detail)
        if self.fix is not None:
            fix = capped(escape(self.fix, keep_newlines=True))
            if fix is not self.fix:
                object.__setattr__(self, "fix", fix)

    def sort_key(self) -> tuple[str, int, int, str, str, int, int, str]:
        """Path, line, column, rule: the reading order, made total so output is deterministic."""
        span = self.span
        return (
            self.path,
            span.line,
            span.column,
            self.rule_id,
            self.message,
            span.end_line,
            span.end_column,
            self.yaml_path,
        )


def _sanitise_message(value: Finding | Related) -> None:
    message = capped(escape(value.message))
    if message is not value.message:
        object.__setattr__(value, "message", message)


def listed(items: Iterable[str], limit: int = 2) -> str:
    """``web, api and 3 more``: items as a headline names them, each once, at most ``limit`` by name.

    The same workload reaches a list once per world, per policy or per port it
    appears in; a reader wants it once. Order is kept (the first mention first).
    """
    unique = list(dict.fromkeys(items))
    if len(unique) <= limit:
        return _joined(unique)
    return f"{', '.join(unique[:limit])} and {len(unique) - limit} more"


def listed_in_full(items: Iterable[str]) -> str:
    """Every item, each once, in order: ``web, api and db``, for a finding's detail."""
    return _joined(list(dict.fromkeys(items)))


def _joined(unique: list[str]) -> str:
    if len(unique) <= 1:
        return "".join(unique)
    return f"{', '.join(unique[:-1])} and {unique[-1]}"


def fingerprint(finding: Finding) -> str:
    """A stable identity that survives moved lines: rule, object and YAML path (not line numbers).

    Findings about no object (a file that does not parse) fall back to the file
    and the message, which is all that identifies them. The message is the
    headline alone: the detail can be reworded (or grow) without making an old
    finding look new.
    """
    import hashlib

    obj = finding.object
    if obj is not None:
        parts = [finding.rule_id, obj.kind, obj.namespace, obj.name, finding.yaml_path]
    else:
        parts = [finding.rule_id, finding.path, finding.yaml_path, finding.message]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]
