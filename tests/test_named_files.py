"""Named files (`nplint FILE...`, the pre-commit hook): report on them, judge them with the whole repository.

tests/fixtures/named/repo holds a namespace ``shop`` (a Deployment, a
default-deny beside it, a policy with a selector typo) and a sibling bundle
whose two files define one policy differently (NP704).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from helpers import FIXTURES, run_cli

REPO = FIXTURES / "named" / "repo"
#: The one finding located in shop/: the selector typo.
SHOP_WEB = [("NP104", "shop/web.yaml", 6, 3)]
#: The sibling bundle's finding. (Its selectors match nothing, but shop's workloads are in
#: another part of the tree, so NP104 does not judge them.)
BUNDLE = [("NP704", "bundle/two.yaml", 4, 18)]


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    copy = tmp_path / "repo"
    shutil.copytree(REPO, copy)
    if shutil.which("git") is not None:
        subprocess.run(["git", "init", "-q", str(copy)], check=True)
    else:  # all nplint looks for is the .git entry
        (copy / ".git").mkdir()
    monkeypatch.chdir(copy)
    return copy


def _lint(*args: str) -> list[tuple[str, str, int, int]]:
    code, output = run_cli(["check", "--render=never", "--format", "json", "--", *args])
    assert code in (0, 1), output
    return sorted((f["rule"], f["path"], f["line"], f["column"]) for f in json.loads(output)["findings"])


def test_the_whole_repository_has_findings_in_the_sibling_bundle(repo: Path) -> None:
    # What the named-file runs below must leave out is really there.
    assert _lint(".") == sorted(BUNDLE + SHOP_WEB)


def test_named_files_report_only_their_own_findings(repo: Path) -> None:
    # The pre-commit hook's command line: the sibling bundle's NP704 and NP104 stay out.
    assert _lint("shop/app.yaml", "shop/web.yaml") == SHOP_WEB
    assert _lint("bundle/two.yaml") == BUNDLE
    assert _lint("bundle/one.yaml") == []
    assert _lint("shop/deny.yaml") == []


def test_context_from_a_sibling_file_still_counts(repo: Path) -> None:
    # Alone, the Deployment's namespace has no default-deny (standard input has no siblings)...
    code, output = run_cli(
        ["check", "--format", "json", "-"], stdin=(repo / "shop" / "app.yaml").read_bytes()
    )
    assert code == 1
    alone = sorted((f["rule"], f["path"], f["line"], f["column"]) for f in json.loads(output)["findings"])
    assert alone == [("NP101", "-", 4, 18), ("NP102", "-", 4, 18)]
    # ...named in the repository, shop/deny.yaml beside it isolates the namespace.
    assert _lint("shop/app.yaml") == []


def test_a_named_file_is_the_same_file_however_it_is_spelled(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _lint("./shop/../shop/web.yaml") == SHOP_WEB
    assert _lint(str(repo / "shop" / "web.yaml")) == SHOP_WEB
    monkeypatch.chdir(repo / "shop")
    # From a subdirectory: same root, same context, same display.
    assert _lint("web.yaml") == SHOP_WEB
    assert _lint("app.yaml") == []
    monkeypatch.chdir(repo.parent)
    assert _lint("repo/shop/web.yaml", "repo/shop/app.yaml") == SHOP_WEB


def test_a_file_named_through_a_link_reports_its_findings(repo: Path) -> None:
    (repo / "link.yaml").symlink_to("shop/web.yaml")
    # One file reached by two names is linted once, under the name without a link.
    assert _lint("link.yaml") == [("NP104", "shop/web.yaml", 6, 3)]
    assert _lint("shop/web.yaml") == [("NP104", "shop/web.yaml", 6, 3)]


def test_roots_decide_where_the_context_comes_from(repo: Path) -> None:
    # With the inventory taken from bundle/ only, shop/app.yaml's namespace has no default-deny.
    (repo / ".nplint.yaml").write_text("cni: calico\nroots: [bundle]\n")
    assert _lint("shop/app.yaml") == [("NP101", "shop/app.yaml", 4, 18), ("NP102", "shop/app.yaml", 4, 18)]
    # And the bundle, the context, is still not reported on.
    assert _lint("shop/app.yaml", "shop/web.yaml") == sorted(
        [("NP101", "shop/app.yaml", 4, 18), ("NP102", "shop/app.yaml", 4, 18), *SHOP_WEB]
    )


def test_named_files_outside_a_repository_take_their_folder_as_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = tmp_path / "plain"
    shutil.copytree(REPO, copy)  # no .git
    monkeypatch.chdir(tmp_path)
    # The root is shop/ (paths are shown from it): deny.yaml is context, the bundle is not read.
    assert _lint("plain/shop/app.yaml", "plain/shop/web.yaml") == [("NP104", "web.yaml", 6, 3)]
    monkeypatch.chdir(copy / "shop")
    assert _lint("app.yaml", "web.yaml") == [("NP104", "web.yaml", 6, 3)]
    # Named from the top, the root is the top, and the bundle is context again, not reported.
    monkeypatch.chdir(copy)
    assert _lint("shop/app.yaml", "shop/web.yaml", "bundle/one.yaml") == SHOP_WEB
