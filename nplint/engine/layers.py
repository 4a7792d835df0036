"""Layers around NetworkPolicy: the Network Policy API's Admin and Baseline tiers.

A side of a connection (the source's egress, the destination's ingress) is
decided by an ordered stack of layers, per connection (protocol and port):

1. the **Admin** layer — AdminNetworkPolicy and ClusterNetworkPolicy ``tier: Admin``,
   by ascending priority, rules in written order; the first matching rule decides:
   Allow/Accept and Deny are final, Pass skips the rest of the layer;
2. **NetworkPolicy** — when a policy isolates the pod in that direction it decides
   everything that reached it (the union of its allows, the rest denied);
3. the **Baseline** layer — BaselineAdminNetworkPolicy and ClusterNetworkPolicy
   ``tier: Baseline``, reached only by what neither decided; Pass goes on;
4. allowed.

This is policy-kinds §6 (the SIG's own evaluation), §9.3 (OVN-Kubernetes ACL
tiers) and §9.4 (Antrea). A CNI enforces only the kinds :data:`ADMIN_SUPPORT`
gives it; on any other the objects decide nothing and NetworkPolicy is
evaluated alone, exactly as without them.

A layer is a list of :class:`AppliedAdminRule` per pod class and direction with a
first-match, port-set evaluation (:func:`decide`). NetworkPolicy stays the engine's
own layer (``np`` below). A CNI that evaluates sides its own way — Calico's tiers,
Cilium's deny-first union — does so through :mod:`.cni_layer` instead
(:mod:`.calico_layer`, :mod:`.cilium_layer`), which takes precedence for the sides it governs.

Ports are sets, so one pass over a layer's rules decides every connection at
once: each matching rule takes the ports still open that it lists.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping, Sequence
from dataclasses import field
from typing import TYPE_CHECKING

from nplint.cluster.profiles import EngineProfile
from nplint.engine.matching import ip_block_covers
from nplint.engine.portsets import ALL_PORTS, NO_PORTS, PortSet
from nplint.model.admin import Action, AdminPeer, AdminPolicy, AdminRule, PeerKind, Tier
from nplint.model.objects import PROTOCOLS, Direction, IPBlock, IPNetwork
from nplint.model.selectors import EVERYTHING
from nplint.records import record
from nplint.untrusted import shown

if TYPE_CHECKING:
    from nplint.engine.endpoints import AddressRange, PodClass
    from nplint.engine.engine import Engine


@record(frozen=True, slots=True)
class AdminSupport:
    """Which of the Network Policy API's kinds a CNI enforces."""

    anp: bool = False
    banp: bool = False
    cnp: bool = False
    #: The highest AdminNetworkPolicy priority the CNI accepts (OVN-Kubernetes: 99).
    max_anp_priority: int = 1000
    #: How reasons name the CNI's support.
    note: str = ""
    #: Kinds whose enforcement hangs on what is not known (the CNI's version, a feature gate):
    #: the engine decides as :attr:`anp` and friends say, NP604 says nothing of them.
    unknown: frozenset[str] = frozenset()
    #: Why a kind is not enforced (kind → reason), where more can be said than "does not enforce".
    reasons: Mapping[str, str] = field(default_factory=dict)


NO_SUPPORT = AdminSupport()

#: Engine profile name → support (policy-kinds §10) where neither version nor switch changes
#: it (Calico and Antrea: :func:`admin_support`). A CNI not listed enforces none of these
#: kinds. ``upstream`` (no CNI declared or detected) follows the SIG's own semantics (§6):
#: a repository that ships these objects targets a cluster that runs them.
ADMIN_SUPPORT: Mapping[str, AdminSupport] = {
    "upstream": AdminSupport(
        True, True, True, note="no CNI is known: the Network Policy API's own semantics (policy-kinds §6)"
    ),
    "ovn-kubernetes": AdminSupport(
        True,
        True,
        False,
        max_anp_priority=99,
        note="OVN-Kubernetes enforces AdminNetworkPolicy (priority 0-99) and "
        "BaselineAdminNetworkPolicy, not ClusterNetworkPolicy (policy-kinds §9.3)",
    ),
    "kube-network-policies": AdminSupport(
        True, True, True, note="kube-network-policies enforces all three kinds (policy-kinds §9.5)"
    ),
}


