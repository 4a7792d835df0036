"""The Cilium layer: the union of allows with deny precedence on a Cilium world (policy-kinds §8.9,
§8.10, §9.2).

Per side of a pod, the rules that count are those of every CiliumNetworkPolicy and
CiliumClusterwideNetworkPolicy rule (``spec`` / ``specs[i]``) whose endpointSelector selects
the pod, together with the Kubernetes NetworkPolicies that isolate it (Cilium translates them
into its own rules, ``derived-from=NetworkPolicy``):

* a connection some matching deny rule (``ingressDeny`` / ``egressDeny``) holds is denied,
  whatever allows it;
* else one some matching allow rule (or isolating NetworkPolicy rule) holds is allowed;
* else it is denied when the direction is in default deny — some selecting Cilium rule
  requests it (``enableDefaultDeny``, defaulted to true when the rule has a section for the
  direction, §8.2) or a NetworkPolicy isolates the pod — and allowed otherwise.

Peers: ``fromEndpoints``/``toEndpoints`` over identity labels (§8.3, with the namespace Cilium
adds, §8.4, and the pod's service account); CIDR rules match outside addresses only, never a
pod or node (§8.6); entities ``all`` (everything), ``cluster`` (every pod, host-network ones
and nodes included), ``world`` (every outside address; ``world-ipv4``/``world-ipv6`` by
family), ``host`` and ``remote-node`` (§8.5): ``host`` is the node the pod of the side runs on
and the host-network pods on it, ``remote-node`` every other node and its host-network pods.
Nodes are the ``kind: Node`` objects of the world; a pod's node is its ``spec.nodeName``. When
the side's pod or the peer carries no node name, which node is which is unknown, and both
entities stand for every node and host-network pod, as the verdict's notes say.

Traffic from the local host (the pod's own node, and the host-network pods on it) to a pod
is allowed whatever the rules say (allow-localhost, §8.9, §9.2), when both nodes are known.

Host policies (a CiliumClusterwideNetworkPolicy with ``nodeSelector``) select the Nodes of
the world whose labels match, and the host-network pods on them; Cilium enforces them only
with its host firewall on, which nplint takes as given where such a policy exists.

Not modelled (they match nothing here): ``toFQDNs`` (the addresses DNS answers are not
known), ``toServices``, ``toGroups``, ``fromNodes``/``toNodes`` (node identities by label need
an agent option), CIDR group references, the entities ``kube-apiserver``, ``ingress``,
``health``, ``init``, ``unmanaged`` and ``none``; ``fromRequires``/``toRequires`` (removed
in 1.19) are not applied.

The world's release and switches change two things: before Cilium 1.9 deny sections do not
exist and apply nothing (policy-kinds §10), and ``policy-enforcement-mode: always`` puts every
pod in default deny both ways with no policy at all (§8.9, K40); ``never`` enforces nothing,
which the profile says (it does not enforce), so no layer is built.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from nplint.engine.portsets import ALL_PORTS, NO_PORTS, PortSet
from nplint.model.cilium import CiliumPolicy, CiliumRule, CiliumSpec, identity_labels, normalized
from nplint.model.objects import PROTOCOLS, Direction, IPNetwork, NetworkPolicy
from nplint.records import record
from nplint.untrusted import shown

if TYPE_CHECKING:
    from nplint.engine.cni_layer import LayerStep
    from nplint.engine.endpoints import AddressRange, PodClass
    from nplint.engine.engine import Engine
    from nplint.model.inventory import Inventory

#: The entities whose members depend on the node the side's pod runs on (§8.5).
NODE_ENTITIES = frozenset(("host", "remote-node"))

#: The first Cilium release with ``ingressDeny`` / ``egressDeny`` (policy-kinds §10).
DENY_RELEASE = (1, 9)


@record(frozen=True, slots=True, eq=False)
class SelectingSpec:
    """A Cilium rule (``spec`` or ``specs[i]``) that selects a pod for one direction."""

    uid: int
    policy: CiliumPolicy
    spec: CiliumSpec
    default_deny: bool


def policy_title(policy: CiliumPolicy) -> str:
    where = (
        shown(policy.name)
        if policy.is_clusterwide
        else f"{shown(policy.home_namespace)}/{shown(policy.name)}"
    )
    return f"{policy.kind} {where} ({policy.path}:{policy.span.line})"


def spec_title(selecting: SelectingSpec) -> str:
    index = selecting.spec.index
    host = " (a host policy: enforced with Cilium's host firewall on)" if selecting.spec.node_selector else ""
    return policy_title(selecting.policy) + (f" specs[{index}]" if index is not None else "") + host


def needs_layer(inventory: Inventory) -> bool:
    """Whether a Cilium world needs the layer: Cilium policies decide, or a pod's node is known, so
    the local host's exemption (allow-localhost, §8.9) changes what NetworkPolicies alone decide."""
    return bool(inventory.cilium_policies) or (
        any(w.node_name for w in inventory.workloads)
        and (bool(inventory.nodes) or any(w.host_network and w.node_name for w in inventory.workloads))
    )


