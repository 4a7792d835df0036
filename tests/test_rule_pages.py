"""Every rule has a page in rules/ with the house headings, and its examples are true.

The *Example* of each page must raise its rule and the *Use instead* must not.
A rule without a page, a page without a rule, or a page missing from
rules/README.md fails the suite.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from helpers import REPO, lint_paths
from nplint.cli import Session

PAGES = REPO / "rules"
HEADINGS = (
    "## What it does",
    "## Why is this bad?",
    "## Example",
    "## Use instead",
    "## Known problems",
    "## Options",
    "## Suppression",
    "## References",
)
SECTION = re.compile(r"^## (.+)$", re.MULTILINE)
YAML_BLOCK = re.compile(r"```yaml\n(.*?)```", re.DOTALL)
CONFIG_COMMENT = re.compile(r"<!--\s*nplint-config:\s*(\{.*?\})\s*-->", re.DOTALL)

RULES = list(Session().rules)


def _section(page: str, title: str) -> str:
    parts = SECTION.split(page)
    for index in range(1, len(parts), 2):
        if parts[index].strip() == title:
            return parts[index + 1]
    return ""


def _page(rule_id: str) -> str:
    path = PAGES / f"{rule_id}.md"
    assert path.is_file(), f"rule {rule_id} has no page rules/{rule_id}.md"
    return path.read_text(encoding="utf-8")


@pytest.mark.parametrize("rule", RULES, ids=[r.id for r in RULES])
def test_page_has_house_structure(rule: type) -> None:
    page = _page(rule.id)
    assert page.startswith(f"# {rule.id} {rule.name}\n"), "the title is '# ID name'"
    positions = [page.find(heading + "\n") for heading in HEADINGS]
    missing = [h for h, p in zip(HEADINGS, positions, strict=True) if p < 0]
    assert not missing, f"missing headings: {missing}"
    assert positions == sorted(positions), "headings out of order"
    assert f"**Level:** {rule.level.value}" in page


FILE_NAME = re.compile(r"^#\s*file:\s*(\S+)\n", re.MULTILINE)


def _lint_block(tmp_path: Path, name: str, block: str, rule_id: str, config: dict[str, object]) -> set[str]:
    """Lint one example; a line `# file: NAME` names the file that starts there (a kustomization, say).

    An example of several files (a kustomization and what lies beside it) has one such
    line before each.
    """
    folder = tmp_path / name
    folder.mkdir()
    starts = list(FILE_NAME.finditer(block))
    if not starts or starts[0].start() != 0:
        (folder / "example.yaml").write_text(block, encoding="utf-8")
    else:
        for index, match in enumerate(starts):
            end = starts[index + 1].start() if index + 1 < len(starts) else len(block)
            (folder / match.group(1)).write_text(block[match.start() : end], encoding="utf-8")
    config = dict(config)
    extra_rules = [str(code) for code in config.pop("select", [])]  # type: ignore[attr-defined]
    result = lint_paths(["."], root=folder, select=[rule_id, "NP001", *extra_rules], extra=config)
    assert not result.failures
    return {f.rule_id for f in result.findings}


@pytest.mark.parametrize("rule", RULES, ids=[r.id for r in RULES])
def test_page_examples_are_true(rule: type, tmp_path: Path) -> None:
    import json

    page = _page(rule.id)
    match = CONFIG_COMMENT.search(page)
    config = json.loads(match.group(1)) if match else {}
    examples = YAML_BLOCK.findall(_section(page, "Example"))
    fixes = YAML_BLOCK.findall(_section(page, "Use instead"))
    assert examples, "the Example section has no ```yaml block"
    assert fixes, "the Use instead section has no ```yaml block"
    for index, block in enumerate(examples):
        found = _lint_block(tmp_path, f"example{index}", block, rule.id, config)
        assert rule.id in found, f"Example {index} does not raise {rule.id}"
        if rule.id != "NP001":
            assert "NP001" not in found, f"Example {index} is not valid YAML"
    for index, block in enumerate(fixes):
        found = _lint_block(tmp_path, f"fix{index}", block, rule.id, config)
        assert found == set(), f"Use instead {index} raises {found}"


def test_every_page_belongs_to_a_rule_and_is_indexed() -> None:
    ids = {rule.id for rule in RULES}
    pages = {path.stem for path in PAGES.glob("NP*.md")}
    assert pages - ids == set(), f"pages without a rule: {sorted(pages - ids)}"
    assert ids - pages == set(), f"rules without a page: {sorted(ids - pages)}"
    index = (PAGES / "README.md").read_text(encoding="utf-8")
    for rule in RULES:
        assert f"[{rule.id}]({rule.id}.md)" in index, f"{rule.id} is missing from rules/README.md"
