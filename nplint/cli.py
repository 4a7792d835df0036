"""The command line: ``nplint [check] [PATH ...]``, ``rules``, ``explain``, ``reach``, ``diff``."""

from __future__ import annotations

import argparse
import atexit
import contextlib
import difflib
import gc
import json
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn, TextIO

from nplint import __version__
from nplint.baseline import BaselineError, apply_baseline, read_baseline, write_baseline
from nplint.commands import write_output
from nplint.config import Config, ConfigError, codes_in, load_config, repository_path, stays_inside
from nplint.discovery import find_repository_root
from nplint.exitcodes import ExitCode
from nplint.findings import Level
from nplint.lint import LintResult, lint
from nplint.pages import rule_page
from nplint.plugins.manager import PluginLoadError, PluginManager
from nplint.reporting.base import Report, ReporterRegistry
from nplint.rules.base import RuleRegistry
from nplint.selection import SelectionError
from nplint.untrusted import escape

COMMANDS = ("check", "rules", "explain", "reach", "diff")


class UsageError(Exception):
    """Bad command-line usage; exit code 2."""


class Session:
    """The plugin manager and the registries of one invocation."""

    def __init__(self) -> None:
        self.plugins = PluginManager()
        self.rules = RuleRegistry()
        self.plugins.register_rules(self.rules)
        self.reporters = ReporterRegistry()
        self.plugins.register_reporters(self.reporters)


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        metavar="FILE",
        type=Path,
        help="configuration file (default: the nearest .nplint.yaml, .nplint.toml or pyproject.toml)",
    )
    parser.add_argument("--cni", metavar="NAME", help="the cluster's CNI plugin (calico, cilium, flannel, …)")
    parser.add_argument(
        "--namespace", metavar="NS", help="namespace of objects that name none (default: 'default')"
    )
    parser.add_argument(
        "--no-color", action="store_true", help="never colour the output (NO_COLOR is honoured too)"
    )


def add_render_option(parser: argparse.ArgumentParser) -> None:
    """``--render auto|never``: the person running nplint decides whether the repository's charts run."""
    parser.add_argument(
        "--render",
        choices=["auto", "never"],
        help="render kustomizations and Helm charts when kustomize/kubectl/helm are on PATH (default: auto); "
        "'never' also overrides the configuration's render setting, which can only turn rendering off",
    )
    add_render_run_options(parser)


def add_render_run_options(parser: argparse.ArgumentParser) -> None:
    """``--no-cache`` and ``--progress``: how the renders of a run go."""
    parser.add_argument(
        "--no-cache",
        action="store_true",
        help="render everything again instead of using rendered output kept in .nplint_cache/",
    )
    parser.add_argument(
        "--progress",
        action="store_true",
        help="show a progress line while rendering on standard error (shown anyway on a terminal)",
    )


def build_parser(session: Session | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nplint",
        description="Lint Kubernetes NetworkPolicy manifests and show the connectivity they allow.",
    )
    parser.add_argument("--version", action="version", version=f"nplint {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    check = commands.add_parser("check", help="lint manifests (the default command)")
    check.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="files or directories ('-' reads standard input; default '.')",
    )
    fmt_names = ", ".join(session.reporters.names()) if session else "text, json, sarif"
    check.add_argument(
        "--format",
        action="append",
        metavar="FORMAT[=FILE]",
        help=f"output format ({fmt_names}); repeat for several, FORMAT=FILE writes that one to FILE",
    )
    check.add_argument(
        "--output", "-o", metavar="FILE", help="write the output to FILE instead of standard output"
    )
    check.add_argument(
        "--select",
        action="append",
        default=[],
        metavar="CODES",
        help="only these rules (IDs, names or prefixes, comma-separated)",
    )
    check.add_argument(
        "--extend-select",
        action="append",
        default=[],
        metavar="CODES",
        help="rules to run in addition to the selected ones (opt-in rules)",
    )
    check.add_argument("--ignore", action="append", default=[], metavar="CODES", help="rules not to run")
    check.add_argument(
        "--fail-on",
        choices=["error", "warning", "note", "never"],
        help="lowest level that makes the exit code 1 (default: warning)",
    )
    check.add_argument("--quiet", "-q", action="store_true", help="print findings only, no summary line")
    check.add_argument(
        "--show-suppressed", action="store_true", help="also print suppressed findings (text format)"
    )
    check.add_argument("--no-gitignore", action="store_true", help="lint files that .gitignore excludes")
    add_render_option(check)
    check.add_argument(
        "--helm-values",
        action="append",
        default=[],
        metavar="FILE",
        help="values file for `helm template` (a file inside the repository)",
    )
    check.add_argument(
        "--baseline",
        metavar="FILE",
        type=Path,
        help="report only findings that are not in this baseline file",
    )
    check.add_argument(
        "--write-baseline", metavar="FILE", type=Path, help="record today's findings in FILE and exit 0"
    )
    _add_common(check)
    if session is not None:
        session.plugins.addoption(check)

    rules = commands.add_parser("rules", help="list the rules")
    rules.add_argument("--format", choices=["text", "json"], default="text")
    rules.add_argument(
        "--all", action="store_true", help="(kept for compatibility; every rule is always listed)"
    )

    explain = commands.add_parser("explain", help="print a rule's documentation")
    explain.add_argument("rule", metavar="RULE", help="a rule ID or name, e.g. NP301 or egress-blocks-dns")

    from nplint.commands import diff, reach

    reach.add_parser(commands, _add_common)
    diff.add_parser(commands, _add_common)

    return parser


