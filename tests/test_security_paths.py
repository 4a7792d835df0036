"""The repository is hostile: paths its configuration names, files nplint reads for it, rendering, diff.

Each test builds a small repository in ``tmp_path`` the way an attacker would
write it in a pull request and asserts the safe outcome: a configuration error
(exit 2) naming the key, the value and why; nothing rendered; no secret in any
output; nothing written outside; a bounded run where one used to hang.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from helpers import run_cli
from nplint.commands import revision, run_command
from nplint.config import RefusedFile, read_regular_file

SECRET = "SECRET-OUTSIDE-1f0c"

MANIFESTS = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx}]}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: shop}
spec:
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: db, image: postgres}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-ingress, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  policyTypes: [Ingress]
  ingress:
  - from: [{podSelector: {matchLabels: {app: web}}}]
    ports: [{port: 5432}]
"""

#: What the fake renderers print: a valid policy, so a render that happens is visible.
RENDERED = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: rendered, namespace: shop}
spec:
  podSelector: {}
  policyTypes: [Ingress]
"""

#: A policy an attacker would like nplint to read from outside the repository.
OUTSIDE = f"""\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: {SECRET.lower()}, namespace: shop}}
spec:
  podSelector: {{matchLabels: {{app: web}}}}
  policyTypes: [Egress]
"""


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository (``.git`` marks its root) with a chart and an overlay; the current directory."""
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    (root / "deploy").mkdir()
    (root / "deploy" / "shop.yaml").write_text(MANIFESTS, encoding="utf-8")
    chart = root / "chart"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: shop\nversion: 1.0.0\n", encoding="utf-8")
    (chart / "templates" / "policy.yaml").write_text("{{ .Values.x }}\n", encoding="utf-8")
    (chart / "values.yaml").write_text("x: 1\n", encoding="utf-8")
    (root / "overlay").mkdir()
    (root / "overlay" / "kustomization.yaml").write_text("resources: [policy.yaml]\n", encoding="utf-8")
    (tmp_path / "outside.yaml").write_text(OUTSIDE, encoding="utf-8")
    monkeypatch.chdir(root)
    return root


