"""``nplint reach``: the connections the policies allow — a matrix, a point query, or probe files.

    nplint reach [PATH ...] [--format text|json|dot|mermaid|markdown] [--namespace NS] [--focus NS/NAME]
    nplint reach PATH --from SRC --to DST [--port N] [--protocol P]
    nplint reach PATH --probes FILE [--format json]

Exit codes: 0, or 1 when a probe's expectation fails; 2 for usage errors (an
unknown endpoint names its near matches).
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from nplint.commands.common import (
    Session,
    UsageError,
    add_common,
    add_render_option,
    build_engine,
    config_for,
    warn_load_problems,
    write_output,
)
from nplint.config import stays_inside
from nplint.engine.endpoints import Endpoint, EndpointError, Topology
from nplint.engine.engine import Engine
from nplint.engine.matrix import compute_matrix
from nplint.engine.probes import Probe, evaluate_probe, load_probe_file, probe_ok
from nplint.engine.verdict import Verdict, explain
from nplint.exitcodes import ExitCode
from nplint.model.objects import PROTOCOLS
from nplint.reporting.connectivity import MATRIX_FORMATS, probes_json, probes_text, verdict_json, verdict_text

FORMATS = tuple(MATRIX_FORMATS)
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
        "--default-namespace", metavar="NS", help="namespace of objects that name none (default: 'default')"
    )
    add_render_option(parser)


def run(args: argparse.Namespace, session: Session, stdout: TextIO) -> int:
    from nplint.lint import collector_paused

    with collector_paused():
        return _run(args, session, stdout)


def _run(args: argparse.Namespace, session: Session, stdout: TextIO) -> int:
    from nplint.lint import inventory_of, load_paths, rendered_files

    _check_usage(args)
    paths = args.paths or ["."]
    common = argparse.Namespace(**{**vars(args), "namespace": args.default_namespace})
    config = config_for(common, paths, {})
    if args.probes and not stays_inside(Path(args.probes), config.root):
        raise UsageError(f"--probes {args.probes!r}: a symbolic link leading outside the repository root")
    session.plugins.configure(config)
    found, files = load_paths(paths, config, session.plugins)
    if found.missing:
        raise UsageError(", ".join(f"{m}: no such file or directory" for m in found.missing))
    warn_load_problems(files)
    files, rendering = rendered_files(found, files, config)
    for target, why in rendering.unrendered:
        print(
            f"nplint: note: {target.display!r} is not rendered: {why}; its objects are left out",
            file=sys.stderr,
        )
    engine = build_engine(inventory_of(files, config, session.plugins), config)
    return _answer(args, engine, stdout)


def _answer(args: argparse.Namespace, engine: Engine, stdout: TextIO) -> int:
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
