"""Probe files: connectivity expectations kept next to the policies, checked in CI.

A probe file is YAML or JSON: a list of probes, each
``{from, to, port, protocol (default TCP), expect (allow | deny, optional)}``.
A file may also hold Kubernetes manifests as other YAML documents, and a
mapping document ``{probes: [...]}`` is accepted too. Every probe keeps its
position, so a failing expectation is reported at its line.
"""

from __future__ import annotations

import difflib
from pathlib import Path

from nplint.config import PROBE_FILE_LIMIT, RefusedFile, read_regular_file
from nplint.engine.endpoints import EndpointError
from nplint.engine.engine import Engine
from nplint.engine.verdict import Verdict, explain
from nplint.findings import FILE_START, Span
from nplint.loading import LoadedFile, decode, load_text
from nplint.loading.nodes import MapNode, Node, ScalarNode, SeqNode
from nplint.model.objects import PROTOCOLS
from nplint.records import record

PROBE_KEYS = ("from", "to", "port", "protocol", "expect")
EXPECTATIONS = ("allow", "deny")


@record(frozen=True, slots=True)
class Probe:
    """One expected (or asked) verdict, as written in its file."""

    index: int
    source: str
    destination: str
    #: None: any port of the protocol.
    port: int | None
    protocol: str
    #: "allow", "deny", or None for a probe that only asks.
    expect: str | None
    path: str
    span: Span
    #: The probe's node path in its document (``[3]``), for finding fingerprints.
    yaml_path: str = ""


@record(frozen=True, slots=True)
class ProbeProblem:
    """A probe (or a whole file) that cannot be evaluated."""

    path: str
    span: Span
    message: str


@record(frozen=True, slots=True)
class ProbeFile:
    path: str
    probes: tuple[Probe, ...]
    problems: tuple[ProbeProblem, ...]


def load_probe_file(path: Path, display: str) -> ProbeFile:
    """Read and parse a probe file; problems (unreadable, not YAML, bad probes) are returned, not raised.

    This is the one place a rule (NP801, through this function) reads a file:
    probe files are named by the configuration, not discovered as manifests.
    Only a regular file of at most :data:`~nplint.config.PROBE_FILE_LIMIT` bytes is read.
    """
    try:
        data = read_regular_file(path, PROBE_FILE_LIMIT)
    except RefusedFile as error:
        return ProbeFile(
            display, (), (ProbeProblem(display, FILE_START, f"cannot read the probe file: it {error}"),)
        )
    except OSError as error:
        reason = error.strerror or str(error)
        return ProbeFile(
            display, (), (ProbeProblem(display, FILE_START, f"cannot read the probe file: {reason}"),)
        )
    text, problem = decode(data)
    if text is None:
        problems = (ProbeProblem(display, problem.span, problem.message),) if problem is not None else ()
        return ProbeFile(display, (), problems)
    return parse_probes(load_text(display, text, is_json=path.suffix.lower() == ".json"))


def parse_probes(loaded: LoadedFile) -> ProbeFile:
    """The probes of a loaded file, in file order, and what is wrong with the rest."""
    path = loaded.path
    problems = [ProbeProblem(path, p.span, f"not valid YAML: {p.message}") for p in loaded.problems]
    probes: list[Probe] = []
    lists = 0
    for document in loaded.documents:
        problems.extend(ProbeProblem(path, p.span, f"not valid YAML: {p.message}") for p in document.problems)
        root = document.root
        if document.failed or root is None:
            continue
        entries: SeqNode | None = None
        if isinstance(root, SeqNode):
            entries = root
        elif isinstance(root, MapNode) and "probes" in root and "kind" not in root:
            entries = root.get_seq("probes")
            if entries is None:
                problems.append(ProbeProblem(path, _span(root, "probes"), _LIST))
                continue
        elif isinstance(root, MapNode) and "kind" in root:
            continue  # a Kubernetes manifest kept in the same file
        else:
            problems.append(ProbeProblem(path, root.span, _LIST))
            continue
        lists += 1
        for item in entries:
            probe = _probe(item, len(probes), path, problems)
            if probe is not None:
                probes.append(probe)
    if not lists and not problems:
        problems.append(ProbeProblem(path, FILE_START, _LIST))
    return ProbeFile(path, tuple(probes), tuple(problems))


