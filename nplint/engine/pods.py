"""Pod views of inventory objects, and the pods that stand in where a repository shows none."""

from __future__ import annotations

from nplint.config import ClusterFacts
from nplint.engine.matching import AddressContext, PodView
from nplint.model import Inventory, LabelSelector, NetworkPolicy, Operator, Workload
from nplint.model.inventory import parse_network
from nplint.model.objects import ContainerPort


def pod_view(workload: Workload, inventory: Inventory) -> PodView:
    return PodView(
        namespace=workload.namespace,
        labels=workload.pod_labels,
        namespace_labels=inventory.namespace_labels(workload.namespace),
        ports=workload.ports,
        host_network=workload.host_network,
        ips=workload.pod_ips,
    )


def example_labels(selector: LabelSelector) -> dict[str, str] | None:
    """Labels of a pod the selector matches, or None when none can be built.

    Used to stand in for the pods of a policy whose namespace has no workload
    in the repository (a repository of policies only).
    """
    labels = dict(selector.match_labels)
    for requirement in selector.expressions:
        if requirement.operator is Operator.IN:
            if requirement.key in labels:
                if labels[requirement.key] not in requirement.values:
                    return None
            elif requirement.values:
                labels[requirement.key] = sorted(requirement.values)[0]
            else:
                return None
        elif requirement.operator is Operator.EXISTS:
            labels.setdefault(requirement.key, "")
        elif requirement.operator is None:
            return None
    return labels if selector.matches(labels) else None


def hypothetical_pod(policy: NetworkPolicy, inventory: Inventory) -> PodView | None:
    labels = example_labels(policy.pod_selector)
    if labels is None:
        return None
    return PodView(
        namespace=policy.namespace,
        labels=labels,
        namespace_labels=inventory.namespace_labels(policy.namespace),
    )


#: The container ports of the kubeadm CoreDNS pods (semantics §3.1).
DNS_CONTAINER_PORTS = (
    ContainerPort("dns", 53, "UDP"),
    ContainerPort("dns-tcp", 53, "TCP"),
    ContainerPort("metrics", 9153, "TCP"),
)


def dns_pods(inventory: Inventory, facts: ClusterFacts) -> list[PodView]:
    """The cluster DNS pods: from the repository when it has them, else the configured identity."""
    selector = LabelSelector(tuple(sorted(facts.dns.pod_labels.items())))
    found = [
        pod_view(w, inventory)
        for w in inventory.workloads
        if w.namespace == facts.dns.namespace and not w.host_network and selector.matches(w.pod_labels)
    ]
    if found:
        return found
    ports = tuple(
        ContainerPort(name, number, protocol)
        for name, number, protocol in (
            [(c.name, c.port, c.protocol) for c in DNS_CONTAINER_PORTS if c.port != 53]
            + [
                # The DNS port carries CoreDNS's names whatever its number (5353 on OpenShift).
                (
                    ("dns" if protocol == "UDP" else "dns-tcp") if port == facts.dns.ports[0] else None,
                    port,
                    protocol,
                )
                for port in facts.dns.ports
                for protocol in ("UDP", "TCP")
            ]
        )
    )
    return [
        PodView(
            namespace=facts.dns.namespace,
            labels={**facts.dns.platform_pod_labels, **facts.dns.pod_labels},
            namespace_labels={
                **inventory.namespace_labels(facts.dns.namespace),
                **facts.dns.platform_namespace_labels,
            },
            ports=ports,
        )
    ]


def address_context(facts: ClusterFacts, ipblock_matches_pods: bool = True) -> AddressContext:
    networks = tuple(n for n in (parse_network(c) for c in facts.pod_cidrs) if n is not None)
    return AddressContext(pod_cidrs=networks, ipblock_matches_pods=ipblock_matches_pods)
