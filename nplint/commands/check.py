"""``nplint check [PATH ...]``: lint manifests (the default command)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from nplint import __version__
from nplint.baseline import BaselineError, apply_baseline, read_baseline, write_baseline
from nplint.commands.common import (
    Session,
    UsageError,
    add_common,
    add_render_option,
    config_for,
    print_error,
    write_output,
)
from nplint.config import Config, codes_in, stays_inside
from nplint.exitcodes import ExitCode
from nplint.findings import Fix, Level
from nplint.pages import rule_page
from nplint.reporting.base import STATISTICS_THRESHOLD, Replacement, Report, ReporterRegistry
from nplint.reporting.text import detail_lines, summary_line
from nplint.untrusted import escape

if TYPE_CHECKING:
    from nplint.lint import LintResult


def add_parser(subparsers: Any, session: Session | None = None) -> None:
    """Add the ``check`` command, with the options the session's plugins add."""
    commands = subparsers
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
        "--verbose",
        "-v",
        action="store_true",
        help="show why each finding matters and how to fix it, under its headline (text format)",
    )
    check.add_argument(
        "--statistics",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="end the text output with a count of findings per rule "
        f"(default: when there are more than {STATISTICS_THRESHOLD} findings, and not with --quiet)",
    )
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
    add_fix_options(check)
    add_common(check)
    if session is not None:
        session.plugins.addoption(check)


def add_fix_options(parser: argparse.ArgumentParser) -> None:
    """``--fix``, ``--unsafe-fixes``, ``--diff``, ``--fix-only``, as ruff names them."""
    parser.add_argument("--fix", action="store_true", help="apply the safe fixes to the files, then report")
    parser.add_argument(
        "--unsafe-fixes",
        action="store_true",
        help="with --fix, --diff or --fix-only: apply the unsafe fixes too (they change behaviour)",
    )
    parser.add_argument(
        "--diff",
        action="store_true",
        help="print the fixes as a unified diff and change nothing (exit 1 when there is something to fix)",
    )
    parser.add_argument(
        "--fix-only", action="store_true", help="apply the fixes and report no finding (exit 0)"
    )


def run(
    args: argparse.Namespace,
    session: Session,
    stdout: TextIO,
    stdin: Callable[[], bytes] | None = None,
) -> int:
    """Lint ``args.paths`` and write the report; the exit code says what was found."""
    # Here, not at the top: the rest of the command line (--version, rules, explain) never lints.
    from nplint.lint import lint

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
    result = lint(paths, config, session.plugins, session.rules, reuse=True, **kwargs)
    for missing in result.missing:
        print_error(f"{missing}: no such file or directory")
    if result.missing:
        return ExitCode.ERROR
    if args.write_baseline is not None:
        write_baseline(args.write_baseline, result.findings)
        print(f"nplint: wrote {len(result.findings)} findings to {args.write_baseline}", file=sys.stderr)
        return ExitCode.ERROR if result.failures else ExitCode.OK
    if args.fix or args.diff or args.fix_only:
        fixed = _fix(args, result, config, session, stdout, paths, kwargs)
        if isinstance(fixed, int):
            return fixed
        result = fixed
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
    # --quiet asks for the findings alone: the count table only when asked for by name.
    statistics = False if args.quiet and args.statistics is None else args.statistics
    verbose = bool(args.verbose)
    fixes: Mapping[Fix, tuple[Replacement, ...]] = {}
    if any(name == "sarif" for name, _ in formats) and any(f.fixes for f in result.findings):
        from nplint.fixing.run import replacements

        fixes = replacements(config.root, result.findings, [loaded.path for loaded in result.files])
    report = _report(
        result, config, session, color=False, verbose=verbose, statistics=statistics, replacements=fixes
    )
    for name, target in formats:
        reporter_class = session.reporters.get(name)
        assert reporter_class is not None
        if target is None and name == "text":
            color = _use_color(args.no_color, stdout)
            report = _report(
                result,
                config,
                session,
                color=color,
                verbose=verbose,
                statistics=statistics,
                replacements=fixes,
            )
        reporter = reporter_class()
        if name != "text":
            write_output(reporter.chunks(report), target, stdout)
            continue
        text = reporter.render(report)
        if args.quiet:
            # The summary (and the count of fixable findings under it) is left out.
            summary = summary_line(report).count("\n") + 1
            text = "".join(line + "\n" for line in text.splitlines()[:-summary])
        if args.show_suppressed and result.suppressed:
            text += "".join(
                f"{escape(f.path)}:{f.span.line}:{f.span.column}: {f.rule_id} (suppressed) {f.message}\n"
                + "".join(line + "\n" for line in (detail_lines(f) if args.verbose else ()))
                for f in result.suppressed
            )
        write_output(text, target, stdout)
    for failure in result.failures:
        print_error(f"{failure} (please report it)", kind="internal error")
    if result.failures:
        return ExitCode.ERROR
    return exit_code_for(result, config.fail_on)


def _fix(
    args: argparse.Namespace,
    result: LintResult,
    config: Config,
    session: Session,
    stdout: TextIO,
    paths: Sequence[str],
    kwargs: dict[str, Any],
) -> LintResult | int:
    """Apply (or, with ``--diff``, show) the fixes; the result linted again, or the exit code."""
    from nplint.fixing.run import fix_files, print_notes, summary, unsafe_only
    from nplint.lint import lint

    if "-" in paths and not args.diff:
        raise UsageError("--fix cannot rewrite standard input: use --diff, or name the files")
    unsafe = bool(args.unsafe_fixes)
    readable = [loaded.path for loaded in result.files]
    outcome = fix_files(config.root, result.findings, readable, unsafe=unsafe, write=not args.diff)
    print_notes(outcome.notes)
    more = 0 if unsafe else unsafe_only(result.findings)
    if args.diff:
        write_output(outcome.diff, None, stdout)
        print(f"nplint: {summary(outcome.fixed, more, wrote=False)}", file=sys.stderr)
        return ExitCode.FINDINGS if outcome.fixed else ExitCode.OK
    if outcome.changed_files:
        # What remains is what the fixed files say now.
        result = lint(paths, config, session.plugins, session.rules, reuse=True, **kwargs)
        more = 0 if unsafe else unsafe_only(result.findings)
    print(f"nplint: {summary(outcome.fixed, more, wrote=True)}", file=sys.stderr)
    if args.fix_only:
        return ExitCode.ERROR if result.failures else ExitCode.OK
    return result


def exit_code_for(result: LintResult, fail_on: Level | None) -> int:
    if fail_on is None:
        return ExitCode.OK
    if any(f.level.rank >= fail_on.rank for f in result.findings):
        return ExitCode.FINDINGS
    return ExitCode.OK


def _report(
    result: LintResult,
    config: Config,
    session: Session,
    *,
    color: bool,
    verbose: bool = False,
    statistics: bool | None = None,
    replacements: Mapping[Fix, tuple[Replacement, ...]] | None = None,
) -> Report:
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
        verbose=verbose,
        statistics=statistics,
        replacements=replacements or {},
    )


def _use_color(no_color: bool, stream: TextIO) -> bool:
    if no_color or "NO_COLOR" in os.environ:
        return False
    return hasattr(stream, "isatty") and stream.isatty()


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
