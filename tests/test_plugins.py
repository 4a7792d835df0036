"""Plugins: a real package installed from tests/plugin_example adds a rule that shows in the output."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import REPO, TESTS
from nplint.plugins import hookspecs

POLICY = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: default-deny
  namespace: shop
spec:
  podSelector: {}
"""


def _nplint(
    args: list[str], cwd: Path, pythonpath: Path, autoload: bool = True
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(pythonpath), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.pop("NPLINT_DISABLE_PLUGIN_AUTOLOAD", None)
    if not autoload:
        env["NPLINT_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "nplint", *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )


@pytest.fixture(scope="module")
def installed_plugin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(target),
            str(TESTS / "plugin_example"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0 and "hatchling" in result.stderr:
        pytest.skip("hatchling is not installed, so the example plugin cannot be built offline")
    assert result.returncode == 0, result.stderr
    return target


def test_plugin_rule_appears_in_text_and_sarif(installed_plugin: Path, tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "policy.yaml").write_text(POLICY)
    text = _nplint(["--select", "NP990", "."], tmp_path, installed_plugin)
    assert text.returncode == 1, text.stderr
    assert text.stdout.splitlines()[0] == (
        "policy.yaml:4:9: NP990 [policy-team-label] this policy has no `team` label; "
        "add `metadata.labels.team: <owner>`"
    )
    sarif = _nplint(["--select", "NP990", "--format", "sarif", "."], tmp_path, installed_plugin)
    log = json.loads(sarif.stdout)
    rules = log["runs"][0]["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == ["NP990"]
    assert log["runs"][0]["results"][0]["ruleId"] == "NP990"
    listed = _nplint(["rules", "--format", "json"], tmp_path, installed_plugin)
    assert "NP990" in {r["id"] for r in json.loads(listed.stdout)}


def test_autoload_can_be_disabled(installed_plugin: Path, tmp_path: Path) -> None:
    listed = _nplint(["rules", "--format", "json"], tmp_path, installed_plugin, autoload=False)
    assert "NP990" not in {r["id"] for r in json.loads(listed.stdout)}


def test_broken_plugin_exits_2_naming_it(tmp_path: Path) -> None:
    site = tmp_path / "site"
    dist = site / "broken_plugin-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[nplint]\nbroken = module_that_does_not_exist.plugin\n")
    result = _nplint(["rules"], tmp_path, site)
    assert result.returncode == 2
    assert "plugin 'broken' failed to load" in result.stderr
    assert "Traceback" not in result.stderr


def test_every_hookspec_is_documented() -> None:
    """Each hook has a docstring and is named in the README's plugin section."""
    readme = (REPO / "README.md").read_text()
    source = ast.parse(Path(hookspecs.__file__).read_text())
    names = [node.name for node in source.body if isinstance(node, ast.FunctionDef)]
    assert names, "no hookspecs found"
    for name in names:
        function = getattr(hookspecs, name)
        assert function.__doc__ and function.__doc__.strip(), f"{name} has no docstring"
        assert re.search(rf"`{name}\b", readme), f"{name} is not documented in README.md"


def test_a_plugin_loader_is_asked_first_and_the_built_in_one_answers_what_it_declines(tmp_path: Path) -> None:
    from nplint.config import Config
    from nplint.findings import FILE_START
    from nplint.loading import LoadedFile, Problem
    from nplint.plugins import hookimpl
    from nplint.plugins.manager import PluginManager

    asked: list[str] = []

    class Loader:
        @hookimpl
        def nplint_load_documents(self, path: str, text: str, config: Config) -> LoadedFile | None:
            asked.append(path)
            if path.endswith("mine.yaml"):
                loaded = LoadedFile(path)
                loaded.problems.append(Problem(FILE_START, "read by the plugin"))
                return loaded
            return None

    manager = PluginManager(autoload=False)
    manager.register(Loader(), name="test-loader")
    config = Config(root=tmp_path)
    mine = manager.load_documents("mine.yaml", POLICY, config)
    theirs = manager.load_documents("theirs.yaml", POLICY, config)
    assert asked == ["mine.yaml", "theirs.yaml"]
    assert [p.message for p in mine.problems] == ["read by the plugin"] and not mine.documents
    assert theirs.problems == [] and len(theirs.documents) == 1
