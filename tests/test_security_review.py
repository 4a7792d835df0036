"""Red-team review of the security work: each attack a small hostile repository, run through the real CLI.

Every test builds the repository in ``tmp_path / "repo"`` and runs ``python -m nplint``
(or the Action's module) in a fresh process, so what it checks is what a CI log, a
terminal or the runner's files really receive.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

#: A folder name that would start a workflow command on a line of its own and clear the terminal.
HOSTILE_FOLDER = "team\n::warning::forged\x1b[2J"

NAMESPACE = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n"


def _nplint(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "NPLINT_DISABLE_PLUGIN_AUTOLOAD": "1", **(env or {})}
    return subprocess.run(
        [sys.executable, "-I", "-m", "nplint", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        errors="surrogateescape",
        timeout=120,
        check=False,
    )


def _repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    return repo


def _no_line_from_the_repository(stream: str) -> None:
    """Every line is nplint's own: nothing the repository wrote starts one, no control character."""
    for line in stream.splitlines():
        assert line.startswith("nplint: "), line
    assert "\x1b" not in stream and "\r" not in stream


def test_configuration_error_names_a_hostile_folder_on_one_escaped_line(tmp_path: Path) -> None:
    # A pre-commit run passes the repository's file names; the nearest configuration is
    # found in the file's folder, and its error message names that folder.
    repo = _repo(tmp_path)
    folder = repo / HOSTILE_FOLDER
    folder.mkdir()
    (folder / "ns.yaml").write_text(NAMESPACE)
    (folder / ".nplint.yaml").write_text('selec: [NP101]\n"k\\e[31m\\n::error::x": 1\n')
    done = _nplint("check", "--render=never", "--", f"{HOSTILE_FOLDER}/ns.yaml", cwd=repo)
    assert done.returncode == 2
    _no_line_from_the_repository(done.stderr)
    assert "::warning::forged" not in "".join(line[:40] for line in done.stderr.splitlines())
    lines = done.stderr.splitlines()
    assert len(lines) == 2
    assert all("team\\n::warning::forged\\x1b[2J/.nplint.yaml: key " in line for line in lines)
    assert "unknown key (did you mean 'select'?)" in lines[1]


def test_configuration_yaml_error_names_a_hostile_folder_on_one_escaped_line(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    folder = repo / HOSTILE_FOLDER
    folder.mkdir()
    (folder / "ns.yaml").write_text(NAMESPACE)
    (folder / ".nplint.yaml").write_text("a: [\n")
    done = _nplint("check", "--render=never", "--", f"{HOSTILE_FOLDER}/ns.yaml", cwd=repo)
    assert done.returncode == 2
    _no_line_from_the_repository(done.stderr)
    assert done.stderr.splitlines() == [
        f"nplint: error: {repo}/team\\n::warning::forged\\x1b[2J/.nplint.yaml:2:1: "
        "not valid YAML: did not find expected node content (while parsing a flow node)"
    ]
