"""AKS: detected from its label domain or the Azure load balancer's annotations, and its DNS labels."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from helpers import FIXTURES, lint_paths, run_cli
from nplint.cluster.platform import AKS, OPENSHIFT, detect_platform, platform_facts
from nplint.config import build_config
from nplint.engine.pods import dns_pods
from nplint.loading import iter_manifests, load_text
from nplint.model import build_inventory

BAD_NOTE = FIXTURES / "NP301" / "bad" / "platform-label-dns-peer.yaml"
GOOD = FIXTURES / "NP301" / "good" / "aks-cluster-service-labels"

INTERNAL_LB = """\
apiVersion: v1
kind: Service
metadata:
  name: ingress
  namespace: ledger
  annotations: {service.beta.kubernetes.io/azure-load-balancer-internal: "true"}
spec: {selector: {app: ingress}, ports: [{port: 443}]}
"""
SYSTEM_POOL = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: agent, namespace: ledger}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      nodeSelector: {kubernetes.azure.com/mode: system}
      containers: [{name: agent, image: agent:1}]
"""
ROUTE = """\
apiVersion: route.openshift.io/v1
kind: Route
metadata: {name: web, namespace: ledger}
spec: {to: {kind: Service, name: web}}
"""
#: An annotation of another cloud's load balancer, and an Azure annotation on a Deployment's
#: object metadata (only Services are read by Azure's load balancer): neither shows AKS.
ELSEWHERE = """\
apiVersion: v1
kind: Service
metadata:
  name: ingress
  namespace: ledger
  annotations: {service.beta.kubernetes.io/aws-load-balancer-internal: "true"}
spec: {selector: {app: ingress}, ports: [{port: 443}]}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: ledger
  annotations: {service.beta.kubernetes.io/azure-load-balancer-internal: "true"}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: web:1}]}
"""


def inventory_of(*texts: str) -> Any:
    manifests = [m for i, text in enumerate(texts) for m in iter_manifests(load_text(f"f{i}.yaml", text))]
    return build_inventory(manifests)


def config(data: dict[str, Any] | None = None) -> Any:
    return build_config(data or {}, source=None, root=Path("."))


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        (INTERNAL_LB, 6, "the annotations key service.beta.kubernetes.io/azure-load-balancer-… of a Service"),
        (SYSTEM_POOL, 9, "the pod template nodeSelector key kubernetes.azure.com/mode of a Deployment"),
    ],
)
def test_aks_is_shown_by_its_label_domain_or_the_azure_load_balancer(
    text: str, line: int, reason: str
) -> None:
    platform = detect_platform(inventory_of(text), config())
    assert (platform.name, platform.source) == (AKS, "detected")
    assert platform.evidence is not None and platform.evidence.node.span.line == line
    assert platform.reason == f"AKS (detected: {reason} at f0.yaml:{line})"


def test_nothing_else_shows_aks_and_openshift_wins() -> None:
    assert detect_platform(inventory_of(ELSEWHERE), config()).name is None
    # Azure Red Hat OpenShift shows both: it is OpenShift, whose DNS is another.
    assert detect_platform(inventory_of(INTERNAL_LB, ROUTE), config()).name == OPENSHIFT


def test_declared_platform_beats_detection() -> None:
    assert (
        detect_platform(inventory_of(INTERNAL_LB), config({"cluster": {"platform": "kubernetes"}})).name
        is None
    )
    declared = detect_platform(inventory_of(), config({"cluster": {"platform": "aks"}}))
    assert (declared.name, declared.source, declared.reason) == (
        AKS,
        "declared",
        "AKS (declared in the configuration)",
    )


def test_aks_dns_pods_carry_the_platform_labels_unless_the_configuration_names_them() -> None:
    inventory = inventory_of(INTERNAL_LB)
    platform = detect_platform(inventory, config())
    (pod,) = dns_pods(inventory, platform_facts(config().cluster, platform))
    assert pod.labels == {
        "k8s-app": "kube-dns",
        "kubernetes.io/cluster-service": "true",
        "kubernetes.azure.com/managedby": "aks",
    }
    assert pod.namespace_labels["kubernetes.io/cluster-service"] == "true"
    assert pod.namespace_labels["kubernetes.io/metadata.name"] == "kube-system"
    told = config({"cluster": {"dns": {"namespace": "dns", "pod-labels": {"app": "resolver"}}}})
    (configured,) = dns_pods(inventory, platform_facts(told.cluster, platform))
    assert configured.labels == {"app": "resolver"}
    assert "kubernetes.io/cluster-service" not in configured.namespace_labels


def test_the_platform_label_note_goes_on_aks_and_stays_elsewhere(tmp_path: Path) -> None:
    quiet = lint_paths(["."], root=GOOD, select=["NP301"])
    assert [f.rule_id for f in quiet.findings] == []
    (tmp_path / "lockdown.yaml").write_text(BAD_NOTE.read_text())
    noted = lint_paths(["."], root=tmp_path, select=["NP301"])
    assert [(f.rule_id, f.span.line, f.level.value) for f in noted.findings] == [("NP301", 11, "note")]


def test_nplint_worlds_says_why_the_cluster_is_taken_for_aks() -> None:
    code, out = run_cli(["worlds", str(GOOD)])
    assert code == 0
    assert (
        "platform: AKS (detected: the annotations key service.beta.kubernetes.io/azure-load-balancer-…" in out
    )


@pytest.mark.parametrize(
    "key",
    [
        "kubernetes.azure.com/mode",
        "node.kubernetes.azure.com/pool",
        "service.beta.kubernetes.io/azure-load-balancer-internal",
    ],
)
def test_every_sign_of_aks_names_azure(key: str) -> None:
    # The scan passes over a key without "azure" at once: each sign it looks for must hold the word.
    from nplint.cluster import platform

    assert "azure" in platform._AKS_DOMAIN and "azure" in platform._AZURE_SERVICE_ANNOTATION
    assert platform._shows_aks(key, "annotations", "Service")
    assert not platform._shows_aks(key.replace("azure", "azur"), "annotations", "Service")
