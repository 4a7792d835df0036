"""Read a CiliumNetworkPolicy or CiliumClusterwideNetworkPolicy manifest into the model.

Lenient as the rest of the inventory: a value of the wrong type is left out; NP012 judges
what the Cilium agent refuses.
"""

from __future__ import annotations

import ipaddress

from nplint.loading.nodes import MapNode, Node, ScalarNode, SeqNode
from nplint.model.cilium import (
    CIDRRule,
    CiliumPolicy,
    CiliumPort,
    CiliumPortRule,
    CiliumRule,
    CiliumSpec,
    EndpointSelector,
    FQDNSelector,
    normalized,
    peer_selector,
    subject_selector,
)
from nplint.model.objects import Direction, IPNetwork, ObjectFields
from nplint.model.selectors import LabelSelector, Operator, Requirement

#: Section key → (direction, deny).
SECTIONS = {
    "ingress": (Direction.INGRESS, False),
    "ingressDeny": (Direction.INGRESS, True),
    "egress": (Direction.EGRESS, False),
    "egressDeny": (Direction.EGRESS, True),
}


def build_cilium_policy(
    kind: str, written_namespace: str | None, unnamed: str, common: ObjectFields
) -> CiliumPolicy:
    """The policy of ``common``'s node; ``unnamed`` is where a namespaced one lands when it names none."""
    node = common["node"]
    clusterwide = kind == "CiliumClusterwideNetworkPolicy"
    home = "" if clusterwide else (written_namespace or unnamed)
    scope = None if clusterwide else home
    specs: list[CiliumSpec] = []
    spec = node.get_map("spec")
    if spec is not None:
        specs.append(_spec(spec, None, scope))
    for index, entry in enumerate(node.get_seq("specs") or ()):
        if isinstance(entry, MapNode):
            specs.append(_spec(entry, index, scope))
    return CiliumPolicy(
        kind=kind,
        namespace="" if clusterwide else (written_namespace or ""),
        **common,
        api_version=node.get_str("apiVersion") or "",
        is_clusterwide=clusterwide,
        home_namespace=home,
        specs=tuple(specs),
        empty=not specs,
    )


def _spec(node: MapNode, index: int | None, scope: str | None) -> CiliumSpec:
    endpoint = node.get_map("endpointSelector")
    host = node.get_map("nodeSelector")
    sections: dict[str, tuple[CiliumRule, ...]] = {}
    for key, (direction, deny) in SECTIONS.items():
        sections[key] = tuple(
            _rule(rule, direction, deny, position, scope)
            for position, rule in enumerate(node.get_seq(key) or ())
            if isinstance(rule, MapNode)
        )
    default_deny = node.get_map("enableDefaultDeny")
    written: dict[Direction, bool | None] = {}
    for direction in Direction:
        value = default_deny.get(direction.lower) if default_deny is not None else None
        written[direction] = (
            value.value if isinstance(value, ScalarNode) and type(value.value) is bool else None
        )
    return CiliumSpec(
        index=index,
        node=node,
        endpoint_selector=subject_selector(label_selector(endpoint), scope) if endpoint is not None else None,
        node_selector=EndpointSelector(label_selector(host), label_selector(host), host)
        if host is not None
        else None,
        ingress=sections["ingress"],
        ingress_deny=sections["ingressDeny"],
        egress=sections["egress"],
        egress_deny=sections["egressDeny"],
        written_default_deny=written,
    )


def _host_selector(node: MapNode) -> EndpointSelector:
    selector = label_selector(node)
    return EndpointSelector(selector, normalized(selector), node)


def label_selector(node: MapNode) -> LabelSelector:
    """A Cilium selector's ``matchLabels``/``matchExpressions``, keys as written."""
    match_labels = node.get_map("matchLabels")
    pairs: list[tuple[str, str]] = []
    for key, value in match_labels.items() if match_labels is not None else ():
        if isinstance(value, ScalarNode):
            pairs.append((key, "" if value.value is None else value.text))
    expressions: list[Requirement] = []
    for entry in node.get_seq("matchExpressions") or ():
        if not isinstance(entry, MapNode):
            continue
        operator_text = entry.get_str("operator")
        operator = next((op for op in Operator if op.value == operator_text), None)
        values = frozenset(
            item.text
            for item in entry.get_seq("values") or ()
            if isinstance(item, ScalarNode) and item.value is not None
        )
        expressions.append(Requirement(entry.get_str("key") or "", operator, values))
    return LabelSelector(tuple(pairs), tuple(expressions), node)


