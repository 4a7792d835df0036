"""NP302–NP307: egress rules that miss DNS over TCP, aim at Service addresses, or open too much.

Policies see connections after a Service's DNAT on almost every CNI: a pod
calling a ClusterIP is judged by the backend's address and port
(networkpolicy-semantics §2.8, pitfalls P07, P18, P20). The AWS VPC CNI is the
exception: it judges egress before DNAT.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import field
from ipaddress import ip_network
from typing import Any, ClassVar

from nplint.cluster.addresses import (
    METADATA_ADDRESSES,
    NODE_LOCAL_DNS_ADDRESSES,
    IPAddress,
    KnownAddress,
    ServiceAim,
    apiserver_endpoints,
    apiserver_service_addresses,
    dns_service_addresses,
    is_whole_family,
    parse_address,
)
from nplint.engine.cilium_layer import CiliumLayers
from nplint.engine.endpoints import AddressRange, cut_address_space
from nplint.engine.matching import (
    AddressContext,
    PodView,
    port_matches,
    rule_peers_match_pod,
    rule_ports_match,
)
from nplint.engine.pods import address_context, dns_pods
from nplint.engine.portsets import ALL_PORTS, NO_PORTS, PortSet
from nplint.findings import Edit, Finding, Level, listed_in_full
from nplint.findings import listed as listed_capped
from nplint.loading.nodes import MapNode, Node, ScalarNode, SeqNode
from nplint.model import Direction, Inventory, IPBlock, NetworkPolicy, PolicyPort, PolicyRule
from nplint.model.objects import IPNetwork
from nplint.records import record
from nplint.rules.base import Rule, RuleContext, yaml_path
from nplint.rules.dns import (
    LayeredDns,
    allows_dns,
    egress_policies_for,
    layered_dns,
    other_kind_allows,
    subjects,
)
from nplint.rules.egress_layers import (
    EVERY_PORT,
    Opening,
    allow_shapes,
    classes_of,
    egress_ports,
    explain_egress,
    internet_ranges,
    on_opening,
    open_to_internet,
    openings,
    side_groups,
)


def listed(labels: Sequence[str]) -> str:
    """``A, B and 2 more``: each label once (a pod reaches a list once per policy), for a detail."""
    return listed_in_full(labels) if len(set(labels)) <= 6 else listed_capped(labels, 5)


def isolating_rules(inventory: Inventory) -> Iterator[tuple[NetworkPolicy, PolicyRule]]:
    """The egress rules that count: those of policies whose effective types isolate egress."""
    for policy in inventory.policies:
        if policy.isolates(Direction.EGRESS):
            for rule in policy.egress:
                yield policy, rule


def ip_blocks(rule: PolicyRule) -> Iterator[IPBlock]:
    for peer in rule.peers or ():
        if peer.ip_block is not None and peer.ip_block.network is not None:
            yield peer.ip_block


def cidr_node(block: IPBlock) -> Node:
    return block.node.get("cidr") or block.node


@record
class _Blame:
    """One place to report and the pods it concerns."""

    policy: NetworkPolicy
    node: Node
    labels: list[str] = field(default_factory=list)
    number: int = 0
    hit: KnownAddress | None = None
    protocols: set[str] = field(default_factory=set)

    def add(self, label: str) -> None:
        if label not in self.labels:
            self.labels.append(label)


def _egress_subjects(inventory: Inventory) -> list[tuple[str, list[NetworkPolicy]]]:
    """Each egress-isolated pod (or stand-in) with the policies isolating it, in document order.

    Made once per inventory (three rules walk them); the lists are shared, never to be changed.
    """
    return inventory.memo(("egress.subjects",), lambda: list(_isolated_subjects(inventory)))


def _isolated_subjects(inventory: Inventory) -> Iterator[tuple[str, list[NetworkPolicy]]]:
    by_namespace: dict[str, list[NetworkPolicy]] = defaultdict(list)
    for policy in inventory.policies:
        by_namespace[policy.namespace].append(policy)
    for label, pod in subjects(inventory):
        isolating = egress_policies_for(pod, by_namespace.get(pod.namespace, ()))
        if isolating:
            yield label, sorted(isolating, key=lambda p: (p.path, p.span))


def _dns_selector_text(ctx: RuleContext) -> str:
    dns = ctx.cluster.facts.dns
    labels = ", ".join(f"{k}: {v}" for k, v in sorted(dns.pod_labels.items()))
    return (
        f"- namespaceSelector: {{matchLabels: {{kubernetes.io/metadata.name: {dns.namespace}}}}}\n"
        f"  podSelector: {{matchLabels: {{{labels}}}}}"
    )


class DnsUdpOnly(Rule):
    id = "NP302"
    name = "dns-udp-only"
    summary = "DNS is allowed on UDP 53 but not on TCP 53, where resolvers retry truncated answers."
    level = Level.WARNING
    about_form = True
    tags = ("egress", "dns")

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        facts = ctx.cluster.facts
        dns = dns_pods(ctx.inventory, facts)
        addresses = address_context(facts, ctx.cluster.ipblock_matches_pods)
        ports = facts.dns.ports
        blamed: dict[int, _Blame] = {}
        layered = layered_dns(ctx)
        for label, isolating in _egress_subjects(ctx.inventory):
            if not allows_dns(isolating, dns, "UDP", ports, addresses):
                continue  # NP301 reports it
            if allows_dns(isolating, dns, "TCP", ports, addresses):
                continue
            if layered is not None and _layers_decide_tcp(layered, label):
                continue
            found = _udp_entry(isolating, dns, ports, addresses)
            if found is not None:
                policy, entry, number = found
                blamed.setdefault(id(entry.node), _Blame(policy, entry.node, number=number)).add(label)
        for blame in sorted(blamed.values(), key=lambda b: (b.policy.path, b.node.span)):
            number = blame.number
            message = (
                f"DNS is allowed over UDP {number} only, not TCP {number}: "
                f"add `- {{protocol: TCP, port: {number}}}` beside this entry"
            )
            detail = (
                f"This entry allows DNS to the cluster DNS pods over UDP {number}, and no egress rule of "
                f"the policies selecting {listed(blame.labels)} allows TCP {number}. Answers too large for "
                "UDP come back truncated and resolvers retry over TCP, which is dropped (big records, "
                "many A/AAAA answers, DNSSEC)."
            )
            fix = f"- {{protocol: UDP, port: {number}}}\n- {{protocol: TCP, port: {number}}}"
            fixes = self.make_fix(
                blame.policy,
                f"add TCP {number} beside UDP {number}",
                _tcp_beside(blame.node, number),
                safe=True,
            )
            yield self.finding(blame.policy, blame.node, message, fix=fix, detail=detail, fixes=fixes)


def _tcp_beside(entry: Node, number: int) -> list[Edit]:
    """An entry for TCP ``number`` after the UDP one, its keys in the same order; only for a numbered port.

    A named port stays the author's to write: the DNS pods name their TCP port otherwise
    (CoreDNS: ``dns`` for UDP, ``dns-tcp`` for TCP).
    """
    ports = entry.parent
    where = yaml_path(ports) if isinstance(ports, SeqNode) else None
    if where is None or not isinstance(entry, MapNode) or "endPort" in entry:
        return []
    port = entry.get("port")
    if not isinstance(port, ScalarNode) or port.value != number:
        return []
    keys = [key for key in entry.entries if key in ("port", "protocol")]
    values = {"port": number, "protocol": "TCP"}
    ordered = {key: values[key] for key in [*keys, *(k for k in values if k not in keys)]}
    return [Edit.make("append", where, None, ordered)]


def _layers_decide_tcp(layered: LayeredDns, label: str) -> bool:
    """Whether a policy of another kind decides DNS for these pods: it lets TCP through, or UDP
    fails (then NP301 reports the pods, and TCP is not the problem)."""
    udp = layered.side(label, "UDP")
    if udp is not None and not udp.allowed:
        return True
    tcp = layered.side(label, "TCP")
    return tcp is not None and other_kind_allows(tcp)


def _udp_entry(
    policies: Sequence[NetworkPolicy], dns: Sequence[PodView], ports: Sequence[int], where: AddressContext
) -> tuple[NetworkPolicy, PolicyPort, int] | None:
    """The first port entry (document order) that lets UDP DNS reach a DNS pod."""
    for policy in policies:
        for rule in policy.egress:
            for target in dns:
                if rule.ports is not None and rule_peers_match_pod(rule, policy.namespace, target, where):
                    for entry, number in ((e, n) for e in rule.ports for n in ports):
                        if port_matches(entry, "UDP", number, target):
                            return policy, entry, number
    return None


def node_local_dns_in_use(ctx: RuleContext) -> bool:
    """NodeLocal DNSCache answers on the DNS Service address itself in iptables mode (semantics §3.4)."""
    if ctx.cluster.facts.dns.node_local_ip:
        return True
    return any(
        w.name == "node-local-dns" or w.pod_labels.get("k8s-app") == "node-local-dns"
        for w in ctx.inventory.workloads
    )


class DnsViaServiceIp(Rule):
    id = "NP303"
    name = "dns-via-service-ip"
    summary = (
        "DNS is allowed only through an ipBlock holding the DNS Service's ClusterIP, which never matches."
    )
    level = Level.ERROR
    tags = ("egress", "dns", "ipblock")

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        inventory, facts = ctx.inventory, ctx.cluster.facts
        if node_local_dns_in_use(ctx) or ctx.cluster.pre_dnat:
            return
        ranges = ctx.cluster.ranges
        aimed = ServiceAim.of(ranges)
        known = dns_service_addresses(inventory, facts, ranges)
        dns = dns_pods(inventory, facts)
        addresses = address_context(facts, ctx.cluster.ipblock_matches_pods)
        ports = facts.dns.ports
        blamed: dict[int, _Blame] = {}
        layered = layered_dns(ctx)
        for label, isolating in _egress_subjects(inventory):
            if _allows_link_local_dns(isolating, ports):
                continue
            for protocol in ("UDP", "TCP"):
                if allows_dns(isolating, dns, protocol, ports, addresses):
                    continue
                side = layered.side(label, protocol) if layered is not None else None
                if side is not None and other_kind_allows(side):
                    continue  # a tier before NetworkPolicy's, or an Admin rule, lets DNS reach the pods
                for policy, block, hit in _service_blocks(isolating, protocol, ports, known, aimed):
                    node = cidr_node(block)
                    blame = blamed.setdefault(id(node), _Blame(policy, node, hit=hit))
                    blame.add(label)
                    blame.protocols.add(protocol)
        for blame in sorted(blamed.values(), key=lambda b: (b.policy.path, b.node.span)):
            assert blame.hit is not None
            over = "" if len(blame.protocols) > 1 else f" over {next(iter(blame.protocols))}"
            message = (
                f"DNS{over} is allowed only to the DNS Service IP {blame.hit.address}, which policies never "
                "see: allow the DNS pods instead"
            )
            detail = (
                f"DNS{over} from {listed(blame.labels)} is allowed only through this ipBlock, which holds "
                f"{_holds(blame.hit, 'the DNS Service', 'cluster.dns.service-ip')}. Policies see DNS "
                "traffic after the Service's DNAT, addressed to the DNS pods themselves, so the block "
                f"never matches and name resolution fails. Allow the DNS pods: {_dns_peer(ctx)}."
            )
            fix = "to:\n" + _dns_selector_text(ctx)
            fixes = self.make_fix(
                blame.policy,
                "replace the DNS Service's ipBlock with the DNS pods' selectors",
                _dns_peer_instead(blame.node, ctx),
                safe=True,
            )
            yield self.finding(blame.policy, blame.node, message, fix=fix, detail=detail, fixes=fixes)
        if layered is not None:
            yield from self._other_kinds(ctx, layered, known, aimed, ports)

    def _other_kinds(
        self,
        ctx: RuleContext,
        layered: LayeredDns,
        known: Sequence[KnownAddress],
        aimed: ServiceAim,
        ports: Sequence[int],
    ) -> Iterator[Finding]:
        """Admin, Baseline, Calico and Cilium allows of DNS to the Service IP, for pods whose DNS fails."""
        found: dict[tuple[str, int, int], tuple[Opening, KnownAddress, set[str], list[str]]] = {}
        node_local = [AddressRange.of_address(a) for a in NODE_LOCAL_DNS_ADDRESSES]
        udp = _ports_of("UDP", ports)
        shapes = allow_shapes(layered)
        if not any(s.dns_port and any(s.holds(hit.address) for hit in known) for s in shapes):
            return
        for cls, labels in side_groups(layered):
            if any(egress_ports(layered, cls, a) & udp for a in node_local):
                continue  # NodeLocal DNSCache is allowed: the ClusterIP beside it is deliberate
            for protocol in ("UDP", "TCP"):
                side = layered.side(labels[0], protocol)
                if side is None or side.allowed:
                    continue  # DNS reaches the DNS pods (or nothing is known of them)
                asked = _ports_of(protocol, ports)
                for hit in known:
                    address = AddressRange.of_address(hit.address)
                    if not egress_ports(layered, cls, address) & asked:
                        continue
                    verdict = explain_egress(layered, cls, labels[0], address, asked)
                    for opening in openings(layered, verdict):
                        if not any(
                            hit.address in network and _aimed_at_services(aimed, network)
                            for _, network in opening.networks
                        ):
                            continue
                        entry = found.setdefault(opening.key, (opening, hit, set(), []))
                        entry[2].add(protocol)
                        entry[3].extend(label for label in labels if label not in entry[3])
        for key in sorted(found):
            opening, hit, protocols, labels = found[key]
            over = "" if len(protocols) > 1 else f" over {next(iter(protocols))}"
            message = (
                f"this rule allows DNS{over} only to the DNS Service IP {hit.address}, which policies never "
                "see: allow the DNS pods instead"
            )
            detail = (
                f"DNS{over} from {listed(labels)} is allowed only by {opening.title}, through a peer that "
                f"holds {_holds(hit, 'the DNS Service', 'cluster.dns.service-ip')}, and through every "
                "policy layer the CNI runs nothing lets it reach the DNS pods. Policies see DNS traffic "
                "after the Service's DNAT, addressed to the DNS pods themselves, so the peer never "
                f"matches and name resolution fails. Allow the DNS pods: {_dns_peer(ctx, opening.dialect)}."
            )
            yield on_opening(self, opening, message, detail)


def _ports_of(protocol: str, ports: Sequence[int]) -> PortSet:
    found = NO_PORTS
    for port in ports:
        found = found | PortSet.single(protocol, port)
    return found


def _aimed_at_services(aimed: ServiceAim, network: IPNetwork) -> bool:
    """A network of another kind's peer aimed at Service addresses, as :meth:`ServiceAim.at_services`."""
    if any(network.overlaps(pods) for pods in aimed.pod_ranges if pods.version == network.version):
        return False
    if network.num_addresses == 1:
        return True
    return any(
        network.version == r.version and network.subnet_of(r)  # type: ignore[arg-type]
        for r in aimed.service_ranges
    )


