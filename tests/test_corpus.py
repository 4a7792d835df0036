"""Every file of ../shared/corpus is processed without a traceback or an exit 2.

The corpus holds real manifests nobody here wrote. It sits beside the
repository in CI; a fresh clone has no ../shared, and these tests skip there.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers import CORPUS, run_cli

pytestmark = pytest.mark.skipif(
    not CORPUS.is_dir(),
    reason=f"the shared corpus is not present at {CORPUS} (it lives beside the repository in CI)",
)


def _lint_json(path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[int, dict[str, object]]:
    monkeypatch.chdir(path)
    code, out = run_cli(["--format", "json", "--fail-on", "never", "."])
    return code, json.loads(out)


@pytest.mark.parametrize("part", ["recipes", "realworld", "np-guard", "templates"])
def test_corpus_part_processes_cleanly(part: str, monkeypatch: pytest.MonkeyPatch) -> None:
    code, report = _lint_json(CORPUS / part, monkeypatch)
    assert code == 0
    assert report["summary"]["files"] >= 0  # type: ignore[index]


def test_recipes_report_findings_and_exit_1(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(CORPUS / "recipes")
    code, out = run_cli(["--fail-on", "warning", "."])
    assert code == 1
    assert "NP203 [all-namespaces-peer]" in out
    # Recipe 12 denies all egress on purpose and allows none back: no name to resolve.
    assert "NP301" not in out


def test_helm_templates_give_no_np001(monkeypatch: pytest.MonkeyPatch) -> None:
    _, report = _lint_json(CORPUS / "templates", monkeypatch)
    assert [f for f in report["findings"] if f["rule"] == "NP001"] == []  # type: ignore[index, union-attr]


def test_every_corpus_file_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each file linted on its own: exit 0 or 1, never 2, never an internal error."""
    monkeypatch.chdir(CORPUS)
    files = sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.suffix in (".yaml", ".yml", ".json"))
    assert files
    # One invocation with every file named explicitly exercises the per-file path.
    code, out = run_cli(["--format", "json", *[str(p.relative_to(CORPUS)) for p in files]])
    assert code in (0, 1)
    assert json.loads(out)["summary"]["files"] >= len(files) - 50
