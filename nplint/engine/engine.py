"""The connectivity engine: which connections the policies of an inventory allow.

Semantics follow networkpolicy-semantics §2 (the reference algorithm of §2.14):
a pod is isolated per direction by the policies of its namespace that select it
with ``Ingress``/``Egress`` in their *effective* policyTypes; allows are the union
of those policies' rules; a pod-to-pod connection needs the source's egress and
the destination's ingress; host-network pods are never selected nor isolated;
named ports resolve against the destination pod. An :class:`EngineProfile`
adjusts what a CNI does differently.

NetworkPolicy is one layer of a side's verdict. The Network Policy API's Admin
and Baseline layers (AdminNetworkPolicy, BaselineAdminNetworkPolicy,
ClusterNetworkPolicy) wrap it where the CNI enforces them (:mod:`.layers`). On a
Calico or Cilium world the CNI's own layer (:mod:`.cni_layer`: Calico's tiers,
Cilium's deny-first union) decides the sides its policies govern, with
NetworkPolicy inside it. :meth:`Engine.side_ports` is the one place that stacks them.

For scale, evaluation works on pod classes (see :mod:`endpoints`) and every
distinct peer is matched once, through label indexes, to the set of classes it
selects. Results depend only on the inventory, the profile and the cluster facts.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence

from nplint.cluster.profiles import UPSTREAM, EngineProfile
from nplint.cluster.view import ClusterView, cluster_view, view_key
from nplint.config import ClusterFacts, Config
from nplint.engine.calico_layer import CalicoLayers
from nplint.engine.cilium_layer import CiliumLayers
from nplint.engine.cilium_layer import needs_layer as cilium_needs_layer
from nplint.engine.cni_layer import CNILayer
from nplint.engine.endpoints import AddressRange, PodClass, Topology, build_topology
from nplint.engine.labelindex import SelectorIndex
from nplint.engine.layers import RUNS_CALICO, AdminLayers, layered_ports
from nplint.engine.matching import ip_block_covers
from nplint.engine.portsets import ALL_PORTS, NO_PORTS, PortSet
from nplint.model import Direction, Inventory, IPBlock, NetworkPolicy, Peer, PolicyRule
from nplint.model.inventory import parse_network
from nplint.model.objects import PROTOCOLS, IPNetwork
from nplint.records import record

DIRECTIONS = (Direction.INGRESS, Direction.EGRESS)


@record(frozen=True, slots=True, eq=False)
class AppliedRule:
    """A rule with each of its peers matched to the pod classes it selects."""

    uid: int
    policy: NetworkPolicy
    rule: PolicyRule
    #: None: the rule has no ``from``/``to`` and matches every peer. Otherwise each
    #: peer with the id of its class set (see :meth:`Engine.class_set`).
    peers: tuple[tuple[Peer, int], ...] | None
    has_named_port: bool


@record(frozen=True, slots=True)
class IgnoredPolicy:
    policy: NetworkPolicy
    reason: str


class Engine:
    """Connectivity of one inventory under one CNI profile."""

    def __init__(
        self,
        inventory: Inventory,
        profile: EngineProfile = UPSTREAM,
        facts: ClusterFacts | None = None,
    ) -> None:
        self.inventory = inventory
        self.profile = profile
        facts = facts or ClusterFacts()
        self.pod_cidrs = _networks(facts.pod_cidrs)
        self.node_cidrs = _networks(facts.node_cidrs)
        self.topology: Topology = build_topology(inventory, keep_ips=profile.ipblock_matches_pods)
        self.classes: list[PodClass] = self.topology.classes
        self.index = SelectorIndex(self.classes, inventory)
        self._sets: list[frozenset[int]] = []
        self._set_ids: dict[object, int] = {}
        self._port_cache: dict[tuple[int, int], PortSet] = {}
        self.ignored: list[IgnoredPolicy] = []
        self.applied: list[AppliedRule] = []
        #: direction → class index → isolating policies / their rules
        self.isolating: dict[Direction, list[tuple[NetworkPolicy, ...]]] = {}
        self.rules: dict[Direction, list[tuple[AppliedRule, ...]]] = {}
        self._build()
        #: The Admin and Baseline layers (:mod:`.layers`); None when the inventory has none of their kinds.
        self.layers: AdminLayers | None = AdminLayers(self) if has_admin_layers(inventory) else None
        #: The CNI's own policy layer (:mod:`.cni_layer`): Calico's tiers on a Calico world with
        #: Calico policies, Cilium's union on a Cilium world with Cilium policies; else None.
        self.cni_layer: CNILayer | None = self._cni_layer()
        self._cni_cache: dict[tuple[object, ...], PortSet] = {}
        #: For each distinct way a side is decided: the ports it allows, by peer.
        self._layered_cache: list[dict[int | AddressRange, PortSet]] = []
        #: Per class, for each direction: the index in :attr:`_layered_cache` of what decides its
        #: side when a layer has rules for it, else None.
        self._layer_keys_in = self._layer_keys(Direction.INGRESS)
        self._layer_keys_out = self._layer_keys(Direction.EGRESS)
        # Direct references for the hot paths (an Enum key hashes slowly).
        self._isolating_in = self.isolating[Direction.INGRESS]
        self._isolating_out = self.isolating[Direction.EGRESS]
        self._rules_in = self.rules[Direction.INGRESS]
        self._rules_out = self.rules[Direction.EGRESS]

    # -- construction ---------------------------------------------------------------

    def _cni_layer(self) -> CNILayer | None:
        layer = _cni_layer_kind(self.profile, self.inventory)
        return layer(self) if layer is not None else None

    @classmethod
    def of_view(cls, inventory: Inventory, view: ClusterView) -> Engine:
        """The engine for one cluster view: its CNI's profile and its facts."""
        return cls(inventory, view.profile, view.facts)

    def _build(self) -> None:
        policies = sorted(self.inventory.policies, key=lambda p: (p.namespace, p.name, p.path, p.span))
        enforced: list[NetworkPolicy] = []
        for policy in policies:
            if not self.profile.named_ports and _uses_named_port(policy):
                self.ignored.append(
                    IgnoredPolicy(policy, self.profile.notes.get("named_ports", "it uses a named port"))
                )
                continue
            enforced.append(policy)
        applied: dict[int, AppliedRule] = {}
        by_namespace: dict[str, list[int]] = defaultdict(list)
        for cls in self.classes:
            by_namespace[cls.namespace].append(cls.index)
        for direction in DIRECTIONS:
            self.isolating[direction] = [() for _ in self.classes]
            self.rules[direction] = [() for _ in self.classes]
        if not self.profile.enforces:
            return
        directions = [d for d in DIRECTIONS if d is Direction.INGRESS or self.profile.egress]
        selected: dict[Direction, dict[int, list[NetworkPolicy]]] = {d: defaultdict(list) for d in directions}
        for policy in enforced:
            members = [
                i
                for i in by_namespace.get(policy.namespace, ())
                if not self.classes[i].host_network and policy.pod_selector.matches(self.classes[i].labels)
            ]
            for direction in directions:
                if policy.isolates(direction):
                    for i in members:
                        selected[direction][i].append(policy)
        for direction in directions:
            for i, chosen in selected[direction].items():
                self.isolating[direction][i] = tuple(chosen)
                rules: list[AppliedRule] = []
                for policy in chosen:
                    for rule in policy.rules(direction):
                        key = id(rule)
                        if key not in applied:
                            applied[key] = self._apply(policy, rule)
                        rules.append(applied[key])
                self.rules[direction][i] = tuple(rules)

    def _apply(self, policy: NetworkPolicy, rule: PolicyRule) -> AppliedRule:
        peers = None
        if rule.peers is not None:
            peers = tuple((peer, self._peer_set(policy.namespace, peer)) for peer in rule.peers)
        named = any(isinstance(p.port, str) for p in rule.ports or ())
        applied = AppliedRule(len(self.applied), policy, rule, peers, named)
        self.applied.append(applied)
        return applied

    def _intern(self, key: object, build: Sequence[int] | frozenset[int] | None = None) -> int:
        found = self._set_ids.get(key)
        if found is None:
            found = len(self._sets)
            self._sets.append(frozenset(build or ()))
            self._set_ids[key] = found
        return found

    def _peer_set(self, policy_namespace: str, peer: Peer) -> int:
        block = peer.ip_block
        if block is not None:
            key: object = ("ipBlock", block.cidr, tuple(text for text, _ in block.excepts))
            if key not in self._set_ids:
                self._intern(key, self._ip_block_classes(block))
            return self._set_ids[key]
        if peer.pod_selector is None and peer.namespace_selector is None:
            return self._intern(("empty",))  # rejected by the API server; matches nothing
        ns_key = (
            ("in", policy_namespace)
            if peer.namespace_selector is None
            else peer.namespace_selector.signature()
        )
        pod_key = None if peer.pod_selector is None else peer.pod_selector.signature()
        key = ("selectors", ns_key, pod_key)
        if key not in self._set_ids:
            namespaces = (
                frozenset((policy_namespace,))
                if peer.namespace_selector is None
                else self.index.namespaces_matching(peer.namespace_selector)
            )
            self._intern(key, self.index.pods_matching(namespaces, peer.pod_selector))
        return self._set_ids[key]

    def _ip_block_classes(self, block: IPBlock) -> frozenset[int]:
        if not self.profile.ipblock_matches_pods or not self.block_usable(block):
            return frozenset()
        found = []
        covers_pods = ip_block_covers(block, self.pod_cidrs)
        covers_nodes = ip_block_covers(block, self.node_cidrs)
        for cls in self.classes:
            if cls.ips:
                if any(block.contains(a) for a in _addresses(cls.ips)):
                    found.append(cls.index)
            elif covers_nodes if cls.host_network else covers_pods:
                found.append(cls.index)
        return frozenset(found)

    # -- primitives -----------------------------------------------------------------

    def class_set(self, set_id: int) -> frozenset[int]:
        return self._sets[set_id]

    def block_usable(self, block: IPBlock) -> bool:
        """False for a block the CNI ignores (``except`` on OpenShift SDN) or one that does not parse."""
        return block.network is not None and (self.profile.ipblock_except or not block.excepts)

    def is_isolated(self, cls: int, direction: Direction) -> bool:
        return bool(self.isolating[direction][cls])

    def rule_ports(self, applied: AppliedRule, destination: PodClass | None) -> PortSet:
        """The ports a rule allows toward ``destination`` (None: an external address)."""
        key = (applied.uid, destination.index if destination is not None and applied.has_named_port else -1)
        if applied.has_named_port and destination is None:
            key = (applied.uid, -2)
        found = self._port_cache.get(key)
        if found is None:
            found = self._compute_ports(applied.rule, destination)
            self._port_cache[key] = found
        return found

    def _compute_ports(self, rule: PolicyRule, destination: PodClass | None) -> PortSet:
        if rule.ports is None:
            return ALL_PORTS
        result = NO_PORTS
        for entry in rule.ports:
            protocol = entry.protocol
            if protocol not in PROTOCOLS or (protocol == "SCTP" and not self.profile.sctp):
                continue
            port = entry.port
            if port is None:
                result = result | PortSet.protocol(protocol)
            elif isinstance(port, int):
                end = entry.end_port
                high = end if end is not None and end >= port and self.profile.end_port else port
                result = result | PortSet.single(protocol, port, high)
            elif destination is not None:
                # A named port is resolved at the destination pod: name and protocol must agree (§2.6).
                for container_port in destination.ports:
                    if container_port.name == port and container_port.protocol == protocol:
                        result = result | PortSet.single(protocol, container_port.port)
        return result

    def peer_matches_class(self, applied: AppliedRule, cls: int) -> Peer | bool | None:
        """The rule's first peer that matches the class; True for a rule without peers; False for none."""
        if applied.peers is None:
            return True
        for peer, set_id in applied.peers:
            if cls in self._sets[set_id]:
                return peer
        return False

    def peer_matches_address(self, applied: AppliedRule, address: AddressRange) -> Peer | bool | None:
        """Like :meth:`peer_matches_class` for an external address (a range never split by any block)."""
        if applied.peers is None:
            return True
        first = address.first_address
        for peer, _ in applied.peers:
            block = peer.ip_block
            if block is not None and self.block_usable(block) and block.contains(first):
                return peer
        return False

    # -- connections ----------------------------------------------------------------

    def side_ports(
        self, direction: Direction, subject: int, peer: int | AddressRange, destination: PodClass | None
    ) -> PortSet:
        """What the subject pod's ``direction`` side allows with ``peer`` (ALL when nothing restricts it)."""
        cni_layer = self.cni_layer
        if cni_layer is not None and cni_layer.governs(direction, subject):
            return self._cni_side_ports(cni_layer, direction, subject, peer, destination)
        keys = self._layer_keys_in if direction is Direction.INGRESS else self._layer_keys_out
        side = keys[subject] if keys is not None else None
        if side is not None:
            # Sides decided by the same rules answer alike for one peer: one evaluation each.
            cache = self._layered_cache[side]
            found = cache.get(peer)
            if found is None:
                assert self.layers is not None
                isolated = self.is_isolated(subject, direction)
                found = layered_ports(
                    self.layers,
                    direction,
                    subject,
                    peer,
                    destination,
                    (lambda: self._np_side_ports(direction, subject, peer, destination))
                    if isolated
                    else None,
                )
                cache[peer] = found
            return found
        return self._np_side_ports(direction, subject, peer, destination)

    def _cni_side_ports(
        self,
        cni_layer: CNILayer,
        direction: Direction,
        subject: int,
        peer: int | AddressRange,
        destination: PodClass | None,
    ) -> PortSet:
        named = direction is Direction.INGRESS and self.side_has_named_port(direction, subject)
        key = (direction.value, self.side_key(direction, subject), subject if named else -1, peer)
        found = self._cni_cache.get(key)
        if found is None:
            found = cni_layer.evaluate(
                direction,
                subject,
                peer,
                destination,
                lambda policy: self.policy_ports(direction, subject, peer, destination, policy),
                ALL_PORTS,
            )
            self._cni_cache[key] = found
        return found

    def policy_ports(
        self,
        direction: Direction,
        subject: int,
        peer: int | AddressRange,
        destination: PodClass | None,
        policy: NetworkPolicy,
    ) -> PortSet:
        """What the rules of one NetworkPolicy isolating ``subject`` allow with ``peer``."""
        result = NO_PORTS
        for applied in self.rules[direction][subject]:
            if applied.policy is not policy:
                continue
            if isinstance(peer, int):
                matched = self.peer_matches_class(applied, peer)
            else:
                matched = self.peer_matches_address(applied, peer)
            if matched is not False:
                result = result | self.rule_ports(applied, destination)
        return result

    def _np_side_ports(
        self, direction: Direction, subject: int, peer: int | AddressRange, destination: PodClass | None
    ) -> PortSet:
        """The NetworkPolicy layer alone (ALL when no policy isolates the subject)."""
        ingress = direction is Direction.INGRESS
        if not (self._isolating_in if ingress else self._isolating_out)[subject]:
            return ALL_PORTS
        result = NO_PORTS
        for applied in (self._rules_in if ingress else self._rules_out)[subject]:
            if isinstance(peer, int):
                matched = self.peer_matches_class(applied, peer)
            else:
                matched = self.peer_matches_address(applied, peer)
            if matched is not False:
                result = result | self.rule_ports(applied, destination)
                if result.is_everything:
                    break
        return result

    def _layer_keys(self, direction: Direction) -> list[int | None] | None:
        layers = self.layers
        if layers is None:
            return None
        keys: list[int | None] = []
        ids: dict[tuple[object, ...], int] = {}
        for cls in range(len(self.classes)):
            if not layers.has_rules(direction, cls):
                keys.append(None)
                continue
            # An ingress named port resolves on the subject itself: then the class is part of the key.
            named = direction is Direction.INGRESS and self.side_has_named_port(direction, cls)
            key = (direction.value, self.side_key(direction, cls), cls if named else -1)
            if key not in ids:
                ids[key] = len(self._layered_cache)
                self._layered_cache.append({})
            keys.append(ids[key])
        return keys

    def restricted(self, cls: int, direction: Direction) -> bool:
        """Whether something may restrict the side: an isolating NetworkPolicy or a layer's rules."""
        layers = self.layers
        return (
            self.is_isolated(cls, direction)
            or (layers is not None and layers.has_rules(direction, cls))
            or (self.cni_layer is not None and self.cni_layer.governs(direction, cls))
        )

    def side_key(self, direction: Direction, cls: int) -> tuple[object, ...]:
        """Equal for two classes whose side the same rules decide (the answer depends on the peer only)."""
        layers = self.layers
        if self.cni_layer is not None and self.cni_layer.governs(direction, cls):
            return ("cni", self.cni_layer.side_key(direction, cls), self.rules_key(direction, cls))
        if layers is None:
            return self.rules_key(direction, cls)
        return (
            self.rules_key(direction, cls),
            self.is_isolated(cls, direction),
            tuple(a.uid for a in layers.admin[direction][cls]),
            tuple(a.uid for a in layers.baseline[direction][cls]),
        )

    def side_has_named_port(self, direction: Direction, cls: int) -> bool:
        layers = self.layers
        if self.cni_layer is not None and self.cni_layer.has_named_port(direction, cls):
            return True
        return any(a.has_named_port for a in self.rules[direction][cls]) or (
            layers is not None
            and any(
                a.has_named_port for a in (*layers.admin[direction][cls], *layers.baseline[direction][cls])
            )
        )

    def connections(self, source: int, destination: int) -> PortSet:
        """What pods of class ``source`` may open to pods of class ``destination``."""
        dst = self.classes[destination]
        egress = self.side_ports(Direction.EGRESS, source, destination, dst)
        if not egress:
            return NO_PORTS
        return egress & self.side_ports(Direction.INGRESS, destination, source, dst)

    def from_external(self, address: AddressRange, destination: int) -> PortSet:
        return self.side_ports(Direction.INGRESS, destination, address, self.classes[destination])

    def to_external(self, source: int, address: AddressRange) -> PortSet:
        return self.side_ports(Direction.EGRESS, source, address, None)

    def rules_key(self, direction: Direction, cls: int) -> tuple[int, ...]:
        return tuple(a.uid for a in self.rules[direction][cls])

    def class_flows(self, keep: frozenset[int] | None = None) -> Iterator[tuple[int, int, PortSet]]:
        """Every (source class, destination class, allowed ports) with some port allowed, unordered."""
        for destination, open_sources, evaluated in self.flows_by_destination(keep):
            for source in open_sources:
                yield source, destination, ALL_PORTS
            for source, ports in evaluated:
                yield source, destination, ports

    def flows_by_destination(
        self, keep: frozenset[int] | None = None
    ) -> Iterator[tuple[int, Iterable[int], list[tuple[int, PortSet]]]]:
        """For each destination class: the sources that may open every connection to it (neither
        side restricted), and the other sources with the ports they may use.

        Candidates are narrowed before evaluation: a source either does not
        isolate egress, or has a rule whose peers hold the destination; the
        destination either does not isolate ingress, or has a rule whose peers
        hold the source. ``keep`` limits the output to flows touching those classes.
        """
        everyone = frozenset(range(len(self.classes)))
        layers = self.layers
        # A side an Admin or Baseline rule may decide is evaluated against every peer.
        cni_layer = self.cni_layer
        layered_out = frozenset(
            c
            for c in everyone
            if (layers is not None and layers.has_rules(Direction.EGRESS, c))
            or (cni_layer is not None and cni_layer.governs(Direction.EGRESS, c))
        )
        layered_in = frozenset(
            c
            for c in everyone
            if (layers is not None and layers.has_rules(Direction.INGRESS, c))
            or (cni_layer is not None and cni_layer.governs(Direction.INGRESS, c))
        )
        egress_open = frozenset(c for c in everyone if not self._isolating_out[c]) - layered_out
        broad: set[int] = set(layered_out)
        users: dict[int, set[int]] = defaultdict(set)
        for cls in everyone - egress_open - layered_out:
            for applied in self._rules_out[cls]:
                if applied.peers is None:
                    broad.add(cls)
                    continue
                for _, set_id in applied.peers:
                    users[set_id].add(cls)
        targeted_by: dict[int, set[int]] = defaultdict(set)
        for set_id, sources in users.items():
            for member in self._sets[set_id]:
                targeted_by[member].update(sources)
        senders = egress_open | broad
        union_cache: dict[tuple[int, ...], frozenset[int] | None] = {}
        no_sources: set[int] = set()
        for destination in range(len(self.classes)):
            reaching = targeted_by.get(destination, no_sources)
            open_sources: Iterable[int] = ()
            candidates: set[int] | frozenset[int]
            if destination in layered_in:
                candidates = everyone
            elif not self._isolating_in[destination]:
                # Both sides unrestricted: every connection, nothing to evaluate.
                open_sources = egress_open
                candidates = (broad | reaching) - egress_open
            else:
                allowed_in = self._ingress_candidates(destination, union_cache)
                if allowed_in is None:
                    candidates = senders | reaching
                else:
                    candidates = (allowed_in & senders) | (reaching & allowed_in)
            if keep is not None and destination not in keep:
                open_sources = keep & egress_open if open_sources else ()
                candidates = candidates & keep
            evaluated = []
            for source in candidates:
                ports = self.connections(source, destination)
                if ports:
                    evaluated.append((source, ports))
            if open_sources or evaluated:
                yield destination, open_sources, evaluated

    def _ingress_candidates(
        self, destination: int, cache: dict[tuple[int, ...], frozenset[int] | None]
    ) -> frozenset[int] | None:
        """The classes some ingress rule of the destination admits; None for every class."""
        if not self.isolating[Direction.INGRESS][destination]:
            return None
        key = self.rules_key(Direction.INGRESS, destination)
        if key not in cache:
            members: set[int] = set()
            result: frozenset[int] | None = None
            for applied in self.rules[Direction.INGRESS][destination]:
                if applied.peers is None:
                    break
                for _, set_id in applied.peers:
                    members |= self._sets[set_id]
            else:
                result = frozenset(members)
            cache[key] = result
        return cache[key]

    def ip_blocks(self, direction: Direction) -> list[IPNetwork]:
        """Every network and ``except`` of the ipBlocks in ``direction`` rules the CNI honours."""
        found: list[IPNetwork] = []
        for policy in self.inventory.policies:
            for rule in policy.rules(direction):
                for peer in rule.peers or ():
                    block = peer.ip_block
                    if block is None or not self.block_usable(block):
                        continue
                    assert block.network is not None
                    found.append(block.network)
                    found.extend(net for _, net in block.excepts if net is not None)
        if self.layers is not None and direction is Direction.EGRESS:
            found.extend(self.layers.networks())
        if self.cni_layer is not None:
            found.extend(self.cni_layer.networks())
        return found


