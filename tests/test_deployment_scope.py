"""What is deployed: trees with parts no tool sends to a cluster (deployment_scope, undeployed)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from helpers import lint_paths
from nplint import deployment_scope, entry_points
from nplint.deployment_scope import SKIP_KUSTOMIZE_DATA, SKIP_NOT_DEPLOYED, SKIP_NOT_KUBERNETES
from nplint.discovery import discover
from nplint.loading import load_text
from nplint.loading.nodes import MapNode

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec: {containers: [{name: api, image: example.org/api:1}]}
"""

OPEN_POLICY = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: open-all, namespace: queue}
spec:
  podSelector: {}
  policyTypes: [Ingress]
  ingress: [{}]
"""

NEVER = {"render": "never", "cache": False}


def _tree(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def _where(root: Path, rule: str, *paths: str, extra: dict[str, object] | None = None) -> list[str]:
    result = lint_paths(list(paths) or ["."], root=root, select=[rule], extra={**NEVER, **(extra or {})})
    assert not result.failures
    return sorted(f"{f.path}:{f.span.line}" for f in result.findings if f.rule_id == rule)


def _skips(root: Path, *paths: str) -> list[tuple[str, str]]:
    result = lint_paths(list(paths) or ["."], root=root, select=["NP101"], extra=NEVER)
    return [(s.display, s.reason) for s in result.skipped]


# -- Go test data ---------------------------------------------------------------------------------


def test_go_testdata_is_not_linted_but_listed_as_skipped(tmp_path: Path) -> None:
    _tree(tmp_path, {"pkg/testdata/in.yaml": DEPLOYMENT, "cmd/_testdata/x/in.yaml": DEPLOYMENT})
    assert _where(tmp_path, "NP101") == []
    assert _skips(tmp_path) == [("cmd/_testdata/", SKIP_NOT_DEPLOYED), ("pkg/testdata/", SKIP_NOT_DEPLOYED)]


def test_go_testdata_is_linted_when_asked(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        {"pkg/testdata/in.yaml": DEPLOYMENT.replace("shop", "tools"), "mytestdata/in.yaml": DEPLOYMENT},
    )
    # Only a component named exactly testdata or _testdata.
    assert _where(tmp_path, "NP101") == ["mytestdata/in.yaml:3"]
    assert _where(tmp_path, "NP101", extra={"lint-undeployed": True}) == [
        "mytestdata/in.yaml:3",
        "pkg/testdata/in.yaml:3",
    ]
    # Named on the command line: what the user asked for.
    assert _where(tmp_path, "NP101", "pkg/testdata") == ["pkg/testdata/in.yaml:3"]


# -- dot-directories and .sourceignore ------------------------------------------------------------


def test_a_dot_directory_nothing_names_is_not_deployed(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        {
            ".retired/queue/np.yaml": OPEN_POLICY,
            ".retired/kustomization.yaml": "resources: [queue/np.yaml]\n",
        },
    )
    assert _where(tmp_path, "NP105") == []
    assert _skips(tmp_path) == [(".retired/", SKIP_NOT_DEPLOYED)]
    # Rendering it is not tried either: no NP005 for its kustomization.
    assert _where(tmp_path, "NP005", extra={"render": "auto"}) == []
    assert _where(tmp_path, "NP105", extra={"lint-undeployed": True}) == [".retired/queue/np.yaml:7"]
    assert _where(tmp_path, "NP105", ".retired") == [".retired/queue/np.yaml:7"]


@pytest.mark.parametrize(
    "naming",
    [
        {"app/kustomization.yaml": "resources: [../.shared/np.yaml]\n"},
        {
            "app/kustomization.yaml": "resources: [../.shared]\n",
            ".shared/kustomization.yaml": "resources: [np.yaml]\n",
        },
        {
            "clusters/edge/sync.yaml": "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\n"
            "metadata: {name: edge, namespace: flux-system}\n"
            "spec: {path: ./.shared, sourceRef: {kind: GitRepository, name: repo}}\n"
        },
        {
            "argo/app.yaml": "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: q}\n"
            "spec: {source: {repoURL: 'https://example.org/r.git', path: .shared}}\n"
        },
        {
            "argo/set.yaml": "apiVersion: argoproj.io/v1alpha1\nkind: ApplicationSet\nmetadata: {name: q}\n"
            "spec: {generators: [{git: {directories: [{path: '.shared/*'}]}}]}\n"
        },
    ],
    ids=["kustomization-file", "kustomization-dir", "flux", "argo-application", "argo-applicationset"],
)
def test_a_dot_directory_something_names_is_linted(tmp_path: Path, naming: dict[str, str]) -> None:
    _tree(tmp_path, {".shared/np.yaml": OPEN_POLICY, **naming})
    assert _where(tmp_path, "NP105") == [".shared/np.yaml:7"]


FLUX_SYNC = """\
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: edge, namespace: flux-system}
spec: {interval: 10m, path: ./deploy, prune: true, sourceRef: {kind: GitRepository, name: repo}}
"""


def test_sourceignore_is_not_followed_in_a_flux_repository(tmp_path: Path) -> None:
    # Flux never fetches what `.sourceignore` excludes, but another deployer (Talos, a script)
    # may apply it, and nplint cannot know that none does: everything is linted.
    _tree(
        tmp_path,
        {
            ".sourceignore": "/*\n!/deploy\n",
            "deploy/sync.yaml": FLUX_SYNC,
            "deploy/queue/np.yaml": OPEN_POLICY,
            "legacy/np.yaml": OPEN_POLICY,
        },
    )
    assert _where(tmp_path, "NP105") == ["deploy/queue/np.yaml:7", "legacy/np.yaml:7"]
    assert not [display for display, reason in _skips(tmp_path) if reason == SKIP_NOT_DEPLOYED]


def test_sourceignore_means_nothing_without_flux(tmp_path: Path) -> None:
    _tree(tmp_path, {".sourceignore": "/*\n", "legacy/np.yaml": OPEN_POLICY})
    assert _where(tmp_path, "NP105") == ["legacy/np.yaml:7"]


# -- links, data files, JSON ----------------------------------------------------------------------


def test_a_directory_link_is_an_alias_and_the_real_path_names_the_file(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        {
            "real/app/kustomization.yaml": "namespace: team-a\nresources: [job.yaml]\n",
            "real/app/job.yaml": DEPLOYMENT.replace("namespace: shop", "namespace: team-a"),
        },
    )
    try:
        (tmp_path / "alias").symlink_to("real", target_is_directory=True)
    except OSError:
        pytest.skip("no symbolic links here")
    assert _where(tmp_path, "NP101") == ["real/app/job.yaml:3"]
    found = discover([str(tmp_path)], root=tmp_path)
    assert [f.display for f in found.files] == ["real/app/job.yaml"]
    assert [s.display for s in found.skipped] == ["real/app/kustomization.yaml"]


def test_files_a_kustomization_reads_as_data_are_no_manifests(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        {
            "app/kustomization.yaml": "configMapGenerator:\n- name: c\n  files: [s.yml=conf/settings.yml]\n"
            "  envs: [conf/env.yaml]\nsecretGenerator:\n- name: s\n  files: [conf/key.yaml]\n"
            "helmCharts:\n- name: x\n  valuesFile: values/x.yaml\n"
            "replacements:\n- path: conf/replacement.yaml\nresources: [np.yaml]\n",
            "app/conf/settings.yml": "token: !secret t\n",
            "app/conf/env.yaml": "A=1\n",
            "app/conf/key.yaml": "k: [\n",
            "app/conf/replacement.yaml": "source: {kind: ConfigMap}\n",
            "app/values/x.yaml": "a: 1\n",
            "app/np.yaml": OPEN_POLICY,
        },
    )
    found = discover([str(tmp_path)], root=tmp_path)
    assert [f.display for f in found.files] == ["app/np.yaml"]
    data = sorted(s.display for s in found.skipped if s.reason == SKIP_KUSTOMIZE_DATA)
    assert data == [
        "app/conf/env.yaml",
        "app/conf/key.yaml",
        "app/conf/replacement.yaml",
        "app/conf/settings.yml",
        "app/values/x.yaml",
    ]
    assert _where(tmp_path, "NP001") == []


def test_json_is_a_manifest_only_with_api_version_and_kind(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        {
            "tsconfig.json": '{\n  // comment\n  "compilerOptions": {}\n}\n',
            "dashboard.json": '/* header */\n{"panels": []}\n',
            "package.json": '{"name": "x"}',
            "np.json": '{"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",\n'
            ' "metadata": {"name": "a", "namespace": "q"}, "spec": {"podSelector": {}, "ingress": [{}]}}',
            "list.json": '[{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}]',
            "broken.json": '{"apiVersion": "v1", "kind": "ConfigMap",, }',
        },
    )
    found = discover([str(tmp_path)], root=tmp_path)
    assert [f.display for f in found.files] == ["broken.json", "list.json", "np.json"]
    assert sorted(s.display for s in found.skipped if s.reason == SKIP_NOT_KUBERNETES) == [
        "dashboard.json",
        "package.json",
        "tsconfig.json",
    ]
    # A broken manifest is still reported.
    assert _where(tmp_path, "NP001") == ["broken.json:1"]


# -- kustomizations that are no entry point ---------------------------------------------------------


def _aside(tmp_path: Path, directory: str, text: str, extra: dict[str, str] | None = None) -> str | None:
    _tree(tmp_path, {f"{directory}/kustomization.yaml": text, **(extra or {})})
    return entry_points.set_aside(str(tmp_path.resolve()), directory)


def test_components_empty_kustomizations_and_olm_inputs_are_set_aside(tmp_path: Path) -> None:
    component = _aside(tmp_path, "c", "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n")
    assert component is not None and entry_points.is_component(component)
    assert _aside(tmp_path, "e1", "resources: []\n") is not None
    assert (
        _aside(tmp_path, "e2", "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n")
        is not None
    )
    assert _aside(tmp_path, "e3", "") is not None
    assert _aside(tmp_path, "o1/config/manifests", "resources: [../default, ../samples]\n") is not None
    bundle = {"o2/bases/x.clusterserviceversion.yaml": "kind: ClusterServiceVersion\n"}
    assert _aside(tmp_path, "o2", "resources: [bases/x.clusterserviceversion.yaml]\n", bundle) is not None


def test_kustomizations_that_produce_objects_are_entry_points(tmp_path: Path) -> None:
    assert _aside(tmp_path, "a", "resources: [np.yaml]\n") is None
    assert _aside(tmp_path, "b", "configMapGenerator: [{name: x, literals: [a=b]}]\n") is None
    assert _aside(tmp_path, "c", "helmCharts: [{name: x}]\n") is None
    # kubebuilder's config/default is deployed; only config/manifests feeds the bundle.
    assert _aside(tmp_path, "d/config/default", "resources: [../samples]\n") is None
    # Broken: kustomize says why (NP005), it is not taken for empty.
    assert _aside(tmp_path, "f", "resources: [\n") is None
    assert _aside(tmp_path, "g", "- just a list\n") is None


def test_a_set_aside_kustomization_gets_no_np005(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        {
            "empty/kustomization.yaml": "resources: []\n",
            "comp/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n",
            "live/kustomization.yaml": "resources: [https://example.org/remote]\n",
        },
    )
    assert _where(tmp_path, "NP005", extra={"render": "auto"}) == ["live/kustomization.yaml:1"]


# -- patches ----------------------------------------------------------------------------------------


def _node(text: str) -> MapNode:
    root = load_text("x.yaml", text).documents[0].root
    assert isinstance(root, MapNode)
    return root


@pytest.mark.parametrize(
    ("text", "partial"),
    [
        (DEPLOYMENT, False),
        ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a}\nspec: {template: {spec: {}}}\n", True),
        (
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a}\n"
            "spec: {template: {spec: {containers: [{name: a, resources: {}}]}}}\n",
            True,
        ),
        (
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a}\n"
            "spec: {template: {spec: {containers: [{name: a, image: x}]}}}\n",
            True,
        ),
        (
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a}\n"
            "spec: {template: {metadata: {labels: {a: b}}, spec: {containers: [{name: a, image: x}]}}}\n",
            False,
        ),
        (
            "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: a, image: x}]}\n",
            False,
        ),
        ("apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {nodeName: n}\n", True),
        (
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a}\n"
            "spec: {selector: {matchLabels: {a: b}},\n"
            "  template: {spec: {containers: [{name: a, image: x}]}}}\n",
            False,
        ),
        # A trimmed export (np-guard's inputs): labelled pods whose containers lost their images.
        (
            "apiVersion: v1\nkind: Pod\nmetadata: {name: a, labels: {a: b}}\n"
            "spec: {containers: [{ports: []}]}\n",
            False,
        ),
        (
            "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: a}\n"
            "spec: {healthChecks: []}\n",
            True,
        ),
        (
            "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: a}\n"
            "spec: {sourceRef: {kind: GitRepository, name: r}}\n",
            False,
        ),
        ("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: []\n", False),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n", False),
    ],
)
def test_what_lacks_what_its_kind_needs_is_a_patch(text: str, partial: bool) -> None:
    assert deployment_scope.is_partial(_node(text)) is partial


def test_a_patch_file_is_no_workload_but_a_rendered_one_is_an_object(tmp_path: Path) -> None:
    patch = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api, namespace: shop}\n"
    patch += "spec: {template: {spec: {nodeSelector: {pool: a}}}}\n"
    _tree(tmp_path, {"patches/api.yaml": patch, "app/api.yaml": DEPLOYMENT})
    result = lint_paths(["."], root=tmp_path, select=["NP101", "NP704"], extra=NEVER)
    assert [(f.rule_id, f.path) for f in result.findings] == [("NP101", "app/api.yaml")]
    assert "Deployment api" in result.findings[0].detail
    assert [w.path for w in result.inventory.workloads] == ["app/api.yaml"]
    assert [o.partial for o in result.inventory.objects] == [False, True]


# -- rendered findings' related locations ----------------------------------------------------------


@pytest.mark.skipif(
    shutil.which("kustomize") is None and shutil.which("kubectl") is None,
    reason="kustomize or kubectl needed",
)
def test_related_locations_of_rendered_findings_point_at_their_source(tmp_path: Path) -> None:
    head = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: %s, namespace: shop}\n"
    _tree(
        tmp_path,
        {
            "config/samples/kustomization.yaml": "resources: [all.yaml, web.yaml]\n",
            "config/samples/all.yaml": head % "all"
            + "spec:\n  podSelector: {}\n  ingress: [{from: [{podSelector: {}}]}]\n",
            "config/samples/web.yaml": head % "web"
            + "spec:\n  podSelector: {matchLabels: {app: web}}\n  ingress: [{from: [{podSelector: {}}]}]\n",
            # The bundle's input: set aside, so config/samples is a unit of its own, rendered.
            "config/manifests/kustomization.yaml": "resources: [../samples]\n",
        },
    )
    result = lint_paths(["."], root=tmp_path, select=["NP706"], extra={"cache": False})
    assert [(f.path, f.span.line) for f in result.findings] == [("config/samples/web.yaml", 3)]
    [finding] = result.findings
    assert finding.message.endswith("(in kustomize for config/samples)")
    # The related location is the covering policy's source file, not a line of the rendered stream.
    assert [(r.path, r.span.line) for r in finding.related] == [("config/samples/all.yaml", 3)]


def test_ansible_templates_are_known_by_a_task_list_beside_them(tmp_path: Path) -> None:
    from nplint.deployment_scope import is_ansible_templates

    (tmp_path / "tasks").mkdir()
    (tmp_path / "templates").mkdir()
    assert not is_ansible_templates(str(tmp_path))  # no task file at all
    (tmp_path / "tasks" / "a.yaml").write_text("apiVersion: tekton.dev/v1\nkind: Task\n")
    assert not is_ansible_templates(str(tmp_path))  # a Kubernetes object is no task list
    # A long task list: only its head is read, whatever its size.
    (tmp_path / "tasks" / "b.yml").write_text("# tasks\n---\n- name: write\n" + "  x: y\n" * 10_000)
    assert is_ansible_templates(str(tmp_path))
    (tmp_path / "Chart.yaml").write_text("name: chart\n")
    assert not is_ansible_templates(str(tmp_path))  # a chart's templates/ never is


def test_a_fifo_in_tasks_is_never_opened_for_reading(tmp_path: Path) -> None:
    from nplint.deployment_scope import is_ansible_templates

    (tmp_path / "tasks").mkdir()
    os.mkfifo(tmp_path / "tasks" / "main.yaml")
    assert not is_ansible_templates(str(tmp_path))
