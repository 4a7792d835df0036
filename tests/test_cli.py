"""The command line's contract: exit codes, stdin, formats, determinism, rules and explain."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import FIXTURES, run_cli

BAD = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: allow-frontend
  namespace: shop
spec:
  podSelector:
  ingress:
  - from:
    - podSelector: {matchLabels: {app: frontend}}
"""

GOOD = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: default-deny
  namespace: shop
spec:
  podSelector: {}
  policyTypes: [Ingress]
"""


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / ".git").mkdir()
    # Declaring the CNI keeps the one-per-repository NP603 note out of exact outputs.
    (tmp_path / ".nplint.yaml").write_text("cni: calico\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_clean_repository_exits_0(repo: Path) -> None:
    (repo / "policy.yaml").write_text(GOOD)
    code, out = run_cli(["."])
    assert code == 0
    assert out == "No problems found in 1 file.\n"


def test_findings_exit_1_with_exact_text(repo: Path) -> None:
    (repo / "policy.yaml").write_text(BAD)
    code, out = run_cli(["check", "policy.yaml"])
    assert code == 1
    lines = out.splitlines()
    # `[*]`: the finding has a safe fix, counted under the summary.
    assert lines[0].startswith("policy.yaml:7:3: NP204 [implicit-pod-selector] [*] spec.podSelector is null")
    assert lines[-2:] == [
        "Found 1 problem (1 warning) in 1 file.",
        "[*] 1 fixable with `nplint check --fix`.",
    ]


def test_fail_on_threshold(repo: Path) -> None:
    (repo / "policy.yaml").write_text(BAD)
    assert run_cli(["--fail-on", "error", "."])[0] == 0
    assert run_cli(["--fail-on", "warning", "."])[0] == 1
    assert run_cli(["--fail-on", "note", "."])[0] == 1
    assert run_cli(["--fail-on", "never", "."])[0] == 0


def test_fail_on_from_config(repo: Path) -> None:
    (repo / "policy.yaml").write_text(BAD)
    (repo / ".nplint.yaml").write_text("cni: calico\nfail-on: error\n")
    assert run_cli(["."])[0] == 0


def test_usage_errors_exit_2(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["--format", "nope", "."])[0] == 2
    assert run_cli(["missing-dir"])[0] == 2
    assert "missing-dir: no such file or directory" in capsys.readouterr().err
    assert run_cli(["--select", "NP999", "."])[0] == 2
    assert run_cli(["--no-such-flag"])[0] == 2
    assert run_cli(["explain", "NP999"])[0] == 2


def test_bad_config_exits_2_naming_key(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / "policy.yaml").write_text(GOOD)
    (repo / ".nplint.yaml").write_text("selct: [NP101]\n")
    assert run_cli(["."])[0] == 2
    err = capsys.readouterr().err
    assert ".nplint.yaml: key 'selct': unknown key (did you mean 'select'?)" in err


def test_stdin(repo: Path) -> None:
    code, out = run_cli(["-"], stdin=BAD.encode())
    assert code == 1
    assert out.splitlines()[0].startswith("-:7:3: NP204")


def test_stdin_through_a_real_pipe(repo: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "nplint", "-"], input=BAD.encode(), capture_output=True, check=False
    )
    assert result.returncode == 1, result.stderr
    assert result.stdout.decode().startswith("-:7:3: NP204 [implicit-pod-selector]")


def test_several_formats_at_once(repo: Path) -> None:
    (repo / "policy.yaml").write_text(BAD)
    code, out = run_cli(["--format", "text", "--format", "sarif=out.sarif", "--format", "json=out.json", "."])
    assert code == 1
    assert out.startswith("policy.yaml:7:3: NP204")
    sarif = json.loads((repo / "out.sarif").read_text())
    assert sarif["runs"][0]["results"][0]["ruleId"] == "NP204"
    data = json.loads((repo / "out.json").read_text())
    assert [f["rule"] for f in data["findings"]] == ["NP204"]


def test_output_file(repo: Path) -> None:
    (repo / "policy.yaml").write_text(BAD)
    code, out = run_cli(["--format", "json", "--output", "report.json", "."])
    assert code == 1
    assert out == ""
    finding = json.loads((repo / "report.json").read_text())["findings"][0]
    assert finding["rule"] == "NP204"
    assert (finding["line"], finding["column"]) == (7, 3)
    assert finding["object"] == {"kind": "NetworkPolicy", "namespace": "shop", "name": "allow-frontend"}


def test_output_is_deterministic_across_runs_and_file_orders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sources = sorted(p for p in (FIXTURES).rglob("*.yaml") if "/bad/" in p.as_posix())
    outputs = []
    for order in (sources, list(reversed(sources))):
        repo = tmp_path / f"run{len(outputs)}"
        repo.mkdir()
        (repo / ".git").mkdir()
        for index, source in enumerate(order):
            # Same names, created in a different order each time.
            name = source.relative_to(FIXTURES).as_posix().replace("/", "-")
            (repo / name).write_bytes(source.read_bytes())
            assert index >= 0
        monkeypatch.chdir(repo)
        for fmt in ("text", "json", "sarif"):
            outputs.append((fmt, run_cli(["--format", fmt, "."])[1]))
            outputs.append((fmt, run_cli(["--format", fmt, "."])[1]))
    by_format: dict[str, set[str]] = {}
    for fmt, text in outputs:
        by_format.setdefault(fmt, set()).add(text)
    for fmt, texts in by_format.items():
        assert len(texts) == 1, f"{fmt} output differs between runs"


def test_rules_json_lists_every_rule() -> None:
    code, out = run_cli(["rules", "--format", "json"])
    assert code == 0
    rules = json.loads(out)
    assert all(set(rule) == {"id", "name", "level", "summary"} for rule in rules)
    ids = [rule["id"] for rule in rules]
    assert ids == sorted(ids)
    assert {"NP001", "NP101", "NP102", "NP201", "NP204", "NP301"} <= set(ids)


def test_rules_text() -> None:
    code, out = run_cli(["rules"])
    assert code == 0
    assert any(line.startswith("NP301  egress-blocks-dns") for line in out.splitlines())


def test_explain_by_id_and_name() -> None:
    code, out = run_cli(["explain", "NP301"])
    assert code == 0
    assert out.startswith("# NP301 egress-blocks-dns")
    assert run_cli(["explain", "egress-blocks-dns"])[1] == out


def test_select_and_ignore_by_name(repo: Path) -> None:
    (repo / "policy.yaml").write_text(BAD)
    assert run_cli(["--ignore", "implicit-pod-selector", "."])[0] == 0
    assert run_cli(["--select", "NP3", "."])[0] == 0
    assert run_cli(["--select", "NP2", "."])[0] == 1


def test_version() -> None:
    code, _ = run_cli(["--version"])
    assert code == 0


def test_console_script_installed() -> None:
    exe = shutil.which("nplint")
    if exe is None:
        pytest.skip("the nplint console script is not on PATH (package not installed)")
    result = subprocess.run([exe, "rules", "--format", "json"], capture_output=True, check=False)
    assert result.returncode == 0
    assert json.loads(result.stdout)
