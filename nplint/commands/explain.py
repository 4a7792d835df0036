"""``nplint explain RULE``: print a rule's documentation."""

from __future__ import annotations

import argparse
import difflib
from typing import Any, TextIO

from nplint.commands.common import Session, UsageError
from nplint.exitcodes import ExitCode
from nplint.pages import rule_page


def add_parser(subparsers: Any, session: Session | None = None) -> None:
    """Add the ``explain`` command."""
    commands = subparsers
    explain = commands.add_parser("explain", help="print a rule's documentation")
    explain.add_argument("rule", metavar="RULE", help="a rule ID or name, e.g. NP301 or egress-blocks-dns")


def run(args: argparse.Namespace, session: Session, stdout: TextIO) -> int:
    rule_id = session.rules.resolve(args.rule)
    if rule_id is None:
        known = [r.id for r in session.rules] + [r.name for r in session.rules]
        near = difflib.get_close_matches(args.rule, known, n=3)
        hint = f"; did you mean {', '.join(near)}?" if near else "; run `nplint rules` for the list"
        raise UsageError(f"no rule {args.rule!r}{hint}")
    page = rule_page(rule_id)
    if page is None:
        rule = session.rules.get(rule_id)
        page = f"# {rule.id} {rule.name}\n\n{rule.summary}\n"
    stdout.write(page if page.endswith("\n") else page + "\n")
    return ExitCode.OK
