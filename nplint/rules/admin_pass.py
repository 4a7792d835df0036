"""NP709: an Admin-tier ``Pass`` with nothing beneath it, which then behaves as an allow.

``Pass`` hands a connection to NetworkPolicy and then to the Baseline layer; when
no NetworkPolicy isolates the pod in that direction and no Baseline rule applies
to it, nothing decides and the connection is allowed — and every lower-priority
Admin rule (a Deny too) is skipped on the way (policy-kinds §3.5, §6, pitfall K03).
The rule reads the engine's layers, so only what the CNI enforces counts, and only
the repository's pods are judged.
"""

from __future__ import annotations

from collections.abc import Iterator

from nplint.engine.engine import Engine, engine_for, has_admin_layers
from nplint.engine.layers import AdminLayers
from nplint.findings import Finding, Level, listed
from nplint.loading.nodes import MapNode
from nplint.model import Direction
from nplint.model.admin import V1ALPHA2, Action, AdminPolicy, AdminRule, Tier
from nplint.rules.base import Rule, RuleContext
from nplint.untrusted import shown


class PassWithNothingBeneath(Rule):
    id = "NP709"
    name = "pass-with-nothing-beneath"
    summary = (
        "An AdminNetworkPolicy or Admin-tier ClusterNetworkPolicy `Pass` reaches pods that no "
        "NetworkPolicy and no Baseline rule decide: it allows."
    )
    level = Level.NOTE
    tags = ("hygiene",)

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        if not has_admin_layers(ctx.inventory):
            return
        engine = engine_for(ctx.inventory, ctx.config)
        layers = engine.layers
        if layers is None:
            return
        for policy in layers.enforced[Tier.ADMIN]:
            subjects = sorted(layers.subjects(policy))
            for direction in (Direction.INGRESS, Direction.EGRESS):
                for rule in policy.rules(direction):
                    if rule.action is not Action.PASS:
                        continue
                    open_pods = [c for c in subjects if _nothing_beneath(engine, layers, direction, c)]
                    if open_pods:
                        yield self._finding(engine, policy, rule, open_pods)

    def _finding(self, engine: Engine, policy: AdminPolicy, rule: AdminRule, classes: list[int]) -> Finding:
        names = sorted({_name(engine, c) for c in classes})
        allow = "Accept" if policy.api_version == V1ALPHA2 else "Allow"
        direction = rule.direction
        message = (
            f"`Pass` in {rule.label} of {policy.kind} {shown(policy.name)} allows: nothing decides the "
            f"{direction.lower} of {listed(names)} after it"
        )
        detail = (
            f"No NetworkPolicy isolates {listed(names, 10)} for {direction.value} and no Baseline rule "
            "(BaselineAdminNetworkPolicy, ClusterNetworkPolicy `tier: Baseline`) applies there, so what "
            "this rule passes is allowed, and every lower-priority Admin rule, a Deny too, is skipped. "
            f"Write `{allow}` if that is meant; otherwise add the NetworkPolicy or Baseline rule that "
            "should decide."
        )
        action = rule.node.get("action") if isinstance(rule.node, MapNode) else None
        return self.finding(policy, action if action is not None else rule.node, message, detail=detail)


def _nothing_beneath(engine: Engine, layers: AdminLayers, direction: Direction, cls: int) -> bool:
    if not engine.profile.egress and direction is Direction.EGRESS:
        return False
    return not engine.is_isolated(cls, direction) and not layers.baseline[direction][cls]


def _name(engine: Engine, cls: int) -> str:
    # A Node of the world is a class without workloads: the class names itself.
    return engine.classes[cls].title


RULES = (PassWithNothingBeneath,)
