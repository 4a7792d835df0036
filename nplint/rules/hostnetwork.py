"""NP209: peers whose podSelector matches only host-network pods, which selectors never match.

A pod with ``hostNetwork: true`` has its node's address; CNIs treat its
traffic as the node's, and selector peers never match it (networkpolicy-semantics
§2.10, P23). NP104 reports a policy whose own ``spec.podSelector`` selects only
such pods; this rule reports the peers that do, so a rule written to allow
node-exporter, an ingress controller on the host network or the kube-apiserver
static pods in fact allows nothing.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from nplint.findings import Finding, Level, Related, namespace_text
from nplint.loading.nodes import MapNode
from nplint.model import Direction, Inventory, LabelSelector, NetworkPolicy, Peer, Workload
from nplint.rules.base import Rule, RuleContext
from nplint.rules.coverage import peer_namespaces, shares_area, workloads_by_namespace
from nplint.untrusted import shown

CONTROL_PLANE_NAMESPACE = "kube-system"
#: The labels kubeadm gives its static control-plane pods, which always run on the host network.
CONTROL_PLANE_PODS: tuple[tuple[str, Mapping[str, str]], ...] = tuple(
    (component, {"component": component, "tier": "control-plane"})
    for component in ("kube-apiserver", "etcd", "kube-controller-manager", "kube-scheduler")
)


def host_network_only(selector: LabelSelector, workloads: Sequence[Workload]) -> list[Workload] | None:
    """The workloads ``selector`` matches when it matches some and every one runs on the host network.

    None when it matches none, or any pod with its own address: the question
    NP104 asks of ``spec.podSelector`` and this rule of a peer's.
    """
    matched = [w for w in workloads if selector.matches(w.pod_labels)]
    if not matched or not all(w.host_network for w in matched):
        return None
    return matched


def matches_host_network_pods(
    selector: LabelSelector, namespaces: Sequence[str], workloads: Mapping[str, Sequence[Workload]]
) -> bool:
    """Whether ``selector`` matches some host-network pod of ``namespaces`` (kubeadm's static ones too)."""
    for name in namespaces:
        if any(w.host_network and selector.matches(w.pod_labels) for w in workloads.get(name, ())):
            return True
        if name == CONTROL_PLANE_NAMESPACE and any(
            selector.matches(labels) for _, labels in CONTROL_PLANE_PODS
        ):
            return True
    return False


class PeerSelectsHostNetworkPods(Rule):
    id = "NP209"
    name = "peer-selects-host-network-pods"
    summary = "A peer's podSelector matches only host-network pods, whose traffic no selector matches."
    level = Level.WARNING
    tags = ("selectors",)

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        inventory = ctx.inventory
        workloads = workloads_by_namespace(inventory)
        for policy in inventory.policies:
            for direction in Direction:
                for rule in policy.rules(direction):
                    for peer in rule.peers or ():
                        finding = self._check_peer(policy, direction, peer, inventory, workloads)
                        if finding is not None:
                            yield finding

    def _check_peer(
        self,
        policy: NetworkPolicy,
        direction: Direction,
        peer: Peer,
        inventory: Inventory,
        workloads: dict[str, list[Workload]],
    ) -> Finding | None:
        selector = peer.pod_selector
        if not peer.is_selector_peer or selector is None or selector.is_empty:
            return None
        namespaces = peer_namespaces(peer, policy, inventory)
        if not namespaces:
            return None
        matched: list[Workload] = []
        static: list[str] = []
        for name in namespaces:
            here = workloads.get(name, [])
            own = [w for w in here if not w.host_network and selector.matches(w.pod_labels)]
            if own:
                return None  # some pod with its own address is matched: the peer does something
            if name == CONTROL_PLANE_NAMESPACE:
                static += [c for c, labels in CONTROL_PLANE_PODS if selector.matches(labels)]
            if here and shares_area(policy.path, here):
                matched += host_network_only(selector, here) or []
            elif name != CONTROL_PLANE_NAMESPACE or not static:
                # The namespace's pods are not in the repository: the peer may match pods of its own.
                return None
        if not matched and not static:
            return None
        names = [f"{w.kind} {shown(w.name)}" for w in matched[:3]] + [f"static pod {c}" for c in static[:2]]
        where = namespace_text(namespaces[0]) if len(namespaces) == 1 else "its namespaces"
        node = peer.node.get("podSelector") if isinstance(peer.node, MapNode) else None
        span = node.key_span if node is not None else None
        verb = "admits" if direction is Direction.INGRESS else "reaches"
        # Names (namespaces, workloads) go in the detail: the headline stays short whatever they are.
        message = (
            f"this {direction.peers_key} peer matches only host-network pods, so it {verb} nothing: "
            "allow the nodes' IPs with an ipBlock"
        )
        detail = (
            f"The podSelector {selector} matches, in {where}, {', '.join(names)}, which run with "
            "hostNetwork: true. "
            "Their traffic carries the node's address, and CNIs treat it as the node's: no podSelector or "
            "namespaceSelector matches it, so this peer allows nothing. Allow the nodes' addresses with an "
            "ipBlock (where the CNI lets an ipBlock match nodes), or a CNI host policy."
        )
        related = [Related(w.path, w.span, f"{w.ref} runs on the host network") for w in matched[:3]]
        return self.finding(
            policy,
            node if node is not None else peer.node,
            message,
            span=span,
            related=related,
            detail=detail,
        )


RULES = (PeerSelectsHostNetworkPods,)
