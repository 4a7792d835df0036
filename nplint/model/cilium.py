"""CiliumNetworkPolicy and CiliumClusterwideNetworkPolicy (``cilium.io/v2``) as typed objects.

L3/L4 only (policy-kinds §8); L7 and FQDN parts are recorded as far as they change
L3/L4 verdicts or DNS. :func:`is_cilium_policy` dispatches on apiVersion *and* kind.

The interface the engine evaluates:

* :class:`CiliumPolicy` — ``is_clusterwide``, ``home_namespace`` and ``specs``: one
  :class:`CiliumSpec` per Cilium rule (``spec`` and every ``specs`` entry; both may be set).
* :class:`CiliumSpec` — the subject (``endpoint_selector``, or ``node_selector`` for a host
  policy, which selects no pod), the four sections ``ingress`` / ``ingress_deny`` /
  ``egress`` / ``egress_deny`` (unions, deny beats allow), :meth:`CiliumSpec.default_deny`
  (``enableDefaultDeny`` defaulted per §8.2: true when the direction has a non-empty
  section), :meth:`CiliumSpec.selects`.
* :class:`CiliumRule` — the peers (``endpoints``, ``entities``, ``cidrs``, ``nodes``;
  ``services``, ``fqdns``, ``groups``, ``requires`` recorded), ``to_ports``, and
  :attr:`CiliumRule.any_peer` / :attr:`CiliumRule.matches_nothing` for the edge cases of
  §8.10 (an empty rule allows nothing; a rule with only ``toPorts`` takes any L3 peer).
* :class:`EndpointSelector` — a label selector over **identity labels**
  (:func:`identity_labels`, §8.3): source prefixes ``k8s:`` / ``any:`` are dropped, other
  sources (``reserved:``, ``cidr:``, …) match no pod label, and peer selectors carry the
  namespace restriction Cilium adds (§8.4): the policy's namespace in a namespaced
  policy, any namespace in a clusterwide one. An endpointSelector of a namespaced policy
  is always limited to its own namespace.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field

from nplint.loading.nodes import MapNode, Node
from nplint.model.objects import Direction, IPNetwork, KubeObject
from nplint.model.selectors import LabelSelector, Operator, Requirement
from nplint.records import record

__all__ = [
    "CILIUM_API_VERSION",
    "CILIUM_POLICY_KINDS",
    "ENTITIES",
    "NAMESPACE_LABEL",
    "CIDRRule",
    "CiliumPolicy",
    "CiliumPort",
    "CiliumPortRule",
    "CiliumRule",
    "CiliumSpec",
    "EndpointSelector",
    "FQDNSelector",
    "identity_labels",
    "is_cilium_policy",
    "label_name",
]

CILIUM_API_VERSION = "cilium.io/v2"
CILIUM_POLICY_KINDS = frozenset(("CiliumNetworkPolicy", "CiliumClusterwideNetworkPolicy"))

#: Identity label keys ([CIL-TYPES] const.go, policy-kinds §8.3).
NAMESPACE_LABEL = "io.kubernetes.pod.namespace"
NAMESPACE_LABELS_PREFIX = "io.cilium.k8s.namespace.labels."
SERVICE_ACCOUNT_LABEL = "io.cilium.k8s.policy.serviceaccount"
CLUSTER_LABEL = "io.cilium.k8s.policy.cluster"
#: Label sources whose keys name a pod's Kubernetes labels; a key without source is ``any``.
_POD_SOURCES = frozenset(("k8s", "any"))

#: The entities Cilium knows ([CIL-L3], ``EntitySelectorMapping``); any other is refused.
ENTITIES = frozenset(
    (
        "all",
        "world",
        "world-ipv4",
        "world-ipv6",
        "cluster",
        "host",
        "init",
        "ingress",
        "unmanaged",
        "remote-node",
        "health",
        "none",
        "kube-apiserver",
    )
)


def is_cilium_policy(api_version: str | None, kind: str | None) -> bool:
    """Whether an object is a CiliumNetworkPolicy or CiliumClusterwideNetworkPolicy (§1)."""
    return api_version == CILIUM_API_VERSION and kind in CILIUM_POLICY_KINDS


def label_name(key: str) -> str:
    """A selector key as it names a pod's identity label: ``k8s:app`` and ``any:app`` are ``app``.

    Keys of other sources (``reserved:host``, ``cidr:…``) keep their prefix; Kubernetes label
    keys cannot contain ``:``, so such a key never names a pod label.
    """
    source, colon, name = key.partition(":")
    return name if colon and source in _POD_SOURCES else key


def identity_labels(
    pod_labels: Mapping[str, str],
    namespace: str,
    namespace_labels: Mapping[str, str],
    service_account: str = "default",
    cluster: str = "default",
) -> dict[str, str]:
    """The identity labels Cilium's selectors see on a pod (§8.3)."""
    labels = dict(pod_labels)
    for key, value in namespace_labels.items():
        labels[NAMESPACE_LABELS_PREFIX + key] = value
    labels[NAMESPACE_LABELS_PREFIX + "kubernetes.io/metadata.name"] = namespace
    labels[NAMESPACE_LABEL] = namespace
    labels[SERVICE_ACCOUNT_LABEL] = service_account
    labels[CLUSTER_LABEL] = cluster
    return labels