def _uses_named_port(policy: NetworkPolicy) -> bool:
    return any(
        isinstance(port.port, str)
        for d in DIRECTIONS
        for rule in policy.rules(d)
        for port in rule.ports or ()
    )


def _networks(texts: Sequence[str]) -> tuple[IPNetwork, ...]:
    return tuple(n for n in (parse_network(t if "/" in t else t + "/32") for t in texts) if n is not None)


def _addresses(texts: Sequence[str]) -> Iterator[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    for text in texts:
        try:
            yield ipaddress.ip_address(text)
        except ValueError:
            continue


def has_admin_layers(inventory: Inventory) -> bool:
    """Whether the engine of ``inventory`` has Admin and Baseline layers (told without building it)."""
    return bool(inventory.admin_policies)


def has_cni_layer(profile: EngineProfile, inventory: Inventory) -> bool:
    """Whether the engine of ``inventory`` under ``profile`` has a CNI layer (told without building it)."""
    return _cni_layer_kind(profile, inventory) is not None


def _cni_layer_kind(profile: EngineProfile, inventory: Inventory) -> type[CalicoLayers | CiliumLayers] | None:
    if not profile.enforces:
        return None
    # Canal is Calico's policy engine on Flannel's network: the same tiers decide.
    if profile.name in RUNS_CALICO and inventory.calico_policies:
        return CalicoLayers
    # Cilium's `always` enforcement mode isolates every pod with no policy at all (§8.9).
    if profile.name == "cilium" and (
        cilium_needs_layer(inventory) or profile.switches.cilium_mode == "always"
    ):
        return CiliumLayers
    return None


def engine_for(inventory: Inventory, config: Config) -> Engine:
    """The engine of the inventory's cluster view, built once per inventory and shared by every rule.

    The view decides the CNI (declared, else detected) and the facts; the engine
    decides nothing of it, so the rules, ``reach`` and ``diff`` agree.
    """
    view = cluster_view(inventory, config)
    return inventory.memo(("engine", *view_key(config)), lambda: Engine.of_view(inventory, view))
