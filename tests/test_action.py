"""The GitHub Action, run locally the way a runner runs it.

action.yml is read, each step's `env:` is filled in from the inputs the way the
runner evaluates expressions, and the step's `run:` script runs in bash with a
temporary GITHUB_OUTPUT, GITHUB_STEP_SUMMARY and event file.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from helpers import REPO
from nplint.loading import load_text

EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")

BAD = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: default-deny-egress
  namespace: shop
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
  - to:
    - podSelector: {matchLabels: {app: db}}
"""


def _action() -> dict[str, Any]:
    loaded = load_text("action.yml", (REPO / "action.yml").read_text())
    assert not loaded.problems
    root = loaded.documents[0].root
    assert root is not None
    data = root.to_python()
    assert isinstance(data, dict)
    return data


def _evaluate(text: str, inputs: dict[str, str], steps: dict[str, dict[str, str]]) -> str:
    def value(match: re.Match[str]) -> str:
        expression = match.group(1)
        if expression.startswith("inputs."):
            return inputs[expression.removeprefix("inputs.")]
        step = re.fullmatch(r"steps\.([\w-]+)\.outputs\.([\w-]+)", expression)
        if step:
            return steps.get(step.group(1), {}).get(step.group(2), "")
        raise AssertionError(f"unexpected expression {expression!r}")

    return EXPRESSION.sub(value, text)


def _read_outputs(path: Path) -> dict[str, str]:
    outputs = {}
    for line in path.read_text().splitlines():
        key, _, value = line.partition("=")
        outputs[key] = value
    return outputs


