"""What a change does to connectivity and to the findings: flows opened, closed and changed.

Flows are matched by their endpoints' keys (``namespace/name[Kind]``, or an
address range); both revisions' matrices must be cut with the same external
ranges for those to line up (see :func:`nplint.engine.matrix.compute_matrix`).
Findings are matched by their stable fingerprint (rule, object, YAML path), so a
finding that only moved lines is neither new nor fixed.

A repository of several worlds is compared world by world (:func:`compare_worlds`):
the same change in several worlds (a base both overlays take) is one change
naming them all.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

from nplint.engine.matrix import Matrix
from nplint.engine.portsets import NO_PORTS, PortSet
from nplint.findings import Finding, fingerprint
from nplint.records import record

if TYPE_CHECKING:
    from nplint.units import World

ADDED = "added"
REMOVED = "removed"
CHANGED = "changed"


@record(frozen=True, slots=True)
class FlowChange:
    source: str
    destination: str
    before: PortSet
    after: PortSet
    #: The worlds where the flow changes so, when the comparison is world by world.
    worlds: tuple[World, ...] = ()

    @property
    def kind(self) -> str:
        if not self.before:
            return ADDED
        if not self.after:
            return REMOVED
        return CHANGED

    @property
    def opened(self) -> PortSet:
        return self.after - self.before

    @property
    def closed(self) -> PortSet:
        return self.before - self.after


@record(frozen=True, slots=True)
class ConnectivityDiff:
    base: str
    head: str
    changes: tuple[FlowChange, ...]
    new_findings: tuple[Finding, ...]
    fixed_findings: tuple[Finding, ...]
    #: The worlds compared, when there are several; empty for a repository of one world.
    worlds: tuple[World, ...] = ()

    def of_kind(self, kind: str) -> list[FlowChange]:
        return [c for c in self.changes if c.kind == kind]


def diff_flows(base: Matrix, head: Matrix) -> list[FlowChange]:
    """Flows that differ, sorted by source then destination."""
    before = {(f.source.key, f.destination.key): f.ports for f in base}
    after = {(f.source.key, f.destination.key): f.ports for f in head}
    changes = []
    for key in sorted(before.keys() | after.keys()):
        old, new = before.get(key, NO_PORTS), after.get(key, NO_PORTS)
        if old != new:
            changes.append(FlowChange(key[0], key[1], old, new))
    return changes


def diff_findings(base: Sequence[Finding], head: Sequence[Finding]) -> tuple[list[Finding], list[Finding]]:
    """(new in head, gone from base), each sorted; identical findings are counted, not merged."""
    base_counts = Counter(fingerprint(f) for f in base)
    head_counts = Counter(fingerprint(f) for f in head)
    new: list[Finding] = []
    seen: Counter[str] = Counter()
    for finding in sorted(head, key=Finding.sort_key):
        key = fingerprint(finding)
        seen[key] += 1
        if seen[key] > base_counts[key]:
            new.append(finding)
    fixed: list[Finding] = []
    seen = Counter()
    for finding in sorted(base, key=Finding.sort_key):
        key = fingerprint(finding)
        seen[key] += 1
        if seen[key] > head_counts[key]:
            fixed.append(finding)
    return new, fixed


def compare(
    base_name: str,
    head_name: str,
    base: Matrix,
    head: Matrix,
    base_findings: Sequence[Finding],
    head_findings: Sequence[Finding],
) -> ConnectivityDiff:
    new, fixed = diff_findings(base_findings, head_findings)
    return ConnectivityDiff(base_name, head_name, tuple(diff_flows(base, head)), tuple(new), tuple(fixed))


def compare_worlds(
    base_name: str,
    head_name: str,
    pairs: Sequence[tuple[World, Matrix, Matrix]],
    base_findings: Sequence[Finding],
    head_findings: Sequence[Finding],
) -> ConnectivityDiff:
    """Each world's flows compared with its own base; one change per flow change, naming its worlds.

    ``pairs`` hold each world with its BASE and HEAD matrices (an empty one for a
    world only one side has), in the order the worlds are named.
    """
    held: dict[tuple[str, str, PortSet, PortSet], list[World]] = {}
    for world, base, head in pairs:
        for change in diff_flows(base, head):
            held.setdefault((change.source, change.destination, change.before, change.after), []).append(
                world
            )
    order = {world: index for index, (world, _, _) in enumerate(pairs)}
    changes = sorted(
        (
            FlowChange(source, destination, before, after, tuple(worlds))
            for (source, destination, before, after), worlds in held.items()
        ),
        key=lambda c: (c.source, c.destination, order[c.worlds[0]]),
    )
    new, fixed = diff_findings(base_findings, head_findings)
    return ConnectivityDiff(
        base_name, head_name, tuple(changes), tuple(new), tuple(fixed), tuple(w for w, _, _ in pairs)
    )
