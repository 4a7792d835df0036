"""``nplint diff BASE [HEAD]``: the flows a change opens, closes or changes, and its new findings.

BASE and HEAD are git revisions of the repository around the current directory
(HEAD defaults to the working tree), or two directories. A directory is written
as one (``./old``, ``old/``, ``../x``, ``/abs``); any other name is a revision,
even when a directory of that name exists, so a pull request cannot hide the
base revision behind a folder named like it. A revision is extracted with
``git archive`` into a temporary directory (no worktree, no checkout), bounded
in size; links that would lead out of it (absolute, ``..`` beyond the top, or
hard links to outside) are left out, the way a checkout of a link to outside
gives nothing to read.

Exit codes: 0; 1 with ``--fail-on-new`` when HEAD has findings BASE has not;
2 for usage errors (a revision git does not know, a missing directory).
"""

from __future__ import annotations

import argparse
import subprocess
import tarfile
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from nplint.analysis.diff import DIFF_FORMATS, compare
from nplint.analysis.engine import Engine
from nplint.analysis.matrix import Matrix, compute_matrix
from nplint.commands import build_engine, write_output
from nplint.config import size_text
from nplint.exitcodes import ExitCode
from nplint.findings import Finding
from nplint.model import Direction
from nplint.model.objects import IPNetwork

if TYPE_CHECKING:
    from nplint.cli import Session

#: The largest tar stream ``git archive`` may produce for one revision.
ARCHIVE_LIMIT = 1 << 30
#: Seconds one git command may take.
GIT_TIMEOUT = 300
_DIRECTORY_FORMS = ("/", "./", "../")


def add_parser(subparsers: Any, add_common: Callable[[argparse.ArgumentParser], None]) -> None:
    from nplint.cli import add_render_option

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
    from nplint.cli import UsageError

    with tempfile.TemporaryDirectory(prefix="nplint-diff-") as scratch:
        base_name, base_tree = _materialise(args.base, Path(scratch) / "base")
        if args.head is None:
            if is_directory_form(args.base):
                raise UsageError("comparing directories needs two: nplint diff BASE_DIR/ HEAD_DIR/")
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


def _git(*command: str, cwd: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    from nplint.cli import UsageError

    try:
        return subprocess.run(
            ["git", *command], cwd=cwd, capture_output=True, check=False, timeout=GIT_TIMEOUT
        )
    except subprocess.TimeoutExpired:
        raise UsageError(f"git {command[0]} took longer than {GIT_TIMEOUT} s") from None
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

    if is_directory_form(reference):
        if not Path(reference).is_dir():
            raise UsageError(f"{reference!r}: no such directory")
        return reference, Path(reference)
    if reference.startswith("-"):
        raise UsageError(f"{reference!r}: a revision does not start with '-'")
    root = _repository_root()
    commit = _commit(reference, root)
    target.mkdir(parents=True)
    archive = target.parent / f"{target.name}.tar"
    _archive(commit, reference, root, archive)
    with tarfile.open(archive) as tar:
        tar.extractall(target, filter=_safe_member)
    archive.unlink()
    return reference, target


def _commit(reference: str, root: Path) -> str:
    """The commit a revision names, as a full hash (nothing git could take for an option)."""
    from nplint.cli import UsageError

    done = _git("rev-parse", "--verify", "--quiet", "--end-of-options", f"{reference}^{{commit}}", cwd=root)
    commit = done.stdout.decode(errors="replace").strip()
    if done.returncode != 0 or not commit or not all(c in "0123456789abcdef" for c in commit):
        hint = ""
        if Path(reference).is_dir():
            hint = f"; to compare the directory, write it as ./{reference} or {reference}/"
        raise UsageError(f"{reference!r} is not a revision of the repository at {root}{hint}")
    return commit


def _archive(commit: str, reference: str, root: Path, archive: Path) -> None:
    """``git archive`` of ``commit`` streamed into ``archive``: at most :data:`ARCHIVE_LIMIT` bytes,
    in at most :data:`GIT_TIMEOUT` seconds."""
    from nplint.cli import UsageError

    with archive.open("wb") as sink, tempfile.TemporaryFile() as errors:
        try:
            process = subprocess.Popen(
                ["git", "archive", "--format=tar", commit], cwd=root, stdout=subprocess.PIPE, stderr=errors
            )
        except OSError as error:
            raise UsageError(f"cannot run git: {error}") from None
        assert process.stdout is not None
        expired = threading.Event()

        def expire() -> None:
            expired.set()
            process.kill()

        # A read blocks while git is silent; the timer ends git, and with it the read.
        timer = threading.Timer(GIT_TIMEOUT, expire)
        timer.start()
        written = 0
        try:
            while chunk := process.stdout.read(1 << 20):
                written += len(chunk)
                if written > ARCHIVE_LIMIT:
                    raise UsageError(
                        f"revision {reference!r} is larger than {size_text(ARCHIVE_LIMIT)} as a tar archive; "
                        "nplint does not extract more"
                    )
                sink.write(chunk)
            code = process.wait()
        finally:
            timer.cancel()
            if process.poll() is None:
                process.kill()
                process.wait()
            process.stdout.close()
        if expired.is_set():
            raise UsageError(f"git archive {reference!r} took longer than {GIT_TIMEOUT} s")
        if code != 0:
            errors.seek(0)
            lines = errors.read(4096).decode(errors="replace").strip().splitlines()
            raise UsageError(
                f"git archive {reference!r} failed: {lines[-1] if lines else f'exit code {code}'}"
            )


def _safe_member(member: tarfile.TarInfo, destination: str) -> tarfile.TarInfo | None:
    """The ``data`` filter, with members it refuses left out instead of stopping the extraction.

    A revision may hold a symbolic link to ``/etc/passwd`` or to ``../../outside``:
    in a checkout it would lead out of the repository, which nplint never reads, so
    here it is simply not there. Devices and links out of the tree go the same way.
    """
    try:
        return tarfile.data_filter(member, destination)
    except tarfile.FilterError:
        return None
