"""Charts as a cluster gets them: library charts and subcharts, release namespaces, kustomize's helmCharts."""

from __future__ import annotations

import json
import os
import shutil
import stat
import sys
from pathlib import Path
from typing import Any

import pytest

from helpers import FIXTURES, lint_paths
from nplint import charts, render
from nplint.discovery import discover

RENDER_FIXTURES = FIXTURES / "render"

needs_helm = pytest.mark.skipif(
    shutil.which("helm") is None, reason="helm is not on PATH (../shared/bench/get-helm.sh DIR installs one)"
)
needs_kubectl_and_helm = pytest.mark.skipif(
    shutil.which("helm") is None or (shutil.which("kubectl") is None and shutil.which("kustomize") is None),
    reason="helm and kubectl (or kustomize) are needed on PATH for kustomize's helmCharts",
)

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


def _copy(name: str, tmp_path: Path) -> Path:
    # Linted in a copy: a run writes .nplint_cache/ into the tree it lints.
    root = tmp_path / "repo"
    shutil.copytree(RENDER_FIXTURES / name, root, symlinks=True)
    return root


def _found(root: Path, select: list[str]) -> list[tuple[str, int, str]]:
    result = lint_paths(["."], root=root, select=select)
    return [(f.path, f.span.line, f.rule_id) for f in result.findings]


def _plan(root: Path) -> render.RenderPlan:
    found = discover([str(root)], root=root)
    return render.plan(found.skipped, root, enabled=True, cache=False)


@needs_helm
def test_chart_with_library_dependency_and_disabled_subchart(tmp_path: Path) -> None:
    root = _copy("charts", tmp_path)
    # One finding, on the template that writes the policy (at its kind: the name is templated);
    # the library charts and the disabled subchart say nothing, not even NP005.
    assert _found(root, ["NP301", "NP005"]) == [("shop/templates/policy.yaml", 2, "NP301")]
    plan = _plan(root)
    assert plan.unrendered == []
    [rendered] = plan.rendered
    assert (rendered.target.directory, rendered.namespace) == ("shop", "shop")
    names = sorted(m.node.get_map("metadata").get_str("name") for m in _manifests(rendered))  # type: ignore[union-attr]
    assert names == ["allow-web", "shop-egress"]  # the disabled subchart rendered nothing


def _manifests(rendered: render.Rendered) -> list[Any]:
    from nplint.loading import iter_manifests

    return list(iter_manifests(rendered.loaded))


@needs_kubectl_and_helm
def test_kustomization_with_helm_charts(tmp_path: Path) -> None:
    root = _copy("helm-kustomization", tmp_path)
    # The chart's policy allows DNS on port 5353 only: NP301, placed on the chart's template
    # (kustomize keeps no `# Source:`; the only template of that kind is the one).
    assert _found(root, ["NP301", "NP005"]) == [("app/charts/web/templates/egress.yaml", 2, "NP301")]
    plan = _plan(root)
    # The chart in the chartHome is rendered through the kustomization only.
    assert [r.target.directory for r in plan.rendered] == ["app"]
    assert plan.rendered[0].inputs == ("app", "app/charts")


# -- with stand-ins for the programs -----------------------------------------------------------


def _fake(tmp_path: Path, name: str, body: str) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    program = bin_dir / name
    program.write_text(
        f"#!{sys.executable}\n"
        "import json, os, sys, time\n"
        f"open({str(tmp_path / 'calls.jsonl')!r}, 'a').write(json.dumps([os.path.basename(sys.argv[0])]"
        " + sys.argv[1:]) + '\\n')\n"
        "if sys.argv[1:2] == ['version']:\n"
        "    print('v1'); sys.exit(0)\n" + body + "\n"
    )
    program.chmod(program.stat().st_mode | stat.S_IEXEC)


def _renders(tmp_path: Path) -> list[list[str]]:
    log = tmp_path / "calls.jsonl"
    calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return [call for call in calls if call[1:2] != ["version"]]