def support_for(profile_name: str) -> AdminSupport:
    """The support of a CNI whose version and switches are not known."""
    return admin_support(EngineProfile(name=profile_name))


_ANP, _BANP, _CNP = "AdminNetworkPolicy", "BaselineAdminNetworkPolicy", "ClusterNetworkPolicy"
_ALL_KINDS = frozenset((_ANP, _BANP, _CNP))

#: Calico's releases per kind (policy-kinds §9.1, §10): (first, last) MAJOR.MINOR, None = open.
CALICO_RELEASES: Mapping[str, tuple[tuple[int, int], tuple[int, int] | None]] = {
    _ANP: ((3, 29), (3, 31)),
    _BANP: ((3, 30), (3, 31)),
    _CNP: ((3, 32), None),
}
#: Engine profiles that run Calico's policy engine (Felix): Canal is Calico on Flannel's network.
RUNS_CALICO = frozenset(("calico", "canal"))


def admin_support(profile: EngineProfile) -> AdminSupport:
    """Which of the Network Policy API's kinds the profile's CNI enforces, at its version and with
    its switches (policy-kinds §10); what hangs on an unknown version or gate is in ``unknown``."""
    if profile.name in RUNS_CALICO:
        return _calico_support(profile)
    if profile.name == "antrea":
        return _antrea_support(profile)
    return ADMIN_SUPPORT.get(profile.name, NO_SUPPORT)


def _releases(first: tuple[int, int], last: tuple[int, int] | None) -> str:
    low = f"{first[0]}.{first[1]}"
    return f"from {low} on" if last is None else f"from {low} to {last[0]}.{last[1]}"


def _calico_support(profile: EngineProfile) -> AdminSupport:
    version = profile.version
    # Canal runs Calico's policy engine, whose release decides.
    title = "Calico"
    if version is None:
        # Not known: decided as before versions existed (none enforced), and NP604 keeps quiet.
        reasons = {
            kind: f"{title} enforces {kind} only {_releases(*CALICO_RELEASES[kind])}, and its version "
            f"is not known (declare it: `cni: {profile.name}@3.30`)"
            for kind in _ALL_KINDS
        }
        return AdminSupport(unknown=_ALL_KINDS, reasons=reasons)
    enforced: dict[str, bool] = {}
    reasons = {}
    for kind, (first, last) in CALICO_RELEASES.items():
        enforced[kind] = version.release >= first and (last is None or version.release <= last)
        if not enforced[kind]:
            reasons[kind] = (
                f"{title} {version} does not enforce {kind}: Calico does only {_releases(first, last)}"
                " (policy-kinds §10)"
            )
    return AdminSupport(
        enforced[_ANP],
        enforced[_BANP],
        enforced[_CNP],
        note=f"{title} {version} runs them in its tiers (policy-kinds §9.1)",
        reasons=reasons,
    )


def _antrea_support(profile: EngineProfile) -> AdminSupport:
    """Antrea enforces ANP/BANP with its gate ``AdminNetworkPolicy`` and ClusterNetworkPolicy with
    ``ClusterNetworkPolicy`` (policy-kinds §9.4). A gate nobody says is taken as on, as a repository
    that ships these kinds for Antrea means it to be, and NP604 keeps quiet about it."""
    switches = profile.switches
    gates = {_ANP: "AdminNetworkPolicy", _BANP: "AdminNetworkPolicy", _CNP: "ClusterNetworkPolicy"}
    on = {kind: switches.gate(gate) for kind, gate in gates.items()}
    reasons = {
        kind: f"{profile.title} enforces {kind} only with its feature gate {gates[kind]} on, and it is "
        "off: enable the gate (`featureGates: {" + gates[kind] + ": true}` in antrea-config, "
        "policy-kinds §9.4)"
        for kind, value in on.items()
        if value is False
    }
    return AdminSupport(
        on[_ANP] is not False,
        on[_BANP] is not False,
        on[_CNP] is not False,
        note="Antrea enforces them with its feature gates AdminNetworkPolicy and ClusterNetworkPolicy on"
        + ("" if all(v is True for v in on.values()) else ", taken as on where not known")
        + " (policy-kinds §9.4)",
        unknown=frozenset(kind for kind, value in on.items() if value is None),
        reasons=reasons,
    )


