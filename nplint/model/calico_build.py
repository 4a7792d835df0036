"""Read a Calico (Global)NetworkPolicy manifest into :class:`~nplint.model.calico.CalicoPolicy`.

Lenient as the rest of the inventory: a value of the wrong type is left out, an
unparseable selector is kept with its error (it then matches nothing). The judging is
the rules' (NP010 for selectors, NP011 for the rest).
"""

from __future__ import annotations

import ipaddress

from nplint.loading.nodes import MapNode, Node, ScalarNode, SeqNode
from nplint.model.calico import (
    DEFAULT_TIER,
    STORAGE_API_VERSION,
    Action,
    CalicoNetworkSet,
    CalicoPolicy,
    CalicoRule,
    CalicoTier,
    EntityRule,
    PortRange,
    SelectorField,
    TierAction,
    default_types,
)
from nplint.model.calico_selector import SelectorError, parse_selector
from nplint.model.objects import Direction, IPNetwork, ObjectFields

_ACTIONS = {action.value: action for action in Action}


def build_calico_policy(
    kind: str, written_namespace: str | None, unnamed: str, common: ObjectFields
) -> CalicoPolicy:
    """The policy of ``common``'s node; ``unnamed`` is where a namespaced one lands when it names none."""
    node = common["node"]
    api_version = node.get_str("apiVersion") or ""
    spec = node.get_map("spec")
    is_global = kind == "GlobalNetworkPolicy"
    storage = api_version == STORAGE_API_VERSION
    written_types, types = default_types(spec, storage)
    tier = (spec.get_str("tier") if spec is not None else None) or DEFAULT_TIER
    selector = _selector(spec, "selector") or SelectorField("", None, parse_selector(""))
    return CalicoPolicy(
        kind=kind,
        namespace="" if is_global else (written_namespace or ""),
        **common,
        api_version=api_version,
        is_global=is_global,
        home_namespace="" if is_global else (written_namespace or unnamed),
        tier=tier,
        order=_order(spec),
        selector=selector,
        namespace_selector=_selector(spec, "namespaceSelector") if is_global else None,
        service_account_selector=_selector(spec, "serviceAccountSelector"),
        written_types=written_types,
        types=types,
        ingress=_rules(spec, Direction.INGRESS),
        egress=_rules(spec, Direction.EGRESS),
        host_endpoints_only=is_global and _host_endpoints_only(spec),
    )


def _host_endpoints_only(spec: MapNode | None) -> bool:
    """``preDNAT: true`` or ``doNotTrack: true``: a policy for host endpoints alone."""
    if spec is None:
        return False
    return any(
        isinstance(value, ScalarNode) and value.value is True
        for value in (spec.get("preDNAT"), spec.get("doNotTrack"))
    )


def build_calico_tier(common: ObjectFields) -> CalicoTier:
    node = common["node"]
    spec = node.get_map("spec")
    written = spec.get_str("defaultAction") if spec is not None else None
    action = TierAction.DENY if written is None else next((a for a in TierAction if a.value == written), None)
    return CalicoTier(
        kind="Tier",
        namespace="",
        **common,
        api_version=node.get_str("apiVersion") or "",
        order=_order(spec),
        default_action=action,
    )


def build_calico_network_set(
    kind: str, written_namespace: str | None, unnamed: str, common: ObjectFields
) -> CalicoNetworkSet:
    node = common["node"]
    spec = node.get_map("spec")
    is_global = kind == "GlobalNetworkSet"
    return CalicoNetworkSet(
        kind=kind,
        namespace="" if is_global else (written_namespace or ""),
        **common,
        api_version=node.get_str("apiVersion") or "",
        is_global=is_global,
        home_namespace="" if is_global else (written_namespace or unnamed),
        nets=_nets(spec.get_seq("nets") if spec is not None else None),
    )


def _order(spec: MapNode | None) -> float | None:
    value = spec.get("order") if spec is not None else None
    if isinstance(value, ScalarNode) and type(value.value) in (int, float):
        return float(value.value)  # type: ignore[arg-type]
    return None


