"""Discovery: which files are linted, which are skipped and why, in a stable order."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from nplint.discovery import (
    SKIP_HELM_TEMPLATE,
    SKIP_KUSTOMIZATION,
    SKIP_KUSTOMIZE_PATCH,
    SKIP_SYMLINK_LOOP,
    SKIP_SYMLINK_OUTSIDE,
    compile_patterns,
    discover,
    find_repository_root,
)


def _tree(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def _found(root: Path, *paths: str, **kwargs: object) -> list[str]:
    result = discover([str(root / p) for p in paths] or [str(root)], root=root, **kwargs)  # type: ignore[arg-type]
    return [f.display for f in result.files]


def test_extensions_and_order(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        {"b.yaml": "", "a.yml": "", "c.JSON": "", "d.txt": "", "sub/e.yaml": "", ".hidden/f.yaml": ""},
    )
    assert _found(tmp_path) == [".hidden/f.yaml", "a.yml", "b.yaml", "c.JSON", "sub/e.yaml"]


def test_explicit_file_of_any_extension(tmp_path: Path) -> None:
    _tree(tmp_path, {"policy.txt": "kind: NetworkPolicy\n"})
    assert _found(tmp_path, "policy.txt") == ["policy.txt"]


@pytest.mark.parametrize(
    ("patterns", "path", "is_dir", "ignored"),
    [
        (["*.yaml"], "a/b.yaml", False, True),
        (["/b.yaml"], "a/b.yaml", False, False),
        (["/b.yaml"], "b.yaml", False, True),
        (["a/b.yaml"], "x/a/b.yaml", False, False),
        (["build/"], "build", True, True),
        (["build/"], "build", False, False),
        (["**/tmp"], "x/y/tmp", True, True),
        (["logs/**"], "logs/a/b.yaml", False, True),
        (["a/**/b"], "a/x/y/b", False, True),
        (["*.yaml", "!keep.yaml"], "keep.yaml", False, False),
        (["\\#x.yaml"], "#x.yaml", False, True),
        (["# comment", "", "a?.yaml"], "ab.yaml", False, True),
        (["a[0-9].yaml"], "a5.yaml", False, True),
        (["*.yaml"], "dir/x", False, False),
    ],
)
def test_gitignore_semantics(patterns: list[str], path: str, is_dir: bool, ignored: bool) -> None:
    from nplint.discovery import _Ignore

    assert _Ignore((("", compile_patterns(patterns)),)).ignored(path, is_dir) is ignored


def test_gitignore_files_nested_and_negation(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        {
            ".gitignore": "generated/\n*.tmp.yaml\n",
            "generated/x.yaml": "",
            "a.tmp.yaml": "",
            "keep.yaml": "",
            "sub/.gitignore": "local.yaml\n!a.tmp.yaml\n",
            "sub/local.yaml": "",
            "sub/a.tmp.yaml": "",
            "other/local.yaml": "",
        },
    )
    assert _found(tmp_path) == ["keep.yaml", "other/local.yaml", "sub/a.tmp.yaml"]
    assert "generated/x.yaml" in _found(tmp_path, respect_gitignore=False)


def test_git_info_exclude_and_config_exclude(tmp_path: Path) -> None:
    _tree(tmp_path, {".git/info/exclude": "secret.yaml\n", "secret.yaml": "", "a.yaml": "", "ci/x.yaml": ""})
    assert _found(tmp_path) == ["a.yaml", "ci/x.yaml"]
    assert _found(tmp_path, exclude=["ci/"]) == ["a.yaml"]
    assert _found(tmp_path, "ci/x.yaml", exclude=["ci/"]) == []


def test_helm_and_kustomize_are_skipped(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        {
            "chart/Chart.yaml": "name: x\n",
            "chart/values.yaml": "a: 1\n",
            "chart/templates/np.yaml": "kind: NetworkPolicy\n",
            "raw/templated.yaml": "name: {{ .Values.name }}\n",
            "app/kustomization.yaml": (
                "resources: [deploy.yaml]\npatches:\n- path: patch.yaml\npatchesStrategicMerge: [psm.yaml]\n"
            ),
            "app/deploy.yaml": "",
            "app/patch.yaml": "",
            "app/psm.yaml": "",
        },
    )
    result = discover([str(tmp_path)], root=tmp_path)
    assert [f.display for f in result.files] == ["app/deploy.yaml"]
    assert [(s.display, s.reason) for s in result.skipped] == [
        ("app/kustomization.yaml", SKIP_KUSTOMIZATION),
        ("app/patch.yaml", SKIP_KUSTOMIZE_PATCH),
        ("app/psm.yaml", SKIP_KUSTOMIZE_PATCH),
        ("chart/Chart.yaml", SKIP_HELM_TEMPLATE),
        ("chart/templates/np.yaml", SKIP_HELM_TEMPLATE),
        ("chart/values.yaml", SKIP_HELM_TEMPLATE),
        ("raw/templated.yaml", SKIP_HELM_TEMPLATE),
    ]


def test_broken_kustomization_does_not_fail(tmp_path: Path) -> None:
    _tree(tmp_path, {"k/kustomization.yaml": "patches: [\n", "k/a.yaml": ""})
    assert _found(tmp_path) == ["k/a.yaml"]


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="symbolic links are not available")
def test_symlinks_outside_root_and_loops(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    outside = tmp_path / "outside"
    _tree(outside, {"x.yaml": ""})
    _tree(root, {"a/b.yaml": ""})
    (root / "escape").symlink_to(outside, target_is_directory=True)
    (root / "escape.yaml").symlink_to(outside / "x.yaml")
    (root / "a" / "loop").symlink_to(root / "a", target_is_directory=True)
    (root / "alias.yaml").symlink_to(root / "a" / "b.yaml")
    (root / "broken.yaml").symlink_to(root / "missing.yaml")
    result = discover([str(root)], root=root)
    assert [f.display for f in result.files] == ["a/b.yaml"]
    assert [(s.display, s.reason) for s in result.skipped] == [
        ("a/loop", SKIP_SYMLINK_LOOP),
        ("escape", SKIP_SYMLINK_OUTSIDE),
        ("escape.yaml", SKIP_SYMLINK_OUTSIDE),
    ]


def test_stdin_and_missing(tmp_path: Path) -> None:
    result = discover(["-", str(tmp_path / "nope")], root=tmp_path)
    assert [f.display for f in result.files] == ["-"]
    assert result.missing == (str(tmp_path / "nope"),)


def test_same_file_twice_is_listed_once(tmp_path: Path) -> None:
    _tree(tmp_path, {"a.yaml": ""})
    assert _found(tmp_path, ".", "a.yaml") == ["a.yaml"]


def test_repository_root(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "x" / "y").mkdir(parents=True)
    assert find_repository_root(tmp_path / "x" / "y") == tmp_path.resolve()
