"""NP015: a Cilium deny section without an allow section, which also revokes everything else.

A ``ingressDeny``/``egressDeny`` section switches its direction to default deny for the
pods the rule selects, like an allow section does ([CIL-RULES] ``Sanitize``:
``enableDefaultDeny`` defaults to true when ``len(ingress) > 0 || len(ingressDeny) > 0``;
policy-kinds §8.9, K30; cilium/cilium#20914). Written to block one peer, it blocks every
peer no other policy allows. ``enableDefaultDeny: {<direction>: false}`` makes it deny
only what it names.
"""

from __future__ import annotations

from collections.abc import Iterator

from nplint.findings import Finding, Level
from nplint.model.objects import Direction
from nplint.rules.base import Rule, RuleContext
from nplint.untrusted import shown


class CiliumDenyOnlyRevokesAll(Rule):
    id = "NP015"
    name = "cilium-deny-only-revokes-all"
    summary = "A Cilium deny section without allows also puts its pods into default deny for that direction."
    level = Level.WARNING
    tags = ("cilium", "isolation")

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        for policy in ctx.inventory.cilium_policies:
            for spec in policy.specs:
                if spec.endpoint_selector is None or spec.node_selector is not None:
                    continue  # no pod subject (NP012), or a host policy
                for direction in Direction:
                    if (
                        not spec.denies(direction)
                        or spec.allows(direction)
                        or not spec.default_deny(direction)
                    ):
                        continue
                    key = "ingressDeny" if direction is Direction.INGRESS else "egressDeny"
                    allow = direction.lower
                    section = spec.node.get(key)
                    yield self.finding(
                        policy,
                        section,
                        f"{shown(policy.name)}: `{key}` without `{allow}` drops all other {allow} of its "
                        f"pods too; add `enableDefaultDeny: {{{allow}: false}}`",
                        span=section.key_span if section is not None else None,
                        detail=f"Cilium puts a pod's {allow} into default deny when any rule selecting it "
                        f"has a non-empty `{allow}` or `{key}` section, unless the rule sets "
                        f"`enableDefaultDeny.{allow}: false` (policy-kinds §8.9, K30). Traffic that no other "
                        "policy allows is then dropped, not only the peers the deny names. "
                        "`enableDefaultDeny` needs Cilium 1.16 or later.",
                    )


RULES = (CiliumDenyOnlyRevokesAll,)
