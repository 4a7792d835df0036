"""NP108: a NetworkPolicy that isolates pods and so takes away a Baseline allow they had.

The Baseline layer (BaselineAdminNetworkPolicy, ClusterNetworkPolicy ``tier: Baseline``)
is reached only by what neither the Admin layer nor NetworkPolicy decided; a
NetworkPolicy that isolates a pod in a direction decides everything there
("NetworkPolicy always makes a final decision", policy-kinds §5.4, §6, pitfall K09).
A platform's baseline "allow DNS" or "allow monitoring" is therefore lost for a pod the
moment a team adds a policy isolating it, unless that policy allows the same.

The rule asks the engine's layers: for each Baseline Allow rule and each subject pod a
NetworkPolicy isolates, what the rule would allow when the NetworkPolicy layer is
skipped (:func:`nplint.engine.layers.decide`, Admin layer first, exactly as
:func:`~nplint.engine.layers.layered_ports` does) against what the side allows as it is
(:meth:`Engine.side_ports`). Only what the CNI enforces counts; pods are the repository's.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import field

from nplint.engine.endpoints import AddressRange, PodClass, cut_address_space
from nplint.engine.engine import Engine, engine_for, has_admin_layers
from nplint.engine.layers import AdminLayers, AppliedAdminRule, Step, decide
from nplint.engine.portsets import ALL_PORTS, NO_PORTS, PortSet
from nplint.findings import Finding, Level, Related, listed
from nplint.loading.nodes import Node, ScalarNode
from nplint.model import Direction
from nplint.model.admin import Action, PeerKind, Tier
from nplint.model.objects import NetworkPolicy
from nplint.records import record
from nplint.rules.base import Rule, RuleContext
from nplint.untrusted import shown

#: Characters of a name in the headline (the detail gives it whole).
_NAME_LIMIT = 30


@record
class _Loss:
    """What one Baseline rule no longer gives the pods one NetworkPolicy isolates."""

    policy: NetworkPolicy
    applied: AppliedAdminRule
    direction: Direction
    others: dict[int, NetworkPolicy] = field(default_factory=dict)
    pods: set[str] = field(default_factory=set)
    peers: set[str] = field(default_factory=set)
    ports: PortSet = NO_PORTS


class BaselineAllowReplaced(Rule):
    id = "NP108"
    name = "baseline-allow-replaced"
    summary = (
        "A NetworkPolicy isolates pods that a Baseline Allow (BaselineAdminNetworkPolicy, "
        "ClusterNetworkPolicy `tier: Baseline`) admitted, and does not allow the same: they lose it."
    )
    level = Level.WARNING
    tags = ("isolation", "admin")

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        if not has_admin_layers(ctx.inventory):
            return  # no Baseline rule: nothing to lose (and no engine to build for it)
        engine = engine_for(ctx.inventory, ctx.config)
        layers = engine.layers
        if layers is None or not layers.enforced[Tier.BASELINE]:
            return
        losses: dict[tuple[int, int], _Loss] = {}
        #: Subjects whose side the same rules decide lose the same: one evaluation per peer.
        cache: dict[tuple[object, ...], PortSet] = {}
        for direction in (Direction.INGRESS, Direction.EGRESS):
            if direction is Direction.EGRESS and not engine.profile.egress:
                continue
            ranges = _outside_ranges(engine) if direction is Direction.EGRESS else []
            for policy in layers.enforced[Tier.BASELINE]:
                applied_rules = layers.by_policy.get(id(policy), {}).get(direction, ())
                for applied in applied_rules:
                    if applied.rule.action is not Action.ALLOW or _restates_default(applied):
                        continue
                    self._collect(engine, layers, applied, direction, ranges, losses, cache)
        for loss in sorted(losses.values(), key=_order):
            yield self._finding(loss)

    def _collect(
        self,
        engine: Engine,
        layers: AdminLayers,
        applied: AppliedAdminRule,
        direction: Direction,
        ranges: list[AddressRange],
        losses: dict[tuple[int, int], _Loss],
        cache: dict[tuple[object, ...], PortSet],
    ) -> None:
        peers = _peers(engine, applied, ranges)
        cni_layer = engine.cni_layer
        for cls in sorted(layers.subjects(applied.policy)):
            isolating = engine.isolating[direction][cls]
            if not isolating or (cni_layer is not None and cni_layer.governs(direction, cls)):
                continue
            lost_peers: list[str] = []
            lost_ports = NO_PORTS
            named = direction is Direction.INGRESS and engine.side_has_named_port(direction, cls)
            side = (direction.value, applied.uid, engine.side_key(direction, cls), cls if named else -1)
            for peer in peers:
                key = (*side, peer)
                missing = cache.get(key)
                if missing is None:
                    missing = cache[key] = _lost(engine, layers, applied, direction, cls, peer)
                if missing:
                    lost_peers.append(_peer_name(engine, peer))
                    lost_ports = lost_ports | missing
            if not lost_peers:
                continue
            first = isolating[0]
            loss = losses.setdefault((id(first), applied.uid), _Loss(first, applied, direction))
            loss.others.update((id(p), p) for p in isolating[1:])
            loss.pods.add(_class_name(engine, cls))
            loss.peers.update(lost_peers)
            loss.ports = loss.ports | lost_ports

    def _finding(self, loss: _Loss) -> Finding:
        baseline, rule = loss.applied.policy, loss.applied.rule
        line = rule.node.span.line
        direction = loss.direction
        toward = "from" if direction is Direction.INGRESS else "to"
        pods = sorted(loss.pods)
        peers = sorted(loss.peers)
        ports = "every port" if loss.ports.is_everything else loss.ports.describe()
        message = (
            f"{direction.value} isolation drops baseline {shown(baseline.name, _NAME_LIMIT)} {rule.label} "
            f"(line {line}) for {listed(pods)}: {ports} {toward} {listed(peers)}"
        )
        detail = (
            f"{baseline.title} {shown(baseline.name)} ({baseline.path}:{line}) {rule.label} allows "
            f"{ports} {toward} {listed(peers, 10)} for {listed(pods, 10)}. The Baseline layer "
            "is reached only by what no NetworkPolicy decides, and a NetworkPolicy that isolates a pod "
            f"decides all of its {direction.lower} (policy-kinds §5.4, §6, pitfall K09), so this policy "
            "takes that allow away and does not allow it itself. Add a rule allowing it here (or to "
            "another NetworkPolicy of these pods) if the pods still need it."
        )
        related = [Related(baseline.path, rule.node.span, f"the lost {baseline.title} {rule.label}")]
        related.extend(
            Related(other.path, other.span, f"{other.ref} isolates these pods too")
            for other in sorted(loss.others.values(), key=lambda p: (p.path, p.span.line, p.span.column))
        )
        return self.finding(
            loss.policy, _isolation_node(loss.policy, direction), message, detail=detail, related=related
        )


def _order(loss: _Loss) -> tuple[str, int, int, str, int, str, int]:
    policy, applied = loss.policy, loss.applied
    return (
        policy.path,
        policy.span.line,
        policy.span.column,
        applied.policy.path,
        applied.rule.node.span.line,
        loss.direction.value,
        applied.uid,
    )


def _restates_default(applied: AppliedAdminRule) -> bool:
    """An Allow of every port toward every pod or every address restates the default allow: a
    NetworkPolicy that isolates takes it away on purpose, which is what isolating is for."""
    rule = applied.rule
    if rule.ports is not None:
        return False
    for peer in rule.peers:
        if peer.kind is PeerKind.NAMESPACES and peer.namespaces is not None and peer.namespaces.is_empty:
            return True
        every_namespace = peer.namespaces is None or peer.namespaces.is_empty
        if peer.kind is PeerKind.PODS and every_namespace and (peer.pods is None or peer.pods.is_empty):
            return True
        if peer.kind is PeerKind.NETWORKS and any(
            net is not None and net.prefixlen == 0 for _, net in peer.networks
        ):
            return True
    return False


def _outside_ranges(engine: Engine) -> list[AddressRange]:
    """Outside address ranges no block of any layer cuts: each is wholly in or out of every CIDR."""
    return cut_address_space(engine.ip_blocks(Direction.EGRESS))


def _peers(engine: Engine, applied: AppliedAdminRule, ranges: list[AddressRange]) -> list[int | AddressRange]:
    """The pod classes the rule's peers hold, then the outside ranges its ``networks`` peers hold."""
    classes: set[int] = set()
    for _, set_id in applied.peers:
        classes.update(engine.class_set(set_id))
    networks = [peer for peer, _ in applied.peers if peer.kind is PeerKind.NETWORKS]
    outside = [r for r in ranges if any(peer.contains(r.first_address) for peer in networks)]
    return [*sorted(classes), *outside]


