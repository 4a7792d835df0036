"""Two objects run together for want of a `---`: reported even in skipped test folders."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from helpers import FIXTURES, lint_paths, run_cli
from nplint.discovery import SKIP_TEST_FOLDER, discover
from nplint.glued_objects import boundaries

GLUED = FIXTURES / "NP001" / "bad" / "test-folder-glued"
NOT_GLUED = FIXTURES / "NP001" / "good" / "test-folder-not-glued"

ONE = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {}\n"
TWO = ONE.format("a") + ONE.format("b")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (TWO, (5,)),
        # The second object may write its kind first.
        ("apiVersion: v1\nkind: A\nkind: B\napiVersion: v1\n", (3,)),
        # Three objects: two places.
        (TWO + "apiVersion: v1\nkind: Namespace\n", (5, 9)),
        # Separated by `---` or ended by `...`: nothing glued.
        ("apiVersion: v1\nkind: A\n---\napiVersion: v1\nkind: B\n", ()),
        ("apiVersion: v1\nkind: A\n...\napiVersion: v1\nkind: B\n", ()),
        ("apiVersion: v1\nkind: A\n--- # next\napiVersion: v1\nkind: B\n", ()),
        # Nested keys and longer names are not the document's own.
        ("apiVersion: v1\nkind: A\nspec:\n  kind: B\n  apiVersion: v2\nkindness: 1\n", ()),
        # Quoted keys are keys; Windows line ends change nothing.
        ('"apiVersion": v1\n"kind": A\n"apiVersion": v1\n', (3,)),
        (TWO.replace("\n", "\r\n"), (5,)),
    ],
)
def test_boundaries(text: str, expected: tuple[int, ...]) -> None:
    assert boundaries(text) == expected


def test_discovery_reads_test_folders_for_glued_objects_only() -> None:
    found = discover([str(GLUED)], root=GLUED)
    assert [(f.display, f.glued) for f in found.files] == [
        ("checks/.chainsaw-test/allow-web/policies.yaml", (9,)),
        ("tests/inputs/namespaces.yaml", (11,)),
    ]
    # The folders are still reported skipped, once each, and nothing in them is.
    assert [(s.display, s.reason) for s in found.skipped] == [
        ("checks/.chainsaw-test/", SKIP_TEST_FOLDER),
        ("tests/", SKIP_TEST_FOLDER),
    ]


def test_only_the_glued_objects_are_reported() -> None:
    result = lint_paths(["."], root=GLUED)
    assert [(f.rule_id, f.path, f.span.line, f.span.column) for f in result.findings] == [
        ("NP001", "checks/.chainsaw-test/allow-web/policies.yaml", 9, 1),
        ("NP001", "tests/inputs/namespaces.yaml", 11, 1),
    ]
    first = result.findings[0]
    assert first.message == (
        "second object in one document (`apiVersion` again, first at line 2): a `---` is missing before it"
    )
    assert "keeps only the second object" in first.detail
    # One place, not one finding per key the two objects both write.
    assert "more in this file" not in first.message


def test_lint_test_folders_keeps_the_full_behaviour() -> None:
    result = lint_paths(["."], root=GLUED, select=["NP001"], extra={"lint-test-folders": True})
    assert sorted((f.path, f.span.line) for f in result.findings) == [
        ("checks/.chainsaw-test/allow-web/broken-on-purpose.yaml", 9),
        ("checks/.chainsaw-test/allow-web/policies.yaml", 9),
        ("tests/inputs/invalid.yaml", 7),
        ("tests/inputs/namespaces.yaml", 11),
    ]
    by_path = {f.path: f for f in result.findings}
    # Linted whole, the glued file still says what is wrong, and counts the other keys written twice.
    assert by_path["checks/.chainsaw-test/allow-web/policies.yaml"].message.startswith(
        "second object in one document (`apiVersion` again, first at line 2)"
    )
    assert "(and 3 more in this file)" in by_path["checks/.chainsaw-test/allow-web/policies.yaml"].message


def test_nothing_else_of_the_file_is_linted() -> None:
    # The glued file's policies would raise posture findings if they were linted as objects.
    result = lint_paths(["."], root=GLUED)
    assert {f.rule_id for f in result.findings} == {"NP001"}
    assert all(f.object is None for f in result.findings)


def test_not_glued_shapes_are_not_reported() -> None:
    found = discover([str(NOT_GLUED)], root=NOT_GLUED)
    # The text scan finds the block scalar's lines; the loader then says they are text.
    assert [(f.display, f.glued) for f in found.files] == [("tests/inputs/block-scalar.yaml", (5,))]
    result = lint_paths(["."], root=NOT_GLUED)
    assert result.findings == []
    assert result.files == []


def test_outside_test_folders_the_headline_names_the_missing_separator(tmp_path: Path) -> None:
    (tmp_path / "namespaces.yaml").write_text(TWO, encoding="utf-8")
    result = lint_paths(["namespaces.yaml"], root=tmp_path, select=["NP001"])
    assert [(f.span.line, f.span.column, f.message) for f in result.findings] == [
        (
            5,
            1,
            "second object in one document (`apiVersion` again, first at line 1): a `---` is missing "
            "before it (and 2 more in this file)",
        )
    ]


def test_a_nested_duplicate_keeps_the_loader_headline(tmp_path: Path) -> None:
    text = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: A\n  kind: B\n"
    (tmp_path / "list.yaml").write_text(text, encoding="utf-8")
    result = lint_paths(["list.yaml"], root=tmp_path, select=["NP001"])
    assert [(f.span.line, f.message) for f in result.findings] == [
        (6, "not valid YAML: duplicate key 'kind' (first at line 5)")
    ]


def test_a_file_named_in_a_test_folder_is_read_for_glued_objects(monkeypatch: pytest.MonkeyPatch) -> None:
    # pre-commit passes the files one by one.
    monkeypatch.chdir(GLUED)
    folder = "checks/.chainsaw-test/allow-web/"
    named = [folder + "policies.yaml", folder + "broken-on-purpose.yaml"]
    result = lint_paths(named, root=GLUED)
    assert [(f.path, f.span.line) for f in result.findings] == [
        ("checks/.chainsaw-test/allow-web/policies.yaml", 9)
    ]


def test_glued_test_inputs_are_no_unit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repository = tmp_path / "repository"
    shutil.copytree(GLUED, repository)
    (repository / ".git").mkdir()
    monkeypatch.chdir(repository)
    code, out = run_cli(["worlds", "--format", "json", "--no-cache", "."])
    assert code == 0
    shown = json.loads(out)
    assert shown["units"] == []
    # The files are read for NP001 only: what is deployed does not change.
    code, out = run_cli(["check", "--format", "json", "--no-cache", "."])
    assert [(f["rule"], f["path"], f["line"]) for f in json.loads(out)["findings"]] == [
        ("NP001", "checks/.chainsaw-test/allow-web/policies.yaml", 9),
        ("NP001", "tests/inputs/namespaces.yaml", 11),
    ]


def test_go_testdata_is_not_read(tmp_path: Path) -> None:
    (tmp_path / "go.mod").write_text("module example.com/x\n", encoding="utf-8")
    os.makedirs(tmp_path / "pkg" / "testdata")
    (tmp_path / "pkg" / "testdata" / "dup.yaml").write_text(TWO, encoding="utf-8")
    found = discover([str(tmp_path)], root=tmp_path)
    assert found.files == ()
    assert [s.display for s in found.skipped] == ["pkg/testdata/"]