_LIST = (
    "a probe file holds a list of probes, e.g. "
    "`- {from: shop/web, to: shop/db, port: 5432, expect: allow}` (or `probes:` with such a list)"
)


def _span(node: MapNode, key: str) -> Span:
    key_node = node.key_node(key)
    return key_node.span if key_node is not None else node.span


def _probe(node: Node, index: int, path: str, problems: list[ProbeProblem]) -> Probe | None:
    if not isinstance(node, MapNode):
        problems.append(ProbeProblem(path, node.span, "a probe is a mapping with `from`, `to` and `port`"))
        return None
    before = len(problems)
    for key, _ in node.items():
        if key not in PROBE_KEYS:
            near = difflib.get_close_matches(key, PROBE_KEYS, n=1)
            hint = f"did you mean `{near[0]}`?" if near else "the keys are " + ", ".join(PROBE_KEYS)
            problems.append(ProbeProblem(path, _span(node, key), f"unknown probe key `{key}`: {hint}"))
    ends = []
    for key in ("from", "to"):
        value = node.get(key)
        if not isinstance(value, ScalarNode) or value.value is None or not value.text.strip():
            where = value.span if value is not None else node.span
            problems.append(
                ProbeProblem(
                    path,
                    where,
                    f"a probe needs `{key}`: NAMESPACE/NAME of a workload, node:NAME or an IP address",
                )
            )
            ends.append("")
        else:
            ends.append(value.text.strip())
    port: int | None = None
    port_node = node.get("port")
    if port_node is not None and not (isinstance(port_node, ScalarNode) and port_node.value is None):
        number = port_node.value if isinstance(port_node, ScalarNode) else None
        if not isinstance(number, int) or isinstance(number, bool) or not 1 <= number <= 65535:
            problems.append(ProbeProblem(path, port_node.span, "`port` is a port number from 1 to 65535"))
        else:
            port = number
    for key in ("protocol", "expect"):
        value_node = node.get(key)
        if value_node is not None and not isinstance(value_node, ScalarNode):
            problems.append(
                ProbeProblem(path, value_node.span, f"`{key}` is a single word, not {value_node.kind_name}")
            )
    protocol = "TCP"
    protocol_node = node.get("protocol")
    if isinstance(protocol_node, ScalarNode) and protocol_node.value is not None:
        protocol = protocol_node.text.strip().upper()
        if protocol not in PROTOCOLS:
            problems.append(ProbeProblem(path, protocol_node.span, "`protocol` is TCP, UDP or SCTP"))
    expect: str | None = None
    expect_node = node.get("expect")
    if isinstance(expect_node, ScalarNode) and expect_node.value is not None:
        expect = expect_node.text.strip().lower()
        if expect not in EXPECTATIONS:
            problems.append(ProbeProblem(path, expect_node.span, "`expect` is allow or deny"))
    if len(problems) > before:
        return None
    return Probe(index, ends[0], ends[1], port, protocol, expect, path, node.span, node.path)


def evaluate_probe(engine: Engine, probe: Probe) -> Verdict:
    """The verdict of one probe.

    :raises EndpointError: an end names no workload (or several), or both ends are addresses.
    """
    src = engine.topology.resolve(probe.source)
    dst = engine.topology.resolve(probe.destination)
    if src.is_external and dst.is_external:
        raise EndpointError("both ends are external addresses; at least one must be a workload")
    return explain(engine, src, dst, probe.protocol, probe.port)


def probe_ok(probe: Probe, verdict: Verdict) -> bool | None:
    """Whether the verdict meets the probe's expectation; None when it states none."""
    if probe.expect is None:
        return None
    return verdict.allowed == (probe.expect == "allow")
