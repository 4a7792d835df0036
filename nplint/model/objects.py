"""The inventory's typed, frozen objects.

Each object keeps the YAML node it was built from, so a rule can point at the
exact place, and the display path of its file. NetworkPolicies carry the API
server's defaulting already applied (networkpolicy-semantics §1.4, §1.5).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import field
from enum import Enum
from typing import TypedDict

from nplint.findings import ObjectRef, Span
from nplint.loading.nodes import MapNode, Node
from nplint.model.selectors import LabelSelector
from nplint.records import record

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class Direction(Enum):
    INGRESS = "Ingress"
    EGRESS = "Egress"

    # Enum's own hash is Python code (the hash of the member's name), and rules ask
    # whether a policy isolates a direction, a set lookup, some hundred thousand
    # times on a large tree. Members are singletons: identity is their equality.
    __hash__ = object.__hash__

    @property
    def lower(self) -> str:
        return self.value.lower()

    @property
    def rules_key(self) -> str:
        """The spec field that holds this direction's rules."""
        return "ingress" if self is Direction.INGRESS else "egress"

    @property
    def peers_key(self) -> str:
        """The rule field that holds this direction's peers."""
        return "from" if self is Direction.INGRESS else "to"


PROTOCOLS = ("TCP", "UDP", "SCTP")


class ObjectFields(TypedDict):
    """The fields every inventory object shares, read once per manifest (:class:`KubeObject`'s
    but ``kind`` and ``namespace``, which each kind decides)."""

    path: str
    node: MapNode
    document_index: int
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    name: str


@record(frozen=True, slots=True, eq=False)
class KubeObject:
    """What every inventory object has: identity, source file and node."""

    kind: str
    namespace: str
    name: str
    path: str
    node: MapNode
    document_index: int
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    #: Lacks what its kind needs to exist (a workload without containers, a Flux Kustomization
    #: without a source), and no render made it: a strategic-merge patch kept as a file. Not a
    #: workload of its namespace, not a definition of its name (:func:`nplint.deployment_scope.is_partial`).
    partial: bool = field(default=False, kw_only=True)
    #: :attr:`span`, once asked for: rules sort and relate objects by it tens of thousands of times.
    _span: Span | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def ref(self) -> ObjectRef:
        return ObjectRef(self.kind, self.namespace, self.name)

    @property
    def span(self) -> Span:
        """Where the object is named: ``metadata.name``, else the document start."""
        span = self._span
        if span is None:
            metadata = self.node.get_map("metadata")
            name = metadata.get("name") if metadata is not None else None
            span = name.span if name is not None else self.node.span
            object.__setattr__(self, "_span", span)
        return span

    def __str__(self) -> str:
        return str(self.ref)


@record(frozen=True, slots=True, eq=False)
class Namespace(KubeObject):
    """A Namespace. ``labels`` include the automatic ``kubernetes.io/metadata.name``."""

    #: False for namespaces only referred to by objects, not defined in the repository.
    defined: bool = True


@record(frozen=True, slots=True)
class ContainerPort:
    name: str | None
    port: int
    protocol: str


@record(frozen=True, slots=True, eq=False)
class Workload(KubeObject):
    """A set of identical pods: a bare Pod or a controller's pod template.

    ``labels`` are the pods' labels (the template's), not the controller's.
    """

    pod_labels: Mapping[str, str] = field(default_factory=dict)
    ports: tuple[ContainerPort, ...] = ()
    host_network: bool = False
    #: Pod IPs from ``status`` (``kubectl get -o yaml`` exports), when present.
    pod_ips: tuple[str, ...] = ()
    #: The node of the pod template's labels (or the Pod's metadata), for positions.
    labels_node: Node | None = None
    #: ``spec.nodeName``: the node the pods run on (exported Pods carry it), else None.
    node_name: str | None = None
    #: ``spec.serviceAccountName`` (or the deprecated ``serviceAccount``); ``default`` when absent.
    service_account: str = "default"

    def named_port(self, name: str, protocol: str) -> tuple[int, ...]:
        return tuple(p.port for p in self.ports if p.name == name and p.protocol == protocol)


@record(frozen=True, slots=True)
class ServicePort:
    name: str | None
    port: int
    target_port: int | str
    protocol: str


@record(frozen=True, slots=True, eq=False)
class Service(KubeObject):
    selector: Mapping[str, str] | None = None
    ports: tuple[ServicePort, ...] = ()
    cluster_ips: tuple[str, ...] = ()


@record(frozen=True, slots=True, eq=False)
class IPBlock:
    cidr: str
    #: The masked network, or None when ``cidr`` does not parse.
    network: IPNetwork | None
    excepts: tuple[tuple[str, IPNetwork | None], ...]
    node: MapNode

    def contains(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        if self.network is None or address.version != self.network.version:
            return False
        if address not in self.network:
            return False
        return not any(
            net is not None and net.version == address.version and address in net for _, net in self.excepts
        )


@record(frozen=True, slots=True, eq=False)
class Peer:
    """One entry of ``from``/``to``: selectors ANDed, or an ipBlock."""

    pod_selector: LabelSelector | None
    namespace_selector: LabelSelector | None
    ip_block: IPBlock | None
    node: Node
    index: int

    @property
    def is_selector_peer(self) -> bool:
        return self.ip_block is None and (
            self.pod_selector is not None or self.namespace_selector is not None
        )


@record(frozen=True, slots=True, eq=False)
class PolicyPort:
    """One entry of ``ports``. ``protocol`` is defaulted to TCP as the API server does."""

    protocol: str
    #: A number, a port name, or None for every port of the protocol.
    port: int | str | None
    end_port: int | None
    node: Node
    index: int

    def matches_number(self, number: int) -> bool:
        port = self.port
        if port is None:
            return True
        if isinstance(port, int):
            if self.end_port is not None and self.end_port >= port:
                return port <= number <= self.end_port
            return number == port
        return False


@record(frozen=True, slots=True, eq=False)
class PolicyRule:
    """One ingress or egress rule.

    ``peers`` is None when ``from``/``to`` is omitted or empty (every peer,
    in and outside the cluster); ``ports`` is None when ``ports`` is omitted or
    empty (every port of every protocol).
    """

    direction: Direction
    index: int
    peers: tuple[Peer, ...] | None
    ports: tuple[PolicyPort, ...] | None
    node: Node


@record(frozen=True, slots=True, eq=False)
class NetworkPolicy(KubeObject):
    pod_selector: LabelSelector = field(default_factory=LabelSelector)
    #: The ``spec.podSelector`` node; None when the field is omitted.
    pod_selector_node: Node | None = None
    #: ``policyTypes`` as written (None when omitted or empty).
    written_policy_types: tuple[str, ...] | None = None
    #: The directions the policy isolates after the API server's defaulting.
    effective_policy_types: frozenset[Direction] = frozenset()
    ingress: tuple[PolicyRule, ...] = ()
    egress: tuple[PolicyRule, ...] = ()
    #: True when ``metadata.namespace`` was written in the manifest.
    namespace_explicit: bool = True
    api_version: str = "networking.k8s.io/v1"

    @property
    def spec(self) -> MapNode | None:
        return self.node.get_map("spec")

    def isolates(self, direction: Direction) -> bool:
        return direction in self.effective_policy_types

    def rules(self, direction: Direction) -> tuple[PolicyRule, ...]:
        return self.ingress if direction is Direction.INGRESS else self.egress
