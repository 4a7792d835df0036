"""The commands: ``check`` (lint), ``reach`` (connectivity) and ``diff`` (what a change alters).

Each command module exposes ``add_parser(subparsers, session)`` and
``run(args, session, stdout) -> int``; :mod:`nplint.cli` parses and dispatches.
What they share lives in :mod:`nplint.commands.common`, which imports neither
the command line nor a command.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Sequence
from typing import TextIO

from nplint.commands.common import (
    Session,
    UsageError,
    build_engine,
    print_error,
    warn_load_problems,
    write_output,
)
from nplint.config import ConfigError
from nplint.exitcodes import ExitCode

__all__ = ["build_engine", "run_command", "warn_load_problems", "write_output"]


def run_command(name: str, argv: Sequence[str], stdout: TextIO, session: Session | None = None) -> int:
    """Parse ``argv`` for the subcommand ``name`` and run it, as ``nplint NAME ARGV…`` would.

    For tests and embedding besides :mod:`nplint.cli`: usage and configuration
    errors print ``nplint: error: …`` and give exit code 2.
    """
    module = importlib.import_module(f"{__name__}.{name}")
    session = session or Session()
    parser = argparse.ArgumentParser(prog="nplint")
    subparsers = parser.add_subparsers(dest="command")
    module.add_parser(subparsers, session)
    try:
        args = parser.parse_args([name, *argv])
    except SystemExit as exit_:
        return ExitCode.OK if exit_.code in (0, None) else ExitCode.ERROR
    try:
        result: int = module.run(args, session, stdout)
    except (UsageError, ConfigError) as error:
        print_error(error)
        return ExitCode.ERROR
    return result
