"""``nplint diff BASE [HEAD]``: the flows a change opens, closes or changes, and its new findings.

BASE and HEAD are git revisions of the repository around the current directory
(HEAD defaults to the working tree), or two directories. A directory is written
as one (``./old``, ``old/``, ``../x``, ``/abs``); any other name is a revision,
even when a directory of that name exists, so a pull request cannot hide the
base revision behind a folder named like it. A revision is written into a
temporary directory from git's object store (:mod:`nplint.commands.revision`:
no worktree, no checkout, no filters), bounded in size and time; links that
would lead out of it are left out.

Exit codes: 0; 1 with ``--fail-on-new`` when HEAD has findings BASE has not;
2 for usage errors (a revision git does not know, a missing directory).
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from nplint.commands.common import (
    Session,
    UsageError,
    add_common,
    add_render_option,
    build_engine,
    config_for,
    write_output,
)
from nplint.commands.revision import RevisionError, commit_of, repository_root, write_revision
from nplint.engine.diff import compare
from nplint.engine.engine import Engine
from nplint.engine.matrix import Matrix, compute_matrix
from nplint.exitcodes import ExitCode
from nplint.findings import Finding
from nplint.model import Direction
from nplint.model.objects import IPNetwork
from nplint.reporting.changes import DIFF_FORMATS

_DIRECTORY_FORMS = ("/", "./", "../")


def add_parser(subparsers: Any, session: Session | None = None) -> None:
    """Add the `diff` command; ``session`` is unused (the command has no plugin options)."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "diff",
        help="show the connectivity and findings a change adds or removes",
        description="Compare two git revisions (HEAD defaults to the working tree) or two directories. "
        "A name is a revision unless it is written as a directory: starting with /, ./ or ../, or ending "
        "with / (e.g. `nplint diff old/ new/`), so a folder named like a revision never stands in for it.",
    )
    parser.add_argument(
        "base", metavar="BASE", help="a git revision, or a directory written as one (./DIR, DIR/, /abs/dir)"
    )
    parser.add_argument(
        "head",
        nargs="?",
        metavar="HEAD",
        help="a git revision, or a directory written as one (default: the working tree)",
    )
    parser.add_argument(
        "--format", choices=tuple(DIFF_FORMATS), default="text", help="text (default), json, markdown"
    )
    parser.add_argument("--output", "-o", metavar="FILE", help="write the output to FILE")
    parser.add_argument(
        "--fail-on-new", action="store_true", help="exit 1 when HEAD has findings BASE has not"
    )
    add_common(parser)
    add_render_option(parser)


@dataclass(slots=True)
class _Side:
    name: str
    tree: Path
    findings: list[Finding]
    engine: Engine


def run(args: argparse.Namespace, session: Session, stdout: TextIO) -> int:
    from nplint.lint import collector_paused

    with collector_paused():
        return _run(args, session, stdout)


def _run(args: argparse.Namespace, session: Session, stdout: TextIO) -> int:

    with tempfile.TemporaryDirectory(prefix="nplint-diff-") as scratch:
        base_name, base_tree = _materialise(args.base, Path(scratch) / "base")
        if args.head is None:
            if is_directory_form(args.base):
                raise UsageError("comparing directories needs two: nplint diff BASE_DIR/ HEAD_DIR/")
            head_name, head_tree = "working tree", _working_tree()
        else:
            head_name, head_tree = _materialise(args.head, Path(scratch) / "head")
        base = _evaluate(base_name, base_tree, args, session)
        head = _evaluate(head_name, head_tree, args, session)
    networks = _networks(base.engine) + _networks(head.engine)
    base_matrix: Matrix = compute_matrix(base.engine, extra_networks=networks)
    head_matrix: Matrix = compute_matrix(head.engine, extra_networks=networks)
    result = compare(base.name, head.name, base_matrix, head_matrix, base.findings, head.findings)
    write_output(DIFF_FORMATS[args.format](result), args.output, stdout)
    if args.fail_on_new and result.new_findings:
        return ExitCode.FINDINGS
    return ExitCode.OK


def _networks(engine: Engine) -> list[IPNetwork]:
    return engine.ip_blocks(Direction.INGRESS) + engine.ip_blocks(Direction.EGRESS)


def _evaluate(name: str, tree: Path, args: argparse.Namespace, session: Session) -> _Side:
    from nplint.lint import lint

    # Each side is its own repository: its configuration is found in it, the paths
    # that configuration names must stay in it, and findings name files relative to it.
    root = tree.resolve()
    config = config_for(args, [str(root)], {}, root=root)
    session.plugins.configure(config)
    result = lint([str(root)], config, session.plugins, session.rules)
    if result.missing:
        raise UsageError(f"{tree}: no such file or directory")
    return _Side(name, tree, result.findings, build_engine(result.inventory, config))


def is_directory_form(reference: str) -> bool:
    """Whether BASE or HEAD is written as a directory (``./x``, ``x/``, ``../x``, ``/x``, ``.``)."""
    return reference in (".", "..") or reference.startswith(_DIRECTORY_FORMS) or reference.endswith("/")


def _materialise(reference: str, target: Path) -> tuple[str, Path]:
    """A directory as is, or a git revision written into ``target``."""

    if is_directory_form(reference):
        if not Path(reference).is_dir():
            raise UsageError(f"{reference!r}: no such directory")
        return reference, Path(reference)
    try:
        root = repository_root()
        write_revision(commit_of(reference, root), reference, root, target)
    except RevisionError as error:
        raise UsageError(str(error)) from None
    return reference, target


def _working_tree() -> Path:

    try:
        return repository_root()
    except RevisionError as error:
        raise UsageError(str(error)) from None