def _run_action(
    repo: Path,
    tmp: Path,
    overrides: dict[str, str],
    event: dict[str, Any],
    *,
    python_dir: Path | None = None,
    extra_env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Run the action's `run:` steps in ``repo``.

    Without ``python_dir`` the test's own interpreter (where nplint is installed)
    runs the steps and the install step is left out; with it, the ``python`` found
    there runs every step, the install step included.
    """
    action = _action()
    inputs = {name: str(spec.get("default", "")) for name, spec in action["inputs"].items()}
    inputs.update(overrides)
    output_file = tmp / "github_output"
    runner_temp = tmp / "runner_temp"
    runner_temp.mkdir(exist_ok=True)
    summary_file = tmp / "step_summary"
    event_file = tmp / "event.json"
    event_file.write_text(json.dumps(event))
    output_file.touch()
    summary_file.touch()
    steps: dict[str, dict[str, str]] = {}
    results: dict[str, subprocess.CompletedProcess[str]] = {}
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "NPLINT_"))}
    base_env.update(
        {
            "GITHUB_ACTIONS": "true",
            "GITHUB_WORKSPACE": str(repo),
            "GITHUB_ACTION_PATH": str(REPO),
            "GITHUB_EVENT_NAME": event.get("_name", "push"),
            "GITHUB_EVENT_PATH": str(event_file),
            "GITHUB_STEP_SUMMARY": str(summary_file),
            "RUNNER_TEMP": str(runner_temp),
            "PATH": str(python_dir or os.path.dirname(sys.executable))
            + os.pathsep
            + os.environ.get("PATH", ""),
            **(extra_env or {}),
        }
    )
    for step in action["runs"]["steps"]:
        if "run" not in step or (python_dir is None and step["name"] == "Install nplint"):
            # setup-python and upload-sarif are GitHub's; nplint is already installed here.
            continue
        condition = step.get("if", "")
        if condition and condition != "always()":
            raise AssertionError(f"unexpected condition {condition!r}")
        env = dict(base_env)
        env["GITHUB_OUTPUT"] = str(output_file)
        for key, value in (step.get("env") or {}).items():
            env[key] = _evaluate(str(value), inputs, steps)
        output_file.write_text("")
        result = subprocess.run(
            ["bash", "-e", "-c", step["run"]], cwd=repo, env=env, capture_output=True, text=True, check=False
        )
        results[step["name"]] = result
        if "id" in step:
            steps[step["id"]] = _read_outputs(output_file)
    return {
        "steps": steps,
        "results": results,
        "summary": summary_file.read_text(),
        "runner_temp": runner_temp,
    }


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / ".git").mkdir()
    return repo


def test_no_expression_inside_run_blocks() -> None:
    for step in _action()["runs"]["steps"]:
        if "run" in step:
            assert "${{" not in step["run"], f"step {step['name']!r} interpolates an expression in run:"
            assert step.get("shell") == "bash"


def test_inputs_reach_the_script_only_through_env() -> None:
    action = _action()
    run_step = next(s for s in action["runs"]["steps"] if s.get("id") == "nplint")
    names = {m.group(1) for v in run_step["env"].values() for m in EXPRESSION.finditer(str(v))}
    assert names == {
        f"inputs.{n}"
        for n in ("paths", "config", "fail-on", "sarif-file", "annotate", "summary", "render", "plugins")
    }


def test_every_python_runs_isolated_from_the_checkout() -> None:
    """The checkout is the working directory: `python -m` without -I would import from it."""
    for step in _action()["runs"]["steps"]:
        for line in str(step.get("run", "")).splitlines():
            if "python" in line and not line.lstrip().startswith("#"):
                assert "python -I -m " in line, line


def test_action_with_findings(repo: Path, tmp_path: Path) -> None:
    (repo / "policy.yaml").write_text(BAD)
    (repo / ".nplint.yaml").write_text("cni: calico\n")
    run = _run_action(repo, tmp_path, {}, {})
    outputs = run["steps"]["nplint"]
    sarif_path = run["runner_temp"] / "nplint.sarif"
    assert outputs == {"sarif-file": str(sarif_path), "findings": "1", "exit-code": "1"}
    # By default the report goes to the runner's temporary directory, not into the checkout.
    assert not (repo / "nplint.sarif").exists()
    sarif = json.loads(sarif_path.read_text())
    assert sarif["runs"][0]["results"][0]["ruleId"] == "NP301"
    assert run["results"]["Run nplint"].returncode == 0
    assert run["results"]["Run nplint"].stdout.startswith("::error file=policy.yaml,line=8,col=17,")
    assert run["results"]["Fail on findings"].returncode == 1
    summary = run["summary"]
    assert summary.startswith("## nplint\n\n**1 findings**")
    assert "| NP301 egress-blocks-dns | error | 1 |" in summary
    assert "| error | `policy.yaml:8` | NP301 |" in summary


def test_action_clean_and_inputs(repo: Path, tmp_path: Path) -> None:
    (repo / "manifests").mkdir()
    (repo / "manifests" / "policy.yaml").write_text(BAD)
    (repo / "other.yaml").write_text("kind: ConfigMap\n")
    run = _run_action(
        repo,
        tmp_path,
        {"paths": "other.yaml", "sarif-file": "out/report.sarif", "annotate": "false", "summary": "false"},
        {},
    )
    assert run["steps"]["nplint"] == {
        "sarif-file": str(repo / "out" / "report.sarif"),
        "findings": "0",
        "exit-code": "0",
    }
    assert (repo / "out" / "report.sarif").is_file()
    assert run["results"]["Run nplint"].stdout == ""
    assert run["summary"] == ""
    assert run["results"]["Fail on findings"].returncode == 0


def test_fail_on_input(repo: Path, tmp_path: Path) -> None:
    (repo / "policy.yaml").write_text(BAD)
    run = _run_action(repo, tmp_path, {"fail-on": "never"}, {})
    assert run["steps"]["nplint"]["exit-code"] == "0"
    assert run["results"]["Fail on findings"].returncode == 0


def test_broken_configuration_fails_the_job(repo: Path, tmp_path: Path) -> None:
    (repo / "policy.yaml").write_text(BAD)
    (repo / ".nplint.yaml").write_text("nonsense: 1\n")
    run = _run_action(repo, tmp_path, {}, {})
    assert run["steps"]["nplint"]["exit-code"] == "2"
    assert run["results"]["Fail on findings"].returncode == 2


def _git(repo: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


OPEN_DB = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: nginx}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: db, namespace: shop}
spec:
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers: [{name: db, image: postgres, ports: [{containerPort: 5432}]}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: nobody}}}]
"""


def test_pull_request_summary_shows_connectivity_change(repo: Path, tmp_path: Path) -> None:
    if subprocess.run(["git", "--version"], capture_output=True, check=False).returncode != 0:
        pytest.skip("git is not installed")
    shutil.rmtree(repo / ".git")
    _git(repo, "init", "-q")
    (repo / ".nplint.yaml").write_text("cni: calico\n")
    (repo / "app.yaml").write_text(OPEN_DB)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "base")
    base = _git(repo, "rev-parse", "HEAD")
    # The change lets web reach the database.
    (repo / "app.yaml").write_text(OPEN_DB.replace("app: nobody", "app: web"))
    _git(repo, "commit", "-q", "-am", "open db to web")
    event = {"_name": "pull_request", "pull_request": {"base": {"sha": base}}}
    run = _run_action(repo, tmp_path, {}, event)
    summary = run["summary"]
    assert "```mermaid" in summary, summary
    assert "shop/web" in summary and "shop/db" in summary
    assert "opened" in summary.lower()
    # A folder of the pull request named like the base commit does not stand in for it.
    (repo / base).mkdir()
    (repo / base / "notes.txt").write_text("not a manifest\n")
    again = _run_action(repo, tmp_path, {}, event)["summary"][len(summary) :]
    marker = "## nplint: connectivity changes"
    assert marker in again, again
    assert again[again.index(marker) :] == summary[summary.index(marker) :]


# -- a pull request that tries to run its own code -------------------------------------------

#: Python a pull request commits in the hope that the action imports it. Each writes a marker.
_HOSTILE_MODULE = "import pathlib\npathlib.Path({marker!r}).write_text('ran')\n"