def _normalise_argv(argv: Sequence[str]) -> list[str]:
    """``nplint PATH`` means ``nplint check PATH``."""
    args = list(argv)
    if not args:
        return ["check"]
    first = args[0]
    if first in COMMANDS or first in ("-h", "--help", "--version"):
        return args
    return ["check", *args]


def _use_color(no_color: bool, stream: TextIO) -> bool:
    if no_color or "NO_COLOR" in os.environ:
        return False
    return hasattr(stream, "isatty") and stream.isatty()


def config_for(
    args: argparse.Namespace, paths: Sequence[str], overrides: dict[str, Any], *, root: Path | None = None
) -> Config:
    """The configuration for linting ``paths``: the repository's settings, then the command line's.

    ``root`` is the repository root (default: the one around the current
    directory); every path the configuration names must stay inside it.
    """
    start = Path.cwd()
    first = next((p for p in paths if p != "-"), None)
    if first is not None:
        start = Path(first)
    if root is None:
        root = find_repository_root(Path.cwd())
    if args.cni:
        overrides["cni"] = args.cni
    if args.namespace:
        overrides["default-namespace"] = args.namespace
    helm_values = getattr(args, "helm_values", None)
    if helm_values:
        overrides["helm-values"] = _command_line_files("--helm-values", helm_values, root)
    config = load_config(
        args.config, start=start if start.exists() else Path.cwd(), root=root, overrides=overrides
    )
    # Rendering runs the repository's charts and kustomizations: the person running
    # nplint grants it, and the repository's own configuration may only take it away.
    if getattr(args, "render", None) == "never":
        config.render = "never"
    if getattr(args, "no_cache", False):
        config.cache = False
    config.progress = bool(getattr(args, "progress", False))
    config.options = vars(args)
    return config


def _command_line_files(option: str, values: Sequence[str], root: Path) -> list[str]:
    """Files named on the command line (relative to the current directory) that must lie in the root.

    They merge into the configuration's settings and pass the same check; the
    message names the option rather than a configuration key.
    """
    checked: list[str] = []
    for value in values:
        try:
            checked.append(str(repository_path(str(Path(value).absolute()), root=root)))
        except ValueError as error:
            shown = value if len(value) <= 200 else value[:200] + "…"
            raise UsageError(f"{option} {shown!r} {error}") from None
    return checked


def _parse_formats(
    values: Sequence[str] | None, output: str | None, reporters: ReporterRegistry
) -> list[tuple[str, str | None]]:
    pairs: list[tuple[str, str | None]] = []
    for value in values or ["auto"]:
        name, sep, target = value.partition("=")
        name = name.strip()
        if name == "auto":
            # In a GitHub Actions job, annotations are what the reader sees.
            name = "github" if os.environ.get("GITHUB_ACTIONS") == "true" else "text"
        if reporters.get(name) is None:
            raise UsageError(f"unknown format {name!r} (known: {', '.join(reporters.names())})")
        pairs.append((name, target if sep else output))
    return pairs


