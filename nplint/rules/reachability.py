"""NP106: an allow on one side of a connection that the other side never allows.

A pod-to-pod connection needs the source's egress and the destination's
ingress (networkpolicy-semantics §2.7). An ingress rule admitting workloads
whose own egress policies never let them reach the policy's pods, or an egress
rule toward workloads whose ingress never admits the policy's pods, allows a
connection that cannot happen. The engine's one-sided evaluation
(:meth:`Engine.side_ports`) judges the other side, over the repository's
workloads, only where the repository shows every pod the peer and the policy
can reach.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence

from nplint.engine.engine import AppliedRule, Engine, engine_for
from nplint.engine.portsets import PortSet
from nplint.findings import Finding, Level, Related
from nplint.model import Direction, Inventory, NetworkPolicy, Peer, Workload
from nplint.rules.base import Rule, RuleContext
from nplint.rules.coverage import pinned_names, same_area, shares_area, workloads_by_namespace
from nplint.rules.selectors import selector_yaml
from nplint.untrusted import shown

#: Pairs of pod classes judged per peer at most; a broader peer is left alone.
MAX_PAIRS = 20000


class OneSidedAllow(Rule):
    id = "NP106"
    name = "one-sided-allow"
    summary = "A rule allows a connection that the policies of the other end never allow."
    level = Level.WARNING
    tags = ("connectivity",)

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        inventory = ctx.inventory
        engine = engine_for(inventory, ctx.config)
        if not engine.profile.enforces or not engine.profile.egress:
            return
        complete = workloads_by_namespace(inventory)
        selected: dict[tuple[int, Direction], list[int]] = defaultdict(list)
        for direction in (Direction.INGRESS, Direction.EGRESS):
            for cls, policies in enumerate(engine.isolating[direction]):
                for policy in policies:
                    selected[(id(policy), direction)].append(cls)
        for applied in engine.applied:
            policy, rule = applied.policy, applied.rule
            if applied.peers is None or not _known(policy.namespace, policy.path, complete):
                continue
            own = selected.get((id(policy), rule.direction), [])
            if not own:
                continue
            for peer, set_id in applied.peers:
                if not peer.is_selector_peer or not _peer_known(policy, peer, inventory, complete):
                    continue
                others = [c for c in sorted(engine.class_set(set_id)) if not engine.classes[c].host_network]
                if not others or len(others) * len(own) > MAX_PAIRS:
                    continue
                if _one_sided(engine, applied, own, others):
                    yield self._finding(engine, applied, peer, others)

    def _finding(self, engine: Engine, applied: AppliedRule, peer: Peer, others: Sequence[int]) -> Finding:
        policy, rule = applied.policy, applied.rule
        ingress = rule.direction is Direction.INGRESS
        other_side = Direction.EGRESS if ingress else Direction.INGRESS
        first = engine.classes[others[0]]
        workload = first.workloads[0]
        more = len({id(w) for c in others for w in engine.classes[c].workloads}) - 1
        who = f"{workload.ref}" + (f" (and {more} more)" if more else "")
        blockers = engine.isolating[other_side][first.index]
        blocker = blockers[0]
        ports = _ports_text(rule.ports is None, engine, applied)
        target = f"podSelector: {selector_yaml(policy.pod_selector)}"
        if blocker.namespace != policy.namespace:
            pinned = f"{{matchLabels: {{kubernetes.io/metadata.name: {policy.namespace}}}}}"
            target = f"namespaceSelector: {pinned}, {target}"
        verb = "admits" if ingress else "targets"
        side = "egress" if ingress else "ingress"
        key = "to" if ingress else "from"
        message = (
            f"this peer {verb} {who}, whose {side} policy {shown(blocker.ref.name)} does not allow it: "
            f"add the matching {side} rule there"
        )
        detail = (
            f"This {rule.direction.peers_key} peer {verb} {who}, but its {side} is isolated by "
            f"{blocker.ref} and no {side} rule of its "
            "policies allows "
            f"{'connections to' if ingress else 'connections from'} the pods this policy selects on {ports}: "
            "a connection needs both ends to allow it, so this allow never takes effect. Add the matching "
            f"rule on the other side (in {blocker.ref.qualified}: "
            f"`{side}: [{{{key}: [{{{target}}}]{_ports_yaml(applied)}}}]`), or remove this peer."
        )
        return self.finding(
            policy,
            peer.node,
            message,
            detail=detail,
            related=[Related(p.path, p.span, f"isolates the {side} of {who}") for p in blockers[:2]]
            + [
                Related(
                    workload.path,
                    workload.span,
                    f"{workload.ref}",
                )
            ],
        )


def _ports_text(every: bool, engine: Engine, applied: AppliedRule) -> str:
    if every:
        return "any port"
    ports = engine.rule_ports(applied, None)
    named = sorted({str(p.port) for p in applied.rule.ports or () if isinstance(p.port, str)})
    parts = [ports.describe()] if ports else []
    parts += [f"named port {n}" for n in named]
    return ", ".join(parts) or "its ports"


def _ports_yaml(applied: AppliedRule) -> str:
    if applied.rule.ports is None:
        return ""
    entries = []
    for entry in applied.rule.ports:
        fields = [f"protocol: {entry.protocol}"]
        if entry.port is not None:
            fields.append(f"port: {entry.port}")
        if entry.end_port is not None:
            fields.append(f"endPort: {entry.end_port}")
        entries.append("{" + ", ".join(fields) + "}")
    return f", ports: [{', '.join(entries)}]"


def _known(namespace: str, path: str, complete: dict[str, list[Workload]]) -> bool:
    return namespace in complete and shares_area(path, complete[namespace])


def _peer_known(
    policy: NetworkPolicy, peer: Peer, inventory: Inventory, complete: dict[str, list[Workload]]
) -> bool:
    """Whether every namespace the peer can reach shows all of its pods in the repository."""
    if peer.namespace_selector is None:
        return True  # the policy's namespace, checked already
    pinned = pinned_names(peer.namespace_selector)
    if pinned is None:
        return False
    selector = peer.namespace_selector
    names = [n for n in pinned if selector.matches(inventory.namespace_labels(n))]
    return bool(names) and all(_known(n, policy.path, complete) for n in names)


def _one_sided(engine: Engine, applied: AppliedRule, own: Sequence[int], others: Sequence[int]) -> bool:
    """Whether the other end of every (own class, peer class) pair blocks what the rule allows."""
    ingress = applied.rule.direction is Direction.INGRESS
    other_side = Direction.EGRESS if ingress else Direction.INGRESS
    judged = False
    for other in others:
        if not engine.is_isolated(other, other_side):
            return False
        # Where a Calico or Cilium policy also governs that side, what blocks may be one of those
        # (the message names NetworkPolicies only): not judged here.
        if engine.cni_layer is not None and engine.cni_layer.governs(other_side, other):
            return False
        # A policy from another part of the tree (a test scenario, another variant of the
        # install) may not be deployed with this one: its isolation is not judged.
        if any(not same_area(q.path, applied.policy.path) for q in engine.isolating[other_side][other]):
            return False
        for mine in own:
            destination = engine.classes[mine] if ingress else engine.classes[other]
            allowed: PortSet = engine.rule_ports(applied, destination)
            if not allowed:
                continue  # the rule allows nothing here at all (an unresolved named port): NP401
            judged = True
            if ingress:
                back = engine.side_ports(Direction.EGRESS, other, mine, destination)
            else:
                back = engine.side_ports(Direction.INGRESS, other, mine, destination)
            if back & allowed:
                return False
    return judged


RULES = (OneSidedAllow,)
