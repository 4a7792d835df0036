"""The JSON format (design §7): a stable document for scripts."""

from __future__ import annotations

from collections.abc import Iterator
from json.encoder import encode_basestring
from typing import Any

from nplint.findings import Finding
from nplint.reporting.base import Report, Reporter
from nplint.reporting.jsontext import PLACEHOLDER, dumps, guarded, spliced
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

        def write(finding: Finding, indent: str) -> str:
            return finding_text(finding, names, indent)

        return spliced(document, report.findings, write)


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


_SAFE, _UNSAFE = encode_basestring("safe"), encode_basestring("unsafe")


def finding_text(finding: Finding, names: dict[str, str], indent: str) -> str:
    """``dumps(_finding(finding, names), indent)``, written straight from the finding.

    A report of thousands of findings spends most of its writing in the general
    writer's dispatch on each value; this knows the shape and writes each field
    in place. A finding whose fields are not of the types :class:`Finding`
    declares (a plugin's, say) is written the general way. ``tests/test_jsontext.py``
    holds the two equal on every fixture's findings and on generated ones.
    """
    span, detail, fix = finding.span, finding.detail, finding.fix
    if (
        type(finding.rule_id) is not str
        or type(finding.message) is not str
        or type(detail) is not str
        or (fix is not None and type(fix) is not str)
        or not all(type(value) is int for value in (span.line, span.column, span.end_line, span.end_column))
        or not all(_plain_related(related) for related in finding.related)
        or not all(type(each.description) is str and type(each.safe) is bool for each in finding.fixes)
    ):
        return dumps(_finding(finding, names), indent)
    text = encode_basestring
    inner = indent + "  "
    item = inner + "  "
    field = item + "  "
    obj = finding.object
    if obj is None:
        object_text = "null"
    else:
        object_text = (
            f'{{\n{item}"kind": {text(shown(obj.kind, NAME_LIMIT))},'
            f'\n{item}"namespace": {text(shown(obj.namespace, NAME_LIMIT))},'
            f'\n{item}"name": {text(shown(obj.name, NAME_LIMIT))}\n{inner}}}'
        )
    fixes = "[]"
    if finding.fixes:
        fixes = (
            f"[\n{item}"
            + f",\n{item}".join(
                f'{{\n{field}"description": {text(each.description)},'
                f'\n{field}"applicability": {_SAFE if each.safe else _UNSAFE}\n{item}}}'
                for each in finding.fixes
            )
            + f"\n{inner}]"
        )
    related = "[]"
    if finding.related:
        related = (
            f"[\n{item}"
            + f",\n{item}".join(
                f'{{\n{field}"path": {text(escape(each.path))},\n{field}"line": {each.span.line},'
                f'\n{field}"column": {each.span.column},\n{field}"message": {text(each.message)}\n{item}}}'
                for each in finding.related
            )
            + f"\n{inner}]"
        )
    return guarded(
        f'{{\n{inner}"rule": {text(finding.rule_id)},'
        f'\n{inner}"name": {text(names.get(finding.rule_id, ""))},'
        f'\n{inner}"level": {text(finding.level.value)},'
        f'\n{inner}"message": {text(finding.message)},'
        f'\n{inner}"detail": {text(detail)},'
        f'\n{inner}"path": {text(escape(finding.path))},'
        f'\n{inner}"line": {span.line},'
        f'\n{inner}"column": {span.column},'
        f'\n{inner}"end_line": {span.end_line},'
        f'\n{inner}"end_column": {span.end_column},'
        f'\n{inner}"object": {object_text},'
        f'\n{inner}"yaml_path": {text(capped(escape(finding.yaml_path), MESSAGE_LIMIT))},'
        f'\n{inner}"fix": {"null" if fix is None else text(fix)},'
        f'\n{inner}"fixes": {fixes},'
        f'\n{inner}"related": {related}\n{indent}}}'
    )


def _plain_related(related: object) -> bool:
    span = getattr(related, "span", None)
    return (
        type(getattr(related, "path", None)) is str
        and type(getattr(related, "message", None)) is str
        and span is not None
        and type(span.line) is int
        and type(span.column) is int
    )
