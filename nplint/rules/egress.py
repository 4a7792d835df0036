"""NP302–NP307: egress rules that miss DNS over TCP, aim at Service addresses, or open too much.

Policies see connections after a Service's DNAT on almost every CNI: a pod
calling a ClusterIP is judged by the backend's address and port
(networkpolicy-semantics §2.8, pitfalls P07, P18, P20). The AWS VPC CNI is the
exception: it judges egress before DNAT.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
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
from nplint.engine.matching import (
    AddressContext,
    PodView,
    port_matches,
    rule_peers_match_pod,
    rule_ports_match,
)
from nplint.engine.pods import address_context, dns_pods
from nplint.findings import Edit, Finding, Level, listed_in_full
from nplint.findings import listed as listed_capped
from nplint.loading.nodes import MapNode, Node, ScalarNode, SeqNode
from nplint.model import Direction, Inventory, IPBlock, NetworkPolicy, PolicyPort, PolicyRule
from nplint.model.objects import IPNetwork
from nplint.rules.base import Rule, RuleContext, yaml_path
from nplint.rules.dns import (
    LayeredDns,
    allows_dns,
    egress_policies_for,
    layered_dns,
    other_kind_allows,
    subjects,
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


@dataclass
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
        for label, isolating in _egress_subjects(inventory):
            if _allows_link_local_dns(isolating, ports):
                continue
            for protocol in ("UDP", "TCP"):
                if allows_dns(isolating, dns, protocol, ports, addresses):
                    continue
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


def _dns_peer(ctx: RuleContext) -> str:
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
        for policy, rule in isolating_rules(ctx.inventory):
            allowed = [p for p in ports if rule_ports_match(rule, "TCP", p, None)]
            if not allowed:
                continue
            for block in ip_blocks(rule):
                hit = next((a for a in targets if block.contains(a)), None)
                if hit is None or block.network is None or block.network.num_addresses == 1:
                    continue
                yield self._report(policy, block, hit, allowed)

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


RULES = (
    DnsUdpOnly,
    DnsViaServiceIp,
    DnsUnrestrictedDestination,
    ApiserverEgressServicePort,
    EgressToMetadataService,
    EgressOpenToInternet,
)
