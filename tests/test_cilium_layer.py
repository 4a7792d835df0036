"""The Cilium layer of the engine (policy-kinds §8.4–§8.10, §9.2): CiliumNetworkPolicy,
CiliumClusterwideNetworkPolicy and NetworkPolicy as one union per side, deny rules first,
default deny per ``enableDefaultDeny``, entities as far as the inventory knows them."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import lint_paths
from nplint.cluster.profiles import engine_profile
from nplint.engine.engine import Engine
from nplint.engine.matrix import compute_matrix
from nplint.engine.verdict import explain
from nplint.loading import iter_manifests, load_text
from nplint.model import Inventory, build_inventory

PODS = """\
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {team: shop}}
---
apiVersion: v1
kind: Namespace
metadata: {name: other}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web}}
spec: {containers: [{name: w, image: w, ports: [{name: http, containerPort: 8080}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: other, labels: {app: client}}
spec: {containers: [{name: c, image: c}]}
"""

# A clusterwide default deny in both directions (`ingress: [{}]` allows nothing but opens the
# section, §8.9), DNS to the world let out.
CCNP_DEFAULT_DENY = """\
apiVersion: cilium.io/v2
kind: CiliumClusterwideNetworkPolicy
metadata: {name: default-deny}
spec:
  endpointSelector: {}
  ingress: [{}]
  egress:
  - toEntities: [world]
    toPorts: [{ports: [{port: "53", protocol: UDP}]}]
"""

CNP_WEB = """\
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: web, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: web}}
  ingress:
  - fromEndpoints: [{matchLabels: {k8s:io.kubernetes.pod.namespace: other}}]
    toPorts: [{ports: [{port: http}]}]
  ingressDeny:
  - fromEntities: [cluster]
    toPorts: [{ports: [{port: "8081"}]}]
"""

CNP_CLIENT = """\
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: client, namespace: other}
spec:
  endpointSelector: {}
  egress:
  - toEndpoints: [{matchLabels: {k8s:io.kubernetes.pod.namespace: shop}}]
"""

NP_WEB_9090 = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: shop}
spec:
  podSelector: {}
  ingress:
  - ports: [{port: 9090}, {port: 8081}]
"""


def inventory(*texts: str) -> Inventory:
    loaded = load_text("all.yaml", "---\n".join(texts))
    return build_inventory(list(iter_manifests(loaded)))


def verdict(inv: Inventory, port: int, cni: str = "cilium") -> tuple[bool, list[str]]:
    engine = Engine(inv, engine_profile(cni))
    topology = engine.topology
    found = explain(engine, topology.resolve("other/client"), topology.resolve("shop/web"), "TCP", port)
    return found.allowed, found.reasons()


def flows(inv: Inventory, cni: str = "cilium") -> list[tuple[str, str, str]]:
    engine = Engine(inv, engine_profile(cni))
    return sorted((f.source.key, f.destination.key, f.ports.describe()) for f in compute_matrix(engine))


def test_union_with_deny_precedence_and_default_deny() -> None:
    inv = inventory(PODS, CCNP_DEFAULT_DENY, CNP_WEB, CNP_CLIENT)
    assert flows(inv) == [
        ("other/client[Pod]", "0.0.0.0/0", "UDP 53"),
        ("other/client[Pod]", "shop/web[Pod]", "TCP 8080"),
        ("shop/web[Pod]", "0.0.0.0/0", "UDP 53"),
    ]
    allowed, reasons = verdict(inv, 8080)
    assert allowed
    assert reasons[:2] == [
        "egress of other/client[Pod]: CiliumNetworkPolicy other/client (all.yaml:43) egress rule 0 "
        "(all.yaml:47): allows TCP 8080",
        "ingress of shop/web[Pod]: CiliumNetworkPolicy shop/web (all.yaml:31) ingress rule 0 (all.yaml:35): "
        "allows TCP 8080",
    ]
    allowed, reasons = verdict(inv, 9090)
    assert not allowed
    assert reasons[1] == (
        "ingress of shop/web[Pod]: no rule allows TCP 9090: denied, the direction is in default deny "
        "through CiliumClusterwideNetworkPolicy default-deny (all.yaml:21), CiliumNetworkPolicy shop/web "
        "(all.yaml:31)"
    )


