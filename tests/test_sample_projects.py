"""Generated sample projects kept under Go testdata/ are deployed like any project; the rest is test input."""

from __future__ import annotations

import os
from pathlib import Path

from helpers import FIXTURES, lint_paths
from nplint.deployment_scope import DETAIL_TESTDATA, SKIP_NOT_DEPLOYED, is_sample_project, sample_projects
from nplint.discovery import SKIP_TEST_FOLDER, discover

SAMPLE = FIXTURES / "NP101" / "bad" / "testdata-sample-project"
TESTDATA = SAMPLE / "testdata"


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def test_a_project_root_is_a_project_file_beside_config_default() -> None:
    assert is_sample_project(str(TESTDATA / "p"))
    assert not is_sample_project(str(TESTDATA / "bare"))
    assert not is_sample_project(str(TESTDATA / "in"))
    assert sample_projects(str(TESTDATA)) == ["p"]


def test_projects_are_found_at_any_depth_but_not_inside_one(tmp_path: Path) -> None:
    project = {"PROJECT": "version: '3'\n", "config/default/kustomization.yml": "resources: []\n"}
    _write(tmp_path, {f"go/v4/a/{k}": v for k, v in project.items()})
    _write(tmp_path, {f"helm/b/{k}": v for k, v in project.items()})
    _write(tmp_path, {f"go/v4/a/nested/{k}": v for k, v in project.items()})
    # A folder named PROJECT is no project file.
    _write(tmp_path, {"c/PROJECT/x": "", "c/config/default/kustomization.yaml": "resources: []\n"})
    os.symlink(tmp_path / "helm", tmp_path / "alias")
    assert sample_projects(str(tmp_path)) == ["go/v4/a", "helm/b"]


def test_discovery_walks_the_project_and_skips_the_rest() -> None:
    found = discover([str(SAMPLE)], root=SAMPLE)
    assert [f.display for f in found.files] == ["testdata/p/config/m/d.yaml"]
    skipped = {s.display: s for s in found.skipped}
    assert skipped["testdata/"].reason == SKIP_NOT_DEPLOYED
    assert "except the kubebuilder projects in it (p/)" in skipped["testdata/"].detail
    # The project is a software project of its own (its PROJECT file says so): its tests are tests.
    assert skipped["testdata/p/test/"].reason == SKIP_TEST_FOLDER
    assert "its PROJECT is at the root" in skipped["testdata/p/test/"].detail
    assert set(skipped) == {
        "testdata/",
        "testdata/p/config/default/kustomization.yaml",
        "testdata/p/config/m/kustomization.yaml",
        "testdata/p/test/",
    }


def test_the_project_is_linted_as_deployed() -> None:
    result = lint_paths(["."], root=SAMPLE, select=["NP101", "NP102"])
    manager = "testdata/p/config/m/d.yaml"
    assert [(f.rule_id, f.path, f.span.line) for f in result.findings] == [
        ("NP101", manager, 4),
        ("NP102", manager, 4),
    ]
    # Rendered with its kustomization: in the namespace config/default gives.
    assert result.findings[0].message.startswith("namespace 'w' (m) has no default-deny ingress policy")


def test_gitignored_folders_on_the_way_hide_the_project(tmp_path: Path) -> None:
    project = {"PROJECT": "version: '3'\n", "config/default/kustomization.yaml": "resources: [deploy.yaml]\n"}
    _write(tmp_path, {f"testdata/out/a/{k}": v for k, v in project.items()})
    _write(tmp_path, {"testdata/.gitignore": "out/\n"})
    (tmp_path / ".git").mkdir()
    found = discover([str(tmp_path)], root=tmp_path)
    assert [(s.display, s.detail) for s in found.skipped] == [("testdata/", DETAIL_TESTDATA)]
    assert found.files == ()


def test_lint_undeployed_walks_test_data_whole() -> None:
    found = discover([str(SAMPLE)], root=SAMPLE, lint_undeployed=True)
    assert "testdata/in/deploy.yaml" in [f.display for f in found.files]