def not_enforced_reason(
    policy: AdminPolicy, profile_name: str, title: str, support: AdminSupport | None = None
) -> str | None:
    """Why the CNI enforces nothing of ``policy``, or None when it enforces it.

    ``support``: the CNI's at its version and switches (:func:`admin_support`); default: unknown ones.
    """
    if support is None:
        support = support_for(profile_name)
    if policy.kind == "AdminNetworkPolicy":
        if not support.anp:
            return support.reasons.get(policy.kind) or f"{title} does not enforce AdminNetworkPolicy"
        if policy.priority is not None and policy.priority > support.max_anp_priority:
            return (
                f"{title} refuses an AdminNetworkPolicy priority above {support.max_anp_priority}"
                " and enforces nothing of it"
            )
        return None
    if policy.kind == "BaselineAdminNetworkPolicy":
        if support.banp:
            return None
        return support.reasons.get(policy.kind) or f"{title} does not enforce BaselineAdminNetworkPolicy"
    if support.cnp:
        return None
    return support.reasons.get(policy.kind) or f"{title} does not enforce ClusterNetworkPolicy"


@record(frozen=True, slots=True, eq=False)
class AppliedAdminRule:
    """An admin or baseline rule with each pod-matching peer resolved to a class set."""

    uid: int
    policy: AdminPolicy
    rule: AdminRule
    #: Each peer with the id of the class set it matches (see :meth:`Engine.class_set`).
    peers: tuple[tuple[AdminPeer, int], ...]
    has_named_port: bool


@record(frozen=True, slots=True)
class IgnoredAdminPolicy:
    policy: AdminPolicy
    reason: str


def precedence(policy: AdminPolicy) -> tuple[int, str, str]:
    """Order inside a layer: priority, then kind and name.

    Equal priorities whose rules overlap are undefined upstream (policy-kinds §3.5);
    the name decides here, as Calico does, so the answer is at least stable.
    """
    return (policy.priority if policy.priority is not None else 0, policy.kind, policy.name)


