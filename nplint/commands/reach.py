"""``nplint reach``: the connections the policies allow — a matrix, a point query, or probe files.

    nplint reach [PATH ...] [--format text|json|dot|mermaid|markdown] [--namespace NS] [--focus NS/NAME]
    nplint reach PATH --from SRC --to DST [--port N] [--protocol P]
    nplint reach PATH --probes FILE [--format json]
    nplint reach PATH --world NAME ...

The repository is seen as it is deployed (discover → render → units → worlds),
and each world (what one cluster holds) is evaluated on its own, with its own
cluster view. With several worlds every format shows each world's matrix under
its name, and a point query or probe is answered in each world that holds both
its ends; with one, the output is that world's alone.

Exit codes: 0, or 1 when a probe's expectation fails; 2 for usage errors (an
unknown endpoint or world names its near matches).
"""

from __future__ import annotations

import argparse
import difflib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from nplint.commands.common import (
    Session,
    UsageError,
    add_common,
    add_render_option,
    build_engine,
    config_for,
    deployed,
    write_output,
)
from nplint.config import stays_inside
from nplint.engine.endpoints import Endpoint, EndpointError, Topology
from nplint.engine.engine import Engine
from nplint.engine.probes import Probe, evaluate_probe, load_probe_file, probe_ok
from nplint.engine.verdict import Verdict, explain
from nplint.exitcodes import ExitCode
from nplint.model.objects import PROTOCOLS
from nplint.units import World
from nplint.untrusted import shown

#: The formats of :data:`nplint.reporting.connectivity.MATRIX_FORMATS` (and ``WORLDS_FORMATS``),
#: named here so that the command line is built without the matrix and its reports.
FORMATS = ("text", "json", "dot", "mermaid", "markdown")
QUERY_FORMATS = ("text", "json")