def _dns_peer_instead(cidr: Node, ctx: RuleContext) -> list[Edit]:
    """The peer that holds only the Service's ipBlock, replaced by one for the DNS pods.

    Policies see the traffic after the Service's DNAT, so the block never matched: the
    peer that replaces it lets through what the block was written for, and nothing else.
    A peer with more in it (an ``except``, another selector) is the author's to rewrite.
    """
    block = cidr.parent
    peer = block.parent if block is not None else None
    peers = peer.parent if peer is not None else None
    if not (isinstance(block, MapNode) and isinstance(peer, MapNode) and isinstance(peers, SeqNode)):
        return []
    where = yaml_path(peers)
    dns = ctx.cluster.facts.dns
    if where is None or list(block.entries) != ["cidr"] or list(peer.entries) != ["ipBlock"]:
        return []
    if not isinstance(peer.key, int) or not dns.pod_labels or dns.namespace.endswith("/"):
        return []
    replacement = {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": dns.namespace}},
        "podSelector": {"matchLabels": dict(sorted(dns.pod_labels.items()))},
    }
    return [Edit.make("set", where, peer.key, replacement)]


def _holds(hit: KnownAddress, service: str, key: str) -> str:
    if hit.assumed:
        return f"{hit.address}, {hit.source} for {service} (set {key} if yours differs)"
    return f"{hit.address}, {hit.source}"


