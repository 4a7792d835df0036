"""Address facts of the cluster: well-known addresses, and the pod and service ranges.

The ranges come from the configuration's ``cluster`` section first, then from
what the repository's manifests reveal: Calico's ``CALICO_IPV4POOL_CIDR`` and
IPPools, Flannel's ``net-conf.json``, Cilium's cluster pool, kubeadm's
ClusterConfiguration, kind, k3s/RKE2 and OpenShift network settings, and the
control-plane flags ``--cluster-cidr``/``--service-cluster-ip-range``. When none
is known, rules fall back to the defaults of common distributions
(networkpolicy-semantics §3.1): kubeadm serves Services from ``10.96.0.0/12``,
k3s from ``10.43.0.0/16``, EKS from ``10.100.0.0/16`` or ``172.20.0.0/16`` and
AKS from ``10.0.0.0/16``; the DNS Service takes the 10th address of the range
and the ``kubernetes`` Service the first.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable, Iterator, Sequence

from nplint.config import ClusterFacts
from nplint.loading import load_text
from nplint.loading.nodes import MapNode, Node, ScalarNode, SeqNode
from nplint.model import Inventory, IPBlock, Service
from nplint.model.inventory import WORKLOAD_TEMPLATE_PATHS, parse_network
from nplint.model.objects import IPNetwork
from nplint.records import record

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

POD = "pod"
SERVICE = "service"

#: Cloud instance metadata: node credentials over HTTP (AWS also serves IPv6).
METADATA_ADDRESSES: tuple[IPAddress, ...] = (
    ipaddress.ip_address("169.254.169.254"),
    ipaddress.ip_address("fd00:ec2::254"),
)

#: Default Service ranges of common distributions: (who, range).
WELL_KNOWN_SERVICE_RANGES: tuple[tuple[str, IPNetwork], ...] = tuple(
    (who, ipaddress.ip_network(cidr))
    for who, cidr in (
        ("kubeadm", "10.96.0.0/12"),
        ("k3s", "10.43.0.0/16"),
        ("EKS", "10.100.0.0/16"),
        ("EKS", "172.20.0.0/16"),
        ("AKS", "10.0.0.0/16"),
    )
)

#: Link-local addresses NodeLocal DNSCache listens on (upstream docs, kubespray).
NODE_LOCAL_DNS_ADDRESSES: tuple[IPAddress, ...] = (
    ipaddress.ip_address("169.254.20.10"),
    ipaddress.ip_address("169.254.25.10"),
)


@record(frozen=True, slots=True)
class ClusterRange:
    """A pod or service range of the cluster, and where nplint learnt it."""

    network: IPNetwork
    role: str
    #: Where it comes from, for messages: "cluster.pod-cidr of the configuration".
    source: str
    path: str | None = None
    node: Node | None = None

    def __str__(self) -> str:
        """``10.244.0.0/16 (Network in net-conf.json of ConfigMap kube-flannel-cfg, at cfg.yaml:7)``."""
        where = f", at {self.path}:{self.node.span.line}" if self.path and self.node is not None else ""
        return f"{self.network} ({self.source}{where})"


@record(frozen=True, slots=True)
class KnownAddress:
    """A Service address (the DNS Service, ``kubernetes``), and where it comes from."""

    address: IPAddress
    source: str
    #: True when no fact was found and a distribution default stands in.
    assumed: bool = False


def parse_address(text: str | None) -> IPAddress | None:
    if not text:
        return None
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def parse_range(text: str | None) -> IPNetwork | None:
    """A CIDR as the model reads one (masked), or None for nothing or junk."""
    return parse_network(text) if text else None


def nth_address(network: IPNetwork, index: int) -> IPAddress | None:
    """The address ``index`` places after the network address (10 → the kubeadm DNS Service)."""
    if index >= network.num_addresses:
        return None
    return network.network_address + index


def is_whole_family(network: IPNetwork | None) -> bool:
    """``0.0.0.0/0`` or ``::/0``: every address of one IP family."""
    return network is not None and network.prefixlen == 0


def is_covered(network: IPNetwork, excepts: Iterable[IPNetwork | None]) -> bool:
    """Whether the union of ``excepts`` holds every address of ``network``."""
    nets = [e for e in excepts if e is not None and e.version == network.version and e.overlaps(network)]
    if any(network.subnet_of(e) for e in nets):  # type: ignore[arg-type]
        return True
    if not nets or network.prefixlen == network.max_prefixlen:
        return False
    return all(is_covered(half, nets) for half in network.subnets(prefixlen_diff=1))


def block_overlaps(block: IPBlock, network: IPNetwork) -> bool:
    """Whether some address of ``network`` is in the block (inside ``cidr``, outside every ``except``)."""
    cidr = block.network
    if cidr is None or cidr.version != network.version or not cidr.overlaps(network):
        return False
    common = network if network.subnet_of(cidr) else cidr  # type: ignore[arg-type]
    return not is_covered(common, (net for _, net in block.excepts))


@record(frozen=True, slots=True)
class ServiceAim:
    """Tells an ipBlock aimed at Service addresses from one that also covers pods or the outside."""

    service_ranges: tuple[IPNetwork, ...]
    pod_ranges: tuple[IPNetwork, ...] = ()

    @classmethod
    def of(cls, ranges: Sequence[ClusterRange]) -> ServiceAim:
        """From the known ranges only: the distribution defaults are too wide a guess for blocks."""
        return cls(
            tuple(r.network for r in ranges if r.role == SERVICE),
            tuple(r.network for r in ranges if r.role == POD),
        )

    def at_services(self, block: IPBlock) -> bool:
        """A single address, or a block inside a known Service range, clear of the pod ranges."""
        network = block.network
        if network is None:
            return False
        if any(block_overlaps(block, pods) for pods in self.pod_ranges):
            return False
        if network.num_addresses == 1:
            return True
        return any(
            network.version == r.version and network.subnet_of(r)  # type: ignore[arg-type]
            for r in self.service_ranges
        )


def cluster_ranges(inventory: Inventory, facts: ClusterFacts) -> tuple[ClusterRange, ...]:
    """The pod and service ranges: configured first, then what the manifests reveal; no duplicates."""
    found: list[ClusterRange] = []
    for role, values in ((POD, facts.pod_cidrs), (SERVICE, facts.service_cidrs)):
        for text in values:
            network = parse_range(text)
            if network is not None:
                found.append(ClusterRange(network, role, f"cluster.{role}-cidr of the configuration"))
    found.extend(inventory.memo(("addresses.revealed",), lambda: _all_revealed(inventory)))
    unique: dict[tuple[IPNetwork, str], ClusterRange] = {}
    for item in found:
        unique.setdefault((item.network, item.role), item)
    return tuple(unique.values())


def _all_revealed(inventory: Inventory) -> tuple[ClusterRange, ...]:
    return tuple(
        found
        for manifest in inventory.manifests
        for found in _revealed(manifest.path, manifest.node, manifest.kind or "")
    )


def dns_service_addresses(
    inventory: Inventory, facts: ClusterFacts, ranges: Sequence[ClusterRange]
) -> tuple[KnownAddress, ...]:
    """The cluster DNS Service's address: configured, in the repository, or a distribution default."""
    labels = dict(facts.dns.pod_labels)
    services = [
        s
        for s in inventory.services
        if s.namespace == facts.dns.namespace and (s.name == "kube-dns" or dict(s.selector or {}) == labels)
    ]
    extra: list[KnownAddress] = []
    for manifest in inventory.manifests:
        node = manifest.node
        if manifest.kind == "KubeletConfiguration":
            texts = [(_text(item), "clusterDNS") for item in _items(node.get("clusterDNS"))]
        elif not manifest.kind and _is_rancher_config(node):
            texts = [(node.get_str("cluster-dns"), "cluster-dns")]
        else:
            continue
        for text, key in texts:
            if (address := parse_address(text)) is not None:
                extra.append(KnownAddress(address, f"{key} of {manifest.path}"))
    configured = (facts.dns.service_ip, "cluster.dns.service-ip")
    return _service_addresses(configured, services, extra, ranges, 10)