def add_parser(subparsers: Any, session: Session | None = None) -> None:
    """Add the `reach` command; ``session`` is unused (the command has no plugin options)."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "reach",
        help="show the connections the policies allow (matrix, point query, probe files)",
        description="Show which workloads and external addresses may connect, and why.",
        conflict_handler="resolve",
    )
    parser.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="files or directories ('-' reads standard input; default '.')",
    )
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="text",
        help="matrix output: text (default), json, dot, mermaid, markdown; queries and probes: text or json",
    )
    parser.add_argument("--output", "-o", metavar="FILE", help="write the output to FILE")
    parser.add_argument("--from", dest="source", metavar="SRC", help="point query: NAMESPACE/NAME, or an IP")
    parser.add_argument(
        "--to", dest="destination", metavar="DST", help="point query: NAMESPACE/NAME, or an IP"
    )
    parser.add_argument("--port", type=int, metavar="N", help="point query: destination port (default: any)")
    parser.add_argument(
        "--protocol",
        type=str.upper,
        choices=PROTOCOLS,
        help="point query: TCP (default with --port), UDP, SCTP",
    )
    parser.add_argument(
        "--probes", metavar="FILE", help="evaluate a probe file (YAML or JSON list of probes)"
    )
    parser.add_argument(
        "--focus",
        action="append",
        default=[],
        metavar="NS/NAME",
        help="matrix: only flows to or from this workload (repeatable)",
    )
    parser.add_argument(
        "--world",
        action="append",
        default=[],
        metavar="NAME",
        help="evaluate only this world (repeatable; `nplint worlds` lists them: e.g. prod or 'overlay prod')",
    )
    add_common(parser)
    # In `reach`, --namespace cuts the matrix down (the command-line contract); the
    # namespace of objects that name none moves to --default-namespace.
    parser.add_argument(
        "--namespace",
        action="append",
        default=[],
        dest="namespaces",
        metavar="NS",
        help="matrix: only flows to or from workloads of this namespace (repeatable)",
    )
    parser.add_argument(
        "--default-namespace",
        metavar="NS",
        help="namespace of objects that name none (default: each unit's own unnamed namespace)",
    )
    add_render_option(parser)


def run(args: argparse.Namespace, session: Session, stdout: TextIO) -> int:
    from nplint.lint import collector_paused

    with collector_paused():
        return _run(args, session, stdout)


def _run(args: argparse.Namespace, session: Session, stdout: TextIO) -> int:
    from nplint.lint import world_inventories

    _check_usage(args)
    paths = args.paths or ["."]
    common = argparse.Namespace(**{**vars(args), "namespace": args.default_namespace})
    config = config_for(common, paths, {})
    if args.probes and not stays_inside(Path(args.probes), config.root):
        raise UsageError(f"--probes {args.probes!r}: a symbolic link leading outside the repository root")
    session.plugins.configure(config)
    tree = deployed(paths, config, session)
    files, manifests, units, worlds = tree.files, tree.manifests, tree.units, tree.worlds
    chosen = _chosen_worlds(worlds, args.world)
    evaluated = world_inventories(
        files, units, chosen, config, session.plugins, manifests, label_commands=tree.label_commands
    )
    engines = [(w.world.label, build_engine(w.inventory, w.config)) for w in evaluated]
    if len(worlds) == 1:
        return _answer(args, engines[0][1], stdout)
    return _answer_worlds(args, engines, stdout)


def _chosen_worlds(worlds: Sequence[World], names: Sequence[str]) -> list[World]:
    """The worlds ``--world`` names (by name, or by label such as ``overlay prod``), in the worlds' order.

    :raises UsageError: for a name no world has, listing the names and the near matches.
    """
    if not names:
        return list(worlds)
    known = sorted({n for w in worlds for n in (w.name, w.label) if n})
    for name in names:
        if name not in known:
            near = difflib.get_close_matches(name, known, n=3)
            hint = f"; did you mean {', '.join(near)}?" if near else ""
            listed = ", ".join(shown(n) for n in _world_names(worlds))
            raise UsageError(f"--world {shown(name)}: no such world{hint} (worlds: {listed})")
    wanted = set(names)
    return [w for w in worlds if w.name in wanted or w.label in wanted]


def _world_names(worlds: Sequence[World]) -> list[str]:
    """How ``--world`` names each world: its name, or its label when it has none."""
    return [w.name or w.label for w in worlds]


def _answer(args: argparse.Namespace, engine: Engine, stdout: TextIO) -> int:
    from nplint.engine.matrix import compute_matrix
    from nplint.reporting.connectivity import MATRIX_FORMATS, verdict_json, verdict_text

    if args.probes:
        return _run_probes(args, engine, stdout)
    if args.source or args.destination:
        verdict = _query(engine, args.source, args.destination, args.protocol, args.port)
        if args.format == "json":
            text = json.dumps(verdict_json(verdict), indent=2, ensure_ascii=False) + "\n"
        else:
            text = verdict_text(verdict)
        write_output(text, args.output, stdout)
        return ExitCode.OK
    focus = [_resolve(engine.topology, name) for name in args.focus]
    _check_namespaces(engine.topology, args.namespaces)
    matrix = compute_matrix(engine, namespaces=args.namespaces, focus=focus)
    write_output(MATRIX_FORMATS[args.format](matrix), args.output, stdout)
    return ExitCode.OK


def _answer_worlds(args: argparse.Namespace, engines: Sequence[tuple[str, Engine]], stdout: TextIO) -> int:
    """The answer of a repository of several worlds: each world's, naming it."""
    from nplint.engine.matrix import compute_matrix
    from nplint.reporting.connectivity import WORLDS_FORMATS, verdict_text, verdicts_json

    if args.probes:
        return _run_probes_worlds(args, engines, stdout)
    if args.source or args.destination:
        verdicts = _query_worlds(engines, args.source, args.destination, args.protocol, args.port)
        if args.format == "json":
            text = json.dumps(verdicts_json(verdicts), indent=2, ensure_ascii=False) + "\n"
        else:
            text = "".join(verdict_text(verdict, label) for label, verdict in verdicts)
        write_output(text, args.output, stdout)
        return ExitCode.OK
    # A workload or namespace chosen to cut the matrix down shows the worlds that hold it;
    # one that no world holds is the usual error.
    for name in args.focus:
        _resolve_somewhere(engines, name)
    _check_namespaces_somewhere(engines, args.namespaces)
    sections: list[tuple[str, Engine, list[Endpoint]]] = []
    for label, engine in engines:
        focus = [e for e in (_found(engine.topology, name) for name in args.focus) if e is not None]
        if args.focus and not focus:
            continue
        held = {e.namespace for e in engine.topology.workload_endpoints()}
        if args.namespaces and not held.intersection(args.namespaces):
            continue
        sections.append((label, engine, focus))
    matrices = [
        (label, compute_matrix(engine, namespaces=args.namespaces, focus=focus))
        for label, engine, focus in sections
    ]
    write_output(WORLDS_FORMATS[args.format](matrices), args.output, stdout)
    return ExitCode.OK