def _dns_peer(ctx: RuleContext, dialect: str = "networkpolicy") -> str:
    """The DNS pods as a peer, written in the policy language of the rule that needs it."""
    dns = ctx.cluster.facts.dns
    if dialect == "calico":
        selector = " && ".join(f"{k} == '{v}'" for k, v in sorted(dns.pod_labels.items()))
        return (
            f"`destination: {{namespaceSelector: \"projectcalico.org/name == '{dns.namespace}'\", "
            f'selector: "{selector}"}}`'
        )
    if dialect == "cilium":
        labels = ", ".join(f"{k}: {v}" for k, v in sorted(dns.pod_labels.items()))
        return f"`toEndpoints: [{{matchLabels: {{io.kubernetes.pod.namespace: {dns.namespace}, {labels}}}}}]`"
    if dialect == "admin":
        labels = ", ".join(f"{k}: {v}" for k, v in sorted(dns.pod_labels.items()))
        return (
            "`to: [{pods: {namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: "
            f"{dns.namespace}}}}}, podSelector: {{matchLabels: {{{labels}}}}}}}}}]`"
        )
    first, second = _dns_selector_text(ctx).split("\n")
    return f"`{first}` with `{second.strip()}` in the same peer"


def _service_blocks(
    policies: Sequence[NetworkPolicy],
    protocol: str,
    ports: Sequence[int],
    known: Sequence[KnownAddress],
    aimed: ServiceAim,
) -> Iterator[tuple[NetworkPolicy, IPBlock, KnownAddress]]:
    """The ipBlocks aimed at one of the ``known`` Service addresses, in rules allowing ``protocol``."""
    for policy in policies:
        for rule in policy.egress:
            if any(rule_ports_match(rule, protocol, p, None) for p in ports):
                for block in ip_blocks(rule):
                    hit = next((a for a in known if block.contains(a.address)), None)
                    if hit is not None and aimed.at_services(block):
                        yield policy, block, hit


