"""Discovery: which files are linted, which are skipped and why, in a stable order."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from nplint import discovery
from nplint.discovery import (
    SKIP_HELM_TEMPLATE,
    SKIP_KUSTOMIZATION,
    SKIP_KUSTOMIZE_PATCH,
    SKIP_SYMLINK_LOOP,
    SKIP_SYMLINK_OUTSIDE,
    DiscoveredFile,
    Discovery,
    SkippedFile,
    discover,
    find_repository_root,
)

needs_symlinks = pytest.mark.skipif(not hasattr(os, "symlink"), reason="symbolic links are not available")


def _tree(root: Path, files: dict[str, str | bytes]) -> None:
    """Create files (and, for names ending in "/", empty directories) under ``root``."""
    for name, content in files.items():
        path = root / name
        if name.endswith("/"):
            path.mkdir(parents=True, exist_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8", newline="")


def _run(root: Path, *paths: str, exclude: tuple[str, ...] = (), gitignore: bool = True) -> Discovery:
    given = [p if p == "-" else str(root / p) for p in paths] or [str(root)]
    return discover(given, root=root, exclude=exclude, respect_gitignore=gitignore)


def _files(result: Discovery) -> list[str]:
    return [f.display for f in result.files]


def _skips(result: Discovery) -> list[tuple[str, str]]:
    return [(s.display, s.reason) for s in result.skipped]


# -- what a walk takes -----------------------------------------------------------------


def test_walk_takes_yaml_yml_and_json_of_any_case(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        {
            "b.yaml": "",
            "a.yml": "",
            "c.JSON": "",
            "d.Yaml": "",
            "notes.txt": "",
            "yaml": "",
            "x.yaml.bak": "",
            "sub/deep/e.json": "",
        },
    )
    assert _files(_run(tmp_path)) == ["a.yml", "b.yaml", "c.JSON", "d.Yaml", "sub/deep/e.json"]


def test_hidden_directories_are_walked_but_git_never(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        {
            ".git/config.yaml": "",
            "sub/.git/x.yaml": "",
            ".github/workflows/ci.yaml": "",
            ".argocd/app.yaml": "",
            ".hidden.yaml": "",
        },
    )
    assert _files(_run(tmp_path)) == [".argocd/app.yaml", ".github/workflows/ci.yaml", ".hidden.yaml"]


def test_explicit_file_is_taken_whatever_its_name(tmp_path: Path) -> None:
    _tree(tmp_path, {"policy.txt": "", "Policyfile": ""})
    assert _files(_run(tmp_path, "policy.txt", "Policyfile")) == ["Policyfile", "policy.txt"]


def test_explicit_file_is_taken_even_when_gitignored(tmp_path: Path) -> None:
    _tree(tmp_path, {".gitignore": "*.yaml\nout/\n", "a.yaml": "", "out/b.yaml": ""})
    assert _files(_run(tmp_path)) == []
    assert _files(_run(tmp_path, "a.yaml", "out/b.yaml")) == ["a.yaml", "out/b.yaml"]


def test_files_carry_resolved_absolute_paths(tmp_path: Path) -> None:
    _tree(tmp_path, {"a/b.yaml": ""})
    result = _run(tmp_path, "a/../a/b.yaml")
    assert result.files == (DiscoveredFile(str((tmp_path / "a" / "b.yaml").resolve()), "a/b.yaml"),)


def test_order_is_bytewise_on_the_display(tmp_path: Path) -> None:
    _tree(tmp_path, {"a.yaml": "", "a-b.yaml": "", "a/b.yaml": "", "B.yaml": "", "é.yaml": "", "z.yaml": ""})
    # "-" < "." < "/" < uppercase < lowercase < non-ASCII, byte by byte.
    assert _files(_run(tmp_path)) == ["B.yaml", "a-b.yaml", "a.yaml", "a/b.yaml", "z.yaml", "é.yaml"]


def test_result_does_not_depend_on_creation_order(tmp_path: Path) -> None:
    names = [f"d{i % 7}/s{i % 3}/f{i}.yaml" for i in range(60)] + ["d1/kustomization.yaml", "x.txt"]
    results = []
    for seed in (1, 2, 3):
        root = tmp_path / f"tree{seed}"
        shuffled = names[:]
        random.Random(seed).shuffle(shuffled)
        _tree(root, dict.fromkeys(shuffled, ""))
        result = _run(root)
        results.append((_files(result), _skips(result)))
    assert results[0] == results[1] == results[2]
    assert results[0][0] == sorted(n for n in names if n.endswith(".yaml") and "kustomization" not in n)


def test_stdin(tmp_path: Path) -> None:
    _tree(tmp_path, {"a.yaml": ""})
    result = _run(tmp_path, "a.yaml", "-", "-")
    assert result.files == (
        DiscoveredFile("-", "-"),
        DiscoveredFile(str((tmp_path / "a.yaml").resolve()), "a.yaml"),
    )


def test_missing_paths_are_reported_as_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _tree(tmp_path, {"a.yaml": ""})
    monkeypatch.chdir(tmp_path)
    result = discover(["nope.yaml", "a.yaml", "gone/", "nope.yaml"], root=tmp_path)
    assert result.missing == ("nope.yaml", "gone/")
    assert _files(result) == ["a.yaml"]


@needs_symlinks
def test_a_broken_link_named_explicitly_is_missing_and_ignored_in_a_walk(tmp_path: Path) -> None:
    _tree(tmp_path, {"a.yaml": ""})
    (tmp_path / "broken.yaml").symlink_to(tmp_path / "nowhere.yaml")
    (tmp_path / "broken-dir").symlink_to(tmp_path / "nowhere", target_is_directory=True)
    result = _run(tmp_path)
    assert (_files(result), _skips(result), result.missing) == (["a.yaml"], [], ())
    assert _run(tmp_path, "broken.yaml").missing == (str(tmp_path / "broken.yaml"),)


def test_paths_outside_the_root_are_shown_as_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "repo"
    _tree(tmp_path, {"repo/in.yaml": "", "other/x.yaml": "", "other/sub/y.json": "", "single.yaml": ""})
    monkeypatch.chdir(root)
    result = discover(["../other/", "../single.yaml", "in.yaml"], root=root)
    assert _files(result) == ["../other/sub/y.json", "../other/x.yaml", "../single.yaml", "in.yaml"]
    assert result.files[0].path == str((tmp_path / "other" / "sub" / "y.json").resolve())


def test_same_file_given_twice_is_listed_once(tmp_path: Path) -> None:
    _tree(tmp_path, {"a.yaml": "", "d/b.yaml": ""})
    assert _files(_run(tmp_path, ".", "a.yaml", "d", "d/b.yaml", "d/../a.yaml")) == ["a.yaml", "d/b.yaml"]


def test_unreadable_directory_is_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _tree(tmp_path, {"a.yaml": "", "locked/b.yaml": "", "locked/sub/c.yaml": ""})
    real_scandir = os.scandir

    def scandir(path: str) -> object:
        # chmod cannot lock root out, so refuse the way an unreadable directory does.
        if os.path.basename(path) == "locked":
            raise PermissionError(13, "Permission denied", path)
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    result = _run(tmp_path)
    assert (_files(result), _skips(result), result.missing) == (["a.yaml"], [], ())


# -- .gitignore ---------------------------------------------------------------------------

_GITIGNORE_CASES = {
    "negation": (
        "*.yaml\n!keep.yaml\n",
        ["a.yaml", "keep.yaml", "sub/keep.yaml", "sub/b.yaml"],
        ["keep.yaml", "sub/keep.yaml"],
    ),
    "no re-include under an excluded directory": (
        "out/\n!out/keep.yaml\n",
        ["out/keep.yaml", "out/a.yaml", "keep.yaml"],
        ["keep.yaml"],
    ),
    "re-include under a directory's contents": (
        "out/*\n!out/keep.yaml\n",
        ["out/keep.yaml", "out/a.yaml", "out/sub/b.yaml"],
        ["out/keep.yaml"],
    ),
    "leading slash anchors": (
        "/top.yaml\n",
        ["top.yaml", "sub/top.yaml"],
        ["sub/top.yaml"],
    ),
    "middle slash anchors": (
        "sub/x.yaml\n",
        ["sub/x.yaml", "deep/sub/x.yaml", "x.yaml"],
        ["deep/sub/x.yaml", "x.yaml"],
    ),
    "no slash matches at any depth": (
        "x.yaml\n",
        ["x.yaml", "a/b/x.yaml", "a/y.yaml"],
        ["a/y.yaml"],
    ),
    "trailing slash is for directories only": (
        "policies.yaml/\n",
        ["policies.yaml/a.yaml", "other/policies.yaml"],
        ["other/policies.yaml"],
    ),
    "star does not cross a slash": (
        "a/*.yaml\n",
        ["a/x.yaml", "a/b/x.yaml"],
        ["a/b/x.yaml"],
    ),
    "leading double star": (
        "**/tmp/x.yaml\n",
        ["tmp/x.yaml", "a/b/tmp/x.yaml", "tmp/y.yaml"],
        ["tmp/y.yaml"],
    ),
    "middle double star": (
        "a/**/b.yaml\n",
        ["a/b.yaml", "a/x/y/b.yaml", "c/a/b.yaml", "a/c.yaml"],
        ["a/c.yaml", "c/a/b.yaml"],
    ),
    "trailing double star": (
        "logs/**\n!logs/keep.yaml\n",
        ["logs/a.yaml", "logs/keep.yaml", "logs/sub/keep.yaml", "logsx/a.yaml"],
        ["logs/keep.yaml", "logsx/a.yaml"],
    ),
    "question mark and brackets": (
        "v?.yaml\n[ab].yaml\n[!c]x.yaml\n",
        ["v1.yaml", "v10.yaml", "a.yaml", "c.yaml", "dx.yaml", "cx.yaml"],
        ["c.yaml", "cx.yaml", "v10.yaml"],
    ),
    "brackets: a leading ] is literal, and no bracket matches a slash": (
        "[]a]x.yaml\nx[!a]y.yaml\n",
        ["]x.yaml", "ax.yaml", "bx.yaml", "x/y.yaml", "xby.yaml", "xay.yaml"],
        ["bx.yaml", "x/y.yaml", "xay.yaml"],
    ),
    "comments, blanks and escapes": (
        "# a.yaml\n\n   \n\\#hash.yaml\n\\!bang.yaml\n",
        ["a.yaml", "#hash.yaml", "!bang.yaml", "# a.yaml"],
        ["# a.yaml", "a.yaml"],
    ),
    "trailing spaces are dropped unless escaped": (
        "plain   \nspaced\\ \n",
        ["plain/a.yaml", "plain /a.yaml", "spaced/a.yaml", "spaced /a.yaml"],
        ["plain /a.yaml", "spaced/a.yaml"],
    ),
    "windows line endings": (
        "a.yaml\r\n/b/\r\n",
        ["a.yaml", "b/c.yaml", "c.yaml"],
        ["c.yaml"],
    ),
    "last matching pattern wins": (
        "!a.yaml\n*.yaml\n",
        ["a.yaml", "b.json"],
        ["b.json"],
    ),
}


@pytest.mark.parametrize(("gitignore", "files", "expected"), _GITIGNORE_CASES.values(), ids=_GITIGNORE_CASES)
def test_gitignore(tmp_path: Path, gitignore: str, files: list[str], expected: list[str]) -> None:
    _tree(tmp_path, {".gitignore": gitignore, **dict.fromkeys(files, "")})
    assert _files(_run(tmp_path)) == expected
    assert _files(_run(tmp_path, gitignore=False)) == sorted(files)


def test_nested_gitignore_files(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        {
            ".gitignore": "*.tmp.yaml\ngenerated/\n",
            "a.tmp.yaml": "",
            "generated/x.yaml": "",
            "sub/.gitignore": "!keep.tmp.yaml\n/only-here.yaml\nlocal/\n",
            "sub/keep.tmp.yaml": "",
            "sub/drop.tmp.yaml": "",
            "sub/only-here.yaml": "",
            "sub/deeper/only-here.yaml": "",
            "sub/local/x.yaml": "",
            "only-here.yaml": "",
            "local/x.yaml": "",
        },
    )
    assert _files(_run(tmp_path)) == [
        "local/x.yaml",
        "only-here.yaml",
        "sub/deeper/only-here.yaml",
        "sub/keep.tmp.yaml",
    ]


def test_explicit_directory_honours_the_gitignore_files_above_it(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        {
            ".gitignore": "*.tmp.yaml\n",
            "a/.gitignore": "/b/skip.yaml\n",
            "a/b/skip.yaml": "",
            "a/b/x.tmp.yaml": "",
            "a/b/keep.yaml": "",
        },
    )
    assert _files(_run(tmp_path, "a/b")) == ["a/b/keep.yaml"]


def test_git_info_exclude(tmp_path: Path) -> None:
    _tree(tmp_path, {".git/info/exclude": "secret.yaml\n", "secret.yaml": "", "a.yaml": ""})
    assert _files(_run(tmp_path)) == ["a.yaml"]
    # .gitignore files take precedence over info/exclude, as in git.
    _tree(tmp_path, {".gitignore": "!secret.yaml\n"})
    assert _files(_run(tmp_path)) == ["a.yaml", "secret.yaml"]


def test_git_info_exclude_of_a_worktree(tmp_path: Path) -> None:
    root = tmp_path / "worktree"
    _tree(
        tmp_path,
        {
            "main/.git/info/exclude": "secret.yaml\n",
            "main/.git/worktrees/wt/commondir": "../..\n",
            "worktree/.git": f"gitdir: {tmp_path / 'main/.git/worktrees/wt'}\n",
            "worktree/secret.yaml": "",
            "worktree/a.yaml": "",
        },
    )
    assert _files(_run(root)) == ["a.yaml"]


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
@pytest.mark.parametrize("seed", range(12))
def test_gitignore_agrees_with_git(tmp_path: Path, seed: int) -> None:
    """Random trees with random .gitignore files: the same files as `git ls-files --others`."""
    rnd = random.Random(seed)
    patterns = [
        "*.yaml", "!keep.yaml", "build/", "/a", "a/", "**/tmp", "logs/**", "a/**/c.json", "*.tmp.yaml",
        "!*.tmp.yaml", "b", "/b/", "k/*", "!k/a.yaml", "[ab].yml", "?.json", "\\#h.yaml", ".hid", "!a",
        "**/b/*.yaml", "*", "!*/", "!*.json", "tmp/**/", "!build", "# c", "",
    ]  # fmt: skip

    def build(directory: Path, depth: int) -> None:
        for name in rnd.sample(["a.yaml", "b.yml", "c.json", "keep.yaml", "x.tmp.yaml", "#h.yaml"], 3):
            _tree(directory, {name: ""})
        if rnd.random() < 0.6:
            _tree(directory, {".gitignore": "\n".join(rnd.sample(patterns, 4)) + "\n"})
        if depth < 3:
            for name in rnd.sample(["a", "b", "build", "logs", "tmp", ".hid", "k"], 2):
                build(directory / name, depth + 1)

    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    build(tmp_path, 0)
    listed = subprocess.run(
        ["git", "-C", str(tmp_path), "ls-files", "-z", "--others", "--exclude-standard"],
        capture_output=True,
        check=True,
    ).stdout.decode()
    expected = sorted(p for p in listed.split("\0") if p.endswith((".yaml", ".yml", ".json")))
    assert _files(_run(tmp_path)) == expected


# -- config exclude -------------------------------------------------------------------------


def test_exclude_applies_to_walked_and_explicit_files(tmp_path: Path) -> None:
    _tree(tmp_path, {"a.yaml": "", "ci/x.yaml": "", "deep/ci/y.yaml": "", "z.test.yaml": "", "p.txt": ""})
    exclude = ("/ci/", "*.test.yaml", "p.txt")
    assert _files(_run(tmp_path, exclude=exclude)) == ["a.yaml", "deep/ci/y.yaml"]
    assert _files(_run(tmp_path, "ci/x.yaml", "z.test.yaml", "p.txt", "a.yaml", exclude=exclude)) == [
        "a.yaml"
    ]
    assert _files(_run(tmp_path, "ci", exclude=exclude)) == []
    # Still applied when .gitignore files are not.
    assert _files(_run(tmp_path, exclude=exclude, gitignore=False)) == ["a.yaml", "deep/ci/y.yaml"]


def test_exclude_cannot_re_include_under_an_excluded_directory(tmp_path: Path) -> None:
    _tree(tmp_path, {"vendor/keep.yaml": "", "vendor/x.yaml": ""})
    exclude = ("vendor/", "!vendor/keep.yaml")
    assert _files(_run(tmp_path, exclude=exclude)) == []
    assert _files(_run(tmp_path, "vendor/keep.yaml", exclude=exclude)) == []


# -- Helm ---------------------------------------------------------------------------------------

_TEMPLATE_DIR = "Helm chart template (in the chart's templates/ directory); render it with `helm template`"


def test_helm_chart_files_are_skipped(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        {
            "chart/Chart.yaml": "name: x\n",
            "chart/values.yaml": "a: 1\n",
            "chart/values-prod.yaml": "a: 2\n",
            "chart/values.schema.json": "{}",
            "chart/templates/np.yaml": "kind: NetworkPolicy\n",
            "chart/templates/sub/np.yaml": "kind: NetworkPolicy\n",
            "chart/crds/crd.yaml": "kind: CustomResourceDefinition\n",
            "chart/charts/dep/Chart.yaml": "name: dep\n",
            "chart/charts/dep/templates/np.json": "{}",
            "not-a-chart/templates/np.yaml": "kind: NetworkPolicy\n",
            "not-a-chart/values.yaml": "kind: NetworkPolicy\n",
        },
    )
    result = _run(tmp_path)
    assert _files(result) == [
        "chart/crds/crd.yaml",
        "not-a-chart/templates/np.yaml",
        "not-a-chart/values.yaml",
    ]
    assert result.skipped == (
        SkippedFile("chart/Chart.yaml", SKIP_HELM_TEMPLATE, "Helm chart metadata, not a manifest"),
        SkippedFile("chart/charts/dep/Chart.yaml", SKIP_HELM_TEMPLATE, "Helm chart metadata, not a manifest"),
        SkippedFile("chart/charts/dep/templates/np.json", SKIP_HELM_TEMPLATE, _TEMPLATE_DIR),
        SkippedFile("chart/templates/np.yaml", SKIP_HELM_TEMPLATE, _TEMPLATE_DIR),
        SkippedFile("chart/templates/sub/np.yaml", SKIP_HELM_TEMPLATE, _TEMPLATE_DIR),
        SkippedFile("chart/values-prod.yaml", SKIP_HELM_TEMPLATE, "Helm chart values, not a manifest"),
        SkippedFile("chart/values.schema.json", SKIP_HELM_TEMPLATE, "Helm chart values, not a manifest"),
        SkippedFile("chart/values.yaml", SKIP_HELM_TEMPLATE, "Helm chart values, not a manifest"),
    )


def test_helm_template_named_explicitly_is_skipped(tmp_path: Path) -> None:
    _tree(tmp_path, {"chart/Chart.yaml": "", "chart/templates/np.yaml": "kind: NetworkPolicy\n"})
    result = _run(tmp_path, "chart/templates/np.yaml")
    assert (_files(result), _skips(result)) == ([], [("chart/templates/np.yaml", SKIP_HELM_TEMPLATE)])
    result = _run(tmp_path, "chart/templates")
    assert (_files(result), _skips(result)) == ([], [("chart/templates/np.yaml", SKIP_HELM_TEMPLATE)])


def test_go_template_syntax_is_skipped(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        {
            "templated.yaml": "metadata:\n  name: {{ .Values.name }}\n",
            "explicit.txt": "name: {{ x }}",
            "late.yaml": "#" * (64 * 1024) + "\nname: {{ x }}\n",
            "binary.json": bytes(range(256)) * 10,
            # A Kubernetes object (a .json file without apiVersion and kind is not a manifest).
            "single-brace.json": '{"apiVersion": "v1", "kind": "ConfigMap", "data": {"b": "1"}}',
        },
    )
    result = _run(tmp_path, ".", "explicit.txt")
    assert _files(result) == ["binary.json", "late.yaml", "single-brace.json"]
    detail = "Helm chart template (contains '{{'); render it with `helm template`"
    assert result.skipped == (
        SkippedFile("explicit.txt", SKIP_HELM_TEMPLATE, detail),
        SkippedFile("templated.yaml", SKIP_HELM_TEMPLATE, detail),
    )


# -- Kustomize ----------------------------------------------------------------------------------


def test_kustomization_and_its_patches_are_skipped(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        {
            "app/kustomization.yaml": (
                "resources: [deploy.yaml]\n"
                "patches:\n"
                "- path: patch.yaml\n"
                "- patch: |-\n    - op: remove\n      path: /spec\n"
                "patchesStrategicMerge:\n"
                "- psm.yaml\n"
                "- |-\n  apiVersion: v1\n  kind: Service\n"
                "patchesJson6902:\n"
                "- target: {kind: Deployment, name: x}\n  path: ../shared/json6902.yaml\n"
            ),
            "app/deploy.yaml": "",
            "app/patch.yaml": "",
            "app/psm.yaml": "",
            "shared/json6902.yaml": "",
            "shared/other.yaml": "",
            "plain/Kustomization": "patches:\n- path: p.yaml\n",
            "plain/p.yaml": "",
            "plain/np.yaml": "",
            "yml/kustomization.yml": "patchesStrategicMerge: [s.yaml]\n",
            "yml/s.yaml": "",
        },
    )
    result = _run(tmp_path)
    assert _files(result) == ["app/deploy.yaml", "plain/np.yaml", "shared/other.yaml"]
    assert _skips(result) == [
        ("app/kustomization.yaml", SKIP_KUSTOMIZATION),
        ("app/patch.yaml", SKIP_KUSTOMIZE_PATCH),
        ("app/psm.yaml", SKIP_KUSTOMIZE_PATCH),
        ("plain/p.yaml", SKIP_KUSTOMIZE_PATCH),
        ("shared/json6902.yaml", SKIP_KUSTOMIZE_PATCH),
        ("yml/kustomization.yml", SKIP_KUSTOMIZATION),
        ("yml/s.yaml", SKIP_KUSTOMIZE_PATCH),
    ]
    details = {s.display: s.detail for s in result.skipped}
    assert details["shared/json6902.yaml"] == (
        "Kustomize patch listed in app/kustomization.yaml; lint the output of `kustomize build`"
    )


def test_kustomize_files_named_explicitly(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        {
            "overlay/Kustomization": "patches:\n- path: patches/p.yaml\n",
            "overlay/patches/p.yaml": "",
            "overlay/patches/q.yaml": "",
        },
    )
    result = _run(tmp_path, "overlay/patches/p.yaml", "overlay/patches/q.yaml")
    assert _files(result) == ["overlay/patches/q.yaml"]
    assert _skips(result) == [("overlay/patches/p.yaml", SKIP_KUSTOMIZE_PATCH)]
    assert _skips(_run(tmp_path, "overlay/Kustomization")) == [("overlay/Kustomization", SKIP_KUSTOMIZATION)]
    # A directory below the kustomization, too.
    assert _skips(_run(tmp_path, "overlay/patches")) == [("overlay/patches/p.yaml", SKIP_KUSTOMIZE_PATCH)]


@pytest.mark.parametrize(
    "text",
    [
        "patches: [\n",
        "- just\n- a list\n",
        "patches: 3\npatchesStrategicMerge: {a: 1}\n",
        "patches:\n- path: [1]\n- 7\n",
        "",
        "\x00\x01binary",
    ],
)
def test_a_broken_kustomization_lists_no_patches(tmp_path: Path, text: str) -> None:
    _tree(tmp_path, {"k/kustomization.yaml": text, "k/a.yaml": ""})
    result = _run(tmp_path)
    assert (_files(result), _skips(result)) == (["k/a.yaml"], [("k/kustomization.yaml", SKIP_KUSTOMIZATION)])


# -- symbolic links ------------------------------------------------------------------------------


@needs_symlinks
def test_links_out_of_the_root_are_not_followed(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    _tree(tmp_path, {"outside/x.yaml": "", "outside/notes.txt": "", "repo/a.yaml": ""})
    (root / "escape").symlink_to(tmp_path / "outside", target_is_directory=True)
    (root / "escape.yaml").symlink_to(tmp_path / "outside" / "x.yaml")
    (root / "escape.txt").symlink_to(tmp_path / "outside" / "notes.txt")  # not a manifest: not reported
    result = _run(root)
    assert _files(result) == ["a.yaml"]
    assert _skips(result) == [("escape", SKIP_SYMLINK_OUTSIDE), ("escape.yaml", SKIP_SYMLINK_OUTSIDE)]
    # Named explicitly, or through a linked directory, they stay outside.
    result = _run(root, "escape.yaml", "escape/x.yaml", "escape")
    assert _files(result) == []
    assert _skips(result) == [
        ("escape", SKIP_SYMLINK_OUTSIDE),
        ("escape.yaml", SKIP_SYMLINK_OUTSIDE),
        ("escape/x.yaml", SKIP_SYMLINK_OUTSIDE),
    ]


@needs_symlinks
def test_directory_link_loops_are_cut(tmp_path: Path) -> None:
    _tree(tmp_path, {"a/b.yaml": "", "c/d.yaml": ""})
    (tmp_path / "a" / "self").symlink_to(tmp_path / "a", target_is_directory=True)
    (tmp_path / "a" / "up").symlink_to("..", target_is_directory=True)
    (tmp_path / "c" / "to-a").symlink_to(tmp_path / "a", target_is_directory=True)
    result = _run(tmp_path)
    assert _files(result) == ["a/b.yaml", "c/d.yaml"]
    assert _skips(result) == [
        ("a/self", SKIP_SYMLINK_LOOP),
        ("a/up", SKIP_SYMLINK_LOOP),
        ("c/to-a/self", SKIP_SYMLINK_LOOP),
        ("c/to-a/up", SKIP_SYMLINK_LOOP),
    ]


@needs_symlinks
def test_a_link_to_a_directory_above_the_walked_one_is_a_loop(tmp_path: Path) -> None:
    _tree(tmp_path, {"a.yaml": "", "c/d.yaml": ""})
    (tmp_path / "c" / "up").symlink_to("..", target_is_directory=True)
    result = _run(tmp_path, "c")
    assert (_files(result), _skips(result)) == (["c/d.yaml"], [("c/up", SKIP_SYMLINK_LOOP)])


@needs_symlinks
def test_a_file_reached_twice_is_listed_once_under_its_path_without_a_link(tmp_path: Path) -> None:
    # A link is an alias: the real path names the file, as the kustomization consuming it does.
    _tree(tmp_path, {"real/np.yaml": "", "z.yaml": ""})
    (tmp_path / "alias").symlink_to(tmp_path / "real", target_is_directory=True)
    (tmp_path / "a-link.yaml").symlink_to(tmp_path / "z.yaml")
    result = _run(tmp_path)
    assert result.files == (
        DiscoveredFile(str((tmp_path / "real" / "np.yaml").resolve()), "real/np.yaml"),
        DiscoveredFile(str((tmp_path / "z.yaml").resolve()), "z.yaml"),
    )
    # Whatever order the paths come in.
    assert _run(tmp_path, "z.yaml", "real", "a-link.yaml", "alias") == result


@needs_symlinks
def test_links_inside_the_root_are_followed(tmp_path: Path) -> None:
    _tree(tmp_path, {"base/np.yaml": "", "base/.gitignore": "ignored.yaml\n", "base/ignored.yaml": ""})
    (tmp_path / "envs").mkdir()
    (tmp_path / "envs" / "prod").symlink_to(tmp_path / "base", target_is_directory=True)
    assert _files(_run(tmp_path, "envs")) == ["envs/prod/np.yaml"]


# -- repository root ---------------------------------------------------------------------------------


def test_repository_root(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        {"repo/.git/": "", "repo/x/y/": "", "wt/.git": "gitdir: /elsewhere\n", "wt/z/": "", "none/": ""},
    )
    assert find_repository_root(tmp_path / "repo" / "x" / "y") == (tmp_path / "repo").resolve()
    assert find_repository_root(tmp_path / "repo") == (tmp_path / "repo").resolve()
    assert find_repository_root(tmp_path / "wt" / "z") == (tmp_path / "wt").resolve()
    if not any((p / ".git").exists() for p in tmp_path.resolve().parents):
        assert find_repository_root(tmp_path / "none") == (tmp_path / "none").resolve()


@pytest.mark.parametrize("directory", ["", "/", "/repo", "/repo/", "relative/dir", "/a b/ç"])
@pytest.mark.parametrize("name", ["x.yaml", ".hidden", "kustomization.yaml", "a b"])
def test_a_walked_entry_joins_as_os_path_join_does(directory: str, name: str) -> None:
    assert discovery._below(directory, name) == os.path.join(directory, name)


def test_small_files_are_read_once_and_large_ones_by_the_loader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The walk reads small files whole (to tell templates from manifests); loading reads them no more."""
    from nplint import lint
    from nplint.config import Config
    from nplint.plugins.manager import PluginManager

    namespace = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n"
    large = namespace.format(name="large") + "# padding\n" * (discovery._SNIFF_BYTES // 10)
    _tree(
        tmp_path,
        {
            "small.yaml": namespace.format(name="small"),
            "large.yaml": large,
            "empty.yaml": "",
            "chart/templates/x.yaml": "{{ .Values.x }}\n",
        },
    )
    found = discover([str(tmp_path)], root=tmp_path)
    assert found.contents == {
        "small.yaml": namespace.format(name="small").encode(),
        "empty.yaml": b"",
    }
    read: list[str] = []
    real_read = lint.read_bounded

    def counting_read(path: object, *args: object, **kwargs: object) -> bytes:
        read.append(os.path.basename(str(path)))
        return real_read(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(lint, "read_bounded", counting_read)
    for cache in (False, True):
        read.clear()
        config = Config(root=tmp_path, cache=cache)
        _, files = lint.load_paths([str(tmp_path)], config, PluginManager(autoload=False))
        assert read == ["large.yaml"]
        names = {
            f.path: [d.root.to_python() for d in f.documents if d.root is not None and not d.failed]
            for f in files
        }
        assert names["small.yaml"] == [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "small"}}
        ]
        assert names["large.yaml"][0]["metadata"] == {"name": "large"}


