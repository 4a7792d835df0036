"""GitHub annotations, Markdown, the `auto` format, and the baseline round trip."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers import run_cli
from nplint.findings import Finding, Level, ObjectRef, Span
from nplint.reporting.github import annotation, escape_data, escape_property

POLICY = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: allow
  namespace: shop
spec:
  podSelector:
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {team: ops}}
    - podSelector: {matchLabels: {app: web}}
"""


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / ".git").mkdir()
    (tmp_path / ".nplint.yaml").write_text("cni: calico\n")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "policy.yaml").write_text(POLICY)
    return tmp_path


def test_workflow_command_escaping() -> None:
    assert escape_data("100% done\r\nnext") == "100%25 done%0D%0Anext"
    assert escape_property("a:b,c%") == "a%3Ab%2Cc%25"
    finding = Finding(
        "NP301",
        Level.ERROR,
        "line one\nline: two, 50%",
        "dir,x/p:1.yaml",
        Span(3, 5, 3, 9),
        ObjectRef("NetworkPolicy", "ns", "n"),
    )
    # A finding's message is one line: its newline is shown escaped (nplint.untrusted), so it
    # cannot start a workflow command of its own; % , and : keep the workflow-command escaping.
    assert annotation(finding, "egress-blocks-dns") == (
        "::error file=dir%2Cx/p%3A1.yaml,line=3,col=5,endLine=3,endColumn=9,"
        "title=NP301 egress-blocks-dns::line one\\nline: two, 50%25"
    )


def test_github_format(repo: Path) -> None:
    code, out = run_cli(["--format", "github", "."])
    assert code == 1
    lines = out.splitlines()
    assert lines[0].startswith("::warning file=policy.yaml,line=7,col=3,endLine=7,endColumn=")
    assert ",title=NP204 implicit-pod-selector::spec.podSelector is null" in lines[0]
    assert lines[1].startswith("::warning file=policy.yaml,line=11,col=7,")
    assert len(lines) == 2


def test_auto_picks_github_in_actions(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    assert run_cli(["."])[1].startswith("::warning ")
    monkeypatch.setenv("GITHUB_ACTIONS", "false")
    assert run_cli(["."])[1].startswith("policy.yaml:7:3: NP204")


def test_markdown_format(repo: Path) -> None:
    code, out = run_cli(["--format", "markdown", "."])
    assert code == 1
    assert out.startswith("## nplint\n\nFound 2 problems (2 warnings) in 1 file.\n")
    assert "| [NP201 peer-and-or-confusion](https://" in out
    assert "### [NP204 implicit-pod-selector](" in out
    assert "| `policy.yaml:7:3` | NetworkPolicy shop/allow | spec.podSelector is null" in out


def test_markdown_escapes_pipes_in_cells() -> None:
    from nplint.reporting.markdown import cell

    # A newline is shown escaped (visibly), as in every format, not folded into a space.
    # (and the escape's backslash is a Markdown escape, so the reader sees \n)
    assert cell("a | b\nc") == "a \\| b\\\\nc"


def test_baseline_round_trip(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["--write-baseline", "baseline.json", "."])[0] == 0
    recorded = json.loads((repo / "baseline.json").read_text())
    assert sorted(e["rule"] for e in recorded["findings"]) == ["NP201", "NP204"]
    # Unchanged: nothing new.
    code, out = run_cli(["--baseline", "baseline.json", "."])
    assert code == 0, out
    # Lines move (a comment on top) and a new problem appears in a second policy.
    second = (
        POLICY.replace("name: allow", "name: second")
        .replace("  podSelector:\n  ingress", "  podSelector: {}\n  ingress")
        .replace("team: ops", "team: dev")
    )
    (repo / "policy.yaml").write_text("# moved down\n# by two lines\n" + POLICY + "---\n" + second)
    capsys.readouterr()
    code, out = run_cli(["--baseline", "baseline.json", "."])
    assert code == 1
    # The findings, then the summary and the count of what --unsafe-fixes would fix.
    assert [line.split(" ")[1] for line in out.splitlines()[:-2]] == ["NP201"]
    assert out.splitlines()[-1] == "1 fix is available with --unsafe-fixes."
    assert out.splitlines()[0].startswith("policy.yaml:25:7: NP201")
    assert "2 findings are in the baseline; 0 baseline entries are gone" in capsys.readouterr().err
    # Fix everything in the first policy: its entries are reported as gone.
    (repo / "policy.yaml").write_text(second)
    run_cli(["--baseline", "baseline.json", "."])
    assert "2 baseline entries are gone" in capsys.readouterr().err


def test_bad_baseline_exits_2(repo: Path) -> None:
    (repo / "b.json").write_text("{}")
    assert run_cli(["--baseline", "b.json", "."])[0] == 2
    assert run_cli(["--baseline", "missing.json", "."])[0] == 2
