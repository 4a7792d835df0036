"""SARIF output: valid against the official 2.1.0 schema, with what GitHub code scanning needs."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from helpers import FIXTURES, SARIF_SCHEMA, run_cli


@pytest.fixture(scope="module")
def schema() -> dict[str, object]:
    if not SARIF_SCHEMA.is_file():
        pytest.skip(f"the SARIF schema is not available at {SARIF_SCHEMA} (needs ../shared beside the repo)")
    return json.loads(SARIF_SCHEMA.read_text())


def _sarif_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sources: list[Path]) -> dict[str, object]:
    (tmp_path / ".git").mkdir()
    (tmp_path / "sub dir").mkdir()
    for source in sources:
        (tmp_path / "sub dir" / f"{source.parent.parent.name}-{source.name}").write_bytes(source.read_bytes())
    monkeypatch.chdir(tmp_path)
    code, out = run_cli(["--format", "sarif", "."])
    assert code == 1
    return json.loads(out)


def test_sarif_is_schema_valid_with_level_rule_index_regions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, schema: dict[str, object]
) -> None:
    sources = sorted(FIXTURES.glob("NP*/bad/*.yaml"))
    log = _sarif_for(tmp_path, monkeypatch, sources)
    jsonschema.validate(log, schema)
    run = log["runs"][0]  # type: ignore[index]
    rules = run["tool"]["driver"]["rules"]
    results = run["results"]
    assert results, "the bad fixtures must produce results"
    levels = {r["level"] for r in results}
    assert "warning" in levels, "level must be written even when it is SARIF's default"
    for result in results:
        assert result["level"] in ("error", "warning", "note")
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        location = result["locations"][0]["physicalLocation"]
        region = location["region"]
        assert region["startLine"] >= 1 and region["startColumn"] >= 1
        assert region["endLine"] >= region["startLine"]
        artifact = location["artifactLocation"]
        assert artifact["uriBaseId"] == "%SRCROOT%"
        assert not artifact["uri"].startswith(("/", "file:"))
        assert artifact["uri"].startswith("sub%20dir/")
        assert result["partialFingerprints"]["nplintFingerprint/v1"]


def test_sarif_rules_carry_help_from_pages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, schema: dict[str, object]
) -> None:
    log = _sarif_for(tmp_path, monkeypatch, [FIXTURES / "NP301" / "bad" / "tcp-only.yaml"])
    rules = {rule["id"]: rule for rule in log["runs"][0]["tool"]["driver"]["rules"]}  # type: ignore[index]
    rule = rules["NP301"]
    assert rule["name"] == "EgressBlocksDns"
    assert rule["shortDescription"]["text"]
    assert rule["fullDescription"]["text"].startswith("Reports a policy that isolates the egress")
    assert rule["help"]["markdown"].startswith("# NP301 egress-blocks-dns")
    assert rule["helpUri"].endswith("/rules/NP301.md")
    assert rule["defaultConfiguration"]["level"] == "error"
    assert rule["properties"]["security-severity"]