def run_check(
    args: argparse.Namespace, session: Session, stdout: TextIO, stdin: Callable[[], bytes] | None
) -> int:
    paths = args.paths or ["."]
    overrides: dict[str, Any] = {}
    for key in ("select", "extend_select", "ignore"):
        codes = codes_in(getattr(args, key))
        if codes:
            overrides[key.replace("_", "-")] = list(codes)
    if args.fail_on:
        overrides["fail-on"] = args.fail_on
    if args.no_gitignore:
        overrides["respect-gitignore"] = False
    config = config_for(args, paths, overrides)
    session.plugins.configure(config)
    formats = _parse_formats(args.format, args.output, session.reporters)
    kwargs: dict[str, Any] = {}
    if stdin is not None:
        kwargs["stdin"] = stdin
    result = lint(paths, config, session.plugins, session.rules, **kwargs)
    for missing in result.missing:
        print(f"nplint: error: {missing}: no such file or directory", file=sys.stderr)
    if result.missing:
        return ExitCode.ERROR
    if args.write_baseline is not None:
        write_baseline(args.write_baseline, result.findings)
        print(f"nplint: wrote {len(result.findings)} findings to {args.write_baseline}", file=sys.stderr)
        return ExitCode.ERROR if result.failures else ExitCode.OK
    if args.baseline is not None:
        if not stays_inside(args.baseline, config.root):
            raise BaselineError(f"{args.baseline}: a symbolic link leading outside the repository root")
        outcome = apply_baseline(result.findings, read_baseline(args.baseline))
        result.findings = outcome.new
        print(
            f"nplint: {outcome.matched} findings are in the baseline; {outcome.gone} baseline "
            f"entr{'y is' if outcome.gone == 1 else 'ies are'} gone (fixed, or changed beyond recognition)",
            file=sys.stderr,
        )
    report = _report(result, config, session, color=False)
    for name, target in formats:
        reporter_class = session.reporters.get(name)
        assert reporter_class is not None
        if target is None and name == "text":
            report = _report(result, config, session, color=_use_color(args.no_color, stdout))
        reporter = reporter_class()
        if name != "text":
            write_output(reporter.chunks(report), target, stdout)
            continue
        text = reporter.render(report)
        if args.quiet:
            text = "".join(line + "\n" for line in text.splitlines()[:-1])
        if args.show_suppressed and result.suppressed:
            text += "".join(
                f"{escape(f.path)}:{f.span.line}:{f.span.column}: {f.rule_id} (suppressed) {f.message}\n"
                for f in result.suppressed
            )
        write_output(text, target, stdout)
    for failure in result.failures:
        print(f"nplint: internal error: {failure} (please report it)", file=sys.stderr)
    if result.failures:
        return ExitCode.ERROR
    return exit_code_for(result, config.fail_on)


def exit_code_for(result: LintResult, fail_on: Level | None) -> int:
    if fail_on is None:
        return ExitCode.OK
    if any(f.level.rank >= fail_on.rank for f in result.findings):
        return ExitCode.FINDINGS
    return ExitCode.OK


def _report(result: LintResult, config: Config, session: Session, *, color: bool) -> Report:
    pages = {rule.id: page for rule in result.rules if (page := rule_page(rule.id)) is not None}
    return Report(
        findings=result.findings,
        rules=sorted(result.rules, key=lambda r: r.id),
        root=config.root,
        files_checked=len(result.files),
        suppressed=len(result.suppressed),
        fail_on=config.fail_on,
        version=__version__,
        pages=pages,
        color=color,
    )


def run_rules(args: argparse.Namespace, session: Session, stdout: TextIO) -> int:
    rules = list(session.rules)
    if args.format == "json":
        data = [{"id": r.id, "name": r.name, "level": r.level.value, "summary": r.summary} for r in rules]
        stdout.write(json.dumps(data, indent=2) + "\n")
        return ExitCode.OK
    width = max((len(r.name) for r in rules), default=0)
    for rule in rules:
        opt_in = "" if rule.default_enabled else " (opt-in)"
        stdout.write(f"{rule.id}  {rule.name:<{width}}  {rule.level.value:<7}  {rule.summary}{opt_in}\n")
    return ExitCode.OK


