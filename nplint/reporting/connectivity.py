"""Text renderings of the engine's results: the matrix (text, JSON, DOT, Mermaid, Markdown) and verdicts.

Pure functions from values to strings; the commands write them. Output is
sorted and byte-identical for the same input.

Endpoint names, namespaces and keys come from the repository: every format
shows them through :func:`shown_key` (escaped, and cut at :data:`KEY_LIMIT`),
then escapes them for its own syntax (:mod:`nplint.untrusted`). JSON text is
written through :func:`nplint.reporting.jsontext.guarded`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from nplint.engine.endpoints import Endpoint
from nplint.engine.matrix import Flow, Matrix
from nplint.engine.portsets import ALL_PORTS, PortSet
from nplint.engine.probes import Probe, probe_ok
from nplint.engine.verdict import Verdict
from nplint.reporting.jsontext import guarded
from nplint.untrusted import (
    MESSAGE_LIMIT,
    NAME_LIMIT,
    capped,
    dot_string,
    escape,
    markdown_code,
    markdown_text,
    mermaid_label,
    shown,
)

#: Mermaid stops rendering graphs with more edges than this by default (``maxEdges``).
MERMAID_MAX_EDGES = 500
#: Characters of an endpoint key shown: room for a namespace (63), a name (253) and a kind.
KEY_LIMIT = 340


def shown_key(text: str) -> str:
    """An endpoint key, name or namespace as every format shows it: escaped and capped."""
    return shown(text, KEY_LIMIT)


def _line(text: str) -> str:
    """One line of a human format that quotes the repository (a verdict's reason, a probe)."""
    return capped(escape(text), MESSAGE_LIMIT)


def endpoint_json(endpoint: Endpoint) -> dict[str, Any]:
    if endpoint.is_external:
        return {"id": endpoint.key, "type": "external", "addresses": endpoint.key}
    return {
        "id": shown_key(endpoint.key),
        "type": "node" if endpoint.is_node else "workload",
        "kind": shown(endpoint.kind, NAME_LIMIT),
        "namespace": shown(endpoint.namespace, NAME_LIMIT),
        "name": shown(endpoint.name, NAME_LIMIT),
    }


def flow_json(flow: Flow) -> dict[str, Any]:
    return {
        "from": shown_key(flow.source.key),
        "to": shown_key(flow.destination.key),
        "connections": flow.ports.describe(),
        "ports": flow.ports.to_json(),
    }


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _ends(matrix: Matrix) -> str:
    """``3 workloads``, and the Nodes of the world when it has some (``3 workloads and 2 nodes``)."""
    nodes = sum(1 for e in matrix.endpoints if e.is_node)
    workloads = sum(1 for e in matrix.endpoints if not e.is_external) - nodes
    return _count(workloads, "workload") + (f" and {_count(nodes, 'node')}" if nodes else "")


def _dumps(value: object) -> str:
    return guarded(json.dumps(value, ensure_ascii=False))


def matrix_json(matrix: Matrix) -> Iterator[str]:
    """One JSON object, written a flow per line (a large matrix has millions).

    Flows are written straight from the matrix's packed keys, each endpoint's
    and each port set's JSON made once: a matrix of 10,000 workloads has
    nearly two million flows and a few thousand distinct names and port sets.
    """
    yield '{\n  "version": 1,\n  '
    yield from _matrix_fields(matrix, "  ")
    yield "\n}\n"


def worlds_json(worlds: Sequence[tuple[str, Matrix]]) -> Iterator[str]:
    """The matrices of several worlds: ``{"version", "worlds": [{"world", "profile", "endpoints", …}]}``.

    Each world's object is written as :func:`matrix_json` writes the single one.
    """
    yield '{\n  "version": 1,\n  "worlds": ['
    for index, (label, matrix) in enumerate(worlds):
        yield f'{"," if index else ""}\n    {{\n      "world": {_dumps(shown_key(label))},\n      '
        yield from _matrix_fields(matrix, "      ")
        yield "\n    }"
    yield "\n  ]\n}\n" if worlds else "]\n}\n"


def _matrix_fields(matrix: Matrix, pad: str) -> Iterator[str]:
    """``"profile"``, ``"endpoints"`` and ``"flows"`` of an object whose members are indented by ``pad``."""
    yield f'"profile": {_dumps(matrix.profile)},\n{pad}"endpoints": ['
    yield ",".join(f"\n{pad}  {_dumps(endpoint_json(e))}" for e in matrix.endpoints)
    yield f'\n{pad}],\n{pad}"flows": [' if matrix.endpoints else f'],\n{pad}"flows": ['
    if not matrix.keys:
        yield "]"
        return
    stride = len(matrix.ranked)
    names = [_dumps(shown_key(endpoint.key)) for endpoint in matrix.ranked]
    partial = matrix.partial
    everything = _ports_json(ALL_PORTS)
    ports_text: dict[PortSet, str] = {}
    batch: list[str] = []
    separator = f"\n{pad}  "
    joint = f",\n{pad}  "
    for key in matrix.keys:
        source, destination = divmod(key, stride)
        ports = partial.get(key)
        if ports is None:
            text = everything
        else:
            text = ports_text.get(ports) or ports_text.setdefault(ports, _ports_json(ports))
        batch.append(f'{{"from": {names[source]}, "to": {names[destination]}, {text}}}')
        if len(batch) == 4096:
            yield separator + joint.join(batch)
            batch.clear()
            separator = joint
    if batch:
        yield separator + joint.join(batch)
    yield f"\n{pad}]"


def _ports_json(ports: PortSet) -> str:
    return f'"connections": {_dumps(ports.describe())}, "ports": {_dumps(ports.to_json())}'


def matrix_text(matrix: Matrix) -> Iterator[str]:
    if not matrix.keys:
        yield f"No allowed flows among {_ends(matrix)} (profile: {matrix.profile}).\n"
        return
    stride = len(matrix.ranked)
    keys = [shown_key(e.key) for e in matrix.ranked]
    lengths = [len(key) for key in keys]
    width_from = max(len("FROM"), *(lengths[r] for r in {k // stride for k in matrix.keys}))
    width_to = max(len("TO"), *(lengths[r] for r in {k % stride for k in matrix.keys}))
    yield f"{'FROM':<{width_from}}  {'TO':<{width_to}}  CONNECTIONS\n"
    # Straight from the packed keys, each padded name and port text made once (see matrix_json).
    sources = [f"{key:<{width_from}}  " for key in keys]
    destinations = [f"{key:<{width_to}}  " for key in keys]
    partial = matrix.partial
    everything = ALL_PORTS.describe()
    described: dict[PortSet, str] = {}
    batch: list[str] = []
    for key in matrix.keys:
        source, destination = divmod(key, stride)
        ports = partial.get(key)
        if ports is None:
            text = everything
        else:
            text = described.get(ports) or described.setdefault(ports, ports.describe())
        batch.append(f"{sources[source]}{destinations[destination]}{text}\n")
        if len(batch) == 4096:
            yield "".join(batch)
            batch.clear()
    yield "".join(batch)
    flows = _count(len(matrix), "allowed flow")
    yield f"{flows} among {_ends(matrix)} (profile: {matrix.profile}).\n"


def worlds_text(worlds: Sequence[tuple[str, Matrix]]) -> Iterator[str]:
    """The matrix of each world, each introduced by a header line naming the world."""
    for index, (label, matrix) in enumerate(worlds):
        if index:
            yield "\n"
        yield f"== {shown_key(label)} ==\n"
        yield from matrix_text(matrix)


def mermaid_text(text: str) -> str:
    """A label safe inside Mermaid's double quotes: escaped, capped, entity codes for its own syntax."""
    return mermaid_label(shown_key(text))


#: The group (subgraph) of the Nodes of the world; no namespace can be named so (it has a space).
NODES_GROUP = "cluster nodes"


def _groups(endpoints: Iterable[Endpoint]) -> tuple[dict[str, list[Endpoint]], list[Endpoint]]:
    by_namespace: dict[str, list[Endpoint]] = {}
    externals: list[Endpoint] = []
    for endpoint in endpoints:
        if endpoint.is_external:
            externals.append(endpoint)
        else:
            # Nodes are in no namespace: they share one group, named after them.
            by_namespace.setdefault(NODES_GROUP if endpoint.is_node else endpoint.namespace, []).append(
                endpoint
            )
    return by_namespace, externals


def _graph_endpoints(matrix: Matrix, flows: Sequence[Flow]) -> list[Endpoint]:
    seen = {e.key: e for e in matrix.endpoints}
    for flow in flows:
        seen.setdefault(flow.source.key, flow.source)
        seen.setdefault(flow.destination.key, flow.destination)
    return [seen[k] for k in sorted(seen)]


def matrix_mermaid(matrix: Matrix, flows: Sequence[Flow] | None = None) -> str:
    """A Mermaid flowchart: namespaces as subgraphs, edges labelled with protocols and ports."""
    chosen = list(matrix) if flows is None else list(flows)
    return "\n".join(["flowchart LR", *_mermaid_lines(matrix, chosen, "", "  ")]) + "\n"


def worlds_mermaid(worlds: Sequence[tuple[str, Matrix]]) -> str:
    """One Mermaid flowchart with a subgraph per world.

    Node ids carry the world, so a workload of two worlds is two nodes.
    """
    lines = ["flowchart LR"]
    for index, (label, matrix) in enumerate(worlds):
        lines.append(f'  subgraph w{index}["{mermaid_text(label)}"]')
        lines += _mermaid_lines(matrix, list(matrix), f"w{index}", "    ")
        lines.append("  end")
    return "\n".join(lines) + "\n"


def _mermaid_lines(matrix: Matrix, chosen: Sequence[Flow], prefix: str, pad: str) -> list[str]:
    endpoints = _graph_endpoints(matrix, chosen)
    ids = {e.key: f"{prefix}n{i}" for i, e in enumerate(endpoints)}
    by_namespace, externals = _groups(endpoints)
    lines: list[str] = []
    for index, namespace in enumerate(sorted(by_namespace)):
        lines.append(f'{pad}subgraph {prefix}ns{index}["{mermaid_text(namespace)}"]')
        for endpoint in by_namespace[namespace]:
            label = f"{endpoint.name} ({endpoint.kind})"
            lines.append(f'{pad}  {ids[endpoint.key]}["{mermaid_text(label)}"]')
        lines.append(f"{pad}end")
    for endpoint in externals:
        lines.append(f'{pad}{ids[endpoint.key]}(["{mermaid_text(endpoint.key)}"])')
    for flow in chosen:
        label = mermaid_text(flow.ports.short())
        lines.append(f'{pad}{ids[flow.source.key]} -->|"{label}"| {ids[flow.destination.key]}')
    return lines


def _dot(text: str) -> str:
    return dot_string(shown_key(text))


def matrix_dot(matrix: Matrix) -> str:
    flows = list(matrix)
    endpoints = _graph_endpoints(matrix, flows)
    by_namespace, externals = _groups(endpoints)
    lines = ["digraph nplint {", "  rankdir=LR;", "  node [shape=box, fontname=Helvetica];"]
    for index, namespace in enumerate(sorted(by_namespace)):
        lines.append(f"  subgraph cluster_{index} {{")
        lines.append(f"    label={_dot(namespace)};")
        for endpoint in by_namespace[namespace]:
            lines.append(
                f"    {_dot(endpoint.key)} [label={_dot(endpoint.name + ' (' + endpoint.kind + ')')}];"
            )
        lines.append("  }")
    for endpoint in externals:
        lines.append(f"  {_dot(endpoint.key)} [shape=ellipse];")
    for flow in flows:
        lines.append(
            f"  {_dot(flow.source.key)} -> {_dot(flow.destination.key)} [label={_dot(flow.ports.short())}];"
        )
    lines.append("}")
    return "\n".join(lines) + "\n"


def worlds_dot(worlds: Sequence[tuple[str, Matrix]]) -> str:
    """One graph with a cluster per world; node ids are generated, so worlds never share a node."""
    lines = ["digraph nplint {", "  rankdir=LR;", "  node [shape=box, fontname=Helvetica];"]
    for index, (label, matrix) in enumerate(worlds):
        flows = list(matrix)
        endpoints = _graph_endpoints(matrix, flows)
        ids = {e.key: f"w{index}n{i}" for i, e in enumerate(endpoints)}
        by_namespace, externals = _groups(endpoints)
        lines.append(f"  subgraph cluster_w{index} {{")
        lines.append(f"    label={_dot(label)};")
        for number, namespace in enumerate(sorted(by_namespace)):
            lines.append(f"    subgraph cluster_w{index}_{number} {{")
            lines.append(f"      label={_dot(namespace)};")
            for endpoint in by_namespace[namespace]:
                name = _dot(endpoint.name + " (" + endpoint.kind + ")")
                lines.append(f"      {ids[endpoint.key]} [label={name}];")
            lines.append("    }")
        for endpoint in externals:
            lines.append(f"    {ids[endpoint.key]} [label={_dot(endpoint.key)}, shape=ellipse];")
        for flow in flows:
            source, destination = ids[flow.source.key], ids[flow.destination.key]
            lines.append(f"    {source} -> {destination} [label={_dot(flow.ports.short())}];")
        lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def cell(text: str) -> str:
    """Text for a Markdown table cell: escaped, capped, one line, no markup."""
    return markdown_text(shown_key(text))


def matrix_markdown(matrix: Matrix) -> str:
    return "\n".join(["## Connectivity", "", *_markdown_lines(matrix)]) + "\n"


def worlds_markdown(worlds: Sequence[tuple[str, Matrix]]) -> str:
    """A section per world, each as the single-world report has it."""
    lines = ["## Connectivity", ""]
    for label, matrix in worlds:
        lines += [f"### {markdown_text(shown_key(label))}", "", *_markdown_lines(matrix)]
        if lines[-1]:
            lines.append("")
    return "\n".join(lines[:-1]) + "\n"


def _markdown_lines(matrix: Matrix) -> list[str]:
    flows = list(matrix)
    lines: list[str] = []
    counted = f"{_count(len(flows), 'allowed flow')} among {_ends(matrix)}"
    lines.append(f"{counted} (profile: `{matrix.profile}`).")
    lines.append("")
    if not flows:
        return lines
    if len(flows) <= MERMAID_MAX_EDGES:
        lines += ["```mermaid", matrix_mermaid(matrix, flows).rstrip("\n"), "```", ""]
    else:
        lines += [
            f"_The graph is left out: {len(flows)} flows are more than Mermaid draws "
            f"({MERMAID_MAX_EDGES}); use `--namespace` or `--focus` to cut it down._",
            "",
        ]
    lines += ["| from | to | connections |", "|---|---|---|"]
    lines += [
        f"| {markdown_code(shown_key(f.source.key))} | {markdown_code(shown_key(f.destination.key))} "
        f"| {cell(f.ports.describe())} |"
        for f in flows
    ]
    return lines


#: Format name → renderer. Renderers yield chunks of text, so a matrix of millions of
#: flows is written as it is rendered, never held as one string.
MATRIX_FORMATS: dict[str, Callable[[Matrix], Iterable[str]]] = {
    "text": matrix_text,
    "json": matrix_json,
    "dot": lambda matrix: [matrix_dot(matrix)],
    "mermaid": lambda matrix: [matrix_mermaid(matrix)],
    "markdown": lambda matrix: [matrix_markdown(matrix)],
}


#: Format name → renderer of several worlds' matrices, each given with the label of its world.
WORLDS_FORMATS: dict[str, Callable[[Sequence[tuple[str, Matrix]]], Iterable[str]]] = {
    "text": worlds_text,
    "json": worlds_json,
    "dot": lambda worlds: [worlds_dot(worlds)],
    "mermaid": lambda worlds: [worlds_mermaid(worlds)],
    "markdown": lambda worlds: [worlds_markdown(worlds)],
}


def render_matrix(format_name: str, matrix: Matrix) -> str:
    return "".join(MATRIX_FORMATS[format_name](matrix))


def verdict_text(verdict: Verdict, world: str | None = None) -> str:
    """A verdict and its reasons; ``world`` names the world it holds in when the repository has several."""
    where = f" (in {world})" if world is not None else ""
    if verdict.protocol is None:
        what = (
            f"allowed {verdict.connections.describe()}"
            if verdict.allowed
            else "denied (no connection allowed)"
        )
        lines = [f"{verdict.source} -> {verdict.destination}: {what}{where}"]
    else:
        what = "allowed" if verdict.allowed else "denied"
        lines = [f"{verdict.source} -> {verdict.destination} on {verdict.asked}: {what}{where}"]
    lines += [f"  - {reason}" for reason in verdict.reasons()]
    return "\n".join(_line(line) for line in lines) + "\n"


def verdicts_json(verdicts: Sequence[tuple[str, Verdict]]) -> dict[str, Any]:
    """The verdicts of one point query in several worlds, each naming its world."""
    return {"verdicts": [{"world": _line(label), **verdict_json(verdict)} for label, verdict in verdicts]}


def _escaped(value: Any) -> Any:
    """A JSON value with every string in it escaped and capped as messages are."""
    if isinstance(value, str):
        return _line(value)
    if isinstance(value, dict):
        return {key: _escaped(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_escaped(item) for item in value]
    return value


def _escaped_fields(fields: dict[str, Any]) -> dict[str, Any]:
    return {key: _escaped(item) for key, item in fields.items()}


def verdict_json(verdict: Verdict) -> dict[str, Any]:
    # Names in a verdict and its reasons come from the repository (and from probe files).
    return _escaped_fields(
        {
            "from": verdict.source,
            "to": verdict.destination,
            "port": verdict.port,
            "protocol": verdict.protocol,
            "allowed": verdict.allowed,
            "connections": verdict.connections.describe(),
            "reasons": verdict.reasons_json(),
        }
    )


def probe_json(probe: Probe, verdict: Verdict) -> dict[str, Any]:
    data: dict[str, Any] = {
        "from": probe.source,
        "to": probe.destination,
        "port": probe.port,
        "protocol": probe.protocol,
        "allowed": verdict.allowed,
    }
    if probe.expect is not None:
        data["expect"] = probe.expect
        data["ok"] = probe_ok(probe, verdict)
    data["path"] = probe.path
    data["line"] = probe.span.line
    data["reasons"] = verdict.reasons_json()
    return _escaped_fields(data)


def probes_json(
    results: Sequence[tuple[Probe, Verdict]], profile: str, worlds: Sequence[tuple[str, str]] | None = None
) -> str:
    """Probe results; with ``worlds`` (each result's world and that world's profile), each names its world."""
    failed = sum(1 for p, v in results if probe_ok(p, v) is False)
    probes = [probe_json(p, v) for p, v in results]
    head: dict[str, Any] = {"version": 1, "profile": profile}
    if worlds is not None:
        head = {"version": 1}
        probes = [
            {"world": _line(label), "profile": world_profile, **entry}
            for (label, world_profile), entry in zip(worlds, probes, strict=True)
        ]
    data = {
        **head,
        "probes": probes,
        "summary": {
            "probes": len(results),
            "failed": failed,
            "ok": sum(1 for p, v in results if probe_ok(p, v)),
        },
    }
    return guarded(json.dumps(data, indent=2, ensure_ascii=False)) + "\n"


def probes_text(results: Sequence[tuple[Probe, Verdict]], worlds: Sequence[str] | None = None) -> str:
    """A line per probe; with ``worlds`` (each result's world), each line names its world."""
    lines = []
    for index, (probe, verdict) in enumerate(results):
        ok = probe_ok(probe, verdict)
        mark = {True: "PASS", False: "FAIL", None: "----"}[ok]
        port = f"{probe.protocol} {probe.port}" if probe.port is not None else f"any {probe.protocol} port"
        state = "allowed" if verdict.allowed else "denied"
        expected = f" (expected {probe.expect})" if probe.expect else ""
        where = f"{probe.path}:{probe.span.line}"
        world = f" (in {worlds[index]})" if worlds is not None else ""
        line = f"{mark}  {where}: {probe.source} -> {probe.destination} {port}: {state}{expected}{world}"
        lines.append(_line(line))
        if ok is False:
            lines += [_line(f"        - {reason}") for reason in verdict.reasons()]
    failed = sum(1 for p, v in results if probe_ok(p, v) is False)
    passed = sum(1 for p, v in results if probe_ok(p, v))
    unchecked = len(results) - passed - failed
    counted = f"{len(results)} probes"
    if worlds is not None:
        counted = f"{_count(len(results), 'verdict')} in {_count(len(set(worlds)), 'world')}"
    lines.append(f"{counted}: {passed} passed, {failed} failed, {unchecked} without expectation.")
    return "\n".join(lines) + "\n"
