"""What is not a manifest is not linted as one: test folders, templates of other tools, not-objects."""

from __future__ import annotations

from pathlib import Path

from helpers import FIXTURES, lint_paths, run_cli
from nplint.discovery import SKIP_HELM_TEMPLATE, SKIP_TEST_FOLDER, discover
from nplint.loading import load_text
from nplint.loading.placeholders import is_placeholder
from nplint.loading.transfer import decode, encode

TEST_FOLDERS = FIXTURES / "NP001" / "good" / "test-folders"


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


BROKEN = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: shop\n"


def test_test_folders_are_skipped_and_said() -> None:
    found = discover([str(TEST_FOLDERS)], root=TEST_FOLDERS)
    assert [f.display for f in found.files] == ["policies/policy.yaml"]
    skipped = {s.display: s for s in found.skipped}
    assert set(skipped) == {"e2e/cases/deny/", "policies/.chainsaw-test/", "policies/.kyverno-test/"}
    assert {s.reason for s in skipped.values()} == {SKIP_TEST_FOLDER}
    assert "kuttl" in skipped["e2e/cases/deny/"].detail
    assert "deny-case/chainsaw-test.yaml" in skipped["policies/.chainsaw-test/"].detail
    assert "lint-test-folders: true" in skipped["policies/.kyverno-test/"].detail


def test_configuration_lints_test_folders() -> None:
    result = lint_paths(["."], root=TEST_FOLDERS, select=["NP001"], extra={"lint-test-folders": True})
    assert sorted((f.path, f.span.line) for f in result.findings) == [
        ("e2e/cases/deny/00-install.yaml", 7),
        ("policies/.chainsaw-test/resources/broken.yaml", 7),
        ("policies/.kyverno-test/resource.yaml", 4),
    ]


def test_a_named_file_of_a_test_folder_is_skipped_too() -> None:
    found = discover([str(TEST_FOLDERS / "policies/.chainsaw-test/resources/broken.yaml")], root=TEST_FOLDERS)
    assert found.files == ()
    assert [(s.display, s.reason) for s in found.skipped] == [
        ("policies/.chainsaw-test/resources/broken.yaml", SKIP_TEST_FOLDER)
    ]


def test_kuttl_suite_names_its_test_dirs(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "kuttl-test.yaml": "apiVersion: kuttl.dev/v1beta1\nkind: TestSuite\ntestDirs: [./tests/e2e]\n",
            "tests/e2e/case-a/01-create.yaml": BROKEN,
            "deploy/app.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: shop}\n",
        },
    )
    found = discover([str(tmp_path)], root=tmp_path)
    assert [f.display for f in found.files] == ["deploy/app.yaml", "kuttl-test.yaml"]
    assert [(s.display, s.reason) for s in found.skipped] == [("tests/e2e/", SKIP_TEST_FOLDER)]


def test_worlds_lists_skipped_folders() -> None:
    code, out = run_cli(["worlds", str(TEST_FOLDERS)])
    assert code == 0
    assert "3 folders skipped (not manifests):" in out
    assert all(len(line) <= 200 for line in out.splitlines())


def test_kyverno_variables_are_not_helm_templates(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "kyverno.yaml": (
                "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: p}\n"
                "spec:\n  rules:\n  - name: r\n    generate:\n"
                '      namespace: "{{request.object.metadata.name}}"\n'
            ),
            "chart-like.yaml": (
                "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: {{ .Values.name }}\n"
            ),
        },
    )
    found = discover([str(tmp_path)], root=tmp_path)
    assert [f.display for f in found.files] == ["kyverno.yaml"]
    assert [(s.display, s.reason) for s in found.skipped] == [("chart-like.yaml", SKIP_HELM_TEMPLATE)]


def test_one_finding_per_broken_file(tmp_path: Path) -> None:
    document = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: shop}\ndata: {a: !Ref X}\n"
    _write(tmp_path, {"tags.yaml": "---\n".join([document] * 3)})
    result = lint_paths(["."], root=tmp_path, select=["NP001"])
    assert [(f.rule_id, f.span.line) for f in result.findings] == [("NP001", 4)]
    finding = result.findings[0]
    assert finding.message.endswith("(and 2 more in this file)")
    assert "Also in this file: line 9, column 11: " in finding.detail
    assert finding.detail.count("line ") == 2


