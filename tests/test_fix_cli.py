"""``nplint check --fix / --unsafe-fixes / --diff / --fix-only``, and how each format shows a fix."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest

from helpers import FIXTURES, SARIF_SCHEMA, run_cli

#: The NP702 fixture: a safe fix (policyTypes as defaulted).
EGRESS_ONLY = FIXTURES / "NP702" / "bad" / "egress-only.yaml"
#: The NP701 fixture: an unsafe fix (the ignored direction added).
IGNORED = FIXTURES / "NP701" / "bad" / "egress-rules-ingress-only.yaml"

BEFORE = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: web-egress
  namespace: shop
spec:
  podSelector: {matchLabels: {app: web}}
  # Only to the database.
  egress:
  - to:
    - podSelector: {matchLabels: {app: db}}
"""

AFTER = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: web-egress
  namespace: shop
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Ingress, Egress]
  # Only to the database.
  egress:
  - to:
    - podSelector: {matchLabels: {app: db}}
"""


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / ".git").mkdir()
    (tmp_path / "policies").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_fix_rewrites_the_file_as_the_readme_shows(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / "policies" / "web.yaml").write_text(BEFORE)
    code, out = run_cli(["check", "--fix", "--select", "NP702", "policies"])
    assert (repo / "policies" / "web.yaml").read_text() == AFTER
    assert code == 0, out
    assert "No problems found" in out
    assert "nplint: 1 fixed" in capsys.readouterr().err
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    assert BEFORE in readme and AFTER in readme, "README's Fixes section shows this test's before and after"


def test_diff_changes_nothing_exits_1_and_patch_gives_the_fix_bytes(repo: Path, tmp_path: Path) -> None:
    shutil.copyfile(EGRESS_ONLY, repo / "policies" / "a.yaml")
    (repo / "policies" / "b.yaml").write_bytes(BEFORE.replace("\n", "\r\n").encode())
    original = {p.name: p.read_bytes() for p in (repo / "policies").iterdir()}
    code, diff = run_cli(["check", "--diff", "--select", "NP702", "."])
    assert code == 1
    assert {p.name: p.read_bytes() for p in (repo / "policies").iterdir()} == original
    assert "--- a/policies/a.yaml\n+++ b/policies/a.yaml\n" in diff
    assert "+  policyTypes: [Ingress, Egress]\n" in diff
    copy = tmp_path / "copy"
    shutil.copytree(repo, copy)
    if shutil.which("patch") is None:
        pytest.skip("patch is not installed")
    subprocess.run(["patch", "-p1", "-s"], input=diff.encode(), cwd=copy, check=True)
    assert run_cli(["check", "--fix", "--select", "NP702", "."])[0] == 0
    for name in original:
        assert (copy / "policies" / name).read_bytes() == (repo / "policies" / name).read_bytes(), name
    # Nothing left to fix: the diff is empty and the exit code 0.
    assert run_cli(["check", "--diff", "--select", "NP702", "."]) == (0, "")


def test_unsafe_fixes_only_with_unsafe_fixes(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copyfile(IGNORED, repo / "policies" / "p.yaml")
    original = (repo / "policies" / "p.yaml").read_bytes()
    code, out = run_cli(["check", "--fix", "--select", "NP701", "."])
    assert code == 1
    assert (repo / "policies" / "p.yaml").read_bytes() == original
    assert "nplint: 0 fixed (1 more with --unsafe-fixes)" in capsys.readouterr().err
    assert "1 fix is available with --unsafe-fixes." in out
    code, out = run_cli(["check", "--fix", "--unsafe-fixes", "--select", "NP701", "."])
    assert code == 0, out
    assert "nplint: 1 fixed\n" in capsys.readouterr().err
    assert (
        "  policyTypes:\n  - Ingress\n  - Egress\n  ingress:\n" in (repo / "policies" / "p.yaml").read_text()
    )


def test_fix_only_reports_nothing_and_exits_0(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copyfile(IGNORED, repo / "policies" / "p.yaml")
    code, out = run_cli(["check", "--fix-only", "--select", "NP701", "."])
    assert (code, out) == (0, "")
    assert "0 fixed (1 more with --unsafe-fixes)" in capsys.readouterr().err


def test_standard_input_is_not_rewritten(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = run_cli(["check", "--fix", "-"], stdin=BEFORE.encode())
    assert code == 2
    assert "--fix cannot rewrite standard input" in capsys.readouterr().err


def test_text_marks_safe_fixes_and_counts_them(repo: Path) -> None:
    shutil.copyfile(EGRESS_ONLY, repo / "policies" / "a.yaml")
    shutil.copyfile(IGNORED, repo / "policies" / "b.yaml")
    code, out = run_cli(["check", "--select", "NP701,NP702", "."])
    assert code == 1
    lines = out.splitlines()
    assert any(
        line.startswith("policies/a.yaml:8:3: NP702 [egress-rules-imply-ingress-isolation] [*] ")
        for line in lines
    )
    assert any(" NP701 [rules-ignored-by-policy-types] `policyTypes`" in line for line in lines)
    assert lines[-1] == "[*] 1 fixable with `nplint check --fix` (1 more with --unsafe-fixes)."


def test_json_lists_each_findings_fixes(repo: Path) -> None:
    shutil.copyfile(EGRESS_ONLY, repo / "policies" / "a.yaml")
    shutil.copyfile(IGNORED, repo / "policies" / "b.yaml")
    _, out = run_cli(["check", "--format", "json", "--select", "NP701,NP702", "."])
    findings = {f["rule"]: f for f in json.loads(out)["findings"]}
    assert [fix["applicability"] for fix in findings["NP702"]["fixes"]] == ["safe"]
    assert [fix["applicability"] for fix in findings["NP701"]["fixes"]] == ["unsafe"]
    assert "policyTypes" in findings["NP702"]["fixes"][0]["description"]


def test_sarif_fixes_are_schema_valid_replacements(repo: Path) -> None:
    if not SARIF_SCHEMA.is_file():
        pytest.skip(f"the SARIF schema is not available at {SARIF_SCHEMA}")
    (repo / "policies" / "web.yaml").write_text(BEFORE)
    _, out = run_cli(["check", "--format", "sarif", "--select", "NP702", "."])
    log = json.loads(out)
    jsonschema.validate(log, json.loads(SARIF_SCHEMA.read_text()))
    (result,) = log["runs"][0]["results"]
    (fix,) = result["fixes"]
    assert fix["properties"]["applicability"] == "safe"
    (change,) = fix["artifactChanges"]
    assert change["artifactLocation"] == {"uri": "policies/web.yaml", "uriBaseId": "%SRCROOT%"}
    (replacement,) = change["replacements"]
    # Inserted before line 8, nothing deleted: the lines --fix writes.
    assert replacement["deletedRegion"] == {"startLine": 8, "startColumn": 1, "endLine": 8, "endColumn": 1}
    assert replacement["insertedContent"]["text"] == "  policyTypes: [Ingress, Egress]\n"


def test_a_plugin_rule_attaches_fixes_through_the_rule_api(repo: Path) -> None:
    """A rule registered through the plugin hook offers a fix as the built-in ones do; --fix applies it."""
    from collections.abc import Iterator

    from nplint.cli import Session
    from nplint.config import build_config
    from nplint.findings import Edit, Finding, Level
    from nplint.fixing.run import fix_files
    from nplint.lint import lint
    from nplint.plugins import hookimpl
    from nplint.rules.base import Rule, RuleContext, RuleRegistry, yaml_path

    class TeamLabel(Rule):
        id = "NP990"
        name = "team-label"
        summary = "A policy without a team label."
        level = Level.WARNING

        def check(self, ctx: RuleContext) -> Iterator[Finding]:
            for policy in ctx.inventory.policies:
                metadata = policy.node.get_map("metadata")
                where = yaml_path(metadata) if metadata is not None else None
                if where is None or "labels" in metadata.entries:  # type: ignore[union-attr]
                    continue
                edit = Edit.make("set", where, "labels", {"team": "web"})
                fixes = self.make_fix(policy, "label the policy team=web", [edit], safe=True)
                yield self.finding(policy, metadata, "no team label", fixes=fixes)

    class Plugin:
        @hookimpl
        def nplint_register_rules(self, registry: RuleRegistry) -> None:
            registry.add(TeamLabel)

    (repo / "policies" / "web.yaml").write_text(BEFORE)
    session = Session()
    session.plugins.register(Plugin(), name="team-label")
    session.plugins.register_rules(session.rules)
    config = build_config({"select": ["NP990"], "cache": False}, source=None, root=repo)
    result = lint([str(repo / "policies")], config, session.plugins, session.rules)
    assert [f.rule_id for f in result.findings] == ["NP990"]
    outcome = fix_files(repo, result.findings, [f.path for f in result.files], unsafe=False, write=True)
    assert outcome.fixed == 1, outcome.notes
    assert "  namespace: shop\n  labels: {team: web}\nspec:\n" in (repo / "policies" / "web.yaml").read_text()
