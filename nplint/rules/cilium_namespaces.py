"""NP016: namespace-label peers of a Cilium policy that do not reach other namespaces.

In a CiliumNetworkPolicy, a ``fromEndpoints``/``toEndpoints`` selector without the
``io.kubernetes.pod.namespace`` key gets the policy's own namespace added ([CIL-UTILS]
``getEndpointSelector``; policy-kinds §8.4, K31): selecting by
``io.cilium.k8s.namespace.labels.<key>`` there never reaches another namespace (cilium/cilium
PR #26134, #18865, #27930). And ``io.kubernetes.pod.namespace.labels.<key>`` is no label
Cilium sets at all: such a selector matches nothing, in either kind (cilium/cilium#30149).
"""

from __future__ import annotations

from collections.abc import Iterator

from nplint.findings import Finding, Level
from nplint.model.cilium import NAMESPACE_LABELS_PREFIX, EndpointSelector, label_name
from nplint.rules.base import Rule, RuleContext
from nplint.untrusted import shown

LOOK_ALIKE_PREFIX = "io.kubernetes.pod.namespace.labels."


_DETAIL = (
    "Cilium selects peers by identity labels: a pod's own labels, `io.kubernetes.pod.namespace`, "
    "and `io.cilium.k8s.namespace.labels.<key>` for each label of its namespace. A namespaced policy "
    "adds its own namespace to every peer selector that does not name one (policy-kinds §8.3, §8.4, K31)."
)


class CiliumNamespaceLabelPeers(Rule):
    id = "NP016"
    name = "cilium-namespace-label-peer"
    summary = (
        "A Cilium peer selects by namespace labels that keep it in its own namespace, or by no real label."
    )
    level = Level.WARNING
    tags = ("cilium", "selectors")

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        for policy in ctx.inventory.cilium_policies:
            for spec in policy.specs:
                for rule in (*spec.ingress, *spec.ingress_deny, *spec.egress, *spec.egress_deny):
                    for selector in (*(rule.endpoints or ()), *(rule.requires or ())):
                        message = _problem(selector, None if policy.is_clusterwide else policy.home_namespace)
                        if message is not None:
                            yield self.finding(
                                policy,
                                selector.node,
                                message,
                                detail=_DETAIL,
                            )


def _problem(selector: EndpointSelector, namespace: str | None) -> str | None:
    keys = sorted(selector.written.keys)
    for key in keys:
        name = label_name(key)
        if name.startswith(LOOK_ALIKE_PREFIX):
            return f"`{shown(key, 64)}` is no label Cilium sets: this peer matches nothing"
    if namespace is None or selector.names_namespace:
        return None
    for key in keys:
        if label_name(key).startswith(NAMESPACE_LABELS_PREFIX):
            return (
                f"`{shown(key, 48)}` never leaves `{shown(namespace, 30)}`: a namespaced policy adds its "
                "namespace to this peer"
            )
    return None


RULES = (CiliumNamespaceLabelPeers,)
