"""Subcommands beyond ``check``: ``reach`` (connectivity) and ``diff`` (what a change alters).

Each module exposes ``add_parser(subparsers, add_common)`` and
``run(args, session, stdout) -> int``; :mod:`nplint.cli` wires them in.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, TextIO

from nplint.cluster.profiles import engine_profile
from nplint.config import Config
from nplint.engine.engine import Engine
from nplint.exitcodes import ExitCode
from nplint.model import Inventory
from nplint.output_files import OutputFileError, replace_file, write_chunks
from nplint.untrusted import capped, escape

if TYPE_CHECKING:
    from nplint.cli import Session
    from nplint.loading import LoadedFile

__all__ = ["build_engine", "run_command", "warn_load_problems", "write_output"]


def build_engine(inventory: Inventory, config: Config) -> Engine:
    """The engine for the configured CNI (``--cni`` or ``cni:``), upstream semantics by default.

    :raises nplint.cli.UsageError: for a CNI name no profile knows.
    """
    from nplint.cli import UsageError

    try:
        profile = engine_profile(config.cni)
    except KeyError as error:
        raise UsageError(str(error.args[0])) from None
    return inventory.memo(("engine", profile.name), lambda: Engine(inventory, profile, config.cluster))


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

    :raises nplint.cli.UsageError: when ``output`` cannot be written.
    """
    chunks = [text] if isinstance(text, str) else text
    if not output:
        write_chunks(chunks, stdout)
        return
    from nplint.cli import UsageError

    try:
        replace_file(output, chunks)
    except OutputFileError as error:
        raise UsageError(str(error)) from None


def run_command(name: str, argv: Sequence[str], stdout: TextIO, session: Session | None = None) -> int:
    """Parse ``argv`` for the subcommand ``name`` and run it, as ``nplint NAME ARGV…`` would.

    For tests and embedding before (or besides) the wiring in :mod:`nplint.cli`:
    usage and configuration errors print ``nplint: error: …`` and give exit code 2.
    """
    import argparse
    import importlib

    from nplint.cli import Session as NewSession
    from nplint.cli import UsageError, _add_common, print_error
    from nplint.config import ConfigError

    module = importlib.import_module(f"{__name__}.{name}")
    parser = argparse.ArgumentParser(prog="nplint")
    subparsers = parser.add_subparsers(dest="command")
    module.add_parser(subparsers, _add_common)
    try:
        args = parser.parse_args([name, *argv])
    except SystemExit as exit_:
        return ExitCode.OK if exit_.code in (0, None) else ExitCode.ERROR
    try:
        result: int = module.run(args, session or NewSession(), stdout)
    except (UsageError, ConfigError) as error:
        print_error(error)
        return ExitCode.ERROR
    return result
