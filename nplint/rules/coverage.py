"""NP103, NP104, NP206: which pods a policy and its peers actually reach in the repository."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence

from nplint.cluster.platform_owned import platform_namespace
from nplint.findings import Finding, Level, Related, listed, listed_in_full, namespace_text
from nplint.loading.nodes import MapNode, Node
from nplint.model import Direction, Inventory, LabelSelector, NetworkPolicy, Operator, Peer, Workload
from nplint.model.admin import AdminPolicy
from nplint.model.calico import CalicoNetworkSet, CalicoPolicy, CalicoTier
from nplint.model.cilium import CiliumPolicy
from nplint.model.inventory import NAMESPACE_NAME_LABEL
from nplint.model.runtime_pods import RuntimePods, custom_resource_namespace
from nplint.rules.base import Rule, RuleContext
from nplint.untrusted import shown

#: Kinds that never create pods themselves (besides the workloads the model reads).
POD_FREE_KINDS = frozenset(
    (
        "Namespace",
        "ConfigMap",
        "Secret",
        "Service",
        "ServiceAccount",
        "Role",
        "RoleBinding",
        "NetworkPolicy",
        "PodDisruptionBudget",
        "Ingress",
        "HorizontalPodAutoscaler",
        "PersistentVolumeClaim",
        "LimitRange",
        "ResourceQuota",
        "Endpoints",
        "EndpointSlice",
        "Lease",
        "PodTemplate",
        "ServiceMonitor",
        "PodMonitor",
        "PrometheusRule",
        "Probe",
        "VerticalPodAutoscaler",
        "Certificate",
        "Issuer",
        "HTTPRoute",
        "GRPCRoute",
        "Gateway",
        "VirtualService",
        "DestinationRule",
        "PeerAuthentication",
        "AuthorizationPolicy",
        "Route",
        "Application",
    )
)


#: The other policy kinds nplint models (and a Calico Tier or network set): custom resources
#: that run no pod, so they never make a namespace's pods unknown.
POLICY_OBJECTS = (AdminPolicy, CalicoPolicy, CalicoTier, CalicoNetworkSet, CiliumPolicy)


def workloads_by_namespace(inventory: Inventory) -> dict[str, list[Workload]]:
    """The repository's workloads per namespace, for namespaces whose pods they are all of.

    A namespace holding a custom resource that may run pods (an operator's
    ``Prometheus``, ``Kafka``, ``Alertmanager`` …) has pods the repository does
    not show, so it is left out: nothing can be said about what its selectors miss.
    So is a namespace the platform owns (kube-system always holds the DNS pods and
    add-ons no repository ships; :func:`nplint.cluster.platform_owned.platform_namespace`).
    """
    grouped: dict[str, list[Workload]] = defaultdict(list)
    for workload in inventory.workloads:
        grouped[workload.namespace].append(workload)
    operated = {
        obj.namespace
        for obj in inventory.objects
        if obj.namespace
        and not isinstance(obj, Workload)
        and obj.kind not in POD_FREE_KINDS
        and not isinstance(obj, POLICY_OBJECTS)
    }
    # A custom resource that names no namespace lands in its unit's, like the workloads beside it.
    operated |= {
        found
        for obj in inventory.objects
        if not obj.namespace
        and obj.kind not in POD_FREE_KINDS
        and not isinstance(obj, POLICY_OBJECTS)
        and (found := custom_resource_namespace(obj, inventory)) is not None
    }
    platform = {n for n in grouped if platform_namespace(n, inventory.namespace_defined(n))}
    return {n: found for n, found in grouped.items() if n not in operated and n not in platform}


def top_directory(path: str) -> str:
    head, _, rest = path.partition("/")
    return head if rest else ""


def same_area(path: str, other: str) -> bool:
    """Whether two files (paths from the root) belong to one part of the tree.

    A file at the top of the tree belongs to no one part, so it shares every
    part: whether the manifests sit in the root or one folder below it must not
    change what is judged together (the root is where the tree starts, not
    where nplint was started).
    """
    top = top_directory(path)
    other_top = top_directory(other)
    return top == other_top or not top or not other_top


def shares_area(path: str, workloads: Sequence[Workload]) -> bool:
    """Whether some workload lives in the same part of the tree as the policy.

    A repository that keeps one application's workloads in one part of the tree
    and another team's policies for the same namespace in another (kubeflow's
    ``applications/`` and ``common/``) shows only part of that namespace to each;
    a policy is judged only against workloads from its own part.
    """
    return any(same_area(path, w.path) for w in workloads)


def _near_misses(selector: LabelSelector, workloads: Sequence[Workload]) -> str:
    """What the workloads carry under the selector's keys: the likely typo."""
    seen: dict[str, set[str]] = defaultdict(set)
    for workload in workloads:
        for key in selector.keys:
            if key in workload.pod_labels:
                seen[key].add(workload.pod_labels[key])
    if not seen:
        keys = sorted({k for w in workloads for k in w.pod_labels})[:6]
        return f"its pods carry none of the selector's keys (their keys: {', '.join(keys) or 'none'})"
    parts = [
        f"{shown(key)} in ({', '.join(shown(v) for v in sorted(values)[:5])})"
        for key, values in sorted(seen.items())
    ]
    return "its pods have " + "; ".join(parts)


