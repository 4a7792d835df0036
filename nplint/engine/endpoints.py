"""The ends of a connection: workloads (grouped into pod classes) and external address ranges.

A workload stands for a set of identical pods. Pods exported from a cluster
(``kubectl get pods -o yaml``) that a controller owns are shown as their owner
(``ReplicaSet``, ``DaemonSet``…), as np-guard does, so a dump of 30 replicas is
one endpoint. Evaluation works on *pod classes*: pods with the same namespace,
labels, container ports, host-network flag, node, service account and (when an
ipBlock can select pods) IPs are indistinguishable to every policy, so each class
is evaluated once.

A ``kind: Node`` object of the world is an endpoint too (``node:NAME``, kind
``Node``): a class of its own, in the host network, with the node's labels and
addresses. A host-network pod whose ``spec.nodeName`` names a Node of the world
answers on that node's addresses when its export shows none of its own.
"""

from __future__ import annotations

import difflib
import ipaddress
import itertools
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from nplint.engine.matching import PodView
from nplint.loading.nodes import MapNode, ScalarNode
from nplint.model import Inventory, Workload
from nplint.model.inventory import WORKLOAD_TEMPLATE_PATHS
from nplint.model.objects import ContainerPort
from nplint.records import record
from nplint.untrusted import shown

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
EXTERNAL = "External"
NODE = "Node"
#: How a probe or point query names a Node of the world: ``node:NAME``.
NODE_PREFIX = "node:"


@record(frozen=True, slots=True, eq=False)
class PodClass:
    """Pods no policy can tell apart; ``index`` is the class's position in :attr:`Topology.classes`."""

    index: int
    namespace: str
    labels: Mapping[str, str]
    namespace_labels: Mapping[str, str]
    ports: tuple[ContainerPort, ...]
    host_network: bool
    ips: tuple[str, ...]
    workloads: tuple[Workload, ...]
    #: The node the pods run on (``spec.nodeName``), or the node itself for a Node; None: unknown.
    node: str | None = None
    #: The pods' service account (``default`` when the pod names none; ``""`` for a Node).
    service_account: str = "default"
    #: A ``kind: Node`` of the world rather than pods.
    is_node: bool = False

    @property
    def title(self) -> str:
        """How messages name the class: its first workload, or ``node:NAME``."""
        if not self.workloads:
            return f"node:{shown(self.node or '')}"
        first = self.workloads[0]
        return f"{shown(first.namespace)}/{shown(first.name)}"

    def view(self) -> PodView:
        return PodView(
            namespace=self.namespace,
            labels=self.labels,
            namespace_labels=self.namespace_labels,
            ports=self.ports,
            host_network=self.host_network,
            ips=self.ips,
        )