def _allows_link_local_dns(policies: Sequence[NetworkPolicy], ports: Sequence[int]) -> bool:
    """A rule to a NodeLocal DNSCache address: the ClusterIP block beside it is deliberate."""
    for policy in policies:
        for rule in policy.egress:
            if any(rule_ports_match(rule, "UDP", p, None) for p in ports) and any(
                block.contains(a) for block in ip_blocks(rule) for a in NODE_LOCAL_DNS_ADDRESSES
            ):
                return True
    return False


def _selects_dns_servers(policy: NetworkPolicy, ctx: RuleContext) -> bool:
    """CoreDNS and NodeLocal DNSCache forward to upstream resolvers anywhere: port 53 out is their job."""
    dns = ctx.cluster.facts.dns
    if policy.namespace != dns.namespace:
        return False
    servers: list[Mapping[str, str]] = [dns.pod_labels, {"k8s-app": "node-local-dns"}]
    servers += [
        w.pod_labels
        for w in ctx.inventory.workloads_in(policy.namespace)
        if w.name in ("coredns", "kube-dns")
    ]
    return any(labels and policy.pod_selector.matches(labels) for labels in servers)


class DnsUnrestrictedDestination(Rule):
    id = "NP304"
    name = "dns-unrestricted-destination"
    summary = "Port 53 is allowed to any destination: pods can query (and tunnel through) any DNS server."
    level = Level.NOTE
    about_form = True
    tags = ("egress", "dns", "exfiltration")

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        layered = layered_dns(ctx)
        pods_of = _pods_of_policies(ctx.inventory) if layered is not None else {}
        for policy, rule in isolating_rules(ctx.inventory):
            if rule.ports is None or _selects_dns_servers(policy, ctx):
                continue
            if rule.peers is None:
                destination = "the rule has no `to`, so every destination"
            else:
                whole = next((b for b in ip_blocks(rule) if is_whole_family(b.network)), None)
                if whole is None:
                    continue
                destination = f"ipBlock {whole.cidr} is every address of its family"
            entries = [e for e in rule.ports if e.port == 53]
            if not entries:
                continue
            if layered is not None:
                asked = NO_PORTS
                for entry in entries:
                    if entry.protocol in ("UDP", "TCP"):
                        asked = asked | PortSet.single(entry.protocol, 53)
                classes = classes_of(layered, pods_of.get(id(policy), []))
                if classes and not any(_internet_ports(layered, cls, asked) for cls in classes):
                    continue  # a policy of another kind keeps port 53 from the internet in front of it
            protocols = " and ".join(sorted({e.protocol for e in entries}, reverse=True))
            message = (
                f"port 53 ({protocols}) is open to any destination: restrict the rule's `to` to the "
                "cluster DNS pods"
            )
            detail = (
                f"This rule allows port 53 ({protocols}) to any destination ({destination}): pods can "
                "query any DNS server on the internet, which bypasses the cluster DNS and is a common "
                f"path to tunnel data out. Allow the cluster DNS pods only: {_dns_peer(ctx)}."
            )
            fix = "to:\n" + _dns_selector_text(ctx)
            yield self.finding(policy, entries[0].node, message, fix=fix, detail=detail)
        if layered is not None:
            yield from self._opened_by_other_kinds(ctx, layered)

    def _opened_by_other_kinds(self, ctx: RuleContext, layered: LayeredDns) -> Iterator[Finding]:
        """Admin, Baseline, Calico and Cilium allows of port 53 to any destination that decide."""
        found: dict[tuple[str, int, int], tuple[Opening, str, PortSet, list[str]]] = {}
        # As for NetworkPolicy, a rule of every port is NP307's, not this rule's: port 53 must be listed.
        shapes = allow_shapes(layered)
        if not any(s.dns_port and not s.all_ports and (s.anywhere or s.whole_family) for s in shapes):
            return
        for cls, labels in side_groups(layered, lambda c: not _is_dns_server(ctx, layered, c)):
            for address in internet_ranges(layered):
                if not egress_ports(layered, cls, address) & DNS_PORTS:
                    continue
                side = explain_egress(layered, cls, labels[0], address, DNS_PORTS)
                hits = [
                    (o, where)
                    for o in openings(layered, side)
                    if not o.all_ports and (where := o.no_destination or _whole_family_text(o)) is not None
                ]
                for opening, where in hits:
                    entry = found.setdefault(opening.key, (opening, where, NO_PORTS, []))
                    entry[3].extend(label for label in labels if label not in entry[3])
                    found[opening.key] = (
                        entry[0],
                        entry[1],
                        entry[2] | (opening.ports & DNS_PORTS),
                        entry[3],
                    )
                if hits:
                    break
        for key in sorted(found):
            opening, where, taken, labels = found[key]
            protocols = " and ".join(p for p in ("UDP", "TCP") if taken & PortSet.single(p, 53))
            message = (
                f"this rule opens port 53 ({protocols}) to any destination: restrict it to the cluster "
                "DNS pods"
            )
            detail = (
                f"{opening.title} allows port 53 ({protocols}) to any destination ({where}) for "
                f"{listed(labels)}, and through every policy layer the CNI runs it decides: pods can query "
                "any DNS server on the internet, which bypasses the cluster DNS and is a common path to "
                f"tunnel data out. Allow the cluster DNS pods only: {_dns_peer(ctx, opening.dialect)}."
            )
            yield on_opening(self, opening, message, detail)