def test_not_kubernetes_decided_from_documents_and_text() -> None:
    assert not load_text("values.yaml", "image: {tag: 1}\nimage: again\n").kubernetes
    assert not load_text("ci.yml", "on: [push\njobs: {}\n").kubernetes
    assert load_text("np.yaml", "kind: NetworkPolicy\nmetadata: [x\n").kubernetes
    # Parsed, a `kind:` without `metadata` is a values file's choice of workload.
    assert not load_text("values.yaml", "kind: DaemonSet\nimage: {a: 1}\nimage: {}\n").kubernetes
    assert load_text("np.json", '{\n  "apiVersion": "v1", "kind": "A", "x": [\n').kubernetes
    assert load_text("nul.yaml", "apiVersion: v1\nkind: A\x00\n").kubernetes
    assert not load_text("nul.yaml", "\x00binary").kubernetes


def test_transfer_keeps_whether_a_file_is_a_manifest() -> None:
    loaded = load_text("values.yaml", "a: 1\n")
    values = encode(loaded)
    assert values is not None
    assert decode(values).kubernetes is False


def test_placeholders() -> None:
    for text in (
        "${NS}",
        "app-${ENV}",
        "$(NAMESPACE)",
        "{{request.object.metadata.name}}",
        "<no value>",
        "($ns)",
    ):
        assert is_placeholder(text), text
    for text in ("shop", "$5", "a(b)", "{x}", "(ns)", "cost$"):
        assert not is_placeholder(text), text


def test_alternative_files_are_units_of_their_own(tmp_path: Path) -> None:
    from nplint.units import units_of

    policy = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: {n}, namespace: a}}\n"
    two = policy.format(n="p") + "---\n" + policy.format(n="q")
    files = [
        load_text("d/standard.yaml", two),
        load_text("d/experimental.yaml", two + "---\n" + policy.format(n="r")),
        load_text("d/other.yaml", policy.format(n="s")),
        # One object again in another file: a copy, not an alternative.
        load_text("e/one.yaml", policy.format(n="p")),
        load_text("e/copy.yaml", policy.format(n="p")),
    ]
    units = units_of(files, {})
    assert {path: unit.name for path, unit in units.items()} == {
        "d/standard.yaml": "d/standard.yaml",
        "d/experimental.yaml": "d/experimental.yaml",
        "d/other.yaml": "d",
        "e/one.yaml": "e",
        "e/copy.yaml": "e",
    }
    # Objects that name no namespace still land in the folder's unnamed namespace.
    assert units["d/standard.yaml"].unnamed_namespace == "d/"


# -- a software project's top-level test folders ---------------------------------------------------

_OPEN = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: open, namespace: shop}
spec:
  podSelector: {}
  policyTypes: [Ingress]
  ingress: [{}]
