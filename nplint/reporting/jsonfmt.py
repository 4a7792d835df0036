"""The JSON format (design §7): a stable document for scripts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from nplint.findings import Finding
from nplint.reporting.base import Report, Reporter
from nplint.reporting.jsontext import PLACEHOLDER, spliced
from nplint.untrusted import MESSAGE_LIMIT, NAME_LIMIT, capped, escape, shown


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


def object_json(finding: Finding) -> dict[str, str] | None:
    """The finding's object, its fields escaped and capped (a name longer than Kubernetes allows is cut)."""
    obj = finding.object
    if obj is None:
        return None
    return {
        "kind": shown(obj.kind, NAME_LIMIT),
        "namespace": shown(obj.namespace, NAME_LIMIT),
        "name": shown(obj.name, NAME_LIMIT),
    }


def _finding(finding: Finding, names: dict[str, str]) -> dict[str, Any]:
    # Strings from the repository are shown escaped here as in every format; the
    # message, its detail and the fix are escaped (and capped) when the finding is made.
    return {
        "rule": finding.rule_id,
        "name": names.get(finding.rule_id, ""),
        "level": finding.level.value,
        "message": finding.message,
        "detail": finding.detail,
        "path": escape(finding.path),
        "line": finding.span.line,
        "column": finding.span.column,
        "end_line": finding.span.end_line,
        "end_column": finding.span.end_column,
        "object": object_json(finding),
        "yaml_path": capped(escape(finding.yaml_path), MESSAGE_LIMIT),
        "fix": finding.fix,
        "fixes": [
            {"description": fix.description, "applicability": "safe" if fix.safe else "unsafe"}
            for fix in finding.fixes
        ],
        "related": [
            {"path": escape(r.path), "line": r.span.line, "column": r.span.column, "message": r.message}
            for r in finding.related
        ],
    }
