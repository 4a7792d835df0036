"""Registers one rule through nplint's public hook, as any third-party plugin would."""

from __future__ import annotations

from collections.abc import Iterator

from nplint.findings import Finding, Level
from nplint.plugins import hookimpl
from nplint.rules.base import Rule, RuleContext, RuleRegistry


class PolicyHasTeamLabel(Rule):
    id = "NP990"
    name = "policy-team-label"
    summary = "Every NetworkPolicy carries a `team` label naming its owner."
    level = Level.WARNING
    tags = ("organisation",)

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        for policy in ctx.inventory.policies:
            if "team" not in policy.labels:
                yield self.finding(
                    policy, None, "this policy has no `team` label; add `metadata.labels.team: <owner>`"
                )


@hookimpl
def nplint_register_rules(registry: RuleRegistry) -> None:
    registry.add(PolicyHasTeamLabel)
