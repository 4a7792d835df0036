"""The JSON format (design §7): a stable document for scripts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from nplint.findings import Finding
from nplint.reporting.base import Report, Reporter
from nplint.reporting.jsontext import PLACEHOLDER, spliced


class JsonReporter(Reporter):
    name = "json"
    description = "one JSON document with every finding and a summary"

    def render(self, report: Report) -> str:
        return "".join(self.chunks(report))

    def chunks(self, report: Report) -> Iterator[str]:
        names = {rule.id: rule.name for rule in report.rules}
        document = {
            "version": 1,
            "tool": {"name": "nplint", "version": report.version},
            "findings": [PLACEHOLDER],
            "summary": {
                "files": report.files_checked,
                "findings": len(report.findings),
                "suppressed": report.suppressed,
                "by_level": report.counts(),
                "fail_on": report.fail_on.value if report.fail_on else "never",
            },
        }
        return spliced(document, (_finding(finding, names) for finding in report.findings))


def _finding(finding: Finding, names: dict[str, str]) -> dict[str, Any]:
    obj = finding.object
    return {
        "rule": finding.rule_id,
        "name": names.get(finding.rule_id, ""),
        "level": finding.level.value,
        "message": finding.message,
        "path": finding.path,
        "line": finding.span.line,
        "column": finding.span.column,
        "end_line": finding.span.end_line,
        "end_column": finding.span.end_column,
        "object": None if obj is None else {"kind": obj.kind, "namespace": obj.namespace, "name": obj.name},
        "yaml_path": finding.yaml_path,
        "fix": finding.fix,
        "related": [
            {"path": r.path, "line": r.span.line, "column": r.span.column, "message": r.message}
            for r in finding.related
        ],
    }
