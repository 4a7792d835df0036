"""The Calico policy model: dispatch, defaulting, subjects, rule matching (policy-kinds §7)."""

from __future__ import annotations

import ipaddress
import math

import pytest

from nplint.loading import iter_manifests, load_text
from nplint.model import Direction, build_inventory
from nplint.model.calico import WELL_KNOWN_TIERS, Action, CalicoEndpoint, CalicoPolicy, PortRange, TierAction
from nplint.model.calico_selector import endpoint_labels
from nplint.model.inventory import Inventory


def _inventory(text: str) -> Inventory:
    loaded = load_text("policies.yaml", text)
    return build_inventory(iter_manifests(loaded))


def _policy(text: str) -> CalicoPolicy:
    (policy,) = _inventory(text).calico_policies
    return policy


def _pod(
    labels: dict[str, str], namespace: str, ns_labels: dict[str, str] | None = None, ip: str = "10.1.0.5"
) -> CalicoEndpoint:
    return CalicoEndpoint(
        labels=endpoint_labels(labels, namespace),
        namespace=namespace,
        namespace_labels=ns_labels or {"kubernetes.io/metadata.name": namespace},
        ips=(ipaddress.ip_address(ip),),
        named_ports={"http": (("TCP", 9090),)},
    )


HEADER = "apiVersion: {api}\nkind: {kind}\nmetadata:\n  name: p\n  {ns}\nspec:\n"


def _doc(
    spec: str, *, api: str = "projectcalico.org/v3", kind: str = "NetworkPolicy", ns: str = "namespace: shop"
) -> str:
    return HEADER.format(api=api, kind=kind, ns=ns) + spec


@pytest.mark.parametrize(
    ("spec", "api", "types"),
    [
        ("  selector: all()\n", "projectcalico.org/v3", {Direction.INGRESS}),
        ("  ingress: [{action: Allow}]\n", "projectcalico.org/v3", {Direction.INGRESS}),
        ("  egress: [{action: Allow}]\n", "projectcalico.org/v3", {Direction.EGRESS}),
        (
            "  ingress: [{action: Allow}]\n  egress: [{action: Allow}]\n",
            "projectcalico.org/v3",
            set(Direction),
        ),
        ("  types: [Egress]\n  ingress: [{action: Allow}]\n", "projectcalico.org/v3", {Direction.EGRESS}),
        # The storage version is not defaulted; Felix reads no types as both (§7.9).
        ("  egress: [{action: Allow}]\n", "crd.projectcalico.org/v1", set(Direction)),
        ("  types: [Egress]\n", "crd.projectcalico.org/v1", {Direction.EGRESS}),
    ],
)
def test_types_defaulting(spec: str, api: str, types: set[Direction]) -> None:
    policy = _policy(_doc(spec, api=api))
    assert policy.types == frozenset(types)
    assert policy.storage_version is (api == "crd.projectcalico.org/v1")


def test_dispatch_on_api_version_and_kind() -> None:
    text = "\n---\n".join(
        [
            _doc("  selector: all()\n"),
            _doc("  selector: all()\n", kind="GlobalNetworkPolicy", ns=""),
            _doc("  selector: all()\n", api="crd.projectcalico.org/v1", kind="GlobalNetworkPolicy", ns=""),
            _doc("  selector: all()\n", api="projectcalico.org/v2"),
            _doc("  selector: all()\n", kind="Tier", ns=""),
            _doc("  podSelector: {}\n", api="networking.k8s.io/v1"),
        ]
    )
    inventory = _inventory(text)
    assert [(p.api_version, p.kind, p.is_global) for p in inventory.calico_policies] == [
        ("projectcalico.org/v3", "NetworkPolicy", False),
        ("projectcalico.org/v3", "GlobalNetworkPolicy", True),
        ("crd.projectcalico.org/v1", "GlobalNetworkPolicy", True),
    ]
    assert [p.api_version for p in inventory.policies] == ["networking.k8s.io/v1"]
    assert len(inventory.objects) == 6


def test_tier_order_and_sort_key() -> None:
    policy = _policy(_doc("  tier: platform\n  order: 10\n"))
    assert (policy.tier, policy.order, policy.sort_key) == ("platform", 10.0, (10.0, "p"))
    unordered = _policy(_doc("  selector: all()\n"))
    assert (unordered.tier, unordered.order, unordered.sort_key) == ("default", None, (math.inf, "p"))


def test_unnamed_namespace_lands_in_the_units_namespace_without_changing_identity() -> None:
    policy = _policy(_doc("  selector: all()\n", ns=""))
    assert policy.namespace == ""
    assert policy.home_namespace == "default"
    assert "default" not in _inventory(_doc("  selector: all()\n", ns="")).namespaces


def test_namespaced_policy_selects_its_namespace_only() -> None:
    policy = _policy(
        _doc("  selector: app == 'web'\n  serviceAccountSelector: projectcalico.org/name == 'default'\n")
    )
    assert policy.selects(_pod({"app": "web"}, "shop"))
    assert not policy.selects(_pod({"app": "web"}, "other"))
    assert not policy.selects(_pod({"app": "db"}, "shop"))


