"""Build the inventory from loaded manifests.

The builder is lenient: it takes what it can interpret and leaves the judging
of malformed fields to the schema rules (NP002, NP003), so one typo does not
hide every other finding of a policy.
"""

from __future__ import annotations

import dataclasses
import functools
import ipaddress
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import field
from typing import TYPE_CHECKING, TypeVar, cast

from nplint.deployment_scope import is_partial
from nplint.loading import Manifest
from nplint.loading.nodes import MapNode, Node, ScalarNode, SeqNode, is_null
from nplint.model.admin import AdminPolicy, build_admin_policy, is_admin_kind
from nplint.model.calico import CalicoNetworkSet, CalicoPolicy, CalicoTier, is_calico_kind, is_calico_policy
from nplint.model.calico_build import build_calico_network_set, build_calico_policy, build_calico_tier
from nplint.model.cilium import CiliumPolicy, is_cilium_policy
from nplint.model.cilium_build import build_cilium_policy
from nplint.model.namespace_labels import NO_LABEL_COMMANDS, NamespaceLabelCommands
from nplint.model.nodes import ClusterNode, is_core_kind, node_ips
from nplint.model.objects import (
    PROTOCOLS,
    ContainerPort,
    Direction,
    IPBlock,
    IPNetwork,
    KubeObject,
    Namespace,
    NetworkPolicy,
    ObjectFields,
    Peer,
    PolicyPort,
    PolicyRule,
    Service,
    ServicePort,
    Workload,
)
from nplint.model.selectors import LabelSelector, Operator, Requirement
from nplint.records import record
from nplint.units.units import PLAIN, Unit, unit_of_file

if TYPE_CHECKING:
    from nplint.units.worlds import World

T = TypeVar("T")

NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"

#: Kinds whose pods the inventory knows, and where each keeps its pod template.
WORKLOAD_TEMPLATE_PATHS: Mapping[str, tuple[str, ...]] = {
    "Pod": (),
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "ReplicationController": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
    "DeploymentConfig": ("spec", "template"),
}

NETWORK_POLICY_API_VERSIONS = frozenset(("networking.k8s.io/v1", "extensions/v1beta1"))


