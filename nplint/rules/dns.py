"""NP3xx: egress and DNS — an egress lockdown must still let pods resolve names."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from nplint.cluster.addresses import IPAddress, apiserver_endpoints, apiserver_service_addresses
from nplint.cluster.platform_owned import platform_label, platform_namespace, with_platform_labels
from nplint.cluster.view import view_key
from nplint.config import ClusterFacts
from nplint.engine.endpoints import AddressRange
from nplint.engine.engine import Engine, has_admin_layers, has_cni_layer
from nplint.engine.matching import (
    AddressContext,
    PodView,
    peer_matches_pod,
    rule_peers_match_pod,
    rule_ports_match,
)
from nplint.engine.pods import address_context, dns_pods, hypothetical_pod, pod_view
from nplint.engine.portsets import NO_PORTS, PortSet
from nplint.engine.verdict import SideVerdict, explain_side
from nplint.findings import Edit, Finding, Fix, Level, Related, Span, listed, listed_in_full, namespace_text
from nplint.loading.nodes import Node, ScalarNode, SeqNode
from nplint.model import Direction, Inventory, IPBlock, LabelSelector, NetworkPolicy, Peer, PolicyRule
from nplint.model.objects import Workload
from nplint.records import record
from nplint.rules.base import Rule, RuleContext, yaml_path
from nplint.untrusted import capped, shown

if TYPE_CHECKING:
    from nplint.rules.egress_layers import AllowShape


def egress_policies_for(pod: PodView, policies: Sequence[NetworkPolicy]) -> list[NetworkPolicy]:
    """The policies that isolate the pod's egress (its namespace, selector matches, Egress effective)."""
    return [
        p
        for p in policies
        if p.namespace == pod.namespace
        and p.isolates(Direction.EGRESS)
        and p.pod_selector.matches(pod.labels)
    ]


def allows_dns(
    policies: Sequence[NetworkPolicy],
    dns: Sequence[PodView],
    protocol: str,
    ports: Sequence[int],
    addresses: AddressContext,
) -> bool:
    """Whether some egress rule of ``policies`` allows ``protocol`` to a DNS port of some DNS pod."""
    for policy in policies:
        for rule in policy.egress:
            for target in dns:
                if not rule_peers_match_pod(rule, policy.namespace, target, addresses):
                    continue
                if any(rule_ports_match(rule, protocol, port, target) for port in ports):
                    return True
    return False


def dns_peer_on_platform_labels(
    policies: Sequence[NetworkPolicy],
    dns: Sequence[PodView],
    protocol: str,
    ports: Sequence[int],
    addresses: AddressContext,
    *,
    pods_known: bool,
    namespace_known: bool,
) -> Peer | None:
    """A peer of ``policies`` that allows DNS if the DNS pods carry the platform labels it asks for.

    nplint knows the DNS pods by the configured identity (``k8s-app: kube-dns``)
    and their namespace by its name; labels under ``kubernetes.io/`` or
    ``k8s.io/`` that a managed provider sets (``kubernetes.io/cluster-service``)
    it cannot know. A peer that fails only on those may work on the cluster it
    was written for: whether DNS resolves is then unknown, not known to fail.

    :param pods_known: the DNS pods are the repository's own, so their labels are known.
    :param namespace_known: the repository defines the DNS namespace and the platform owns none of it.
    """
    for policy in policies:
        for rule in policy.egress:
            for peer in rule.peers or ():
                if not peer.is_selector_peer:
                    continue
                for target in dns:
                    assumed = replace(
                        target,
                        labels=target.labels
                        if pods_known
                        else with_platform_labels(peer.pod_selector, target.labels),
                        namespace_labels=target.namespace_labels
                        if namespace_known
                        else with_platform_labels(peer.namespace_selector, target.namespace_labels),
                    )
                    if peer_matches_pod(peer, policy.namespace, assumed, addresses) and any(
                        rule_ports_match(rule, protocol, port, assumed) for port in ports
                    ):
                        return peer
    return None


def _platform_keys(peer: Peer) -> list[str]:
    """The platform label keys a peer's selectors use, for the "cannot tell" note."""
    keys: set[str] = set()
    for selector in (peer.namespace_selector, peer.pod_selector):
        if selector is not None:
            keys.update(key for key in selector.keys if platform_label(key))
    return sorted(keys)


