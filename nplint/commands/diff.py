"""``nplint diff BASE [HEAD]``: the flows a change opens, closes or changes, and its new findings.

BASE and HEAD are git revisions of the repository around the current directory
(HEAD defaults to the working tree), or two directories. A revision is
extracted with ``git archive`` into a temporary directory (no worktree, no
checkout), then linted and evaluated like any tree.

Exit codes: 0; 1 with ``--fail-on-new`` when HEAD has findings BASE has not;
2 for usage errors (a revision git does not know, a missing directory).
"""

from __future__ import annotations

import argparse
import io
import subprocess
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from nplint.analysis.diff import DIFF_FORMATS, compare
from nplint.analysis.engine import Engine
from nplint.analysis.matrix import Matrix, compute_matrix
from nplint.commands import build_engine, write_output
from nplint.exitcodes import ExitCode
from nplint.findings import Finding
from nplint.model import Direction
from nplint.model.objects import IPNetwork

if TYPE_CHECKING:
    from nplint.cli import Session


def add_parser(subparsers: Any, add_common: Callable[[argparse.ArgumentParser], None]) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "diff",
        help="show the connectivity and findings a change adds or removes",
        description="Compare two git revisions (HEAD defaults to the working tree) or two directories.",
    )
    parser.add_argument("base", metavar="BASE", help="a git revision, or a directory")
    parser.add_argument(
        "head", nargs="?", metavar="HEAD", help="a git revision, or a directory (default: the working tree)"
    )
    parser.add_argument(
        "--format", choices=tuple(DIFF_FORMATS), default="text", help="text (default), json, markdown"
    )
    parser.add_argument("--output", "-o", metavar="FILE", help="write the output to FILE")
    parser.add_argument(
        "--fail-on-new", action="store_true", help="exit 1 when HEAD has findings BASE has not"
    )
    add_common(parser)


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
    from nplint.cli import UsageError

    with tempfile.TemporaryDirectory(prefix="nplint-diff-") as scratch:
        base_name, base_tree = _materialise(args.base, Path(scratch) / "base")
        if args.head is None:
            if Path(args.base).is_dir():
                raise UsageError("comparing directories needs two: nplint diff BASE_DIR HEAD_DIR")
            head_name, head_tree = "working tree", _repository_root()
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
    from nplint.cli import UsageError, config_for
    from nplint.lint import lint

    config = config_for(args, [str(tree)], {})
    # Paths are shown relative to the tree, so both sides name files alike.
    config.root = tree
    session.plugins.configure(config)
    result = lint([str(tree)], config, session.plugins, session.rules)
    if result.missing:
        raise UsageError(f"{tree}: no such file or directory")
    return _Side(name, tree, result.findings, build_engine(result.inventory, config))


def _git(*command: str, cwd: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    from nplint.cli import UsageError

    try:
        return subprocess.run(["git", *command], cwd=cwd, capture_output=True, check=False)
    except OSError as error:
        raise UsageError(f"cannot run git: {error}") from None


def _repository_root() -> Path:
    from nplint.cli import UsageError

    done = _git("rev-parse", "--show-toplevel")
    if done.returncode != 0:
        raise UsageError("not inside a git repository: name two directories, or run from the repository")
    return Path(done.stdout.decode().strip())


def _materialise(reference: str, target: Path) -> tuple[str, Path]:
    """A directory as is, or a git revision extracted into ``target``."""
    from nplint.cli import UsageError

    if Path(reference).is_dir():
        return reference, Path(reference)
    root = _repository_root()
    check = _git("rev-parse", "--verify", "--quiet", f"{reference}^{{commit}}", cwd=root)
    if check.returncode != 0:
        raise UsageError(f"{reference!r} is neither a directory nor a revision of the repository at {root}")
    archive = _git("archive", "--format=tar", check.stdout.decode().strip(), cwd=root)
    if archive.returncode != 0:
        raise UsageError(f"git archive {reference} failed: {archive.stderr.decode(errors='replace').strip()}")
    target.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(target, filter="data")
    return reference, target