@record(frozen=True, slots=True, eq=False)
class EndpointSelector:
    """A selector as written (``written``) and as Cilium evaluates it (``effective``)."""

    written: LabelSelector
    effective: LabelSelector
    node: Node | None = None

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether identity labels (:func:`identity_labels`) match."""
        return self.effective.matches(labels)

    @property
    def names_namespace(self) -> bool:
        """The selector itself says which namespace (``io.kubernetes.pod.namespace``, any source)."""
        return any(label_name(key) == NAMESPACE_LABEL for key in self.written.keys)

    @property
    def reserved(self) -> bool:
        """Selects by a ``reserved:`` label (host, world, health, …): never a pod."""
        return any(key.startswith("reserved:") for key in self.written.keys)


def normalized(selector: LabelSelector) -> LabelSelector:
    """``selector`` with its keys as :func:`label_name` reads them."""
    return LabelSelector(
        tuple((label_name(key), value) for key, value in selector.match_labels),
        tuple(Requirement(label_name(r.key), r.operator, r.values) for r in selector.expressions),
        selector.node,
    )


def peer_selector(selector: LabelSelector, policy_namespace: str | None) -> EndpointSelector:
    """A ``fromEndpoints``/``toEndpoints`` entry with Cilium's namespace rule ([CIL-UTILS]).

    Without a namespace key it is limited to ``policy_namespace`` (a namespaced policy), or to
    pods of any namespace (``None``: a clusterwide policy). ``reserved:`` selectors are left alone.
    """
    written = EndpointSelector(selector, normalized(selector), selector.node)
    if written.names_namespace or written.reserved:
        return written
    effective = written.effective
    if policy_namespace is not None:
        labels = (*effective.match_labels, (NAMESPACE_LABEL, policy_namespace))
        return EndpointSelector(
            selector, LabelSelector(labels, effective.expressions, selector.node), selector.node
        )
    exists = Requirement(NAMESPACE_LABEL, Operator.EXISTS, frozenset())
    expressions = (*effective.expressions, exists)
    return EndpointSelector(
        selector, LabelSelector(effective.match_labels, expressions, selector.node), selector.node
    )


def subject_selector(selector: LabelSelector, policy_namespace: str | None) -> EndpointSelector:
    """An ``endpointSelector``: in a namespaced policy always its own namespace; a namespace
    the selector names is dropped there, as Cilium does with a warning (§8.4, K33)."""
    effective = normalized(selector)
    if policy_namespace is None:
        return EndpointSelector(selector, effective, selector.node)
    labels = tuple((k, v) for k, v in effective.match_labels if k != NAMESPACE_LABEL)
    expressions = tuple(r for r in effective.expressions if r.key != NAMESPACE_LABEL)
    labels = (*labels, (NAMESPACE_LABEL, policy_namespace))
    return EndpointSelector(selector, LabelSelector(labels, expressions, selector.node), selector.node)


@record(frozen=True, slots=True)
class CiliumPort:
    """A ``toPorts[].ports[]`` entry. ``port`` None (absent or 0) means every port."""

    port: int | str | None
    end_port: int | None
    #: Upper case; ``ANY`` when omitted (§8.8).
    protocol: str
    node: Node | None = None

    def matches(self, protocol: str, port: int, named: Mapping[str, tuple[tuple[str, int], ...]]) -> bool:
        if self.protocol != "ANY" and self.protocol != protocol:
            return False
        if self.port is None:
            return True
        if isinstance(self.port, str):
            # A named port resolves on the destination pod, with that container port's protocol.
            return (protocol, port) in named.get(self.port, ())
        last = self.end_port if self.end_port is not None and self.end_port >= self.port else self.port
        return self.port <= port <= last


@record(frozen=True, slots=True)
class CiliumPortRule:
    """A ``toPorts`` entry: its ports and which L7 rule kinds (``http``, ``dns``, …) it carries."""

    ports: tuple[CiliumPort, ...]
    l7: frozenset[str]
    server_names: tuple[str, ...] = ()
    node: MapNode | None = None

    def matches(self, protocol: str, port: int, named: Mapping[str, tuple[tuple[str, int], ...]]) -> bool:
        # A toPorts entry without ports covers every port (§8.8).
        return not self.ports or any(entry.matches(protocol, port, named) for entry in self.ports)


@record(frozen=True, slots=True)
class CIDRRule:
    """``fromCIDR``/``toCIDR`` (no excepts) or a ``fromCIDRSet``/``toCIDRSet`` entry."""

    text: str
    network: IPNetwork | None
    excepts: tuple[IPNetwork, ...] = ()
    #: ``cidrGroupRef``: a CiliumCIDRGroup whose CIDRs the repository may not show.
    group: str | None = None
    node: Node | None = None


@record(frozen=True, slots=True)
class FQDNSelector:
    match_name: str | None
    match_pattern: str | None
    node: Node | None = None


@record(frozen=True, slots=True)
class CiliumRule:
    """One entry of ``ingress``, ``ingressDeny``, ``egress`` or ``egressDeny``.

    Peer fields are None when absent and a tuple (maybe empty) when written, since Cilium
    reads an explicit empty list as "nothing" (§8.10).
    """

    direction: Direction
    deny: bool
    index: int
    node: MapNode
    endpoints: tuple[EndpointSelector, ...] | None = None
    entities: tuple[str, ...] | None = None
    cidrs: tuple[CIDRRule, ...] | None = None
    cidr_sets: tuple[CIDRRule, ...] | None = None
    nodes: tuple[EndpointSelector, ...] | None = None
    requires: tuple[EndpointSelector, ...] | None = None
    #: ``toServices`` entries, recorded as written.
    services: tuple[Node, ...] | None = None
    fqdns: tuple[FQDNSelector, ...] | None = None
    groups: tuple[Node, ...] | None = None
    to_ports: tuple[CiliumPortRule, ...] | None = None
    icmps: tuple[Node, ...] | None = None

    @property
    def peer_fields(self) -> tuple[str, ...]:
        """The L3 peer fields written with at least one entry, in Cilium's names."""
        prefix = "from" if self.direction is Direction.INGRESS else "to"
        found = (
            ("Endpoints", self.endpoints),
            ("Entities", self.entities),
            ("CIDR", self.cidrs),
            ("CIDRSet", self.cidr_sets),
            ("Nodes", self.nodes),
            ("Groups", self.groups),
            ("Services", self.services),
            ("FQDNs", self.fqdns),
        )
        return tuple(prefix + name for name, value in found if value)

    @property
    def any_peer(self) -> bool:
        """No L3 part but ports or ICMP: the rule applies to every peer, world included (§8.8)."""
        return not self._l3_written and (self.to_ports is not None or self.icmps is not None)

    @property
    def matches_nothing(self) -> bool:
        """``{}``, or only empty lists: a rule that matches no traffic (§8.9: ``egress: [{}]`` denies)."""
        return not self.peer_fields and not self.to_ports and not self.icmps and not self.any_peer

    @property
    def _l3_written(self) -> bool:
        return any(
            value is not None
            for value in (
                self.endpoints,
                self.entities,
                self.cidrs,
                self.cidr_sets,
                self.nodes,
                self.requires,
                self.services,
                self.fqdns,
                self.groups,
            )
        )

    @property
    def l7(self) -> frozenset[str]:
        return frozenset(kind for rule in self.to_ports or () for kind in rule.l7)

    def matches_port(
        self, protocol: str, port: int, named: Mapping[str, tuple[tuple[str, int], ...]] | None = None
    ) -> bool:
        """Whether the L4 part admits ``protocol``/``port`` (absent ``toPorts``: every port)."""
        if self.to_ports is None:
            return True
        return any(rule.matches(protocol, port, named or {}) for rule in self.to_ports)


