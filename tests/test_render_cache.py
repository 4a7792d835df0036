"""The render cache: hits skip the program, any change of an input misses, a poisoned cache is ignored."""

from __future__ import annotations

import json
import os
import shutil
import stat
import sys
from pathlib import Path
from typing import Any

import pytest

from helpers import lint_paths
from nplint import render_cache
from nplint.render_cache import RenderCache, TreeHasher

POLICY = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: egress
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
  - to:
    - podSelector: {matchLabels: {app: db}}
"""


def _fake_kustomize(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A kustomize on PATH that logs each call and prints the plain files of the overlay's base.

    Enough of kustomize to see that what it prints follows the inputs: it prints
    every ``*.yaml`` of ``base/`` but the kustomization, in name order.
    """
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    log = tmp_path / "calls.jsonl"
    program = bin_dir / "kustomize"
    program.write_text(
        f"#!{sys.executable}\n"
        "import json, os, sys\n"
        f"open({str(log)!r}, 'a').write(json.dumps(sys.argv[1:]) + '\\n')\n"
        "if sys.argv[1:2] == ['version']:\n"
        "    print('v5.4.3'); sys.exit(0)\n"
        "base = os.path.join(sys.argv[-1], '..', 'base')\n"
        "for name in sorted(os.listdir(base)):\n"
        "    if name.endswith('.yaml') and name != 'kustomization.yaml':\n"
        "        sys.stdout.write('---\\n' + open(os.path.join(base, name)).read())\n"
    )
    program.chmod(program.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", str(bin_dir))
    return log


def _renders(log: Path) -> int:
    if not log.exists():
        return 0
    return sum(1 for line in log.read_text().splitlines() if json.loads(line)[:1] != ["version"])


def _tree(root: Path) -> Path:
    (root / "base").mkdir(parents=True)
    (root / "prod").mkdir()
    (root / "base" / "kustomization.yaml").write_text("resources: [policy.yaml]\n")
    (root / "base" / "policy.yaml").write_text(POLICY)
    (root / "prod" / "kustomization.yaml").write_text("resources: [../base]\n")
    return root


def _findings(root: Path, **extra: Any) -> list[tuple[str, int, str, str | None]]:
    result = lint_paths(["."], root=root, select=["NP301", "NP005"], extra=extra)
    return [(f.path, f.span.line, f.rule_id, f.object.name if f.object else None) for f in result.findings]


EXPECTED = [("base/policy.yaml", 7, "NP301", "egress")]


def test_unchanged_unit_is_not_rendered_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _tree(tmp_path / "repo")
    log = _fake_kustomize(tmp_path, monkeypatch)
    assert _findings(root) == EXPECTED
    assert _renders(log) == 1
    assert _findings(root) == EXPECTED
    assert _renders(log) == 1  # the second run used the cache
    cache = root / ".nplint_cache"
    assert (cache / ".gitignore").read_text().splitlines()[-1] == "*"
    assert len(list(cache.glob("*.render"))) == 1
    # The key is the user's, outside the repository, readable by the user alone.
    key = Path(os.environ["XDG_CACHE_HOME"]) / "nplint" / "key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600


@pytest.mark.parametrize("change", ["edit", "rename", "delete", "add", "program"])
def test_any_change_of_an_input_renders_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change: str
) -> None:
    root = _tree(tmp_path / "repo")
    log = _fake_kustomize(tmp_path, monkeypatch)
    (root / "base" / "other.yaml").write_text(POLICY.replace("name: egress", "name: other"))
    _findings(root)
    assert _renders(log) == 1
    other = root / "base" / "other.yaml"
    if change == "edit":
        other.write_text(POLICY.replace("name: egress", "name: changed"))
    elif change == "rename":
        other.rename(root / "base" / "renamed.yaml")
    elif change == "delete":
        other.unlink()
    elif change == "add":
        (root / "base" / "new.yaml").write_text(POLICY.replace("name: egress", "name: new"))
    else:  # another kustomize: same path, different content
        program = tmp_path / "bin" / "kustomize"
        program.write_text(program.read_text() + "\n# another build\n")
    result = lint_paths(["."], root=root, select=["NP301"])
    names = sorted(p.name for p in result.inventory.policies if p.path == "prod/kustomization.yaml")
    assert _renders(log) == 2
    expected = {
        "edit": ["changed", "egress"],
        "rename": ["egress", "other"],
        "delete": ["egress"],
        "add": ["egress", "new", "other"],
        "program": ["egress", "other"],
    }[change]
    assert names == expected