def test_discovery_tells_what_may_be_rendered_as_soon_as_the_walk_meets_it(tmp_path: Path) -> None:
    for app in ("a", "b"):
        (tmp_path / "apps" / app).mkdir(parents=True)
        (tmp_path / "apps" / app / "kustomization.yaml").write_text("resources: [deploy.yaml]\n")
        (tmp_path / "apps" / app / "deploy.yaml").write_text("kind: ConfigMap\nmetadata: {name: x}\n")
    (tmp_path / "chart" / "templates").mkdir(parents=True)
    (tmp_path / "chart" / "Chart.yaml").write_text("apiVersion: v2\nname: c\nversion: 0.1.0\n")
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "ns.yaml").write_text("kind: Namespace\nmetadata: {name: shop}\n")
    told: list[str] = []
    discover([str(tmp_path)], root=tmp_path, noticed=told.append)
    assert sorted(told) == ["helm", "kustomize"]  # each once, however many it meets
    told.clear()
    found = discover([str(tmp_path / "plain")], root=tmp_path, noticed=told.append)
    assert [f.display for f in found.files] == ["plain/ns.yaml"]
    assert told == []
    # Named one by one (as pre-commit passes files): the same.
    discover([str(tmp_path / "chart" / "Chart.yaml")], root=tmp_path, noticed=told.append)
    assert told == ["helm"]
