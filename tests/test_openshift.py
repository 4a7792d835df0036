"""OpenShift: detected from its API groups or declared, and its DNS facts for the DNS rules."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from helpers import FIXTURES, lint_paths, run_cli
from nplint.cluster.cni import detect_cni
from nplint.cluster.platform import OPENSHIFT, detect_platform
from nplint.cluster.view import cluster_view
from nplint.config import build_config
from nplint.loading import iter_manifests, load_text
from nplint.model import build_inventory

GOOD = FIXTURES / "NP301" / "good" / "openshift-dns"
BAD = FIXTURES / "NP301" / "bad" / "openshift-kube-system-dns"

ROUTE = """\
apiVersion: route.openshift.io/v1
kind: Route
metadata: {name: web, namespace: shop}
spec: {to: {kind: Service, name: web}}
"""
SCC = """\
apiVersion: security.openshift.io/v1
kind: SecurityContextConstraints
metadata: {name: restricted-shop}
"""
CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: routes.route.openshift.io}
spec: {group: route.openshift.io}
"""
POLICY = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny, namespace: shop}
spec: {podSelector: {}, policyTypes: [Egress]}
"""


def inventory_of(*texts: str) -> Any:
    manifests = [m for i, text in enumerate(texts) for m in iter_manifests(load_text(f"f{i}.yaml", text))]
    return build_inventory(manifests)


def config(data: dict[str, Any] | None = None) -> Any:
    return build_config(data or {}, source=None, root=Path("."))


@pytest.mark.parametrize("text", [ROUTE, SCC])
def test_an_openshift_api_group_shows_openshift(text: str) -> None:
    platform = detect_platform(inventory_of(POLICY, text), config())
    assert platform.name == OPENSHIFT
    assert platform.source == "detected"
    assert platform.evidence is not None and platform.evidence.path == "f1.yaml"


@pytest.mark.parametrize("text", [POLICY, CRD])
def test_nothing_of_an_openshift_group_shows_plain_kubernetes(text: str) -> None:
    # A CRD that defines an OpenShift group installs it; it is not an object of it.
    assert detect_platform(inventory_of(text), config()).name is None


def test_declared_beats_detected() -> None:
    inventory = inventory_of(ROUTE)
    assert detect_platform(inventory, config({"cluster": {"platform": "kubernetes"}})).name is None
    declared = detect_platform(inventory_of(POLICY), config({"cluster": {"platform": "openshift"}}))
    assert (declared.name, declared.source) == (OPENSHIFT, "declared")
    by_cni = detect_platform(inventory_of(POLICY), config({"cni": "openshift"}))
    assert (by_cni.name, by_cni.source) == (OPENSHIFT, "declared")


def test_the_view_takes_the_openshift_dns_facts_and_service_network() -> None:
    view = cluster_view(inventory_of(POLICY, ROUTE), config())
    assert view.dns.namespace == "openshift-dns"
    assert dict(view.dns.pod_labels) == {"dns.operator.openshift.io/daemonset-dns": "default"}
    assert view.dns.ports == (5353,)
    assert [str(r.network) for r in view.ranges if r.role == "service"] == ["172.30.0.0/16"]


def test_declared_dns_facts_beat_the_platform() -> None:
    facts = {"cluster": {"dns": {"namespace": "dns", "pod-labels": {"app": "unbound"}}}}
    view = cluster_view(inventory_of(POLICY, ROUTE), config(facts))
    assert view.dns.namespace == "dns"
    assert view.platform.name == OPENSHIFT


def test_openshift_without_cni_evidence_runs_ovn_kubernetes() -> None:
    detection = detect_cni(inventory_of(POLICY, ROUTE), config())
    assert detection.cni == "ovn-kubernetes"
    assert detection.enforces is True
    # The network operator's configuration says which plugin, and wins.
    network = (
        "apiVersion: operator.openshift.io/v1\nkind: Network\nmetadata: {name: cluster}\n"
        "spec: {defaultNetwork: {type: OpenShiftSDN}}\n"
    )
    assert detect_cni(inventory_of(POLICY, network), config()).cni == "openshift-sdn"


def test_a_5353_rule_to_openshift_dns_satisfies_the_dns_rules() -> None:
    result = lint_paths(["."], root=GOOD, select=["NP301", "NP302", "NP603"])
    assert [f.rule_id for f in result.findings] == []


def test_only_a_kube_system_rule_is_blamed_with_the_openshift_facts() -> None:
    result = lint_paths(["."], root=BAD, select=["NP301"])
    assert [(f.rule_id, f.path, f.span.line) for f in result.findings] == [("NP301", "policy.yaml", 9)]
    finding = result.findings[0]
    assert "5353" in finding.message
    assert "openshift-dns" in finding.detail and "5353" in (finding.fix or "")
    assert "OpenShift (detected: the Route shop (route.openshift.io/v1) at route.yaml:6)" in finding.detail


def test_declaring_kubernetes_accepts_the_kube_system_rule() -> None:
    result = lint_paths(["."], root=BAD, select=["NP301"], extra={"cluster": {"platform": "kubernetes"}})
    assert result.findings == []


def test_worlds_shows_why_the_cluster_is_openshift(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(BAD, tmp_path / "repo")
    monkeypatch.chdir(tmp_path / "repo")
    code, out = run_cli(["worlds", "."])
    assert code == 0
    reason = "OpenShift (detected: the Route shop (route.openshift.io/v1) at route.yaml:6)"
    assert f"    platform: {reason}\n" in out
    code, out = run_cli(["worlds", "--format", "json", "."])
    world = json.loads(out)["worlds"][0]
    assert world["platform"]["name"] == "openshift"
    assert world["platform"]["source"] == "detected"


def test_the_dns_pods_named_ports_resolve_on_5353(tmp_path: Path) -> None:
    shutil.copytree(GOOD, tmp_path / "repo")
    policy = tmp_path / "repo" / "policy.yaml"
    text = policy.read_text(encoding="utf-8")
    named = text.replace("port: 5353}", "port: dns}", 1).replace("port: 5353}", "port: dns-tcp}", 1)
    assert "port: dns-tcp}" in named
    policy.write_text(named, encoding="utf-8")
    assert lint_paths(["."], root=tmp_path / "repo", select=["NP301", "NP302"]).findings == []


def test_a_configured_cluster_declares_its_own_platform(tmp_path: Path) -> None:
    shutil.copytree(BAD, tmp_path / "repo")
    clusters = {"clusters": {"vanilla": {"paths": ["*"], "platform": "kubernetes"}}}
    assert lint_paths(["."], root=tmp_path / "repo", select=["NP301"], extra=clusters).findings == []


def test_the_reason_stays_one_short_line_whatever_the_names() -> None:
    long = "x" * 200
    route = (
        ROUTE.replace("name: web", f"name: {long}")
        .replace("route.openshift.io/v1", f"{long}.openshift.io/v1")
        .replace("kind: Route", f"kind: {'K' * 100}")
    )
    manifests = list(iter_manifests(load_text("d" * 150 + "/route.yaml", route)))
    platform = detect_platform(build_inventory(manifests), config())
    assert platform.name == OPENSHIFT and len(platform.reason) < 180
