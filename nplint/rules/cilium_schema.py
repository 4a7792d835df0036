"""NP012: Cilium policies the Cilium agent refuses to import.

The API server stores a CiliumNetworkPolicy whatever its rules say; the agent validates
each rule when it imports it ([CIL-RULES] ``rule_validation.go``: ``Validate``,
``IngressCommonRule.Validate``, ``EgressRule.Validate``, ``PortRule.Validate``,
``PortProtocol.Validate``, ``CIDRRule.Validate``; policy-kinds §8.2) and a refused policy
enforces nothing — its status says so, the repository does not.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from nplint.findings import Finding, Level
from nplint.loading.nodes import MapNode, Node, ScalarNode, SeqNode
from nplint.loading.placeholders import placeholder_node
from nplint.model.cilium import ENTITIES, CiliumPolicy, CiliumRule, CiliumSpec
from nplint.model.cilium_build import parse_cidr
from nplint.model.objects import Direction, IPNetwork
from nplint.rules.base import Rule, RuleContext
from nplint.untrusted import shown

#: ``ParseL4Proto`` accepts these (any case); newer agents add the extended IP protocols.
_PROTOCOLS = frozenset(
    ("TCP", "UDP", "SCTP", "ANY", "ICMP", "ICMPV6", "VRRP", "IGMP", "GRE", "IPIP", "IPV6", "ESP", "AH")
)
#: An IANA service name, as ``iana.IsSvcName`` reads a named port.
_SERVICE_NAME = re.compile(r"(?=.*[A-Za-z])[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,14}")
_MAX_PORTS = 40


class CiliumInvalidPolicy(Rule):
    id = "NP012"
    name = "cilium-invalid-policy"
    summary = (
        "A Cilium policy rule the Cilium agent refuses to import: subject, peers, entities, ports, CIDRs."
    )
    level = Level.ERROR
    tags = ("schema", "cilium")

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        for policy in ctx.inventory.cilium_policies:
            for node, message in _policy_problems(policy):
                yield self.finding(
                    policy,
                    node,
                    f"{policy.kind} {shown(policy.name)}: {message}",
                    detail="The API server stores the policy, but the Cilium agent refuses to import a "
                    "rule that fails its validation: the policy enforces nothing, and only its status "
                    "says so (policy-kinds §8.2).",
                )


def _policy_problems(policy: CiliumPolicy) -> Iterator[tuple[Node | None, str]]:
    if policy.empty:
        where = policy.node.get("spec") or policy.node.get("specs") or policy.node.get("kind")
        yield where, "neither `spec` nor `specs` holds a rule: the policy is empty"
    for spec in policy.specs:
        yield from _spec_problems(policy, spec)


def _spec_problems(policy: CiliumPolicy, spec: CiliumSpec) -> Iterator[tuple[Node | None, str]]:
    node = spec.node
    has_endpoint = spec.endpoint_selector is not None
    has_node = spec.node_selector is not None
    if has_endpoint and has_node:
        yield node.get("endpointSelector"), "a rule cannot have both `endpointSelector` and `nodeSelector`"
    elif not has_endpoint and not has_node:
        yield node, "the rule has neither `endpointSelector` nor `nodeSelector`"
    if has_node and not policy.is_clusterwide:
        yield (
            node.get("nodeSelector"),
            "`nodeSelector` (a host policy) exists only in a CiliumClusterwideNetworkPolicy",
        )
    sections = (
        ("ingress", spec.ingress),
        ("ingressDeny", spec.ingress_deny),
        ("egress", spec.egress),
        ("egressDeny", spec.egress_deny),
    )
    for key, rules in sections:
        for rule in rules:
            yield from _rule_problems(rule, key)


def _rule_problems(rule: CiliumRule, section: str) -> Iterator[tuple[Node | None, str]]:
    where = f"`{section}[{rule.index}]`"
    peers = rule.peer_fields
    if len(peers) > 1:
        yield rule.node, f"{where} combines `{peers[0]}` and `{peers[1]}`: write one peer kind per rule"
    for entity_node in (
        rule.node.get_seq("fromEntities" if rule.direction is Direction.INGRESS else "toEntities") or ()
    ):
        if (
            isinstance(entity_node, ScalarNode)
            and entity_node.text not in ENTITIES
            and not placeholder_node(entity_node)
        ):
            yield entity_node, f"{where}: `{shown(entity_node.text)}` is no Cilium entity"
    if rule.icmps and rule.to_ports:
        yield rule.node.get("icmps"), f"{where}: `icmps` cannot be combined with `toPorts` in one rule"
    yield from _cidr_problems(rule, where)
    for port_rule in rule.to_ports or ():
        yield from _port_rule_problems(rule, port_rule.node, where)


def _cidr_problems(rule: CiliumRule, where: str) -> Iterator[tuple[Node | None, str]]:
    for cidr in (*(rule.cidrs or ()), *(rule.cidr_sets or ())):
        node = cidr.node
        if isinstance(node, MapNode):
            if cidr.group is None and not node.get_str("cidr") and node.get("cidrGroupSelector") is None:
                yield node, f"{where}: a CIDR set entry needs `cidr`, `cidrGroupRef` or `cidrGroupSelector`"
                continue
            if cidr.group is not None or not cidr.text or placeholder_node(node.get("cidr")):
                continue
            if "/" not in cidr.text or cidr.network is None:
                yield node.get("cidr"), f"{where}: `{shown(cidr.text)}` is no CIDR (`address/length`)"
                continue
            for item in node.get_seq("except") or ():
                if not isinstance(item, ScalarNode) or placeholder_node(item):
                    continue
                excluded = parse_cidr(item.text) if "/" in item.text else None
                if excluded is None or not _inside(excluded, cidr.network):
                    yield item, f"{where}: `except` `{shown(item.text)}` is not inside `{shown(cidr.text)}`"
        elif isinstance(node, ScalarNode) and cidr.network is None and not placeholder_node(node):
            yield node, f"{where}: `{shown(cidr.text)}` is no CIDR or address"


def _port_rule_problems(
    rule: CiliumRule, node: MapNode | None, where: str
) -> Iterator[tuple[Node | None, str]]:
    if node is None:
        return
    ports = node.get_seq("ports") or SeqNode((1, 1, 1, 1))
    rules = node.get_map("rules")
    l7 = (
        [key for key, value in rules.items() if isinstance(value, SeqNode) and len(value) > 0]
        if rules
        else []
    )
    dns = "dns" in l7
    if dns and rule.direction is Direction.INGRESS:
        yield rules, f"{where}: DNS rules are not allowed on ingress"
    if len([k for k in l7 if k in ("dns", "http")]) > 1:
        yield rules, f"{where}: one `toPorts` entry cannot carry several L7 rule kinds"
    if dns and len(ports) == 0:
        yield rules, f"{where}: DNS rules need port 53 in `ports`"
    if len(ports) > _MAX_PORTS:
        yield ports, f"{where}: more than {_MAX_PORTS} ports in one `toPorts` entry"
    for entry in ports:
        if not isinstance(entry, MapNode):
            continue
        yield from _port_problems(entry, where, l7, dns)


def _port_problems(entry: MapNode, where: str, l7: list[str], dns: bool) -> Iterator[tuple[Node | None, str]]:
    port = entry.get("port")
    if placeholder_node(port) or placeholder_node(entry.get("protocol")):
        return
    if not isinstance(port, ScalarNode) or port.value is None or port.text == "":
        yield entry, f"{where}: a `ports` entry needs `port` (0 for every port)"
        return
    text = port.text.strip()
    number: int | None = None
    if not _SERVICE_NAME.fullmatch(text):
        number = _port_number(text)
        if number is None:
            yield port, f"{where}: `{shown(text)}` is no port number (0–65535) or port name"
            return
    protocol = entry.get_str("protocol")
    if protocol is not None and protocol.upper() not in _PROTOCOLS:
        yield entry.get("protocol"), f"{where}: `{shown(protocol)}` is no protocol Cilium knows"
    end = entry.get("endPort")
    if (
        dns
        and number is not None
        and isinstance(end, ScalarNode)
        and type(end.value) is int
        and end.value > number
    ):
        yield end, f"{where}: DNS rules do not support port ranges"
    if l7 and not dns:
        if (protocol or "ANY").upper() != "TCP":
            yield (
                entry.get("protocol") or entry,
                f"{where}: L7 rules need `protocol: TCP` (DNS rules excepted)",
            )
        if number == 0:
            yield port, f"{where}: L7 rules cannot use port 0"


def _inside(inner: IPNetwork, outer: IPNetwork) -> bool:
    return (
        inner.version == outer.version
        and int(outer.network_address) <= int(inner.network_address)
        and int(inner.broadcast_address) <= int(outer.broadcast_address)
    )


def _port_number(text: str) -> int | None:
    """The port Go's ``strconv.ParseUint(text, 0, 16)`` reads (a leading 0 is octal), or None."""
    try:
        number = int(text, 8) if re.fullmatch(r"0[0-7]+", text) else int(text, 0)
    except ValueError:
        return None
    return number if 0 <= number <= 65535 else None


RULES = (CiliumInvalidPolicy,)
