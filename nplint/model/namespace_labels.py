"""Namespace labels the repository sets by command rather than by manifest.

Repositories often label namespaces outside their manifests: a setup script or a
Makefile target runs ``kubectl label namespace default name=default``, or a README
tells the administrator to. :mod:`nplint.label_commands` reads those commands in
the load stage; this module holds what it found, for the inventory and the rules.

A command says which labels some namespace carries on the cluster. Its namespace
is known by name (``kubectl label ns default …``) or not at all (``$NS``, a
placeholder, ``--all``, ``-l selector``); a label's value is known, or not (``name=$NS``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import field

from nplint.records import record


@record(frozen=True, slots=True)
class LabelCommand:
    """One ``kubectl label``/``oc label`` command on namespaces, where it is written."""

    #: Display path of the file that carries the command (relative to the root).
    path: str
    #: 1-based line and column of the command's program (``kubectl``/``oc``).
    line: int
    column: int
    #: The namespaces labelled, by name; empty when they are not known (a variable,
    #: a placeholder, ``--all`` or a label selector).
    namespaces: tuple[str, ...]
    #: The labels set, in the order written: key and value, the value None when it is
    #: not known (a variable or a placeholder).
    labels: tuple[tuple[str, str | None], ...]

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"

    def sets(self, key: str, values: Iterable[str] | None) -> bool:
        """Whether the command gives some namespace the label ``key`` with one of ``values``.

        ``values`` None asks only for the key (an ``Exists`` requirement). A value the
        command does not know may be any of them.
        """
        wanted = None if values is None else set(values)
        return any(k == key and (wanted is None or v is None or v in wanted) for k, v in self.labels)


@record(frozen=True, slots=True)
class NamespaceLabelCommands:
    """The label commands on namespaces that the repository carries, in a stable order."""

    commands: tuple[LabelCommand, ...] = ()
    #: Labels set on each namespace named by a command, with known values; the first
    #: command (in path and line order) decides a key that several set.
    by_namespace: Mapping[str, Mapping[str, str]] = field(default_factory=dict, compare=False)

    @classmethod
    def of(cls, commands: Iterable[LabelCommand]) -> NamespaceLabelCommands:
        ordered = tuple(
            sorted(commands, key=lambda c: (c.path.encode("utf-8", "surrogateescape"), c.line, c.column))
        )
        by_namespace: dict[str, dict[str, str]] = {}
        for command in ordered:
            for name in command.namespaces:
                labels = by_namespace.setdefault(name, {})
                for key, value in command.labels:
                    if value is not None:
                        labels.setdefault(key, value)
        return cls(ordered, by_namespace)

    def __bool__(self) -> bool:
        return bool(self.commands)

    def setting(self, key: str, values: Iterable[str] | None) -> LabelCommand | None:
        """The first command that gives some namespace ``key`` with one of ``values`` (None: any value)."""
        wanted = None if values is None else tuple(values)
        return next((c for c in self.commands if c.sets(key, wanted)), None)

    def with_key(self, key: str) -> list[LabelCommand]:
        """The commands that set ``key`` at all, whatever the value and namespace."""
        return [c for c in self.commands if any(k == key for k, _ in c.labels)]

    def labels_of(self, namespace: str) -> Mapping[str, str]:
        """The labels commands set on ``namespace`` by name, with known values."""
        return self.by_namespace.get(namespace, {})


NO_LABEL_COMMANDS = NamespaceLabelCommands()