@record(slots=True)
class Inventory:
    """Every object nplint understands, from the whole repository or from one world of it."""

    #: The namespace of objects that name none; None: their unit's unnamed namespace.
    default_namespace: str | None = "default"
    namespaces: dict[str, Namespace] = field(default_factory=dict)
    workloads: list[Workload] = field(default_factory=list)
    services: list[Service] = field(default_factory=list)
    policies: list[NetworkPolicy] = field(default_factory=list)
    #: AdminNetworkPolicy, BaselineAdminNetworkPolicy and ClusterNetworkPolicy objects (:mod:`.admin`).
    admin_policies: list[AdminPolicy] = field(default_factory=list)
    #: Calico NetworkPolicy and GlobalNetworkPolicy (policy-kinds §7), in file order.
    calico_policies: list[CalicoPolicy] = field(default_factory=list)
    #: Calico Tiers and (Global)NetworkSets, for the order of tiers and the sets rules select.
    calico_tiers: list[CalicoTier] = field(default_factory=list)
    calico_network_sets: list[CalicoNetworkSet] = field(default_factory=list)
    #: CiliumNetworkPolicy and CiliumClusterwideNetworkPolicy (policy-kinds §8), in file order.
    cilium_policies: list[CiliumPolicy] = field(default_factory=list)
    #: ``kind: Node`` objects (exports of a cluster's nodes), in file order (:mod:`.nodes`).
    nodes: list[ClusterNode] = field(default_factory=list)
    #: ``kind: ServiceAccount`` objects, in file order: their labels are what Calico's
    #: service-account selectors see (policy-kinds §7.4).
    service_accounts: list[KubeObject] = field(default_factory=list)
    #: Every Kubernetes object seen (any kind), for annotations and duplicates.
    objects: list[KubeObject] = field(default_factory=list)
    #: Manifests of any kind, for rules that read kinds the model has no class for.
    manifests: list[Manifest] = field(default_factory=list)
    #: Results derived from the inventory once per run (CNI detection, the engine), by key.
    derived: dict[Hashable, object] = field(default_factory=dict)
    #: The unit of every file, by display path (files the pipeline did not place: plain units).
    units: dict[str, Unit] = field(default_factory=dict)
    #: The world this inventory holds, None for the whole run.
    world: World | None = None
    #: Namespace labels the repository sets by command (``kubectl label namespace``), outside
    #: its manifests: evidence that some namespace carries them on the cluster.
    label_commands: NamespaceLabelCommands = NO_LABEL_COMMANDS

    def unit_of(self, obj: KubeObject) -> Unit:
        """The unit that sends ``obj``: what one ``kubectl apply`` sends along with it."""
        found = self.units.get(obj.path)
        return found if found is not None else unit_of_file(obj.path, {})

    def memo(self, key: Hashable, factory: Callable[[], T]) -> T:
        """``factory()``, computed once for this inventory and key: rules share analyses."""
        if key not in self.derived:
            self.derived[key] = factory()
        return cast(T, self.derived[key])

    def namespace(self, name: str) -> Namespace | None:
        return self.namespaces.get(name)

    def namespace_labels(self, name: str) -> Mapping[str, str]:
        """The labels the namespace carries on the cluster: its manifest's (or the automatic
        name label), and those a command of the repository sets on it by name, which do not
        override the manifest's."""
        found = self.namespaces.get(name)
        labels = found.labels if found is not None else {NAMESPACE_NAME_LABEL: name}
        commanded = self.label_commands.labels_of(name)
        if not commanded:
            return labels
        merged = self.memo(("commanded-namespace-labels", name), lambda: {**commanded, **labels})
        return merged

    def workloads_in(self, namespace: str) -> list[Workload]:
        """The namespace's workloads; indexed once, so rules may ask per policy."""
        return self.memo("workloads-by-namespace", lambda: _group(self.workloads)).get(namespace, [])

    def policies_in(self, namespace: str) -> list[NetworkPolicy]:
        """The namespace's policies; indexed once, so rules may ask per policy."""
        return self.memo("policies-by-namespace", lambda: _group(self.policies)).get(namespace, [])

    def namespace_defined(self, name: str) -> bool:
        found = self.namespaces.get(name)
        return found is not None and found.defined

    def node_named(self, name: str) -> ClusterNode | None:
        """The Node of that name (the first in file order when the tree has several)."""
        return self.memo("nodes-by-name", lambda: _first_by_name(self.nodes)).get(name)

    def service_account_labels(self, namespace: str, name: str) -> Mapping[str, str] | None:
        """The labels of ServiceAccount ``namespace/name``; None when the world does not hold it."""
        accounts = self.memo("service-accounts", lambda: _accounts(self))
        return accounts.get((namespace, name))


ObjectT = TypeVar("ObjectT", bound=KubeObject)


def _first_by_name(objects: Iterable[ObjectT]) -> dict[str, ObjectT]:
    found: dict[str, ObjectT] = {}
    for obj in objects:
        found.setdefault(obj.name, obj)
    return found


def _accounts(inventory: Inventory) -> dict[tuple[str, str], Mapping[str, str]]:
    found: dict[tuple[str, str], Mapping[str, str]] = {}
    for account in inventory.service_accounts:
        # An account written without a namespace lands where its unit puts namespace-less objects.
        where = account.namespace or inventory.unit_of(account).namespace_for_unnamed(
            inventory.default_namespace
        )
        found.setdefault((where, account.name), account.labels)
    return found


def _group(objects: Iterable[ObjectT]) -> dict[str, list[ObjectT]]:
    grouped: dict[str, list[ObjectT]] = {}
    for obj in objects:
        grouped.setdefault(obj.namespace, []).append(obj)
    return grouped