PRINT = f"sys.stdout.write({POLICY!r})"


def _chart(root: Path, directory: str, chart_yaml: str) -> None:
    (root / directory / "templates").mkdir(parents=True)
    (root / directory / "Chart.yaml").write_text(chart_yaml)
    (root / directory / "templates" / "policy.yaml").write_text(POLICY)


def test_library_and_sub_charts_are_not_rendered_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "repo"
    _chart(root, "lib", "apiVersion: v2\nname: lib\nversion: 1.0.0\ntype: library\n")
    _chart(
        root,
        "app",
        "apiVersion: v2\nname: app\nversion: 1.0.0\n"
        "dependencies:\n- name: dep\n  version: 1.0.0\n  repository: file://../dep\n",
    )
    _chart(root, "app/charts/sub", "apiVersion: v2\nname: sub\nversion: 1.0.0\n")
    _chart(root, "dep", "apiVersion: v2\nname: dep\nversion: 1.0.0\n")
    _fake(tmp_path, "helm", PRINT)
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    found = _found(root, ["NP005", "NP301"])
    assert found == [("app/Chart.yaml", 1, "NP301")]  # no `# Source:` from the stand-in: line 1
    [call] = _renders(tmp_path)
    assert call[:4] == ["helm", "template", "nplint", "--namespace=app"] and call[4] == "--"
    assert call[5].endswith("/app")


@pytest.mark.parametrize("name", ["Shop_App", "-n", "a" * 64])
def test_chart_whose_name_is_no_namespace_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    root = tmp_path / "repo"
    _chart(root, "shop", f"apiVersion: v2\nname: {json.dumps(name)}\nversion: 1.0.0\n")
    _fake(tmp_path, "helm", PRINT)
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    result = lint_paths(["."], root=root, select=["NP005", "NP301"])
    assert [(f.path, f.rule_id) for f in result.findings] == [("shop/Chart.yaml", "NP005")]
    assert "is not a valid namespace name" in result.findings[0].detail
    assert _renders(tmp_path) == []


def _helm_kustomization(root: Path, chart_entry: str) -> None:
    (root / "app" / "charts" / "web" / "templates").mkdir(parents=True)
    (root / "app" / "charts" / "web" / "Chart.yaml").write_text("apiVersion: v2\nname: web\nversion: 0.1.0\n")
    (root / "app" / "charts" / "web" / "templates" / "policy.yaml").write_text(POLICY)
    (root / "app" / "kustomization.yaml").write_text(f"helmCharts:\n- {chart_entry}\n")


def test_helm_charts_make_kustomize_run_the_helm_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "repo"
    _helm_kustomization(root, "{name: web, releaseName: web}")
    _fake(tmp_path, "kustomize", PRINT)
    _fake(tmp_path, "helm", PRINT)
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    assert _found(root, ["NP005", "NP301"]) == [("app/charts/web/templates/policy.yaml", 4, "NP301")]
    [call] = _renders(tmp_path)
    helm = str(tmp_path / "bin" / "helm")
    assert call[:4] == ["kustomize", "build", "--enable-helm", f"--helm-command={helm}"]
    assert call[4] == "--" and call[5].endswith("/app") and len(call) == 6


def test_helm_charts_without_helm_are_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "repo"
    _helm_kustomization(root, "{name: web}")
    _fake(tmp_path, "kustomize", PRINT)
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    result = lint_paths(["."], root=root, select=["NP005", "NP301"])
    assert [(f.path, f.rule_id) for f in result.findings] == [("app/kustomization.yaml", "NP005")]
    assert "(it inflates Helm charts (helmCharts) and helm is not on PATH)" in result.findings[0].detail
    assert _renders(tmp_path) == []


