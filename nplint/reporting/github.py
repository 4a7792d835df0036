"""GitHub Actions workflow commands: one annotation per finding.

Repository text is first escaped like in every format (no control or bidi
character reaches the log); then the workflow-command rules apply: in the
message, ``%``, CR and LF are percent-encoded; in property values, ``:`` and
``,`` are too.
"""

from __future__ import annotations

from nplint.findings import Finding, Level
from nplint.reporting.base import Report, Reporter
from nplint.untrusted import escape

_COMMAND = {Level.ERROR: "error", Level.WARNING: "warning", Level.NOTE: "notice"}


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(finding: Finding, name: str) -> str:
    span = finding.span
    properties = [
        f"file={escape_property(escape(finding.path))}",
        f"line={span.line}",
        f"col={span.column}",
        f"endLine={span.end_line}",
        f"endColumn={span.end_column}",
        f"title={escape_property(escape(f'{finding.rule_id} {name}'))}",
    ]
    message = escape_data(escape(finding.message))
    return f"::{_COMMAND[finding.level]} {','.join(properties)}::{message}"


class GithubReporter(Reporter):
    name = "github"
    description = "GitHub Actions workflow annotations"

    def render(self, report: Report) -> str:
        names = {rule.id: rule.name for rule in report.rules}
        lines = [annotation(f, names.get(f.rule_id, f.rule_id)) for f in report.findings]
        return "".join(line + "\n" for line in lines)