def run_explain(args: argparse.Namespace, session: Session, stdout: TextIO) -> int:
    rule_id = session.rules.resolve(args.rule)
    if rule_id is None:
        known = [r.id for r in session.rules] + [r.name for r in session.rules]
        near = difflib.get_close_matches(args.rule, known, n=3)
        hint = f"; did you mean {', '.join(near)}?" if near else "; run `nplint rules` for the list"
        raise UsageError(f"no rule {args.rule!r}{hint}")
    page = rule_page(rule_id)
    if page is None:
        rule = session.rules.get(rule_id)
        page = f"# {rule.id} {rule.name}\n\n{rule.summary}\n"
    stdout.write(page if page.endswith("\n") else page + "\n")
    return ExitCode.OK


def main(
    argv: Sequence[str] | None = None,
    *,
    stdout: TextIO | None = None,
    stdin: Callable[[], bytes] | None = None,
) -> int:
    _replace_closed_streams()
    out = stdout if stdout is not None else sys.stdout
    args_list = _normalise_argv(sys.argv[1:] if argv is None else argv)
    try:
        session = Session()
    except PluginLoadError as error:
        print(f"nplint: error: {error}", file=sys.stderr)
        return ExitCode.ERROR
    except ValueError as error:
        print(f"nplint: error: a plugin registered a bad rule or format: {error}", file=sys.stderr)
        return ExitCode.ERROR
    parser = build_parser(session)
    try:
        args = parser.parse_args(args_list)
    except SystemExit as exit_:
        return ExitCode.OK if exit_.code in (0, None) else ExitCode.ERROR
    try:
        if args.command == "rules":
            return run_rules(args, session, out)
        if args.command == "explain":
            return run_explain(args, session, out)
        if args.command == "reach":
            from nplint.commands import reach

            return reach.run(args, session, out)
        if args.command == "diff":
            from nplint.commands import diff

            return diff.run(args, session, out)
        return run_check(args, session, out, stdin)
    except (UsageError, ConfigError, SelectionError, BaselineError) as error:
        print(f"nplint: error: {error}", file=sys.stderr)
        return ExitCode.ERROR
    except KeyboardInterrupt:
        return ExitCode.ERROR
    except BrokenPipeError:
        return ExitCode.OK
    except Exception as error:  # the last line of defence: a message, exit 2, no traceback unless asked
        print(f"nplint: internal error: {type(error).__name__}: {error}", file=sys.stderr)
        if os.environ.get("NPLINT_DEBUG"):
            traceback.print_exc()
        else:
            print("nplint: set NPLINT_DEBUG=1 to see the traceback, and please report it", file=sys.stderr)
        return ExitCode.ERROR


def _replace_closed_streams() -> None:
    """Give a standard stream that was closed when Python started a sink that drops what it gets.

    Python leaves ``sys.stdout`` or ``sys.stderr`` None when its descriptor was
    closed (``nplint . >&-``). Writing to None would fail, and ``print(…,
    file=None)`` would send an error message into the report instead. A closed
    stream is read as the user saying "I do not want this": the report (or the
    messages) go nowhere, as with ``>/dev/null``, and the exit code still says
    what was found (0, 1 or 2).
    """
    if sys.stdout is None:
        sys.stdout = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - lives as long as the process
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - lives as long as the process


def _reserve_standard_descriptors() -> None:
    """Put ``/dev/null`` on descriptors 0, 1 and 2 if they are closed.

    Otherwise the next file nplint opens (a manifest, the pipe to its second
    process) would get one of these numbers, and anything written to "standard
    output" or "standard error", by nplint or a program it runs, would land in it.
    """
    for descriptor in (0, 1, 2):
        try:
            os.fstat(descriptor)
        except OSError:
            opened = os.open(os.devnull, os.O_RDWR)
            if opened != descriptor:
                os.dup2(opened, descriptor)
                os.close(opened)


def entry() -> NoReturn:
    """The ``nplint`` console script: :func:`main` in a process that ends as soon as it is done.

    A run keeps a node for every YAML value until it ends. With the cyclic
    garbage collector on, the collections after the lint itself (while the
    report is written) and the one at interpreter exit walk all of them again,
    and tearing the objects down one by one costs more: on a 10,000-document
    tree the run took 7 s where the work is done in 3.3 s. So the console script
    keeps the collector off, and once the output is flushed and the exit
    handlers have run, the process ends without the teardown. :func:`main`
    itself (for tests and embedding) leaves the interpreter as it found it.
    """
    _reserve_standard_descriptors()
    gc.disable()
    code = main()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(
            OSError, ValueError, AttributeError
        ):  # a closed pipe: nothing more can be said
            stream.flush()
    atexit._run_exitfuncs()
    os._exit(code)
