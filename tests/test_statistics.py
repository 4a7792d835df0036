"""The per-rule count table at the end of the text output, as ``ruff --statistics`` prints it."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import run_cli
from nplint.cli import Session
from nplint.findings import Finding, Level, Span
from nplint.reporting.base import STATISTICS_THRESHOLD, Report
from nplint.reporting.text import TextReporter


def _findings(counts: dict[str, int]) -> list[Finding]:
    found = []
    for rule_id, count in counts.items():
        for line in range(1, count + 1):
            found.append(Finding(rule_id, Level.WARNING, "m", "a.yaml", Span(line, 1, line, 2)))
    return sorted(found, key=Finding.sort_key)


def _text(counts: dict[str, int], statistics: bool | None = None) -> list[str]:
    session = Session()
    rules = [session.rules.get(rule_id) for rule_id in sorted(counts)]
    report = Report(
        findings=_findings(counts), rules=rules, root=Path("."), files_checked=1, statistics=statistics
    )
    return TextReporter().render(report).splitlines()


def test_the_table_sorts_by_count_then_id_and_ends_before_the_summary() -> None:
    lines = _text({"NP301": 3, "NP101": 12, "NP103": 3, "NP705": 4})
    assert lines[-7:] == [
        "",
        "Findings by rule:",
        "12  NP101  missing-default-deny-ingress",
        " 4  NP705  redundant-rule",
        " 3  NP103  unprotected-workload",
        " 3  NP301  egress-blocks-dns",
        "Found 22 problems (22 warnings) in 1 file.",
    ]


def test_on_by_default_beyond_the_threshold_only() -> None:
    assert STATISTICS_THRESHOLD == 20
    assert "Findings by rule:" in _text({"NP101": 21})
    assert "Findings by rule:" not in _text({"NP101": 20})


def test_forced_on_and_off() -> None:
    assert _text({"NP101": 1}, statistics=True)[-3:] == [
        "Findings by rule:",
        "1  NP101  missing-default-deny-ingress",
        "Found 1 problem (1 warning) in 1 file.",
    ]
    assert "Findings by rule:" not in _text({"NP101": 30}, statistics=False)


def test_no_findings_no_table() -> None:
    assert _text({}, statistics=True) == ["No problems found in 1 file."]


POLICY = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: p{index}, namespace: shop}}
spec:
  podSelector: {{}}
  policyTypes: [Egress]
  egress:
  - to:
    - ipBlock: {{cidr: 10.0.0.{host}/8}}
"""


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """21 host-bit findings (NP501), one per policy."""
    (tmp_path / ".git").mkdir()
    text = "---\n".join(POLICY.format(index=i, host=i + 1) for i in range(21))
    (tmp_path / "policies.yaml").write_text(text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


TABLE = ["", "Findings by rule:", "21  NP501  ipblock-host-bits-set"]


def test_command_line_default_shows_the_table_for_many_findings(repo: Path) -> None:
    _, out = run_cli(["check", ".", "--select", "NP501"])
    lines = out.splitlines()
    assert lines[-5:] == [
        *TABLE,
        "Found 21 problems (21 warnings) in 1 file.",
        "[*] 21 fixable with `nplint check --fix`.",
    ]


def test_no_statistics_turns_it_off(repo: Path) -> None:
    _, out = run_cli(["check", ".", "--select", "NP501", "--no-statistics"])
    assert "Findings by rule:" not in out


def test_quiet_leaves_it_out_unless_asked(repo: Path) -> None:
    _, out = run_cli(["check", ".", "--select", "NP501", "--quiet"])
    assert "Findings by rule:" not in out and "Found" not in out
    _, out = run_cli(["check", ".", "--select", "NP501", "--quiet", "--statistics"])
    assert out.splitlines()[-3:] == TABLE


def test_statistics_of_nothing_is_the_summary_alone(repo: Path) -> None:
    _, out = run_cli(["check", ".", "--select", "NP501", "--statistics", "--ignore", "NP501"])
    assert out == "No problems found in 1 file.\n"


def test_other_formats_never_carry_the_table(repo: Path) -> None:
    for name in ("json", "sarif", "github", "markdown"):
        _, out = run_cli(["check", ".", "--select", "NP501", "--statistics", "--format", name])
        assert "Findings by rule:" not in out, name
