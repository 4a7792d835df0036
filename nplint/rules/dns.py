"""NP3xx: egress and DNS — an egress lockdown must still let pods resolve names."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence

from nplint.engine.matching import AddressContext, PodView, rule_peers_match_pod, rule_ports_match
from nplint.engine.pods import address_context, dns_pods, hypothetical_pod, pod_view
from nplint.findings import Finding, Level, Related, listed, listed_in_full, namespace_text
from nplint.loading.nodes import Node, ScalarNode
from nplint.model import Direction, Inventory, NetworkPolicy
from nplint.rules.base import Rule, RuleContext
from nplint.untrusted import shown


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


def subjects(inventory: Inventory) -> list[tuple[str, PodView]]:
    """The pods to check: workloads, or stand-ins for policies of namespaces with none in the repository."""
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
        blamed: dict[int, tuple[NetworkPolicy, list[str]]] = {}
        by_namespace: dict[str, list[NetworkPolicy]] = defaultdict(list)
        for policy in inventory.policies:
            by_namespace[policy.namespace].append(policy)
        for label, pod in subjects(inventory):
            isolating = egress_policies_for(pod, by_namespace.get(pod.namespace, ()))
            if not isolating or allows_dns(isolating, dns, "UDP", ports, addresses):
                continue
            first = min(isolating, key=lambda p: (p.path, p.span, p.name))
            entry = blamed.setdefault(id(first), (first, []))
            if label not in entry[1]:
                entry[1].append(label)
        dns_ns = facts.dns.namespace
        dns_labels = ", ".join(f"{k}: {v}" for k, v in sorted(facts.dns.pod_labels.items()))
        fix = (
            "egress:\n"
            "- to:\n"
            f"  - namespaceSelector: {{matchLabels: {{kubernetes.io/metadata.name: {dns_ns}}}}}\n"
            f"    podSelector: {{matchLabels: {{{dns_labels}}}}}\n"
            "  ports:\n"
            "  - {protocol: UDP, port: 53}\n"
            "  - {protocol: TCP, port: 53}"
        )
        for policy, labels in sorted(blamed.values(), key=lambda e: (e[0].path, e[0].span)):
            numbers = "/".join(map(str, ports))
            subject = listed((shown(label) for label in labels), 1)
            message = f"DNS is blocked for {subject}: allow UDP and TCP {numbers} to the cluster DNS pods"
            detail = (
                f"This policy isolates the egress of {listed_in_full(labels)}, and no egress rule of the "
                f"policies selecting them allows UDP {numbers} to the cluster DNS pods ({dns_labels} in "
                f"{namespace_text(dns_ns)}): name resolution will fail. Add an egress rule to "
                f"namespaceSelector {{kubernetes.io/metadata.name: {dns_ns}}} with podSelector "
                f"{{{dns_labels}}} on UDP and TCP port 53."
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
            yield self.finding(policy, node, message, span=span, related=others, fix=fix, detail=detail)


RULES = (EgressBlocksDns,)