def _selector(parent: MapNode | None, key: str) -> SelectorField | None:
    node = parent.get(key) if parent is not None else None
    if not isinstance(node, ScalarNode):
        return None
    tag = (
        node.tag
        if node.tag is not None and node.tag.startswith("!") and not node.tag.startswith("!!")
        else None
    )
    if node.value is None and tag is None:
        return None
    # The value as the API server decodes it: an unknown local tag is dropped, its text lost.
    text = node.text
    try:
        return SelectorField(text, node, parse_selector(text), yaml_tag=tag)
    except SelectorError as error:
        return SelectorField(text, node, None, error, yaml_tag=tag)


def _rules(spec: MapNode | None, direction: Direction) -> tuple[CalicoRule, ...]:
    found = spec.get_seq(direction.rules_key) if spec is not None else None
    rules: list[CalicoRule] = []
    for index, rule_node in enumerate(found or ()):
        if not isinstance(rule_node, MapNode):
            continue
        action_text = rule_node.get_str("action") or ""
        ip_version = rule_node.get("ipVersion")
        rules.append(
            CalicoRule(
                direction=direction,
                index=index,
                action=_ACTIONS.get(action_text),
                action_text=action_text,
                protocol=_protocol(rule_node.get("protocol")),
                not_protocol=_protocol(rule_node.get("notProtocol")),
                ip_version=ip_version.value
                if isinstance(ip_version, ScalarNode) and type(ip_version.value) is int
                else None,
                icmp=_icmp(rule_node.get_map("icmp")),
                not_icmp=_icmp(rule_node.get_map("notICMP")),
                source=_entity(rule_node.get_map("source")),
                destination=_entity(rule_node.get_map("destination")),
                http=isinstance(rule_node.get("http"), MapNode),
                node=rule_node,
            )
        )
    return tuple(rules)


def _protocol(node: Node | None) -> str | int | None:
    if not isinstance(node, ScalarNode) or node.value is None:
        return None
    return node.value if type(node.value) is int else node.text


def _icmp(node: MapNode | None) -> tuple[int | None, int | None] | None:
    if node is None:
        return None
    values = [node.get(key) for key in ("type", "code")]
    number = [v.value if isinstance(v, ScalarNode) and type(v.value) is int else None for v in values]
    return (number[0], number[1])


def _entity(node: MapNode | None) -> EntityRule:
    if node is None:
        return EntityRule()
    accounts = node.get_map("serviceAccounts")
    services = node.get_map("services")
    service: tuple[str, str | None] | None = None
    if services is not None:
        service = (services.get_str("name") or "", services.get_str("namespace"))
    return EntityRule(
        nets=_nets(node.get_seq("nets")),
        not_nets=_nets(node.get_seq("notNets")),
        selector=_selector(node, "selector"),
        not_selector=_selector(node, "notSelector"),
        namespace_selector=_selector(node, "namespaceSelector"),
        service_account_names=tuple(
            item.text
            for item in (accounts.get_seq("names") or () if accounts is not None else ())
            if isinstance(item, ScalarNode)
        ),
        service_account_selector=_selector(accounts, "selector"),
        service=service,
        ports=_ports(node.get_seq("ports")),
        not_ports=_ports(node.get_seq("notPorts")),
        node=node,
    )


def parse_net(text: str) -> IPNetwork | None:
    """A Calico ``nets`` entry: a CIDR, or a bare address meaning a single host."""
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return None


def _nets(node: SeqNode | None) -> tuple[IPNetwork, ...]:
    found = (parse_net(item.text) for item in node or () if isinstance(item, ScalarNode))
    return tuple(net for net in found if net is not None)


def parse_port(node: Node) -> PortRange | str | None:
    """A ports entry: a number, ``"first:last"``, or a named port; None when malformed."""
    if not isinstance(node, ScalarNode) or node.value is None:
        return None
    if type(node.value) is int:
        return PortRange(node.value, node.value) if 0 <= node.value <= 65535 else None
    text = node.text.strip()
    first, colon, last = text.partition(":")
    if colon:
        if first.isdigit() and last.isdigit() and int(first) <= int(last) <= 65535:
            return PortRange(int(first), int(last))
        return None
    if text.isdigit():
        return PortRange(int(text), int(text)) if int(text) <= 65535 else None
    return text or None


def _ports(node: SeqNode | None) -> tuple[PortRange | str, ...]:
    found = (parse_port(item) for item in node or ())
    return tuple(port for port in found if port is not None)