class AdminLayers:
    """The Admin and Baseline layers of every pod class and direction, for one engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.ignored: list[IgnoredAdminPolicy] = []
        self.applied: list[AppliedAdminRule] = []
        count = len(engine.classes)
        self.admin: dict[Direction, list[tuple[AppliedAdminRule, ...]]] = {
            d: [() for _ in range(count)] for d in Direction
        }
        self.baseline: dict[Direction, list[tuple[AppliedAdminRule, ...]]] = {
            d: [() for _ in range(count)] for d in Direction
        }
        #: Every enforced policy, by layer, in precedence order.
        self.enforced: dict[Tier, list[AdminPolicy]] = {Tier.ADMIN: [], Tier.BASELINE: []}
        #: The applied rules of each enforced policy (by ``id``) and direction, in written order.
        self.by_policy: dict[int, dict[Direction, tuple[AppliedAdminRule, ...]]] = {}
        self._build()

    def _build(self) -> None:
        engine = self.engine
        profile = engine.profile
        support = admin_support(profile)
        policies = sorted(engine.inventory.admin_policies, key=lambda p: (precedence(p), p.path, p.span))
        for policy in policies:
            reason = (
                not_enforced_reason(policy, profile.name, profile.title, support)
                if profile.enforces
                else f"{profile.title} enforces no network policy"
            )
            if reason is not None:
                self.ignored.append(IgnoredAdminPolicy(policy, reason))
                continue
            self.enforced[policy.tier].append(policy)
        directions = [d for d in Direction if d is Direction.INGRESS or profile.egress]
        for tier, table in ((Tier.ADMIN, self.admin), (Tier.BASELINE, self.baseline)):
            chosen: dict[Direction, dict[int, list[AppliedAdminRule]]] = {d: {} for d in directions}
            for policy in self.enforced[tier]:
                subjects = self.subjects(policy)
                for direction in directions:
                    applied = [
                        self._apply(policy, rule)
                        for rule in policy.rules(direction)
                        if rule.action is not None
                    ]
                    self.by_policy.setdefault(id(policy), {})[direction] = tuple(applied)
                    if not applied:
                        continue
                    for cls in subjects:
                        chosen[direction].setdefault(cls, []).extend(applied)
            for direction, by_class in chosen.items():
                for cls, rules in by_class.items():
                    table[direction][cls] = tuple(rules)

    def subjects(self, policy: AdminPolicy) -> frozenset[int]:
        """The classes the policy's subject selects; host-network pods never are (policy-kinds §3.3)."""
        if policy.subject_namespaces is None:
            return frozenset()
        index = self.engine.index
        return index.pods_matching(index.namespaces_matching(policy.subject_namespaces), policy.subject_pods)

    def _apply(self, policy: AdminPolicy, rule: AdminRule) -> AppliedAdminRule:
        peers = tuple((peer, self._peer_set(peer)) for peer in rule.peers)
        named = any(port.name is not None for port in rule.ports or ())
        applied = AppliedAdminRule(len(self.applied), policy, rule, peers, named)
        self.applied.append(applied)
        return applied

    def _peer_set(self, peer: AdminPeer) -> int:
        engine = self.engine
        index = engine.index
        kind = peer.kind
        if kind is PeerKind.NAMESPACES and peer.namespaces is not None:
            key: object = ("anp-namespaces", peer.namespaces.signature())
            return engine._intern(key, index.pods_matching(index.namespaces_matching(peer.namespaces), None))
        if kind is PeerKind.PODS:
            namespaces = (
                frozenset(index.namespaces_matching(peer.namespaces))
                if peer.namespaces is not None
                else index.namespaces_matching(EVERYTHING)
            )
            key = (
                "anp-pods",
                None if peer.namespaces is None else peer.namespaces.signature(),
                None if peer.pods is None else peer.pods.signature(),
            )
            return engine._intern(key, index.pods_matching(namespaces, peer.pods))
        if kind is PeerKind.NETWORKS:
            key = ("anp-networks", tuple(text for text, _ in peer.networks))
            return engine._intern(key, self._network_classes(peer))
        if kind is PeerKind.NODES and peer.pods is not None and peer.pods.is_empty:
            # Every node: host-network pods answer on their node's addresses.
            key = ("anp-nodes-all",)
            return engine._intern(key, [c.index for c in engine.classes if c.host_network])
        if kind is PeerKind.NODES and peer.pods is not None:
            # The world's Node objects whose labels match, and the host-network pods on them (they
            # answer on their node's addresses). A host-network pod whose node is not known is
            # matched by no node selector but the empty one.
            selector = peer.pods
            nodes = {c.node for c in engine.classes if c.is_node and selector.matches(c.labels)}
            key = ("anp-nodes", selector.signature())
            return engine._intern(
                key,
                [
                    c.index
                    for c in engine.classes
                    if c.host_network and c.node is not None and c.node in nodes
                ],
            )
        return engine._intern(("empty",))

    def _network_classes(self, peer: AdminPeer) -> frozenset[int]:
        """Pods a ``networks`` peer holds: it matches in-cluster traffic too (policy-kinds §3.3),
        when the CNI lets a CIDR select a pod at all (the profile's ``ipblock_matches_pods``)."""
        engine = self.engine
        if not engine.profile.ipblock_matches_pods:
            return frozenset()
        found = []
        blocks = [IPBlock(text, net, (), peer.node) for text, net in peer.networks if net is not None]  # type: ignore[arg-type]
        covers_pods = any(ip_block_covers(b, engine.pod_cidrs) for b in blocks)
        covers_nodes = any(ip_block_covers(b, engine.node_cidrs) for b in blocks)
        for cls in engine.classes:
            if cls.ips:
                if any(peer.contains(a) for a in _addresses(cls.ips)):
                    found.append(cls.index)
            elif covers_nodes if cls.host_network else covers_pods:
                found.append(cls.index)
        return frozenset(found)

    # -- evaluation -------------------------------------------------------------------

    def has_rules(self, direction: Direction, cls: int) -> bool:
        return bool(self.admin[direction][cls] or self.baseline[direction][cls])

    def matches(self, applied: AppliedAdminRule, peer: int | AddressRange) -> AdminPeer | None:
        """The rule's first peer that holds ``peer`` (a class index or an outside address range)."""
        if isinstance(peer, int):
            for candidate, set_id in applied.peers:
                if peer in self.engine.class_set(set_id):
                    return candidate
            return None
        first = peer.first_address
        for candidate, _ in applied.peers:
            if candidate.kind is PeerKind.NETWORKS and candidate.contains(first):
                return candidate
        return None

    def rule_ports(self, applied: AppliedAdminRule, destination: PodClass | None) -> PortSet:
        rule = applied.rule
        if rule.ports is None:
            return ALL_PORTS
        profile = self.engine.profile
        result = NO_PORTS
        for entry in rule.ports:
            if entry.name is not None:
                # Resolved on the destination pod: the container port of that name, any protocol.
                for container_port in destination.ports if destination is not None else ():
                    if container_port.name == entry.name and container_port.protocol in PROTOCOLS:
                        result = result | PortSet.single(container_port.protocol, container_port.port)
                continue
            if entry.protocol not in PROTOCOLS or (entry.protocol == "SCTP" and not profile.sctp):
                continue
            if entry.start is None:
                result = result | PortSet.protocol(entry.protocol)
            elif entry.end is not None and entry.end >= entry.start:
                result = result | PortSet.single(entry.protocol, entry.start, entry.end)
        return result

    def networks(self) -> list[IPNetwork]:
        """Every CIDR of the enforced policies' ``networks`` peers (they cut outside ranges)."""
        found: list[IPNetwork] = []
        for tier in (Tier.ADMIN, Tier.BASELINE):
            for policy in self.enforced[tier]:
                for rule in policy.egress:
                    for peer in rule.peers:
                        found.extend(net for _, net in peer.networks if net is not None)
        return found


