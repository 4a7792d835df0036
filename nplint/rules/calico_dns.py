"""NP017: a Calico GlobalNetworkPolicy default deny that also isolates the cluster's DNS pods.

A GlobalNetworkPolicy with ``selector: all()`` (or none) and no ``namespaceSelector`` that
leaves kube-system out applies to the DNS pods too. When its tier ends in ``Deny`` and
nothing allows their ingress, every DNS query of every pod is dropped (policy-kinds §11.2
K14; Calico's own documentation shows this policy under "Don't try this!").

The rule only speaks when nothing in the repository could allow that ingress: no Calico
policy selecting the DNS pods has an ``Allow`` or ``Pass`` ingress rule, no NetworkPolicy of
the DNS namespace selects them with an ingress rule, and no Admin or Baseline policy exists
(Calico runs those in tiers before and after). What it leaves out is a miss, never a guess.
"""

from __future__ import annotations

from collections.abc import Iterator

from nplint.findings import Finding, Level
from nplint.model.calico import WELL_KNOWN_TIERS, Action, CalicoEndpoint, CalicoPolicy, TierAction
from nplint.model.calico_selector import endpoint_labels
from nplint.model.objects import Direction
from nplint.rules.base import Rule, RuleContext
from nplint.untrusted import shown

#: Engine profiles whose dataplane runs Calico's policy engine (Felix).
_RUNS_CALICO = frozenset(("calico", "canal"))
_OPENS = frozenset((Action.ALLOW, Action.PASS))
#: Characters of a name in the headline (the detail gives it whole).
_NAME_LIMIT = 30


class CalicoDenyIsolatesDNS(Rule):
    id = "NP017"
    name = "calico-deny-isolates-dns"
    summary = (
        "A Calico GlobalNetworkPolicy default deny also denies the DNS pods' ingress: DNS fails everywhere."
    )
    level = Level.ERROR
    tags = ("calico", "dns")

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        inventory = ctx.inventory
        if ctx.cluster.profile.name not in _RUNS_CALICO or not ctx.cluster.profile.enforces:
            return
        if not inventory.calico_policies or inventory.admin_policies:
            return
        dns = ctx.cluster.dns
        dns_labels = {**dns.platform_pod_labels, **dns.pod_labels}
        endpoint = CalicoEndpoint(
            labels=endpoint_labels(dns_labels, dns.namespace),
            namespace=dns.namespace,
            namespace_labels={**dns.platform_namespace_labels, **inventory.namespace_labels(dns.namespace)},
        )
        selecting = [p for p in inventory.calico_policies if p.selects(endpoint)]
        if any(rule.action in _OPENS for p in selecting for rule in p.ingress):
            return
        for kubernetes in inventory.policies:
            if (
                kubernetes.namespace == dns.namespace
                and kubernetes.pod_selector.matches(dns_labels)
                and kubernetes.rules(Direction.INGRESS)
            ):
                return
        tiers: dict[str, TierAction] = {name: action for name, (_, action) in WELL_KNOWN_TIERS.items()}
        for tier in inventory.calico_tiers:
            tiers.setdefault(tier.name, tier.default_action or TierAction.DENY)
        pods = ", ".join(f"{k}={v}" for k, v in sorted(dns.pod_labels.items()))
        for policy in sorted(selecting, key=lambda p: (p.path, p.span)):
            if not policy.is_global or Direction.INGRESS not in policy.types:
                continue
            if tiers.get(policy.tier) is not TierAction.DENY:
                continue  # a missing tier is refused; a Pass tier hands the pods on
            yield self._finding(policy, dns.namespace, pods)

    def _finding(self, policy: CalicoPolicy, namespace: str, pods: str) -> Finding:
        where = policy.selector.node or policy.node.get("kind")
        return self.finding(
            policy,
            where,
            f"{shown(policy.name, _NAME_LIMIT)} also denies the DNS pods' ingress: DNS fails for every pod; "
            f"leave {shown(namespace, _NAME_LIMIT)} out with `namespaceSelector` or allow DNS",
            detail=f"The GlobalNetworkPolicy {shown(policy.name)} selects the DNS pods (namespace "
            f"{shown(namespace)}, labels {shown(pods)}) for ingress, its tier {shown(policy.tier)} ends in "
            "Deny, and no policy of the repository allows their ingress, so every DNS query is dropped "
            "(policy-kinds §11.2 K14). Leave the system namespaces out, e.g. `namespaceSelector: "
            "kubernetes.io/metadata.name not in {'kube-system', 'calico-system', 'calico-apiserver', "
            "'tigera-operator'}`, or add an ingress rule that allows UDP and TCP port 53 to the DNS pods.",
        )


RULES = (CalicoDenyIsolatesDNS,)
