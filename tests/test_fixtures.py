"""One runner for every rule's fixtures: ``tests/fixtures/NPxxx/{bad,good}/``.

A fixture is a file, or a directory linted as one repository. Lines that must
carry a finding of the rule end with ``# expect: NPxxx`` (several IDs separated
by commas; ``NPxxx@C`` also pins the column). ``good`` fixtures carry no marker
and must raise nothing of the rule. A fixture's configuration is an optional
``.nplint.yaml`` in a directory fixture, or a ``# config: {json}`` line in a file.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from helpers import FIXTURES, lint_paths
from nplint.config import read_config_file

MARKER = re.compile(r"#\s*expect:\s*([A-Z0-9@, ]+)")
CONFIG = re.compile(r"^#\s*config:\s*(\{.*\})\s*$", re.MULTILINE)
RULE_DIR = re.compile(r"NP\d{3}\Z")


def _cases() -> list[tuple[str, str, Path]]:
    cases = []
    for rule_dir in sorted(FIXTURES.iterdir()):
        if not RULE_DIR.match(rule_dir.name):
            continue
        for kind in ("bad", "good"):
            folder = rule_dir / kind
            if not folder.is_dir():
                continue
            for entry in sorted(folder.iterdir()):
                if entry.name.startswith("."):
                    continue
                cases.append((rule_dir.name, kind, entry))
    return cases


def expected_markers(case: Path, rule_id: str) -> set[tuple[str, int, int | None]]:
    files = [case] if case.is_file() else sorted(p for p in case.rglob("*") if p.is_file())
    expected: set[tuple[str, int, int | None]] = set()
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        display = path.relative_to(case if case.is_dir() else case.parent).as_posix()
        for number, line in enumerate(text.splitlines(), start=1):
            match = MARKER.search(line)
            if match is None:
                continue
            for code in match.group(1).split(","):
                code = code.strip()
                rule, _, column = code.partition("@")
                if rule == rule_id:
                    expected.add((display, number, int(column) if column else None))
    return expected


def fixture_config(case: Path) -> dict[str, object]:
    if case.is_dir():
        config_file = case / ".nplint.yaml"
        return read_config_file(config_file) if config_file.is_file() else {}
    try:
        text = case.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return {}
    match = CONFIG.search(text)
    return json.loads(match.group(1)) if match else {}


CASES = _cases()


@pytest.mark.parametrize(
    ("rule_id", "kind", "case"),
    CASES,
    ids=[f"{rule}-{kind}-{case.name}" for rule, kind, case in CASES],
)
def test_fixture(rule_id: str, kind: str, case: Path, tmp_path: Path) -> None:
    if case.is_dir():
        root, target = case, "."
    else:
        # A file fixture is a repository of its own: its neighbours must not add policies.
        root, target = tmp_path, case.name
        shutil.copyfile(case, tmp_path / case.name)
    config = fixture_config(case)
    # A fixture may enable more rules (a suppression rule needs the rule it suppresses).
    extra_rules = [str(code) for code in config.pop("select", [])]  # type: ignore[attr-defined]
    result = lint_paths([target], root=root, select=[rule_id, *extra_rules], extra=config)
    assert not result.failures, result.failures
    expected = expected_markers(case, rule_id)
    found = {(f.path, f.span.line, f.span.column) for f in result.findings if f.rule_id == rule_id}
    others = {f.rule_id for f in result.findings} - {rule_id, *extra_rules}
    assert not others, f"the fixture raises rules it was not written for: {others}"
    if kind == "good":
        assert not expected, "good fixtures carry no expect markers"
        assert found == set(), f"{rule_id} fired on a good fixture: {result.findings}"
        return
    assert expected, f"bad fixture {case} has no '# expect: {rule_id}' marker"
    pinned = {(p, line, col) for p, line, col in expected if col is not None}
    loose = {(p, line) for p, line, col in expected if col is None}
    assert {(p, line) for p, line, _ in found} == loose | {(p, line) for p, line, _ in pinned}, "\n".join(
        f"{f.path}:{f.span.line}:{f.span.column}: {f.rule_id} {f.message}" for f in result.findings
    )
    for item in pinned:
        assert item in found, f"expected {rule_id} at {item}, found {sorted(found)}"


def test_every_rule_has_fixtures() -> None:
    from nplint.cli import Session

    session = Session()
    missing = []
    for rule in session.rules:
        folder = FIXTURES / rule.id
        for kind in ("bad", "good"):
            if not (folder / kind).is_dir() or not any(
                not p.name.startswith(".") for p in (folder / kind).iterdir()
            ):
                missing.append(f"{rule.id}/{kind}")
    assert not missing, f"rules without fixtures: {missing}"