#: DNS to any server: UDP and TCP 53.
DNS_PORTS = PortSet.single("UDP", 53) | PortSet.single("TCP", 53)


def _whole_family_text(opening: Opening) -> str | None:
    whole = opening.whole_internet()
    return f"{whole} is every address of its family" if whole is not None else None


def _internet_ports(layered: LayeredDns, cls: int, asked: PortSet) -> bool:
    """Whether the pods of ``cls`` may send some of ``asked`` to some internet address."""
    return any(egress_ports(layered, cls, r) & asked for r in internet_ranges(layered))


def _is_dns_server(ctx: RuleContext, layered: LayeredDns, cls: int) -> bool:
    """The cluster DNS pods and NodeLocal DNSCache forward to upstream resolvers: port 53 out is their job."""
    pod = layered.engine.classes[cls]
    dns = ctx.cluster.facts.dns
    if cls in layered.dns or pod.namespace != dns.namespace:
        return cls in layered.dns
    servers: list[Mapping[str, str]] = [dns.pod_labels, {"k8s-app": "node-local-dns"}]
    if any(labels and all(pod.labels.get(k) == v for k, v in labels.items()) for labels in servers):
        return True
    return any(w.name in ("coredns", "kube-dns") for w in pod.workloads)


def _reaches_endpoint(
    policies: Sequence[NetworkPolicy],
    port: int,
    aimed: ServiceAim,
    endpoints: Sequence[IPNetwork],
) -> bool:
    """Some egress rule allows TCP ``port`` to an address outside the Service ranges (the real endpoints)."""
    for policy in policies:
        for rule in policy.egress:
            if not rule_ports_match(rule, "TCP", port, None):
                continue
            if rule.peers is None:
                return True
            for block in ip_blocks(rule):
                if endpoints:
                    if any(block.contains(e.network_address) for e in endpoints):
                        return True
                elif not aimed.at_services(block):
                    return True
    return False