def build_inventory(
    manifests: Iterable[Manifest],
    *,
    default_namespace: str | None = "default",
    units: Mapping[str, Unit] | None = None,
    label_commands: NamespaceLabelCommands = NO_LABEL_COMMANDS,
) -> Inventory:
    """The inventory of ``manifests``; ``units`` maps display paths to their unit.

    An object that names no namespace lands where its unit puts it
    (:meth:`~nplint.units.Unit.namespace_for_unnamed`): a chart's release namespace;
    else ``default_namespace``; with None, the unnamed namespace of its unit (its
    folder): what kubectl's context gives it at apply time, shared with the unit's
    other such objects only. A file ``units`` does not know is a plain unit's.
    """
    inventory = Inventory(default_namespace=default_namespace, label_commands=label_commands)
    if units is not None:
        inventory.units = dict(units)
    referenced: set[str] = set()
    # One look-up per file, not per document: a rendered unit is one file of many objects.
    unnamed: dict[str, str] = {}
    for manifest in manifests:
        inventory.manifests.append(manifest)
        where = unnamed.get(manifest.path)
        if where is None:
            unit = inventory.units.get(manifest.path) or unit_of_file(manifest.path, {})
            where = unnamed[manifest.path] = unit.namespace_for_unnamed(default_namespace)
        obj = _build_object(manifest, where)
        if obj is None:
            continue
        if _patch_file(manifest, inventory.units) and is_partial(manifest.node):
            obj = dataclasses.replace(obj, partial=True)
        inventory.objects.append(obj)
        if obj.partial:
            continue  # a patch: neither a workload, nor a policy, nor a namespace of its own
        if isinstance(obj, Namespace):
            inventory.namespaces.setdefault(obj.name, obj)
        elif isinstance(obj, Workload):
            inventory.workloads.append(obj)
        elif isinstance(obj, Service):
            inventory.services.append(obj)
        elif isinstance(obj, NetworkPolicy):
            inventory.policies.append(obj)
        elif isinstance(obj, AdminPolicy):
            inventory.admin_policies.append(obj)
        elif isinstance(obj, CalicoPolicy):
            inventory.calico_policies.append(obj)
        elif isinstance(obj, CalicoTier):
            inventory.calico_tiers.append(obj)
        elif isinstance(obj, CalicoNetworkSet):
            inventory.calico_network_sets.append(obj)
        elif isinstance(obj, CiliumPolicy):
            inventory.cilium_policies.append(obj)
        elif isinstance(obj, ClusterNode):
            inventory.nodes.append(obj)
        elif is_core_kind(obj.node.get_str("apiVersion"), obj.kind, "ServiceAccount"):
            inventory.service_accounts.append(obj)
        if obj.namespace:
            referenced.add(obj.namespace)
    for name in sorted(referenced - set(inventory.namespaces)):
        inventory.namespaces[name] = _implicit_namespace(name)
    return inventory


def _patch_file(manifest: Manifest, units: Mapping[str, Unit]) -> bool:
    """Whether ``manifest`` may be a patch kept as a file: nothing rendered it (a render's
    output is whole objects, and a patch a kustomization lists is never loaded)."""
    unit = units.get(manifest.path)
    return unit is None or unit.kind == PLAIN


def _implicit_namespace(name: str) -> Namespace:
    return Namespace(
        kind="Namespace",
        namespace="",
        name=name,
        path="",
        node=MapNode((1, 1, 1, 1)),
        document_index=0,
        labels={NAMESPACE_NAME_LABEL: name},
        annotations={},
        defined=False,
    )