def apiserver_service_addresses(
    inventory: Inventory, facts: ClusterFacts, ranges: Sequence[ClusterRange]
) -> tuple[KnownAddress, ...]:
    """The ``kubernetes`` Service's address: configured, in the repository, or a distribution default."""
    services = [s for s in inventory.services if s.namespace == "default" and s.name == "kubernetes"]
    configured = (facts.apiserver_service_ip, "cluster.apiserver.service-ip")
    return _service_addresses(configured, services, [], ranges, 1)


def _service_addresses(
    configured: tuple[str | None, str],
    services: Iterable[Service],
    extra: Iterable[KnownAddress],
    ranges: Sequence[ClusterRange],
    index: int,
) -> tuple[KnownAddress, ...]:
    """A Service's address from, in order: the configuration, the Service, ``extra``, the ranges."""
    found: list[KnownAddress] = []
    if (address := parse_address(configured[0])) is not None:
        found.append(KnownAddress(address, f"{configured[1]} of the configuration"))
    for service in services:
        for text in service.cluster_ips:
            if (address := parse_address(text)) is not None:
                found.append(
                    KnownAddress(address, f"the clusterIP of Service {service.namespace}/{service.name}")
                )
    found.extend(extra)
    nth = "first" if index == 1 else f"{index}th"
    for item in ranges:
        if item.role == SERVICE and (address := nth_address(item.network, index)) is not None:
            found.append(KnownAddress(address, f"the {nth} address of the service range {item.network}"))
    if not found:
        for who, network in WELL_KNOWN_SERVICE_RANGES:
            if (address := nth_address(network, index)) is not None:
                found.append(KnownAddress(address, f"the {who} default", assumed=True))
    unique: dict[IPAddress, KnownAddress] = {}
    for known in found:
        unique.setdefault(known.address, known)
    return tuple(unique.values())


