"""The building blocks of evaluation: does a peer match a pod, does a port entry match a port.

These follow networkpolicy-semantics §2.4 (peers), §2.6 (ports, named ports
resolved at the destination pod) and §2.8 (ipBlock against pod addresses).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import field

from nplint.model.objects import ContainerPort, IPBlock, IPNetwork, Peer, PolicyPort, PolicyRule
from nplint.records import record


@record(frozen=True, slots=True)
class PodView:
    """What evaluation needs to know of a pod (or of a class of identical pods)."""

    namespace: str
    labels: Mapping[str, str]
    namespace_labels: Mapping[str, str]
    ports: tuple[ContainerPort, ...] = ()
    host_network: bool = False
    ips: tuple[str, ...] = ()


@record(frozen=True, slots=True)
class AddressContext:
    """What is known of pod addresses, for ipBlock peers against pods.

    ``pod_cidrs`` come from the configuration; ``ipblock_matches_pods`` is the
    CNI profile's answer to "can an ipBlock select a pod at all" (Cilium: no).
    """

    pod_cidrs: tuple[IPNetwork, ...] = ()
    ipblock_matches_pods: bool = True
    extra: Mapping[str, object] = field(default_factory=dict)


def peer_matches_pod(peer: Peer, policy_namespace: str, pod: PodView, addresses: AddressContext) -> bool:
    """Whether one ``from``/``to`` entry matches a pod."""
    if peer.ip_block is not None:
        return ip_block_matches_pod(peer.ip_block, pod, addresses)
    if pod.host_network:
        # Selector peers never match host-network pods (semantics §2.10).
        return False
    if peer.pod_selector is None and peer.namespace_selector is None:
        return False  # an empty peer: rejected by the API server
    if peer.namespace_selector is not None:
        if not peer.namespace_selector.matches(pod.namespace_labels):
            return False
    elif pod.namespace != policy_namespace:
        return False
    return peer.pod_selector is None or peer.pod_selector.matches(pod.labels)


def ip_block_matches_pod(block: IPBlock, pod: PodView, addresses: AddressContext) -> bool:
    """An ipBlock against a pod: by its known IPs, else only when it provably holds the pod's address."""
    if not addresses.ipblock_matches_pods or block.network is None:
        return False
    if pod.ips:
        for text in pod.ips:
            try:
                address = ipaddress.ip_address(text)
            except ValueError:
                continue
            if block.contains(address):
                return True
        return False
    return ip_block_covers(block, addresses.pod_cidrs)


def ip_block_covers(block: IPBlock, ranges: Sequence[IPNetwork]) -> bool:
    """Whether every address of one of ``ranges`` (or of the whole family) is in the block.

    With no configured pod range, only a block holding its whole address family
    with no ``except`` provably contains an unknown pod address.
    """
    network = block.network
    if network is None:
        return False
    candidates: Sequence[IPNetwork] = [r for r in ranges if r.version == network.version] or (
        [network] if network.prefixlen == 0 else []
    )
    for candidate in candidates:
        if not candidate.subnet_of(network):  # type: ignore[arg-type]
            continue
        if any(
            net is not None and net.version == candidate.version and net.overlaps(candidate)
            for _, net in block.excepts
        ):
            continue
        return True
    return False


def port_matches(entry: PolicyPort, protocol: str, number: int, destination: PodView | None) -> bool:
    """Whether one ``ports`` entry matches a connection to ``number``/``protocol``.

    A named port is resolved against the destination pod's container ports:
    name, number and protocol must all agree (semantics §2.6).
    """
    if entry.protocol != protocol:
        return False
    port = entry.port
    if port is None or isinstance(port, int):
        return entry.matches_number(number)
    if destination is None:
        return False
    return any(c.name == port and c.port == number and c.protocol == protocol for c in destination.ports)


def rule_ports_match(rule: PolicyRule, protocol: str, number: int, destination: PodView | None) -> bool:
    if rule.ports is None:
        return True
    return any(port_matches(entry, protocol, number, destination) for entry in rule.ports)


def rule_peers_match_pod(
    rule: PolicyRule, policy_namespace: str, pod: PodView, addresses: AddressContext
) -> bool:
    if rule.peers is None:
        return True
    return any(peer_matches_pod(peer, policy_namespace, pod, addresses) for peer in rule.peers)
