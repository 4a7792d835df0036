"""``nplint rules``: list the rules."""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

from nplint.commands.common import Session
from nplint.exitcodes import ExitCode


def add_parser(subparsers: Any, session: Session | None = None) -> None:
    """Add the ``rules`` command; every rule of the session is listed, plugins' too."""
    commands = subparsers
    rules = commands.add_parser("rules", help="list the rules")
    rules.add_argument("--format", choices=["text", "json"], default="text")
    rules.add_argument(
        "--all", action="store_true", help="(kept for compatibility; every rule is always listed)"
    )


def run(args: argparse.Namespace, session: Session, stdout: TextIO) -> int:
    rules = list(session.rules)
    if args.format == "json":
        data = [{"id": r.id, "name": r.name, "level": r.level.value, "summary": r.summary} for r in rules]
        stdout.write(json.dumps(data, indent=2) + "\n")
        return ExitCode.OK
    width = max((len(r.name) for r in rules), default=0)
    for rule in rules:
        opt_in = "" if rule.default_enabled else " (opt-in)"
        stdout.write(f"{rule.id}  {rule.name:<{width}}  {rule.level.value:<7}  {rule.summary}{opt_in}\n")
    return ExitCode.OK