def egress_type_node(policy: NetworkPolicy) -> Node | None:
    """The node that makes a policy isolate egress: its ``Egress`` entry, else its ``egress`` key."""
    spec = policy.spec
    if spec is None:
        return None
    types = spec.get_seq("policyTypes")
    if types is not None:
        for item in types:
            if isinstance(item, ScalarNode) and item.text == "Egress":
                return item
    return spec.get("egress")


def _dns_labels_known(inventory: Inventory, facts: ClusterFacts) -> tuple[bool, bool]:
    """Whether the DNS pods' labels, and their namespace's, are all known from the repository."""
    selector = LabelSelector(tuple(sorted(facts.dns.pod_labels.items())))
    namespace = facts.dns.namespace
    pods_known = any(
        w.namespace == namespace and not w.host_network and selector.matches(w.pod_labels)
        for w in inventory.workloads
    )
    defined = inventory.namespace_defined(namespace)
    return pods_known, defined and not platform_namespace(namespace, defined)


def subjects(inventory: Inventory) -> list[tuple[str, PodView]]:
    """The pods to check: workloads, or stand-ins for policies of namespaces with none in the repository.

    Made once per inventory (several rules walk them); the list is shared, never to be changed.
    """
    return inventory.memo(("dns.subjects",), lambda: _subjects(inventory))


def _subjects(inventory: Inventory) -> list[tuple[str, PodView]]:
    found: list[tuple[str, PodView]] = []
    with_workloads = {w.namespace for w in inventory.workloads}
    for workload in inventory.workloads:
        if not workload.host_network:
            found.append(
                (
                    f"{workload.ref}",
                    pod_view(workload, inventory),
                )
            )
    for policy in inventory.policies:
        if policy.namespace in with_workloads:
            continue
        stand_in = hypothetical_pod(policy, inventory)
        if stand_in is not None:
            who = (
                f"every pod of {namespace_text(policy.namespace)}"
                if policy.pod_selector.is_empty
                else f"the pods {policy.pod_selector} of {namespace_text(policy.namespace)}"
            )
            found.append((who, stand_in))
    return found


#: TCP ports the API server is reached on: the ``kubernetes`` Service's and the endpoints' usual one.
APISERVER_PORTS = frozenset((443, 6443))
#: The labels of the API server's static pods (kubeadm).
APISERVER_POD_LABELS = (("component", "kube-apiserver"), ("k8s-app", "kube-apiserver"))
#: The widest ipBlock still read as aimed at the API server's own addresses (a control-plane subnet).
CONTROL_PLANE_PREFIX = {4: 24, 6: 120}


@record(frozen=True, slots=True)
class ApiServer:
    """Where the API server is: its TCP ports and known addresses, for telling its egress rules apart."""

    ports: frozenset[int]
    addresses: tuple[IPAddress, ...]

    @classmethod
    def of(cls, ctx: RuleContext) -> ApiServer:
        facts = ctx.cluster.facts
        known = apiserver_service_addresses(ctx.inventory, facts, ctx.cluster.ranges)
        endpoints = tuple(n.network_address for n in apiserver_endpoints(facts))
        ports = APISERVER_PORTS | ({facts.apiserver_port} if facts.apiserver_port else set())
        return cls(frozenset(ports), tuple(a.address for a in known) + endpoints)

    def holds(self, block: IPBlock) -> bool:
        network = block.network
        return (
            network is not None
            and network.prefixlen >= CONTROL_PLANE_PREFIX[network.version]
            and any(block.contains(address) for address in self.addresses)
        )

    def only_target_of(self, rule: PolicyRule) -> bool:
        """Whether the rule allows nothing but TCP to the API server: no name to resolve."""
        if rule.ports is None:
            return False
        ports = set()
        for entry in rule.ports:
            if entry.protocol != "TCP" or not isinstance(entry.port, int) or entry.end_port is not None:
                return False
            ports.add(entry.port)
        if not ports <= self.ports:
            return False
        if 6443 in ports:
            # The API server's own port, alone or beside the `kubernetes` Service's 443,
            # whatever the peers: nothing else is served on it.
            return True
        if rule.peers is None:
            return False  # 443 to anywhere is every HTTPS server of the internet, known by name
        return all(
            (peer.ip_block is not None and self.holds(peer.ip_block))
            or (
                peer.pod_selector is not None
                and any(label in peer.pod_selector.match_labels for label in APISERVER_POD_LABELS)
            )
            for peer in rule.peers
        )


