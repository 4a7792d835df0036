"""What every command shares: the session, usage errors, the common options, the configuration, output.

:mod:`nplint.cli` and every module of :mod:`nplint.commands` import this one,
and it imports neither, so the command line and the commands form no cycle.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from nplint.cluster.view import UnknownCNIError, check_cni
from nplint.config import Config, find_root, load_config, repository_path
from nplint.deployment_scope import SKIP_NOT_DEPLOYED
from nplint.discovery import SkippedFile
from nplint.engine.engine import Engine, engine_for
from nplint.loading import iter_manifests
from nplint.model import Inventory
from nplint.model.namespace_labels import NamespaceLabelCommands
from nplint.output_files import OutputFileError, replace_file, write_chunks
from nplint.plugins.manager import PluginManager
from nplint.records import record
from nplint.reporting.base import ReporterRegistry
from nplint.rules.base import RuleRegistry
from nplint.untrusted import capped, escape, quoted, shown

if TYPE_CHECKING:
    from nplint.discovery import SkippedFile
    from nplint.loading import LoadedFile, Manifest
    from nplint.render import Target
    from nplint.units import Unit, World

__all__ = [
    "Session",
    "UsageError",
    "add_common",
    "add_render_option",
    "add_render_run_options",
    "build_engine",
    "config_for",
    "deployed",
    "print_error",
    "warn_load_problems",
    "write_output",
]


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


def add_common(parser: argparse.ArgumentParser) -> None:
    """The options every command that reads a repository takes."""
    parser.add_argument(
        "--config",
        metavar="FILE",
        type=Path,
        help="configuration file (default: the nearest .nplint.yaml, .nplint.toml or pyproject.toml)",
    )
    parser.add_argument(
        "--cni",
        metavar="NAME[@VERSION]",
        help="the cluster's CNI plugin (calico, cilium, flannel, …), with its version where known "
        "(calico@3.30, cilium@1.17, antrea@2.7)",
    )
    parser.add_argument(
        "--namespace",
        metavar="NS",
        help="namespace of objects that name none (default: each unit's own unnamed namespace, "
        "named after its folder)",
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
        help="render and parse everything again instead of using what .nplint_cache/ keeps",
    )
    parser.add_argument(
        "--progress",
        action="store_true",
        help="show a progress line while rendering on standard error (shown anyway on a terminal)",
    )


def config_for(
    args: argparse.Namespace, paths: Sequence[str], overrides: dict[str, Any], *, root: Path | None = None
) -> Config:
    """The configuration for linting ``paths``: the repository's settings, then the command line's.

    ``root`` is the repository root (default: the one around the current
    directory); every path the configuration names must stay inside it.

    :raises UsageError: for a CNI name (``--cni`` or ``cni:``) no profile knows,
        the same message in every command.
    """
    start = Path.cwd()
    first = next((p for p in paths if p != "-"), None)
    if first is not None:
        start = Path(first)
    if root is None:
        root = find_root(paths)
    if args.cni:
        # Refused here rather than by the configuration's check, so the message names the option.
        try:
            check_cni(args.cni, option="--cni")
        except UnknownCNIError as error:
            raise UsageError(str(error)) from None
        overrides["cni"] = args.cni
    if args.namespace:
        overrides["default-namespace"] = args.namespace
    helm_values = getattr(args, "helm_values", None)
    if helm_values:
        overrides["helm-values"] = _command_line_files("--helm-values", helm_values, root)
    config = load_config(
        args.config, start=start if start.exists() else Path.cwd(), root=root, overrides=overrides
    )
    try:
        check_cni(config.cni, option="--cni" if args.cni else "cni:")
    except UnknownCNIError as error:
        raise UsageError(str(error)) from None
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


def build_engine(inventory: Inventory, config: Config) -> Engine:
    """The engine of the inventory's cluster view: the CNI declared, else the one the manifests show.

    :raises UsageError: for a CNI name no profile knows.
    """
    try:
        check_cni(config.cni, option="cni:")
    except UnknownCNIError as error:
        raise UsageError(str(error)) from None
    return engine_for(inventory, config)


def warn_load_problems(files: Sequence[LoadedFile], stderr: TextIO | None = None) -> None:
    """Tell the user which files (or documents) were left out because they do not parse."""
    stream = stderr if stderr is not None else sys.stderr
    for loaded in files:
        problems = list(loaded.problems) + [p for d in loaded.documents for p in d.problems if d.failed]
        for problem in problems[:1]:
            # The path and the message (a YAML error quoting the file) are the repository's.
            where = f"{escape(str(loaded.path))}:{problem.span.line}:{problem.span.column}"
            print(
                f"nplint: warning: {where}: {capped(escape(problem.message))}; "
                "its objects are left out (run `nplint check` for details)",
                file=stream,
            )


def write_output(text: str | Iterable[str], output: str | None, stdout: TextIO) -> None:
    """Write text, or chunks of it as they are rendered, to ``output`` or standard output.

    ``output`` is replaced, never written through: a symlink the repository
    committed at that path is replaced by the report, and what it pointed to is
    left alone (see :mod:`nplint.output_files`).

    :raises UsageError: when ``output`` cannot be written.
    """
    chunks = [text] if isinstance(text, str) else text
    if not output:
        write_chunks(chunks, stdout)
        return
    try:
        replace_file(output, chunks)
    except OutputFileError as error:
        raise UsageError(str(error)) from None


def print_error(message: object, *, kind: str = "error") -> None:
    """Print ``nplint: KIND: message`` on standard error, each line of it escaped and prefixed.

    Messages quote repository text (a configuration file's folder, a value, a file name).
    Escaped, a control character cannot rewrite the terminal; prefixed, no line can start
    with text of the repository, where a CI log would run ``::warning::`` or
    ``::add-mask::`` as a workflow command.
    """
    for line in str(message).split("\n"):
        print(f"nplint: {kind}: {escape(line)}", file=sys.stderr)


@record(slots=True)
class Deployed:
    """A tree seen the way it is deployed: what ``reach`` and ``worlds`` evaluate."""

    files: list[LoadedFile]
    manifests: list[Manifest]
    units: dict[str, Unit]
    worlds: list[World]
    #: What discovery skipped, and why (test folders, templates, kustomizations).
    skipped: tuple[SkippedFile, ...] = ()
    #: Namespace labels the repository sets by command (:mod:`nplint.label_commands`).
    label_commands: NamespaceLabelCommands | None = None


def deployed(paths: Sequence[str], config: Config, session: Session) -> Deployed:
    """Discover, load, render, then units and worlds: the pipeline of ``check`` up to the rules.

    What does not parse and what is not rendered is said on standard error, since
    these commands have no findings to carry it.

    :raises UsageError: for a path that does not exist.
    """
    from nplint import document_cache
    from nplint.lint import deployment_worlds, load_paths, rendered_files

    with document_cache.opened(config.root, enabled=config.cache) as documents:
        # Test inputs read only for NP001 are not deployed: no unit shows them.
        found, files = load_paths(paths, config, session.plugins, documents=documents, glued=False)
        if found.missing:
            raise UsageError(", ".join(f"{shown(m)}: no such file or directory" for m in found.missing))
        warn_load_problems(files)
        files, rendering = rendered_files(found, files, config, documents)
    for target, why in rendering.unrendered:
        print(
            f"nplint: note: {quoted(target.display)} is not rendered: {why}; its objects are left out",
            file=sys.stderr,
        )
    note_not_deployed(found.skipped, rendering.set_aside)
    manifests = [m for loaded in files for m in iter_manifests(loaded)]
    units, worlds = deployment_worlds(files, manifests, rendering, config)
    return Deployed(files, manifests, units, worlds, found.skipped, found.label_commands)


def note_not_deployed(skipped: Sequence[SkippedFile], set_aside: Sequence[tuple[Target, str]]) -> None:
    """Say on standard error what is no unit because nothing deploys it (:mod:`nplint.deployment_scope`)."""
    for item in skipped:
        if item.reason == SKIP_NOT_DEPLOYED:
            print(f"nplint: note: {quoted(item.display)} is not linted: {item.detail}", file=sys.stderr)
    for target, why in set_aside:
        print(f"nplint: note: {quoted(target.display)} is no deployment unit: {why}", file=sys.stderr)
