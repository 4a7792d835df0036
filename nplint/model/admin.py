"""The Network Policy API's cluster-scoped kinds: AdminNetworkPolicy, BaselineAdminNetworkPolicy
(``policy.networking.k8s.io/v1alpha1``) and ClusterNetworkPolicy (``v1alpha2``, tiers Admin and Baseline).

All three become one :class:`AdminPolicy`: a tier, a priority, a subject and
ordered rules whose first match decides (policy-kinds §3–§5). The two API
versions differ in spelling only — ``Allow`` is ``Accept``, ``ports`` is
``protocols`` — so the model keeps the meaning and the nodes, not the
spelling. The builder is lenient like the NetworkPolicy one; what the CRD
schema rejects is listed by :func:`admin_problems` (NP006 reports it, and the
engine enforces nothing of a rejected object, as the API server stores none of it).

Dispatch is on apiVersion **and** kind (policy-kinds §1): ``ClusterNetworkPolicy``
is also the name of Antrea's and of other CRDs, and ``cnp`` the short name of three.
"""

from __future__ import annotations

import ipaddress
from dataclasses import field
from enum import Enum

from nplint.loading.nodes import MapNode, Node, ScalarNode, SeqNode
from nplint.model.objects import Direction, IPNetwork, KubeObject, ObjectFields
from nplint.model.selectors import LabelSelector
from nplint.records import record
from nplint.untrusted import quoted

V1ALPHA1 = "policy.networking.k8s.io/v1alpha1"
V1ALPHA2 = "policy.networking.k8s.io/v1alpha2"

#: (apiVersion, kind) of every kind this module models.
ADMIN_KINDS: frozenset[tuple[str, str]] = frozenset(
    (
        (V1ALPHA1, "AdminNetworkPolicy"),
        (V1ALPHA1, "BaselineAdminNetworkPolicy"),
        (V1ALPHA2, "ClusterNetworkPolicy"),
    )
)

#: Kinds of the group that a manifest may name at the wrong version (the API server knows no such kind).
GROUP_KINDS = frozenset(kind for _, kind in ADMIN_KINDS)

PRIORITY_MIN, PRIORITY_MAX = 0, 1000
PORT_MIN, PORT_MAX = 1, 65535
RULE_NAME_MAX = 100
NETWORKS_MAX = 25


class Tier(Enum):
    """Where a policy sits around NetworkPolicy: before it (Admin) or after it (Baseline)."""

    ADMIN = "Admin"
    BASELINE = "Baseline"


class Action(Enum):
    """What a matching rule does. v1alpha2's ``Accept`` is :attr:`ALLOW`."""

    ALLOW = "Allow"
    DENY = "Deny"
    PASS = "Pass"


class PeerKind(Enum):
    NAMESPACES = "namespaces"
    PODS = "pods"
    NETWORKS = "networks"
    NODES = "nodes"
    DOMAIN_NAMES = "domainNames"