def _found(topology: Topology, name: str) -> Endpoint | None:
    """The endpoint ``name`` names in one world, or None when this world has none of that name.

    :raises UsageError: when it names several (writing a precise name helps in every world).
    """
    try:
        return topology.resolve(name)
    except EndpointError as error:
        if "names several" in str(error):
            raise UsageError(str(error)) from None
        return None


def _resolve_somewhere(engines: Sequence[tuple[str, Engine]], name: str) -> None:
    """Nothing when some world holds ``name``; else the usual unknown-endpoint error.

    Its near matches come from the first world that has some.
    """
    errors: list[str] = []
    for _, engine in engines:
        try:
            engine.topology.resolve(name)
            return
        except EndpointError as error:
            errors.append(str(error))
    hinted = [e for e in errors if "did you mean" in e]
    raise UsageError((hinted or errors)[0])


def _check_namespaces_somewhere(engines: Sequence[tuple[str, Engine]], namespaces: list[str]) -> None:
    known = sorted({e.namespace for _, engine in engines for e in engine.topology.workload_endpoints()})
    for namespace in namespaces:
        if namespace not in known:
            near = difflib.get_close_matches(namespace, known, n=3)
            hint = f"; did you mean {', '.join(near)}?" if near else ""
            raise UsageError(f"no workload in namespace {namespace!r}{hint}")


def _query_worlds(
    engines: Sequence[tuple[str, Engine]],
    source: str,
    destination: str,
    protocol: str | None,
    port: int | None,
) -> list[tuple[str, Verdict]]:
    """The verdict in each world that holds both ends.

    :raises UsageError: an end no world holds (the usual unknown-endpoint error), or no world holding both.
    """
    verdicts: list[tuple[str, Verdict]] = []
    for label, engine in engines:
        if _found(engine.topology, source) is None or _found(engine.topology, destination) is None:
            continue
        verdicts.append((label, _query(engine, source, destination, protocol, port)))
    if not verdicts:
        _resolve_somewhere(engines, source)
        _resolve_somewhere(engines, destination)
        raise UsageError(f"no world holds both {source!r} and {destination!r}")
    return verdicts


def _check_usage(args: argparse.Namespace) -> None:

    query = bool(args.source or args.destination)
    if query and not (args.source and args.destination):
        raise UsageError("a point query needs both --from and --to")
    if (args.port is not None or args.protocol) and not query:
        raise UsageError("--port and --protocol belong to a point query: add --from SRC --to DST")
    if args.probes and query:
        raise UsageError("use either --probes FILE or --from/--to, not both")
    if (query or args.probes) and args.format not in QUERY_FORMATS:
        raise UsageError(
            f"--format {args.format} draws the matrix; point queries and probes print text or json"
        )
    if (query or args.probes) and (args.focus or args.namespaces):
        raise UsageError("--focus and --namespace cut the matrix down; they do not apply to queries")
    if args.port is not None and not 1 <= args.port <= 65535:
        raise UsageError(f"--port {args.port}: a port is a number from 1 to 65535")


