"""Render planning reads, parses and resolves each kustomization and path once per run."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nplint import discovery, kustomization, render
from nplint.discovery import discover
from nplint.findings import ObjectRef
from nplint.kustomization import Closure, Tree
from nplint.loading import Manifest, iter_manifests, load_text


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _fleet(root: Path, apps: int) -> None:
    """Apps whose three overlays share the app's base, a common base and two components."""
    _write(root / "common/kustomization.yaml", "resources:\n- cm.yaml\n")
    _write(root / "common/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: common\n")
    for name in ("monitoring", "netpol"):
        _write(
            root / f"components/{name}/kustomization.yaml",
            "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources:\n- extra.yaml\n",
        )
        _write(
            root / f"components/{name}/extra.yaml",
            f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n",
        )
    for number in range(apps):
        app = root / f"apps/app{number}"
        _write(app / "base/kustomization.yaml", "resources:\n- ../../../common\n- cm.yaml\n")
        _write(app / "base/cm.yaml", f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app{number}\n")
        for env in ("dev", "prod", "stage"):
            _write(
                app / f"overlays/{env}/kustomization.yaml",
                "resources:\n- ../../base\ncomponents:\n- ../../../../components/monitoring\n"
                "- ./../../../../components/./netpol\npatches:\n- path: patch.yaml\n",
            )
            _write(
                app / f"overlays/{env}/patch.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n"
            )


def _closures(root: Path, parsed: dict[str, discovery.ParsedKustomization] | None) -> dict[str, Closure]:
    tree = Tree(os.path.realpath(root), parsed)
    directories = sorted(str(p.parent.relative_to(root)) for p in root.rglob("kustomization.yaml"))
    return {directory: tree.closure(directory) for directory in directories}


def test_a_dot_directory_does_not_make_planning_read_the_kustomizations_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Setting an unnamed dot-directory aside keeps what discovery parsed for planning."""
    from helpers import lint_paths

    _fleet(tmp_path, 2)
    _write(tmp_path / ".archive/old.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: old}\n")
    reads: list[str] = []
    real_read = kustomization.read_inside
    monkeypatch.setattr(
        kustomization, "read_inside", lambda root, path: reads.append(path) or real_read(root, path)
    )
    result = lint_paths(["."], root=tmp_path, extra={"render": "never", "cache": False})
    assert (".archive/", "not-deployed") in {(s.display, s.reason) for s in result.skipped}
    assert [path for path in reads if path.endswith("kustomization.yaml")] == []


def test_each_kustomization_is_read_once_per_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fleet(tmp_path, 4)
    parses: list[str] = []
    real_parse = discovery.parse_kustomization

    def counted(path: str) -> discovery.ParsedKustomization | None:
        parses.append(path)
        return real_parse(path)

    monkeypatch.setattr(discovery, "parse_kustomization", counted)
    reads: list[str] = []
    real_read = kustomization.read_inside
    monkeypatch.setattr(
        kustomization, "read_inside", lambda root, path: reads.append(path) or real_read(root, path)
    )
    monkeypatch.chdir(tmp_path)
    found = discover(["."], root=tmp_path)
    plan = render.plan(found.skipped, tmp_path, enabled=False, parsed=found.kustomizations)
    # 4 apps x (base + 3 overlays) + common + 2 components, each parsed once, by discovery.
    assert len(parses) == len(set(parses)) == 4 * 4 + 3
    assert reads == []  # planning took every one of them from discovery
    # Only the overlays are top-level: the bases, the common base and the components are used by them.
    assert sorted(target.directory for target, _ in plan.unrendered) == [
        f"apps/app{n}/overlays/{env}" for n in range(4) for env in ("dev", "prod", "stage")
    ]


def test_what_discovery_read_gives_the_closures_a_fresh_read_gives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    _fleet(tmp_path, 3)
    # A file kustomize cannot use as a kustomization: planning follows nothing from it either way.
    _write(tmp_path / "odd/kustomization.yaml", "- a list\n---\nresources: [../common]\n")
    found = discover(["."], root=tmp_path)
    from_discovery = _closures(tmp_path, dict(found.kustomizations))
    assert from_discovery == _closures(tmp_path, None)
    overlay = from_discovery["apps/app1/overlays/prod"]
    assert overlay.directories == {
        "apps/app1/base",
        "common",
        "components/monitoring",
        "components/netpol",
    }
    assert overlay.patches == {"apps/app1/overlays/prod/patch.yaml"}
    assert from_discovery["odd"].directories == {"common"}


def test_a_kustomization_over_the_planning_bound_is_not_taken_from_discovery(tmp_path: Path) -> None:
    _write(tmp_path / "app/kustomization.yaml", "resources: [cm.yaml]\n")
    _write(tmp_path / "app/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n")
    big = discovery.ParsedKustomization(kustomization._SOURCE_LIMIT + 1, True, {}, {"resources": ["cm.yaml"]})
    real = os.path.join(os.path.realpath(tmp_path), "app", "kustomization.yaml")
    # Discovery reads up to its own, larger, bound; planning still refuses what read_inside would.
    assert Tree(os.path.realpath(tmp_path), {real: big}).closure("app").files == set()
    assert Tree(os.path.realpath(tmp_path)).closure("app").files == {"app/cm.yaml"}


@pytest.mark.parametrize(
    "relative",
    [
        "",
        "a",
        "a/b/c.yaml",
        "./a//b",
        "link-to-b/c.yaml",
        "link-up/a/b",
        "outside",
        "outside/x",
        "into-git",
        "into-git/config",
        "missing/x/y",
        "loop/x",
        "a/file.yaml/x",
        "../a",
        "/etc",
    ],
)
@pytest.mark.parametrize("listed", [False, True], ids=["asked", "listed-by-discovery"])
def test_tree_resolves_paths_as_physical_does(tmp_path: Path, relative: str, listed: bool) -> None:
    root = tmp_path / "repo"
    _write(root / "a/b/c.yaml", "x: 1\n")
    _write(root / "a/file.yaml", "x: 1\n")
    _write(tmp_path / "elsewhere/x", "x: 1\n")
    (root / ".git").mkdir()
    _write(root / ".git/config", "")
    os.symlink("a/b", root / "link-to-b")
    os.symlink(".", root / "link-up")
    os.symlink("../elsewhere", root / "outside")
    os.symlink(".git", root / "into-git")
    os.symlink("loop", root / "loop")
    root_real = os.path.realpath(root)
    directories = discover([str(root)], root=root).directories if listed else frozenset()
    assert not listed or {root_real, os.path.join(root_real, "a", "b")} <= directories
    tree = Tree(root_real, None, directories)
    # Resolving a parent first must not change what a path below it resolves to.
    tree.physical("link-up/a")
    assert tree.physical(relative) == kustomization.physical(root_real, relative)
    assert tree.physical(relative) == kustomization.physical(root_real, relative)  # and from the memo


@pytest.mark.parametrize("listed", [False, True], ids=["asked", "listed-by-discovery"])
@pytest.mark.parametrize("first", ["lexists", "physical", "kind"])
def test_tree_says_what_lexists_isdir_and_isfile_say(tmp_path: Path, first: str, listed: bool) -> None:
    """One lstat answers for existence, links and kinds; a link is still followed for its kind."""
    root = tmp_path / "repo"
    _write(root / "a/b/c.yaml", "x: 1\n")
    os.symlink("b", root / "a/to-dir")
    os.symlink("b/c.yaml", root / "a/to-file")
    os.symlink("nowhere", root / "a/broken")
    os.symlink("to-dir", root / "a/to-link")
    root_real = os.path.realpath(root)
    names = ["a", "a/b", "a/b/c.yaml", "a/to-dir", "a/to-file", "a/broken", "a/to-link", "a/missing"]
    # What discovery listed (the links to directories among it) is known without asking again.
    directories = discover([str(root)], root=root).directories if listed else frozenset()
    tree = Tree(root_real, None, directories)
    asked = {
        "lexists": lambda name: tree.lexists(name),
        "physical": lambda name: tree.physical(name),
        "kind": lambda name: tree.physical(name) is not None and tree.is_dir(tree.physical(name) or ""),
    }
    for name in names:  # whichever question comes first fills the memo the others read
        asked[first](name)
    for name in names:
        joined = os.path.join(root_real, *name.split("/"))
        assert tree.lexists(name) == os.path.lexists(joined), name
        real = tree.physical(name)
        assert real == kustomization.physical(root_real, name), name
        assert real is not None
        assert tree.is_dir(real) == os.path.isdir(joined), name
        assert tree.is_file(real) == os.path.isfile(joined), name


@pytest.mark.parametrize("seed", range(6))
def test_reached_is_what_the_closures_say(tmp_path: Path, seed: int) -> None:
    """Which kustomizations others use, and their chart homes: the union of every closure, cycles included."""
    rng = random.Random(seed)
    count = 12
    for number in range(count):
        uses = sorted(rng.sample(range(count), rng.randint(0, 3)))  # may name itself: a cycle of one
        lines = ["resources:"] + [f"- ../k{used}" for used in uses]
        if rng.random() < 0.3:
            lines += ["helmCharts:", "- name: x", f"helmGlobals:\n  chartHome: home{number}"]
        _write(tmp_path / f"k{number}/kustomization.yaml", "\n".join(lines) + "\n")
    root_real = os.path.realpath(tmp_path)
    targets = [f"k{n}" for n in sorted(rng.sample(range(count), rng.randint(1, count)))]
    closures = [Tree(root_real).closure(target) for target in targets]
    used, homes = Tree(root_real).reached(targets)
    assert used == set().union(*(c.directories for c in closures))
    assert homes == set().union(*(c.chart_homes for c in closures))


def test_a_kustomization_that_reaches_only_itself_is_not_used_by_another(tmp_path: Path) -> None:
    _write(tmp_path / "a/kustomization.yaml", "resources:\n- ../b\n")
    _write(tmp_path / "b/kustomization.yaml", "resources:\n- ../a\n")
    _write(tmp_path / "c/kustomization.yaml", "resources:\n- ../c\n- ../d\n")
    _write(tmp_path / "d/kustomization.yaml", "resources: []\n")
    used, homes = Tree(os.path.realpath(tmp_path)).reached(["a", "b", "c"])
    assert (used, homes) == ({"a", "b", "d"}, set())


@pytest.mark.parametrize(
    ("path", "directories", "expected"),
    [
        ("a/b/c", {"a/b"}, True),
        ("a/b/c", {"a/b/c"}, True),
        ("a/b/c", {""}, True),
        ("a/bc", {"a/b"}, False),
        ("a/b", {"a/b/c"}, False),
        ("", {"a"}, False),
        ("", {""}, True),
        ("a/b/c", set(), False),
    ],
)
def test_below_any_is_within_relative_of_one(path: str, directories: set[str], expected: bool) -> None:
    assert render._below_any(path, directories) is expected
    assert any(render.within_relative(path, d) for d in directories) is expected


def _sources_by_scan(obj: ObjectRef, sources: list[Manifest]) -> list[Manifest]:
    """The sources of a rendered object as read off every source: same kind, same name or one inside it."""
    exact = [m for m in sources if m.kind == obj.kind and render._name(m) == obj.name]
    if exact:
        return exact
    near = [m for m in sources if m.kind == obj.kind and (render._name(m) or "\\0") in obj.name]
    return near if len({render._name(m) for m in near}) == 1 else []


@pytest.mark.parametrize("seed", range(8))
def test_source_index_finds_what_a_scan_of_every_source_finds(seed: int) -> None:
    rng = random.Random(seed)
    words = ["a", "ab", "web", "api", "db", "prod-web", "web-v2", "b"]
    documents = []
    for _ in range(30):
        kind = rng.choice(["NetworkPolicy", "Deployment"])
        name = rng.choice([*words, ""])
        documents.append(f"apiVersion: v1\\nkind: {kind}\\nmetadata:\\n  name: '{name}'\\n")
    documents.append("apiVersion: v1\\nkind: Deployment\\nmetadata: {}\\n")
    sources = list(iter_manifests(load_text("s.yaml", "---\\n".join(documents))))
    index = render._SourceIndex(sources)
    for kind in ("NetworkPolicy", "Deployment", "Service"):
        for name in [*words, "prod-web-v2", "prod-ab-x", "zzz"]:
            obj = ObjectRef(kind, "ns", name)
            assert index.sources_of(kind, name) == _sources_by_scan(obj, sources), (kind, name)


def test_files_named_one_by_one_share_what_their_directories_say(tmp_path: Path) -> None:
    """Discovery asks about each directory once, and answers as it would for each file on its own."""
    root = tmp_path / "repo"
    _write(root / "chart/Chart.yaml", "name: c\n")
    _write(root / "chart/templates/deep/x.yaml", "kind: A\n")
    _write(root / "chart/templates/y.yaml", "kind: A\n")
    _write(root / "plain/templates/z.yaml", "kind: A\n")
    _write(root / "plain/a.yaml", "kind: A\n")
    os.symlink("chart/templates", root / "linked")
    paths = [
        "chart/templates/deep/x.yaml",
        "chart/templates/y.yaml",
        "plain/templates/z.yaml",
        "plain/a.yaml",
    ]
    paths += ["linked/deep/x.yaml", "chart/templates/deep/../y.yaml"]
    discoverer = discovery._Discoverer(root, (), True)
    for path in paths:
        absolute = os.path.abspath(root / path)
        assert discoverer._realpath(absolute) == os.path.realpath(absolute)
        directory = os.path.dirname(os.path.realpath(absolute))
        assert discoverer._in_templates(directory) == discovery._in_chart_templates(directory), path
    found = discover([str(root / path) for path in paths], root=root)
    assert [f.display for f in found.files] == ["plain/a.yaml", "plain/templates/z.yaml"]
    assert {s.display for s in found.skipped} == {"chart/templates/deep/x.yaml", "chart/templates/y.yaml"}


_ENTRY_CHARACTERS = "abcgithubGITHUB.com/org:?&@~-_=ıKſ"


@pytest.mark.parametrize(
    "entry",
    [
        "../base",
        "deployment.yaml",
        "github.com/org/repo",
        "GitHub.Com/org/repo",
        "gıthub.com/org/repo",
        "bitbucKet.org/org/repo",
        "https://example.com/x",
        "git@github.com:org/repo",
        "base?ref=v1",
        "a//b",
        "user@host:path",
        "gh:org/repo",
        "gitlab.com/",
    ],
)
def test_the_remote_shortcut_says_what_the_pattern_says(entry: str) -> None:
    assert kustomization._remote(entry) == (kustomization._REMOTE.search(entry) is not None)


@given(st.text(alphabet=_ENTRY_CHARACTERS, max_size=20), st.sampled_from(["", "github.com/", "GITLAB.COM/"]))
def test_the_remote_shortcut_says_what_the_pattern_says_of_any_entry(tail: str, head: str) -> None:
    entry = head + tail
    assert kustomization._remote(entry) == (kustomization._REMOTE.search(entry) is not None)


def _plan_outcome(plan: render.RenderPlan) -> tuple[object, ...]:
    return (plan.unrendered, plan.consumed, plan.listing, plan.set_aside, plan.rendered)


def test_a_survey_made_before_planning_gives_the_plan_planning_alone_gives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fleet(tmp_path, 3)
    _write(tmp_path / "charts/web/Chart.yaml", "apiVersion: v2\nname: web\nversion: 0.1.0\n")
    _write(tmp_path / "charts/web/templates/cm.yaml", "kind: ConfigMap\n")
    monkeypatch.chdir(tmp_path)
    found = discover(["."], root=tmp_path)
    alone = render.plan(found.skipped, tmp_path, enabled=False, parsed=found.kustomizations)
    surveyed = render.survey(found.skipped, tmp_path, found.kustomizations)
    reached: list[int] = []
    real_reached = Tree.reached
    monkeypatch.setattr(Tree, "reached", lambda self, d: reached.append(1) or real_reached(self, d))
    planned = render.plan(
        found.skipped, tmp_path, enabled=False, parsed=found.kustomizations, surveyed=surveyed
    )
    assert reached == []  # the survey's references were used, not followed again
    assert _plan_outcome(planned) == _plan_outcome(alone)
    assert {t.tool for t, _ in alone.unrendered} == {"kustomize", "helm"}


def test_a_survey_of_other_targets_is_made_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Loading may set files aside (a dot-directory): a survey of what discovery found first is then stale."""
    _fleet(tmp_path, 2)
    monkeypatch.chdir(tmp_path)
    found = discover(["."], root=tmp_path)
    alone = render.plan(found.skipped, tmp_path, enabled=False, parsed=found.kustomizations)
    fewer = [s for s in found.skipped if not s.display.startswith("apps/app1/")]
    stale = render.survey(fewer, tmp_path, found.kustomizations)
    planned = render.plan(found.skipped, tmp_path, enabled=False, parsed=found.kustomizations, surveyed=stale)
    assert _plan_outcome(planned) == _plan_outcome(alone)
    assert any(t.directory.startswith("apps/app1/") for t, _ in planned.unrendered)


def test_a_fleet_planned_while_a_second_process_loads_lints_as_in_one_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    from helpers import lint_paths
    from nplint import parallel

    if not sys.platform.startswith("linux") or len(os.sched_getaffinity(0)) < 2:
        pytest.skip("the second process is used on Linux with two cores or more")
    _fleet(tmp_path, 3)
    _write(tmp_path / "apps/app0/overlays/dev/np.yaml", "kind: NetworkPolicy\nmetadata: {name: x}\n")
    _write(tmp_path / ".hidden/app/kustomization.yaml", "resources: [cm.yaml]\n")
    _write(tmp_path / ".hidden/app/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: h}\n")
    settings = {"render": "never", "cache": False, "select": ["ALL"]}
    monkeypatch.setenv(parallel.JOBS_ENV, "1")
    alone = lint_paths(["."], root=tmp_path, extra=settings)
    monkeypatch.delenv(parallel.JOBS_ENV)
    monkeypatch.setattr(parallel, "MIN_FILES", 0)
    surveys: list[int] = []
    real_survey = render.survey
    monkeypatch.setattr(render, "survey", lambda *a: surveys.append(os.getpid()) or real_survey(*a))
    split = lint_paths(["."], root=tmp_path, extra=settings)
    assert surveys == [os.getpid()]
    assert [(f.rule_id, f.path, f.span, f.message) for f in split.findings] == [
        (f.rule_id, f.path, f.span, f.message) for f in alone.findings
    ]
    assert split.skipped == alone.skipped
    assert {f.rule_id for f in alone.findings} >= {"NP005"}


def test_kustomizations_read_by_two_processes_are_what_one_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    from helpers import counted_forks

    if not sys.platform.startswith("linux") or len(os.sched_getaffinity(0)) < 2:
        pytest.skip("the second process is used on Linux with two cores or more")
    kinds = [
        b"resources:\n- a.yaml\npatches:\n- path: p.yaml\n",
        b"apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n",
        b"",  # empty
        b"- a list\n---\nresources: [../x]\n",  # not a mapping first
        b"resources: !!seq [a.yaml]\n",  # a tag: read the long way
        b"base: &b {x: 1}\nother: *b\n",  # an alias
        b"resources: [\xc3\x28]\n",  # not UTF-8
        b"resources: [\n",  # broken
        b"replicas: [{name: a, count: 0x10}]\nnumbers: [1.5, .inf, 007, ~, yes]\n",
    ]
    paths = []
    for number in range(60):
        for index, text in enumerate(kinds):
            path = tmp_path / f"k{number}-{index}" / "kustomization.yaml"
            path.parent.mkdir()
            path.write_bytes(text)
            paths.append(str(path))
    paths.append(str(tmp_path / "missing" / "kustomization.yaml"))
    alone = [discovery.parse_kustomization(path) for path in paths]
    forks = counted_forks(monkeypatch)
    assert len(paths) >= discovery.SPLIT_KUSTOMIZATIONS
    shared = discovery.parse_kustomizations(paths)
    assert len(forks) == 1
    assert shared == alone
    assert alone[-1] is None and any(p is not None and not p.decoded for p in alone)


def test_planning_asks_the_system_nothing_of_the_directories_discovery_listed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fleet(tmp_path, 3)
    monkeypatch.chdir(tmp_path)
    found = discover(["."], root=tmp_path)
    alone = render.survey(found.skipped, tmp_path, found.kustomizations)
    asked: list[str] = []
    real_lstat = os.lstat
    monkeypatch.setattr(kustomization.os, "lstat", lambda path: asked.append(path) or real_lstat(path))
    listed = render.survey(found.skipped, tmp_path, found.kustomizations, found.directories)
    monkeypatch.undo()
    # Below the root only files are asked for (the patches, the resources): every directory
    # was listed. (Above it, realpath of the root asks for each of its components.)
    root_real = os.path.realpath(tmp_path)
    below = [path for path in asked if path.startswith(root_real + os.sep)]
    assert below and all(os.path.isfile(path) for path in below)
    assert (listed.used_by_others, listed.listing, listed.aside) == (
        alone.used_by_others,
        alone.listing,
        alone.aside,
    )