def _hostile_workspace(repo: Path, markers: Path) -> dict[str, Path]:
    """The checkout of a pull request holding modules named like what the action imports."""
    places = {
        "shlex": repo / "shlex.py",
        "nplint": repo / "nplint" / "__init__.py",
        "pip": repo / "pip" / "__main__.py",
        "pip-init": repo / "pip" / "__init__.py",
        "plugin": repo / "evil_plugin.py",
    }
    for name, path in places.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_HOSTILE_MODULE.format(marker=str(markers / name)))
    # An installed-looking distribution whose entry points name the module above.
    info = repo / "x.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: x\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[nplint]\nevil = evil_plugin\n\n[console_scripts]\nnplint = evil_plugin:main\n"
    )
    return places


def _fresh_python(tmp_path: Path) -> Path:
    """A new virtual environment whose own site-packages is empty but can import this one's tools.

    The action's install step then really installs nplint (from this checkout) into it, with
    pip and the build backend of the test environment, and no network.
    """
    import sysconfig

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (Path(site) / "outer.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python.parent


@pytest.mark.skipif(sys.platform == "win32", reason="the action's steps are bash on Linux runners")
def test_exact_run_lines_import_nothing_from_the_workspace(repo: Path, tmp_path: Path) -> None:
    markers = tmp_path / "markers"
    markers.mkdir()
    places = _hostile_workspace(repo, markers)
    (repo / "policy.yaml").write_text(BAD)
    (repo / ".nplint.yaml").write_text("cni: calico\n")
    run = _run_action(
        repo,
        tmp_path,
        {"plugins": "true"},  # even with plugins on, the workspace's entry point is not installed
        {},
        python_dir=_fresh_python(tmp_path),
        extra_env={"PIP_NO_BUILD_ISOLATION": "0", "PIP_NO_INDEX": "1", "PIP_NO_DEPS": "1"},
    )
    results = run["results"]
    assert results["Install nplint"].returncode == 0, results["Install nplint"].stderr
    assert sorted(p.name for p in markers.iterdir()) == [], "code from the pull request ran"
    outputs = run["steps"]["nplint"]
    assert outputs["exit-code"] == "1", results["Run nplint"].stderr
    assert outputs["findings"] == "1"
    assert results["Run nplint"].stdout.startswith("::error file=policy.yaml,line=8,col=17,")
    assert results["Fail on findings"].returncode == 1
    # The hostile files are still there: nothing was skipped by accident.
    assert all(path.is_file() for path in places.values())


def test_workspace_modules_would_run_without_isolation(repo: Path, tmp_path: Path) -> None:
    """The check above can fail: the same workspace, `python -m` without -I, imports the PR's pip."""
    markers = tmp_path / "markers"
    markers.mkdir()
    _hostile_workspace(repo, markers)
    subprocess.run([sys.executable, "-m", "pip", "--version"], cwd=repo, capture_output=True, check=False)
    assert (markers / "pip").is_file()


def test_render_is_off_unless_the_workflow_asks(repo: Path, tmp_path: Path) -> None:
    fake = tmp_path / "bin"
    fake.mkdir()
    calls = tmp_path / "calls"
    for program in ("helm", "kustomize", "kubectl"):
        script = fake / program
        script.write_text(f'#!/bin/sh\necho {program} >> "{calls}"\n')
        script.chmod(0o755)
    (repo / "app").mkdir()
    (repo / "app" / "kustomization.yaml").write_text("resources: [policy.yaml]\n")
    (repo / "app" / "policy.yaml").write_text(BAD)
    # The repository's own configuration cannot turn rendering on.
    (repo / ".nplint.yaml").write_text("render: auto\n")
    extra = {"PATH": f"{fake}{os.pathsep}{os.path.dirname(sys.executable)}{os.pathsep}{os.environ['PATH']}"}
    run = _run_action(repo, tmp_path, {}, {}, extra_env=extra)
    assert run["steps"]["nplint"]["exit-code"] == "1", run["results"]["Run nplint"].stderr
    assert not calls.exists()
    stdout = run["results"]["Run nplint"].stdout
    assert "::notice file=app/kustomization.yaml,line=1,col=1," in stdout
    assert "title=NP005 not-rendered::" in stdout and "--render never" in stdout
    run = _run_action(repo, tmp_path, {"render": "bogus"}, {}, extra_env=extra)
    assert run["steps"]["nplint"]["exit-code"] == "2"


def test_sarif_file_through_a_committed_link_is_refused(repo: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (repo / "out").symlink_to(outside)
    (repo / "policy.yaml").write_text(BAD)
    run = _run_action(repo, tmp_path, {"sarif-file": "out/report.sarif"}, {})
    assert run["steps"]["nplint"]["exit-code"] == "2"
    assert "leads out of the workspace" in run["results"]["Run nplint"].stderr
    assert list(outside.iterdir()) == []


def test_paths_input_is_never_an_option(repo: Path, tmp_path: Path) -> None:
    (repo / "policy.yaml").write_text(BAD)
    run = _run_action(repo, tmp_path, {"paths": "--write-baseline=bl.yaml policy.yaml"}, {})
    assert not (repo / "bl.yaml").exists()
    # "--write-baseline=bl.yaml" is a path that does not exist: a usage error, not a green job.
    assert run["steps"]["nplint"]["exit-code"] == "2"
