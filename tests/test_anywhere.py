"""Same answer from anywhere: `nplint DIR`, `cd DIR && nplint .` and `nplint /abs/DIR` agree.

Every fixture tree of the suite is linted the three ways: outside any git
repository, as a repository of its own, and one folder deep in one; the three
reports must be the same bytes. Paths are shown relative to the root (the
repository around the paths linted, see ``nplint.config.find_root``), so nothing
needs normalising within one layout; one folder deep, only the display prefix differs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from helpers import FIXTURES, run_cli
from nplint.cli import Session
from nplint.config import find_root, read_config_file

RULE_DIR = "NP"
ALL_RULES = ",".join(rule.id for rule in Session().rules)
ANYWHERE = FIXTURES / "anywhere"


def _trees() -> list[Path]:
    """Every fixture tree: each rule's bad/ and good/ entries, and every entry of the other folders."""
    trees: list[Path] = []
    for group in sorted(FIXTURES.iterdir()):
        # Hidden folders are no fixtures: a render cache a run left in the tree, for one.
        if not group.is_dir() or group.name.startswith("."):
            continue
        if group.name.startswith(RULE_DIR) and group.name[2:].isdigit():
            folders = [group / kind for kind in ("bad", "good") if (group / kind).is_dir()]
        else:
            folders = [group]
        for folder in folders:
            trees += [entry for entry in sorted(folder.iterdir()) if not entry.name.startswith(".")]
    return trees


TREES = _trees()


def _place(tree: Path, folder: Path) -> Path:
    """A copy of the fixture as its own folder (a file fixture alone in one), returned."""
    if tree.is_dir():
        shutil.copytree(tree, folder, symlinks=True)
    else:
        folder.mkdir(parents=True)
        shutil.copyfile(tree, folder / tree.name)
    return folder


def _three_ways(folder: Path, monkeypatch: pytest.MonkeyPatch, *extra: str) -> list[tuple[int, str]]:
    args = ["check", "--format", "json", *extra]
    monkeypatch.chdir(folder.parent)
    outcomes = [run_cli([*args, "--", folder.name])]
    monkeypatch.chdir(folder)
    outcomes.append(run_cli([*args, "--", "."]))
    outcomes.append(run_cli([*args, "--", str(folder.resolve())]))
    return outcomes


