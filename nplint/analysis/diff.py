"""What a change does to connectivity and to the findings: flows opened, closed and changed.

Flows are matched by their endpoints' keys (``namespace/name[Kind]``, or an
address range); both revisions' matrices must be cut with the same external
ranges for those to line up (see :func:`nplint.analysis.matrix.compute_matrix`).
Findings are matched by their stable fingerprint (rule, object, YAML path), so a
finding that only moved lines is neither new nor fixed.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from nplint.analysis.formats import cell, mermaid_text, shown_key
from nplint.analysis.matrix import Matrix
from nplint.analysis.portsets import NO_PORTS, PortSet
from nplint.findings import Finding, fingerprint
from nplint.reporting.jsonfmt import object_json
from nplint.reporting.jsontext import guarded
from nplint.untrusted import escape, markdown_code, markdown_text

ADDED = "added"
REMOVED = "removed"
CHANGED = "changed"


@dataclass(frozen=True, slots=True)
class FlowChange:
    source: str
    destination: str
    before: PortSet
    after: PortSet

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

    def to_json(self) -> dict[str, Any]:
        return {
            "from": shown_key(self.source),
            "to": shown_key(self.destination),
            "change": self.kind,
            "before": self.before.describe() if self.before else None,
            "after": self.after.describe() if self.after else None,
            "opened": self.opened.describe() if self.opened else None,
            "closed": self.closed.describe() if self.closed else None,
        }


@dataclass(frozen=True, slots=True)
class ConnectivityDiff:
    base: str
    head: str
    changes: tuple[FlowChange, ...]
    new_findings: tuple[Finding, ...]
    fixed_findings: tuple[Finding, ...]

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


def _finding_line(finding: Finding) -> str:
    where = f"{escape(finding.path)}:{finding.span.line}:{finding.span.column}"
    return f"{where}: {finding.rule_id} {escape(finding.message)}"


def diff_text(diff: ConnectivityDiff) -> str:
    lines = [f"Connectivity from {escape(diff.base)} to {escape(diff.head)}:"]
    for kind, title in ((ADDED, "Flows opened"), (REMOVED, "Flows closed"), (CHANGED, "Flows changed")):
        changes = diff.of_kind(kind)
        lines.append(f"{title} ({len(changes)}):")
        for change in changes:
            pair = f"{shown_key(change.source)} -> {shown_key(change.destination)}"
            if kind == ADDED:
                lines.append(f"  + {pair}: {change.after.describe()}")
            elif kind == REMOVED:
                lines.append(f"  - {pair}: {change.before.describe()}")
            else:
                parts = [f"now {change.after.describe()}", f"was {change.before.describe()}"]
                lines.append(f"  ~ {pair}: {'; '.join(parts)}")
    lines.append(f"New findings ({len(diff.new_findings)}):")
    lines += [f"  + {_finding_line(f)}" for f in diff.new_findings]
    lines.append(f"Fixed findings ({len(diff.fixed_findings)}):")
    lines += [f"  - {_finding_line(f)}" for f in diff.fixed_findings]
    return "\n".join(lines) + "\n"


def _finding_json(finding: Finding) -> dict[str, Any]:
    return {
        "rule": finding.rule_id,
        "level": finding.level.value,
        "message": finding.message,
        "path": escape(finding.path),
        "line": finding.span.line,
        "column": finding.span.column,
        "object": object_json(finding),
    }


def diff_json(diff: ConnectivityDiff) -> str:
    data = {
        "version": 1,
        "base": escape(diff.base),
        "head": escape(diff.head),
        "flows": {
            ADDED: [c.to_json() for c in diff.of_kind(ADDED)],
            REMOVED: [c.to_json() for c in diff.of_kind(REMOVED)],
            CHANGED: [c.to_json() for c in diff.of_kind(CHANGED)],
        },
        "findings": {
            "new": [_finding_json(f) for f in diff.new_findings],
            "fixed": [_finding_json(f) for f in diff.fixed_findings],
        },
    }
    return guarded(json.dumps(data, indent=2, ensure_ascii=False)) + "\n"


def _namespace_of(key: str) -> str | None:
    """The namespace of an endpoint key such as ``shop/web[Deployment]``; None for addresses."""
    head, slash, _ = key.partition("/")
    if not slash or "[" not in key or any(c in head for c in ".:"):
        return None
    return head


def changes_mermaid(changes: Sequence[FlowChange]) -> str:
    """A Mermaid flowchart of what changed: opened flows solid, closed dashed, changed thick.

    Namespaces are subgraphs; node ids are generated, so any endpoint text is safe.
    """
    keys = sorted({c.source for c in changes} | {c.destination for c in changes})
    ids = {key: f"n{index}" for index, key in enumerate(keys)}
    namespaces: dict[str, list[str]] = {}
    outside: list[str] = []
    for key in keys:
        namespace = _namespace_of(key)
        if namespace is None:
            outside.append(key)
        else:
            namespaces.setdefault(namespace, []).append(key)
    lines = ["flowchart LR"]
    for index, namespace in enumerate(sorted(namespaces)):
        lines.append(f'  subgraph ns{index}["{mermaid_text(namespace)}"]')
        lines += [f'    {ids[key]}["{mermaid_text(key.partition("/")[2])}"]' for key in namespaces[namespace]]
        lines.append("  end")
    lines += [f'  {ids[key]}(["{mermaid_text(key)}"])' for key in outside]
    styles: list[str] = []
    for index, change in enumerate(changes):
        kind = change.kind
        if kind == ADDED:
            arrow, label, color = "-->", f"+ {change.after.describe()}", "#2da44e"
        elif kind == REMOVED:
            arrow, label, color = "-.->", f"- {change.before.describe()}", "#cf222e"
        else:
            arrow, label, color = "==>", f"{change.before.describe()} → {change.after.describe()}", "#bf8700"
        lines.append(f'  {ids[change.source]} {arrow}|"{mermaid_text(label)}"| {ids[change.destination]}')
        styles.append(f"  linkStyle {index} stroke:{color}")
    return "\n".join(lines + styles) + "\n"


def _code(key: str) -> str:
    return markdown_code(shown_key(key))


def diff_markdown(diff: ConnectivityDiff) -> str:
    added, removed, changed = (diff.of_kind(k) for k in (ADDED, REMOVED, CHANGED))
    lines = [
        "## nplint: connectivity changes",
        "",
        f"Comparing {markdown_code(diff.base)} with {markdown_code(diff.head)}: {len(added)} flows opened, "
        f"{len(removed)} closed, {len(changed)} changed; {len(diff.new_findings)} new findings, "
        f"{len(diff.fixed_findings)} fixed.",
        "",
    ]
    if diff.changes:
        lines += ["```mermaid", changes_mermaid(diff.changes).rstrip(), "```", ""]
        lines += ["| change | from | to | connections |", "|---|---|---|---|"]
        for change in added:
            lines.append(
                f"| 🟢 opened | {_code(change.source)} | {_code(change.destination)} | {change.after} |"
            )
        for change in removed:
            lines.append(
                f"| 🔴 closed | {_code(change.source)} | {_code(change.destination)} | {change.before} |"
            )
        for change in changed:
            text = f"{change.before} → {change.after}"
            lines.append(
                f"| 🟡 changed | {_code(change.source)} | {_code(change.destination)} | {cell(text)} |"
            )
        lines.append("")
    if diff.new_findings:
        lines += ["### New findings", "", "| location | rule | message |", "|---|---|---|"]
        for f in diff.new_findings:
            lines.append(
                f"| {markdown_code(f'{f.path}:{f.span.line}')} | {f.rule_id} | {markdown_text(f.message)} |"
            )
        lines.append("")
    if diff.fixed_findings:
        lines += ["### Fixed findings", "", "| location | rule | message |", "|---|---|---|"]
        for f in diff.fixed_findings:
            lines.append(
                f"| {markdown_code(f'{f.path}:{f.span.line}')} | {f.rule_id} | {markdown_text(f.message)} |"
            )
        lines.append("")
    return "\n".join(lines)


DIFF_FORMATS = {"text": diff_text, "json": diff_json, "markdown": diff_markdown}