class ApiserverEgressServicePort(Rule):
    id = "NP305"
    name = "apiserver-egress-service-port"
    summary = "Egress to the API server through the `kubernetes` Service address, which DNAT takes away."
    level = Level.WARNING
    tags = ("egress", "apiserver")

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        inventory, facts = ctx.inventory, ctx.cluster.facts
        if ctx.cluster.pre_dnat:
            return
        ranges = ctx.cluster.ranges
        aimed = ServiceAim.of(ranges)
        known = apiserver_service_addresses(inventory, facts, ranges)
        port = facts.apiserver_port or 6443
        endpoints = apiserver_endpoints(facts)
        candidates: list[tuple[NetworkPolicy, IPBlock, KnownAddress, list[int]]] = []
        for policy, rule in isolating_rules(inventory):
            # 443 is the Service's port; the endpoint port to the Service address is no better.
            allowed = [p for p in dict.fromkeys((443, port)) if rule_ports_match(rule, "TCP", p, None)]
            if not allowed:
                continue
            for block in ip_blocks(rule):
                hit = next((a for a in known if block.contains(a.address)), None)
                if (
                    hit is not None
                    and aimed.at_services(block)
                    and not any(block.contains(e.network_address) for e in endpoints)
                ):
                    candidates.append((policy, block, hit, allowed))
        layered = layered_dns(ctx)
        if layered is not None:
            yield from self._other_kinds(layered, known, aimed, port, endpoints)
        if not candidates:
            return
        # The pods each policy isolates (policies compare by identity).
        pods_of: dict[int, list[tuple[str, list[NetworkPolicy]]]] = defaultdict(list)
        for label, isolating in _egress_subjects(inventory):
            for isolating_policy in isolating:
                pods_of[id(isolating_policy)].append((label, isolating))
        for policy, block, hit, allowed in candidates:
            concerned = pods_of.get(id(policy), [])
            if not concerned:
                concerned = [
                    (
                        f"the pods of {policy.ref.qualified}",
                        [policy],
                    )
                ]
            stuck = [
                label
                for label, isolating in concerned
                if not _reaches_endpoint(isolating, port, aimed, endpoints)
                and not (
                    layered is not None
                    and _layers_reach_apiserver(layered, label, port, aimed, endpoints, known)
                )
            ]
            if not stuck:
                continue
            where = _holds(hit, "the `kubernetes` Service", "cluster.apiserver.service-ip")
            target = ", ".join(map(str, endpoints)) if endpoints else "the API server's own addresses"
            message = (
                f"API server egress to Service IP {hit.address} is dropped after DNAT: "
                f"allow TCP {port} to its own addresses"
            )
            detail = (
                f"This ipBlock allows port {'/'.join(map(str, allowed))} to {where}; but after the Service's "
                f"DNAT the connection goes to {target} on port {port}, and no egress rule of the policies "
                f"selecting {listed(stuck)} allows that, so calls to the API server time out. "
                f"Allow TCP {port} to the endpoint addresses (`kubectl get endpointslices -n default -l "
                "kubernetes.io/service-name=kubernetes`), and set cluster.apiserver.addresses and .port "
                "in the nplint configuration."
            )
            cidr = str(endpoints[0]) if endpoints else "<api-server-address>/32"
            fix = f"- to:\n  - ipBlock: {{cidr: {cidr}}}\n  ports:\n  - {{protocol: TCP, port: {port}}}"
            yield self.finding(policy, block.node, message, fix=fix, detail=detail)

    def _other_kinds(
        self,
        layered: LayeredDns,
        known: Sequence[KnownAddress],
        aimed: ServiceAim,
        port: int,
        endpoints: Sequence[IPNetwork],
    ) -> Iterator[Finding]:
        """Other kinds' allows aimed at the `kubernetes` Service address, for pods that reach no endpoint."""
        trusted = _POST_DNAT_ADMIN.get(layered.engine.profile.name, False)
        asked = _ports_of("TCP", list(dict.fromkeys((443, port))))
        found: dict[tuple[str, int, int], tuple[Opening, KnownAddress, list[str]]] = {}
        if not any(any(s.holds(hit.address) for hit in known) for s in allow_shapes(layered)):
            return
        for cls, labels in side_groups(layered):
            if _layers_reach_apiserver(layered, labels[0], port, aimed, endpoints, known):
                continue
            for hit in known:
                address = AddressRange.of_address(hit.address)
                if not egress_ports(layered, cls, address) & asked:
                    continue
                verdict = explain_egress(layered, cls, labels[0], address, asked)
                admin = {
                    (r.path, r.rule_line, r.column) for r in (*verdict.admin_steps, *verdict.baseline_steps)
                }
                for opening in openings(layered, verdict):
                    if opening.key in admin and not trusted:
                        continue  # where the Admin tiers judge is not stated for this CNI
                    if not any(
                        hit.address in network
                        and _aimed_at_services(aimed, network)
                        and not any(e.network_address in network for e in endpoints)
                        for _, network in opening.networks
                    ):
                        continue
                    entry = found.setdefault(opening.key, (opening, hit, []))
                    entry[2].extend(label for label in labels if label not in entry[2])
        target = ", ".join(map(str, endpoints)) if endpoints else "the API server's own addresses"
        for key in sorted(found):
            opening, hit, labels = found[key]
            where = _holds(hit, "the `kubernetes` Service", "cluster.apiserver.service-ip")
            message = (
                f"API server egress to Service IP {hit.address} is dropped after DNAT: "
                f"allow TCP {port} to its own addresses"
            )
            detail = (
                f"{opening.title} allows {opening.ports.describe()} to {where}; but after the Service's DNAT "
                f"the connection goes to {target} on port {port}, and through every policy layer the CNI "
                f"runs nothing lets {listed(labels)} reach that, so calls to the API server time out. "
                f"Allow TCP {port} to the endpoint addresses (`kubectl get endpointslices -n default -l "
                "kubernetes.io/service-name=kubernetes`), and set cluster.apiserver.addresses and .port "
                "in the nplint configuration."
            )
            yield on_opening(self, opening, message, detail)


#: Whether the reference states that the CNI judges its Admin and Baseline tiers after the Service's
#: DNAT: OVN-Kubernetes' egress ACLs apply after load balancing (policy-kinds §9.3). For Antrea and
#: kube-network-policies it says nothing (§9.4, §9.5): their Admin rules are left out of NP305.
#: Calico (§7.8) and Cilium (§8.8) judge their own policies after DNAT on every release.
_POST_DNAT_ADMIN: Mapping[str, bool] = {"ovn-kubernetes": True}