@record(frozen=True, slots=True)
class CiliumStep:
    """What a rule, an isolating NetworkPolicy or the default did with some connections."""

    #: "deny", "allow", "kubernetes", "local-host", "default-deny" or "default-allow".
    what: str
    ports: PortSet
    selecting: SelectingSpec | None = None
    rule: CiliumRule | None = None
    kubernetes: NetworkPolicy | None = None
    #: For "default-deny": what puts the direction in default deny.
    cause: str = ""

    def describe(self) -> str:
        ports = self.ports.describe()
        if self.rule is not None and self.selecting is not None:
            rule = self.rule
            section = rule.direction.lower + ("Deny" if rule.deny else "")
            verb = "denies (deny rules come first)" if rule.deny else "allows"
            return (
                f"{spec_title(self.selecting)} {section} rule {rule.index} "
                f"({self.selecting.policy.path}:{rule.node.span.line}): {verb} {ports}"
            )
        if self.kubernetes is not None:
            policy = self.kubernetes
            return (
                f"NetworkPolicy {policy.namespace}/{policy.name} ({policy.path}:{policy.span.line}), "
                f"which Cilium adds to the union: allows {ports}"
            )
        if self.what == "local-host":
            return f"{self.cause}: Cilium allows {ports} from the local host (allow-localhost)"
        if self.what == "default-deny":
            return f"no rule allows {ports}: denied, the direction is in default deny through {self.cause}"
        return f"no rule decides {ports} and no selecting rule puts the direction in default deny: allowed"

    def related(self) -> tuple[str, int, int, str] | None:
        if self.rule is not None and self.selecting is not None:
            policy, rule = self.selecting.policy, self.rule
            span = rule.node.span
            section = "deny rule" if rule.deny else "rule"
            return (
                policy.path,
                span.line,
                span.column,
                f"{section} {rule.index} of {policy.kind} {policy.name}",
            )
        if self.kubernetes is not None:
            kube = self.kubernetes
            return (
                kube.path,
                kube.span.line,
                kube.span.column,
                f"NetworkPolicy {kube.namespace}/{kube.name}",
            )
        if self.selecting is not None:
            policy = self.selecting.policy
            span = self.selecting.spec.node.span
            return (policy.path, span.line, span.column, f"default deny of {policy.kind} {policy.name}")
        return None

    def to_json(self) -> dict[str, object]:
        found: dict[str, object] = {"step": self.what, "connections": self.ports.describe()}
        if self.selecting is not None:
            policy = self.selecting.policy
            found |= {
                "kind": policy.kind,
                "namespace": None if policy.is_clusterwide else policy.home_namespace,
                "name": policy.name,
                "path": policy.path,
                "line": policy.span.line,
                "spec": self.selecting.spec.index,
            }
        if self.rule is not None:
            found |= {
                "section": self.rule.direction.lower + ("Deny" if self.rule.deny else ""),
                "rule": self.rule.index,
                "rule_line": self.rule.node.span.line,
            }
        if self.kubernetes is not None:
            kube = self.kubernetes
            found |= {
                "kind": "NetworkPolicy",
                "namespace": kube.namespace,
                "name": kube.name,
                "path": kube.path,
                "line": kube.span.line,
            }
        if self.cause:
            found["cause"] = self.cause
        return found


