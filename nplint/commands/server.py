"""``nplint server``: the language server over standard input and output (``pip install 'nplint[lsp]'``)."""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from nplint.commands.common import Session, add_common, add_render_option, print_error
from nplint.exitcodes import ExitCode

#: What the command says when the ``lsp`` extra is not installed.
MISSING = "the language server needs pygls and lsprotocol: pip install 'nplint[lsp]'"


def add_parser(subparsers: Any, session: Session | None = None) -> None:
    server = subparsers.add_parser(
        "server", help="run the language server (LSP over standard input and output) for editors"
    )
    server.add_argument(
        "--stdio",
        action="store_true",
        help="talk over standard input and output (the default, and the only way)",
    )
    add_render_option(server)
    add_common(server)


def available() -> bool:
    """Whether the ``lsp`` extra is installed."""
    try:
        import lsprotocol  # noqa: F401
        import pygls  # noqa: F401
    except ImportError:
        return False
    return True


def run(args: argparse.Namespace, session: Session, stdout: TextIO) -> int:
    if not available():
        print_error(MISSING)
        return ExitCode.ERROR
    from nplint.lsp.server import serve

    serve(args, session)
    return ExitCode.OK