def _layers_reach_apiserver(
    layered: LayeredDns,
    label: str,
    port: int,
    aimed: ServiceAim,
    endpoints: Sequence[IPNetwork],
    known: Sequence[KnownAddress],
) -> bool:
    """Whether ``label``'s pods reach the API server's own addresses on TCP ``port`` through the layers.

    With the endpoints configured, those addresses are asked; without, any address clear of the
    known Service ranges and Service addresses stands for them, as NetworkPolicy's blocks do in
    :func:`_reaches_endpoint`.
    Cilium's ``kube-apiserver`` entity, which the engine does not model, reaches it by name (§8.5).
    """
    cls = layered.classes.get(label)
    if cls is None:
        return False
    asked = PortSet.single("TCP", port)
    if _cilium_entity_allows(layered, cls, port):
        return True
    targets = layered.memo.get("apiserver")
    if targets is None:
        if endpoints:
            targets = [AddressRange.of_address(e.network_address) for e in endpoints]
        else:
            services = [*aimed.service_ranges, *(ip_network(a.address) for a in known)]
            cuts = cut_address_space([*layered.engine.ip_blocks(Direction.EGRESS), *services])
            targets = [r for r in cuts if not any(r.first_address in network for network in services)]
        layered.memo["apiserver"] = targets
    return any(egress_ports(layered, cls, target) & asked for target in targets)


def _cilium_entity_allows(layered: LayeredDns, cls: int, port: int) -> bool:
    """A Cilium allow rule selecting the pods that names the ``kube-apiserver`` entity on ``port``."""
    cni_layer = layered.engine.cni_layer
    if not isinstance(cni_layer, CiliumLayers):
        return False
    for selecting in cni_layer.selecting[Direction.EGRESS][cls]:
        for rule in selecting.spec.allows(Direction.EGRESS):
            if "kube-apiserver" in (rule.entities or ()) and rule.matches_port("TCP", port):
                return True
    return False


def _pods_of_policies(inventory: Inventory) -> dict[int, list[str]]:
    """The subject pods each egress-isolating policy selects (policies compare by identity)."""
    found: dict[int, list[str]] = defaultdict(list)
    for label, isolating in _egress_subjects(inventory):
        for policy in isolating:
            found[id(policy)].append(label)
    return found


def _tcp_ports(ports: Sequence[int]) -> PortSet:
    asked = NO_PORTS
    for port in ports:
        asked = asked | PortSet.single("TCP", port)
    return asked


def _metadata_closed(
    layered: LayeredDns, labels: Sequence[str], hit: IPAddress, ports: Sequence[int]
) -> bool:
    """Whether every pod ``labels`` names is kept from ``hit`` on ``ports`` through every layer."""
    classes = classes_of(layered, labels)
    if not classes:
        return False
    address = AddressRange.of_address(hit)
    asked = _tcp_ports(ports)
    return not any(egress_ports(layered, cls, address) & asked for cls in classes)


class EgressToMetadataService(Rule):
    id = "NP306"
    name = "egress-to-metadata-service"
    summary = (
        "Egress allows the cloud metadata service (169.254.169.254) through a wider CIDR with no `except`."
    )
    level = Level.WARNING
    tags = ("egress", "ipblock", "security")
    options: ClassVar[Mapping[str, Any]] = {"addresses": [str(a) for a in METADATA_ADDRESSES], "ports": [80]}

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        targets = [
            a for a in (parse_address(str(t)) for t in ctx.options.get("addresses", ())) if a is not None
        ]
        ports = [int(p) for p in ctx.options.get("ports", ()) if isinstance(p, int)]
        layered = layered_dns(ctx)
        pods_of = _pods_of_policies(ctx.inventory) if layered is not None else {}
        for policy, rule in isolating_rules(ctx.inventory):
            allowed = [p for p in ports if rule_ports_match(rule, "TCP", p, None)]
            if not allowed:
                continue
            for block in ip_blocks(rule):
                hit = next((a for a in targets if block.contains(a)), None)
                if hit is None or block.network is None or block.network.num_addresses == 1:
                    continue
                if layered is not None and _metadata_closed(
                    layered, pods_of.get(id(policy), []), hit, allowed
                ):
                    continue  # a policy of another kind closes it in front of this one
                yield self._report(policy, block, hit, allowed)
        if layered is not None:
            yield from self._opened_by_other_kinds(layered, targets, ports)

    def _opened_by_other_kinds(
        self, layered: LayeredDns, targets: Sequence[IPAddress], ports: Sequence[int]
    ) -> Iterator[Finding]:
        """Admin, Baseline, Calico and Cilium allows that open the metadata service through a wider peer."""
        asked = _tcp_ports(ports)
        if not asked:
            return
        found: dict[tuple[str, int, int], tuple[Opening, str, IPAddress, PortSet, list[str]]] = {}
        if not any(s.world or any(s.holds(t, wide=True) for t in targets) for s in allow_shapes(layered)):
            return
        for cls, labels in side_groups(layered):
            for target in targets:
                address = AddressRange.of_address(target)
                if not egress_ports(layered, cls, address) & asked:
                    continue
                side = explain_egress(layered, cls, labels[0], address, asked)
                for opening in openings(layered, side):
                    holder = opening.wide_holder(target)
                    if holder is None:
                        continue
                    entry = found.setdefault(opening.key, (opening, holder, target, NO_PORTS, []))
                    entry[4].extend(label for label in labels if label not in entry[4])
                    found[opening.key] = (*entry[:3], entry[3] | opening.ports, entry[4])
        for key in sorted(found):
            opening, holder, hit, taken, labels = found[key]
            message = (
                f"this rule opens the cloud metadata service {hit} through {holder}: deny it first, or "
                "narrow the peer"
            )
            detail = (
                f"{opening.title} allows {taken.describe()} to {hit}, the cloud instance metadata service, "
                f"through {holder}, for {listed(labels)}: through every policy layer the CNI runs, this "
                "rule decides, and the pods can read the node's cloud credentials and metadata there. "
                f"Deny {hit}/{hit.max_prefixlen} in a rule evaluated before this one (or exclude it from the "
                "peer: `notNets` in Calico, `except` of a `toCIDRSet` in Cilium) unless these pods really "
                "need the metadata service."
            )
            yield on_opening(self, opening, message, detail)

    def _report(self, policy: NetworkPolicy, block: IPBlock, hit: IPAddress, ports: list[int]) -> Finding:
        host = f"{hit}/{hit.max_prefixlen}"
        excepts = [text for text, _ in block.excepts] + [host]
        fix = f"ipBlock:\n  cidr: {block.cidr}\n  except: [{', '.join(excepts)}]"
        message = f"ipBlock {block.cidr} opens the cloud metadata service {hit}: add `{host}` to its `except`"
        detail = (
            f"ipBlock {block.cidr} includes {hit}, the cloud instance metadata service, and the rule "
            f"allows TCP {', '.join(map(str, ports))}: any selected pod can read the node's cloud "
            f"credentials and metadata there. Write `except: [{', '.join(excepts)}]` unless these pods "
            "really need the metadata service."
        )
        return self.finding(policy, cidr_node(block), message, fix=fix, detail=detail)