def _build_object(manifest: Manifest, unnamed: str) -> KubeObject | None:
    """The object of ``manifest``; ``unnamed`` is the namespace it lands in when it names none."""
    node = manifest.node
    kind = manifest.kind
    api_version = node.get_str("apiVersion")
    metadata = node.get_map("metadata")
    if not kind or metadata is None:
        return None
    name = _scalar_text(metadata.get("name")) or _scalar_text(metadata.get("generateName")) or ""
    labels = string_map(metadata.get("labels"))
    annotations = string_map(metadata.get("annotations"))
    written_namespace = _scalar_text(metadata.get("namespace"))
    common = ObjectFields(
        path=manifest.path,
        node=node,
        document_index=manifest.document_index,
        labels=labels,
        annotations=annotations,
        name=name,
    )
    if kind == "Namespace":
        # The API server sets this label on every namespace (GA in 1.22).
        common["labels"] = {**labels, NAMESPACE_NAME_LABEL: name}
        return Namespace(kind=kind, namespace="", **common)
    namespace = written_namespace or unnamed
    if kind == "NetworkPolicy" and (api_version in NETWORK_POLICY_API_VERSIONS or api_version is None):
        return _build_policy(manifest, namespace, written_namespace is not None, common)
    if is_admin_kind(api_version, kind):
        return build_admin_policy(kind, api_version or "", common)
    if is_calico_kind(api_version, kind):
        if is_calico_policy(api_version, kind):
            return build_calico_policy(kind, written_namespace, unnamed, common)
        if kind == "Tier":
            return build_calico_tier(common)
        return build_calico_network_set(kind, written_namespace, unnamed, common)
    if is_cilium_policy(api_version, kind):
        return build_cilium_policy(kind, written_namespace, unnamed, common)
    if kind in WORKLOAD_TEMPLATE_PATHS:
        return _build_workload(kind, node, namespace, common)
    if kind == "Service":
        return _build_service(node, namespace, common)
    if is_core_kind(api_version, kind, "Node") and name:
        # Nodes are cluster-scoped: a namespace written on one means nothing.
        return ClusterNode(kind=kind, namespace="", ips=node_ips(node), **common)
    return KubeObject(kind=kind, namespace=written_namespace or "", **common)


def _scalar_text(node: Node | None) -> str | None:
    if isinstance(node, ScalarNode) and node.value is not None:
        return node.text
    return None


def string_map(node: Node | None) -> dict[str, str]:
    """A mapping of strings (labels, annotations, matchLabels), leniently read."""
    if not isinstance(node, MapNode):
        return {}
    result: dict[str, str] = {}
    for key, value in node.items():
        if isinstance(value, ScalarNode):
            result[key] = "" if value.value is None else value.text
    return result


def _path(node: MapNode, keys: tuple[str, ...]) -> MapNode | None:
    current: MapNode | None = node
    for key in keys:
        if current is None:
            return None
        current = current.get_map(key)
    return current


def _build_workload(kind: str, node: MapNode, namespace: str, common: ObjectFields) -> Workload:
    template = _path(node, WORKLOAD_TEMPLATE_PATHS[kind])
    pod_labels: dict[str, str] = {}
    labels_node: Node | None = None
    spec: MapNode | None = None
    if template is not None:
        template_meta = template.get_map("metadata")
        if template_meta is not None:
            labels_node = template_meta.get("labels")
            pod_labels = string_map(labels_node)
        spec = template.get_map("spec")
    host_network = False
    ports: list[ContainerPort] = []
    node_name: str | None = None
    service_account = "default"
    if spec is not None:
        host = spec.get("hostNetwork")
        host_network = isinstance(host, ScalarNode) and host.value is True
        ports = list(_container_ports(spec))
        node_name = spec.get_str("nodeName") or None
        service_account = spec.get_str("serviceAccountName") or spec.get_str("serviceAccount") or "default"
    pod_ips: tuple[str, ...] = ()
    if kind == "Pod":
        pod_ips = _pod_ips(node.get_map("status"))
    return Workload(
        kind=kind,
        namespace=namespace,
        pod_labels=pod_labels,
        ports=tuple(ports),
        host_network=host_network,
        pod_ips=pod_ips,
        labels_node=labels_node,
        node_name=node_name,
        service_account=service_account,
        **common,
    )


def _container_ports(spec: MapNode) -> Iterable[ContainerPort]:
    containers: list[Node] = list(spec.get_seq("containers") or ())
    for init in spec.get_seq("initContainers") or ():
        # Sidecars (init containers that keep running) serve traffic too.
        if isinstance(init, MapNode) and init.get_str("restartPolicy") == "Always":
            containers.append(init)
    for container in containers:
        if not isinstance(container, MapNode):
            continue
        for port in container.get_seq("ports") or ():
            if not isinstance(port, MapNode):
                continue
            number = port.get("containerPort")
            if not isinstance(number, ScalarNode) or type(number.value) is not int:
                continue
            protocol = port.get_str("protocol") or "TCP"
            yield ContainerPort(port.get_str("name"), number.value, protocol)