def apiserver_endpoints(facts: ClusterFacts) -> tuple[IPNetwork, ...]:
    """``cluster.apiserver.addresses`` (addresses or CIDRs) as networks."""
    found = []
    for text in facts.apiserver_addresses:
        address = parse_address(text)
        network = parse_range(f"{address}/{address.max_prefixlen}" if address is not None else text)
        if network is not None:
            found.append(network)
    return tuple(found)


# --- what manifests reveal -------------------------------------------------------

_RANCHER_RANGE_KEYS = ("cluster-cidr", "service-cidr")


def _text(node: Node | None) -> str | None:
    return node.text if isinstance(node, ScalarNode) and node.value is not None else None


def _dig(node: Node | None, *keys: str) -> Node | None:
    for key in keys:
        if not isinstance(node, MapNode):
            return None
        node = node.get(key)
    return node


def _items(node: Node | None) -> list[Node]:
    return list(node) if isinstance(node, SeqNode) else []


def _is_rancher_config(node: MapNode) -> bool:
    """A k3s/RKE2 ``config.yaml``: no kind, no apiVersion, and the servers' range or DNS flags."""
    return "apiVersion" not in node and any(k in node for k in (*_RANCHER_RANGE_KEYS, "cluster-dns"))


def _split(node: Node | None) -> Iterator[tuple[str, Node]]:
    """Comma- or space-separated CIDRs of a scalar (dual-stack values), or the items of a list."""
    items = list(node) if isinstance(node, SeqNode) else [node] if node is not None else []
    for item in items:
        text = _text(item)
        if text is not None:
            for part in text.replace(",", " ").split():
                yield part, item


def _revealed(path: str, node: MapNode, kind: str) -> Iterator[ClusterRange]:
    api = node.get_str("apiVersion") or ""
    name = _text(_dig(node, "metadata", "name")) or ""
    what = f"{kind} {name}".strip()

    def make(values: Node | None, role: str, source: str) -> Iterator[ClusterRange]:
        for text, item in _split(values):
            network = parse_range(text)
            if network is not None:
                yield ClusterRange(network, role, f"{source}", path, item)

    if kind in WORKLOAD_TEMPLATE_PATHS:
        yield from _workload_ranges(node, kind, path, what)
    elif kind == "ConfigMap":
        data = node.get("data")
        conf = _text(_dig(data, "net-conf.json"))
        if conf is not None:
            yield from _net_conf(conf, path, _dig(data, "net-conf.json"), what)
        for key in ("cluster-pool-ipv4-cidr", "cluster-pool-ipv6-cidr"):
            yield from make(_dig(data, key), POD, f"{key} of ConfigMap {name}")
        embedded = _text(_dig(data, "ClusterConfiguration"))
        if embedded is not None:
            for document in load_text(path, embedded).documents:
                if isinstance(document.root, MapNode):
                    yield from _kubeadm(
                        document.root, f"ConfigMap {name}", path, _dig(data, "ClusterConfiguration")
                    )
    elif kind == "ClusterConfiguration" and api.startswith("kubeadm.k8s.io/"):
        yield from _kubeadm(node, "the kubeadm ClusterConfiguration", path, None)
    elif kind == "IPPool" and "projectcalico.org" in api:
        yield from make(_dig(node, "spec", "cidr"), POD, f"Calico IPPool {name}")
    elif kind == "Installation" and api.startswith("operator.tigera.io/"):
        for pool in _items(_dig(node, "spec", "calicoNetwork", "ipPools")):
            yield from make(_dig(pool, "cidr"), POD, "an IP pool of the Tigera Installation")
    elif kind == "Cluster" and api.startswith(("kind.x-k8s.io/", "kind.sigs.k8s.io/")):
        yield from _kind_cluster(node, path)
    elif kind == "Cluster" and api.startswith("provisioning.cattle.io/"):
        config = _dig(node, "spec", "rkeConfig", "machineGlobalConfig")
        yield from make(_dig(config, "cluster-cidr"), POD, "cluster-cidr of the Rancher Cluster")
        yield from make(_dig(config, "service-cidr"), SERVICE, "service-cidr of the Rancher Cluster")
    elif kind == "ClusterConfig" and api.startswith("eksctl.io/"):
        yield from make(
            _dig(node, "kubernetesNetworkConfig", "serviceIPv4CIDR"), SERVICE, "the eksctl serviceIPv4CIDR"
        )
    elif kind == "Network" and api.startswith("config.openshift.io/"):
        for entry in _items(_dig(node, "spec", "clusterNetwork")):
            yield from make(_dig(entry, "cidr"), POD, "the OpenShift clusterNetwork")
        yield from make(_dig(node, "spec", "serviceNetwork"), SERVICE, "the OpenShift serviceNetwork")
    elif not kind and _is_rancher_config(node):
        yield from make(node.get("cluster-cidr"), POD, "cluster-cidr of the k3s/RKE2 configuration")
        yield from make(node.get("service-cidr"), SERVICE, "service-cidr of the k3s/RKE2 configuration")
    elif not kind and "baseDomain" in node:
        for entry in _items(_dig(node, "networking", "clusterNetwork")):
            yield from make(_dig(entry, "cidr"), POD, "the OpenShift install-config clusterNetwork")
        yield from make(_dig(node, "networking", "serviceNetwork"), SERVICE, "the OpenShift install-config")


