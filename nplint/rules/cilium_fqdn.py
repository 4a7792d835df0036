"""NP014: a Cilium ``toFQDNs`` rule whose names no DNS rule lets the DNS proxy see.

``toFQDNs`` allows the addresses Cilium's DNS proxy has seen in answers to the pod's
queries. The proxy sees a pod's DNS traffic only when an egress rule that selects the pod
carries ``toPorts[].rules.dns`` for the DNS port, and it answers only names that rule's
patterns allow (policy-kinds §8.7, K27; cilium/cilium#11767, #13144). Without such a
rule, ``toFQDNs`` never allows anything. The candidates here are the DNS rules of every
Cilium policy that can select the same pods: the namespaced ones of the policy's
namespace and every clusterwide one.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from nplint.findings import Finding, Level
from nplint.loading.nodes import MapNode, ScalarNode
from nplint.loading.placeholders import placeholder_node
from nplint.model.cilium import CiliumPolicy, FQDNSelector
from nplint.model.inventory import WORKLOAD_TEMPLATE_PATHS
from nplint.rules.base import Rule, RuleContext
from nplint.untrusted import shown

#: One DNS label's characters, as Cilium's ``matchpattern`` package allows ``*`` to stand for.
_LABEL_CHARS = "[-a-z0-9_]"


def pattern_regex(pattern: str) -> re.Pattern[str]:
    """A Cilium DNS ``matchPattern`` as a regular expression over a lower-case name without final dot.

    ``*`` alone matches every name; elsewhere ``*`` stands for characters of one label;
    a leading ``**.`` for one or more whole labels ([CIL-L3] "DNS based").
    """
    text = pattern.strip().lower().rstrip(".")
    if text == "*":
        return re.compile(r".*")
    prefix = ""
    if text.startswith("**."):
        prefix, text = rf"(?:{_LABEL_CHARS}+\.)+", text[3:]
    body = "".join(f"{_LABEL_CHARS}*" if char == "*" else re.escape(char) for char in text)
    return re.compile(prefix + body)


def _normal(name: str) -> str:
    return name.strip().lower().rstrip(".")


def dns_matchers(policy: CiliumPolicy) -> list[re.Pattern[str]]:
    """What the DNS rules (``toPorts[].rules.dns``) of a policy's egress rules let through."""
    matchers: list[re.Pattern[str]] = []
    for spec in policy.specs:
        for rule in spec.egress:
            for port_rule in rule.to_ports or ():
                rules = port_rule.node.get_map("rules") if port_rule.node is not None else None
                for entry in (rules.get_seq("dns") or ()) if rules is not None else ():
                    if not isinstance(entry, MapNode):
                        continue
                    name = entry.get_str("matchName")
                    pattern = entry.get_str("matchPattern")
                    if name:
                        matchers.append(re.compile(re.escape(_normal(name))))
                    if pattern:
                        matchers.append(pattern_regex(pattern))
                    if not name and not pattern:
                        # Read as letting every query through: never a finding on a doubtful entry.
                        matchers.append(re.compile(r".*"))
    return matchers


def _allowed(selector: FQDNSelector, matchers: list[re.Pattern[str]]) -> bool:
    if selector.match_name:
        name = _normal(selector.match_name)
    elif selector.match_pattern:
        # A pattern against a pattern: one name the pattern stands for must pass.
        name = _normal(selector.match_pattern).replace("**.", "x.").replace("*", "x")
    else:
        return True
    return any(matcher.fullmatch(name) for matcher in matchers)


_DETAIL = (
    "Cilium allows a toFQDNs name only at the addresses its DNS proxy saw in answers to the pod's "
    "own queries. The proxy sees them only through an egress rule with `toPorts: [{ports: [{port: "
    "'53', protocol: ANY}], rules: {dns: [{matchPattern: '*'}]}}]` toward the cluster DNS "
    "(policy-kinds §8.7, K27)."
)


class CiliumFqdnWithoutDnsRule(Rule):
    id = "NP014"
    name = "cilium-fqdn-without-dns-rule"
    summary = "A Cilium `toFQDNs` name that no DNS rule of a policy for the same pods lets the DNS proxy see."
    level = Level.WARNING
    tags = ("cilium", "dns", "egress")

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        policies = ctx.inventory.cilium_policies
        if not policies or _dns_visibility_annotated(ctx):
            return
        clusterwide: list[re.Pattern[str]] = []
        by_namespace: dict[str, list[re.Pattern[str]]] = {}
        for policy in policies:
            found = dns_matchers(policy)
            if policy.is_clusterwide:
                clusterwide.extend(found)
            else:
                by_namespace.setdefault(policy.home_namespace, []).extend(found)
        everywhere = clusterwide + [m for found in by_namespace.values() for m in found]
        for policy in policies:
            # A clusterwide policy's pods may be in any namespace: any DNS rule may be theirs.
            candidates = (
                everywhere
                if policy.is_clusterwide
                else clusterwide + by_namespace.get(policy.home_namespace, [])
            )
            for spec in policy.specs:
                for rule in spec.egress:
                    for selector in rule.fqdns or ():
                        node = selector.node
                        if (
                            not isinstance(node, MapNode)
                            or _placeholder(node)
                            or _allowed(selector, candidates)
                        ):
                            continue
                        written = shown(selector.match_name or selector.match_pattern or "", 60)
                        reason = (
                            "no policy for these pods has a DNS rule"
                            if not candidates
                            else "no DNS rule for these pods allows it"
                        )
                        yield self.finding(
                            policy,
                            node,
                            f"`toFQDNs` `{written}` never allows anything: {reason}, "
                            "so the DNS proxy never learns its IPs",
                            detail=_DETAIL,
                        )


#: Cilium's (older) per-pod proxy visibility annotation: with DNS in it, the proxy sees the
#: pod's queries without a DNS rule, and toFQDNs learns from them.
VISIBILITY_ANNOTATION = "policy.cilium.io/proxy-visibility"


def _dns_visibility_annotated(ctx: RuleContext) -> bool:
    for workload in ctx.inventory.workloads:
        template: MapNode | None = workload.node
        for key in WORKLOAD_TEMPLATE_PATHS.get(workload.kind, ()):
            template = template.get_map(key) if template is not None else None
        metadata = template.get_map("metadata") if template is not None else None
        annotations = metadata.get_map("annotations") if metadata is not None else None
        value = annotations.get_str(VISIBILITY_ANNOTATION) if annotations is not None else None
        if value is not None and "DNS" in value.upper():
            return True
    return False


def _placeholder(node: MapNode) -> bool:
    return any(placeholder_node(node.get(key)) for key in ("matchName", "matchPattern")) or not any(
        isinstance(node.get(key), ScalarNode) for key in ("matchName", "matchPattern")
    )


RULES = (CiliumFqdnWithoutDnsRule,)
