"""``nplint check --fix / --unsafe-fixes / --diff / --fix-only``: which fixes run, the diff, the summary.

As ruff does it: ``--fix`` applies the safe fixes, ``--unsafe-fixes`` the
unsafe ones too; ``--diff`` prints what ``--fix`` would write as a unified
diff (``patch -p1`` from the repository root applies it) and changes nothing;
``--fix-only`` applies the fixes and reports no finding. Each finding gets its
first fix the options allow; one pass, so ``--diff`` shows exactly what
``--fix`` writes.
"""

from __future__ import annotations

import difflib
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TextIO

from nplint.findings import Finding, Fix
from nplint.records import record
from nplint.reporting.base import Replacement
from nplint.untrusted import escape

__all__ = ["FixOutcome", "chosen_fixes", "diff_text", "fix_files", "replacements", "summary"]


@record(slots=True)
class FixOutcome:
    """What a ``--fix`` or ``--diff`` run did (or would do)."""

    fixed: int
    changed_files: int
    diff: str
    notes: list[tuple[str, str]]


def chosen_fixes(findings: Iterable[Finding], *, unsafe: bool) -> list[Fix]:
    """Each finding's first fix the options allow, in the findings' reading order."""
    chosen: list[Fix] = []
    for finding in sorted(findings, key=lambda f: f.sort_key()):
        fix = next((fix for fix in finding.fixes if fix.safe or unsafe), None)
        if fix is not None:
            chosen.append(fix)
    return chosen


def fix_files(
    root: Path, findings: Sequence[Finding], readable: Iterable[str], *, unsafe: bool, write: bool
) -> FixOutcome:
    """Plan the fixes of ``findings`` on the files of ``root``; write them when ``write``."""
    from nplint.fixing.writer import apply_fixes, plan_fixes

    plan = plan_fixes(root, chosen_fixes(findings, unsafe=unsafe), readable)
    notes = list(plan.notes)
    diff = ""
    if write:
        notes += apply_fixes(plan)
    else:
        pieces: list[str] = []
        for change in plan.changes:
            text = diff_text(change.display, change.before, change.after)
            if text is None:
                notes.append((change.display, "no diff shown: the file holds characters a terminal acts on"))
            else:
                pieces.append(text)
        diff = "".join(pieces)
    written = {display for display, _ in notes}
    changes = [change for change in plan.changes if change.display not in written]
    return FixOutcome(sum(len(c.applied) for c in changes), len(changes), diff, notes)


def diff_text(display: str, before: bytes, after: bytes) -> str | None:
    """A unified diff of one file, as ``patch -p1`` applies it from the root; None when unsafe to print."""
    old = before.decode("utf-8-sig" if before.startswith(b"\xef\xbb\xbf") else "utf-8")
    new = after.decode("utf-8-sig" if after.startswith(b"\xef\xbb\xbf") else "utf-8")
    if escape(display) != display or " " in display:
        return None
    old_lines = old.splitlines(keepends=True)
    new_lines = new.splitlines(keepends=True)
    out: list[str] = []
    for line in difflib.unified_diff(old_lines, new_lines, f"a/{display}", f"b/{display}", n=3):
        if line.startswith(("---", "+++")) and not line.endswith("\n"):
            line += "\n"
        body = line.rstrip("\n").removesuffix("\r")
        if escape(body.replace("\t", "")) != body.replace("\t", ""):
            return None
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)


def summary(fixed: int, more_unsafe: int, *, wrote: bool) -> str:
    """``3 fixed (2 more with --unsafe-fixes)``, or what ``--diff`` would fix."""
    text = f"{fixed} fixed" if wrote else f"{fixed} fix{'es' if fixed != 1 else ''} would be applied"
    if more_unsafe:
        text += f" ({more_unsafe} more with --unsafe-fixes)"
    return text


def unsafe_only(findings: Iterable[Finding]) -> int:
    """How many findings only an unsafe fix resolves."""
    return sum(1 for f in findings if f.fixes and not any(fix.safe for fix in f.fixes))


def fixable(findings: Iterable[Finding], *, unsafe: bool) -> int:
    """How many findings a fix the options allow resolves."""
    return sum(1 for f in findings if any(fix.safe or unsafe for fix in f.fixes))


def print_notes(notes: Iterable[tuple[str, str]], stream: TextIO | None = None) -> None:
    """Say on standard error which files were left alone, and why."""
    out = stream if stream is not None else sys.stderr
    for display, why in notes:
        print(f"nplint: note: {escape(display)}: {escape(why)}", file=out)


#: Fixes from which their replacements are worked out by two processes: each takes a few
#: milliseconds (ruamel.yaml reads and writes the document it edits in pure Python).
SPLIT_FIXES = 64


def replacements(
    root: Path, findings: Iterable[Finding], readable: Iterable[str]
) -> dict[Fix, tuple[Replacement, ...]]:
    """What each fix of ``findings`` would change, applied alone, as line replacements (for SARIF).

    Each fix is planned on its own, so a large report's are shared with a second process
    (:func:`nplint.parallel.split_work`); what a fix gives does not depend on which.
    """
    from nplint import parallel
    from nplint.fixing.writer import plan_fixes

    allowed = frozenset(readable)
    fixes = list(dict.fromkeys(fix for finding in findings for fix in finding.fixes))

    def pieces(index: int) -> tuple[Replacement, ...]:
        plan = plan_fixes(root, [fixes[index]], allowed)
        return tuple(
            piece
            for change in plan.changes
            for piece in _line_replacements(change.display, change.before, change.after)
        )

    def plain(index: int) -> list[tuple[str, int, int, str]]:
        return [(r.path, r.start_line, r.end_line, r.text) for r in pieces(index)]

    def rebuilt(values: list[tuple[str, int, int, str]]) -> tuple[Replacement, ...]:
        return tuple(Replacement(*value) for value in values)

    if len(fixes) < SPLIT_FIXES or not parallel.second_process_allowed():
        found = [pieces(index) for index in range(len(fixes))]
    else:
        seconds = max(parallel.MIN_DEADLINE_SECONDS, parallel.SECONDS_PER_FILE * len(fixes))
        found = parallel.split_work(len(fixes), pieces, plain, rebuilt, range(len(fixes)), seconds)
    return {fix: made for fix, made in zip(fixes, found, strict=True) if made}


def _line_replacements(display: str, before: bytes, after: bytes) -> list[Replacement]:
    old = before.decode("utf-8-sig").splitlines(keepends=True)
    new = after.decode("utf-8-sig").splitlines(keepends=True)
    return [
        Replacement(display, i1 + 1, i2 + 1, "".join(new[j1:j2]))
        for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes()
        if tag != "equal"
    ]
