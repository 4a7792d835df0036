"""The pre-commit hooks, run by the real `pre-commit try-repo` against a throw-away repository."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import REPO
from nplint.loading import load_text

BAD = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: allow-frontend
  namespace: shop
spec:
  podSelector:
  ingress:
  - from:
    - podSelector: {matchLabels: {app: frontend}}
"""

GOOD = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: default-deny
  namespace: shop
spec:
  podSelector: {}
  policyTypes: [Ingress]
"""

LOCKDOWN = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: default-deny
  namespace: shop
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
  egress:
  - to:
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}
      podSelector: {matchLabels: {k8s-app: kube-dns}}
    ports:
    - {protocol: UDP, port: 53}
    - {protocol: TCP, port: 53}
"""

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: nginx}]
"""


def _hooks() -> list[dict[str, object]]:
    loaded = load_text(".pre-commit-hooks.yaml", (REPO / ".pre-commit-hooks.yaml").read_text())
    root = loaded.documents[0].root
    assert root is not None and not loaded.problems
    data = root.to_python()
    assert isinstance(data, list)
    return data


def test_hook_definitions() -> None:
    hooks = {h["id"]: h for h in _hooks()}
    assert hooks["nplint"]["language"] == "python"
    assert hooks["nplint"]["types_or"] == ["yaml", "json"]
    assert hooks["nplint"]["require_serial"] is True
    assert hooks["nplint-repo"]["pass_filenames"] is False
    for hook in hooks.values():
        # File names come after "--", and nothing is rendered unless the user's entry says so.
        words = str(hook["entry"]).split()
        assert words[:3] == ["nplint", "check", "--render=never"]
        assert "--" in words and all(word.startswith("--") for word in words[2 : words.index("--")])
    # The fixing hook rewrites the staged files: `--fix` before the "--" (ruff's hook takes `args: [--fix]`).
    fix_words = str(hooks["nplint-fix"]["entry"]).split()
    assert fix_words.index("--fix") < fix_words.index("--")


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


@pytest.fixture(scope="module")
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    try:
        import pre_commit  # noqa: F401
    except ImportError:
        pytest.skip("pre-commit is not installed (it is part of the test extra)")
    return tmp_path_factory.mktemp("pre-commit-home")


def _source_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A git copy of this checkout, so try-repo sees the working tree as committed."""
    source = tmp_path_factory.mktemp("nplint-src")
    ignore = shutil.ignore_patterns(".git", ".ci-venv", ".venv", "__pycache__", "*.egg-info", ".*_cache")
    shutil.copytree(REPO, source, dirs_exist_ok=True, ignore=ignore)
    _git(source, "init", "-q")
    _git(source, "add", "-A")
    _git(source, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "snapshot")
    return source


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory, pre_commit_home: Path) -> Path:
    return _source_repo(tmp_path_factory)


def _try_repo(
    source: Path, hook: str, repo: Path, home: Path, *extra: str, path: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PRE_COMMIT_HOME"] = str(home)
    if path is not None:
        env["PATH"] = path
    env.pop("NPLINT_DISABLE_PLUGIN_AUTOLOAD", None)
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", "try-repo", str(source), hook, "--verbose", *extra],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def _work_repo(tmp_path: Path, files: dict[str, str]) -> Path:
    repo = tmp_path / "work"
    repo.mkdir()
    _git(repo, "init", "-q")
    for name, text in files.items():
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    _git(repo, "add", "-A")
    return repo


def test_hook_fails_on_bad_and_passes_on_good(source: Path, pre_commit_home: Path, tmp_path: Path) -> None:
    repo = _work_repo(tmp_path, {"bad.yaml": BAD})
    result = _try_repo(source, "nplint", repo, pre_commit_home, "--all-files")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "bad.yaml:7:3: NP204 [implicit-pod-selector]" in result.stdout
    (repo / "bad.yaml").write_text(GOOD)
    _git(repo, "add", "-A")
    result = _try_repo(source, "nplint", repo, pre_commit_home, "--all-files")
    assert result.returncode == 0, result.stdout + result.stderr


def test_hook_judges_one_file_with_the_whole_repository(
    source: Path, pre_commit_home: Path, tmp_path: Path
) -> None:
    """The default-deny lives in another file: editing the workload must not raise NP101."""
    repo = _work_repo(tmp_path, {"deploy/web.yaml": DEPLOYMENT, "deploy/policy.yaml": LOCKDOWN})
    result = _try_repo(source, "nplint", repo, pre_commit_home, "--files", "deploy/web.yaml")
    assert "NP101" not in result.stdout, result.stdout
    assert result.returncode == 0, result.stdout + result.stderr


def test_repo_hook_lints_everything(source: Path, pre_commit_home: Path, tmp_path: Path) -> None:
    repo = _work_repo(tmp_path, {"a/bad.yaml": BAD, "b/web.yaml": DEPLOYMENT})
    result = _try_repo(source, "nplint-repo", repo, pre_commit_home, "--all-files")
    assert result.returncode == 1
    assert "a/bad.yaml:7:3: NP204" in result.stdout
    # The null podSelector isolates every pod of shop for ingress, but nothing isolates egress.
    assert "b/web.yaml:4:9: NP102" in result.stdout


def test_file_named_like_an_option_is_linted_as_a_file(
    source: Path, pre_commit_home: Path, tmp_path: Path
) -> None:
    """A committed `--write-baseline=bl.yaml` must not turn the hook green by writing a baseline."""
    repo = _work_repo(tmp_path, {"bad.yaml": BAD, "--write-baseline=bl.yaml": GOOD})
    result = _try_repo(source, "nplint", repo, pre_commit_home, "--all-files")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "bad.yaml:7:3: NP204 [implicit-pod-selector]" in result.stdout
    assert not (repo / "bl.yaml").exists()


def test_hook_does_not_render(source: Path, pre_commit_home: Path, tmp_path: Path) -> None:
    calls = tmp_path / "calls"
    fake = tmp_path / "bin"
    fake.mkdir()
    for program in ("helm", "kustomize", "kubectl"):
        script = fake / program
        script.write_text(f'#!/bin/sh\necho {program} >> "{calls}"\n')
        script.chmod(0o755)
    repo = _work_repo(
        tmp_path, {"app/kustomization.yaml": "resources: [policy.yaml]\n", "app/policy.yaml": GOOD}
    )
    env_path = f"{fake}{os.pathsep}{os.environ['PATH']}"
    result = _try_repo(source, "nplint-repo", repo, pre_commit_home, "--all-files", path=env_path)
    assert not calls.exists(), result.stdout
    assert "NP005" in result.stdout
