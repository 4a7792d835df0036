"""What a reporter receives, and the registry of output formats."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import field
from pathlib import Path
from typing import ClassVar

from nplint.findings import Finding, Fix, Level
from nplint.records import record
from nplint.rules.base import Rule

#: Findings beyond which the text output ends with the per-rule count table by default.
STATISTICS_THRESHOLD = 20


@record(frozen=True, slots=True)
class Replacement:
    """What a fix changes in its file, as SARIF's ``replacements`` say it.

    The lines ``start_line`` up to (not including) ``end_line`` are replaced by ``text``;
    equal lines insert ``text`` before ``start_line``.
    """

    path: str
    start_line: int
    end_line: int
    text: str


@record(frozen=True, slots=True)
class Report:
    """The sorted findings of a run and what is needed to present them."""

    findings: Sequence[Finding]
    #: The rules that ran, sorted by ID (SARIF lists them all).
    rules: Sequence[type[Rule]]
    root: Path
    files_checked: int
    suppressed: int = 0
    fail_on: Level | None = Level.WARNING
    version: str = ""
    #: Rule ID → the page text of ``rules/NPxxx.md`` (may be missing for plugin rules).
    pages: Mapping[str, str] = field(default_factory=dict)
    color: bool = False
    #: Show each finding's detail under its headline (``--verbose``).
    verbose: bool = False
    #: The per-rule count table at the end of the text output: True, False, or None for
    #: "when there are more than :data:`STATISTICS_THRESHOLD` findings".
    statistics: bool | None = None
    #: What each fix of the findings changes (``--format sarif``): absent for a fix the writer
    #: refuses to apply.
    replacements: Mapping[Fix, tuple[Replacement, ...]] = field(default_factory=dict)

    def fixable(self) -> tuple[int, int]:
        """(findings a safe fix resolves, findings only an unsafe one resolves)."""
        safe = sum(1 for f in self.findings if any(fix.safe for fix in f.fixes))
        unsafe = sum(1 for f in self.findings if f.fixes and not any(fix.safe for fix in f.fixes))
        return safe, unsafe

    def shows_statistics(self) -> bool:
        if self.statistics is None:
            return len(self.findings) > STATISTICS_THRESHOLD
        return self.statistics

    def statistics_rows(self) -> list[tuple[str, str, int]]:
        """(rule ID, name, count) per rule that found something: most findings first, then by ID."""
        names = {rule.id: rule.name for rule in self.rules}
        counts: dict[str, int] = {}
        for finding in self.findings:
            counts[finding.rule_id] = counts.get(finding.rule_id, 0) + 1
        rows = [(rule_id, names.get(rule_id, rule_id), count) for rule_id, count in counts.items()]
        return sorted(rows, key=lambda row: (-row[2], row[0]))

    def counts(self) -> dict[str, int]:
        counts = {level.value: 0 for level in Level}
        for finding in self.findings:
            counts[finding.level.value] += 1
        return counts


class Reporter:
    """An output format. ``render`` returns the whole output as text.

    A format whose output grows with the repository may also override
    :meth:`chunks`, which the command line writes piece by piece, so the whole
    text is never in memory at once.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""

    def render(self, report: Report) -> str:
        raise NotImplementedError

    def chunks(self, report: Report) -> Iterator[str]:
        """The output in pieces that join to :meth:`render`'s text."""
        yield self.render(report)


class ReporterRegistry:
    def __init__(self) -> None:
        self._reporters: dict[str, type[Reporter]] = {}

    def add(self, reporter: type[Reporter]) -> None:
        existing = self._reporters.get(reporter.name)
        if existing is not None and existing is not reporter:
            raise ValueError(f"output format {reporter.name!r} is registered twice")
        self._reporters[reporter.name] = reporter

    def get(self, name: str) -> type[Reporter] | None:
        return self._reporters.get(name)

    def names(self) -> list[str]:
        return sorted(self._reporters)

    def __iter__(self) -> Iterator[type[Reporter]]:
        return iter(self._reporters[name] for name in self.names())