def _resolve(topology: Topology, name: str) -> Endpoint:

    try:
        return topology.resolve(name)
    except EndpointError as error:
        raise UsageError(str(error)) from None


def _check_namespaces(topology: Topology, namespaces: list[str]) -> None:

    known = sorted({e.namespace for e in topology.workload_endpoints()})
    for namespace in namespaces:
        if namespace not in known:
            near = difflib.get_close_matches(namespace, known, n=3)
            hint = f"; did you mean {', '.join(near)}?" if near else ""
            raise UsageError(f"no workload in namespace {namespace!r}{hint}")


def _query(engine: Engine, source: str, destination: str, protocol: str | None, port: int | None) -> Verdict:

    src, dst = _resolve(engine.topology, source), _resolve(engine.topology, destination)
    if src.is_external and dst.is_external:
        raise UsageError("both ends are external addresses; at least one must be a workload")
    if port is not None and protocol is None:
        protocol = "TCP"
    return explain(engine, src, dst, protocol, port)


def _run_probes(args: argparse.Namespace, engine: Engine, stdout: TextIO) -> int:
    from nplint.reporting.connectivity import probes_json, probes_text

    probe_file = load_probe_file(Path(args.probes), args.probes)
    if probe_file.problems:
        raise UsageError(
            "\n".join(f"{p.path}:{p.span.line}:{p.span.column}: {p.message}" for p in probe_file.problems)
        )
    results: list[tuple[Probe, Verdict]] = []
    for probe in probe_file.probes:
        try:
            verdict = evaluate_probe(engine, probe)
        except EndpointError as error:
            raise UsageError(f"{probe.path}:{probe.span.line}: {error}") from None
        results.append((probe, verdict))
    text = probes_json(results, engine.profile.name) if args.format == "json" else probes_text(results)
    write_output(text, args.output, stdout)
    failed = any(probe_ok(p, v) is False for p, v in results)
    return ExitCode.FINDINGS if failed else ExitCode.OK


def _run_probes_worlds(
    args: argparse.Namespace, engines: Sequence[tuple[str, Engine]], stdout: TextIO
) -> int:
    """Each probe in each world that holds both its ends; a probe no world can answer is a usage error."""
    from nplint.reporting.connectivity import probes_json, probes_text

    probe_file = load_probe_file(Path(args.probes), args.probes)
    if probe_file.problems:
        raise UsageError(
            "\n".join(f"{p.path}:{p.span.line}:{p.span.column}: {p.message}" for p in probe_file.problems)
        )
    results: list[tuple[Probe, Verdict]] = []
    worlds: list[tuple[str, str]] = []
    for probe in probe_file.probes:
        answered = False
        for label, engine in engines:
            topology = engine.topology
            if _found(topology, probe.source) is None or _found(topology, probe.destination) is None:
                continue
            try:
                verdict = evaluate_probe(engine, probe)
            except EndpointError as error:
                raise UsageError(f"{probe.path}:{probe.span.line}: {error}") from None
            results.append((probe, verdict))
            worlds.append((label, engine.profile.name))
            answered = True
        if not answered:
            try:
                _resolve_somewhere(engines, probe.source)
                _resolve_somewhere(engines, probe.destination)
            except UsageError as error:
                raise UsageError(f"{probe.path}:{probe.span.line}: {error}") from None
            both = f"{probe.source!r} and {probe.destination!r}"
            raise UsageError(f"{probe.path}:{probe.span.line}: no world holds both {both}")
    if args.format == "json":
        text = probes_json(results, "", worlds)
    else:
        text = probes_text(results, [label for label, _ in worlds])
    write_output(text, args.output, stdout)
    failed = any(probe_ok(p, v) is False for p, v in results)
    return ExitCode.FINDINGS if failed else ExitCode.OK