"""


def _project(root: Path, build_file: str | None) -> Path:
    files = {
        "tests/checks/open.yaml": _OPEN,
        "deploy/open.yaml": _OPEN,
        "deploy/overlays/test/open.yaml": _OPEN.replace("shop", "staging"),
    }
    if build_file is not None:
        files[build_file] = "module example.org/tool\n"
    _write(root, files)
    return root


def test_a_software_projects_top_level_tests_are_skipped(tmp_path: Path) -> None:
    root = _project(tmp_path, "go.mod")
    found = discover([str(root)], root=root)
    assert [(s.display, s.reason) for s in found.skipped if s.reason == SKIP_TEST_FOLDER] == [
        ("tests/", SKIP_TEST_FOLDER)
    ]
    paths = sorted({f.path for f in lint_paths(["."], root=root, select=["NP105"]).findings})
    # A `test` folder below the root is as likely an environment: linted.
    assert paths == ["deploy/open.yaml", "deploy/overlays/test/open.yaml"]
    linted = lint_paths(["."], root=root, select=["NP105"], extra={"lint-test-folders": True})
    assert sorted({f.path for f in linted.findings}) == [*paths, "tests/checks/open.yaml"]


def test_without_a_build_file_top_level_tests_are_linted(tmp_path: Path) -> None:
    root = _project(tmp_path, None)
    paths = sorted({f.path for f in lint_paths(["."], root=root, select=["NP105"]).findings})
    assert paths == ["deploy/open.yaml", "deploy/overlays/test/open.yaml", "tests/checks/open.yaml"]


def test_a_software_projects_hack_folder_is_skipped(tmp_path: Path) -> None:
    # Kubernetes' Go projects keep local clusters under hack/: a kind cluster with a CNI of its
    # own (here Calico 3.18, which enforces no AdminNetworkPolicy) is a developer's cluster, and
    # must not become the CNI of every world the project's manifests make.
    calico = (
        "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: calico-node, namespace: kube-system}\n"
        "spec:\n  selector: {matchLabels: {k8s-app: calico-node}}\n  template:\n"
        "    metadata: {labels: {k8s-app: calico-node}}\n"
        "    spec: {containers: [{name: calico-node, image: 'docker.io/calico/node:v3.18.1'}]}\n"
    )
    anp = (
        "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\n"
        "metadata: {name: deny-all}\nspec:\n  priority: 10\n  subject: {namespaces: {}}\n"
        "  ingress:\n  - name: deny\n    action: Deny\n    from: [{namespaces: {}}]\n"
    )
    _write(
        tmp_path,
        {"go.mod": "module example.org/tool\n", "hack/kind/calico.yaml": calico, "examples/anp.yaml": anp},
    )
    found = discover([str(tmp_path)], root=tmp_path)
    assert [(s.display, s.reason) for s in found.skipped if s.reason == SKIP_TEST_FOLDER] == [
        ("hack/", SKIP_TEST_FOLDER)
    ]
    assert "development scripts" in found.skipped[0].detail
    assert not lint_paths(["."], root=tmp_path, select=["NP604"]).findings
    linted = lint_paths(["."], root=tmp_path, select=["NP604"], extra={"lint-test-folders": True})
    assert [(f.rule_id, f.path, f.span.line) for f in linted.findings] == [("NP604", "examples/anp.yaml", 2)]


def test_a_nested_projects_hack_folder_is_skipped_but_not_its_test_folder(tmp_path: Path) -> None:
    # A Go module in a subfolder has its own hack/; a `test` folder below the root stays linted.
    _write(
        tmp_path,
        {
            "cmd/tool/go.mod": "module example.org/tool\n",
            "cmd/tool/hack/open.yaml": _OPEN,
            "cmd/tool/test/open.yaml": _OPEN,
            "deploy/hack/open.yaml": _OPEN,
        },
    )
    found = discover([str(tmp_path)], root=tmp_path)
    assert [s.display for s in found.skipped if s.reason == SKIP_TEST_FOLDER] == ["cmd/tool/hack/"]
    paths = sorted({f.path for f in lint_paths(["."], root=tmp_path, select=["NP105"]).findings})
    # No build file beside deploy/hack: not a project's development folder, linted.
    assert paths == ["cmd/tool/test/open.yaml", "deploy/hack/open.yaml"]


def test_holds_several_is_true_of_every_file_with_more_than_one_manifest() -> None:
    """The units pass over files it calls single: none may hold two objects that could be an alternative."""
    from nplint.loading import holds_several, iter_manifests

    several = single = 0
    for path in sorted(FIXTURES.rglob("*.y*ml")):
        loaded = load_text(str(path), path.read_text(encoding="utf-8", errors="surrogateescape"))
        count = len(list(iter_manifests(loaded)))
        if count > 1:
            assert holds_several(loaded), path
            several += 1
        elif not holds_several(loaded):
            single += 1
    # Both kinds are there to judge: bundles, lists, Kyverno policies and single objects.
    assert several > 100 and single > 100
    one_item_list = load_text("l.yaml", "kind: List\nitems: [{kind: ConfigMap, metadata: {name: a}}]\n")
    assert holds_several(one_item_list)  # a List may hold several: its items decide
