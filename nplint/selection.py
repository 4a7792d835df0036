"""Which rules run, and which findings are suppressed.

Selection follows the config (``select`` / ``extend-select`` / ``ignore`` /
``per-file-ignores``); suppression follows inline comments
(``# nplint: disable=NP201`` on the line or the line before,
``# nplint: disable-file=NP201``) and the object annotation
``nplint.io/ignore: "NP201,NP204"``. Every suppression records whether it was
used, so the unused ones can be reported.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import field

from nplint.config import Config
from nplint.findings import Finding, ObjectRef, Span
from nplint.loading import LoadedFile
from nplint.model import Inventory
from nplint.records import record
from nplint.rules.base import Rule, RuleRegistry

IGNORE_ANNOTATION = "nplint.io/ignore"
IGNORE_REASON_ANNOTATION = "nplint.io/ignore-reason"


class SelectionError(Exception):
    """A code in ``select``/``ignore`` names no rule."""


def enabled_rules(registry: RuleRegistry, config: Config) -> list[type[Rule]]:
    """The rules that run, sorted by ID."""
    if config.select is not None:
        chosen = set(_resolve_all(registry, config.select, "select"))
    else:
        chosen = {rule.id for rule in registry if rule.default_enabled}
    chosen |= set(_resolve_all(registry, config.extend_select, "extend-select"))
    chosen -= set(_resolve_all(registry, config.ignore, "ignore"))
    return [registry.get(rule_id) for rule_id in sorted(chosen)]


def _resolve_all(registry: RuleRegistry, codes: Iterable[str], key: str) -> list[str]:
    found: list[str] = []
    for code in codes:
        ids = registry.matching(code)
        if not ids:
            raise SelectionError(
                f"{key}: {code!r} is not a rule ID, rule name or family prefix (run `nplint rules`)"
            )
        found.extend(ids)
    return found


def glob_to_regex(pattern: str) -> re.Pattern[str]:
    """A path glob where ``**`` crosses directories and ``*`` does not."""
    parts: list[str] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if pattern.startswith("**/", index):
            parts.append("(?:.*/)?")
            index += 3
            continue
        if pattern.startswith("**", index):
            parts.append(".*")
            index += 2
            continue
        if char == "*":
            parts.append("[^/]*")
        elif char == "?":
            parts.append("[^/]")
        else:
            parts.append(re.escape(char))
        index += 1
    return re.compile("".join(parts) + r"\Z")


@record(slots=True)
class Suppression:
    """One suppression as written, with whether it suppressed anything."""

    path: str
    span: Span
    codes: tuple[str, ...]
    kind: str  # "line", "file", "annotation" or "generated" (a generated file's header)
    lines: tuple[int, ...] = ()
    object: ObjectRef | None = None
    used: set[str] = field(default_factory=set)


@record(slots=True)
class Outcome:
    kept: list[Finding]
    suppressed: list[Finding]
    suppressions: list[Suppression]


class Suppressor:
    """Applies per-file ignores, inline comments and annotations to findings."""

    def __init__(
        self, registry: RuleRegistry, config: Config, files: Sequence[LoadedFile], inventory: Inventory
    ):
        self._registry = registry
        self._per_file = [
            (glob_to_regex(pattern), set(_resolve_all(registry, codes, f"per-file-ignores.{pattern}")))
            for pattern, codes in sorted(config.per_file_ignores.items())
        ]
        self.suppressions: list[Suppression] = []
        self._by_file: dict[str, list[Suppression]] = {}
        quiet = tuple(rule.id for rule in registry if rule.about_form)
        for loaded in files:
            for comment in loaded.suppressions:
                kind = "file" if comment.scope == "disable-file" else "line"
                lines = (
                    ()
                    if kind == "file"
                    else ((comment.line + 1,) if comment.own_line else (comment.line, comment.line + 1))
                )
                span = Span(comment.line, comment.column, comment.line, comment.column + 1)
                self._add(Suppression(loaded.path, span, comment.codes, kind, lines))
            if loaded.generated and not config.lint_generated_files:
                # The file says it is generated: the rules about how a policy is written are
                # quiet on it (their findings are kept as suppressed, never as unused).
                span = Span(loaded.generated, 1, loaded.generated, 2)
                self._add(Suppression(loaded.path, span, quiet, "generated"))
        for obj in inventory.objects:
            text = obj.annotations.get(IGNORE_ANNOTATION)
            if text is None:
                continue
            codes = tuple(code.strip() for code in text.split(",") if code.strip())
            metadata = obj.node.get_map("metadata")
            annotations = metadata.get_map("annotations") if metadata is not None else None
            value = annotations.get(IGNORE_ANNOTATION) if annotations is not None else None
            span = value.span if value is not None else obj.span
            self._add(Suppression(obj.path, span, codes, "annotation", object=obj.ref))

    def _add(self, suppression: Suppression) -> None:
        self.suppressions.append(suppression)
        self._by_file.setdefault(suppression.path, []).append(suppression)

    def _covers(self, suppression: Suppression, rule_id: str) -> bool:
        return any(
            self._registry.resolve(code) == rule_id or code.upper() == "ALL" for code in suppression.codes
        )

    def is_ignored_for_file(self, finding: Finding) -> bool:
        return any(regex.match(finding.path) and finding.rule_id in ids for regex, ids in self._per_file)

    def suppressing(self, finding: Finding) -> Suppression | None:
        for suppression in self._by_file.get(finding.path, ()):
            if not self._covers(suppression, finding.rule_id):
                continue
            if suppression.kind in ("file", "generated"):
                return suppression
            if suppression.kind == "line" and finding.span.line in suppression.lines:
                return suppression
            if suppression.kind == "annotation" and finding.object == suppression.object:
                return suppression
        return None

    def apply(self, findings: Iterable[Finding], *, record: bool = True) -> Outcome:
        kept: list[Finding] = []
        suppressed: list[Finding] = []
        for finding in findings:
            if self.is_ignored_for_file(finding):
                continue
            suppression = self.suppressing(finding)
            if suppression is not None:
                if record:
                    suppression.used.add(finding.rule_id)
                suppressed.append(finding)
            else:
                kept.append(finding)
        return Outcome(kept, suppressed, self.suppressions)