def dns_need(policies: Sequence[NetworkPolicy], apiserver: ApiServer) -> str | None:
    """How sure it is that the pods these policies isolate look names up: strong, weak, or None.

    None: no egress at all (an explicit deny-all), or only to the API server, which
    pods reach by the address in their environment. Weak: only to ipBlocks, which
    pods may reach by address alone. Strong: anything else.
    """
    rules = [rule for policy in policies for rule in policy.egress]
    if all(apiserver.only_target_of(rule) for rule in rules):
        return None
    if all(
        rule.peers is not None and all(peer.ip_block is not None for peer in rule.peers) for rule in rules
    ):
        return "weak"
    return "strong"


# -- DNS through the layered verdict (policy-kinds §6, §7.8, §8.10, §9) ----------------------------
#
# Where the world holds policies of other kinds its CNI enforces (AdminNetworkPolicy and its
# baseline, Calico tiers, Cilium's deny-first union), NetworkPolicy alone no longer decides
# whether a pod reaches the DNS pods: the engine's layered verdict, the one ``reach`` gives, does.
# A world of plain NetworkPolicy never gets here, so its findings stay those above.


def _synthetic(name: str, pod: PodView, like: Workload | NetworkPolicy) -> Workload:
    """A stand-in workload for a pod the repository does not define (the DNS pods, a policy's pods).

    It borrows the node of an object of the repository only so it is a well-formed object; its
    kind is not ``Pod``, so no owner reference of that node is ever read.
    """
    return Workload(
        kind="Deployment",
        namespace=pod.namespace,
        name=name,
        path=like.path,
        node=like.node,
        document_index=like.document_index,
        labels={},
        annotations={},
        pod_labels=dict(pod.labels),
        ports=tuple(pod.ports),
    )


class LayeredDns:
    """The egress verdict to the DNS pods for each subject pod, through every layer the CNI runs."""

    def __init__(
        self, engine: Engine, classes: dict[str, int], dns: tuple[int, ...], ports: Sequence[int]
    ) -> None:
        self.engine = engine
        self.classes = classes
        self.dns = dns
        self.ports = tuple(ports)
        #: Answers other rules derive from this engine, made once (egress_layers).
        self.memo: dict[str, list[AddressRange]] = {}
        self.shapes: list[AllowShape] | None = None

    def side(self, label: str, protocol: str = "UDP") -> SideVerdict | None:
        """The egress side of ``label``'s pods toward the DNS pods: one allowing, else the first denying."""
        cls = self.classes.get(label)
        if cls is None or not self.dns:
            return None
        engine = self.engine
        asked = NO_PORTS
        for port in self.ports:
            asked = asked | PortSet.single(protocol, port)
        denied: SideVerdict | None = None
        for target in self.dns:
            verdict = explain_side(
                engine,
                Direction.EGRESS,
                engine.classes[cls],
                label,
                engine.classes[target],
                "the cluster DNS pods",
                asked,
            )
            if verdict.allowed:
                return verdict
            if denied is None:
                denied = verdict
        return denied

    def egress_elsewhere(self, label: str) -> bool:
        """Whether the pods may open some egress connection to another pod: a reason to look names up."""
        cls = self.classes.get(label)
        if cls is None:
            return False
        engine = self.engine
        return any(
            engine.side_ports(Direction.EGRESS, cls, other.index, other)
            for other in engine.classes
            if other.index != cls and other.index not in self.dns and not other.host_network
        )


def layered_dns(ctx: RuleContext) -> LayeredDns | None:
    """The layered DNS verdicts of the world, or None where only NetworkPolicy decides egress."""
    inventory = ctx.inventory
    # Told without the engine, which a world of NetworkPolicies alone may never need to build.
    if not has_admin_layers(inventory) and not has_cni_layer(ctx.cluster.profile, inventory):
        return None
    return inventory.memo(("dns.layered", *view_key(ctx.config)), lambda: _build_layered(ctx))