def _pod_ips(status: MapNode | None) -> tuple[str, ...]:
    if status is None:
        return ()
    ips: list[str] = []
    for entry in status.get_seq("podIPs") or ():
        if isinstance(entry, MapNode):
            ip = entry.get_str("ip")
            if ip:
                ips.append(ip)
    single = status.get_str("podIP")
    if single and single not in ips:
        ips.insert(0, single)
    return tuple(ips)


def _build_service(node: MapNode, namespace: str, common: ObjectFields) -> Service:
    spec = node.get_map("spec")
    selector: dict[str, str] | None = None
    ports: list[ServicePort] = []
    cluster_ips: list[str] = []
    if spec is not None:
        if isinstance(spec.get("selector"), MapNode):
            selector = string_map(spec.get("selector"))
        for port in spec.get_seq("ports") or ():
            if not isinstance(port, MapNode):
                continue
            number = port.get("port")
            if not isinstance(number, ScalarNode) or type(number.value) is not int:
                continue
            target = port.get("targetPort")
            target_value: int | str = number.value
            if isinstance(target, ScalarNode) and target.value is not None:
                target_value = target.value if type(target.value) is int else target.text
            ports.append(
                ServicePort(
                    port.get_str("name"), number.value, target_value, port.get_str("protocol") or "TCP"
                )
            )
        for key in ("clusterIP",):
            ip = spec.get_str(key)
            if ip and ip != "None":
                cluster_ips.append(ip)
        for ip_node in spec.get_seq("clusterIPs") or ():
            if isinstance(ip_node, ScalarNode) and ip_node.text not in cluster_ips and ip_node.text != "None":
                cluster_ips.append(ip_node.text)
    return Service(
        kind="Service",
        namespace=namespace,
        selector=selector,
        ports=tuple(ports),
        cluster_ips=tuple(cluster_ips),
        **common,
    )


#: Looked up by value once per expression and policy: iterating an Enum is slow.
_OPERATORS = {operator.value: operator for operator in Operator}
_DIRECTIONS = tuple(Direction)


def parse_selector(node: Node | None) -> LabelSelector:
    """Read a LabelSelector leniently. Null or ``{}`` is the empty selector."""
    if not isinstance(node, MapNode):
        return LabelSelector(node=node)
    match_labels = tuple(string_map(node.get("matchLabels")).items())
    expressions: list[Requirement] = []
    for entry in node.get_seq("matchExpressions") or ():
        if not isinstance(entry, MapNode):
            continue
        key = _scalar_text(entry.get("key")) or ""
        operator_text = entry.get_str("operator")
        operator = _OPERATORS.get(operator_text) if operator_text is not None else None
        values = frozenset(
            item.text
            for item in entry.get_seq("values") or ()
            if isinstance(item, ScalarNode) and item.value is not None
        )
        expressions.append(Requirement(key, operator, values))
    return LabelSelector(match_labels, tuple(expressions), node)


def effective_policy_types(spec: MapNode | None) -> tuple[tuple[str, ...] | None, frozenset[Direction]]:
    """The API server's defaulting of ``policyTypes`` (networkpolicy-semantics §1.4)."""
    written: tuple[str, ...] | None = None
    types_node = spec.get_seq("policyTypes") if spec is not None else None
    if types_node is not None and len(types_node) > 0:
        written = tuple(item.text for item in types_node if isinstance(item, ScalarNode))
        return written, frozenset(d for d in _DIRECTIONS if d.value in written)
    directions = {Direction.INGRESS}
    egress = spec.get_seq("egress") if spec is not None else None
    if egress is not None and len(egress) > 0:
        directions.add(Direction.EGRESS)
    return written, frozenset(directions)


