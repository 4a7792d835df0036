"""False patterns the blind corpus of issue 12 found, each pinned where a fixture cannot say it all.

The fixtures under ``tests/fixtures/<rule>/`` pin the positions; these tests pin
what the fixtures cannot: a finding's level, its worlds, what a message asks
for, and the loader's view of a merged mapping.
"""

from __future__ import annotations

from pathlib import Path

from helpers import FIXTURES, lint_paths
from nplint.cluster.platform_owned import platform_label, platform_namespace, with_platform_labels
from nplint.findings import Level
from nplint.loading import load_text
from nplint.loading.nodes import MapNode, Node, SeqNode
from nplint.model import LabelSelector, Operator, Requirement

WORLDS = FIXTURES / "worlds"


def _plain(node: Node | None) -> object:
    if isinstance(node, MapNode):
        return {key: _plain(value) for key, value in node.entries.items()}
    if isinstance(node, SeqNode):
        return [_plain(item) for item in node.items]
    return None if node is None else node.value


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


# -- YAML merge keys -------------------------------------------------------------------------


def test_a_key_written_beside_a_merge_overrides_the_merged_value() -> None:
    loaded = load_text(
        "m.yaml",
        "base: &base {name: web, image: web:1}\n"
        "after:\n  <<: *base\n  name: sidecar\n"
        "before:\n  name: early\n  <<: *base\n"
        "both:\n  <<: [{image: first:1}, *base]\n",
    )
    [document] = loaded.documents
    assert document.problems == [] and loaded.problems == []
    assert _plain(document.root) == {
        "base": {"name": "web", "image": "web:1"},
        "after": {"image": "web:1", "name": "sidecar"},
        "before": {"name": "early", "image": "web:1"},
        "both": {"image": "first:1", "name": "web"},
    }
    # A merged value is read where it was merged: its node's parent and key are there.
    root = document.root
    assert isinstance(root, MapNode)
    after = root.entries["after"]
    assert isinstance(after, MapNode)
    image = after.entries["image"]
    assert (image.parent, image.key, image.span.line) == (after, "image", 1)


def test_a_key_written_twice_beside_a_merge_is_still_a_duplicate() -> None:
    loaded = load_text("m.yaml", "base: &base {name: web}\nx:\n  <<: *base\n  name: a\n  name: b\n")
    [document] = loaded.documents
    assert [(p.span.line, p.message.split(";")[0]) for p in document.problems] == [
        (5, "not valid YAML: duplicate key 'name' (first at line 4)")
    ]
    assert _plain(document.root) == {"base": {"name": "web"}, "x": {"name": "b"}}


# -- namespaces the platform owns --------------------------------------------------------------


def test_platform_namespaces() -> None:
    assert platform_namespace("kube-system", defined=False)
    assert platform_namespace("kube-system", defined=True)  # labelled by the repository, still Kubernetes'
    assert platform_namespace("kube-node-lease", defined=False)
    assert platform_namespace("openshift-monitoring", defined=False)
    assert not platform_namespace("openshift-monitoring", defined=True)
    assert not platform_namespace("default", defined=False)
    assert not platform_namespace("kube-prometheus", defined=False)
    assert not platform_namespace("shop", defined=False)


def test_a_workload_in_kube_system_gets_a_note_for_its_own_pods_not_a_default_deny_demand(
    tmp_path: Path,
) -> None:
    text = (FIXTURES / "NP102" / "bad" / "platform-namespace-note.yaml").read_text()
    root = _write(tmp_path, {"tuner.yaml": text})
    # A suggestion, never a demand: a note even where the configuration raises the rule's level.
    raised = {"rules": {"NP101": {"level": "error"}}}
    result = lint_paths(["."], root=root, select=["NP101", "NP102"], extra=raised)
    assert [(f.rule_id, f.level, f.span.line) for f in result.findings] == [
        ("NP101", Level.NOTE, 6),
        ("NP102", Level.NOTE, 6),
    ]
    ingress = result.findings[0]
    assert ingress.message == (
        "namespace 'kube-system' is the platform's: isolate the ingress of DaemonSet node-tuner by its labels"
    )
    assert ingress.detail.startswith("Not with `podSelector: {}`")
    assert ingress.fix is not None
    assert 'podSelector: {matchLabels: {"app": "node-tuner"}}' in ingress.fix
    assert "podSelector: {}" not in ingress.fix


def test_a_namespace_of_the_repository_still_gets_the_default_deny_demand(tmp_path: Path) -> None:
    text = (FIXTURES / "NP102" / "bad" / "platform-namespace-note.yaml").read_text()
    root = _write(tmp_path, {"app.yaml": text.replace("kube-system", "default")})
    result = lint_paths(["."], root=root, select=["NP101"])
    assert [(f.rule_id, f.level) for f in result.findings] == [("NP101", Level.WARNING)]
    assert "podSelector: {}" in result.findings[0].message


# -- NP603 once per run --------------------------------------------------------------------------


def test_np603_is_said_once_when_every_cluster_leaves_the_cni_open() -> None:
    result = lint_paths(["."], root=WORLDS / "fleet", select=["NP603"])
    assert [w.label for w in result.worlds] == ["cluster a", "cluster b"]
    assert [(f.rule_id, f.path, f.span.line, f.worlds) for f in result.findings] == [
        ("NP603", "apps/a/shop.yaml", 22, ())
    ]
    # A policy is counted once however many clusters hold it: both clusters hold shop/web.
    assert result.findings[0].detail.startswith("The NetworkPolicy of this repository is enforced")


