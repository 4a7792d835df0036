"""Hover: a finding's explanation, the workloads a policy selects, the policies isolating a workload."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from lsprotocol import types

from nplint.findings import Finding, Span
from nplint.lsp import text
from nplint.model import Inventory
from nplint.model.objects import Direction, NetworkPolicy, Peer, PolicyRule, Workload
from nplint.pages import help_uri, rule_page
from nplint.untrusted import shown

if TYPE_CHECKING:
    from nplint.lsp.server import NplintServer

#: How many paragraphs of a rule page a hover shows, and how many workloads or policies it lists.
PARAGRAPHS = 2
LISTED = 20


def hover(server: NplintServer, uri: str, point: types.Position) -> types.Hover | None:
    """The findings under ``point`` explained, then what nplint knows of the object there."""
    parts = [explanation(finding) for finding in server.findings_at(uri, point)]
    known = object_text(server, uri, point)
    if known is not None:
        parts.append(known)
    return _markdown("\n\n---\n\n".join(parts)) if parts else None


def object_text(server: NplintServer, uri: str, point: types.Position) -> str | None:
    """A peer's matches, a policy's selected workloads or a workload's isolation, under ``point``."""
    display = server.display_of(uri)
    result = server.snapshot.result
    if display is None or result is None:
        return None
    lines = server.lines_of(uri)
    inventory = result.inventory
    for policy in inventory.policies:
        if policy.path != display:
            continue
        for rule in (*policy.ingress, *policy.egress):
            for peer in rule.peers or ():
                if peer.is_selector_peer and _within(peer.node.span, point, lines):
                    return peer_text(policy, rule, peer, inventory)
        if _on_selector(policy, point, lines):
            return selected_text(policy, inventory.workloads)
    for workload in inventory.workloads:
        if workload.path == display and _within(workload.node.span, point, lines):
            isolation = isolation_text(workload, inventory.policies)
            return "\n\n".join([isolation, *connections_text(server, workload)])
    return None


def explanation(finding: Finding) -> str:
    """The finding's headline, then the first paragraphs of its rule's page."""
    head = f"**{finding.rule_id}** {_plain(finding.message)}"
    paragraphs = page_paragraphs(finding.rule_id)
    link = f"[{finding.rule_id} documentation]({help_uri(finding.rule_id)})"
    return "\n\n".join([head, *paragraphs, link])


def page_paragraphs(rule_id: str, count: int = PARAGRAPHS) -> list[str]:
    """The first paragraphs of the page's "What it does" (else of its body), as written."""
    page = rule_page(rule_id)
    if page is None:
        return []
    lines = page.splitlines()
    start = next((i + 1 for i, line in enumerate(lines) if line.strip().lower() == "## what it does"), None)
    if start is None:
        start = next((i + 1 for i, line in enumerate(lines) if line.startswith("# ")), 0)
    paragraphs: list[str] = []
    current: list[str] = []
    for line in lines[start:]:
        if line.startswith("#"):
            break
        if line.strip():
            current.append(line)
            continue
        if current:
            paragraphs.append("\n".join(current))
            current = []
        if len(paragraphs) >= count:
            break
    if current and len(paragraphs) < count:
        paragraphs.append("\n".join(current))
    return paragraphs[:count]


def selected_text(policy: NetworkPolicy, workloads: Sequence[Workload]) -> str:
    chosen = [
        w for w in workloads if w.namespace == policy.namespace and policy.pod_selector.matches(w.pod_labels)
    ]
    head = f"**{_code(policy.kind)} {_code(policy.namespace)}/{_code(policy.name)}** selects "
    if not chosen:
        return head + "no workload of the repository in this world."
    listed = [f"- {_code(w.kind)} {_code(w.name)} ({_code(w.path)}:{w.span.line})" for w in chosen[:LISTED]]
    if len(chosen) > LISTED:
        listed.append(f"- … and {len(chosen) - LISTED} more")
    return head + f"{len(chosen)} workload{'s' if len(chosen) != 1 else ''}:\n\n" + "\n".join(listed)


