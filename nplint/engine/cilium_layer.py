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
adds, §8.4); CIDR rules match outside addresses only, never a pod or node (§8.6); entities
``all`` (everything), ``cluster`` (every pod, host-network ones included), ``world`` (every
outside address; ``world-ipv4``/``world-ipv6`` by family), ``host`` and ``remote-node``
(host-network pods: the inventory does not say which node a pod runs on, so both stand for
any node). A rule with only ``toPorts`` takes any peer; an empty rule matches nothing.

Not modelled (they match nothing here): ``toFQDNs`` (the addresses DNS answers are not
known), ``toServices``, ``toGroups``, ``fromNodes``/``toNodes`` (node labels are not in the
inventory), CIDR group references, the entities ``kube-apiserver``, ``ingress``,
``health``, ``init``, ``unmanaged`` and ``none``; ``fromRequires``/``toRequires`` (removed
in 1.19) are not applied. Host policies (``nodeSelector``) select no pod. The local host's
exemption for ingress (allow-localhost) is not applied, since the node of a pod is unknown.

The world's release and switches change two things: before Cilium 1.9 deny sections do not
exist and apply nothing (policy-kinds §10), and ``policy-enforcement-mode: always`` puts every
pod in default deny both ways with no policy at all (§8.9, K40); ``never`` enforces nothing,
which the profile says (it does not enforce), so no layer is built.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from nplint.engine.portsets import ALL_PORTS, NO_PORTS, PortSet
from nplint.model.cilium import CiliumPolicy, CiliumRule, CiliumSpec, identity_labels
from nplint.model.objects import PROTOCOLS, Direction, IPNetwork, NetworkPolicy
from nplint.untrusted import shown

if TYPE_CHECKING:
    from nplint.engine.cni_layer import LayerStep
    from nplint.engine.endpoints import AddressRange, PodClass
    from nplint.engine.engine import Engine

#: The first Cilium release with ``ingressDeny`` / ``egressDeny`` (policy-kinds §10).
DENY_RELEASE = (1, 9)


@dataclass(frozen=True, slots=True, eq=False)
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
    return policy_title(selecting.policy) + (f" specs[{index}]" if index is not None else "")


@dataclass(frozen=True, slots=True)
class CiliumStep:
    """What a rule, an isolating NetworkPolicy or the default did with some connections."""

    #: "deny", "allow", "kubernetes", "default-deny" or "default-allow".
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
        self.labels = [identity_labels(c.labels, c.namespace, c.namespace_labels) for c in engine.classes]
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
        self._build()

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
                ]
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
        return bool(self.selecting[direction][cls])

    def _denies(self, spec: CiliumSpec, direction: Direction) -> tuple[CiliumRule, ...]:
        return spec.denies(direction) if self.deny_rules else ()

    def side_key(self, direction: Direction, cls: int) -> tuple[object, ...]:
        return tuple(s.uid for s in self.selecting[direction][cls])

    def has_named_port(self, direction: Direction, cls: int) -> bool:
        return any(
            isinstance(port.port, str)
            for s in self.selecting[direction][cls]
            for rule in (*s.spec.allows(direction), *self._denies(s.spec, direction))
            for port_rule in rule.to_ports or ()
            for port in port_rule.ports
        )

    def notes(self, classes: set[int], several: bool) -> list[str]:
        return []

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
        if rule.matches_nothing:
            return False
        if rule.any_peer:
            return True
        for entity in rule.entities or ():
            if entity in ("all", "cluster"):
                return True
            if entity in ("host", "remote-node") and cls.host_network:
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

    def matches(self, rule: CiliumRule, peer: int | AddressRange) -> bool:
        if isinstance(peer, int):
            return peer in self._peer_classes(rule)
        return self._matches_address(rule, peer)

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
        for spec in selecting:
            for rule in self._denies(spec.spec, direction):
                if not open_ports:
                    break
                if not self.matches(rule, peer):
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
                if not self.matches(rule, peer):
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
