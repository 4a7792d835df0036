"""Headline and detail in every format: ``--verbose`` text, JSON, SARIF markdown, Markdown, GitHub."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from helpers import SARIF_SCHEMA, run_cli
from nplint.cli import Session
from nplint.findings import Finding, Level, Span
from nplint.pages import rule_page
from nplint.reporting.base import Report
from nplint.reporting.github import GithubReporter
from nplint.reporting.markdown import MarkdownReporter
from nplint.reporting.sarif import SarifReporter
from nplint.reporting.text import DETAIL_INDENT, DETAIL_WIDTH, TextReporter

POLICY = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: to-partner
  namespace: shop
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
  - to:
    - ipBlock: {cidr: 10.0.0.1/8}
"""

HEADLINE = (
    "policy.yaml:11:23: NP501 [ipblock-host-bits-set] cidr 10.0.0.1/8 has host bits set: "
    "write 10.0.0.0/8 for the range, or 10.0.0.1/32 for the one address"
)
#: The text format's line: `[*]` marks the finding's safe fix, counted under the summary.
TEXT_LINE = HEADLINE.replace("] cidr", "] [*] cidr")
FIXABLE = "[*] 1 fixable with `nplint check --fix`."
DETAIL = (
    "The API server reads 10.0.0.1/8 as the network 10.0.0.0/8, other tools may read it as the single "
    "address 10.0.0.1/32, and from Kubernetes 1.36 (StrictIPCIDRValidation, on by default) the API "
    "server rejects it."
)


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / ".git").mkdir()
    (tmp_path / "policy.yaml").write_text(POLICY, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_verbose_shows_the_detail_indented_under_its_headline(repo: Path) -> None:
    code, out = run_cli(["check", ".", "--select", "NP501", "--verbose"])
    assert code == 1
    assert out.splitlines() == [
        TEXT_LINE,
        "    The API server reads 10.0.0.1/8 as the network 10.0.0.0/8, other tools may read it as the "
        "single",
        "    address 10.0.0.1/32, and from Kubernetes 1.36 (StrictIPCIDRValidation, on by default) the API",
        "    server rejects it.",
        "Found 1 problem (1 warning) in 1 file.",
        FIXABLE,
    ]


def test_without_verbose_the_headline_stands_alone(repo: Path) -> None:
    _, out = run_cli(["check", ".", "--select", "NP501"])
    assert out.splitlines() == [TEXT_LINE, "Found 1 problem (1 warning) in 1 file.", FIXABLE]


def test_json_carries_the_detail(repo: Path) -> None:
    _, out = run_cli(["check", ".", "--select", "NP501", "--format", "json"])
    [finding] = json.loads(out)["findings"]
    assert finding["message"] == HEADLINE.split("] ", 1)[1]
    assert finding["detail"] == DETAIL


def test_sarif_has_the_headline_as_text_and_both_as_markdown(repo: Path) -> None:
    if not SARIF_SCHEMA.is_file():
        pytest.skip(f"the SARIF schema is not available at {SARIF_SCHEMA}")
    _, out = run_cli(["check", ".", "--select", "NP501", "--format", "sarif"])
    log = json.loads(out)
    jsonschema.validate(log, json.loads(SARIF_SCHEMA.read_text()))
    run = log["runs"][0]
    [result] = run["results"]
    assert result["message"]["text"] == HEADLINE.split("] ", 1)[1]
    assert result["message"]["markdown"] == (
        "cidr 10.0.0.1/8 has host bits set: write 10.0.0.0/8 for the range, or 10.0.0.1/32 for the one "
        "address\n\n" + DETAIL
    )
    [rule] = run["tool"]["driver"]["rules"]
    assert rule["fullDescription"]["text"].startswith("Reports")


def test_github_annotation_carries_the_headline_only(repo: Path) -> None:
    _, out = run_cli(["check", ".", "--select", "NP501", "--format", "github"])
    assert out.endswith(
        "::cidr 10.0.0.1/8 has host bits set: write 10.0.0.0/8 for the range, or "
        "10.0.0.1/32 for the one address\n"
    )
    assert "StrictIPCIDRValidation" not in out


def test_explain_prints_the_whole_page(repo: Path) -> None:
    _, out = run_cli(["explain", "NP501"])
    page = rule_page("NP501")
    assert page is not None and out == (page if page.endswith("\n") else page + "\n")


HOSTILE = "see [x](https://evil.example) <img src=x> `code` *bold* | cell \x1b[31m"


def _report(detail: str) -> Report:
    session = Session()
    finding = Finding(
        rule_id="NP501",
        level=Level.WARNING,
        message="a headline quoting 'a|b'",
        path="policy.yaml",
        span=Span(3, 1, 3, 5),
        detail=detail,
    )
    return Report(
        findings=[finding],
        rules=[session.rules.get("NP501")],
        root=Path("."),
        files_checked=1,
        verbose=True,
    )


def test_sarif_markdown_escapes_a_hostile_detail() -> None:
    log = json.loads(SarifReporter().render(_report(HOSTILE)))
    message = log["runs"][0]["results"][0]["message"]
    markdown = message["markdown"]
    assert message["text"] == "a headline quoting 'a|b'"
    assert "](" not in markdown.replace("\\](", "") and "<img" not in markdown and "\x1b" not in markdown
    assert "\\[x\\]" in markdown and "&lt;img" in markdown and "\\`code\\`" in markdown
    assert "a headline quoting 'a\\|b'" in markdown


def test_markdown_folds_the_escaped_detail_under_the_headline() -> None:
    text = MarkdownReporter().render(_report(HOSTILE))
    [row] = [line for line in text.splitlines() if line.startswith("| `policy.yaml:3:1`")]
    assert row.endswith(
        "| a headline quoting 'a\\|b' <details><summary>more</summary>see \\[x\\](https://evil.example) "
        "&lt;img src=x&gt; \\`code\\` \\*bold\\* \\| cell \\\\x1b\\[31m</details> |"
    )


def test_markdown_without_detail_has_no_fold() -> None:
    assert "<details>" not in MarkdownReporter().render(_report(""))


def test_verbose_text_wraps_a_long_detail_and_loses_no_word() -> None:
    detail = " ".join(f"word{i}" for i in range(120))  # under the 1,000 characters a detail keeps
    lines = TextReporter().render(_report(detail)).splitlines()
    shown = lines[1:-1]
    assert len(shown) > 1
    assert all(line.startswith(DETAIL_INDENT) and len(line) <= DETAIL_WIDTH for line in shown)
    assert " ".join(line.strip() for line in shown) == detail


def test_github_annotation_leaves_the_detail_out() -> None:
    assert "evil" not in GithubReporter().render(_report(HOSTILE))


def _git(repo: Path, *args: str) -> None:
    import subprocess

    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


def test_diff_verbose_shows_the_detail_of_new_findings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", ".")
    (repo / "ns.yaml").write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "base")
    (repo / "policy.yaml").write_text(POLICY, encoding="utf-8")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "head")
    monkeypatch.chdir(repo)
    _, plain = run_cli(["diff", "HEAD~1", "HEAD"])
    _, verbose = run_cli(["diff", "HEAD~1", "HEAD", "--verbose"])
    new = "  + " + HEADLINE.replace(" [ipblock-host-bits-set]", "")
    assert new in plain.splitlines() and "StrictIPCIDRValidation" not in plain
    lines = verbose.splitlines()
    at = lines.index(new)
    assert lines[at + 1] == "      " + DETAIL[: DETAIL.index(" single") + len(" single")]
    _, data = run_cli(["diff", "HEAD~1", "HEAD", "--format", "json"])
    assert DETAIL in [f["detail"] for f in json.loads(data)["findings"]["new"] if f["rule"] == "NP501"]