def test_global_policy_namespace_selector() -> None:
    policy = _policy(
        _doc(
            "  selector: projectcalico.org/namespace != 'kube-system'\n  namespaceSelector: has(team)\n",
            kind="GlobalNetworkPolicy",
            ns="",
        )
    )
    assert policy.selects(_pod({}, "shop", {"team": "a"}))
    assert not policy.selects(_pod({}, "shop", {}))
    assert not policy.selects(_pod({}, "kube-system", {"team": "a"}))


def test_invalid_selector_matches_nothing() -> None:
    policy = _policy(_doc("  selector: app == web\n"))
    assert policy.selector.error is not None and policy.selector.error.offset == 7
    assert not policy.selects(_pod({"app": "web"}, "shop"))


RULES = """  ingress:
  - action: Allow
    protocol: TCP
    source:
      selector: app == 'web'
    destination:
      ports: [80, "8000:8100", http]
  - action: Deny
    source:
      namespaceSelector: team == 'a'
      selector: has(app)
  - action: Pass
    source:
      notSelector: has(app)
  - action: Allow
    notProtocol: UDP
    source:
      nets: [10.2.0.0/16]
      notNets: [10.2.3.0/24]
    destination:
      notPorts: [22]
  - action: Log
    source:
      namespaceSelector: global()
  - action: allow
"""


def test_rules_in_order_with_actions_and_matching() -> None:
    policy = _policy(_doc(RULES))
    actions = [rule.action for rule in policy.ingress]
    assert actions == [Action.ALLOW, Action.DENY, Action.PASS, Action.ALLOW, Action.LOG, None]
    first, deny, passing, nets, log, _ = policy.ingress
    assert first.peer is first.source and first.local is first.destination
    assert first.destination.ports == (PortRange(80, 80), PortRange(8000, 8100), "http")
    web_here = _pod({"app": "web"}, "shop")
    web_elsewhere = _pod({"app": "web"}, "other", {"team": "a"})
    # A namespaced policy's rule selector sees its own namespace only (§7.5).
    assert first.peer.matches_endpoint(web_here, "shop")
    assert not first.peer.matches_endpoint(web_elsewhere, "shop")
    assert first.peer.matches_endpoint(web_elsewhere, None)
    # A rule namespaceSelector opens other namespaces.
    assert deny.peer.matches_endpoint(web_elsewhere, "shop")
    assert not deny.peer.matches_endpoint(web_here, "shop")
    # notSelector negates the match, still inside the policy's namespace.
    assert passing.peer.matches_endpoint(_pod({}, "shop"), "shop")
    assert not passing.peer.matches_endpoint(_pod({}, "other"), "shop")
    assert not passing.peer.matches_endpoint(web_here, "shop")
    # nets are pure IP matches: they see pods of any namespace.
    assert nets.peer.matches_endpoint(_pod({}, "other", ip="10.2.9.9"), "shop")
    assert not nets.peer.matches_endpoint(_pod({}, "other", ip="10.2.3.9"), "shop")
    # global() selects non-namespaced resources, never a pod.
    assert not log.peer.matches_endpoint(web_here, "shop")
    # Ports: numbers, ranges, named ports resolved on the destination, notPorts, protocols.
    assert first.matches_port("TCP", 80) and first.matches_port("TCP", 8050)
    assert not first.matches_port("UDP", 80)
    assert not first.matches_port("TCP", 9090)
    assert first.matches_port("TCP", 9090, web_here)
    assert nets.matches_port("TCP", 443) and not nets.matches_port("TCP", 22)
    assert not nets.matches_port("UDP", 443)


def test_selector_fields_cover_every_selector() -> None:
    policy = _policy(_doc(RULES))
    texts = [field.text for field in policy.selector_fields]
    assert texts == [
        "",
        "app == 'web'",
        "has(app)",
        "team == 'a'",
        "has(app)",
        "global()",
    ]


def test_tiers_and_network_sets() -> None:
    text = """apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: security}
spec: {order: 100, defaultAction: Pass}
---
apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: platform}
spec: {}
---
apiVersion: crd.projectcalico.org/v1
kind: Tier
metadata: {name: odd}
spec: {defaultAction: Allow}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkSet
metadata: {name: threats, labels: {feed: threats}}
spec: {nets: [198.51.100.0/24, 203.0.113.9]}
---
apiVersion: projectcalico.org/v3
kind: NetworkSet
metadata: {name: partners}
spec: {nets: [192.0.2.0/24]}
"""
    inventory = _inventory(text)
    security, platform, odd = inventory.calico_tiers
    assert (security.order, security.default_action, security.sort_key) == (
        100.0,
        TierAction.PASS,
        (100.0, "security"),
    )
    assert (platform.order, platform.default_action, platform.sort_key) == (
        None,
        TierAction.DENY,
        (math.inf, "platform"),
    )
    assert odd.default_action is None
    assert WELL_KNOWN_TIERS["default"] == (1_000_000.0, TierAction.DENY)
    threats, partners = inventory.calico_network_sets
    assert (threats.is_global, threats.labels, [str(n) for n in threats.nets]) == (
        True,
        {"feed": "threats"},
        ["198.51.100.0/24", "203.0.113.9/32"],
    )
    assert (partners.is_global, partners.home_namespace, partners.namespace) == (False, "default", "")