def _seq(node: MapNode, key: str) -> SeqNode | None:
    return node.get_seq(key)


def _rule(node: MapNode, direction: Direction, deny: bool, index: int, scope: str | None) -> CiliumRule:
    side = "from" if direction is Direction.INGRESS else "to"

    def selectors(key: str, peer: bool) -> tuple[EndpointSelector, ...] | None:
        found = _seq(node, key)
        if found is None:
            return None
        result = []
        for item in found:
            selector = label_selector(item) if isinstance(item, MapNode) else LabelSelector(node=item)
            result.append(
                peer_selector(selector, scope) if peer else EndpointSelector(selector, selector, item)
            )
        return tuple(result)

    def nodes_of(key: str) -> tuple[Node, ...] | None:
        found = _seq(node, key)
        return None if found is None else tuple(found)

    entities = _seq(node, f"{side}Entities")
    cidrs = _seq(node, f"{side}CIDR")
    cidr_sets = _seq(node, f"{side}CIDRSet")
    fqdns = _seq(node, "toFQDNs") if direction is Direction.EGRESS else None
    to_ports = _seq(node, "toPorts")
    return CiliumRule(
        direction=direction,
        deny=deny,
        index=index,
        node=node,
        endpoints=selectors(f"{side}Endpoints", peer=True),
        entities=None if entities is None else tuple(e.text for e in entities if isinstance(e, ScalarNode)),
        cidrs=None if cidrs is None else tuple(_cidr(item) for item in cidrs if isinstance(item, ScalarNode)),
        cidr_sets=None
        if cidr_sets is None
        else tuple(_cidr_set(item) for item in cidr_sets if isinstance(item, MapNode)),
        nodes=selectors(f"{side}Nodes", peer=False),
        requires=selectors(f"{side}Requires", peer=True),
        services=nodes_of("toServices") if direction is Direction.EGRESS else None,
        fqdns=None
        if fqdns is None
        else tuple(
            FQDNSelector(item.get_str("matchName"), item.get_str("matchPattern"), item)
            for item in fqdns
            if isinstance(item, MapNode)
        ),
        groups=nodes_of(f"{side}Groups"),
        to_ports=None
        if to_ports is None
        else tuple(_port_rule(item) for item in to_ports if isinstance(item, MapNode)),
        icmps=nodes_of("icmps"),
    )


def parse_cidr(text: str) -> IPNetwork | None:
    """A Cilium CIDR: a prefix, or a bare address meaning that host ([CIL-RULES] ``CIDR.Validate``)."""
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return None


def _cidr(node: ScalarNode) -> CIDRRule:
    return CIDRRule(node.text, parse_cidr(node.text), (), None, node)


def _cidr_set(node: MapNode) -> CIDRRule:
    text = node.get_str("cidr") or ""
    excepts = tuple(
        net
        for item in node.get_seq("except") or ()
        if isinstance(item, ScalarNode) and (net := parse_cidr(item.text)) is not None
    )
    return CIDRRule(text, parse_cidr(text) if text else None, excepts, node.get_str("cidrGroupRef"), node)


def _port_rule(node: MapNode) -> CiliumPortRule:
    ports: list[CiliumPort] = []
    for item in node.get_seq("ports") or ():
        if isinstance(item, MapNode):
            ports.append(_port(item))
    rules = node.get_map("rules")
    l7 = (
        frozenset(key for key, value in rules.items() if not (isinstance(value, SeqNode) and len(value) == 0))
        if rules is not None
        else frozenset()
    )
    names = tuple(item.text for item in node.get_seq("serverNames") or () if isinstance(item, ScalarNode))
    return CiliumPortRule(tuple(ports), l7, names, node)


def parse_port(value: Node | None) -> int | str | None:
    """A ``port``: a number (``"80"`` or 80; 0 = every port), or a named port."""
    if not isinstance(value, ScalarNode) or value.value is None:
        return None
    if type(value.value) is int:
        return value.value or None
    text = value.text.strip()
    if text.isdigit():
        return int(text) or None
    return text.lower() or None


def _port(node: MapNode) -> CiliumPort:
    end = node.get("endPort")
    protocol = (node.get_str("protocol") or "ANY").upper()
    return CiliumPort(
        parse_port(node.get("port")),
        end.value if isinstance(end, ScalarNode) and type(end.value) is int else None,
        protocol,
        node,
    )