@record(frozen=True, slots=True)
class Step:
    """One rule's decision on a side: the ports it took and what it did with them."""

    applied: AppliedAdminRule
    peer: AdminPeer
    action: Action
    ports: PortSet


def decide(
    layers: AdminLayers,
    rules: Sequence[AppliedAdminRule],
    peer: int | AddressRange,
    destination: PodClass | None,
    open_ports: PortSet,
    steps: list[Step] | None = None,
) -> tuple[PortSet, PortSet, PortSet]:
    """First match per port over one layer: (allowed, passed, undecided) of ``open_ports``."""
    allowed = NO_PORTS
    passed = NO_PORTS
    for applied in rules:
        if not open_ports:
            break
        matched = layers.matches(applied, peer)
        if matched is None:
            continue
        taken = layers.rule_ports(applied, destination) & open_ports
        if not taken:
            continue
        action = applied.rule.action
        assert action is not None
        if action is Action.ALLOW:
            allowed = allowed | taken
        elif action is Action.PASS:
            passed = passed | taken
        open_ports = open_ports - taken
        if steps is not None:
            steps.append(Step(applied, matched, action, taken))
    return allowed, passed, open_ports


def layered_ports(
    layers: AdminLayers,
    direction: Direction,
    subject: int,
    peer: int | AddressRange,
    destination: PodClass | None,
    np: Callable[[], PortSet] | None,
) -> PortSet:
    """What the side allows through every layer. ``np``: the NetworkPolicy verdict's ports
    when a NetworkPolicy isolates the subject in ``direction``, else None."""
    allowed, passed, rest = decide(layers, layers.admin[direction][subject], peer, destination, ALL_PORTS)
    rest = rest | passed
    if not rest:
        return allowed
    if np is not None:
        return allowed | (rest & np())
    base_allowed, base_passed, base_rest = decide(
        layers, layers.baseline[direction][subject], peer, destination, rest
    )
    return allowed | base_allowed | base_passed | base_rest