def test_poisoned_entry_is_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _tree(tmp_path / "repo")
    log = _fake_kustomize(tmp_path, monkeypatch)
    _findings(root)
    [entry] = (root / ".nplint_cache").glob("*.render")
    # A pull request commits the entry with other content (an Ingress-only policy, no finding),
    # keeping the authentication code of the real one.
    content = entry.read_bytes()
    forged = POLICY.replace("[Egress]", "[Ingress]").encode()
    entry.write_bytes(content[:32] + forged)
    assert _findings(root) == EXPECTED
    assert _renders(log) == 2
    # An entry authenticated with another key is no better.
    with RenderCache(str(root.resolve()), b"k" * 32) as foreign:
        foreign.put(entry.name.removesuffix(".render"), forged)
    assert _findings(root) == EXPECTED
    assert _renders(log) == 3


def test_symlinked_cache_directory_is_not_followed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _tree(tmp_path / "repo")
    log = _fake_kustomize(tmp_path, monkeypatch)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (root / ".nplint_cache").symlink_to(elsewhere, target_is_directory=True)
    assert _findings(root) == EXPECTED
    assert _findings(root) == EXPECTED
    assert _renders(log) == 2  # no cache: rendered every time
    assert list(elsewhere.iterdir()) == []  # and nothing written through the link


def test_symlinked_entry_is_not_followed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _tree(tmp_path / "repo")
    log = _fake_kustomize(tmp_path, monkeypatch)
    _findings(root)
    [entry] = (root / ".nplint_cache").glob("*.render")
    moved = tmp_path / "moved.render"
    entry.rename(moved)
    entry.symlink_to(moved)
    assert _findings(root) == EXPECTED
    assert _renders(log) == 2
    # The new entry replaced the link; the file it pointed at is untouched.
    assert not entry.is_symlink() and moved.is_file()


@pytest.mark.parametrize("how", ["config", "option"])
def test_cache_can_be_turned_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    root = _tree(tmp_path / "repo")
    log = _fake_kustomize(tmp_path, monkeypatch)
    if how == "config":
        for _ in range(2):
            assert _findings(root, cache=False) == EXPECTED
    else:
        from helpers import run_cli

        monkeypatch.chdir(root)
        for _ in range(2):
            code, out = run_cli(["check", "--no-cache", "--select", "NP301", "--format", "json", "."])
            assert code == 1 and '"NP301"' in out
    assert _renders(log) == 2
    assert not (root / ".nplint_cache").exists()