def peer_text(policy: NetworkPolicy, rule: PolicyRule, peer: Peer, inventory: Inventory) -> str:
    """The namespaces and workloads of the repository a ``from``/``to`` entry matches."""
    known = sorted({*inventory.namespaces, *(w.namespace for w in inventory.workloads)})
    selector = peer.namespace_selector
    if selector is None:
        namespaces = [policy.namespace]
    else:
        namespaces = [name for name in known if selector.matches(inventory.namespace_labels(name))]
    pods = peer.pod_selector
    chosen = [
        w
        for w in inventory.workloads
        if w.namespace in namespaces and (pods is None or pods.matches(w.pod_labels))
    ]
    side = "from" if rule.direction is Direction.INGRESS else "to"
    head = (
        f"**{_code(policy.name)}**, {rule.direction.value.lower()} rule {rule.index + 1}, "
        f"`{side}` entry {peer.index + 1}"
    )
    if selector is not None and selector.is_empty:
        where = "every namespace of the cluster"
    elif namespaces:
        where = (
            "namespace"
            + ("s " if len(namespaces) > 1 else " ")
            + ", ".join(_code(n) for n in namespaces[:LISTED])
        )
        if len(namespaces) > LISTED:
            where += f" and {len(namespaces) - LISTED} more"
    else:
        where = "no namespace of the repository"
    parts = [head, f"Namespaces: {where}"]
    if not chosen:
        parts.append("Workloads of the repository: none")
    else:
        listed = [
            f"- {_code(w.kind)} {_code(w.namespace)}/{_code(w.name)} ({_code(w.path)}:{w.span.line})"
            for w in chosen[:LISTED]
        ]
        if len(chosen) > LISTED:
            listed.append(f"- … and {len(chosen) - LISTED} more")
        parts.append("Workloads of the repository:\n\n" + "\n".join(listed))
    return "\n\n".join(parts)


def isolation_text(workload: Workload, policies: Sequence[NetworkPolicy]) -> str:
    parts = [f"**{_code(workload.kind)} {_code(workload.namespace)}/{_code(workload.name)}**"]
    for direction in (Direction.INGRESS, Direction.EGRESS):
        isolating = [
            p
            for p in policies
            if p.namespace == workload.namespace
            and p.isolates(direction)
            and p.pod_selector.matches(workload.pod_labels)
        ]
        if not isolating:
            parts.append(f"{direction.value}: not isolated (every connection allowed)")
            continue
        names = ", ".join(f"{_code(p.name)} ({_code(p.path)}:{p.span.line})" for p in isolating[:LISTED])
        more = f" and {len(isolating) - LISTED} more" if len(isolating) > LISTED else ""
        parts.append(f"{direction.value}: isolated by {names}{more}")
    return "\n\n".join(parts)


def connections_text(server: NplintServer, workload: Workload) -> list[str]:
    """What the workload may connect to and be reached from, as ``nplint reach`` computes it.

    Only for a workspace of one world (several: each world answers otherwise, and
    ``nplint reach`` shows them); the engine is built once per lint, on the first hover.
    """
    result = server.snapshot.result
    if result is None or server.config is None or len(result.worlds) > 1:
        return []
    from nplint.engine.matrix import compute_matrix

    config = result.worlds[0].config(server.config) if result.worlds else server.config
    try:
        engine = server.snapshot.engine(result.inventory, config)
    except Exception as error:  # an unknown CNI name, or an engine bug: the hover says it without
        return [f"Connections: not computed ({_plain(shown(f'{type(error).__name__}: {error}'))})"]
    endpoint = next((e for e in engine.topology.workload_endpoints() if workload in e.workloads), None)
    if endpoint is None:
        return []
    flows = list(compute_matrix(engine, focus=[endpoint]))
    parts = []
    for title, chosen, other in (
        ("Reached from", [f for f in flows if f.destination is endpoint], "source"),
        ("Connects to", [f for f in flows if f.source is endpoint], "destination"),
    ):
        if not chosen:
            parts.append(f"{title}: nothing")
            continue
        listed = [f"- {_code(getattr(f, other).key)}: {_plain(f.ports.describe())}" for f in chosen[:LISTED]]
        if len(chosen) > LISTED:
            listed.append(f"- … and {len(chosen) - LISTED} more")
        parts.append(f"{title}:\n\n" + "\n".join(listed))
    return parts


def _on_selector(policy: NetworkPolicy, point: types.Position, lines: Sequence[str]) -> bool:
    spec = policy.spec
    if spec is None or policy.pod_selector_node is None:
        return False
    key = spec.key_node("podSelector")
    start = key.span if key is not None else policy.pod_selector_node.span
    end = policy.pod_selector_node.span
    line, column = text.position(lines, start.line, start.column)
    end_line, end_column = text.position(lines, end.end_line, end.end_column)
    return text.contains(
        types.Range(types.Position(line, column), types.Position(end_line, end_column)), point
    )


def _within(span: Span, point: types.Position, lines: Sequence[str]) -> bool:
    from nplint.lsp.server import to_range

    return text.contains(to_range(span, lines), point)


def _code(value: str) -> str:
    """A name from the repository, escaped as the text output shows it, as code (no markup inside)."""
    return "`" + shown(value).replace("`", "'") + "`"


def _plain(message: str) -> str:
    """A finding's message (escaped already) with Markdown's punctuation taken literally."""
    return "".join("\\" + c if c in _MARKDOWN else c for c in message)


_MARKDOWN = frozenset("\\`*_{}[]()<>#+-.!|~")


def _markdown(value: str) -> types.Hover:
    return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=value))
