"""``nplint diff BASE [HEAD]``: the flows a change opens, closes or changes, and its new findings.

BASE and HEAD are git revisions of the repository around the current directory
(HEAD defaults to the working tree), or two directories. A directory is written
as one (``./old``, ``old/``, ``../x``, ``/abs``); any other name is a revision,
even when a directory of that name exists, so a pull request cannot hide the
base revision behind a folder named like it. A revision is written into a
temporary directory from git's object store (:mod:`nplint.commands.revision`:
no worktree, no checkout, no filters), bounded in size and time; links that
would lead out of it are left out.

Each side goes through the pipeline ``check`` runs (discover → render → units →
worlds → inventory), and the two are compared world by world (see
:func:`_paired`); a repository of one world on each side reads as it always did.

Exit codes: 0; 1 with ``--fail-on-new`` when HEAD has findings BASE has not;
2 for usage errors (a revision git does not know, a missing directory).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from nplint.commands.common import (
    Session,
    UsageError,
    add_common,
    add_render_option,
    build_engine,
    config_for,
    write_output,
)
from nplint.exitcodes import ExitCode
from nplint.findings import Finding
from nplint.model import Direction
from nplint.records import record
from nplint.units import World

if TYPE_CHECKING:
    from nplint.engine.engine import Engine
    from nplint.engine.matrix import Matrix
    from nplint.lint import WorldInventory
    from nplint.model.objects import IPNetwork

#: The formats of :data:`nplint.reporting.changes.DIFF_FORMATS`, named here so that the
#: command line is built without the comparison and its reports (only ``diff`` runs them).
FORMATS = ("text", "json", "markdown")

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
    parser.add_argument("--format", choices=FORMATS, default="text", help="text (default), json, markdown")
    parser.add_argument("--output", "-o", metavar="FILE", help="write the output to FILE")
    parser.add_argument(
        "--verbose",
        "-v",
        action="store_true",
        help="under each new or fixed finding, why it matters and how to fix it (text format)",
    )
    parser.add_argument(
        "--fail-on-new", action="store_true", help="exit 1 when HEAD has findings BASE has not"
    )
    add_common(parser)
    add_render_option(parser)


@record(slots=True)
class _Side:
    name: str
    tree: Path
    findings: list[Finding]
    #: Each world of the revision with its inventory and cluster configuration.
    worlds: list[WorldInventory]


def run(args: argparse.Namespace, session: Session, stdout: TextIO) -> int:
    from nplint.lint import collector_paused

    with collector_paused():
        return _run(args, session, stdout)


def _run(args: argparse.Namespace, session: Session, stdout: TextIO) -> int:
    import tempfile

    from nplint.engine.diff import compare, compare_worlds
    from nplint.reporting.changes import DIFF_FORMATS, diff_text

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
    pairs = _paired(base.worlds, head.worlds)
    if len(pairs) == 1:
        # One world on each side (the common case): compared as a whole, as ever.
        _, base_matrix, head_matrix = _matrices(*pairs[0])
        result = compare(base.name, head.name, base_matrix, head_matrix, base.findings, head.findings)
    else:
        compared = [_matrices(*pair) for pair in pairs]
        result = compare_worlds(base.name, head.name, compared, base.findings, head.findings)
    text = diff_text(result, verbose=True) if args.verbose and args.format == "text" else None
    write_output(text or DIFF_FORMATS[args.format](result), args.output, stdout)
    if args.fail_on_new and result.new_findings:
        return ExitCode.FINDINGS
    return ExitCode.OK


def _paired(
    base: Sequence[WorldInventory], head: Sequence[WorldInventory]
) -> list[tuple[World, WorldInventory | None, WorldInventory | None]]:
    """Each world with its BASE and HEAD (None where that side has no such world), named as HEAD names it.

    Worlds are matched by name. A world left without a match on both sides is
    then matched with the one holding most of the same units: a repository that
    gains a second overlay turns its only world into ``overlay prod``, which
    must compare with what that world was, not with nothing. A world still
    alone compares with an empty one: all its flows opened (or closed).
    """
    by_label = {w.world.label: w for w in base}
    pairs: list[tuple[World, WorldInventory | None, WorldInventory | None]] = []
    matched: set[str] = set()
    alone: list[int] = []
    for now in head:
        before = by_label.get(now.world.label)
        if before is not None:
            matched.add(before.world.label)
        else:
            alone.append(len(pairs))
        pairs.append((now.world, before, now))
    left = [w for w in base if w.world.label not in matched]
    for position in alone:
        world, _, current = pairs[position]
        units = {u.name for u in world.units}
        overlaps = [len(units & {u.name for u in w.world.units}) for w in left]
        if overlaps and max(overlaps) > 0:
            pairs[position] = (world, left.pop(overlaps.index(max(overlaps))), current)
    pairs += [(w.world, w, None) for w in left]
    return pairs


def _matrices(
    world: World, base: WorldInventory | None, head: WorldInventory | None
) -> tuple[World, Matrix, Matrix]:
    """A world's two matrices, their external ranges cut at both sides' blocks so flows line up."""
    from nplint.engine.matrix import Matrix, compute_matrix

    engines = [build_engine(w.inventory, w.config) if w is not None else None for w in (base, head)]
    networks = [n for engine in engines if engine is not None for n in _networks(engine)]
    profile = next(engine.profile.name for engine in engines if engine is not None)
    base_matrix, head_matrix = (
        compute_matrix(engine, extra_networks=networks)
        if engine is not None
        else Matrix(profile, (), (), (), {})
        for engine in engines
    )
    return world, base_matrix, head_matrix


def _networks(engine: Engine) -> list[IPNetwork]:
    return engine.ip_blocks(Direction.INGRESS) + engine.ip_blocks(Direction.EGRESS)


def _evaluate(name: str, tree: Path, args: argparse.Namespace, session: Session) -> _Side:
    from nplint.lint import WorldInventory, lint, world_inventories

    # Each side is its own repository: its configuration is found in it, the paths
    # that configuration names must stay in it, and findings name files relative to it.
    root = tree.resolve()
    config = config_for(args, [str(root)], {}, root=root)
    session.plugins.configure(config)
    result = lint([str(root)], config, session.plugins, session.rules)
    if result.missing:
        raise UsageError(f"{tree}: no such file or directory")
    if len(result.worlds) == 1:
        # The run built this one world's inventory already.
        world = result.worlds[0]
        worlds = [WorldInventory(world, result.inventory, world.config(config))]
    else:
        worlds = world_inventories(
            result.files,
            result.units,
            result.worlds,
            config,
            session.plugins,
            label_commands=result.inventory.label_commands,
        )
    return _Side(name, tree, result.findings, worlds)


def is_directory_form(reference: str) -> bool:
    """Whether BASE or HEAD is written as a directory (``./x``, ``x/``, ``../x``, ``/x``, ``.``)."""
    return reference in (".", "..") or reference.startswith(_DIRECTORY_FORMS) or reference.endswith("/")


def _materialise(reference: str, target: Path) -> tuple[str, Path]:
    """A directory as is, or a git revision written into ``target``."""
    from nplint.commands.revision import RevisionError, commit_of, repository_root, write_revision

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
    from nplint.commands.revision import RevisionError, repository_root

    try:
        return repository_root()
    except RevisionError as error:
        raise UsageError(str(error)) from None
