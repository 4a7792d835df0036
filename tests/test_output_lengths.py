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


# -- rule page examples ----------------------------------------------------------------------

PAGES = sorted((FIXTURES.parent.parent / "rules").glob("NP*.md"))


@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_no_text_line_over_the_limit_on_page_examples(page: Path, tmp_path: Path) -> None:
    from test_rule_pages import YAML_BLOCK, _section

    text = page.read_text(encoding="utf-8")
    for index, block in enumerate(YAML_BLOCK.findall(_section(text, "Example"))):
        folder = tmp_path / f"example{index}"
        folder.mkdir()
        (folder / "example.yaml").write_text(block, encoding="utf-8")
        _, output = _lint(folder, tmp_path, ["ALL"])
        long = [line for line in output.splitlines() if len(line) > LINE_LIMIT]
        assert not long, "\n".join(f"{len(line)}: {line}" for line in long)


# -- lists in headlines ------------------------------------------------------------------------


def test_lists_name_each_item_once_and_cap_the_headline() -> None:
    from nplint.findings import listed, listed_in_full

    assert listed(["web", "web"]) == "web"
    assert listed(["web", "api", "web"]) == "web and api"
    assert listed(["web", "api", "db", "cache", "web", "queue"]) == "web, api and 3 more"
    assert listed(["a", "b", "c"], 3) == "a, b and c"
    assert listed_in_full(["web", "api", "db", "web"]) == "web, api and db"
    assert listed([]) == "" and listed_in_full(["x"]) == "x"


WORKLOAD = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: w, image: w}]}
"""


def test_a_workload_defined_twice_is_named_once(tmp_path: Path) -> None:
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "web.yaml").write_text(WORKLOAD, encoding="utf-8")
    result = lint_paths(["."], root=tmp_path, select=["NP101"])
    [finding] = result.findings
    assert finding.message == (
        "namespace 'shop' (web) has no default-deny ingress policy: add one with `podSelector: {}`"
    )
    assert finding.detail.startswith("Namespace 'shop' has workloads (Deployment web) but")


def test_a_finding_of_many_worlds_names_two_and_details_all() -> None:
    from nplint.lint import _worlds_detail, _worlds_named
    from nplint.units import Unit, World
    from nplint.units.worlds import OVERLAY

    worlds = [World(name, OVERLAY, (Unit(f"overlays/{name}", "kustomize"),)) for name in ("a", "b", "c")]
    # Three of four worlds: two named. All of them: counted, none named (naming two would mislead).
    four = [*worlds, World("d", OVERLAY, (Unit("overlays/d", "kustomize"),))]
    assert _worlds_named(worlds, four) == "in overlays a, b and 1 more"
    assert _worlds_named(worlds, worlds) == "in all 3 worlds"
    assert _worlds_named(worlds[:2], worlds[:2]) == "in overlays a, b"
    assert _worlds_detail("Why.", worlds) == "Why. It holds in overlays a, b, c."
    assert _worlds_detail("Why.", worlds[:2]) == "Why."


def test_a_load_problem_splits_into_headline_and_detail_outside_quotes() -> None:
    from nplint.rules.input import headline_and_detail

    assert headline_and_detail(
        "not valid YAML: duplicate key 'a; b' (first at line 7); kubectl rejects the document. Remove one"
    ) == (
        "not valid YAML: duplicate key 'a; b' (first at line 7)",
        "kubectl rejects the document. Remove one.",
    )
    assert headline_and_detail("not valid YAML: found undefined alias 'x'") == (
        "not valid YAML: found undefined alias 'x'",
        "",
    )
