"""Red-team review of the security work: each attack a small hostile repository, run through the real CLI.

Every test builds the repository in ``tmp_path / "repo"`` and runs ``python -m nplint``
(or the Action's module) in a fresh process, so what it checks is what a CI log, a
terminal or the runner's files really receive.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import lint_paths

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


# -- git in `nplint diff` --------------------------------------------------------------------

#: A `git` a pull request commits: it leaves a marker, then does what git would.
_HOSTILE_GIT = '#!/bin/sh\necho ran > "{marker}"\nexec {git} "$@"\n'


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def _repo_with_own_git(tmp_path: Path) -> tuple[Path, Path, str]:
    """A repository of two commits, the second adding ``bin/git`` and ``node_modules/.bin/git``."""
    repo = _repo(tmp_path)
    (repo / "ns.yaml").write_text(NAMESPACE)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "base")
    base = _git(repo, "rev-parse", "HEAD")
    marker = tmp_path / "git-ran"
    real_git = subprocess.run(["sh", "-c", "command -v git"], capture_output=True, text=True).stdout.strip()
    for folder in ("bin", "node_modules/.bin"):
        (repo / folder).mkdir(parents=True)
        (repo / folder / "git").write_text(_HOSTILE_GIT.format(marker=marker, git=real_git))
        (repo / folder / "git").chmod(0o755)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "head")
    return repo, marker, base


def test_diff_never_runs_a_git_of_the_repository_through_a_relative_path_entry(tmp_path: Path) -> None:
    repo, marker, base = _repo_with_own_git(tmp_path)
    for entry in ("bin", "node_modules/.bin", ""):
        path = f"{entry}{os.pathsep}{os.environ['PATH']}"
        done = _nplint("diff", base, "--format", "json", cwd=repo, env={"PATH": path})
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["base"] == base
        assert not marker.exists(), entry


def test_diff_refuses_a_git_of_the_repository_on_an_absolute_path_entry(tmp_path: Path) -> None:
    repo, marker, base = _repo_with_own_git(tmp_path)
    path = f"{repo / 'bin'}{os.pathsep}{os.environ['PATH']}"
    done = _nplint("diff", base, cwd=repo, env={"PATH": path})
    assert done.returncode == 2
    assert done.stderr == (
        f"nplint: error: the git found on PATH ({repo / 'bin' / 'git'}) is inside the repository; "
        "it is not run\n"
    )
    assert not marker.exists()


def test_action_summary_never_runs_the_pull_requests_git(tmp_path: Path) -> None:
    from test_action import _run_action

    repo, marker, base = _repo_with_own_git(tmp_path)
    event = {"_name": "pull_request", "pull_request": {"base": {"sha": base}}}
    # A job that put the project's tools on PATH relatively, as `npm` scripts do.
    path = f"bin{os.pathsep}{os.path.dirname(sys.executable)}{os.pathsep}{os.environ['PATH']}"
    run = _run_action(repo, tmp_path, {}, event, extra_env={"PATH": path})
    assert "## nplint: connectivity changes" in run["summary"], run["summary"]
    assert run["steps"]["nplint"]["exit-code"] == "0"
    assert not marker.exists()


# -- output files behind a committed folder link -----------------------------------------------


def test_output_files_never_go_through_a_committed_folder_link(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    (repo / "ns.yaml").write_text(NAMESPACE)
    outside = tmp_path / "outside"
    outside.mkdir()
    (repo / "reports").symlink_to(outside)
    (repo / "nested").mkdir()
    (repo / "nested" / "up").symlink_to("../../outside")
    runs = [
        ("reports/nplint.sarif", ("check", "--render=never", "--format", "sarif=reports/nplint.sarif", ".")),
        ("nested/up/nplint.txt", ("check", "--render=never", "--output", "nested/up/nplint.txt", ".")),
        (
            "reports/baseline.json",
            ("check", "--render=never", "--write-baseline", "reports/baseline.json", "."),
        ),
        ("reports/matrix.txt", ("reach", "--render=never", "--output", "reports/matrix.txt", ".")),
    ]
    for target, args in runs:
        done = _nplint(*args, cwd=repo)
        assert done.returncode == 2, args
        assert done.stderr.endswith(
            f"nplint: error: cannot write {target}: its folder is a symbolic link leading outside "
            f"the repository {repo.resolve()}\n"
        ), done.stderr
    assert list(outside.iterdir()) == []


def test_output_files_in_real_folders_and_outside_the_repository_are_written(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    (repo / "ns.yaml").write_text(NAMESPACE)
    (repo / "reports").mkdir()
    (repo / "inside").symlink_to("reports")
    elsewhere = tmp_path / "runner_temp"
    elsewhere.mkdir()
    done = _nplint(
        "check",
        "--render=never",
        "--format",
        "sarif=inside/nplint.sarif",
        "--format",
        f"json={elsewhere / 'nplint.json'}",
        ".",
        cwd=repo,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads((repo / "reports" / "nplint.sarif").read_text())["version"] == "2.1.0"
    assert json.loads((elsewhere / "nplint.json").read_text())["findings"] == []


# -- links into .git ---------------------------------------------------------------------------

GIT_CONFIG_WITH_TOKEN = '[http "https://github.com/"]\n\textraheader = AUTHORIZATION: basic ghs_SECRET\n'
#: What a file in .git could hold that parses: a policy whose label carries the token.
SECRET_POLICY = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: leak
  labels:
    token: "AUTHORIZATION: basic ghs_SECRET"
spec:
  podSelector: {}
"""


