"""The default, human format: ``path:line:col: ID [name] message``, then a summary.

A finding's line is its headline; ``--verbose`` adds the detail under it,
indented and wrapped. Many findings end with a per-rule count table (as
``ruff --statistics`` prints it), so a long report opens with its shape.
"""

from __future__ import annotations

import textwrap

from nplint.findings import Finding, Level
from nplint.reporting.base import Report, Reporter
from nplint.untrusted import escape

_COLORS = {Level.ERROR: "\033[31m", Level.WARNING: "\033[33m", Level.NOTE: "\033[36m"}
_BOLD = "\033[1m"
_RESET = "\033[0m"
#: The indentation of a finding's detail under its headline, and the width it is wrapped to.
DETAIL_INDENT = "    "
DETAIL_WIDTH = 100


class TextReporter(Reporter):
    name = "text"
    description = "path:line:col: ID [name] message, and a summary line"

    def render(self, report: Report) -> str:
        lines = []
        names = {rule.id: rule.name for rule in report.rules}
        for finding in report.findings:
            # The colour codes are ours; the path and the message are the repository's, escaped.
            location = f"{escape(finding.path)}:{finding.span.line}:{finding.span.column}:"
            rule = f"{finding.rule_id} [{names.get(finding.rule_id, finding.rule_id)}]"
            if report.color:
                location = f"{_BOLD}{location}{_RESET}"
                rule = f"{_COLORS[finding.level]}{rule}{_RESET}"
            # `[*]`: a safe fix exists, as ruff marks it (`nplint check --fix` applies it).
            marker = " [*]" if any(fix.safe for fix in finding.fixes) else ""
            lines.append(f"{location} {rule}{marker} {escape(finding.message)}")
            if report.verbose:
                lines += detail_lines(finding)
        if report.shows_statistics():
            lines += statistics_lines(report)
        lines.append(summary_line(report))
        return "\n".join(lines) + "\n"


def detail_lines(finding: Finding) -> list[str]:
    """A finding's detail as ``--verbose`` shows it: wrapped, indented under the headline."""
    if not finding.detail:
        return []
    return textwrap.wrap(
        escape(finding.detail),
        width=DETAIL_WIDTH,
        initial_indent=DETAIL_INDENT,
        subsequent_indent=DETAIL_INDENT,
        break_long_words=False,
        break_on_hyphens=False,
    )


def statistics_lines(report: Report) -> list[str]:
    """The per-rule count table: count, rule ID and name, most findings first, then by ID."""
    rows = report.statistics_rows()
    if not rows:
        return []
    width = len(str(rows[0][2]))
    return [
        "",
        "Findings by rule:",
        *(f"{count:>{width}}  {rule_id}  {name}" for rule_id, name, count in rows),
    ]


def summary_line(report: Report) -> str:
    counts = report.counts()
    total = len(report.findings)
    files = f"{report.files_checked} file{'s' if report.files_checked != 1 else ''}"
    if total == 0:
        text = f"No problems found in {files}."
    else:
        parts = [
            f"{counts[level.value]} {level.value}{'s' if counts[level.value] != 1 else ''}"
            for level in (Level.ERROR, Level.WARNING, Level.NOTE)
            if counts[level.value]
        ]
        text = f"Found {total} problem{'s' if total != 1 else ''} ({', '.join(parts)}) in {files}."
    if report.suppressed:
        text += f" {report.suppressed} suppressed."
    safe, unsafe = report.fixable()
    if safe:
        text += f"\n[*] {safe} fixable with `nplint check --fix`"
        text += f" ({unsafe} more with --unsafe-fixes)." if unsafe else "."
    elif unsafe:
        text += f"\n{unsafe} fix{'es are' if unsafe != 1 else ' is'} available with --unsafe-fixes."
    return text
