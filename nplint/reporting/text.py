"""The default, human format: ``path:line:col: ID [name] message``, then a summary."""

from __future__ import annotations

from nplint.findings import Level
from nplint.reporting.base import Report, Reporter
from nplint.untrusted import escape

_COLORS = {Level.ERROR: "\033[31m", Level.WARNING: "\033[33m", Level.NOTE: "\033[36m"}
_BOLD = "\033[1m"
_RESET = "\033[0m"


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
            lines.append(f"{location} {rule} {escape(finding.message)}")
        lines.append(summary_line(report))
        return "\n".join(lines) + "\n"


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
    return text