def test_links_into_git_are_never_read(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    with (repo / ".git" / "config").open("a") as config:
        config.write(GIT_CONFIG_WITH_TOKEN)
    (repo / ".git" / "leak.yaml").write_text(SECRET_POLICY)
    (repo / "ns.yaml").write_text(NAMESPACE)
    (repo / "config.yaml").symlink_to(".git/config")
    (repo / "policy.yaml").symlink_to(".git/leak.yaml")
    (repo / "gitdir").symlink_to(".git")
    (repo / "sub").mkdir()
    (repo / "sub" / "up.yaml").symlink_to("../gitdir/leak.yaml")
    for paths in (["."], ["--", "policy.yaml", "config.yaml", "gitdir/leak.yaml", "sub/up.yaml", "ns.yaml"]):
        for fmt in ("text", "json", "sarif", "github", "markdown"):
            done = _nplint("check", "--render=never", "--format", fmt, "--fail-on", "note", *paths, cwd=repo)
            assert done.returncode == 0, (paths, fmt, done.stdout, done.stderr)
            assert "SECRET" not in done.stdout + done.stderr
            assert "leak" not in done.stdout
    text = _nplint("check", "--render=never", "--fail-on", "note", ".", cwd=repo).stdout
    assert text == "No problems found in 1 file.\n"
    reach = _nplint("reach", "--render=never", "--format", "json", ".", cwd=repo)
    assert reach.returncode == 0 and "leak" not in reach.stdout and "SECRET" not in reach.stdout


# -- rule options from the repository's configuration -----------------------------------------


def test_rule_options_of_the_wrong_shape_are_configuration_errors(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    (repo / "ns.yaml").write_text(NAMESPACE)
    cases = {
        "rules: {NP306: {addresses: 5}}": "key 'rules.NP306.addresses': must be a list",
        "rules: {NP403: {ignore-ports: [a]}}": (
            "key 'rules.NP403.ignore-ports': must be a list of whole numbers"
        ),
        "rules: {NP203: {port-restricted: 1}}": "key 'rules.NP203.port-restricted': must be true or false",
        "rules: {NP306: {portz: [1]}}": (
            "key 'rules.NP306.portz': NP306 has no such option (options: level, addresses, ports)"
        ),
        'rules: {NP306: {"x\\e[2J\\n::error::y": 1}}': (
            "key 'rules.NP306.x\\x1b[2J\\n::error::y': NP306 has no"
        ),
    }
    for setting, message in cases.items():
        (repo / ".nplint.yaml").write_text(setting + "\n")
        done = _nplint("check", "--render=never", ".", cwd=repo)
        assert done.returncode == 2, setting
        assert done.stdout == ""
        assert done.stderr.startswith(f"nplint: error: {repo.resolve() / '.nplint.yaml'}: {message}"), (
            done.stderr
        )
        assert "internal error" not in done.stderr
        _no_line_from_the_repository(done.stderr)


def test_rule_options_of_the_right_shape_still_apply(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    (repo / "ns.yaml").write_text(NAMESPACE)
    (repo / ".nplint.yaml").write_text(
        "rules: {NP203: {port-restricted: true, level: error}, NP403: {ignore-ports: [8080]}}\n"
    )
    done = _nplint("check", "--render=never", ".", cwd=repo)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "No problems found in 1 file.\n"


# -- files nested past Python's recursion limit ----------------------------------------------


def _deep(prefix: str) -> str:
    return prefix + "[" * 100_000 + "]" * 100_000 + "\n"


def test_configuration_and_baseline_nested_too_deeply_are_clear_errors(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    (repo / "ns.yaml").write_text(NAMESPACE)
    # A pyproject.toml without an nplint table says nothing to nplint, however it is written.
    (repo / "pyproject.toml").write_text(_deep("[tool.other]\nx = "))
    done = _nplint("check", "--render=never", ".", cwd=repo)
    assert (done.returncode, done.stdout, done.stderr) == (0, "No problems found in 1 file.\n", "")
    (repo / ".nplint.toml").write_text(_deep("select = "))
    done = _nplint("check", "--render=never", ".", cwd=repo)
    assert done.returncode == 2
    assert done.stderr == f"nplint: error: {repo.resolve() / '.nplint.toml'}: not read: nested too deeply\n"
    (repo / ".nplint.toml").unlink()
    (repo / "baseline.txt").write_text(_deep(""))
    done = _nplint("check", "--render=never", "--baseline", "baseline.txt", ".", cwd=repo)
    assert done.returncode == 2
    assert done.stderr == "nplint: error: baseline.txt: not a readable nplint baseline: nested too deeply\n"


# -- reach: probe errors quote the repository's names ------------------------------------------

HOSTILE_WORKLOAD = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: "web\\e]0;pwn\\a", namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx}]}
"""


def test_reach_probe_errors_show_the_repositorys_names_escaped(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    (repo / "app.yaml").write_text(HOSTILE_WORKLOAD)
    (repo / "probes.yaml").write_text(
        'probes:\n- {from: "shop/nope", to: "shop/web\\e]0;pwn\\a", port: 80, expect: deny}\n'
    )
    done = _nplint("reach", "--render=never", "--probes", "probes.yaml", ".", cwd=repo)
    assert done.returncode == 2
    assert done.stdout == ""
    # The hint names the workload the repository defined: escaped, like everywhere else.
    assert done.stderr == (
        "nplint: error: probes.yaml:2: unknown endpoint 'shop/nope'; did you mean shop/web\\x1b]0;pwn\\x07?\n"
    )
    (repo / "app.yaml").write_text(HOSTILE_WORKLOAD.replace("namespace: shop", 'namespace: "shop\\e[2J"'))
    done = _nplint("reach", "--render=never", "--namespace", "shop", ".", cwd=repo)
    assert done.returncode == 2
    assert done.stderr == "nplint: error: no workload in namespace 'shop'; did you mean shop\\x1b[2J?\n"


# -- the Action's paths input holding the pull request's file names --------------------------


def test_action_paths_with_a_lone_quote_is_an_input_error_not_a_traceback(tmp_path: Path) -> None:
    from test_action import _run_action

    repo = _repo(tmp_path)
    (repo / "ns.yaml").write_text(NAMESPACE)
    (repo / "it's.yaml").write_text(NAMESPACE)
    # A workflow that lints the changed files hands their names over as they are.
    run = _run_action(repo, tmp_path, {"paths": "it's.yaml ns.yaml"}, {"_name": "push"})
    step = run["results"]["Run nplint"]
    assert "Traceback" not in step.stderr
    assert step.stderr == (
        "nplint: error: input 'paths' cannot be split into file names (No closing quotation); "
        'quote a name holding a quote or a space, e.g. "it\'s.yaml"\n'
    )
    assert run["steps"]["nplint"] == {"exit-code": "2", "findings": "0"}
    assert run["results"]["Fail on findings"].returncode == 2
    # Quoted, the same names are linted.
    quoted = _run_action(repo, tmp_path, {"paths": '"it\'s.yaml" ns.yaml'}, {"_name": "push"})
    assert quoted["steps"]["nplint"]["exit-code"] == "0", quoted["results"]["Run nplint"].stderr
    assert quoted["results"]["Fail on findings"].returncode == 0


# -- helm splits --values at commas ------------------------------------------------------------


def test_a_values_file_with_a_comma_in_its_path_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from test_security_render import _calls, _chart, _fake, _np005, _only_fakes_on_path

    repo = tmp_path / "repo"
    _chart(repo, "shop")
    # To helm, `--values=/x/a,b.yaml` names `/x/a` and `b.yaml`: files nplint never checked.
    (repo / "a,b.yaml").write_text("replicas: 2\n")
    (repo / "a").write_text("replicas: 3\n")
    _fake(tmp_path, "helm")
    _only_fakes_on_path(tmp_path, monkeypatch)
    values = str(repo / "a,b.yaml")
    result = lint_paths(["."], root=repo, select=["NP005"], extra={"helm-values": [values]})
    assert _calls(tmp_path) == []
    [(path, message)] = _np005(result)
    assert path == "shop/Chart.yaml"
    assert f"(the values file {values} has a comma in its path, which helm splits on)" in message


# -- paths the configuration names that lead into .git ------------------------------------------


@pytest.mark.parametrize(
    ("setting", "shown"),
    [
        ("roots: [.git]", "key 'roots': '.git'"),
        ("roots: [gitdir/refs]", "key 'roots': 'gitdir/refs'"),
        ("expect: .git/probes.yaml", "key 'expect': '.git/probes.yaml'"),
        ("expect: gitdir/probes.yaml", "key 'expect': 'gitdir/probes.yaml'"),
        ("helm-values: [.git/config]", "key 'helm-values': '.git/config'"),
    ],
)
def test_configuration_paths_into_git_are_refused(tmp_path: Path, setting: str, shown: str) -> None:
    repo = _repo(tmp_path)
    (repo / ".git" / "probes.yaml").write_text("extraheader: AUTHORIZATION basic ghs_SECRET\n")
    (repo / "gitdir").symlink_to(".git")
    (repo / "ns.yaml").write_text(NAMESPACE)
    (repo / ".nplint.yaml").write_text(setting + "\n")
    done = _nplint("check", "--render=never", "--", "ns.yaml", cwd=repo)
    assert done.returncode == 2
    assert done.stdout == ""
    where = repo.resolve() / ".nplint.yaml"
    assert done.stderr == f"nplint: error: {where}: {shown} is inside .git, which nplint never reads\n"


# -- the job summary's size ----------------------------------------------------------------


def _many_policies(count: int) -> str:
    return "---\n".join(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
        f"metadata: {{name: BAD_{index}_{'x' * 150}, namespace: a}}\nspec: {{podSelector: {{}}}}\n"
        for index in range(count)
    )


def test_a_pull_request_cannot_grow_the_job_summary_past_what_github_shows(tmp_path: Path) -> None:
    from test_action import _run_action

    repo = _repo(tmp_path)
    (repo / "ns.yaml").write_text(NAMESPACE)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "base")
    base = _git(repo, "rev-parse", "HEAD")
    # Hundreds of new findings: a comparison of several hundred KiB, which would push the
    # summary -- and with it the findings table -- past GitHub's 1 MiB.
    (repo / "many.yaml").write_text(_many_policies(900))
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "head")
    event = {"_name": "pull_request", "pull_request": {"base": {"sha": base}}}
    run = _run_action(repo, tmp_path, {}, event)
    summary = run["summary"]
    assert run["steps"]["nplint"]["exit-code"] == "1"
    assert len(summary.encode()) < 300 * 1024
    assert summary.startswith("## nplint\n") and "### Worst findings" in summary
    assert "## nplint: connectivity changes" in summary
    assert summary.rstrip().endswith(
        "_… cut here: the comparison is longer than 256 KiB, more than a job summary should hold; "
        "run `nplint diff` with the base commit to see all of it._"
    )
    assert summary.count("```") % 2 == 0


def test_a_cut_comparison_never_leaves_a_code_fence_open() -> None:
    from nplint.action import bounded_section

    text = (
        "## nplint: connectivity changes\n\nintro\n\n```mermaid\n" + "  n0 --> n1\n" * 100 + "```\n\n| a |\n"
    )
    cut = bounded_section(text, limit=200)
    assert cut.splitlines()[:4] == ["## nplint: connectivity changes", "", "intro", ""]
    assert "```" not in cut and "n0 --> n1" not in cut
    assert cut.endswith(
        "more than a job summary should hold; run `nplint diff` with the base commit to see all of it._\n"
    )
    assert bounded_section(text, limit=len(text)) == text


def test_action_sarif_file_in_a_workspace_folder_linked_to_the_runners_temp_is_written(
    tmp_path: Path,
) -> None:
    from test_action import _run_action

    repo = _repo(tmp_path)
    (repo / "ns.yaml").write_text(NAMESPACE)
    # The runner's temporary directory is the action's own place for the report; a folder
    # of the workspace leading there passes the action's check, and the write follows it.
    (tmp_path / "runner_temp" / "reports").mkdir(parents=True)
    (repo / "reports").symlink_to(tmp_path / "runner_temp" / "reports")
    run = _run_action(repo, tmp_path, {"sarif-file": "reports/nplint.sarif"}, {"_name": "push"})
    assert run["steps"]["nplint"]["exit-code"] == "0", run["results"]["Run nplint"].stderr
    assert run["steps"]["nplint"]["sarif-file"] == str(repo / "reports" / "nplint.sarif")
    report = json.loads((tmp_path / "runner_temp" / "reports" / "nplint.sarif").read_text())
    assert report["version"] == "2.1.0"


def test_output_folder_links_outside_any_repository_are_the_callers(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "ns.yaml").write_text(NAMESPACE)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (work / "reports").symlink_to(elsewhere)
    done = _nplint("check", "--render=never", "--output", "reports/out.txt", ".", cwd=work)
    assert done.returncode == 0, done.stderr
    assert (elsewhere / "out.txt").read_text() == "No problems found in 1 file.\n"
