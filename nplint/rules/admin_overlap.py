"""NP708: two Admin (or two Baseline) policies of equal priority that decide one connection differently.

Upstream leaves the winner undefined ("the implementation can apply any of the
matching policies", policy-kinds §3.5, §5.4, pitfall K01): OVN-Kubernetes only
raises an event, Calico picks by name. The rule compares, for every pair of
enforced policies of one tier, API version and priority, what each decides on
its own (first match, per port) for the pods both select and the peers both
rules name, through the engine's layers; it reports the first connection they
decide differently. Only pods of the repository are compared.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from itertools import combinations

from nplint.engine.engine import Engine, engine_for, has_admin_layers
from nplint.engine.layers import AdminLayers, AppliedAdminRule, Step, decide
from nplint.engine.portsets import ALL_PORTS, PortSet
from nplint.findings import Finding, Level, Related
from nplint.model import Direction
from nplint.model.admin import V1ALPHA2, Action, AdminPolicy, Tier
from nplint.records import record
from nplint.rules.base import Rule, RuleContext
from nplint.untrusted import shown


@record(frozen=True, slots=True)
class Conflict:
    direction: Direction
    subject: int
    peer: int
    first: Step
    second: Step
    ports: PortSet


class AdminPriorityTie(Rule):
    id = "NP708"
    name = "admin-priority-tie"
    summary = (
        "Two AdminNetworkPolicies (or ClusterNetworkPolicies of one tier) with the same priority "
        "decide a connection differently: the winner is undefined."
    )
    level = Level.WARNING
    tags = ("hygiene",)

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        if not has_admin_layers(ctx.inventory):
            return
        engine = engine_for(ctx.inventory, ctx.config)
        layers = engine.layers
        if layers is None:
            return
        groups: dict[tuple[str, str, int], list[AdminPolicy]] = defaultdict(list)
        for tier in (Tier.ADMIN, Tier.BASELINE):
            for policy in layers.enforced[tier]:
                if policy.priority is not None:
                    groups[(tier.value, policy.api_version, policy.priority)].append(policy)
        for key in sorted(groups):
            members = sorted(groups[key], key=lambda p: (p.name, p.path, p.span))
            for first, second in combinations(members, 2):
                conflict = _conflict(engine, layers, first, second)
                if conflict is not None:
                    yield self._finding(engine, first, second, conflict)

    def _finding(
        self, engine: Engine, first: AdminPolicy, second: AdminPolicy, conflict: Conflict
    ) -> Finding:
        subject = _name(engine, conflict.subject)
        peer = _name(engine, conflict.peer)
        source, destination = (peer, subject) if conflict.direction is Direction.INGRESS else (subject, peer)
        a, b = conflict.first, conflict.second
        message = (
            f"{second.kind} {shown(second.name)} has priority {second.priority}, as {shown(first.name)} has: "
            f"they decide {source} -> {destination} on {conflict.ports.short()} differently"
        )
        detail = (
            f"{first.title} {shown(first.name)} ({first.path}:{first.span.line}) {a.applied.rule.label} "
            f"says {_spelled(first, a)}, "
            f"{second.title} {shown(second.name)} ({second.path}:{second.span.line}) "
            f"{b.applied.rule.label} says {_spelled(second, b)}, for {conflict.direction.lower} of {subject} "
            f"with {peer} on {conflict.ports.describe()}. With equal priorities the winner is undefined "
            "(OVN-Kubernetes applies either and only warns, Calico orders them by name): give each "
            "policy its own priority."
        )
        spec = second.node.get_map("spec")
        where = spec.get("priority") if spec is not None else None
        rule_node = a.applied.rule.node
        return self.finding(
            second,
            where,
            message,
            related=[
                Related(first.path, rule_node.span, f"the rule of {first.kind} {first.name} it ties with")
            ],
            detail=detail,
        )


def _spelled(policy: AdminPolicy, step: Step) -> str:
    """The action as the policy's API version writes it (v1alpha2: ``Accept``)."""
    if step.action is Action.ALLOW and policy.api_version == V1ALPHA2:
        return "Accept"
    return step.action.value


def _name(engine: Engine, cls: int) -> str:
    # A Node of the world is a class without workloads: the class names itself.
    return engine.classes[cls].title


def _conflict(
    engine: Engine, layers: AdminLayers, first: AdminPolicy, second: AdminPolicy
) -> Conflict | None:
    """The first connection (by direction, subject class, peer class) the two decide differently."""
    common = sorted(layers.subjects(first) & layers.subjects(second))
    if not common:
        return None
    for direction in (Direction.INGRESS, Direction.EGRESS):
        rules_a = layers.by_policy.get(id(first), {}).get(direction, ())
        rules_b = layers.by_policy.get(id(second), {}).get(direction, ())
        if not rules_a or not rules_b:
            continue
        named = any(r.has_named_port for r in (*rules_a, *rules_b))
        peers = _peers(engine, rules_a) & _peers(engine, rules_b)
        if not peers:
            continue
        sets = [set_id for rule in (*rules_a, *rules_b) for _, set_id in rule.peers]
        # Peers in the same sets are decided alike; so are subjects, unless a named port is resolved
        # on them (ingress). One representative of each kind is enough.
        seen_peers: set[object] = set()
        subjects = _representatives(engine, common, named and direction is Direction.INGRESS)
        for peer in sorted(peers):
            signature = (
                tuple(peer in engine.class_set(s) for s in sets),
                engine.classes[peer].ports if named and direction is Direction.EGRESS else (),
            )
            if signature in seen_peers:
                continue
            seen_peers.add(signature)
            for subject in subjects:
                found = _differ(engine, layers, direction, subject, peer, rules_a, rules_b)
                if found is not None:
                    return found
    return None


def _peers(engine: Engine, rules: Sequence[AppliedAdminRule]) -> frozenset[int]:
    found: set[int] = set()
    for rule in rules:
        for _, set_id in rule.peers:
            found |= engine.class_set(set_id)
    return frozenset(found)


def _representatives(engine: Engine, classes: Sequence[int], by_ports: bool) -> list[int]:
    if not by_ports:
        return [classes[0]]
    chosen: dict[object, int] = {}
    for cls in classes:
        chosen.setdefault(engine.classes[cls].ports, cls)
    return list(chosen.values())


def _differ(
    engine: Engine,
    layers: AdminLayers,
    direction: Direction,
    subject: int,
    peer: int,
    rules_a: Sequence[AppliedAdminRule],
    rules_b: Sequence[AppliedAdminRule],
) -> Conflict | None:
    destination = engine.classes[subject if direction is Direction.INGRESS else peer]
    steps_a: list[Step] = []
    steps_b: list[Step] = []
    decide(layers, rules_a, peer, destination, ALL_PORTS, steps_a)
    decide(layers, rules_b, peer, destination, ALL_PORTS, steps_b)
    for a in steps_a:
        for b in steps_b:
            if a.action is not b.action:
                ports = a.ports & b.ports
                if ports:
                    return Conflict(direction, subject, peer, a, b, ports)
    return None


RULES = (AdminPriorityTie,)