def cluster_dns_pods(ctx: RuleContext, namespace: str, selector: LabelSelector) -> bool:
    """Whether ``selector`` in ``namespace`` picks the cluster's DNS pods, which the cluster runs.

    A repository that deploys something into ``kube-system`` (a CNI's UI, say) shows
    that namespace, but not the DNS pods every cluster has there.
    """
    dns = ctx.cluster.facts.dns
    return namespace == dns.namespace and selector.matches(dns.pod_labels)


class UnprotectedWorkload(Rule):
    id = "NP103"
    name = "unprotected-workload"
    summary = "A workload that no policy isolates in a direction (opt-in)."
    level = Level.WARNING
    tags = ("isolation",)
    default_enabled = False

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        policies: dict[str, list[NetworkPolicy]] = defaultdict(list)
        for policy in ctx.inventory.policies:
            policies[policy.namespace].append(policy)
        for workload in ctx.inventory.workloads:
            if workload.host_network:
                continue
            for direction in Direction:
                if any(
                    p.isolates(direction) and p.pod_selector.matches(workload.pod_labels)
                    for p in policies.get(workload.namespace, ())
                ):
                    continue
                consequence = (
                    "accept any connection" if direction is Direction.INGRESS else "may connect anywhere"
                )
                yield self.finding(
                    workload,
                    None,
                    f"no policy selects {workload} for {direction.lower}: "
                    "add one, or a namespace default-deny",
                    detail=(
                        f"Pods no policy selects for {direction.lower} {consequence}. Add a policy whose "
                        f"podSelector matches their labels and lists {direction.value} in policyTypes, "
                        "or a namespace default-deny."
                    ),
                )


class PolicySelectsNothing(Rule):
    id = "NP104"
    name = "policy-selects-nothing"
    summary = (
        "`spec.podSelector` matches no workload of its namespace, whose workloads are in the repository."
    )
    level = Level.WARNING
    about_form = True
    tags = ("selectors",)

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        inventory = ctx.inventory
        workloads = workloads_by_namespace(inventory)
        unseen = RuntimePods.of(inventory)
        for policy in inventory.policies:
            here = workloads.get(policy.namespace)
            # In a namespace the platform owns, the repository's pods are some of many: a selector
            # may be meant for the platform's, but what it matches of the repository's is known.
            partial = here is None and platform_namespace(
                policy.namespace, inventory.namespace_defined(policy.namespace)
            )
            if partial:
                here = inventory.workloads_in(policy.namespace)
            if not here or not shares_area(policy.path, here):
                continue  # the namespace's workloads are not in the repository
            matched = [w for w in here if policy.pod_selector.matches(w.pod_labels)]
            where: Node | None = policy.pod_selector_node
            span = where.key_span if where is not None else None
            if not matched and partial:
                continue
            if not matched and (
                unseen.reason(policy.namespace, policy.pod_selector, here) is not None
                or cluster_dns_pods(ctx, policy.namespace, policy.pod_selector)
            ):
                continue  # pods an operator, a controller or the cluster makes at run time
            if not matched:
                yield self.finding(
                    policy,
                    where,
                    f"spec.podSelector {_selector(policy.pod_selector)} matches no workload of its "
                    "namespace: fix it to match their template labels",
                    span=span,
                    detail=(
                        f"The selector matches none of the workloads of {namespace_text(policy.namespace)} "
                        f"({_near_misses(policy.pod_selector, here)}), so this policy protects and allows "
                        "nothing. Fix the selector to match the pods' template labels."
                    ),
                )
            elif all(w.host_network for w in matched):
                yield self.finding(
                    policy,
                    where,
                    f"podSelector matches only host-network pods ({listed(shown(w.name) for w in matched)}), "
                    "which policies do not isolate: use a host firewall",
                    span=span,
                    detail=(
                        f"spec.podSelector {policy.pod_selector} matches only host-network pods "
                        f"({listed_in_full(f'{w.kind} {shown(w.name)}' for w in matched)}), which "
                        "NetworkPolicies do not isolate; protect them with host firewall rules or a CNI "
                        "host policy instead."
                    ),
                    related=[
                        Related(
                            w.path,
                            w.span,
                            f"{w.ref}",
                        )
                        for w in matched[:3]
                    ],
                )
        from nplint.rules.kind_hygiene import kinds_selecting_nothing

        yield from kinds_selecting_nothing(self, ctx)