def test_repository_configuration_cannot_turn_the_cache_on_against_the_option(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from helpers import run_cli

    root = _tree(tmp_path / "repo")
    (root / ".nplint.toml").write_text("cache = true\n")
    log = _fake_kustomize(tmp_path, monkeypatch)
    monkeypatch.chdir(root)
    for _ in range(2):
        run_cli(["check", "--no-cache", "--select", "NP301", "."])
    assert _renders(log) == 2


def test_progress_line_on_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from helpers import run_cli

    root = _tree(tmp_path / "repo")
    _fake_kustomize(tmp_path, monkeypatch)
    monkeypatch.chdir(root)
    run_cli(["check", "--select", "NP301", "."])
    assert "nplint: rendering" not in capsys.readouterr().err  # not a terminal, not asked
    run_cli(["check", "--progress", "--select", "NP301", "."])
    assert capsys.readouterr().err.splitlines() == ["nplint: rendering 1/1: prod (cached)"]
    run_cli(["check", "--progress", "--no-cache", "--select", "NP301", "."])
    assert capsys.readouterr().err.splitlines() == ["nplint: rendering 1/1: prod (rendered)"]


def test_eviction_keeps_the_cache_bounded(tmp_path: Path) -> None:
    key = b"s" * 32
    with RenderCache(str(tmp_path), key, max_bytes=250) as cache:
        for number in range(5):
            cache.put(f"{number:064x}", bytes([number]) * 100)
            # mtimes of equal value would leave the order to the names; make it explicit.
            entry = tmp_path / ".nplint_cache" / f"{number:064x}.render"
            os.utime(entry, ns=(number * 10**9, number * 10**9))
    left = sorted(p.name[:64] for p in (tmp_path / ".nplint_cache").glob("*.render"))
    # 132 bytes an entry (a 32-byte code and 100 bytes): the newest one fits; the rest went.
    assert left == [f"{4:064x}"]
    with RenderCache(str(tmp_path), key) as cache:
        assert cache.get(f"{4:064x}", 1000) == bytes([4]) * 100
        assert cache.get(f"{3:064x}", 1000) is None
        assert cache.get(f"{4:064x}", 10) is None  # over the caller's bound


def test_key_inside_the_repository_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "repo" / "cache"))
    (tmp_path / "repo").mkdir()
    assert render_cache.user_key(str((tmp_path / "repo").resolve())) is None
    assert render_cache.user_key(str((tmp_path / "other").resolve())) is not None


def test_key_others_may_read_is_no_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    key = render_cache.user_key(str(tmp_path / "repo"))
    assert key is not None and len(key) == 32
    assert render_cache.user_key(str(tmp_path / "repo")) == key  # made once, then read
    (tmp_path / "cache" / "nplint" / "key").chmod(0o644)
    assert render_cache.user_key(str(tmp_path / "repo")) is None


def test_tree_digest_is_the_same_through_links_written_differently(tmp_path: Path) -> None:
    # The repository and its export write a link differently; the digest counts where it leads.
    for name, link in (("a", "../shared"), ("b", str(tmp_path / "b" / "shared"))):
        (tmp_path / name / "shared").mkdir(parents=True)
        (tmp_path / name / "shared" / "x.yaml").write_text("x: 1\n")
        (tmp_path / name / "chart").mkdir()
        (tmp_path / name / "chart" / "templates").symlink_to(link, target_is_directory=True)
    digests = [TreeHasher(str(tmp_path / n), file_limit=1 << 20).directory("chart") for n in "ab"]
    assert digests[0] == digests[1]
    (tmp_path / "b" / "shared" / "x.yaml").write_text("x: 2\n")
    assert TreeHasher(str(tmp_path / "b"), file_limit=1 << 20).directory("chart") != digests[0]