def test_np603_names_the_worlds_whose_cni_is_unknown_when_others_declare_one() -> None:
    clusters = {"east": {"paths": ["apps/a/*", "clusters/a/*"], "cni": "calico"}}
    result = lint_paths(["."], root=WORLDS / "fleet", select=["NP603"], extra={"clusters": clusters})
    assert [w.label for w in result.worlds] == ["cluster east", "units no cluster holds"]
    assert [(f.path, f.span.line, f.worlds) for f in result.findings] == [
        ("apps/b/shop.yaml", 24, ("units no cluster holds",))
    ]
    message = result.findings[0].message
    assert result.findings[0].detail.startswith("The NetworkPolicy of this repository is enforced only if")
    assert message.endswith("(in units no cluster holds)")


def test_np603_says_nothing_when_every_cluster_declares_its_cni() -> None:
    clusters = {
        "east": {"paths": ["apps/a/*", "clusters/a/*"], "cni": "calico"},
        "west": {"paths": ["apps/b/*", "clusters/b/*"], "cni": "cilium"},
    }
    result = lint_paths(["."], root=WORLDS / "fleet", select=["NP603"], extra={"clusters": clusters})
    assert [w.label for w in result.worlds] == ["cluster east", "cluster west"]
    assert result.findings == []


def test_np603_one_world_with_a_declared_cni_says_nothing() -> None:
    clusters = {"all": {"paths": ["**"], "cni": "calico"}}
    result = lint_paths(["."], root=WORLDS / "fleet", select=["NP603"], extra={"clusters": clusters})
    assert [w.label for w in result.worlds] == ["cluster all"]
    assert result.findings == []


# -- labels the platform sets --------------------------------------------------------------------


def test_platform_labels_are_the_reserved_kubernetes_domains() -> None:
    assert platform_label("kubernetes.io/cluster-service")
    assert platform_label("app.kubernetes.io/name")
    assert platform_label("k8s.io/role")
    assert not platform_label("kubernetes.io/metadata.name")  # the namespace's name: known
    assert not platform_label("name")
    assert not platform_label("example.com/kubernetes.io")
    assert not platform_label("notkubernetes.io/x")


def test_platform_labels_a_selector_asks_for_are_assumed_where_unknown() -> None:
    selector = LabelSelector(
        (("kubernetes.io/cluster-service", "true"), ("name", "kube-system")),
        (
            Requirement("addon.k8s.io/mode", Operator.IN, frozenset({"Reconcile", "EnsureExists"})),
            Requirement("k8s-app", Operator.EXISTS, frozenset()),
        ),
    )
    known = {"kubernetes.io/metadata.name": "kube-system"}
    assert with_platform_labels(selector, known) == {
        "kubernetes.io/metadata.name": "kube-system",
        "kubernetes.io/cluster-service": "true",
        "addon.k8s.io/mode": "EnsureExists",
    }
    # What is known stands: a known value is never replaced by the one the selector wants.
    assert with_platform_labels(selector, {"kubernetes.io/cluster-service": "false"}) == {
        "kubernetes.io/cluster-service": "false",
        "addon.k8s.io/mode": "EnsureExists",
    }
    assert with_platform_labels(None, known) == known


# -- NP301 and the labels a managed provider sets --------------------------------------------------

_LOCKDOWN = (FIXTURES / "NP301" / "bad" / "platform-label-dns-peer.yaml").read_text()


def test_a_dns_peer_on_platform_labels_is_a_note_that_cannot_tell(tmp_path: Path) -> None:
    root = _write(tmp_path, {"lockdown.yaml": _LOCKDOWN})
    result = lint_paths(["."], root=root, select=["NP301"], extra={"cni": "calico"})
    assert [(f.rule_id, f.level, f.span.line, f.span.column) for f in result.findings] == [
        ("NP301", Level.NOTE, 11, 11)
    ]
    finding = result.findings[0]
    assert finding.message.startswith("DNS may fail for every pod of namespace 'ledger'")
    assert "`kubernetes.io/cluster-service`" in finding.message
    assert "will fail" not in finding.message


def test_a_dns_peer_on_a_label_nothing_sets_still_fails(tmp_path: Path) -> None:
    # `name` is nobody's label on kube-system: the classic mistake stays an error.
    text = _LOCKDOWN.replace('kubernetes.io/cluster-service: "true"}}', "name: kube-system}}", 1)
    root = _write(tmp_path, {"lockdown.yaml": text})
    result = lint_paths(["."], root=root, select=["NP301"], extra={"cni": "calico"})
    assert [(f.level, f.span.line) for f in result.findings] == [(Level.ERROR, 8)]
    assert "name lookups fail" in result.findings[0].message


def test_dns_pods_the_repository_ships_have_known_labels(tmp_path: Path) -> None:
    # The repository ships the DNS pods: their labels are known, and they lack the one the peer wants.
    coredns = (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: coredns, namespace: kube-system}\n"
        "spec:\n  selector: {matchLabels: {k8s-app: kube-dns}}\n  template:\n"
        "    metadata: {labels: {k8s-app: kube-dns}}\n"
        "    spec: {containers: [{name: coredns, image: example.org/coredns:1}]}\n"
    )
    root = _write(tmp_path, {"lockdown.yaml": _LOCKDOWN, "coredns.yaml": coredns})
    result = lint_paths(["."], root=root, select=["NP301"], extra={"cni": "calico"})
    assert [(f.path, f.level, f.span.line) for f in result.findings] == [("lockdown.yaml", Level.ERROR, 8)]