def _build_layered(ctx: RuleContext) -> LayeredDns | None:
    inventory = ctx.inventory
    facts = ctx.cluster.facts
    like: Workload | NetworkPolicy | None = (
        inventory.workloads[0]
        if inventory.workloads
        else (inventory.policies[0] if inventory.policies else None)
    )
    if like is None:
        return None
    pods_known, _ = _dns_labels_known(inventory, facts)
    extra: list[Workload] = []
    dns_names: set[str] = set()
    if not pods_known:
        # Names no manifest can give (a NUL), so a stand-in is never taken for a workload.
        for n, pod in enumerate(dns_pods(inventory, facts)):
            extra.append(_synthetic(f"\x00dns{n}", pod, like))
            dns_names.add(extra[-1].name)
    workload_labels = {f"{w.ref}" for w in inventory.workloads if not w.host_network}
    stand_ins: dict[str, Workload] = {}
    for label, pod in subjects(inventory):
        if label not in workload_labels and label not in stand_ins:
            stand_ins[label] = _synthetic(f"\x00subject{len(stand_ins)}", pod, like)
    extra.extend(stand_ins.values())
    world = replace(inventory, workloads=[*inventory.workloads, *extra], derived={})
    engine = Engine(world, ctx.cluster.profile, facts)
    class_of = {id(w): cls.index for cls in engine.classes for w in cls.workloads}
    classes: dict[str, int] = {}
    for workload in inventory.workloads:
        if not workload.host_network:
            classes.setdefault(f"{workload.ref}", class_of[id(workload)])
    for label, workload in stand_ins.items():
        classes[label] = class_of[id(workload)]
    selector = LabelSelector(tuple(sorted(facts.dns.pod_labels.items())))
    dns = sorted(
        {
            cls.index
            for cls in engine.classes
            if not cls.host_network
            and cls.namespace == facts.dns.namespace
            and (
                any(w.name in dns_names for w in cls.workloads)
                or (pods_known and selector.matches(cls.labels))
            )
        }
    )
    return LayeredDns(engine, classes, tuple(dns), facts.dns.ports)


def other_kind_allows(side: SideVerdict) -> bool:
    """Whether a policy of another kind (not an isolating NetworkPolicy) allows what ``side`` allows."""
    if not side.allowed:
        return False
    if side.by_cni_layer:
        return True
    if not side.layered:
        return False
    from_network_policy = side.network_policy.ports if side.network_policy is not None else NO_PORTS
    return bool(side.ports - from_network_policy)


def other_kind_denies(side: SideVerdict) -> bool:
    """Whether a policy of another kind decided to deny what ``side`` denies."""
    if side.allowed:
        return False
    if side.by_cni_layer:
        return True
    return side.layered and any(step.action == "Deny" for step in (*side.admin_steps, *side.baseline_steps))


def deciding_place(side: SideVerdict) -> tuple[str, Span, str] | None:
    """Where the object of another kind that denied is (its rule's line), and how it decided."""
    for step in reversed(side.admin_steps):
        if step.action == "Deny":
            return step.path, Span.point(step.rule_line, step.column), "by this rule before NetworkPolicy"
    for step in reversed(side.baseline_steps):
        if step.action == "Deny":
            # The baseline decides only pods no NetworkPolicy isolates (policy-kinds §6).
            return step.path, Span.point(step.rule_line, step.column), "by this baseline rule"
    for layer_step in reversed(side.layer_steps):
        found = layer_step.related()
        if found is not None:
            return found[0], Span.point(found[1], found[2]), "by this policy of the CNI's own layer"
    return None