@record(frozen=True, slots=True, eq=False)
class AdminPeer:
    """One entry of ``from``/``to``. ``kind`` None: no field (or several) set — the CRD rejects it."""

    kind: PeerKind | None
    index: int
    node: Node
    #: ``namespaces`` peer: the namespace selector; ``pods`` peer: its ``namespaceSelector``
    #: (None in v1alpha2 when omitted: every namespace).
    namespaces: LabelSelector | None = None
    #: ``pods`` peer: its ``podSelector``; ``nodes`` peer: the node selector.
    pods: LabelSelector | None = None
    #: ``networks`` peer: each CIDR as written and parsed (None when it does not parse).
    networks: tuple[tuple[str, IPNetwork | None], ...] = ()
    domain_names: tuple[str, ...] = ()

    def contains(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        """Whether a ``networks`` peer holds the address."""
        return any(
            net is not None and net.version == address.version and address in net for _, net in self.networks
        )


@record(frozen=True, slots=True, eq=False)
class AdminPort:
    """One port entry, defaulted: ``protocol`` TCP unless written (CRD default)."""

    protocol: str
    #: None with ``name`` None: every port of the protocol.
    start: int | None
    end: int | None
    #: A named port, resolved on the destination pod (any protocol of that container port).
    name: str | None
    node: Node
    index: int


@record(frozen=True, slots=True, eq=False)
class AdminRule:
    direction: Direction
    index: int
    name: str | None
    #: None when the action is not one the kind accepts (the CRD rejects the object).
    action: Action | None
    peers: tuple[AdminPeer, ...]
    #: None: every port and protocol.
    ports: tuple[AdminPort, ...] | None
    node: Node

    @property
    def label(self) -> str:
        """How reasons name the rule: its index, and its name when it has one."""
        return f"rule {self.index}" if not self.name else f"rule {self.index} {quoted(self.name)}"


@record(frozen=True, slots=True, eq=False)
class AdminPolicy(KubeObject):
    """An AdminNetworkPolicy, a BaselineAdminNetworkPolicy or a ClusterNetworkPolicy."""

    api_version: str = V1ALPHA1
    tier: Tier = Tier.ADMIN
    #: None for a BANP (it has none) and when missing or not a number.
    priority: int | None = None
    #: The subject: pods of namespaces matching ``subject_namespaces`` whose labels match
    #: ``subject_pods`` (None: every pod). None: no valid subject — it selects nothing.
    subject_namespaces: LabelSelector | None = None
    subject_pods: LabelSelector | None = None
    ingress: tuple[AdminRule, ...] = ()
    egress: tuple[AdminRule, ...] = ()
    #: What the CRD schema rejects, as (node, message): the API server stores nothing of it.
    problems: tuple[tuple[Node, str], ...] = field(default=())

    @property
    def rejected(self) -> bool:
        return bool(self.problems)

    def rules(self, direction: Direction) -> tuple[AdminRule, ...]:
        return self.ingress if direction is Direction.INGRESS else self.egress

    @property
    def title(self) -> str:
        """The kind as reasons name it, with the tier of a ClusterNetworkPolicy."""
        if self.kind == "ClusterNetworkPolicy":
            return f"ClusterNetworkPolicy ({self.tier.value} tier)"
        return self.kind


class _Problems:
    """Collects what the CRD schema rejects."""

    def __init__(self) -> None:
        self.items: list[tuple[Node, str]] = []

    def add(self, node: Node, message: str) -> None:
        self.items.append((node, message))


def is_admin_kind(api_version: str | None, kind: str) -> bool:
    return (api_version or "", kind) in ADMIN_KINDS


def build_admin_policy(kind: str, api_version: str, common: ObjectFields) -> AdminPolicy:
    """The policy of one manifest of a kind :func:`is_admin_kind` accepts, with its schema problems."""
    from nplint.model.inventory import parse_selector

    node, name = common["node"], common["name"]
    problems = _Problems()
    v2 = api_version == V1ALPHA2
    limit = 25 if v2 else 100
    spec = node.get_map("spec")
    metadata = node.get_map("metadata")
    tier = Tier.ADMIN
    priority: int | None = None
    subject_namespaces: LabelSelector | None = None
    subject_pods: LabelSelector | None = None
    rules: dict[Direction, tuple[AdminRule, ...]] = {Direction.INGRESS: (), Direction.EGRESS: ()}
    if kind == "BaselineAdminNetworkPolicy":
        tier = Tier.BASELINE
        if name != "default":
            problems.add(
                _at(_name_node(metadata), node),
                "a BaselineAdminNetworkPolicy must be named `default` (there is one per cluster)",
            )
    if spec is None:
        problems.add(node, f"a {kind} needs a `spec` mapping")
    else:
        if kind == "ClusterNetworkPolicy":
            tier_node = spec.get("tier")
            tier_text = spec.get_str("tier")
            if tier_text in ("Admin", "Baseline"):
                tier = Tier(tier_text)
            else:
                problems.add(_at(tier_node, spec), "`tier` is required and must be `Admin` or `Baseline`")
        if kind != "BaselineAdminNetworkPolicy":
            priority_node = spec.get("priority")
            if isinstance(priority_node, ScalarNode) and type(priority_node.value) is int:
                priority = priority_node.value
                if not PRIORITY_MIN <= priority <= PRIORITY_MAX:
                    problems.add(priority_node, f"`priority` must be from {PRIORITY_MIN} to {PRIORITY_MAX}")
                    priority = None
            else:
                problems.add(_at(priority_node, spec), "`priority` is required and must be an integer")
        subject = spec.get("subject")
        if not isinstance(subject, MapNode):
            problems.add(_at(subject, spec), "`subject` is required: `namespaces` or `pods`")
        else:
            fields = [key for key in ("namespaces", "pods") if key in subject]
            if len(fields) != 1 or len(list(subject.keys())) != 1:
                problems.add(subject, "`subject` must set exactly one of `namespaces` and `pods`")
            elif fields == ["namespaces"]:
                subject_namespaces = parse_selector(subject.get("namespaces"))
                subject_pods = None
            else:
                pods = subject.get_map("pods")
                namespace_selector, pod_selector = _pods_selectors(pods, v2, problems, subject)
                subject_namespaces, subject_pods = namespace_selector or LabelSelector(), pod_selector
        for direction in (Direction.INGRESS, Direction.EGRESS):
            rules[direction] = _admin_rules(spec, direction, kind, v2, limit, problems)
    return AdminPolicy(
        kind=kind,
        namespace="",
        **common,
        api_version=api_version,
        tier=tier,
        priority=priority,
        subject_namespaces=subject_namespaces,
        subject_pods=subject_pods,
        ingress=rules[Direction.INGRESS],
        egress=rules[Direction.EGRESS],
        problems=tuple(problems.items),
    )


def _at(node: Node | None, fallback: Node) -> Node:
    """Where a problem is reported: the node, else (when the field is missing) the mapping that lacks it.

    Never ``node or fallback``: an empty list node is false.
    """
    return node if node is not None else fallback


def _name_node(metadata: MapNode | None) -> Node | None:
    return metadata.get("name") if metadata is not None else None


def _pods_selectors(
    pods: MapNode | None, v2: bool, problems: _Problems, where: Node
) -> tuple[LabelSelector | None, LabelSelector | None]:
    """(namespaceSelector, podSelector) of a ``pods`` subject or peer; v1alpha2 may omit the first."""
    from nplint.model.inventory import parse_selector

    if pods is None:
        problems.add(where, "`pods` must be a mapping with `podSelector`")
        return None, None
    pod_node = pods.get("podSelector")
    namespace_node = pods.get("namespaceSelector")
    if not isinstance(pod_node, MapNode):
        problems.add(_at(pod_node, pods), "`pods` needs a `podSelector` mapping (`{}` for every pod)")
    if namespace_node is None and not v2:
        problems.add(pods, "`pods` needs a `namespaceSelector` in v1alpha1 (`{}` for every namespace)")
    namespace_selector = parse_selector(namespace_node) if namespace_node is not None else None
    return namespace_selector, parse_selector(pod_node)


_ACTIONS_V1 = {"Allow": Action.ALLOW, "Deny": Action.DENY, "Pass": Action.PASS}
_ACTIONS_V2 = {"Accept": Action.ALLOW, "Deny": Action.DENY, "Pass": Action.PASS}


def _admin_rules(
    spec: MapNode,
    direction: Direction,
    kind: str,
    v2: bool,
    limit: int,
    problems: _Problems,
) -> tuple[AdminRule, ...]:
    rules_node = spec.get(direction.rules_key)
    if rules_node is None:
        return ()
    if not isinstance(rules_node, SeqNode):
        problems.add(rules_node, f"`{direction.rules_key}` must be a list of rules")
        return ()
    if len(rules_node) > limit:
        problems.add(rules_node, f"`{direction.rules_key}` may hold at most {limit} rules")
    accepted = dict(_ACTIONS_V2 if v2 else _ACTIONS_V1)
    if kind == "BaselineAdminNetworkPolicy":
        del accepted["Pass"]
    result: list[AdminRule] = []
    for index, rule_node in enumerate(rules_node):
        if not isinstance(rule_node, MapNode):
            problems.add(rule_node, "a rule must be a mapping with `action` and peers")
            continue
        action_text = rule_node.get_str("action")
        action = accepted.get(action_text or "")
        if action is None:
            hint = ""
            if v2 and action_text == "Allow":
                hint = " (v1alpha2 spells it `Accept`)"
            elif not v2 and action_text == "Accept":
                hint = " (v1alpha1 spells it `Allow`)"
            problems.add(
                _at(rule_node.get("action"), rule_node),
                "`action` must be one of " + ", ".join(f"`{a}`" for a in accepted) + hint,
            )
        name_node = rule_node.get("name")
        name = rule_node.get_str("name")
        if name is not None and len(name) > RULE_NAME_MAX:
            problems.add(_at(name_node, rule_node), f"a rule name may be at most {RULE_NAME_MAX} characters")
        peers = _admin_peers(rule_node, direction, kind, v2, limit, action, problems)
        if v2:
            if "ports" in rule_node:
                problems.add(
                    _at(rule_node.key_node("ports"), rule_node), "v1alpha2 has no `ports`: write `protocols`"
                )
            ports = _protocols(rule_node.get("protocols"), limit, problems)
        else:
            ports = _ports_v1(rule_node.get("ports"), limit, problems)
        if (
            ports
            and any(p.name is not None for p in ports)
            and any(p.kind in (PeerKind.NETWORKS, PeerKind.NODES, PeerKind.DOMAIN_NAMES) for p in peers)
        ):
            problems.add(
                rule_node, "a named port cannot be combined with `networks`, `nodes` or `domainNames` peers"
            )
        result.append(AdminRule(direction, index, name, action, peers, ports, rule_node))
    return tuple(result)


_INGRESS_PEERS: tuple[PeerKind, ...] = (PeerKind.NAMESPACES, PeerKind.PODS)
_EGRESS_PEERS: tuple[PeerKind, ...] = (
    PeerKind.NAMESPACES,
    PeerKind.PODS,
    PeerKind.NETWORKS,
    PeerKind.NODES,
    PeerKind.DOMAIN_NAMES,
)


def _admin_peers(
    rule_node: MapNode,
    direction: Direction,
    kind: str,
    v2: bool,
    limit: int,
    action: Action | None,
    problems: _Problems,
) -> tuple[AdminPeer, ...]:
    from nplint.model.inventory import parse_network, parse_selector

    key = direction.peers_key
    peers_node = rule_node.get(key)
    if not isinstance(peers_node, SeqNode) or len(peers_node) == 0:
        problems.add(_at(peers_node, rule_node), f"a rule needs `{key}` with at least one peer")
        return ()
    if len(peers_node) > limit:
        problems.add(peers_node, f"`{key}` may hold at most {limit} peers")
    allowed = _INGRESS_PEERS if direction is Direction.INGRESS else _EGRESS_PEERS
    if kind == "BaselineAdminNetworkPolicy":
        allowed = tuple(k for k in allowed if k is not PeerKind.DOMAIN_NAMES)
    peers: list[AdminPeer] = []
    for index, peer_node in enumerate(peers_node):
        keys = list(peer_node.keys()) if isinstance(peer_node, MapNode) else []
        if not isinstance(peer_node, MapNode) or len(keys) != 1:
            problems.add(
                peer_node, "a peer must set exactly one of " + ", ".join(f"`{k.value}`" for k in allowed)
            )
            peers.append(AdminPeer(None, index, peer_node))
            continue
        peer_kind = next((k for k in PeerKind if k.value == keys[0]), None)
        if peer_kind is None or peer_kind not in allowed:
            where = "an ingress" if direction is Direction.INGRESS else "an egress"
            problems.add(
                _at(peer_node.key_node(keys[0]), peer_node),
                f"{where} peer of a {kind} may be " + ", ".join(f"`{k.value}`" for k in allowed),
            )
            peers.append(AdminPeer(None, index, peer_node))
            continue
        value = peer_node.get(keys[0])
        if peer_kind is PeerKind.NAMESPACES:
            peers.append(AdminPeer(peer_kind, index, peer_node, namespaces=parse_selector(value)))
        elif peer_kind is PeerKind.PODS:
            namespace_selector, pod_selector = _pods_selectors(
                value if isinstance(value, MapNode) else None, v2, problems, peer_node
            )
            peers.append(
                AdminPeer(peer_kind, index, peer_node, namespaces=namespace_selector, pods=pod_selector)
            )
        elif peer_kind is PeerKind.NODES:
            peers.append(AdminPeer(peer_kind, index, peer_node, pods=parse_selector(value)))
        elif peer_kind is PeerKind.NETWORKS:
            networks: list[tuple[str, IPNetwork | None]] = []
            if not isinstance(value, SeqNode) or not 1 <= len(value) <= NETWORKS_MAX:
                problems.add(_at(value, peer_node), f"`networks` must list 1 to {NETWORKS_MAX} CIDRs")
            for item in value if isinstance(value, SeqNode) else ():
                text = item.text if isinstance(item, ScalarNode) and isinstance(item.value, str) else ""
                network = parse_network(text) if text else None
                if network is None:
                    problems.add(item, "a `networks` entry must be a CIDR such as `10.0.0.0/8`")
                networks.append((text, network))
            peers.append(AdminPeer(peer_kind, index, peer_node, networks=tuple(networks)))
        else:
            names = (
                tuple(item.text for item in value if isinstance(item, ScalarNode))
                if isinstance(value, SeqNode)
                else ()
            )
            if action is not Action.ALLOW and action is not None:
                problems.add(peer_node, "`domainNames` peers are allowed only in rules that allow")
            peers.append(AdminPeer(peer_kind, index, peer_node, domain_names=names))
    return tuple(peers)


def _port_number(node: Node | None) -> int | None:
    if isinstance(node, ScalarNode) and type(node.value) is int and PORT_MIN <= node.value <= PORT_MAX:
        return node.value
    return None


def _ports_v1(node: Node | None, limit: int, problems: _Problems) -> tuple[AdminPort, ...] | None:
    if node is None:
        return None
    if not isinstance(node, SeqNode) or len(node) == 0:
        problems.add(node, f"`ports` must list 1 to {limit} entries (omit it for every port)")
        return None
    ports: list[AdminPort] = []
    for index, entry in enumerate(node):
        key = _only_key(entry, ("portNumber", "portRange", "namedPort"))
        if key is None:
            problems.add(
                entry, "a `ports` entry must set exactly one of `portNumber`, `portRange`, `namedPort`"
            )
            continue
        assert isinstance(entry, MapNode)
        value = entry.get(key)
        if key == "namedPort":
            ports.append(_named_port(key, value, entry, index, problems))
            continue
        if not isinstance(value, MapNode):
            problems.add(_at(value, entry), f"`{key}` must be a mapping")
            continue
        protocol = _protocol(value, problems)
        if key == "portNumber":
            number = _port_number(value.get("port"))
            if number is None:
                problems.add(
                    _at(value.get("port"), value), f"`port` is required, from {PORT_MIN} to {PORT_MAX}"
                )
                continue
            ports.append(AdminPort(protocol, number, number, None, entry, index))
        else:
            start, end = _port_number(value.get("start")), _port_number(value.get("end"))
            if start is None or end is None:
                problems.add(
                    value, f"`portRange` needs `start` and `end`, each from {PORT_MIN} to {PORT_MAX}"
                )
                continue
            # v1alpha1 does not validate start < end; a reversed range holds no port (policy-kinds §12.13).
            ports.append(AdminPort(protocol, start, end, None, entry, index))
    return tuple(ports)


def _only_key(entry: Node, allowed: tuple[str, ...]) -> str | None:
    """The one key of a mapping that must set exactly one of ``allowed``; None when it does not."""
    if not isinstance(entry, MapNode) or len(entry.entries) != 1:
        return None
    (key,) = entry.entries
    return key if key in allowed else None


def _named_port(key: str, value: Node | None, entry: MapNode, index: int, problems: _Problems) -> AdminPort:
    """A named port entry (`namedPort`, `destinationNamedPort`): TCP, matched by the pods' port names."""
    text = value.text if isinstance(value, ScalarNode) and isinstance(value.value, str) else ""
    if not text:
        problems.add(_at(value, entry), f"`{key}` must be a port name")
    return AdminPort("TCP", None, None, text, entry, index)


def _protocol(mapping: MapNode, problems: _Problems) -> str:
    node = mapping.get("protocol")
    if node is None:
        return "TCP"  # the CRD's default
    text = mapping.get_str("protocol")
    if text not in ("TCP", "UDP", "SCTP"):
        problems.add(node, "`protocol` must be `TCP`, `UDP` or `SCTP`")
        return text or ""
    return text


def _protocols(node: Node | None, limit: int, problems: _Problems) -> tuple[AdminPort, ...] | None:
    if node is None:
        return None
    if not isinstance(node, SeqNode) or len(node) == 0:
        problems.add(node, f"`protocols` must list 1 to {limit} entries (omit it for every port)")
        return None
    ports: list[AdminPort] = []
    for index, entry in enumerate(node):
        key = _only_key(entry, ("tcp", "udp", "sctp", "destinationNamedPort"))
        if key is None:
            problems.add(
                entry,
                "a `protocols` entry must set exactly one of `tcp`, `udp`, `sctp`, `destinationNamedPort`",
            )
            continue
        assert isinstance(entry, MapNode)
        value = entry.get(key)
        if key == "destinationNamedPort":
            ports.append(_named_port(key, value, entry, index, problems))
            continue
        protocol = key.upper()
        destination = value.get_map("destinationPort") if isinstance(value, MapNode) else None
        if destination is None:
            # The CRD demands destinationPort (minProperties 1); "every TCP port" is range 1-65535.
            problems.add(
                _at(value, entry),
                f"`{key}` needs `destinationPort` (`number`, or `range` 1-65535 for every port)",
            )
            continue
        fields = list(destination.keys())
        if fields == ["number"]:
            number = _port_number(destination.get("number"))
            if number is None:
                problems.add(
                    _at(destination.get("number"), destination),
                    f"`number` must be from {PORT_MIN} to {PORT_MAX}",
                )
                continue
            ports.append(AdminPort(protocol, number, number, None, entry, index))
        elif fields == ["range"] and isinstance(destination.get("range"), MapNode):
            span = destination.get_map("range")
            assert span is not None
            start, end = _port_number(span.get("start")), _port_number(span.get("end"))
            if start is None or end is None or start >= end:
                problems.add(span, f"`range` needs `start` < `end`, each from {PORT_MIN} to {PORT_MAX}")
                continue
            ports.append(AdminPort(protocol, start, end, None, entry, index))
        else:
            problems.add(destination, "`destinationPort` must set exactly one of `number` and `range`")
    return tuple(ports)