def test_remote_chart_is_not_fetched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "repo"
    _helm_kustomization(root, "{name: redis, repo: 'https://charts.example/'}")
    _fake(tmp_path, "kustomize", PRINT)
    _fake(tmp_path, "helm", PRINT)
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    result = lint_paths(["."], root=root, select=["NP005"])
    assert [(f.path, f.rule_id) for f in result.findings] == [("app/kustomization.yaml", "NP005")]
    assert (
        "(remote chart redis from https://charts.example/ (in app/kustomization.yaml) is not fetched; "
        "put the chart in its chartHome (charts))"
    ) in result.findings[0].detail
    assert _renders(tmp_path) == []


def test_chart_home_out_of_the_repository_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "repo"
    _helm_kustomization(root, "{name: web}")
    (root / "app" / "kustomization.yaml").write_text(
        "helmGlobals:\n  chartHome: ../../outside\nhelmCharts:\n- {name: web}\n"
    )
    _fake(tmp_path, "kustomize", PRINT)
    _fake(tmp_path, "helm", PRINT)
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    result = lint_paths(["."], root=root, select=["NP005"])
    assert [f.path for f in result.findings] == ["app/kustomization.yaml"]
    assert "chartHome ../../outside (in app/kustomization.yaml) lies outside the repository" in (
        result.findings[0].detail
    )
    # The chart under app/charts is no chart home of a rendered kustomization: it is its own unit.
    assert [call[:2] for call in _renders(tmp_path)] == [["helm", "template"]]


@pytest.mark.skipif(render.render_workers() < 2, reason="one usable core: renders run one at a time")
def test_renders_run_in_parallel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "repo"
    for name in ("a", "b"):
        (root / name).mkdir(parents=True)
        (root / name / "kustomization.yaml").write_text("resources: [policy.yaml]\n")
    started = tmp_path / "started"
    started.mkdir()
    # Each render says it started, then waits for the other: one at a time, the first would
    # wait in vain and fail.
    _fake(
        tmp_path,
        "kustomize",
        f"open(os.path.join({str(started)!r}, os.path.basename(sys.argv[-1])), 'w').close()\n"
        "for _ in range(600):\n"
        f"    if len(os.listdir({str(started)!r})) == 2: break\n"
        "    time.sleep(0.05)\n"
        "else:\n"
        "    sys.exit('alone')\n"
        f"sys.stdout.write({POLICY!r}.replace('egress', os.path.basename(sys.argv[-1])))\n",
    )
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    result = lint_paths(["."], root=root, select=["NP005", "NP301"], extra={"cache": False})
    assert [f.rule_id for f in result.findings if f.rule_id == "NP005"] == []
    assert sorted(p.name for p in result.inventory.policies) == ["a", "b"]


def test_source_comments_name_the_template_of_each_document() -> None:
    text = (
        "---\n# Source: shop/templates/a.yaml\nkind: A\n---\nkind: B\n"
        "---\n# Source: shop/charts/sub/templates/c.yaml\nkind: C\n"
    )
    mapping = charts.source_map(text)
    assert [mapping.source_at(line) for line in range(1, 9)] == [
        None,
        "shop/templates/a.yaml",
        "shop/templates/a.yaml",
        None,  # a document without a comment belongs to no template
        None,
        None,
        "shop/charts/sub/templates/c.yaml",
        "shop/charts/sub/templates/c.yaml",
    ]


def test_source_comment_cannot_name_a_file_out_of_the_chart(tmp_path: Path) -> None:
    (tmp_path / "chart" / "templates").mkdir(parents=True)
    (tmp_path / "chart" / "templates" / "a.yaml").write_text("kind: A\n")
    (tmp_path / "secret.yaml").write_text("kind: A\n")
    root = os.path.realpath(tmp_path)
    assert charts.template_file(root, "chart", "shop/templates/a.yaml") == "chart/templates/a.yaml"
    assert charts.template_file(root, "chart", "shop/../secret.yaml") is None
    assert charts.template_file(root, "chart", "shop/templates/missing.yaml") is None
    assert charts.template_file(root, "chart", "shop") is None
