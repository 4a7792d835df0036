"""The Cilium policy model: dispatch, identity labels, namespace scoping, default deny (policy-kinds §8)."""

from __future__ import annotations

import pytest

from nplint.loading import iter_manifests, load_text
from nplint.model import Direction, build_inventory
from nplint.model.cilium import CiliumPolicy, identity_labels, label_name


def _policies(text: str) -> list[CiliumPolicy]:
    return build_inventory(iter_manifests(load_text("cilium.yaml", text))).cilium_policies


def _one(text: str) -> CiliumPolicy:
    (policy,) = _policies(text)
    return policy


def _pod(labels: dict[str, str], namespace: str, ns_labels: dict[str, str] | None = None) -> dict[str, str]:
    return identity_labels(labels, namespace, ns_labels or {}, "api")


CNP = """apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: p, namespace: shop}
"""
CCNP = """apiVersion: cilium.io/v2
kind: CiliumClusterwideNetworkPolicy
metadata: {name: p}
"""


def test_dispatch_and_specs() -> None:
    text = (
        CNP
        + "spec: {endpointSelector: {}, ingress: [{}]}\nspecs:\n- {endpointSelector: {}, egress: [{}]}\n---\n"
        + CCNP
        + "spec: {endpointSelector: {}}\n---\n"
        + "apiVersion: cilium.io/v1alpha1\nkind: CiliumNetworkPolicy\nmetadata: {name: q}\nspec: {}\n"
    )
    namespaced, clusterwide = _policies(text)
    assert (namespaced.is_clusterwide, namespaced.home_namespace, len(namespaced.specs)) == (False, "shop", 2)
    assert [spec.index for spec in namespaced.specs] == [None, 0]
    assert (clusterwide.is_clusterwide, clusterwide.home_namespace, clusterwide.namespace) == (True, "", "")


def test_identity_labels_and_keys() -> None:
    labels = _pod({"app": "web"}, "shop", {"team": "a"})
    assert labels["io.kubernetes.pod.namespace"] == "shop"
    assert labels["io.cilium.k8s.namespace.labels.team"] == "a"
    assert labels["io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name"] == "shop"
    assert labels["io.cilium.k8s.policy.serviceaccount"] == "api"
    assert (label_name("k8s:app"), label_name("any:app"), label_name("app")) == ("app", "app", "app")
    assert label_name("reserved:host") == "reserved:host"


def test_endpoint_selector_is_limited_to_the_policy_namespace() -> None:
    policy = _one(
        CNP
        + "spec:\n  endpointSelector:\n"
        + "    matchLabels: {k8s:app: web, k8s:io.kubernetes.pod.namespace: other}\n"
        + "  ingress: [{}]\n"
    )
    (spec,) = policy.specs
    # The namespace in a namespaced policy's endpointSelector is dropped (§8.4, K33).
    assert spec.selects(_pod({"app": "web"}, "shop"))
    assert not spec.selects(_pod({"app": "web"}, "other"))
    clusterwide = _one(
        CCNP
        + "spec:\n  endpointSelector:\n"
        + "    matchLabels: {io.kubernetes.pod.namespace: other}\n  ingress: [{}]\n"
    )
    # A clusterwide policy selects by the namespace label no pod carries as a pod label (K39).
    assert clusterwide.specs[0].selects(_pod({}, "other"))
    assert not clusterwide.specs[0].selects(_pod({}, "shop"))


PEERS = """spec:
  endpointSelector: {}
  ingress:
  - fromEndpoints: [{}]
  - fromEndpoints:
    - matchLabels: {io.cilium.k8s.namespace.labels.team: a}
  - fromEndpoints:
    - matchLabels: {k8s:io.kubernetes.pod.namespace: other, app: web}
  - fromEndpoints:
    - matchLabels: {reserved:host: ""}
"""


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        # CNP: peers without a namespace key stay in its namespace, even by namespace labels (K31, K32).
        (CNP, [(True, False, False), (False, False, False), (False, False, True), (False, False, False)]),
        # CCNP: every namespace; namespace labels work.
        (CCNP, [(True, True, True), (False, True, False), (False, False, True), (False, False, False)]),
    ],
)
def test_peer_namespace_scoping(head: str, expected: list[tuple[bool, bool, bool]]) -> None:
    (spec,) = _one(head + PEERS).specs
    here = _pod({"app": "web"}, "shop")
    team = _pod({"app": "web"}, "elsewhere", {"team": "a"})
    other = _pod({"app": "web"}, "other")
    found = [
        tuple(selector.matches(pod) for pod in (here, team, other))
        for rule in spec.ingress
        for selector in rule.endpoints or ()
    ]
    assert found == expected


def test_default_deny_defaulting() -> None:
    text = (
        CNP
        + """specs:
- endpointSelector: {}
  ingress: []
- endpointSelector: {}
  egressDeny: [{toEntities: [world]}]
- endpointSelector: {}
  enableDefaultDeny: {egress: false}
  egress: [{toEntities: [world]}]
- endpointSelector: {}
  egress: [{}]
"""
    )
    empty, deny_only, opted_out, deny_all = _one(text).specs
    assert not empty.has_section(Direction.INGRESS) and not empty.default_deny(Direction.INGRESS)
    assert deny_only.default_deny(Direction.EGRESS) and not deny_only.default_deny(Direction.INGRESS)
    assert opted_out.has_section(Direction.EGRESS) and not opted_out.default_deny(Direction.EGRESS)
    (rule,) = deny_all.egress
    # `egress: [{}]` is a default deny that allows nothing (§8.9, K29).
    assert deny_all.default_deny(Direction.EGRESS) and rule.matches_nothing and not rule.any_peer


def test_rules_peers_and_ports() -> None:
    text = (
        CNP
        + """spec:
  endpointSelector: {}
  egress:
  - toPorts:
    - ports: [{port: "53", protocol: UDP}, {port: "8000", endPort: 8080}, {port: http}]
      rules:
        dns: [{matchPattern: "*"}]
  - toFQDNs: [{matchName: example.com}]
  - toCIDRSet: [{cidr: 10.0.0.0/8, except: [10.1.0.0/16]}]
    toServices: [{k8sService: {serviceName: db, namespace: data}}]
  - toEntities: []
"""
    )
    ports, fqdn, cidr, nothing = _one(text).specs[0].egress
    assert ports.any_peer and not ports.matches_nothing
    assert ports.l7 == frozenset({"dns"})
    assert ports.matches_port("UDP", 53) and not ports.matches_port("TCP", 53)
    assert ports.matches_port("SCTP", 8040) and not ports.matches_port("TCP", 8081)
    assert ports.matches_port("TCP", 9090, {"http": (("TCP", 9090),)})
    assert fqdn.fqdns is not None and fqdn.fqdns[0].match_name == "example.com"
    assert fqdn.matches_port("TCP", 1) and not fqdn.any_peer
    assert cidr.peer_fields == ("toCIDRSet", "toServices")
    assert cidr.cidr_sets is not None and str(cidr.cidr_sets[0].excepts[0]) == "10.1.0.0/16"
    # An explicit empty peer list matches nothing.
    assert nothing.entities == () and nothing.matches_nothing


def test_empty_policy() -> None:
    assert _one(CNP).empty
    assert not _one(CNP + "spec: {endpointSelector: {}}\n").empty