class CiliumLayers:
    """Every pod side a Cilium rule selects, for one engine on a Cilium world."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.labels = [
            identity_labels(c.labels, c.namespace, c.namespace_labels, c.service_account or "default")
            for c in engine.classes
        ]
        count = len(engine.classes)
        self.selecting: dict[Direction, list[tuple[SelectingSpec, ...]]] = {
            d: [() for _ in range(count)] for d in Direction
        }
        self._peers: dict[int, frozenset[int]] = {}
        profile = engine.profile
        version = profile.version
        #: Deny sections exist from Cilium 1.9 on (policy-kinds §10); before, the field is unknown
        #: to the release and applies nothing. An unknown version has them.
        self.deny_rules = version is None or version.release >= DENY_RELEASE
        #: ``policy-enforcement-mode: always``: every pod in default deny both ways (§8.9, K40).
        self.always = profile.switches.cilium_mode == "always"
        #: Per class: the host-network classes (nodes, host-network pods) on the same known node.
        self.local_hosts: list[frozenset[int]] = self._local_hosts()
        self._build()

    def _local_hosts(self) -> list[frozenset[int]]:
        on_node: dict[str, set[int]] = {}
        for cls in self.engine.classes:
            if cls.host_network and cls.node is not None:
                on_node.setdefault(cls.node, set()).add(cls.index)
        return [
            frozenset(on_node.get(c.node, ())) if c.node is not None else frozenset()
            for c in self.engine.classes
        ]

    def _host_subjects(self, spec: CiliumSpec) -> list[int]:
        """The classes a host policy selects: the matching Nodes and the host-network pods on them."""
        if spec.node_selector is None:
            return []
        selector = normalized(spec.node_selector.written)
        nodes = {c.node for c in self.engine.classes if c.is_node and selector.matches(c.labels)}
        return [
            c.index for c in self.engine.classes if c.host_network and c.node is not None and c.node in nodes
        ]

    def _build(self) -> None:
        engine = self.engine
        directions = [d for d in Direction if d is Direction.INGRESS or engine.profile.egress]
        policies = sorted(
            engine.inventory.cilium_policies, key=lambda p: (p.home_namespace, p.name, p.kind, p.path, p.span)
        )
        uid = 0
        found: dict[Direction, dict[int, list[SelectingSpec]]] = {d: {} for d in directions}
        for policy in policies:
            for spec in policy.specs:
                subjects = [
                    c.index
                    for c in engine.classes
                    if not c.host_network and spec.selects(self.labels[c.index])
                ] + self._host_subjects(spec)
                for direction in directions:
                    if self.deny_rules:
                        has_section = spec.has_section(direction)
                        deny_by_default = spec.default_deny(direction)
                    else:
                        has_section = bool(spec.allows(direction))
                        written = spec.written_default_deny.get(direction)
                        deny_by_default = written if written is not None else has_section
                    if not (has_section or deny_by_default):
                        continue
                    uid += 1
                    selecting = SelectingSpec(uid, policy, spec, deny_by_default)
                    for cls in subjects:
                        found[direction].setdefault(cls, []).append(selecting)
        for direction, by_class in found.items():
            for cls, specs in by_class.items():
                self.selecting[direction][cls] = tuple(specs)

    def governs(self, direction: Direction, cls: int) -> bool:
        if self.always and not self.engine.classes[cls].host_network:
            return direction is Direction.INGRESS or self.engine.profile.egress
        if self.selecting[direction][cls]:
            return True
        # A NetworkPolicy's isolation has the local host's exemption on Cilium (§8.9).
        return (
            direction is Direction.INGRESS
            and bool(self.local_hosts[cls])
            and bool(self.engine.isolating[direction][cls])
        )

    def _denies(self, spec: CiliumSpec, direction: Direction) -> tuple[CiliumRule, ...]:
        return spec.denies(direction) if self.deny_rules else ()

    def side_key(self, direction: Direction, cls: int) -> tuple[object, ...]:
        # `host`, `remote-node` and the local host depend on the node the side's pod runs on.
        return (*(s.uid for s in self.selecting[direction][cls]), ("node", self.engine.classes[cls].node))

    def has_named_port(self, direction: Direction, cls: int) -> bool:
        return any(
            isinstance(port.port, str)
            for s in self.selecting[direction][cls]
            for rule in (*s.spec.allows(direction), *self._denies(s.spec, direction))
            for port_rule in rule.to_ports or ()
            for port in port_rule.ports
        )

    def notes(self, classes: set[int], several: bool) -> list[str]:
        """Say where ``host`` and ``remote-node`` stand for every node: a node name is missing."""
        if not self._uses_node_entities():
            return []
        engine = self.engine
        hosts = [i for i in sorted(classes) if engine.classes[i].host_network]
        pods = [i for i in sorted(classes) if not engine.classes[i].host_network]
        if not hosts or not pods:
            return []
        unplaced = [i for i in (*pods, *hosts) if engine.classes[i].node is None]
        if not unplaced:
            return []
        names = ", ".join(sorted({engine.classes[i].title for i in unplaced}))
        return [
            f"{names} carries no spec.nodeName: which node is the local host is unknown, so Cilium's "
            "host and remote-node entities stand for every node and host-network pod here"
        ]

    def _uses_node_entities(self) -> bool:
        return any(
            NODE_ENTITIES.intersection(rule.entities or ())
            for policy in self.engine.inventory.cilium_policies
            for spec in policy.specs
            for direction in Direction
            for rule in (*spec.allows(direction), *spec.denies(direction))
        )

    def networks(self) -> list[IPNetwork]:
        found: list[IPNetwork] = []
        for policy in self.engine.inventory.cilium_policies:
            for spec in policy.specs:
                for direction in Direction:
                    for rule in (*spec.allows(direction), *spec.denies(direction)):
                        for cidr in (*(rule.cidrs or ()), *(rule.cidr_sets or ())):
                            if cidr.network is not None and cidr.group is None:
                                found.append(cidr.network)
                                found.extend(cidr.excepts)
        return found

    # -- matching ---------------------------------------------------------------------

    def _peer_classes(self, rule: CiliumRule) -> frozenset[int]:
        found = self._peers.get(id(rule))
        if found is None:
            found = frozenset(c.index for c in self.engine.classes if self._matches_class(rule, c))
            self._peers[id(rule)] = found
        return found

    def _matches_class(self, rule: CiliumRule, cls: PodClass) -> bool:
        """Whether the rule's peer holds the class whatever the side's pod (``host`` and
        ``remote-node`` are decided per side, :meth:`_node_entity`)."""
        if rule.matches_nothing:
            return False
        if rule.any_peer:
            return True
        for entity in rule.entities or ():
            if entity in ("all", "cluster"):
                return True
        if cls.host_network:
            return False  # a host-network pod has the node's identity, not its labels
        labels = self.labels[cls.index]
        return any(selector.matches(labels) for selector in rule.endpoints or ())

    def _matches_address(self, rule: CiliumRule, address: AddressRange) -> bool:
        if rule.matches_nothing:
            return False
        if rule.any_peer:
            return True
        for entity in rule.entities or ():
            if entity in ("all", "world") or entity == f"world-ipv{address.version}":
                return True
        ip = address.first_address
        for cidr in (*(rule.cidrs or ()), *(rule.cidr_sets or ())):
            network = cidr.network
            if cidr.group is not None or network is None or network.version != address.version:
                continue
            if ip in network and not any(ip in e for e in cidr.excepts if e.version == address.version):
                return True
        return False

    def matches(self, rule: CiliumRule, peer: int | AddressRange, subject: int | None = None) -> bool:
        """Whether the rule's peer holds ``peer``, seen from the pod of the side (``subject``)."""
        if isinstance(peer, int):
            return peer in self._peer_classes(rule) or self._node_entity(rule, peer, subject)
        return self._matches_address(rule, peer)

    def _node_entity(self, rule: CiliumRule, peer: int, subject: int | None) -> bool:
        """``host`` / ``remote-node`` (§8.5): the subject's own node, or every other one. With a node
        unknown on either end, both stand for any node or host-network pod (the notes say so)."""
        if not rule.entities:
            return False
        entities = NODE_ENTITIES.intersection(rule.entities)
        if not entities or rule.matches_nothing:
            return False
        classes = self.engine.classes
        other = classes[peer]
        if not other.host_network:
            return False
        mine = classes[subject].node if subject is not None else None
        if mine is None or other.node is None:
            return True
        local = other.node == mine
        return ("host" in entities and local) or ("remote-node" in entities and not local)

    def rule_ports(self, rule: CiliumRule, destination: PodClass | None) -> PortSet:
        if rule.to_ports is None:
            # ICMP-only rules (`icmps` without `toPorts`) allow no TCP, UDP or SCTP port.
            return NO_PORTS if rule.icmps is not None else ALL_PORTS
        sctp = self.engine.profile.sctp
        result = NO_PORTS
        for port_rule in rule.to_ports:
            if not port_rule.ports:
                return ALL_PORTS
            for entry in port_rule.ports:
                protocols = [p for p in PROTOCOLS if entry.protocol in ("ANY", p) and (p != "SCTP" or sctp)]
                for protocol in protocols:
                    if entry.port is None:
                        result = result | PortSet.protocol(protocol)
                    elif isinstance(entry.port, str):
                        for port in destination.ports if destination is not None else ():
                            if port.name == entry.port and port.protocol == protocol:
                                result = result | PortSet.single(protocol, port.port)
                    else:
                        last = (
                            entry.end_port
                            if entry.end_port is not None and entry.end_port >= entry.port
                            else None
                        )
                        result = result | PortSet.single(protocol, entry.port, last)
        return result

    # -- evaluation -------------------------------------------------------------------

    def evaluate(
        self,
        direction: Direction,
        subject: int,
        peer: int | AddressRange,
        destination: PodClass | None,
        policy_ports: Callable[[NetworkPolicy], PortSet],
        asked: PortSet,
        steps: list[LayerStep] | None = None,
    ) -> PortSet:
        selecting = self.selecting[direction][subject]
        open_ports = asked
        if direction is Direction.INGRESS and isinstance(peer, int) and peer in self.local_hosts[subject]:
            # allow-localhost: the pod's own node reaches it whatever the rules say (§8.9, §9.2).
            if steps is not None:
                host = self.engine.classes[peer]
                where = (
                    "is the pod's own node" if host.is_node else "runs in the host network of the pod's node"
                )
                steps.append(CiliumStep("local-host", open_ports, cause=f"{host.title} {where}"))
            return open_ports
        for spec in selecting:
            for rule in self._denies(spec.spec, direction):
                if not open_ports:
                    break
                if not self.matches(rule, peer, subject):
                    continue
                taken = self.rule_ports(rule, destination) & open_ports
                if taken:
                    open_ports = open_ports - taken
                    if steps is not None:
                        steps.append(CiliumStep("deny", taken, spec, rule))
        allowed = NO_PORTS
        for spec in selecting:
            for rule in spec.spec.allows(direction):
                if not open_ports:
                    break
                if not self.matches(rule, peer, subject):
                    continue
                taken = self.rule_ports(rule, destination) & open_ports
                if taken:
                    allowed = allowed | taken
                    open_ports = open_ports - taken
                    if steps is not None:
                        steps.append(CiliumStep("allow", taken, spec, rule))
        isolating = self.engine.isolating[direction][subject]
        for kube in isolating:
            if not open_ports:
                break
            taken = policy_ports(kube) & open_ports
            if taken:
                allowed = allowed | taken
                open_ports = open_ports - taken
                if steps is not None:
                    steps.append(CiliumStep("kubernetes", taken, kubernetes=kube))
        if not open_ports:
            return allowed
        causes = [spec_title(s) for s in selecting if s.default_deny]
        causes.extend(f"NetworkPolicy {k.namespace}/{k.name} ({k.path}:{k.span.line})" for k in isolating)
        if self.always:
            causes.append("Cilium's policy-enforcement-mode `always`")
        if causes:
            if steps is not None:
                first = next((s for s in selecting if s.default_deny), None)
                steps.append(CiliumStep("default-deny", open_ports, first, cause=", ".join(causes)))
            return allowed
        if steps is not None:
            steps.append(CiliumStep("default-allow", open_ports))
        return allowed | open_ports