def _workload_ranges(node: MapNode, kind: str, path: str, what: str) -> Iterator[ClusterRange]:
    """Calico's pool environment variables, and the control plane's range flags."""
    spec = _dig(node, *WORKLOAD_TEMPLATE_PATHS[kind], "spec")
    if not isinstance(spec, MapNode):
        return
    for container in [*(spec.get_seq("containers") or ()), *(spec.get_seq("initContainers") or ())]:
        if not isinstance(container, MapNode):
            continue
        for env in container.get_seq("env") or ():
            if isinstance(env, MapNode) and env.get_str("name") in (
                "CALICO_IPV4POOL_CIDR",
                "CALICO_IPV6POOL_CIDR",
            ):
                for text, item in _split(env.get("value")):
                    network = parse_range(text)
                    if network is not None:
                        source = f"{env.get_str('name')} of {what}"
                        yield ClusterRange(network, POD, source, path, item)
        for arg in [*(container.get_seq("command") or ()), *(container.get_seq("args") or ())]:
            flag, _, values = (_text(arg) or "").partition("=")
            role = {"--cluster-cidr": POD, "--service-cluster-ip-range": SERVICE}.get(flag)
            if role is None:
                continue
            for text in values.replace(",", " ").split():
                network = parse_range(text)
                if network is not None:
                    yield ClusterRange(network, role, f"{flag} of {what}", path, arg)


def _net_conf(text: str, path: str, node: Node | None, what: str) -> Iterator[ClusterRange]:
    """Flannel's ``net-conf.json``: ``Network`` and ``IPv6Network`` are the pod ranges."""
    try:
        conf = json.loads(text)
    except ValueError:
        return
    if not isinstance(conf, dict) or node is None:
        return
    for key in ("Network", "IPv6Network"):
        value = conf.get(key)
        network = parse_range(value if isinstance(value, str) else None)
        if network is not None:
            source = f"{key} in net-conf.json of {what}"
            yield ClusterRange(network, POD, source, path, node)


def _kubeadm(config: MapNode, what: str, path: str, anchor: Node | None) -> Iterator[ClusterRange]:
    networking = config.get("networking")
    for key, role in (("podSubnet", POD), ("serviceSubnet", SERVICE)):
        for text, item in _split(_dig(networking, key)):
            network = parse_range(text)
            if network is not None:
                where = anchor or item
                source = f"networking.{key} of {what}"
                yield ClusterRange(network, role, source, path, where)


def _kind_cluster(node: MapNode, path: str) -> Iterator[ClusterRange]:
    """A kind ``Cluster``: its subnets, or kind's defaults (10.244.0.0/16 and 10.96.0.0/16)."""
    networking = node.get("networking")
    anchor = node.key_node("kind") or node
    for key, role, default in (
        ("podSubnet", POD, "10.244.0.0/16"),
        ("serviceSubnet", SERVICE, "10.96.0.0/16"),
    ):
        value = _dig(networking, key)
        parts = list(_split(value))
        if not parts:
            source = f"kind's default {key} for the kind Cluster"
            yield ClusterRange(ipaddress.ip_network(default), role, source, path, anchor)
        for text, item in parts:
            network = parse_range(text)
            if network is not None:
                source = f"networking.{key} of the kind Cluster"
                yield ClusterRange(network, role, source, path, item)
