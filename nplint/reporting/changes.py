"""What a change does to connectivity and to the findings, as text, JSON and Markdown (``nplint diff``).

The comparison itself is :mod:`nplint.engine.diff`; these are pure functions
from its result to the text ``nplint diff`` writes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from nplint.engine.diff import ADDED, CHANGED, REMOVED, ConnectivityDiff, FlowChange
from nplint.findings import Finding
from nplint.reporting.connectivity import MERMAID_MAX_EDGES, cell, mermaid_text, shown_key
from nplint.reporting.jsonfmt import object_json
from nplint.reporting.jsontext import guarded
from nplint.reporting.text import detail_lines
from nplint.units import World, naming
from nplint.units.worlds import REPOSITORY
from nplint.untrusted import escape, markdown_code, markdown_text


def _worlds(worlds: Sequence[World]) -> str:
    """``overlays prod, staging``: worlds as messages name them, a few by name.

    A side's only world, ``the repository``, has no name of its own: it is named
    by its label (it meets an overlay when the other side has several worlds).
    """
    parts = ["the repository"] if any(w.kind == REPOSITORY for w in worlds) else []
    named = [w for w in worlds if w.kind != REPOSITORY]
    if named:
        parts.append(naming(named).removeprefix("in "))
    return "; ".join(parts)


def _where(change: FlowChange) -> str:
    """`` (in overlay prod)``: the worlds of a change, when the comparison is world by world."""
    return f" (in {escape(_worlds(change.worlds))})" if change.worlds else ""


def _compared(diff: ConnectivityDiff) -> str:
    """`` in 2 worlds (overlays prod, staging)``, when the comparison is world by world."""
    if not diff.worlds:
        return ""
    return f" in {len(diff.worlds)} worlds ({escape(_worlds(diff.worlds))})"


def change_json(change: FlowChange) -> dict[str, Any]:
    worlds = {"worlds": [escape(w.label) for w in change.worlds]} if change.worlds else {}
    return {
        **worlds,
        "from": shown_key(change.source),
        "to": shown_key(change.destination),
        "change": change.kind,
        "before": change.before.describe() if change.before else None,
        "after": change.after.describe() if change.after else None,
        "opened": change.opened.describe() if change.opened else None,
        "closed": change.closed.describe() if change.closed else None,
    }


def _finding_line(finding: Finding) -> str:
    where = f"{escape(finding.path)}:{finding.span.line}:{finding.span.column}"
    return f"{where}: {finding.rule_id} {escape(finding.message)}"


def diff_text(diff: ConnectivityDiff, *, verbose: bool = False) -> str:
    """The comparison as text; ``verbose`` adds each finding's detail under its headline."""
    lines = [f"Connectivity from {escape(diff.base)} to {escape(diff.head)}{_compared(diff)}:"]
    for kind, title in ((ADDED, "Flows opened"), (REMOVED, "Flows closed"), (CHANGED, "Flows changed")):
        changes = diff.of_kind(kind)
        lines.append(f"{title} ({len(changes)}):")
        for change in changes:
            pair = f"{shown_key(change.source)} -> {shown_key(change.destination)}"
            where = _where(change)
            if kind == ADDED:
                lines.append(f"  + {pair}: {change.after.describe()}{where}")
            elif kind == REMOVED:
                lines.append(f"  - {pair}: {change.before.describe()}{where}")
            else:
                parts = [f"now {change.after.describe()}", f"was {change.before.describe()}"]
                lines.append(f"  ~ {pair}: {'; '.join(parts)}{where}")
    lines.append(f"New findings ({len(diff.new_findings)}):")
    for finding in diff.new_findings:
        lines.append(f"  + {_finding_line(finding)}")
        lines += [f"  {line}" for line in detail_lines(finding)] if verbose else []
    lines.append(f"Fixed findings ({len(diff.fixed_findings)}):")
    for finding in diff.fixed_findings:
        lines.append(f"  - {_finding_line(finding)}")
        lines += [f"  {line}" for line in detail_lines(finding)] if verbose else []
    return "\n".join(lines) + "\n"


def _finding_json(finding: Finding) -> dict[str, Any]:
    return {
        "rule": finding.rule_id,
        "level": finding.level.value,
        "message": finding.message,
        "detail": finding.detail,
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
        **({"worlds": [escape(w.label) for w in diff.worlds]} if diff.worlds else {}),
        "flows": {
            ADDED: [change_json(c) for c in diff.of_kind(ADDED)],
            REMOVED: [change_json(c) for c in diff.of_kind(REMOVED)],
            CHANGED: [change_json(c) for c in diff.of_kind(CHANGED)],
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
        label += _where(change)
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
        f"Comparing {markdown_code(diff.base)} with {markdown_code(diff.head)}"
        f"{markdown_text(_compared(diff))}: {len(added)} flows opened, "
        f"{len(removed)} closed, {len(changed)} changed; {len(diff.new_findings)} new findings, "
        f"{len(diff.fixed_findings)} fixed.",
        "",
    ]
    if diff.changes:
        if len(diff.changes) <= MERMAID_MAX_EDGES:
            lines += ["```mermaid", changes_mermaid(diff.changes).rstrip(), "```", ""]
        else:
            # Mermaid would not draw it, and it would crowd the table out of a bounded summary.
            lines += [
                f"_The graph is left out: {len(diff.changes)} changes are more than Mermaid draws "
                f"({MERMAID_MAX_EDGES})._",
                "",
            ]
        # World by world, a column names the worlds of each change (a change of a shared
        # base is one row naming them all, at most a few by name).
        worlds = bool(diff.worlds)
        lines += (
            ["| change | worlds | from | to | connections |", "|---|---|---|---|---|"]
            if worlds
            else ["| change | from | to | connections |", "|---|---|---|---|"]
        )
        rows = [(change, "🟢 opened", str(change.after)) for change in added]
        rows += [(change, "🔴 closed", str(change.before)) for change in removed]
        rows += [(change, "🟡 changed", cell(f"{change.before} → {change.after}")) for change in changed]
        for change, what, connections in rows:
            held = f" {markdown_text(_worlds(change.worlds))} |" if worlds else ""
            lines.append(
                f"| {what} |{held} {_code(change.source)} | {_code(change.destination)} | {connections} |"
            )
        lines.append("")
    lines += _findings_table("New findings", diff.new_findings)
    lines += _findings_table("Fixed findings", diff.fixed_findings)
    return "\n".join(lines)


def _findings_table(title: str, findings: Sequence[Finding]) -> list[str]:
    """A Markdown section listing ``findings``; nothing when there are none."""
    if not findings:
        return []
    lines = [f"### {title}", "", "| location | rule | message |", "|---|---|---|"]
    for f in findings:
        lines.append(
            f"| {markdown_code(f'{f.path}:{f.span.line}')} | {f.rule_id} | {markdown_text(f.message)} |"
        )
    return [*lines, ""]


DIFF_FORMATS = {"text": diff_text, "json": diff_json, "markdown": diff_markdown}
