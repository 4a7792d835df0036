"""NP801: probe files named by the configuration's ``expect`` are checked in lint mode."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
import pytest

from helpers import FIXTURES, SARIF_SCHEMA, lint_paths, run_cli

SCENARIO = FIXTURES / "connectivity" / "default-deny"

PROBES = """\
- {from: shop/web, to: shop/db, port: 5432, expect: allow}
# a wish the policies do not grant
- from: tools/debug
  to: shop/db
  port: 5432
  expect: allow
- {from: shop/web, to: shop/db, port: 5432, expect: deny}
- {from: shop/nope, to: shop/db, port: 5432, expect: allow}
- {from: shop/web, to: shop/db, port: 5432, expcet: allow}
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    target = tmp_path / "repo"
    target.mkdir()
    shutil.copy(SCENARIO / "manifests.yaml", target / "manifests.yaml")
    (target / "checks").mkdir()
    (target / "checks" / "probes.yaml").write_text(PROBES, encoding="utf-8")
    return target


def test_failing_probes_are_findings_at_their_lines(repo: Path) -> None:
    result = lint_paths(["."], root=repo, select=["NP801"], extra={"expect": "checks/probes.yaml"})
    assert not result.failures
    found = [(f.path, f.span.line, f.span.column) for f in result.findings]
    assert found == [
        ("checks/probes.yaml", 3, 3),
        ("checks/probes.yaml", 7, 3),
        ("checks/probes.yaml", 8, 3),
        ("checks/probes.yaml", 9, 45),
    ]
    first, second, unknown, typo = result.findings
    assert all(f.rule_id == "NP801" and f.level.value == "error" for f in result.findings)
    assert first.message == "expected tools/debug -> shop/db on TCP 5432 to be allowed, but it is denied"
    assert "isolated by NetworkPolicy shop/db-from-web (manifests.yaml:49)" in first.detail
    assert {r.path for r in first.related} == {"manifests.yaml"}
    assert "to be denied, but it is allowed" in second.message
    assert "ingress rule 0 (manifests.yaml:53)" in second.detail
    assert "unknown endpoint 'shop/nope'; did you mean shop/web" in unknown.message
    assert "unknown probe key `expcet`: did you mean `expect`?" in typo.message
    assert first.yaml_path == "[1]" and second.yaml_path == "[2]"


def test_passing_probes_and_no_expect_key_raise_nothing(repo: Path) -> None:
    (repo / "checks" / "probes.yaml").write_text(PROBES.split("# a wish")[0], encoding="utf-8")
    assert (
        lint_paths(["."], root=repo, select=["NP801"], extra={"expect": ["checks/probes.yaml"]}).findings
        == []
    )
    assert lint_paths(["."], root=repo, select=["NP801"]).findings == []


def test_missing_probe_file_is_reported(repo: Path) -> None:
    result = lint_paths(["."], root=repo, select=["NP801"], extra={"expect": "checks/nope.yaml"})
    assert [(f.path, f.span.line) for f in result.findings] == [("checks/nope.yaml", 1)]
    assert "cannot read the probe file" in result.findings[0].message


def test_probes_follow_the_configured_cni(repo: Path) -> None:
    (repo / "checks" / "probes.yaml").write_text(
        "- {from: tools/debug, to: shop/db, port: 5432, expect: allow}\n", encoding="utf-8"
    )
    extra = {"expect": "checks/probes.yaml", "cni": "flannel"}
    assert lint_paths(["."], root=repo, select=["NP801"], extra=extra).findings == []


def test_suppression_comment_on_a_probe(repo: Path) -> None:
    text = PROBES.replace("- from: tools/debug", "# nplint: disable=NP801\n- from: tools/debug")
    (repo / "checks" / "probes.yaml").write_text(text, encoding="utf-8")
    result = lint_paths(["."], root=repo, select=["NP801"], extra={"expect": "checks/probes.yaml"})
    assert 4 not in [f.span.line for f in result.findings]
    assert len(result.findings) == 3


def test_np801_in_sarif_at_the_probe(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if not SARIF_SCHEMA.is_file():
        pytest.skip(f"the SARIF schema is not available at {SARIF_SCHEMA}")
    (repo / ".git").mkdir()
    (repo / ".nplint.yaml").write_text("expect: checks/probes.yaml\nselect: [NP801]\n", encoding="utf-8")
    monkeypatch.chdir(repo)
    code, out = run_cli(["--format", "sarif", "."])
    assert code == 1
    log = json.loads(out)
    jsonschema.validate(log, json.loads(SARIF_SCHEMA.read_text()))
    run = log["runs"][0]
    results = [r for r in run["results"] if r["ruleId"] == "NP801"]
    location = results[0]["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "checks/probes.yaml"
    assert location["region"]["startLine"] == 3 and location["region"]["startColumn"] == 3
    assert results[0]["level"] == "error"
    assert run["tool"]["driver"]["rules"][results[0]["ruleIndex"]]["id"] == "NP801"
