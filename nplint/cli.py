"""The command line: parsing, dispatch and the console entry.

``nplint [check] [PATH ...]``, ``rules``, ``explain``, ``reach``, ``diff``: each
command lives in :mod:`nplint.commands` (``add_parser`` and ``run``), and what
they share in :mod:`nplint.commands.common`. The commands never import this
module, so there is no import cycle between the two.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import gc
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import NoReturn, TextIO

from nplint import __version__
from nplint.baseline import BaselineError
from nplint.commands import check, diff, explain, reach, rules, server, worlds
from nplint.commands.common import (
    Session,
    UsageError,
    add_common,
    add_render_option,
    config_for,
    print_error,
)
from nplint.config import ConfigError
from nplint.exitcodes import ExitCode
from nplint.plugins.manager import PluginLoadError
from nplint.selection import SelectionError

# Re-exported: tests, the Action and embedding applications import them from here.
__all__ = [
    "COMMANDS",
    "Session",
    "UsageError",
    "add_common",
    "add_render_option",
    "build_parser",
    "config_for",
    "entry",
    "main",
    "print_error",
]

#: Each command's module, in the order ``nplint --help`` lists them.
_MODULES = {
    "check": check,
    "rules": rules,
    "explain": explain,
    "reach": reach,
    "diff": diff,
    "worlds": worlds,
    "server": server,
}
COMMANDS = tuple(_MODULES)


def build_parser(session: Session | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nplint",
        description="Lint Kubernetes NetworkPolicy manifests and show the connectivity they allow.",
    )
    parser.add_argument("--version", action="version", version=f"nplint {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in _MODULES.values():
        module.add_parser(commands, session)
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
        print_error(error)
        return ExitCode.ERROR
    except ValueError as error:
        print_error(f"a plugin registered a bad rule or format: {error}")
        return ExitCode.ERROR
    parser = build_parser(session)
    try:
        args = parser.parse_args(args_list)
    except SystemExit as exit_:
        return ExitCode.OK if exit_.code in (0, None) else ExitCode.ERROR
    try:
        if args.command == "check":
            return check.run(args, session, out, stdin)
        result: int = _MODULES[args.command].run(args, session, out)
        return result
    except (UsageError, ConfigError, SelectionError, BaselineError) as error:
        print_error(error)
        return ExitCode.ERROR
    except KeyboardInterrupt:
        return ExitCode.ERROR
    except BrokenPipeError:
        return ExitCode.OK
    except Exception as error:  # the last line of defence: a message, exit 2, no traceback unless asked
        print_error(f"{type(error).__name__}: {error}", kind="internal error")
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
    keeps the collector off, and once the output is flushed, the exit handlers
    have run and the helper processes are reaped, the process ends without the
    teardown. :func:`main` itself (for tests and embedding) leaves the
    interpreter as it found it.
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
    # Once nplint.parallel is imported a second process was possible: reap what is still
    # ending. A module another thread is still importing (the language server's exit may
    # come mid-import) has forked nothing yet.
    reap = getattr(sys.modules.get("nplint.parallel"), "reap_ended", None)
    if reap is not None:
        reap(wait=True)
    os._exit(code)