@pytest.fixture
def renderers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Fake helm, kustomize and kubectl first on PATH; each appends its argv to the returned log."""
    log = tmp_path / "renderers.log"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("helm", "kustomize", "kubectl"):
        program = bin_dir / name
        program.write_text(f"#!/bin/sh\necho \"{name} $*\" >> '{log}'\ncat <<'EOF'\n{RENDERED}EOF\n")
        program.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return log


def _render_lines(log: Path) -> list[str]:
    """The renders in the log: asking a program its version (once per run, for the cache) is not one."""
    return [line for line in log.read_text().splitlines() if line.split()[1:2] != ["version"]]


def _config(repo: Path, text: str) -> None:
    (repo / ".nplint.yaml").write_text(text, encoding="utf-8")


def _run_process(args: list[str], cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """nplint in a child process with a deadline and a memory ceiling, for attacks that used to hang."""

    def limit_memory() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))

    env = {**os.environ, "NPLINT_DISABLE_PLUGIN_AUTOLOAD": "1", "NPLINT_JOBS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "nplint", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=limit_memory,
        check=False,
    )


# --- helm-values -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("/etc/passwd", "is outside the repository root {root}"),
        ("https://example.com/v.yaml", "is a URL; nplint reads only files inside the repository"),
        ("../outside.yaml", "is outside the repository root {root}"),
        ("chart/../../outside.yaml", "is outside the repository root {root}"),
        ("link.yaml", "leads outside the repository root {root} through a symbolic link"),
        ("chart", "is a directory, not a regular file"),
        ("missing.yaml", "does not exist"),
        # Where a CI checkout keeps its token, named or reached through a link.
        (".git/config", "is inside .git, which nplint never reads"),
        ("git-link.yaml", "is inside .git, which nplint never reads"),
    ],
)
def test_helm_values_outside_the_repository_is_a_configuration_error(
    repo: Path, renderers: Path, capsys: pytest.CaptureFixture[str], value: str, reason: str
) -> None:
    (repo / "link.yaml").symlink_to(repo.parent / "outside.yaml")
    (repo / ".git" / "config").write_text("[http]\n\textraheader = AUTHORIZATION: basic c2VjcmV0\n")
    (repo / "git-link.yaml").symlink_to(repo / ".git" / "config")
    _config(repo, f"helm-values: [{json.dumps(value)}]\n")
    code, out = run_cli(["--format", "json", "."])
    assert code == 2 and out == ""
    expected = f"{repo / '.nplint.yaml'}: key 'helm-values': {value!r} {reason.format(root=repo)}"
    assert capsys.readouterr().err == f"nplint: error: {expected}\n"
    assert not renderers.exists(), "helm must not run with a refused values file"


def test_helm_values_on_the_command_line_pass_the_same_check(
    repo: Path, renderers: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(["--helm-values", "/etc/passwd", "."])[0] == 2
    assert capsys.readouterr().err == (
        f"nplint: error: --helm-values '/etc/passwd' is outside the repository root {repo}\n"
    )
    assert not renderers.exists()
    (repo / "link.yaml").symlink_to(repo.parent / "outside.yaml")
    assert run_cli(["--helm-values", "link.yaml", "."])[0] == 2
    assert "--helm-values 'link.yaml' leads outside the repository root" in capsys.readouterr().err
    assert not renderers.exists()


def test_helm_values_inside_the_repository_reach_helm_resolved(repo: Path, renderers: Path) -> None:
    # The control for the refusals above: a values file of the repository is used, as an absolute path.
    (repo / "values").mkdir()
    (repo / "values" / "prod.yaml").write_text("x: 2\n", encoding="utf-8")
    _config(repo, "helm-values: [values/prod.yaml]\n")
    assert run_cli(["--format", "json", "."])[0] in (0, 1)
    [helm] = [line for line in _render_lines(renderers) if line.startswith("helm ")]
    assert "values/prod.yaml" in helm and "/etc/passwd" not in helm


# --- expect (probe files) --------------------------------------------------------------------


def test_expect_dev_zero_stops_quickly(repo: Path) -> None:
    _config(repo, "expect: [/dev/zero]\n")
    done = _run_process(["--format", "json", "."], repo)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == (
        f"nplint: error: {repo / '.nplint.yaml'}: key 'expect': '/dev/zero' "
        f"is outside the repository root {repo}\n"
    )


def test_expect_inside_dot_git_is_refused(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / ".git" / "config").write_text("[http]\n\textraheader = AUTHORIZATION: basic c2VjcmV0\n")
    _config(repo, "expect: [.git/config]\n")
    assert run_cli(["--format", "json", "."]) == (2, "")
    err = capsys.readouterr().err
    assert "key 'expect': '.git/config' is inside .git, which nplint never reads" in err
    assert "c2VjcmV0" not in err


def test_expect_link_to_a_device_and_a_fifo_are_refused(repo: Path) -> None:
    (repo / "checks").mkdir()
    (repo / "checks" / "zero").symlink_to("/dev/zero")
    os.mkfifo(repo / "checks" / "fifo")
    _config(repo, "expect: [checks/zero]\n")
    done = _run_process(["."], repo)
    assert done.returncode == 2
    assert "key 'expect': 'checks/zero' leads outside the repository root" in done.stderr
    _config(repo, "expect: [checks/fifo]\n")
    done = _run_process(["."], repo)
    assert done.returncode == 2
    assert "key 'expect': 'checks/fifo' is a FIFO, not a regular file" in done.stderr


def test_probe_file_over_the_limit_is_an_np801_finding(repo: Path) -> None:
    (repo / "checks").mkdir()
    probe = "- {from: shop/web, to: shop/db, port: 5432, expect: allow}\n"
    (repo / "checks" / "probes.yaml").write_text(probe * (4 * 1024 * 1024 // len(probe) + 1))
    _config(repo, "expect: [checks/probes.yaml]\nselect: [NP801]\n")
    code, out = run_cli(["--format", "json", "."])
    assert code == 1
    [finding] = json.loads(out)["findings"]
    assert (finding["rule"], finding["path"], finding["line"]) == ("NP801", "checks/probes.yaml", 1)
    assert finding["message"] == (
        "this expectation cannot be checked: cannot read the probe file: "
        "it is larger than 4 MiB, the most nplint reads of it"
    )


def test_np801_refuses_a_probe_file_outside_even_when_configured_in_code(tmp_path: Path) -> None:
    # A Config built by a plugin or an embedding application skips the loader's check; the rule does not.
    from nplint.cli import Session
    from nplint.config import Config
    from nplint.lint import lint

    root = tmp_path / "repo"
    root.mkdir()
    (root / "shop.yaml").write_text(MANIFESTS, encoding="utf-8")
    (tmp_path / "probes.yaml").write_text(f"- {{from: shop/web, to: {SECRET}, port: 1}}\n")
    config = Config(root=root, select=("NP801",), expect=(str(tmp_path / "probes.yaml"),))
    session = Session()
    result = lint([str(root)], config, session.plugins, session.rules)
    assert [(f.rule_id, f.path, f.span.line) for f in result.findings] == [
        ("NP801", str(tmp_path / "probes.yaml"), 1)
    ]
    assert result.findings[0].message == (
        f"this expectation cannot be checked: the probe file is outside the repository root {root}"
    )


def test_reach_probes_named_fifo_and_link_out_are_refused(repo: Path) -> None:
    os.mkfifo(repo / "probes.fifo")
    done = _run_process(["reach", ".", "--probes", "probes.fifo"], repo)
    assert done.returncode == 2
    assert "probes.fifo:1:1: cannot read the probe file: it is a FIFO, not a regular file" in done.stderr
    (repo / "probes.yaml").symlink_to("/dev/zero")
    done = _run_process(["reach", ".", "--probes", "probes.yaml"], repo)
    assert done.returncode == 2
    assert done.stderr == (
        "nplint: error: --probes 'probes.yaml': a symbolic link leading outside the repository root\n"
    )


def test_reading_a_fifo_never_blocks(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    outcome: list[BaseException] = []

    def read() -> None:
        try:
            read_regular_file(fifo, 10)
        except BaseException as error:  # whatever came out, the test inspects it
            outcome.append(error)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(10)
    assert not reader.is_alive(), "reading a FIFO blocked"
    assert [type(e) for e in outcome] == [RefusedFile]
    assert str(outcome[0]) == "is a FIFO, not a regular file"


def test_bounded_read_stops_one_byte_past_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x" * 11)
    assert read_regular_file(path, 11) == b"x" * 11
    with pytest.raises(RefusedFile, match="is larger than 10 bytes"):
        read_regular_file(path, 10)
    with pytest.raises(RefusedFile, match="is a character device, not a regular file"):
        read_regular_file(Path("/dev/zero"), 10)


# --- roots -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("/", "is outside the repository root {root}"),
        ("..", "is outside the repository root {root}"),
        ("up", "leads outside the repository root {root} through a symbolic link"),
        ("deploy/shop.yaml", "is not a directory"),
        ("nowhere", "does not exist"),
    ],
)
def test_roots_must_be_folders_inside_the_repository(repo: Path, value: str, reason: str) -> None:
    # In a child process: `roots: [/]` used to walk the whole machine.
    (repo / "up").symlink_to(repo.parent)
    _config(repo, f"roots: [{json.dumps(value)}]\n")
    done = _run_process(["deploy/shop.yaml"], repo)
    assert done.returncode == 2
    expected = f"{repo / '.nplint.yaml'}: key 'roots': {value!r} {reason.format(root=repo)}"
    assert done.stderr == f"nplint: error: {expected}\n"


def test_roots_inside_the_repository_still_work(repo: Path) -> None:
    # The inventory comes from the root; the policy's Deployment lives beside it.
    _config(repo, "roots: [deploy, .]\nselect: [NP1]\n")
    code, out = run_cli(["--format", "json", "deploy/shop.yaml"])
    assert code in (0, 1)
    assert all(f["path"] == "deploy/shop.yaml" for f in json.loads(out)["findings"])


# --- the configuration file itself -----------------------------------------------------------


def test_configuration_file_linked_out_of_the_repository_is_refused(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = repo.parent / "secret.yaml"
    secret.write_text(f"{SECRET}\n", encoding="utf-8")
    (repo / ".nplint.yaml").symlink_to(secret)
    assert run_cli(["."])[0] == 2
    err = capsys.readouterr().err
    assert err == (
        f"nplint: error: {repo / '.nplint.yaml'}: the configuration file is a symbolic link "
        f"leading outside {repo}\n"
    )
    assert SECRET not in err


def test_configuration_file_over_the_limit_is_refused(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _config(repo, "# padding\n" * (1024 * 1024 // 10 + 1))
    assert run_cli(["."])[0] == 2
    assert capsys.readouterr().err == (
        f"nplint: error: {repo / '.nplint.yaml'}: cannot read the configuration: "
        "it is larger than 1 MiB, the most nplint reads of it\n"
    )


def test_explicit_configuration_fifo_or_link_out_is_refused(repo: Path) -> None:
    os.mkfifo(repo / "ci.fifo")
    done = _run_process(["--config", "ci.fifo", "."], repo)
    assert done.returncode == 2
    assert done.stderr == (
        "nplint: error: ci.fifo: cannot read the configuration: it is a FIFO, not a regular file\n"
    )
    # The Action passes `--config <input>`: a file of the pull request may be a link out of it.
    (repo / "ci.yaml").symlink_to(repo.parent / "outside.yaml")
    done = _run_process(["--config", "ci.yaml", "."], repo)
    assert done.returncode == 2
    assert done.stderr == (
        f"nplint: error: ci.yaml: the configuration file is a symbolic link leading outside {repo}\n"
    )
    assert SECRET.lower() not in done.stderr.lower()


def test_configuration_named_outside_by_the_person_running_nplint_is_used(repo: Path) -> None:
    elsewhere = repo.parent / "team.yaml"
    elsewhere.write_text("select: [NP005]\nrender: never\n", encoding="utf-8")
    code, out = run_cli(["--config", str(elsewhere), "--format", "json", "."])
    assert code == 0
    assert {f["rule"] for f in json.loads(out)["findings"]} == {"NP005"}


# --- baseline --------------------------------------------------------------------------------


def test_baseline_fifo_device_link_and_size_are_refused(repo: Path) -> None:
    os.mkfifo(repo / "baseline.fifo")
    done = _run_process(["--baseline", "baseline.fifo", "."], repo)
    assert done.returncode == 2
    assert done.stderr == (
        "nplint: error: baseline.fifo: not a readable nplint baseline: it is a FIFO, not a regular file\n"
    )
    (repo / "baseline.json").symlink_to("/dev/zero")
    done = _run_process(["--baseline", "baseline.json", "."], repo)
    assert done.returncode == 2
    assert done.stderr == (
        "nplint: error: baseline.json: a symbolic link leading outside the repository root\n"
    )


# --- render: the command line grants it, the configuration may only take it away ------------


@pytest.mark.parametrize(
    ("config", "option", "rendered"),
    [
        ("", [], True),  # the control: the fakes do run when nothing says otherwise
        ("render: auto\n", ["--render", "never"], False),
        ("render: never\n", ["--render", "auto"], False),
        ("render: never\n", [], False),
        ("render: auto\n", ["--render", "auto"], True),
    ],
)
def test_render_is_the_lower_of_command_line_and_configuration(
    repo: Path, renderers: Path, config: str, option: list[str], rendered: bool
) -> None:
    _config(repo, config + "select: [NP005]\n")
    code, out = run_cli(["--format", "json", *option, "."])
    assert code == 0  # NP005 is a note
    findings = json.loads(out)["findings"]
    assert renderers.exists() is rendered
    if rendered:
        assert sorted(line.split()[0] for line in _render_lines(renderers)) == ["helm", "kustomize"]
        assert findings == []
    else:
        assert [(f["rule"], f["path"]) for f in findings] == [
            ("NP005", "chart/Chart.yaml"),
            ("NP005", "overlay/kustomization.yaml"),
        ]
        assert all("rendering is turned off (--render never)" in f["message"] for f in findings)


def test_reach_renders_only_when_allowed(
    repo: Path, renderers: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _config(repo, "render: auto\n")
    assert run_command("reach", [".", "--render", "never"], io.StringIO()) == 0
    assert not renderers.exists()
    assert capsys.readouterr().err == (
        "nplint: note: 'chart/Chart.yaml' is not rendered: rendering is turned off (--render never); "
        "its objects are left out\n"
        "nplint: note: 'overlay/kustomization.yaml' is not rendered: rendering is turned off "
        "(--render never); its objects are left out\n"
    )
    out = io.StringIO()
    assert run_command("reach", [".", "--format", "json"], out) == 0
    assert renderers.exists(), "reach renders like check when the command line allows it"
    _config(repo, "render: never\n")
    renderers.unlink()
    assert run_command("reach", [".", "--render", "auto"], io.StringIO()) == 0
    assert not renderers.exists()


# --- diff ------------------------------------------------------------------------------------


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false", *args],
        cwd=repo,
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip()


@pytest.fixture
def git_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Two commits: the base opens web -> db on 5432; the head closes it."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    root = tmp_path / "repo"
    (root / "deploy").mkdir(parents=True)
    (tmp_path / "outside.yaml").write_text(OUTSIDE, encoding="utf-8")
    _git(root, "init", "-q", ".")
    (root / "deploy" / "shop.yaml").write_text(MANIFESTS, encoding="utf-8")
    _git(root, "add", ".")
    _git(root, "commit", "-q", "-m", "base")
    (root / "deploy" / "shop.yaml").write_text(
        MANIFESTS.replace("port: 5432", "port: 5433"), encoding="utf-8"
    )
    _git(root, "commit", "-q", "-a", "-m", "head")
    monkeypatch.chdir(root)
    return root


def _diff(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    return run_command("diff", list(args), out), out.getvalue()


def test_diff_of_a_revision_with_links_out_reports_and_reads_nothing_outside(
    git_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The base revision of a pull request holds an absolute link and a link up out of the repository.
    base = _git(git_repo, "rev-parse", "HEAD~1")
    _git(git_repo, "checkout", "-q", base)
    (git_repo / "deploy" / "x.yaml").symlink_to("/etc/passwd")
    (git_repo / "deploy" / "y.yaml").symlink_to("../../outside.yaml")
    _git(git_repo, "add", ".")
    _git(git_repo, "commit", "-q", "-m", "links")
    links = _git(git_repo, "rev-parse", "HEAD")
    _git(git_repo, "checkout", "-q", "-")
    for fmt in ("text", "json", "markdown"):
        code, out = _diff(links, "HEAD", "--format", fmt)
        assert code == 0, capsys.readouterr().err
        assert SECRET.lower() not in out.lower() and "root:" not in out
    code, out = _diff(links, "HEAD")
    assert out.startswith(f"Connectivity from {links} to HEAD:\n")
    assert "  ~ shop/web[Deployment] -> shop/db[StatefulSet]: now TCP 5433; was TCP 5432\n" in out
    assert SECRET.lower() not in capsys.readouterr().err.lower()


def test_revision_links_out_of_the_tree_are_left_out_and_inside_ones_kept(
    git_repo: Path, tmp_path: Path
) -> None:
    deploy = git_repo / "deploy"
    (deploy / "abs.yaml").symlink_to("/etc/passwd")
    (deploy / "up.yaml").symlink_to("../../outside.yaml")
    (deploy / "same.yaml").symlink_to("shop.yaml")
    (deploy / "here").symlink_to(".")
    # Lexically inside (here/here/.. is "here"), really the parent of the tree: judged after all links exist.
    (deploy / "climb").symlink_to("here/here/../..")
    _git(git_repo, "add", ".")
    _git(git_repo, "commit", "-q", "-m", "links")
    target = tmp_path / "scratch" / "head"
    root = revision.repository_root()
    revision.write_revision(revision.commit_of("HEAD", root), "HEAD", root, target)
    found = sorted(p.relative_to(target).as_posix() for p in target.rglob("*"))
    assert found == ["deploy", "deploy/here", "deploy/same.yaml", "deploy/shop.yaml"]
    assert (target / "deploy" / "same.yaml").read_text() == (target / "deploy" / "shop.yaml").read_text()
    assert not (tmp_path / "scratch" / "outside.yaml").exists()


def test_revision_is_read_without_the_filters_its_attributes_choose(git_repo: Path, tmp_path: Path) -> None:
    # A filter configured on the machine (Git LFS, say) runs when the revision's .gitattributes name it.
    marker = tmp_path / "MARKER"
    _git(git_repo, "config", "filter.fetch.smudge", f"touch '{marker}'; cat")
    (git_repo / ".gitattributes").write_text("*.yaml filter=fetch\n", encoding="utf-8")
    _git(git_repo, "add", ".")
    _git(git_repo, "commit", "-q", "-m", "attributes")
    code, out = _diff("HEAD~1", "HEAD")
    assert code == 0 and out.startswith("Connectivity from HEAD~1 to HEAD:\n")
    assert not marker.exists()


def test_folder_named_like_the_base_revision_does_not_hijack_it(
    git_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = _git(git_repo, "rev-parse", "HEAD~1")
    # The pull request adds a folder named like the base commit, holding what it wants compared.
    (git_repo / base).mkdir()
    (git_repo / base / "shop.yaml").write_text(
        MANIFESTS.replace("port: 5432", "port: 5433"), encoding="utf-8"
    )
    code, out = _diff(base)
    assert code == 0, capsys.readouterr().err
    assert out.startswith(f"Connectivity from {base} to working tree:\n")
    assert "  ~ shop/web[Deployment] -> shop/db[StatefulSet]: now TCP 5433; was TCP 5432\n" in out
    # Written as a directory, the folder is what is compared.
    code, out = _diff(f"./{base}", "deploy/")
    assert code == 0
    assert out.startswith(f"Connectivity from ./{base} to deploy/:\n")
    assert "Flows changed (0):" in out


def test_directory_not_written_as_one_is_not_taken_for_a_revision(
    git_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _diff("deploy", "HEAD")[0] == 2
    assert capsys.readouterr().err == (
        f"nplint: error: 'deploy' is not a revision of the repository at {git_repo}; "
        "to compare the directory, write it as ./deploy or deploy/\n"
    )


def test_revision_that_looks_like_an_option_is_refused(
    git_repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "written"
    assert _diff("--", f"--output={target}")[0] == 2
    assert (
        capsys.readouterr().err == f"nplint: error: '--output={target}': a revision does not start with '-'\n"
    )
    assert _diff("HEAD", "--", "--all")[0] == 2
    assert not target.exists()


def test_diff_render_never_renders_neither_side(git_repo: Path, renderers: Path) -> None:
    (git_repo / "overlay").mkdir()
    (git_repo / "overlay" / "kustomization.yaml").write_text("resources: [policy.yaml]\n", encoding="utf-8")
    (git_repo / ".nplint.yaml").write_text("render: auto\n", encoding="utf-8")
    _git(git_repo, "add", ".")
    _git(git_repo, "commit", "-q", "-m", "overlay")
    assert _diff("HEAD~1", "--render", "never")[0] == 0
    assert not renderers.exists()
    assert _diff("HEAD~1")[0] == 0
    renders = [line for line in _render_lines(renderers) if line.startswith("kustomize ")]
    assert len(renders) == 1, "the control: without the option HEAD renders"