def _addresses(texts: Sequence[str]) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    found = []
    for text in texts:
        try:
            found.append(ipaddress.ip_address(text))
        except ValueError:
            continue
    return found


@record(frozen=True, slots=True)
class LayerDefaultDeny:
    """An Admin or Baseline policy whose Deny rule isolates every pod of a namespace in a direction."""

    policy: AdminPolicy
    rule: AdminRule
    #: None when the CNI enforces it; else why it decides nothing.
    not_enforced: str | None

    def describe(self) -> str:
        policy = self.policy
        return f"{policy.title} {shown(policy.name)} ({policy.path}:{policy.span.line}) {self.rule.label}"


def _whole_namespace_subject(policy: AdminPolicy, namespace_labels: Mapping[str, str]) -> bool:
    return (
        policy.subject_namespaces is not None
        and policy.subject_namespaces.matches(namespace_labels)
        and (policy.subject_pods is None or policy.subject_pods.is_empty)
    )


def _every_pod(peer: AdminPeer) -> bool:
    if peer.kind is PeerKind.NAMESPACES:
        return peer.namespaces is not None and peer.namespaces.is_empty
    if peer.kind is PeerKind.PODS:
        return (peer.namespaces is None or peer.namespaces.is_empty) and (
            peer.pods is None or peer.pods.is_empty
        )
    return False


def _every_address(peer: AdminPeer) -> bool:
    return peer.kind is PeerKind.NETWORKS and any(
        net is not None and net.prefixlen == 0 and net.version == 4 for _, net in peer.networks
    )


def denies_everything(rule: AdminRule) -> bool:
    """A Deny on every port toward every pod (ingress), or toward every IPv4 address (egress:
    ``networks: [0.0.0.0/0]`` holds the pods too, policy-kinds §3.3)."""
    if rule.action is not Action.DENY or rule.ports is not None:
        return False
    if rule.direction is Direction.INGRESS:
        return any(_every_pod(peer) for peer in rule.peers)
    return any(_every_address(peer) for peer in rule.peers)


def layer_default_denies(
    policies: Sequence[AdminPolicy],
    namespace_labels: Mapping[str, str],
    direction: Direction,
    profile_name: str,
    profile_title: str,
    enforces: bool = True,
    support: AdminSupport | None = None,
) -> list[LayerDefaultDeny]:
    """The Admin and Baseline policies that deny everything for every pod of a namespace in
    ``direction``, enforced ones first (then in precedence order). ``support``: the CNI's at its
    version and switches (:func:`admin_support`); default: the CNI's with neither known."""
    found = []
    for policy in sorted(policies, key=lambda p: (precedence(p), p.path, p.span)):
        if not _whole_namespace_subject(policy, namespace_labels):
            continue
        rule = next((r for r in policy.rules(direction) if denies_everything(r)), None)
        if rule is None:
            continue
        reason = (
            not_enforced_reason(policy, profile_name, profile_title, support)
            if enforces
            else f"{profile_title} enforces no network policy"
        )
        found.append(LayerDefaultDeny(policy, rule, reason))
    return sorted(found, key=lambda d: d.not_enforced is not None)