@record(frozen=True, slots=True)
class AddressRange:
    """An inclusive range of addresses of one IP family, outside the cluster."""

    version: int
    first: int
    last: int

    @classmethod
    def of_network(cls, network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> AddressRange:
        return cls(network.version, int(network.network_address), int(network.broadcast_address))

    @classmethod
    def of_address(cls, address: IPAddress) -> AddressRange:
        return cls(address.version, int(address), int(address))

    @property
    def first_address(self) -> IPAddress:
        return ipaddress.IPv4Address(self.first) if self.version == 4 else ipaddress.IPv6Address(self.first)

    def __str__(self) -> str:
        if self.version == 4:
            first4, last4 = ipaddress.IPv4Address(self.first), ipaddress.IPv4Address(self.last)
            networks4 = list(ipaddress.summarize_address_range(first4, last4))
            return str(networks4[0]) if len(networks4) == 1 else f"{first4}-{last4}"
        first6, last6 = ipaddress.IPv6Address(self.first), ipaddress.IPv6Address(self.last)
        networks6 = list(ipaddress.summarize_address_range(first6, last6))
        return str(networks6[0]) if len(networks6) == 1 else f"{first6}-{last6}"


@record(frozen=True, slots=True, eq=False)
class Endpoint:
    """One row or column of the matrix: a workload, or a range of external addresses."""

    #: ``namespace/name[Kind]`` for a workload; the CIDR or ``first-last`` range for an address.
    key: str
    kind: str
    namespace: str
    name: str
    classes: tuple[int, ...] = ()
    workloads: tuple[Workload, ...] = ()
    address: AddressRange | None = None
    #: Other names that resolve to this endpoint (the pods of an owner).
    aliases: tuple[str, ...] = ()
    #: A Node's addresses: an address query names the node.
    node_ips: tuple[str, ...] = ()

    @property
    def is_external(self) -> bool:
        return self.address is not None

    @property
    def is_bare_pod(self) -> bool:
        """A single Pod (or a Node): it cannot be isolated from itself, so it has no self-flow."""
        return (self.kind == "Pod" and len(self.workloads) == 1) or self.is_node

    @property
    def is_node(self) -> bool:
        return self.kind == NODE and not self.workloads and self.address is None

    def __str__(self) -> str:
        return self.key


def external_endpoint(address: AddressRange) -> Endpoint:
    text = str(address)
    return Endpoint(key=text, kind=EXTERNAL, namespace="", name=text, address=address)


class EndpointError(LookupError):
    """An endpoint name that matches no endpoint, or several."""


def controller_owner(workload: Workload) -> tuple[str, str] | None:
    """(kind, name) of the controller that owns an exported Pod, from ``metadata.ownerReferences``."""
    if workload.kind != "Pod":
        return None
    metadata = workload.node.get_map("metadata")
    owners = metadata.get_seq("ownerReferences") if metadata is not None else None
    for owner in owners or ():
        if not isinstance(owner, MapNode):
            continue
        controller = owner.get("controller")
        name = owner.get_str("name")
        kind = owner.get_str("kind") or workload.kind
        # Static (mirror) pods are "owned" by their Node, which is no workload. ``kind`` is
        # required by the API; an export without it keeps the pod's kind, as np-guard does.
        if (
            name
            and kind in WORKLOAD_TEMPLATE_PATHS
            and isinstance(controller, ScalarNode)
            and controller.value is True
        ):
            return kind, name
    return None


@record(slots=True)
class Topology:
    """The pod classes and endpoints of an inventory, with lookups."""

    classes: list[PodClass]
    endpoints: list[Endpoint]
    #: For each class, the indices (into ``endpoints``) of the endpoints it belongs to.
    endpoints_of_class: list[tuple[int, ...]]

    def workload_endpoints(self) -> list[Endpoint]:
        return [e for e in self.endpoints if not e.is_external]

    def resolve(self, text: str) -> Endpoint:
        """``NAMESPACE/NAME``, ``NAMESPACE/KIND/NAME``, ``NAMESPACE/NAME[Kind]``, ``node:NAME`` or an IP.

        An IP address that is a known pod IP names that pod's workload, a Node's address
        that Node; any other address is an external endpoint.

        :raises EndpointError: no match, or an ambiguous one (the message lists near matches).
        """
        text = text.strip()
        if text.startswith(NODE_PREFIX):
            return self._node(text)
        address = _parse_address(text)
        if address is not None:
            for endpoint in self.workload_endpoints():
                if any(_parse_address(ip) == address for w in endpoint.workloads for ip in w.pod_ips):
                    return endpoint
            for endpoint in self.workload_endpoints():
                if any(_parse_address(ip) == address for ip in endpoint.node_ips):
                    return endpoint
            return external_endpoint(AddressRange.of_address(address))
        by_key = {e.key: e for e in self.workload_endpoints()}
        if text in by_key:
            return by_key[text]
        parts = text.split("/")
        found: list[Endpoint] = []
        if len(parts) == 3:
            namespace, kind, name = parts
            found = [
                e
                for e in by_key.values()
                if e.namespace == namespace and e.kind.lower() == kind.lower() and _names(e, name)
            ]
        elif len(parts) == 2:
            namespace, name = parts
            found = [e for e in by_key.values() if e.namespace == namespace and _names(e, name)]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            options = ", ".join(f"{e.namespace}/{e.kind}/{e.name}" for e in found)
            raise EndpointError(f"{text!r} names several workloads; write one of {options}")
        raise EndpointError(self._unknown(text))

    def _node(self, text: str) -> Endpoint:
        name = text[len(NODE_PREFIX) :].strip()
        nodes = {e.name: e for e in self.endpoints if e.is_node}
        if name in nodes:
            return nodes[name]
        near = sorted(difflib.get_close_matches(name, sorted(nodes), n=5, cutoff=0.5))
        if near:
            hint = "; did you mean " + ", ".join(NODE_PREFIX + n for n in near) + "?"
        elif nodes:
            hint = "; the Nodes of the world are " + ", ".join(NODE_PREFIX + n for n in sorted(nodes)[:5])
        else:
            hint = " (the world holds no `kind: Node` object; add the export of `kubectl get nodes -o yaml`)"
        raise EndpointError(f"unknown node {text!r}{hint}")

    def _unknown(self, text: str) -> str:
        workloads = [e for e in self.workload_endpoints() if not e.is_node]
        candidates = sorted(
            {f"{e.namespace}/{e.name}" for e in workloads}
            | {f"{e.namespace}/{alias}" for e in workloads for alias in e.aliases}
        )
        near = difflib.get_close_matches(text, candidates, n=5, cutoff=0.5)
        if not near and "/" in text:
            namespace = text.split("/", 1)[0]
            near = [c for c in candidates if c.startswith(namespace + "/")][:5]
        shape = (
            "" if "/" in text else " (write NAMESPACE/NAME, NAMESPACE/KIND/NAME, node:NAME or an IP address)"
        )
        hint = f"; did you mean {', '.join(near)}?" if near else ""
        return f"unknown endpoint {text!r}{shape}{hint}"


def _names(endpoint: Endpoint, name: str) -> bool:
    return endpoint.name == name or name in endpoint.aliases


def _parse_address(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


class _ClassKey(NamedTuple):
    namespace: str
    labels: tuple[tuple[str, str], ...]
    ports: tuple[ContainerPort, ...]
    host_network: bool
    ips: tuple[str, ...]
    node: str | None
    service_account: str


def build_topology(inventory: Inventory, *, keep_ips: bool = True) -> Topology:
    """Group the inventory's workloads into pod classes and endpoints.

    ``keep_ips`` False merges pods that differ only in their IPs (for profiles
    where an ipBlock never selects a pod, the IPs cannot matter).
    """
    members: dict[tuple[str, str, str], list[Workload]] = defaultdict(list)
    aliases: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for workload in inventory.workloads:
        owner = controller_owner(workload)
        if owner is not None:
            key = (workload.namespace, owner[1], owner[0])
            aliases[key].add(workload.name)
        else:
            key = (workload.namespace, workload.name, workload.kind)
        members[key].append(workload)

    class_keys: dict[_ClassKey, int] = {}
    class_members: list[list[Workload]] = []
    classes_of_workload: dict[int, int] = {}
    for workload in sorted(inventory.workloads, key=_workload_order):
        ips = workload.pod_ips
        if not ips and workload.host_network and workload.node_name:
            # A host-network pod answers on its node's addresses (policy-kinds §8.5).
            node = inventory.node_named(workload.node_name)
            ips = node.ips if node is not None else ()
        class_key = _ClassKey(
            workload.namespace,
            tuple(sorted(workload.pod_labels.items())),
            tuple(sorted(set(workload.ports), key=lambda p: (p.name or "", p.port, p.protocol))),
            workload.host_network,
            tuple(sorted(ips)) if keep_ips else (),
            workload.node_name,
            workload.service_account,
        )
        index = class_keys.setdefault(class_key, len(class_keys))
        if index == len(class_members):
            class_members.append([])
        class_members[index].append(workload)
        classes_of_workload[id(workload)] = index

    classes: list[PodClass] = []
    for class_key, index in class_keys.items():
        classes.append(
            PodClass(
                index=index,
                namespace=class_key.namespace,
                labels=dict(class_key.labels),
                namespace_labels=inventory.namespace_labels(class_key.namespace),
                ports=class_key.ports,
                host_network=class_key.host_network,
                ips=class_key.ips,
                workloads=tuple(class_members[index]),
                node=class_key.node,
                service_account=class_key.service_account,
            )
        )

    endpoints: list[Endpoint] = []
    for namespace, name, kind in sorted(members):
        workloads = members[(namespace, name, kind)]
        endpoints.append(
            Endpoint(
                key=f"{namespace}/{name}[{kind}]",
                kind=kind,
                namespace=namespace,
                name=name,
                classes=tuple(sorted({classes_of_workload[id(w)] for w in workloads})),
                workloads=tuple(sorted(workloads, key=_workload_order)),
                aliases=tuple(sorted(aliases.get((namespace, name, kind), ()))),
            )
        )
    endpoints.extend(_node_endpoints(inventory, classes, keep_ips))
    endpoints.sort(key=lambda e: e.key)
    of_class: list[list[int]] = [[] for _ in classes]
    for position, endpoint in enumerate(endpoints):
        for index in endpoint.classes:
            of_class[index].append(position)
    return Topology(classes, endpoints, [tuple(e) for e in of_class])


def _node_endpoints(inventory: Inventory, classes: list[PodClass], keep_ips: bool) -> list[Endpoint]:
    """One class and one endpoint per Node of the world (the first of a name), appended to ``classes``."""
    endpoints = []
    seen: set[str] = set()
    for node in sorted(inventory.nodes, key=lambda n: (n.name, n.path, n.span.line, n.span.column)):
        if node.name in seen:
            continue
        seen.add(node.name)
        index = len(classes)
        classes.append(
            PodClass(
                index=index,
                namespace="",
                labels=dict(node.labels),
                namespace_labels={},
                ports=(),
                host_network=True,
                ips=tuple(sorted(node.ips)) if keep_ips else (),
                workloads=(),
                node=node.name,
                service_account="",
                is_node=True,
            )
        )
        endpoints.append(
            Endpoint(
                key=NODE_PREFIX + node.name,
                kind=NODE,
                namespace="",
                name=node.name,
                classes=(index,),
                node_ips=node.ips,
            )
        )
    return endpoints


def _workload_order(workload: Workload) -> tuple[str, str, str, str, int, int]:
    span = workload.span
    return (workload.namespace, workload.name, workload.kind, workload.path, span.line, span.column)


def cut_address_space(
    networks: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network],
) -> list[AddressRange]:
    """The fewest disjoint ranges covering IPv4 (and IPv6, when any network is IPv6) that no network's
    boundary crosses: every range is wholly inside or wholly outside each network."""
    versions = {4} | {n.version for n in networks}
    ranges: list[AddressRange] = []
    for version in sorted(versions):
        top = (1 << (32 if version == 4 else 128)) - 1
        cuts = {0, top + 1}
        for network in networks:
            if network.version == version:
                cuts.add(int(network.network_address))
                cuts.add(int(network.broadcast_address) + 1)
        points = sorted(cuts)
        ranges.extend(AddressRange(version, low, high - 1) for low, high in itertools.pairwise(points))
    return ranges
