"""SARIF 2.1.0 for GitHub code scanning and other SARIF consumers.

Built with sarif-om's classes and serialised by walking their attrs metadata.
sarif-om gives ``Result.level`` a default of "warning"; a serialiser that drops
defaults would drop it, so ``level`` is always written (as is ``ruleIndex``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from nplint.findings import Finding, fingerprint
from nplint.pages import help_uri
from nplint.reporting.base import Report, Reporter
from nplint.reporting.jsonfmt import object_json
from nplint.reporting.jsontext import PLACEHOLDER, spliced
from nplint.untrusted import MESSAGE_LIMIT, capped, escape, markdown_text

if TYPE_CHECKING:
    import sarif_om as sarif

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
SRCROOT = "%SRCROOT%"
INFORMATION_URI = "https://github.com/nplint/nplint"
_ALWAYS = frozenset(("level",))

#: security-severity (0.0–10.0) for rules whose findings are security exposure.
SECURITY_SEVERITY = {"error": "7.5", "warning": "5.0", "note": "2.0"}


def _to_json(value: Any) -> Any:
    """The JSON of a sarif-om object: its set fields, under their schema names."""
    import attr  # with sarif_om, only when SARIF is written

    return _convert(value, attr)


def _convert(value: Any, attr: Any) -> Any:
    if attr.has(type(value)):
        out: dict[str, Any] = {}
        for field in attr.fields(type(value)):
            item = getattr(value, field.name)
            if item is None:
                continue
            default = field.default
            if isinstance(default, attr.Factory):
                default = default.factory()
            name = field.metadata.get("schema_property_name", field.name)
            if item == default and name not in _ALWAYS:
                continue
            out[name] = _convert(item, attr)
        return out
    if isinstance(value, dict):
        return {key: _convert(item, attr) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_convert(item, attr) for item in value]
    return value


def _uri(path: str) -> tuple[str, str | None]:
    """The path as a URI of its real bytes, percent-encoded (a file name need not be UTF-8)."""
    try:
        raw = os.fsencode(path)
    except UnicodeEncodeError:  # a lone surrogate no file system byte stands for
        raw = path.encode("utf-8", "surrogatepass")
    if raw.startswith(b"/"):
        return "file://" + quote(raw), None
    return quote(raw), SRCROOT


def _region(span: Any) -> sarif.Region:
    import sarif_om as sarif

    return sarif.Region(
        start_line=span.line,
        start_column=span.column,
        end_line=span.end_line,
        end_column=max(span.end_column, span.column + 1) if span.end_line == span.line else span.end_column,
    )


def _location(path: str, span: Any, message: str | None = None, index: int | None = None) -> sarif.Location:
    import sarif_om as sarif

    uri, base = _uri(path)
    return sarif.Location(
        id=index,
        physical_location=sarif.PhysicalLocation(
            artifact_location=sarif.ArtifactLocation(uri=uri, uri_base_id=base),
            region=_region(span),
        ),
        message=sarif.Message(text=escape(message)) if message else None,
    )


class SarifReporter(Reporter):
    name = "sarif"
    description = "SARIF 2.1.0 for GitHub code scanning"

    def render(self, report: Report) -> str:
        return "".join(self.chunks(report))

    def chunks(self, report: Report) -> Iterator[str]:
        import sarif_om as sarif

        rules = list(report.rules)
        index = {rule.id: i for i, rule in enumerate(rules)}
        descriptors = []
        for rule in rules:
            page = report.pages.get(rule.id)
            properties: dict[str, Any] = {"tags": sorted(set(rule.tags) | {"kubernetes", "networkpolicy"})}
            if "security" in rule.tags or rule.level.value == "error":
                properties["security-severity"] = SECURITY_SEVERITY[rule.level.value]
            properties["precision"] = "high"
            descriptors.append(
                sarif.ReportingDescriptor(
                    id=rule.id,
                    name=_pascal(rule.name),
                    short_description=sarif.MultiformatMessageString(text=rule.summary),
                    full_description=sarif.MultiformatMessageString(
                        text=_full_description(rule.summary, page)
                    ),
                    help=sarif.MultiformatMessageString(
                        text=page or rule.summary, markdown=page or rule.summary
                    ),
                    help_uri=help_uri(rule.id),
                    default_configuration=sarif.ReportingConfiguration(level=rule.level.value),
                    properties=properties,
                )
            )
        # The results are written one at a time, where the placeholder stands.
        run = sarif.Run(
            tool=sarif.Tool(
                driver=sarif.ToolComponent(
                    name="nplint",
                    version=report.version,
                    semantic_version=report.version,
                    information_uri=INFORMATION_URI,
                    rules=descriptors,
                )
            ),
            results=[PLACEHOLDER],
            column_kind="unicodeCodePoints",
            original_uri_base_ids={
                SRCROOT: sarif.ArtifactLocation(
                    description=sarif.Message(text="The root of the linted repository.")
                )
            },
        )
        log = sarif.SarifLog(version="2.1.0", schema_uri=SCHEMA_URI, runs=[run])
        results = (_to_json(self._result(finding, index, report)) for finding in report.findings)
        return spliced(_to_json(log), results)

    def _result(self, finding: Finding, index: dict[str, int], report: Report) -> sarif.Result:
        import sarif_om as sarif

        properties: dict[str, Any] = {}
        obj = object_json(finding)
        if obj is not None:
            properties["object"] = obj
        if finding.yaml_path:
            properties["yamlPath"] = capped(escape(finding.yaml_path), MESSAGE_LIMIT)
        if finding.fix:
            properties["fix"] = finding.fix
        related = [_location(r.path, r.span, r.message, i) for i, r in enumerate(finding.related, start=1)]
        return sarif.Result(
            rule_id=finding.rule_id,
            rule_index=index.get(finding.rule_id, -1),
            level=finding.level.value,
            message=_message(finding),
            locations=[_location(finding.path, finding.span)],
            related_locations=related or None,
            partial_fingerprints={"nplintFingerprint/v1": fingerprint(finding)},
            properties=properties or None,
            fixes=_fixes(finding, report) or None,
        )


def _fixes(finding: Finding, report: Report) -> list[sarif.Fix]:
    """The finding's fixes the writer can apply, as SARIF ``fixes``: the lines each replaces, and how."""
    import sarif_om as sarif

    fixes = []
    for fix in finding.fixes:
        replacements = report.replacements.get(fix)
        if not replacements:
            continue
        changes = []
        for path in dict.fromkeys(r.path for r in replacements):
            uri, base = _uri(path)
            changes.append(
                sarif.ArtifactChange(
                    artifact_location=sarif.ArtifactLocation(uri=uri, uri_base_id=base),
                    replacements=[
                        sarif.Replacement(
                            deleted_region=sarif.Region(
                                start_line=r.start_line,
                                start_column=1,
                                end_line=r.end_line,
                                end_column=1,
                            ),
                            inserted_content=sarif.ArtifactContent(text=r.text) if r.text else None,
                        )
                        for r in replacements
                        if r.path == path
                    ],
                )
            )
        applicability = "safe" if fix.safe else "unsafe"
        fixes.append(
            sarif.Fix(
                description=sarif.Message(text=f"{fix.description} ({applicability})"),
                artifact_changes=changes,
                properties={"applicability": applicability},
            )
        )
    return fixes


def _message(finding: Finding) -> sarif.Message:
    """The headline as ``text``; headline and detail as ``markdown``, where a viewer shows both.

    Both quote the repository: the Markdown is built with :func:`markdown_text`,
    so a value cannot open a link, an image, HTML or a code span.
    """
    import sarif_om as sarif

    text = escape(finding.message)
    if not finding.detail:
        return sarif.Message(text=text)
    markdown = f"{markdown_text(finding.message)}\n\n{markdown_text(finding.detail)}"
    return sarif.Message(text=text, markdown=markdown)


def _pascal(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("-"))


def _full_description(summary: str, page: str | None) -> str:
    """The page's *What it does* paragraph, else the summary."""
    if not page:
        return summary
    lines = page.splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.strip().lower() == "## what it does") + 1
    except StopIteration:
        return summary
    paragraph: list[str] = []
    for line in lines[start:]:
        if line.startswith("#"):
            break
        if not line.strip() and paragraph:
            break
        if line.strip():
            paragraph.append(line.strip())
    return " ".join(paragraph) or summary
