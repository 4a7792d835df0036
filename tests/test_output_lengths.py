"""Output a person reads: no text line over 200 characters, no headline over 160.

The text format is linted over every fixture tree with every rule on (opt-in
rules too), so each rule's message is measured with the values the fixtures
give it, plus the notes added after a rule runs: where rendered output came
from, and the worlds a finding holds in.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from test_fixtures import CASES, fixture_config

from helpers import FIXTURES, lint_paths
from nplint.findings import Finding
from nplint.reporting.base import Report
from nplint.reporting.text import TextReporter

#: The longest line of text output without ``--verbose``.
LINE_LIMIT = 200
#: The longest headline a rule writes for its bad fixtures (before the notes added after it runs).
HEADLINE_LIMIT = 160


def _trees() -> list[Path]:
    """Every fixture: each rule's bad and good cases, and the trees of the other suites."""
    trees = [case for _, _, case in CASES]
    for folder in sorted(FIXTURES.iterdir()):
        if folder.is_dir() and not folder.name.startswith("NP"):
            trees += sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    return trees


TREES = _trees()


def _lint(case: Path, tmp_path: Path, select: list[str]) -> tuple[list[Finding], str]:
    if case.is_dir():
        root, target = case, "."
    else:
        root, target = tmp_path, case.name
        shutil.copyfile(case, tmp_path / case.name)
    config = fixture_config(case) if case.parent.name in ("bad", "good") else {}
    # A fixture may need more rules (a suppression rule needs the rule it suppresses).
    extra = [str(code) for code in config.pop("select", [])]  # type: ignore[attr-defined]
    result = lint_paths([target], root=root, select=[*select, *extra], extra=config)
    report = Report(
        findings=result.findings,
        rules=sorted(result.rules, key=lambda r: r.id),
        root=root,
        files_checked=len(result.files),
    )
    return result.findings, TextReporter().render(report)


@pytest.mark.parametrize("case", TREES, ids=[str(t.relative_to(FIXTURES)) for t in TREES])
def test_no_text_line_over_the_limit(case: Path, tmp_path: Path) -> None:
    _, text = _lint(case, tmp_path, ["ALL"])
    long = [line for line in text.splitlines() if len(line) > LINE_LIMIT]
    assert not long, "\n".join(f"{len(line)}: {line}" for line in long)


BAD = [(rule_id, case) for rule_id, kind, case in CASES if kind == "bad"]


@pytest.mark.parametrize(("rule_id", "case"), BAD, ids=[f"{r}-{c.name}" for r, c in BAD])
def test_headlines_of_bad_fixtures_are_short(rule_id: str, case: Path, tmp_path: Path) -> None:
    findings, _ = _lint(case, tmp_path, [rule_id])
    mine = [f for f in findings if f.rule_id == rule_id]
    assert mine
    long = [f.message for f in mine if len(f.message) >= HEADLINE_LIMIT]
    assert not long, "\n".join(f"{len(m)}: {m}" for m in long)
