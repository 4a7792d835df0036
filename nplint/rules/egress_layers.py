"""Egress to outside addresses through the layered verdict (policy-kinds §6, §7.8, §8.10, §9).

Where the world holds policies of other kinds its CNI enforces, NetworkPolicy alone no longer
decides whether a pod reaches the metadata service or the internet: a Calico tier, an Admin
rule or a Cilium deny may close what a NetworkPolicy opens, and an Admin or Baseline ``Allow``,
a Calico ``Allow`` or a Cilium ``toEntities: [world]`` may open what no NetworkPolicy does.
NP306 and NP307 ask the same verdict ``nplint reach`` gives, through the engine of
:func:`nplint.rules.dns.layered_dns` (which holds a pod for every subject, stand-ins included).
A kind the CNI does not enforce is in no verdict, so it neither closes nor opens anything.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterator, Sequence

from nplint.engine.calico_layer import AppliedCalicoRule, CalicoLayers, CalicoStep
from nplint.engine.cilium_layer import CiliumLayers, CiliumStep
from nplint.engine.endpoints import AddressRange, cut_address_space
from nplint.engine.layers import AppliedAdminRule
from nplint.engine.portsets import PortSet
from nplint.engine.verdict import LayerRuleRef, SideVerdict, explain_side
from nplint.findings import Finding, Span
from nplint.model import Direction
from nplint.model.admin import Action as AdminAction
from nplint.model.admin import AdminPeer, PeerKind, Tier
from nplint.model.calico import Action as CalicoAction
from nplint.model.cilium import CiliumPolicy, CiliumRule
from nplint.model.objects import IPNetwork
from nplint.records import record
from nplint.rules.base import Rule
from nplint.rules.dns import LayeredDns
from nplint.untrusted import quoted, shown

#: Every TCP and UDP port: what "every port" means for NP307 (SCTP is not enabled everywhere).
EVERY_PORT = PortSet.protocol("TCP") | PortSet.protocol("UDP")

#: Special-purpose ranges (RFC 6890 and its IPv6 part) that are no address of the internet; they cut
#: the address space so every range asked is wholly inside or wholly outside the internet.
_NOT_INTERNET: tuple[IPNetwork, ...] = tuple(
    ipaddress.ip_network(text)
    for text in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",
        "240.0.0.0/4",
    )
)


def internet_ranges(layered: LayeredDns) -> list[AddressRange]:
    """The outside address ranges of the internet that no CIDR of the world's policies cuts across.

    IPv6 ranges are asked only where a policy names an IPv6 network, as ``nplint reach`` does.
    """
    found = layered.memo.get("internet")
    if found is None:
        engine = layered.engine
        cuts = cut_address_space([*engine.ip_blocks(Direction.EGRESS), *_NOT_INTERNET])
        found = [r for r in cuts if _is_internet(r)]
        layered.memo["internet"] = found
    return found


def _is_internet(address: AddressRange) -> bool:
    first = address.first_address
    if address.version == 6:
        # Global unicast (2000::/3) minus documentation space.
        return first in ipaddress.ip_network("2000::/3") and first not in ipaddress.ip_network(
            "2001:db8::/32"
        )
    return first.is_global


def egress_ports(layered: LayeredDns, cls: int, peer: AddressRange) -> PortSet:
    """What the pods of class ``cls`` may send to ``peer`` through every layer the CNI runs."""
    return layered.engine.side_ports(Direction.EGRESS, cls, peer, None)


def open_to_internet(layered: LayeredDns, cls: int, version: int) -> bool:
    """Whether some internet range of IP ``version`` gets every TCP and UDP port from the pods of ``cls``."""
    return any(
        not (EVERY_PORT - egress_ports(layered, cls, r))
        for r in internet_ranges(layered)
        if r.version == version
    )


def governed_by_other_kind(layered: LayeredDns, cls: int) -> bool:
    """Whether a policy of another kind the CNI enforces takes part in the egress of ``cls``."""
    engine = layered.engine
    if engine.cni_layer is not None and engine.cni_layer.governs(Direction.EGRESS, cls):
        return True
    return engine.layers is not None and engine.layers.has_rules(Direction.EGRESS, cls)


def labels_by_class(layered: LayeredDns) -> dict[int, list[str]]:
    """Every subject pod class with the labels that name its pods, in subject order."""
    found: dict[int, list[str]] = {}
    for label, cls in layered.classes.items():
        found.setdefault(cls, []).append(label)
    return found


def explain_egress(
    layered: LayeredDns, cls: int, label: str, peer: AddressRange, asked: PortSet
) -> SideVerdict:
    engine = layered.engine
    return explain_side(engine, Direction.EGRESS, engine.classes[cls], label, peer, str(peer), asked)


@record(frozen=True, slots=True)
class Opening:
    """A rule of another kind that allowed some of a side's connections to an outside address."""

    path: str
    line: int
    column: int
    #: How details name the rule: kind, name and rule index.
    title: str
    #: The networks of the peer that matched (CIDRs, Calico ``nets``), as written.
    networks: tuple[tuple[str, IPNetwork], ...]
    #: The Cilium entity (``world``, ``world-ipv4``, ``world-ipv6``) through which the peer holds every
    #: outside address.
    entity: str | None
    #: What it allowed.
    ports: PortSet
    #: Whether the rule lists no port at all (every port of every protocol).
    all_ports: bool
    #: How the rule names no destination at all, when it does not (a Calico destination with
    #: nothing but ports, a Cilium rule with only ``toPorts``): every address, in the cluster too.
    no_destination: str | None = None
    #: The policy language the rule is written in (``admin``, ``calico``, ``cilium``), so advice
    #: shows the peer in that language.
    dialect: str = "admin"

    @property
    def key(self) -> tuple[str, int, int]:
        return (self.path, self.line, self.column)

    def whole_internet(self) -> str | None:
        """``0.0.0.0/0`` or ``toEntities: [world]`` when the peer is the whole internet as written."""
        for text, network in self.networks:
            if network.prefixlen == 0:
                return f"CIDR {shown(text, 30)}"
        return f"entity `{self.entity}`" if self.entity else None

    def wide_holder(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
        """The CIDR wider than one address (or the entity) through which the peer holds ``address``."""
        for text, network in self.networks:
            if network.version == address.version and address in network and network.num_addresses > 1:
                return f"CIDR {shown(text, 30)}"
        return f"entity `{self.entity}`" if self.entity else None


def openings(layered: LayeredDns, side: SideVerdict) -> Iterator[Opening]:
    """The rules of other kinds that allowed something in ``side`` (Admin, Baseline, Calico, Cilium)."""
    for ref in (*side.admin_steps, *side.baseline_steps):
        if ref.action == "Allow" and layered.engine.layers is not None:
            found = _admin_opening(layered, ref)
            if found is not None:
                yield found
    for step in side.layer_steps:
        if (
            isinstance(step, CalicoStep)
            and step.action == "Allow"
            and isinstance(step.entry, AppliedCalicoRule)
        ):
            yield _calico_opening(step.entry, step.ports)
        elif isinstance(step, CalicoStep) and step.action == AdminAction.ALLOW.value:
            # Calico releases that run the Network Policy API's kinds put their rules in tiers of
            # its own: such an entry carries the engine's applied admin rule.
            applied = getattr(step.entry, "applied", None)
            if isinstance(applied, AppliedAdminRule):
                yield _applied_admin_opening(applied, step.ports)
        elif isinstance(step, CiliumStep) and step.what == "allow" and step.rule is not None:
            assert step.selecting is not None
            yield _cilium_opening(step.selecting.policy, step.rule, step.ports)


def on_opening(rule: Rule, opening: Opening, message: str, detail: str) -> Finding:
    """The finding on another kind's rule: no NetworkPolicy object holds it, so it stands on
    the rule's own position (a line comment there suppresses it)."""
    return rule.finding(
        None,
        None,
        message,
        path=opening.path,
        span=Span.point(opening.line, opening.column),
        detail=detail,
    )


def _admin_opening(layered: LayeredDns, ref: LayerRuleRef) -> Opening | None:
    found = _admin_peer(layered, ref)
    if found is None:
        return None
    peer, all_ports = found
    networks = tuple((text, net) for text, net in peer.networks if net is not None)
    named = f" {quoted(ref.rule_name, 40)}" if ref.rule_name else ""
    return Opening(
        ref.path,
        ref.rule_line,
        ref.column,
        f"{ref.kind} {shown(ref.name, 60)} egress rule {ref.rule}{named}",
        networks if peer.kind is PeerKind.NETWORKS else (),
        None,
        ref.ports,
        all_ports,
    )


def _applied_admin_opening(applied: AppliedAdminRule, ports: PortSet) -> Opening:
    """An Admin or Baseline rule that a Calico tier evaluated: every ``networks`` peer counts."""
    policy, rule = applied.policy, applied.rule
    span = rule.node.span
    networks = tuple(
        (text, net)
        for peer in rule.peers
        if peer.kind is PeerKind.NETWORKS
        for text, net in peer.networks
        if net is not None
    )
    return Opening(
        policy.path,
        span.line,
        span.column,
        f"{policy.title} {shown(policy.name, 60)} egress {rule.label}",
        networks,
        None,
        ports,
        rule.ports is None,
    )


def _calico_opening(entry: AppliedCalicoRule, ports: PortSet) -> Opening:
    policy, rule = entry.policy, entry.rule
    peer = rule.destination
    span = rule.node.span
    unnamed = not (peer.nets or peer.selectors or peer.service_account_names or peer.service is not None)
    return Opening(
        policy.path,
        span.line,
        span.column,
        f"Calico {policy.kind} {shown(policy.name, 60)} egress rule {rule.index}",
        tuple((str(net), net) for net in peer.nets),
        # A destination without `nets` is no address written as such (as a NetworkPolicy rule
        # without `to`, which NP306 and NP307 leave to other rules).
        None,
        ports,
        rule.protocol is None and rule.not_protocol is None and not peer.ports and not peer.not_ports,
        "the rule's `destination` names no address or selector, so every destination" if unnamed else None,
        "calico",
    )


#: The Cilium entities that hold every outside address of a family, in the order messages prefer.
#: ``all`` holds the cluster too: like a NetworkPolicy rule without `to`, it is no address as such.
_WORLD_ENTITIES = ("world", "world-ipv4", "world-ipv6")


def _cilium_opening(policy: CiliumPolicy, rule: CiliumRule, ports: PortSet) -> Opening:
    span = rule.node.span
    entities = set(rule.entities or ())
    return Opening(
        policy.path,
        span.line,
        span.column,
        f"{policy.kind} {shown(policy.name, 60)} egress rule {rule.index}",
        tuple(
            (c.text, c.network)
            for c in (*(rule.cidrs or ()), *(rule.cidr_sets or ()))
            if c.network is not None and c.group is None
        ),
        next((e for e in _WORLD_ENTITIES if e in entities), None),
        ports,
        rule.to_ports is None and rule.icmps is None,
        "the rule has only `toPorts`, so every destination"
        if rule.any_peer
        else ("entity `all` is every destination" if "all" in entities else None),
        "cilium",
    )


def _admin_peer(layered: LayeredDns, ref: LayerRuleRef) -> tuple[AdminPeer, bool] | None:
    """The peer of an Admin or Baseline rule a verdict names, and whether the rule lists no port."""
    layers = layered.engine.layers
    assert layers is not None
    for applied in layers.applied:
        rule = applied.rule
        span = rule.node.span
        if (
            applied.policy.path == ref.path
            and span.line == ref.rule_line
            and span.column == ref.column
            and rule.direction.lower == ref.direction
            and 0 <= ref.peer < len(rule.peers)
        ):
            return rule.peers[ref.peer], rule.ports is None
    return None


def classes_of(layered: LayeredDns, labels: Sequence[str]) -> dict[int, list[str]]:
    """The pod classes of ``labels`` (subjects of :func:`nplint.rules.dns.subjects`), each with its labels."""
    found: dict[int, list[str]] = {}
    for label in labels:
        cls = layered.classes.get(label)
        if cls is not None:
            found.setdefault(cls, []).append(label)
    return found


# -- What the world's other kinds could open at all ------------------------------------------------
#
# The verdicts above are exact but not free: a rule asks them only where some enforced allow of
# another kind has the shape it reports, and once per group of pods the same rules decide.


@record(frozen=True, slots=True)
class AllowShape:
    """The peer and ports of one enforced egress allow of another kind, as written."""

    networks: tuple[IPNetwork, ...]
    #: Cilium's ``world`` entity (or ``world-ipv4``/``world-ipv6``).
    world: bool
    #: No destination written (a Calico destination of ports only, Cilium ``toPorts`` only or ``all``).
    anywhere: bool
    all_ports: bool
    #: Whether port 53 may be among its ports.
    dns_port: bool

    def holds(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address, *, wide: bool = False) -> bool:
        return any(
            n.version == address.version and address in n and (not wide or n.num_addresses > 1)
            for n in self.networks
        )

    @property
    def whole_family(self) -> bool:
        return self.world or any(n.prefixlen == 0 for n in self.networks)


def allow_shapes(layered: LayeredDns) -> list[AllowShape]:
    """Every egress allow of another kind the world's CNI enforces (a superset: a prefilter)."""
    found = layered.shapes
    if found is not None:
        return found
    found = []
    engine = layered.engine
    layers = engine.layers
    if layers is not None:
        for tier in (Tier.ADMIN, Tier.BASELINE):
            for admin in layers.enforced[tier]:
                for rule in admin.rules(Direction.EGRESS):
                    if rule.action is not AdminAction.ALLOW:
                        continue
                    networks = tuple(n for peer in rule.peers for _, n in peer.networks if n is not None)
                    dns = rule.ports is None or any(
                        p.name is not None or p.start is None or p.start <= 53 <= (p.end or p.start)
                        for p in rule.ports
                    )
                    found.append(AllowShape(networks, False, False, rule.ports is None, dns))
    cni_layer = engine.cni_layer
    if isinstance(cni_layer, CalicoLayers):
        for applied in cni_layer.applied:
            calico = applied.rule
            if calico.direction is not Direction.EGRESS or calico.action is not CalicoAction.ALLOW:
                continue
            peer = calico.destination
            unnamed = not (
                peer.nets or peer.selectors or peer.service_account_names or peer.service is not None
            )
            every = calico.protocol is None and calico.not_protocol is None and not peer.ports
            dns = any(calico.matches_port(p, 53) for p in ("UDP", "TCP")) or any(
                isinstance(entry, str) for entry in peer.ports
            )
            found.append(AllowShape(tuple(peer.nets), False, unnamed, every and not peer.not_ports, dns))
    elif isinstance(cni_layer, CiliumLayers):
        for cilium in engine.inventory.cilium_policies:
            for spec in cilium.specs:
                for allow in spec.allows(Direction.EGRESS):
                    entities = set(allow.entities or ())
                    networks = tuple(
                        c.network
                        for c in (*(allow.cidrs or ()), *(allow.cidr_sets or ()))
                        if c.network is not None
                    )
                    dns = any(allow.matches_port(p, 53) for p in ("UDP", "TCP")) or any(
                        isinstance(port.port, str) for r in allow.to_ports or () for port in r.ports
                    )
                    found.append(
                        AllowShape(
                            networks,
                            bool(entities & set(_WORLD_ENTITIES)),
                            allow.any_peer or "all" in entities,
                            allow.to_ports is None and allow.icmps is None,
                            dns,
                        )
                    )
    layered.shapes = found
    return found


def side_groups(
    layered: LayeredDns, keep: Callable[[int], bool] | None = None
) -> list[tuple[int, list[str]]]:
    """The subject pods a policy of another kind governs, one class for each group the same egress
    rules decide (equal :meth:`Engine.side_key`), with the labels of every pod of the group."""
    engine = layered.engine
    groups: dict[tuple[object, ...], tuple[int, list[str]]] = {}
    for cls, labels in sorted(labels_by_class(layered).items()):
        if not governed_by_other_kind(layered, cls) or (keep is not None and not keep(cls)):
            continue
        entry = groups.setdefault(engine.side_key(Direction.EGRESS, cls), (cls, []))
        entry[1].extend(labels)
    return list(groups.values())