def _lost(
    engine: Engine,
    layers: AdminLayers,
    applied: AppliedAdminRule,
    direction: Direction,
    cls: int,
    peer: int | AddressRange,
) -> PortSet:
    """The ports ``applied`` would allow on this side were no NetworkPolicy isolating it, which the
    side as it is does not allow."""
    destination: PodClass | None
    if direction is Direction.INGRESS:
        destination = engine.classes[cls]
    else:
        destination = engine.classes[peer] if isinstance(peer, int) else None
    # What the Admin layer allows or denies never reaches the Baseline layer (policy-kinds §6).
    _, passed, rest = decide(layers, layers.admin[direction][cls], peer, destination, ALL_PORTS)
    rest = rest | passed
    if not rest:
        return NO_PORTS
    steps: list[Step] = []
    decide(layers, layers.baseline[direction][cls], peer, destination, rest, steps)
    granted = NO_PORTS
    for step in steps:
        if step.applied is applied and step.action is Action.ALLOW:
            granted = granted | step.ports
    if not granted:
        return NO_PORTS
    return granted - engine.side_ports(direction, cls, peer, destination)


def _class_name(engine: Engine, cls: int) -> str:
    workload = engine.classes[cls].workloads[0]
    return f"{shown(workload.namespace)}/{shown(workload.name)}"


def _peer_name(engine: Engine, peer: int | AddressRange) -> str:
    return _class_name(engine, peer) if isinstance(peer, int) else str(peer)


def _isolation_node(policy: NetworkPolicy, direction: Direction) -> Node | None:
    """What makes the policy isolate ``direction``: its ``policyTypes`` entry, else its rules key,
    else its ``podSelector``."""
    spec = policy.spec
    if spec is None:
        return None
    types = spec.get_seq("policyTypes")
    if types is not None:
        for item in types:
            if isinstance(item, ScalarNode) and item.text == direction.value:
                return item
    # The key, not its value: a block sequence's span starts on the line after it.
    for key in (direction.rules_key, "podSelector"):
        found = spec.key_node(key)
        if found is not None:
            return found
    return spec


RULES = (BaselineAllowReplaced,)