def pinned_names(selector: LabelSelector) -> set[str] | None:
    """The namespace names a selector is limited to by ``kubernetes.io/metadata.name``, if it is."""
    names: set[str] | None = None
    for key, value in selector.match_labels:
        if key == NAMESPACE_NAME_LABEL:
            names = {value} if names is None else names & {value}
    for requirement in selector.expressions:
        if requirement.key == NAMESPACE_NAME_LABEL and requirement.operator is Operator.IN:
            names = set(requirement.values) if names is None else names & requirement.values
    return names


def peer_namespaces(peer: Peer, policy: NetworkPolicy, inventory: Inventory) -> list[str] | None:
    """The namespaces a selector peer reaches, when they are known by name; None otherwise.

    A label selector may match namespaces the repository does not show; only one that
    names its namespaces is known to reach nothing else.
    """
    if peer.namespace_selector is None:
        return [policy.namespace]
    pinned = pinned_names(peer.namespace_selector)
    if pinned is None:
        return None
    selector = peer.namespace_selector
    return sorted(n for n in pinned if selector.matches(inventory.namespace_labels(n)))


class PeerSelectsNothing(Rule):
    id = "NP206"
    name = "peer-selects-nothing"
    summary = "A peer matches no pod, where the namespaces it can reach are in the repository."
    level = Level.WARNING
    tags = ("selectors",)

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        inventory = ctx.inventory
        workloads = workloads_by_namespace(inventory)
        for policy in inventory.policies:
            for direction in Direction:
                for rule in policy.rules(direction):
                    for peer in rule.peers or ():
                        finding = self._check_peer(ctx, policy, direction, peer, workloads)
                        if finding is not None:
                            yield finding
        from nplint.rules.kind_hygiene import kind_peers_selecting_nothing

        yield from kind_peers_selecting_nothing(self, ctx)

    def _check_peer(
        self,
        ctx: RuleContext,
        policy: NetworkPolicy,
        direction: Direction,
        peer: Peer,
        workloads: dict[str, list[Workload]],
    ) -> Finding | None:
        inventory = ctx.inventory
        if not peer.is_selector_peer or peer.pod_selector is None or peer.pod_selector.is_empty:
            return None
        namespaces = peer_namespaces(peer, policy, inventory)
        # Only where every namespace the peer reaches has its workloads in the repository.
        if not namespaces or any(
            not shares_area(policy.path, workloads.get(name, ())) for name in namespaces
        ):
            return None
        candidates = [w for name in namespaces for w in workloads[name] if not w.host_network]
        if any(peer.pod_selector.matches(w.pod_labels) for w in candidates):
            return None
        # A peer that matches host-network pods is NP209's: it names the pods and why they never match.
        from nplint.rules.hostnetwork import matches_host_network_pods

        if matches_host_network_pods(peer.pod_selector, namespaces, workloads):
            return None
        unseen = RuntimePods.of(inventory)
        if any(
            unseen.reason(name, peer.pod_selector, workloads[name]) is not None
            or cluster_dns_pods(ctx, name, peer.pod_selector)
            for name in namespaces
        ):
            return None  # pods an operator, a controller or the cluster makes at run time
        where = (
            f"{namespace_text(namespaces[0])}"
            if len(namespaces) == 1
            else f"namespaces {listed(shown(n) for n in namespaces)}"
        )
        node = peer.node.get("podSelector") if isinstance(peer.node, MapNode) else None
        span = node.key_span if node is not None else None
        return self.finding(
            policy,
            node if node is not None else peer.node,
            f"this {direction.peers_key} peer's podSelector {_selector(peer.pod_selector)} matches no pod "
            f"of {where}: fix its labels",
            span=span,
            detail=(
                f"The selector matches no pod there ({_near_misses(peer.pod_selector, candidates)}), so "
                f"the rule {'admits' if direction is Direction.INGRESS else 'reaches'} nothing. Fix the "
                "selector to match the pods' template labels."
            ),
        )


def _selector(selector: object) -> str:
    """A selector as a headline quotes it: cut short (the detail and the file show it whole)."""
    return shown(str(selector), SELECTOR_IN_HEADLINE)


#: Characters of a selector quoted in a headline.
SELECTOR_IN_HEADLINE = 36


RULES = (UnprotectedWorkload, PolicySelectsNothing, PeerSelectsNothing)