class EgressBlocksDns(Rule):
    id = "NP301"
    name = "egress-blocks-dns"
    summary = "Egress is isolated and no egress rule allows UDP 53 to the cluster DNS pods."
    level = Level.ERROR
    tags = ("egress", "dns")

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        inventory = ctx.inventory
        facts = ctx.cluster.facts
        dns = dns_pods(inventory, facts)
        addresses = address_context(facts, ctx.cluster.ipblock_matches_pods)
        ports = facts.dns.ports
        apiserver = ApiServer.of(ctx)
        blamed: dict[int, tuple[NetworkPolicy, list[str], set[str]]] = {}
        by_namespace: dict[str, list[NetworkPolicy]] = defaultdict(list)
        for policy in inventory.policies:
            by_namespace[policy.namespace].append(policy)
        # Where a DNS rule fails only on labels the platform sets, nplint cannot tell (a note).
        pods_known, namespace_known = _dns_labels_known(inventory, facts)
        unsure: dict[int, Peer] = {}
        sure: set[int] = set()
        layered = layered_dns(ctx)
        #: Denials by a policy of another kind: where it is → (its verdict, the pods' labels).
        denied_by: dict[tuple[str, Span, str], tuple[SideVerdict, list[str]]] = {}
        for label, pod in subjects(inventory):
            isolating = egress_policies_for(pod, by_namespace.get(pod.namespace, ()))
            side = layered.side(label) if layered is not None else None
            if not isolating or allows_dns(isolating, dns, "UDP", ports, addresses):
                if side is not None and layered is not None and other_kind_denies(side):
                    needed = dns_need(isolating, apiserver) if isolating else layered.egress_elsewhere(label)
                    place = deciding_place(side)
                    if needed and place is not None:
                        denial = denied_by.setdefault(place, (side, []))
                        if label not in denial[1]:
                            denial[1].append(label)
                continue
            if side is not None and other_kind_allows(side):
                # A tier before NetworkPolicy's, or an Admin rule, lets DNS through.
                continue
            need = dns_need(isolating, apiserver)
            if need is None:
                continue
            first = min(isolating, key=lambda p: (p.path, p.span, p.name))
            entry = blamed.setdefault(id(first), (first, [], set()))
            entry[2].add(need)
            if label not in entry[1]:
                entry[1].append(label)
            peer = dns_peer_on_platform_labels(
                isolating,
                dns,
                "UDP",
                ports,
                addresses,
                pods_known=pods_known,
                namespace_known=namespace_known,
            )
            if peer is None:
                sure.add(id(first))
            else:
                unsure.setdefault(id(first), peer)
        dns_ns = facts.dns.namespace
        dns_labels = ", ".join(f"{k}: {v}" for k, v in sorted(facts.dns.pod_labels.items()))
        fix = (
            "egress:\n"
            "- to:\n"
            f"  - namespaceSelector: {{matchLabels: {{kubernetes.io/metadata.name: {dns_ns}}}}}\n"
            f"    podSelector: {{matchLabels: {{{dns_labels}}}}}\n"
            "  ports:\n"
            + "\n".join(
                f"  - {{protocol: {proto}, port: {port}}}" for port in ports for proto in ("UDP", "TCP")
            )
        )
        # The DNS pods' port (5353 on OpenShift) and, where a platform set the facts, why.
        port_text = "/".join(map(str, ports))
        platform = ctx.cluster.platform.reason
        for policy, labels, needs in sorted(blamed.values(), key=lambda e: (e[0].path, e[0].span)):
            who = listed((capped(label, _WHO_LIMIT) for label in labels), 1)
            dns_port = f"UDP {port_text}"
            weak = "strong" not in needs
            if weak:
                message = (
                    f"{who}: egress only to addresses, none to DNS ({dns_port}): "
                    "if they look names up, allow it"
                )
            else:
                message = f"{who}: egress isolated, no rule to DNS ({dns_port}): name lookups fail"
            detail = (
                f"This policy isolates the egress of {listed_in_full(labels)}, and no egress rule of the "
                f"policies selecting them allows {dns_port} to the cluster DNS pods ({dns_labels} in "
                f"{namespace_text(dns_ns)}): name resolution will fail"
                + (
                    " if they look names up; their egress goes only to ipBlocks, which need no name"
                    if weak
                    else ""
                )
                + f". Add an egress rule to namespaceSelector {{kubernetes.io/metadata.name: {dns_ns}}} "
                f"with podSelector {{{dns_labels}}} on UDP and TCP port {port_text}."
                + (f" The cluster is taken for {platform}, whose DNS pods these are." if platform else "")
            )
            node = egress_type_node(policy)
            others = [
                Related(
                    p.path,
                    p.span,
                    f"{p.ref} also isolates egress",
                )
                for p in by_namespace[policy.namespace]
                if p is not policy and p.isolates(Direction.EGRESS)
            ][:3]
            span = node.key_span if node is not None else None
            if id(policy) not in sure and id(policy) in unsure:
                yield self._cannot_tell(policy, unsure[id(policy)], who, dns_labels, dns_ns, fix)
                continue
            fixes = _dns_rule_fix(self, policy, dns_ns, facts.dns.pod_labels, ports, weak=weak)
            found = self.finding(
                policy, node, message, span=span, related=others, fix=fix, detail=detail, fixes=fixes
            )
            if weak and self.effective_level is self.level:
                # Weak evidence of a need: a note, unless the configuration set the level.
                found = replace(found, level=Level.NOTE)
            yield found
        for (path, span, how), (side, labels) in sorted(denied_by.items(), key=lambda e: e[0]):
            yield self._denied_by_other_kind(path, span, how, side, labels, port_text, fix)

    def _denied_by_other_kind(
        self, path: str, span: Span, how: str, side: SideVerdict, labels: list[str], port_text: str, fix: str
    ) -> Finding:
        """DNS denied by a policy of another kind, whatever NetworkPolicy allows."""
        who = listed((capped(label, _WHO_LIMIT) for label in labels), 1)
        message = f"{who}: DNS (UDP {port_text}) denied {how}: name lookups fail"
        detail = (
            f"The egress of {listed_in_full(labels)} to the cluster DNS pods on UDP {port_text} is decided "
            f"through every policy layer the CNI runs: {capped(side.body(f'UDP {port_text}'), 600)}. "
            "Allow DNS in the layer that denies it (before the Deny), or narrow the Deny so it leaves "
            "the DNS pods out."
        )
        return self.finding(None, None, message, path=path, span=span, fix=fix, detail=detail)

    def _cannot_tell(
        self, policy: NetworkPolicy, peer: Peer, who: str, dns_labels: str, dns_ns: str, fix: str
    ) -> Finding:
        """A note: the DNS rule reaches the DNS pods only if the cluster sets the platform labels it names."""
        keys = _platform_keys(peer) or ["kubernetes.io/…"]
        # The headline names one label (the detail all of them), to stay one short line.
        named = ", ".join(f"`{shown(key, _KEY_LIMIT)}`" for key in keys)
        message = (
            f"DNS may fail for {who}: the peer needs label `{shown(keys[0], _KEY_LIMIT)}`, "
            "which only some platforms set"
        )
        detail = (
            f"nplint knows the cluster DNS pods as {dns_labels} in {namespace_text(dns_ns)}, and the "
            "namespace by its name. Labels under `kubernetes.io/` or `k8s.io/` are set by the platform, "
            "and differ between providers: the AKS reference deployments select kube-system and its "
            'CoreDNS pods by `kubernetes.io/cluster-service: "true"`, while kubeadm\'s CoreDNS pods carry '
            f"only `k8s-app: kube-dns`. Where the cluster does not set {named}, name resolution fails. "
            "Selecting by `kubernetes.io/metadata.name` and the DNS pods' `k8s-app` label works everywhere."
        )
        finding = self.finding(policy, peer.node, message, fix=fix, detail=detail)
        return replace(finding, level=Level.NOTE) if self.effective_level.rank > Level.NOTE.rank else finding