class EgressOpenToInternet(Rule):
    id = "NP307"
    name = "egress-open-to-internet"
    summary = "An egress rule allows every port to every internet address (0.0.0.0/0 or ::/0)."
    level = Level.NOTE
    about_form = True
    tags = ("egress", "ipblock")

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        layered = layered_dns(ctx)
        pods_of = _pods_of_policies(ctx.inventory) if layered is not None else {}
        for policy, rule in isolating_rules(ctx.inventory):
            if rule.ports is not None:
                continue
            if rule.peers is None:
                if policy.pod_selector.is_empty:
                    continue  # allow-all for the whole namespace: NP105's business
                message = (
                    "egress rule without `to` or `ports` lets the pods connect anywhere: list the "
                    "destinations and ports they need"
                )
                detail = (
                    "This egress rule has neither `to` nor `ports`, so the selected pods "
                    f"{policy.pod_selector} may connect anywhere, on the internet and in the cluster, on "
                    "every port: their egress isolation allows everything. List the destinations and "
                    "ports they need (e.g. `- to: [{ipBlock: {cidr: 203.0.113.0/24}}]` with "
                    "`ports: [{protocol: TCP, port: 443}]`), or drop Egress from `policyTypes`."
                )
                yield self.finding(policy, rule.node, message, detail=detail)
                continue
            whole = next((b for b in ip_blocks(rule) if is_whole_family(b.network)), None)
            if whole is None:
                continue
            if layered is not None and whole.network is not None:
                classes = classes_of(layered, pods_of.get(id(policy), []))
                version = whole.network.version
                if classes and not any(open_to_internet(layered, cls, version) for cls in classes):
                    continue  # a policy of another kind closes the internet in front of this one
            message = (
                f"every port is open to ipBlock {whole.cidr}, the whole internet: add `ports:` for what "
                "the pods need, or narrow the `cidr`"
            )
            detail = (
                f"This rule allows every port to ipBlock {whole.cidr}, every address of the internet "
                "(and, on CNIs such as Calico, every pod and node as well): any protocol a compromised "
                "pod wants to use gets out. Add `ports:` for what the pods need (e.g. "
                "`ports: [{protocol: TCP, port: 443}]`) or narrow the `cidr`."
            )
            fix = "ports:\n- {protocol: TCP, port: 443}"
            yield self.finding(policy, cidr_node(whole), message, fix=fix, detail=detail)
        if layered is not None:
            yield from self._opened_by_other_kinds(layered)

    def _opened_by_other_kinds(self, layered: LayeredDns) -> Iterator[Finding]:
        """Admin, Baseline, Calico and Cilium allows of every port to the whole internet that decide."""
        found: dict[tuple[str, int, int], tuple[Opening, str, list[str]]] = {}
        if not any(s.all_ports and s.whole_family for s in allow_shapes(layered)):
            return
        for cls, labels in side_groups(layered):
            for address in internet_ranges(layered):
                if EVERY_PORT - egress_ports(layered, cls, address):
                    continue
                side = explain_egress(layered, cls, labels[0], address, ALL_PORTS)
                hits = [
                    (o, whole)
                    for o in openings(layered, side)
                    if o.all_ports
                    and not (EVERY_PORT - o.ports)
                    and (whole := o.whole_internet()) is not None
                ]
                for opening, whole in hits:
                    entry = found.setdefault(opening.key, (opening, whole, []))
                    entry[2].extend(label for label in labels if label not in entry[2])
                if hits:
                    break
        for key in sorted(found):
            opening, whole, labels = found[key]
            message = (
                f"this rule opens every port to {whole}, the whole internet: list the ports the pods need, "
                "or narrow the peer"
            )
            detail = (
                f"{opening.title} allows every port to {whole} for {listed(labels)}, and through every "
                "policy layer the CNI runs nothing before it takes any of that away: any protocol a "
                "compromised pod wants to use gets out. List the ports the pods need (e.g. TCP 443) or "
                "narrow the destination."
            )
            yield on_opening(self, opening, message, detail)


RULES = (
    DnsUdpOnly,
    DnsViaServiceIp,
    DnsUnrestrictedDestination,
    ApiserverEgressServicePort,
    EgressToMetadataService,
    EgressOpenToInternet,
)