def test_a_deny_beats_a_network_policy_allow_and_network_policy_joins_the_union() -> None:
    inv = inventory(PODS, CNP_WEB, NP_WEB_9090)
    allowed, reasons = verdict(inv, 8081)
    assert not allowed
    assert reasons[1] == (
        "ingress of shop/web[Pod]: CiliumNetworkPolicy shop/web (all.yaml:21) ingressDeny rule 0 "
        "(all.yaml:28): denies (deny rules come first) TCP 8081"
    )
    allowed, reasons = verdict(inv, 9090)
    assert allowed
    assert reasons[1] == (
        "ingress of shop/web[Pod]: NetworkPolicy shop/web (all.yaml:33), which Cilium adds to the union: "
        "allows TCP 9090"
    )


def test_enable_default_deny_false_keeps_other_traffic_open() -> None:
    opt_out = CNP_WEB.replace("  ingress:\n", "  enableDefaultDeny: {ingress: false}\n  ingress:\n")
    inv = inventory(PODS, opt_out)
    assert verdict(inv, 9090)[0]
    assert not verdict(inv, 8081)[0]  # the deny rule still applies
    allowed, reasons = verdict(inv, 7070)
    assert allowed
    assert reasons[1] == (
        "ingress of shop/web[Pod]: no rule decides TCP 7070 and no selecting rule puts the direction in "
        "default deny: allowed"
    )


def test_a_namespaced_peer_without_namespace_stays_in_its_namespace() -> None:
    # CNP `fromEndpoints: [{}]` is its own namespace only (§8.4): the client in `other` is not in it.
    own = CNP_WEB.replace("[{matchLabels: {k8s:io.kubernetes.pod.namespace: other}}]", "[{}]")
    assert not verdict(inventory(PODS, own), 8080)[0]
    clusterwide = own.replace("kind: CiliumNetworkPolicy", "kind: CiliumClusterwideNetworkPolicy").replace(
        ", namespace: shop", ""
    )
    assert verdict(inventory(PODS, clusterwide), 8080)[0]


@pytest.mark.parametrize("cni", ["calico", "ovn-kubernetes", None])
def test_cilium_policies_decide_nothing_where_cilium_does_not_run(cni: str | None) -> None:
    inv = inventory(PODS, CCNP_DEFAULT_DENY, CNP_WEB, NP_WEB_9090)
    assert flows(inv, cni or "upstream") == flows(inventory(PODS, NP_WEB_9090), cni or "upstream")


def test_cidr_rules_match_outside_addresses_never_pods() -> None:
    cidr = """\
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: out, namespace: other}
spec:
  endpointSelector: {}
  egress:
  - toCIDRSet: [{cidr: 0.0.0.0/0, except: [10.0.0.0/8]}]
"""
    assert [f for f in flows(inventory(PODS, cidr)) if f[0] == "other/client[Pod]"] == [
        ("other/client[Pod]", "0.0.0.0-9.255.255.255", "All Connections"),
        ("other/client[Pod]", "11.0.0.0-255.255.255.255", "All Connections"),
    ]


def test_a_failed_probe_points_at_the_deciding_cilium_rule(tmp_path: Path) -> None:
    (tmp_path / "all.yaml").write_text("---\n".join((PODS, CNP_WEB)), encoding="utf-8")
    (tmp_path / "probes.yaml").write_text(
        "- {from: other/client, to: shop/web, port: 8081, expect: allow}\n", encoding="utf-8"
    )
    result = lint_paths(
        ["."], root=tmp_path, select=["NP801"], extra={"expect": "probes.yaml", "cni": "cilium"}
    )
    (finding,) = result.findings
    assert [(r.path, r.span.line, r.message) for r in finding.related] == [
        ("all.yaml", 28, "ingress deny rule 0 of CiliumNetworkPolicy web")
    ]


def test_where_cilium_does_not_run_the_reasons_say_its_policies_decide_nothing() -> None:
    allowed, reasons = verdict(inventory(PODS, CNP_WEB), 8081, cni="calico")
    assert allowed
    assert reasons[-1] == (
        "CiliumNetworkPolicy shop/web (all.yaml:21) selects an end but decides nothing: Calico does not "
        "enforce CiliumNetworkPolicy or CiliumClusterwideNetworkPolicy"
    )