#: Characters of the pods' description in a headline (the detail names them whole).
_WHO_LIMIT = 32
#: Characters of a label key in the "cannot tell" note.
_KEY_LIMIT = 30


def _dns_rule_fix(
    rule: Rule,
    policy: NetworkPolicy,
    namespace: str,
    labels: Mapping[str, str],
    ports: Sequence[int],
    *,
    weak: bool,
) -> tuple[Fix, ...]:
    """The egress rule to the cluster DNS pods on UDP and TCP, added to the policy's egress rules.

    Safe for an egress lockdown (egress isolated, no egress rule at all): DNS is what such a
    policy leaves out by oversight. Unsafe when the policy already lists where its pods may
    go, or sends them only to addresses (which need no name): a person decides there.
    """
    spec = policy.spec
    where = yaml_path(spec) if spec is not None else None
    if where is None or spec is None or not labels or namespace.endswith("/"):
        return ()
    dns_rule = {
        "to": [
            {
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}},
                "podSelector": {"matchLabels": dict(sorted(labels.items()))},
            }
        ],
        "ports": [{"protocol": protocol, "port": port} for port in ports for protocol in ("UDP", "TCP")],
    }
    egress = spec.get("egress")
    if isinstance(egress, SeqNode):
        edit = Edit.make("append", [*where, "egress"], None, dns_rule)
        lockdown = len(egress) == 0
    elif egress is None or (isinstance(egress, ScalarNode) and egress.value is None):
        edit = Edit.make("set", where, "egress", [dns_rule], after="policyTypes")
        lockdown = True
    else:
        return ()
    description = f"add an egress rule to the DNS pods in namespace {namespace} on UDP and TCP"
    return rule.make_fix(policy, description, [edit], safe=lockdown and not weak)


RULES = (EgressBlocksDns,)