@record(frozen=True, slots=True)
class CiliumSpec:
    """One Cilium rule: ``spec``, or ``specs[index]``."""

    #: None for ``spec``, the position for a ``specs`` entry.
    index: int | None
    node: MapNode
    endpoint_selector: EndpointSelector | None
    node_selector: EndpointSelector | None
    ingress: tuple[CiliumRule, ...] = ()
    ingress_deny: tuple[CiliumRule, ...] = ()
    egress: tuple[CiliumRule, ...] = ()
    egress_deny: tuple[CiliumRule, ...] = ()
    #: ``enableDefaultDeny`` as written, per direction (None when absent).
    written_default_deny: Mapping[Direction, bool | None] = field(default_factory=dict)

    def allows(self, direction: Direction) -> tuple[CiliumRule, ...]:
        return self.ingress if direction is Direction.INGRESS else self.egress

    def denies(self, direction: Direction) -> tuple[CiliumRule, ...]:
        return self.ingress_deny if direction is Direction.INGRESS else self.egress_deny

    def has_section(self, direction: Direction) -> bool:
        """A non-empty allow or deny section for ``direction`` ([CIL-RULES] ``len(...) > 0``)."""
        return bool(self.allows(direction) or self.denies(direction))

    def default_deny(self, direction: Direction) -> bool:
        """Whether the rule switches ``direction`` of its endpoints to default deny (§8.2, §8.9)."""
        written = self.written_default_deny.get(direction)
        return written if written is not None else self.has_section(direction)

    def selects(self, labels: Mapping[str, str]) -> bool:
        """Whether a pod with these identity labels is a subject; a host policy selects no pod."""
        return (
            self.endpoint_selector is not None
            and self.node_selector is None
            and self.endpoint_selector.matches(labels)
        )


@record(frozen=True, slots=True, eq=False)
class CiliumPolicy(KubeObject):
    """A CiliumNetworkPolicy (namespaced) or CiliumClusterwideNetworkPolicy.

    ``namespace`` is as written (``""`` when absent or clusterwide), the object's identity;
    :attr:`home_namespace` is where a namespaced policy lands.
    """

    api_version: str = ""
    is_clusterwide: bool = False
    home_namespace: str = ""
    specs: tuple[CiliumSpec, ...] = ()
    #: Neither ``spec`` nor ``specs`` holds a rule.
    empty: bool = False
