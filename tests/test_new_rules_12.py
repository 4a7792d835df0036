"""NP107, NP209 and NP208's release labels beyond their fixtures: worlds, CNIs, neighbours, headlines."""

from __future__ import annotations

from pathlib import Path

from helpers import FIXTURES, lint_paths

WEBHOOK = FIXTURES / "NP107" / "bad" / "webhook-selector-only.yaml"
DOCUMENTS = WEBHOOK.read_text(encoding="utf-8").split("---\n")


def _write(folder: Path, name: str, *documents: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text("---\n".join(documents), encoding="utf-8")


def test_np107_headline_is_short_and_the_detail_names_the_service(tmp_path: Path) -> None:
    _write(tmp_path, "all.yaml", *DOCUMENTS)
    result = lint_paths(["."], root=tmp_path, select=["NP107"])
    [finding] = result.findings
    assert (finding.path, finding.span.line, finding.span.column) == ("all.yaml", 10, 5)
    assert len(finding.message) < 160
    assert "Service guard/guard-webhook" in finding.detail
    assert "Deployment guard/guard" in finding.detail
    assert [r.path for r in finding.related] == ["all.yaml", "all.yaml"]


def test_np107_judges_one_world_at_a_time(tmp_path: Path) -> None:
    # The webhook's world does not hold the Service: nothing is known of its pods there.
    webhook, service, deployment, policy = DOCUMENTS
    _write(tmp_path / "a", "hook.yaml", webhook, deployment, policy)
    _write(tmp_path / "b", "service.yaml", service)
    clusters = {"clusters": {"a": {"paths": ["a/*"]}, "b": {"paths": ["b/*"]}}}
    assert lint_paths(["."], root=tmp_path, select=["NP107"], extra=clusters).findings == []
    together = lint_paths(["."], root=tmp_path, select=["NP107"])
    assert [(f.rule_id, f.path) for f in together.findings] == [("NP107", "a/hook.yaml")]


def test_np107_openshift_host_network_namespace_label_admits_the_api_server(tmp_path: Path) -> None:
    policy = DOCUMENTS[3].replace(
        "    - podSelector: {}\n",
        "    - namespaceSelector:\n"
        "        matchLabels: {policy-group.network.openshift.io/host-network: ''}\n",
    )
    assert policy != DOCUMENTS[3]
    _write(tmp_path, "all.yaml", *DOCUMENTS[:3], policy)
    assert lint_paths(["."], root=tmp_path, select=["NP107"]).findings == []


def test_np107_a_host_network_webhook_is_not_isolated(tmp_path: Path) -> None:
    deployment = DOCUMENTS[2].replace(
        "    spec:\n      containers:", "    spec:\n      hostNetwork: true\n      containers:"
    )
    assert deployment != DOCUMENTS[2]
    _write(tmp_path, "all.yaml", DOCUMENTS[0], DOCUMENTS[1], deployment, DOCUMENTS[3])
    assert lint_paths(["."], root=tmp_path, select=["NP107"]).findings == []


KUBE_SYSTEM = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: coredns, namespace: kube-system}
spec:
  selector: {matchLabels: {k8s-app: kube-dns}}
  template:
    metadata: {labels: {k8s-app: kube-dns}}
    spec:
      containers: [{name: coredns, image: coredns:1}]
"""
FROM_APISERVER = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: from-apiserver, namespace: kube-system}
spec:
  podSelector: {matchLabels: {k8s-app: kube-dns}}
  policyTypes: [Ingress]
  ingress:
  - from:
    - podSelector: {matchLabels: {component: kube-apiserver}}
"""


def test_np209_takes_the_static_pods_np206_leaves_them(tmp_path: Path) -> None:
    # kube-system's workloads are in the repository, and none carries the selector's labels.
    _write(tmp_path, "kube-system.yaml", KUBE_SYSTEM, FROM_APISERVER)
    result = lint_paths(["."], root=tmp_path, select=["NP206", "NP209"])
    assert [(f.rule_id, f.path, f.span.line) for f in result.findings] == [("NP209", "kube-system.yaml", 19)]
    finding = result.findings[0]
    assert len(finding.message) < 160
    assert "static pod kube-apiserver" in finding.detail


def test_np206_still_reports_a_typo_next_to_host_network_pods(tmp_path: Path) -> None:
    # In a namespace the repository owns (kube-system is never fully known: see NP206's page).
    owned = KUBE_SYSTEM.replace("kube-system", "dns-tests")
    exporter = """\
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: exporter, namespace: dns-tests}
spec:
  selector: {matchLabels: {app: exporter}}
  template:
    metadata: {labels: {app: exporter}}
    spec:
      hostNetwork: true
      containers: [{name: exporter, image: exporter:1}]
"""
    typo = FROM_APISERVER.replace("component: kube-apiserver", "k8s-app: kube-dsn").replace(
        "kube-system", "dns-tests"
    )
    _write(tmp_path, "dns-tests.yaml", owned, exporter, typo)
    result = lint_paths(["."], root=tmp_path, select=["NP206", "NP209"])
    assert [f.rule_id for f in result.findings] == ["NP206"]


def test_np208_release_label_in_a_peer(tmp_path: Path) -> None:
    policy = FROM_APISERVER.replace("component: kube-apiserver", "app.kubernetes.io/version: 0.18.1")
    _write(tmp_path, "p.yaml", policy)
    result = lint_paths(["."], root=tmp_path, select=["NP208"])
    assert [(f.rule_id, f.span.line, f.span.column) for f in result.findings] == [("NP208", 9, 35)]
    assert "`app.kubernetes.io/version: 0.18.1`" in result.findings[0].message


def test_np208_release_headline_stays_short_with_a_long_value(tmp_path: Path) -> None:
    value = "a-very-long-chart-name-for-a-test-" + "x" * 60 + "-10.20.30-rc.1"
    policy = FROM_APISERVER.replace("component: kube-apiserver", f"helm.sh/chart: {value}")
    _write(tmp_path, "p.yaml", policy)
    [finding] = lint_paths(["."], root=tmp_path, select=["NP208"]).findings
    assert len(finding.message) < 160