def _build_policy(
    manifest: Manifest, namespace: str, namespace_explicit: bool, common: ObjectFields
) -> NetworkPolicy:
    node = manifest.node
    spec = node.get_map("spec")
    selector_node = spec.get("podSelector") if spec is not None else None
    written, effective = effective_policy_types(spec)
    return NetworkPolicy(
        kind="NetworkPolicy",
        namespace=namespace,
        pod_selector=parse_selector(selector_node),
        pod_selector_node=selector_node,
        written_policy_types=written,
        effective_policy_types=effective,
        ingress=_rules(spec, Direction.INGRESS),
        egress=_rules(spec, Direction.EGRESS),
        namespace_explicit=namespace_explicit,
        api_version=node.get_str("apiVersion") or "",
        **common,
    )


def _rules(spec: MapNode | None, direction: Direction) -> tuple[PolicyRule, ...]:
    rules_node = spec.get_seq(direction.rules_key) if spec is not None else None
    if rules_node is None:
        return ()
    rules: list[PolicyRule] = []
    for index, rule_node in enumerate(rules_node):
        if is_null(rule_node):
            # `- ` with nothing after it decodes as an empty rule: allow everything.
            rules.append(PolicyRule(direction, index, None, None, rule_node))
            continue
        if not isinstance(rule_node, MapNode):
            continue
        rules.append(
            PolicyRule(
                direction,
                index,
                _peers(rule_node.get(direction.peers_key)),
                _ports(rule_node.get("ports")),
                rule_node,
            )
        )
    return tuple(rules)


def _peers(node: Node | None) -> tuple[Peer, ...] | None:
    if not isinstance(node, SeqNode) or len(node) == 0:
        return None
    peers: list[Peer] = []
    for index, peer_node in enumerate(node):
        if not isinstance(peer_node, MapNode):
            # An empty peer is rejected by the API server; it matches nothing here.
            peers.append(Peer(None, None, None, peer_node, index))
            continue
        pod = peer_node.get("podSelector")
        namespace = peer_node.get("namespaceSelector")
        block = peer_node.get_map("ipBlock")
        peers.append(
            Peer(
                None if is_null(pod) else parse_selector(pod),
                None if is_null(namespace) else parse_selector(namespace),
                _ip_block(block) if block is not None else None,
                peer_node,
                index,
            )
        )
    return tuple(peers)


@functools.lru_cache(maxsize=4096)
def parse_network(text: str) -> IPNetwork | None:
    """A CIDR, masked as the API server's sloppy parser does (``10.0.0.1/8`` → ``10.0.0.0/8``).

    Kept per text: a repository writes the same few CIDRs in many policies, and a network
    is immutable, so the policies may share it.
    """
    if "/" not in text:
        return None
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return None


def _ip_block(node: MapNode) -> IPBlock:
    cidr = _scalar_text(node.get("cidr")) or ""
    excepts = tuple(
        (item.text, parse_network(item.text))
        for item in node.get_seq("except") or ()
        if isinstance(item, ScalarNode)
    )
    return IPBlock(cidr, parse_network(cidr), excepts, node)


def _ports(node: Node | None) -> tuple[PolicyPort, ...] | None:
    if not isinstance(node, SeqNode) or len(node) == 0:
        return None
    ports: list[PolicyPort] = []
    for index, port_node in enumerate(node):
        if not isinstance(port_node, MapNode):
            # `- {}` or `-` : protocol defaults to TCP, every port.
            ports.append(PolicyPort("TCP", None, None, port_node, index))
            continue
        protocol = port_node.get_str("protocol") or "TCP"
        if protocol not in PROTOCOLS:
            protocol = protocol.upper() if protocol.upper() in PROTOCOLS else protocol
        port_value = port_node.get("port")
        port: int | str | None = None
        if isinstance(port_value, ScalarNode) and port_value.value is not None:
            port = port_value.value if type(port_value.value) is int else port_value.text
        end_value = port_node.get("endPort")
        end_port = (
            end_value.value if isinstance(end_value, ScalarNode) and type(end_value.value) is int else None
        )
        ports.append(PolicyPort(protocol, port, end_port, port_node, index))
    return tuple(ports)
