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
        "type": "workload",
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


def _dumps(value: object) -> str:
    return guarded(json.dumps(value, ensure_ascii=False))


def matrix_json(matrix: Matrix) -> Iterator[str]:
    """One JSON object, written a flow per line (a large matrix has millions).

    Flows are written straight from the matrix's packed keys, each endpoint's
    and each port set's JSON made once: a matrix of 10,000 workloads has
    nearly two million flows and a few thousand distinct names and port sets.
    """
    yield f'{{\n  "version": 1,\n  "profile": {_dumps(matrix.profile)},\n  "endpoints": ['
    yield ",".join(f"\n    {_dumps(endpoint_json(e))}" for e in matrix.endpoints)
    yield '\n  ],\n  "flows": [' if matrix.endpoints else '],\n  "flows": ['
    if not matrix.keys:
        yield "]\n}\n"
        return
    stride = len(matrix.ranked)
    names = [_dumps(shown_key(endpoint.key)) for endpoint in matrix.ranked]
    partial = matrix.partial
    everything = _ports_json(ALL_PORTS)
    ports_text: dict[PortSet, str] = {}
    batch: list[str] = []
    separator = "\n    "
    for key in matrix.keys:
        source, destination = divmod(key, stride)
        ports = partial.get(key)
        if ports is None:
            text = everything
        else:
            text = ports_text.get(ports) or ports_text.setdefault(ports, _ports_json(ports))
        batch.append(f'{{"from": {names[source]}, "to": {names[destination]}, {text}}}')
        if len(batch) == 4096:
            yield separator + ",\n    ".join(batch)
            batch.clear()
            separator = ",\n    "
    if batch:
        yield separator + ",\n    ".join(batch)
    yield "\n  ]\n}\n"


def _ports_json(ports: PortSet) -> str:
    return f'"connections": {_dumps(ports.describe())}, "ports": {_dumps(ports.to_json())}'


def matrix_text(matrix: Matrix) -> Iterator[str]:
    workloads = sum(1 for e in matrix.endpoints if not e.is_external)
    if not matrix.keys:
        yield f"No allowed flows among {_count(workloads, 'workload')} (profile: {matrix.profile}).\n"
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
    yield f"{flows} among {_count(workloads, 'workload')} (profile: {matrix.profile}).\n"


def mermaid_text(text: str) -> str:
    """A label safe inside Mermaid's double quotes: escaped, capped, entity codes for its own syntax."""
    return mermaid_label(shown_key(text))


def _groups(endpoints: Iterable[Endpoint]) -> tuple[dict[str, list[Endpoint]], list[Endpoint]]:
    by_namespace: dict[str, list[Endpoint]] = {}
    externals: list[Endpoint] = []
    for endpoint in endpoints:
        if endpoint.is_external:
            externals.append(endpoint)
        else:
            by_namespace.setdefault(endpoint.namespace, []).append(endpoint)
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
    endpoints = _graph_endpoints(matrix, chosen)
    ids = {e.key: f"n{i}" for i, e in enumerate(endpoints)}
    by_namespace, externals = _groups(endpoints)
    lines = ["flowchart LR"]
    for index, namespace in enumerate(sorted(by_namespace)):
        lines.append(f'  subgraph ns{index}["{mermaid_text(namespace)}"]')
        for endpoint in by_namespace[namespace]:
            label = f"{endpoint.name} ({endpoint.kind})"
            lines.append(f'    {ids[endpoint.key]}["{mermaid_text(label)}"]')
        lines.append("  end")
    for endpoint in externals:
        lines.append(f'  {ids[endpoint.key]}(["{mermaid_text(endpoint.key)}"])')
    for flow in chosen:
        label = mermaid_text(flow.ports.short())
        lines.append(f'  {ids[flow.source.key]} -->|"{label}"| {ids[flow.destination.key]}')
    return "\n".join(lines) + "\n"


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


def cell(text: str) -> str:
    """Text for a Markdown table cell: escaped, capped, one line, no markup."""
    return markdown_text(shown_key(text))


def matrix_markdown(matrix: Matrix) -> str:
    flows = list(matrix)
    lines = ["## Connectivity", ""]
    workloads = sum(1 for e in matrix.endpoints if not e.is_external)
    counted = f"{_count(len(flows), 'allowed flow')} among {_count(workloads, 'workload')}"
    lines.append(f"{counted} (profile: `{matrix.profile}`).")
    lines.append("")
    if not flows:
        return "\n".join(lines) + "\n"
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
    return "\n".join(lines) + "\n"


#: Format name → renderer. Renderers yield chunks of text, so a matrix of millions of
#: flows is written as it is rendered, never held as one string.
MATRIX_FORMATS: dict[str, Callable[[Matrix], Iterable[str]]] = {
    "text": matrix_text,
    "json": matrix_json,
    "dot": lambda matrix: [matrix_dot(matrix)],
    "mermaid": lambda matrix: [matrix_mermaid(matrix)],
    "markdown": lambda matrix: [matrix_markdown(matrix)],
}


def render_matrix(format_name: str, matrix: Matrix) -> str:
    return "".join(MATRIX_FORMATS[format_name](matrix))


def verdict_text(verdict: Verdict) -> str:
    if verdict.protocol is None:
        what = (
            f"allowed {verdict.connections.describe()}"
            if verdict.allowed
            else "denied (no connection allowed)"
        )
        lines = [f"{verdict.source} -> {verdict.destination}: {what}"]
    else:
        what = "allowed" if verdict.allowed else "denied"
        lines = [f"{verdict.source} -> {verdict.destination} on {verdict.asked}: {what}"]
    lines += [f"  - {reason}" for reason in verdict.reasons()]
    return "\n".join(_line(line) for line in lines) + "\n"


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


def probes_json(results: Sequence[tuple[Probe, Verdict]], profile: str) -> str:
    failed = sum(1 for p, v in results if probe_ok(p, v) is False)
    data = {
        "version": 1,
        "profile": profile,
        "probes": [probe_json(p, v) for p, v in results],
        "summary": {
            "probes": len(results),
            "failed": failed,
            "ok": sum(1 for p, v in results if probe_ok(p, v)),
        },
    }
    return guarded(json.dumps(data, indent=2, ensure_ascii=False)) + "\n"


def probes_text(results: Sequence[tuple[Probe, Verdict]]) -> str:
    lines = []
    for probe, verdict in results:
        ok = probe_ok(probe, verdict)
        mark = {True: "PASS", False: "FAIL", None: "----"}[ok]
        port = f"{probe.protocol} {probe.port}" if probe.port is not None else f"any {probe.protocol} port"
        state = "allowed" if verdict.allowed else "denied"
        expected = f" (expected {probe.expect})" if probe.expect else ""
        where = f"{probe.path}:{probe.span.line}"
        line = f"{mark}  {where}: {probe.source} -> {probe.destination} {port}: {state}{expected}"
        lines.append(_line(line))
        if ok is False:
            lines += [_line(f"        - {reason}") for reason in verdict.reasons()]
    failed = sum(1 for p, v in results if probe_ok(p, v) is False)
    passed = sum(1 for p, v in results if probe_ok(p, v))
    unchecked = len(results) - passed - failed
    lines.append(f"{len(results)} probes: {passed} passed, {failed} failed, {unchecked} without expectation.")
    return "\n".join(lines) + "\n"