def _git_repository(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    if shutil.which("git") is not None:
        subprocess.run(["git", "init", "-q", str(path)], check=True)
    else:  # all nplint looks for is the .git entry
        (path / ".git").mkdir()
    return path


def _unprefixed(text: str, prefix: str) -> str:
    """``text`` with the display prefix of the tree taken out, wherever a path is shown.

    Messages name paths too ("first in deploy/tree/a.yaml", "kustomize build
    ./deploy/tree"); the tree itself is "." when it is the root. An unnamed namespace
    (that of namespace-less plain manifests) is named by its folder, "./" at the root.
    """
    if not prefix:
        return text
    for quote in ("'", "`"):
        text = text.replace(f"{quote}{prefix}{quote}", f"{quote}./{quote}")
    folder = prefix.rstrip("/")
    return text.replace(prefix, "").replace(f"./{folder}", ".").replace(folder, ".")


def _findings(output: str, prefix: str = "") -> list[tuple[str, str, int, int, str]]:
    data: dict[str, Any] = json.loads(output)
    found = []
    for finding in data["findings"]:
        path = finding["path"]
        assert path.startswith(prefix), path
        message = _unprefixed(finding["message"], prefix)
        found.append((finding["rule"], path[len(prefix) :], finding["line"], finding["column"], message))
    return found


def _names_paths(tree: Path) -> bool:
    """Whether the tree's configuration names files, which are relative to the repository root."""
    config = tree / ".nplint.yaml"
    return config.is_file() and bool(set(read_config_file(config)) & {"expect", "roots", "helm-values"})


@pytest.mark.parametrize("tree", TREES, ids=[str(t.relative_to(FIXTURES)) for t in TREES])
def test_every_fixture_tree_gives_one_answer_from_anywhere(
    tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outside = _place(tree, tmp_path / "plain" / "tree")
    plain = _three_ways(outside, monkeypatch, "--select", ALL_RULES)
    assert plain[1] == plain[0], "`cd DIR && nplint .` differs from `nplint DIR`"
    assert plain[2] == plain[0], "`nplint /abs/DIR` differs from `nplint DIR`"
    assert plain[0][0] in (0, 1), plain[0]

    # The tree as a repository of its own: the very same report.
    own = _place(tree, tmp_path / "own" / "tree")
    _git_repository(own)
    assert _three_ways(own, monkeypatch, "--select", ALL_RULES) == plain, "a repository of its own differs"

    # One folder deep in a repository: the three ways agree, paths count from the repository.
    inside = _place(tree, _git_repository(tmp_path / "repo") / "deploy" / "tree")
    nested = _three_ways(inside, monkeypatch, "--select", ALL_RULES)
    assert nested[1] == nested[0], "in a repository, `cd DIR && nplint .` differs from `nplint DIR`"
    assert nested[2] == nested[0], "in a repository, `nplint /abs/DIR` differs from `nplint DIR`"
    # Only the display prefix tells it from the tree on its own, where nothing else can:
    # paths a configuration names count from the repository root, and two top-level
    # folders of the tree are two parts of it on its own, one part of deploy/ in there.
    if not _names_paths(tree) and _one_part(tree):
        found = _findings(nested[0][1], "deploy/tree/")
        expected = _findings(plain[0][1])
        assert [f[:4] for f in found] == [f[:4] for f in expected]
        for (*_, message), (*_, shown) in zip(found, expected, strict=True):
            assert _same_message(message, shown)


def _one_part(tree: Path) -> bool:
    """Whether the tree has at most one folder at its top (files there belong to every part)."""
    return not tree.is_dir() or sum(1 for entry in tree.iterdir() if entry.is_dir()) <= 1


def _same_message(nested: str, top: str) -> bool:
    """Equal, but for a quoted value cut to length: the longer paths leave less of it.

    The nested tree's paths carry its display prefix, and a headline cuts a quoted
    reason (``…``) or a program error (``...``) at a fixed length, so one shows more
    of it than the other: the shorter must start the longer.
    """
    nested = nested.replace(_PREFIX, "")
    if nested == top:
        return True
    for cut in ("...)", "…)", "…"):
        if cut in nested and cut in top:
            nested_head, _, nested_tail = nested.partition(cut)
            top_head, _, top_tail = top.partition(cut)
            # The cut may fall inside the display prefix itself ("(in deplo…)").
            for length in range(len(_PREFIX), 0, -1):
                if nested_head.endswith(_PREFIX[:length]):
                    nested_head = nested_head[:-length]
                    break
            shorter, longer = sorted((nested_head, top_head), key=len)
            if nested_tail == top_tail and longer.startswith(shorter):
                return True
    return False


_PREFIX = "deploy/tree/"


# -- the report that found it -----------------------------------------------------------------

SHOP = [
    ("NP101", "app.yaml", 4, 9),
    ("NP102", "app.yaml", 4, 9),
    ("NP603", "policies/np.yaml", 4, 9),
    ("NP104", "policies/np.yaml", 7, 3),
]
SHOP_MORE = [
    ("NP101", "app.yaml", 4, 18),
    ("NP102", "app.yaml", 4, 18),
    ("NP603", "policies/np.yaml", 4, 18),
    ("NP104", "policies/np.yaml", 6, 3),
    ("NP301", "policies/web-egress.yaml", 8, 17),
    ("NP106", "policies/web-egress.yaml", 10, 10),
    ("NP206", "policies/web-egress.yaml", 12, 11),
    ("NP206", "policies/web-egress.yaml", 22, 13),
]


@pytest.mark.parametrize(("name", "expected"), [("shop", SHOP), ("shop-more", SHOP_MORE)])
@pytest.mark.parametrize("in_repository", [False, True], ids=["plain", "git"])
def test_workloads_at_the_top_and_policies_below_are_judged_together(
    name: str,
    expected: list[tuple[str, str, int, int]],
    in_repository: bool,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Deployment shop/web in app.yaml at the top of the folder, the policies in policies/:
    # NP104, NP206 and NP106 used to vanish when nplint ran inside the folder. Default rules.
    base = _git_repository(tmp_path / "repo") / "deploy" if in_repository else tmp_path
    folder = _place(ANYWHERE / name, base / name)
    prefix = f"deploy/{name}/" if in_repository else ""
    for code, output in _three_ways(folder, monkeypatch):
        assert code == 1
        found = [(rule, path, line, column) for rule, path, line, column, _ in _findings(output, prefix)]
        assert sorted(found) == sorted(expected)


# -- where the root is ---------------------------------------------------------------------------


def test_root_is_the_repository_around_the_paths_not_the_current_directory(tmp_path: Path) -> None:
    repository = _git_repository(tmp_path / "repo")
    (repository / "a" / "b").mkdir(parents=True)
    (repository / "a" / "b" / "x.yaml").write_text("{}\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    real = repository.resolve()
    assert find_root(["a/b"], cwd=repository) == real
    assert find_root([str(repository / "a" / "b")], cwd=elsewhere) == real
    assert find_root(["x.yaml"], cwd=repository / "a" / "b") == real
    assert find_root(["-"], cwd=repository / "a") == real
    assert find_root([], cwd=elsewhere) == elsewhere.resolve()


def test_root_outside_a_repository(tmp_path: Path) -> None:
    (tmp_path / "top" / "one").mkdir(parents=True)
    (tmp_path / "top" / "two").mkdir()
    (tmp_path / "top" / "one" / "x.yaml").write_text("{}\n")
    top = (tmp_path / "top").resolve()
    # The folder named, or the one holding every path named.
    assert find_root(["one"], cwd=top) == top / "one"
    assert find_root(["."], cwd=top / "one") == top / "one"
    assert find_root(["one/x.yaml"], cwd=top) == top / "one"
    assert find_root(["one", "two"], cwd=top) == top
    # A configuration file above is not looked for: whoever can write there does not
    # configure the run.
    (top / ".nplint.yaml").write_text("select: [NP1]\n")
    assert find_root(["one"], cwd=top) == top / "one"
    assert find_root(["."], cwd=top / "one") == top / "one"
    # A missing path does not move the root (it is reported as missing).
    assert find_root(["one", "gone/deeper"], cwd=top) == top / "one"


def test_a_file_linked_from_elsewhere_does_not_move_the_root(tmp_path: Path) -> None:
    repository = _git_repository(tmp_path / "repo")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "x.yaml").write_text("{}\n")
    (repository / "link.yaml").symlink_to(outside / "x.yaml")
    assert find_root(["link.yaml"], cwd=repository) == repository.resolve()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_pipe_does_not_move_the_root(tmp_path: Path) -> None:
    # `nplint <(kustomize build overlay)` names /dev/fd/63: like standard input, it has no folder.
    repository = _git_repository(tmp_path / "repo")
    pipes = tmp_path / "pipes"
    pipes.mkdir()
    os.mkfifo(pipes / "63")
    assert find_root([str(pipes / "63")], cwd=repository) == repository.resolve()
    assert find_root([str(pipes / "63"), "."], cwd=repository) == repository.resolve()


CONNECTIVITY = sorted(p for p in (FIXTURES / "connectivity").iterdir() if p.is_dir())


@pytest.mark.parametrize("tree", CONNECTIVITY, ids=[t.name for t in CONNECTIVITY])
def test_reach_gives_one_matrix_from_anywhere(
    tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _place(tree, tmp_path / "plain" / "tree")
    monkeypatch.chdir(folder.parent)
    outcomes = [run_cli(["reach", "--", folder.name])]
    monkeypatch.chdir(folder)
    outcomes += [run_cli(["reach", "--", "."]), run_cli(["reach", "--", str(folder.resolve())])]
    assert outcomes[0][1].strip(), outcomes[0]
    assert outcomes[1] == outcomes[0]
    assert outcomes[2] == outcomes[0]


def test_paths_with_nothing_in_common_do_not_make_the_machine_the_root(tmp_path: Path) -> None:
    elsewhere = Path(os.path.realpath(json.__file__))
    if elsewhere.parts[1] == tmp_path.resolve().parts[1]:
        pytest.skip("the standard library and the temporary directory share a top folder here")
    (tmp_path / "x.yaml").write_text("{}\n")
    assert find_root(["x.yaml", str(elsewhere)], cwd=tmp_path) == tmp_path.resolve()
