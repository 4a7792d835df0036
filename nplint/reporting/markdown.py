"""Markdown for job summaries and pull-request comments: findings grouped by rule."""

from __future__ import annotations

from collections import defaultdict

from nplint.findings import Finding, Level
from nplint.pages import help_uri
from nplint.reporting.base import Report, Reporter
from nplint.reporting.text import summary_line
from nplint.untrusted import markdown_code, markdown_text

_ICON = {Level.ERROR: "🔴", Level.WARNING: "🟠", Level.NOTE: "🔵"}
#: Findings listed per rule before the rest is summarised, so a comment stays readable.
MAX_PER_RULE = 20


def cell(text: str) -> str:
    """Text made safe for one table cell: one line, no markup, no HTML (see :mod:`nplint.untrusted`)."""
    return markdown_text(text)


def _collapsed(detail: str) -> str:
    """A finding's detail folded under its headline, in the same table cell.

    The HTML tags are ours; the detail is Markdown-escaped (entities for ``<``,
    ``>`` and ``&``), so it cannot close them or add its own.
    """
    if not detail:
        return ""
    return f" <details><summary>more</summary>{cell(detail)}</details>"


class MarkdownReporter(Reporter):
    name = "markdown"
    description = "Markdown grouped by rule, for job summaries and PR comments"

    def render(self, report: Report) -> str:
        lines = ["## nplint", "", summary_line(report), ""]
        if not report.findings:
            return "\n".join(lines)
        by_rule: dict[str, list[Finding]] = defaultdict(list)
        for finding in report.findings:
            by_rule[finding.rule_id].append(finding)
        rules = {rule.id: rule for rule in report.rules}
        lines += ["| rule | level | findings |", "|---|---|---|"]
        for rule_id in sorted(by_rule):
            rule = rules.get(rule_id)
            name = rule.name if rule else rule_id
            level = by_rule[rule_id][0].level
            lines.append(
                f"| [{cell(f'{rule_id} {name}')}]({help_uri(rule_id)}) | {_ICON[level]} {level.value} "
                f"| {len(by_rule[rule_id])} |"
            )
        for rule_id in sorted(by_rule):
            findings = by_rule[rule_id]
            rule = rules.get(rule_id)
            title = f"{rule_id} {rule.name}" if rule else rule_id
            lines += ["", f"### [{cell(title)}]({help_uri(rule_id)})", ""]
            if rule is not None:
                lines += [f"_{cell(rule.summary)}_", ""]
            lines += ["| location | object | message |", "|---|---|---|"]
            for finding in findings[:MAX_PER_RULE]:
                location = markdown_code(f"{finding.path}:{finding.span.line}:{finding.span.column}")
                obj = cell(str(finding.object)) if finding.object else ""
                lines.append(f"| {location} | {obj} | {cell(finding.message)}{_collapsed(finding.detail)} |")
            if len(findings) > MAX_PER_RULE:
                lines.append(f"| … | | {len(findings) - MAX_PER_RULE} more {rule_id} findings |")
        return "\n".join(lines) + "\n"