@pytest.mark.parametrize("command", ["reach", "diff"])
def test_reach_and_diff_take_the_render_options(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    from helpers import run_cli

    root = _tree(tmp_path / "repo")
    log = _fake_kustomize(tmp_path, monkeypatch)
    monkeypatch.chdir(root)
    other = tmp_path / "other"
    shutil.copytree(root, other)
    argv = (
        ["reach", "--no-cache", "--progress", "."]
        if command == "reach"
        else ["diff", "--no-cache", "--progress", str(other), str(root)]
    )
    run_cli(argv)
    err = capsys.readouterr().err.splitlines()
    assert [line for line in err if line.startswith("nplint: rendering")] == (
        ["nplint: rendering 1/1: prod (rendered)"] * (1 if command == "reach" else 2)
    )
    assert _renders(log) == (1 if command == "reach" else 2)
    assert not (root / ".nplint_cache").exists() and not (other / ".nplint_cache").exists()


def test_version_query_is_fenced_in_like_a_render(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _tree(tmp_path / "repo")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls.jsonl"
    program = bin_dir / "kustomize"
    program.write_text(
        f"#!{sys.executable}\n"
        "import json, os, sys\n"
        f"open({str(log)!r}, 'a').write(json.dumps([sys.argv[1:], dict(os.environ), os.getcwd()]) + '\\n')\n"
        f"print('v5') if sys.argv[1:2] == ['version'] else sys.stdout.write({POLICY!r})\n"
    )
    program.chmod(program.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setenv("GITHUB_TOKEN", "secret-token")
    monkeypatch.setenv("KUBECONFIG", "/home/someone/.kube/config")
    shutil.copytree(root / "prod", root / "staging")
    _findings(root)
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    versions = [call for call in calls if call[0] == ["version"]]
    assert len(versions) == 1  # asked once per run, whatever the number of renders
    assert len(calls) == 3  # and the two renders
    for _, env, cwd in calls:
        assert "GITHUB_TOKEN" not in env and "KUBECONFIG" not in env
        assert not cwd.startswith(str(root.resolve())) and env["HOME"] != os.environ.get("HOME")


def test_hashing_is_bounded_per_run(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "x.yaml").write_bytes(b"x" * 600)
    (tmp_path / "b" / "y.yaml").write_bytes(b"y" * 600)
    hasher = TreeHasher(str(tmp_path), file_limit=1 << 20, max_bytes=1000)
    hasher.directory("a")
    # The bound is for the whole run: the second directory passes it, and nothing depending on
    # it is cached.
    with pytest.raises(render_cache.TooMuchToHash):
        hasher.directory("b")
    with pytest.raises(render_cache.TooMuchToHash):
        TreeHasher(str(tmp_path), file_limit=1 << 20, max_entries=1).directories(["a", "b"])


def _recording_starts(monkeypatch: pytest.MonkeyPatch, events: list[str]) -> list[Any]:
    """Note each program started and each file loaded in ``events``; each (program, folder) started."""
    from nplint import lint, programs

    started: list[Any] = []
    real_start, real_read, real_discover = programs.start, lint.read_file, lint.discover

    def start(argv: Any, **kwargs: Any) -> Any:
        events.append("start " + " ".join(Path(argv[0]).name if i == 0 else a for i, a in enumerate(argv)))
        running = real_start(argv, **kwargs)
        started.append((running, kwargs["cwd"]))
        return running

    def read_file(*args: Any, **kwargs: Any) -> Any:
        events.append("load")
        return real_read(*args, **kwargs)

    def discover(*args: Any, **kwargs: Any) -> Any:
        found = real_discover(*args, **kwargs)
        events.append("discovered")
        return found

    monkeypatch.setattr(programs, "start", start)
    monkeypatch.setattr(lint, "read_file", read_file)
    monkeypatch.setattr(lint, "discover", discover)
    return started


def test_the_renderers_version_is_asked_while_the_walk_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _tree(tmp_path / "repo")
    log = _fake_kustomize(tmp_path, monkeypatch)
    assert _findings(root) == EXPECTED
    events: list[str] = []
    _recording_starts(monkeypatch, events)
    (root / "plain.yaml").write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n")  # to load
    assert _findings(root) == EXPECTED  # rendered from the cache, keyed with the version asked early
    assert _renders(log) == 1
    # kustomize says its version while nplint finds and loads the files: started as soon as
    # the walk meets a kustomization, before discovery is done, and once.
    assert events[0] == "start kustomize version"
    assert events.count("start kustomize version") == 1
    assert events.index("discovered") < events.index("load")


def test_a_version_asked_for_a_run_that_fails_is_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nplint import lint

    root = _tree(tmp_path / "repo")
    _fake_kustomize(tmp_path, monkeypatch)
    _findings(root)
    started = _recording_starts(monkeypatch, [])
    (root / "plain.yaml").write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n")  # to load

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt  # Ctrl-C while the files load

    monkeypatch.setattr(lint, "read_file", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _findings(root)
    [(running, folder)] = started
    assert running._process.returncode is not None  # ended and reaped, not left running
    assert not folder.exists()  # nor its folder left behind
