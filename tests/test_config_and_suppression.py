"""Configuration files, selection, and the three ways to suppress a finding."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import lint_paths, run_cli
from nplint.config import ConfigError, find_config_file, load_config

NULL_SELECTOR = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: allow
  namespace: shop{annotations}
spec:
  podSelector:{comment}
  ingress:
  - from:
    - namespaceSelector: {{matchLabels: {{team: ops}}}}
    - podSelector: {{matchLabels: {{app: web}}}}
"""


def _policy(annotations: str = "", comment: str = "") -> str:
    return NULL_SELECTOR.format(annotations=annotations, comment=comment)


def _ids(tmp_path: Path, text: str, **extra: object) -> list[tuple[str, int]]:
    (tmp_path / "p.yaml").write_text(text)
    result = lint_paths(["p.yaml"], root=tmp_path, extra={"cni": "calico", **extra})
    return [(f.rule_id, f.span.line) for f in result.findings]


def test_baseline_findings(tmp_path: Path) -> None:
    assert _ids(tmp_path, _policy()) == [("NP204", 7), ("NP201", 11)]


def test_inline_same_line_by_id_and_name(tmp_path: Path) -> None:
    assert _ids(tmp_path, _policy(comment="  # nplint: disable=NP204")) == [("NP201", 11)]
    text = _policy(comment="  # nplint: disable=implicit-pod-selector")
    assert _ids(tmp_path, text) == [("NP201", 11)]


def test_inline_line_before(tmp_path: Path) -> None:
    text = _policy().replace(
        "    - podSelector: {matchLabels: {app: web}}",
        "    # nplint: disable=NP201\n    - podSelector: {matchLabels: {app: web}}",
    )
    assert _ids(tmp_path, text) == [("NP204", 7)]


def test_inline_does_not_reach_two_lines_down(tmp_path: Path) -> None:
    text = _policy().replace("  ingress:\n", "  ingress:  # nplint: disable=NP201\n")
    assert ("NP201", 11) in _ids(tmp_path, text)


def test_disable_file(tmp_path: Path) -> None:
    text = "# nplint: disable-file=NP201,NP204\n" + _policy()
    assert _ids(tmp_path, text) == []


def test_annotation(tmp_path: Path) -> None:
    annotations = '\n  annotations:\n    nplint.io/ignore: "NP201, implicit-pod-selector"'
    assert _ids(tmp_path, _policy(annotations=annotations)) == []


def test_annotation_only_covers_its_object(tmp_path: Path) -> None:
    annotations = '\n  annotations:\n    nplint.io/ignore: "NP201"'
    other = _policy().replace("name: allow", "name: other")
    ids = _ids(tmp_path, _policy(annotations=annotations) + "---\n" + other)
    assert ("NP201", 13) not in ids
    assert ("NP201", 25) in ids


def test_per_file_ignores(tmp_path: Path) -> None:
    assert _ids(tmp_path, _policy(), **{"per-file-ignores": {"*.yaml": ["NP201"]}}) == [("NP204", 7)]
    assert _ids(tmp_path, _policy(), **{"per-file-ignores": {"other/**": ["NP201"]}}) == [
        ("NP204", 7),
        ("NP201", 11),
    ]


def test_select_ignore_extend(tmp_path: Path) -> None:
    assert _ids(tmp_path, _policy(), select=["NP2"], ignore=["NP204"]) == [("NP201", 11)]
    assert _ids(tmp_path, _policy(), select=["peer-and-or-confusion"]) == [("NP201", 11)]


def test_level_override(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(_policy())
    result = lint_paths(
        ["p.yaml"], root=tmp_path, extra={"cni": "calico", "rules": {"NP204": {"level": "error"}}}
    )
    assert {f.rule_id: f.level.value for f in result.findings} == {"NP204": "error", "NP201": "warning"}


def test_config_from_pyproject_and_toml(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    sub = tmp_path / "deploy"
    sub.mkdir()
    (tmp_path / "pyproject.toml").write_text('[tool.nplint]\nignore = ["NP201"]\n')
    assert find_config_file(sub, tmp_path) == tmp_path / "pyproject.toml"
    (sub / ".nplint.toml").write_text('fail-on = "error"\n')
    assert find_config_file(sub, tmp_path) == sub / ".nplint.toml"
    config = load_config(None, start=sub, root=tmp_path)
    assert config.fail_on is not None and config.fail_on.value == "error"
    assert config.ignore == ()


def test_pyproject_without_table_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    assert find_config_file(tmp_path, tmp_path) is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("fail-on: sometimes\n", "key 'fail-on': 'sometimes' is not one of error, warning, note, never"),
        ("cluster:\n  dsn: {}\n", "key 'cluster.dsn': unknown key (did you mean 'dns'?)"),
        ("select: NP101\n", "key 'select': 'NP101' is not of type 'array'"),
        ("cluster:\n  pod-cidr: 10.0.0/8x\n", "key 'cluster.pod-cidr': '10.0.0/8x' is not a CIDR"),
        ("select: [\n", "not valid YAML"),
    ],
)
def test_config_errors_name_file_key_and_reason(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / ".nplint.yaml").write_text(text)
    with pytest.raises(ConfigError) as error:
        load_config(None, start=tmp_path, root=tmp_path)
    assert ".nplint.yaml" in str(error.value)
    assert message in str(error.value)


def test_unknown_code_in_select_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".nplint.yaml").write_text("ignore: [NP20]\nselect: [no-such-rule]\n")
    (tmp_path / "p.yaml").write_text(_policy())
    assert run_cli(["."])[0] == 2
