"""NP018: a Calico Deny that runs after the Kubernetes NetworkPolicies of the same pods.

Calico converts each Kubernetes NetworkPolicy into a policy of tier ``default`` with order
1000; a Calico policy of that tier without ``order`` sorts last, and one with an order above
1000 after them (policy-kinds §7.8, §11.2 K16; [CAL-CONV], [CAL-FELIX] PolKVLess). For a pod
a Kubernetes NetworkPolicy governs in that direction, what that policy allows is allowed
before the Deny is reached: the Deny never takes back what a NetworkPolicy allows.

Pods are the repository's workloads; a policy with a ``serviceAccountSelector`` is left
alone (the workloads do not say their service account's labels).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from nplint.findings import Finding, Level, Related
from nplint.model.calico import DEFAULT_TIER, Action, CalicoEndpoint, CalicoPolicy
from nplint.model.calico_selector import endpoint_labels
from nplint.model.objects import Direction, NetworkPolicy
from nplint.rules.base import Rule, RuleContext
from nplint.untrusted import shown

_RUNS_CALICO = frozenset(("calico", "canal"))
#: The order Calico gives a converted Kubernetes NetworkPolicy.
_KUBERNETES_ORDER = 1000.0
#: Characters of a name in the headline (the detail gives it whole).
_NAME_LIMIT = 30


class CalicoDenyAfterKubernetes(Rule):
    id = "NP018"
    name = "calico-deny-after-kubernetes"
    summary = "A Calico Deny without `order` (or above 1000) runs after the NetworkPolicies of its pods."
    level = Level.WARNING
    tags = ("calico", "order")

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        inventory = ctx.inventory
        profile = ctx.cluster.profile
        if profile.name not in _RUNS_CALICO or not profile.enforces or not inventory.policies:
            return
        for policy in sorted(inventory.calico_policies, key=lambda p: (p.path, p.span)):
            if policy.tier != DEFAULT_TIER or policy.service_account_selector is not None:
                continue
            order = math.inf if policy.order is None else policy.order
            if order <= _KUBERNETES_ORDER:
                continue
            for direction in sorted(policy.types, key=lambda d: d.value):
                denies = [r for r in policy.rules(direction) if r.action is Action.DENY]
                if not denies:
                    continue
                earlier = _kubernetes_policies(ctx, policy, direction)
                if not earlier:
                    continue
                first = earlier[0]
                when = "has no `order`" if policy.order is None else f"has order {policy.order:g}"
                for rule in denies:
                    action = rule.node.get("action")
                    yield self.finding(
                        policy,
                        action if action is not None else rule.node,
                        f"this Deny never blocks what NetworkPolicy {shown(first.name, _NAME_LIMIT)} allows: "
                        f"{shown(policy.name, _NAME_LIMIT)} {when} and runs after it; set `order` below 1000",
                        related=[Related(first.path, first.span, f"{first.ref} runs first (order 1000)")],
                        detail=f"Calico runs each Kubernetes NetworkPolicy as a policy of tier `default` "
                        f"with order 1000. {shown(policy.name)} {when}, so for the pods both select, "
                        f"{direction.lower} that a NetworkPolicy allows is allowed before this rule is "
                        "reached (policy-kinds §11.2 K16). To deny it whatever the NetworkPolicies "
                        "allow, give the policy an `order` below 1000 (or move it to a tier before "
                        "`default`).",
                    )


def _kubernetes_policies(ctx: RuleContext, policy: CalicoPolicy, direction: Direction) -> list[NetworkPolicy]:
    """The NetworkPolicies with a rule of ``direction`` that select a workload ``policy`` selects too."""
    inventory = ctx.inventory
    found: dict[int, NetworkPolicy] = {}
    for workload in inventory.workloads:
        if workload.host_network:
            continue
        namespace = workload.namespace
        endpoint = CalicoEndpoint(
            labels=endpoint_labels(workload.pod_labels, namespace),
            namespace=namespace,
            namespace_labels=inventory.namespace_labels(namespace),
        )
        if not policy.selects(endpoint):
            continue
        for kubernetes in inventory.policies:
            if (
                kubernetes.namespace == namespace
                and kubernetes.isolates(direction)
                and kubernetes.rules(direction)
                and kubernetes.pod_selector.matches(workload.pod_labels)
            ):
                found.setdefault(id(kubernetes), kubernetes)
    return sorted(found.values(), key=lambda p: (p.path, p.span))


RULES = (CalicoDenyAfterKubernetes,)
