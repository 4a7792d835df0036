"""Verdicts with reasons: why a connection is allowed or denied, down to the policy rule and line.

Each side of a connection is judged on its own (networkpolicy-semantics §2.7):
the source's egress and the destination's ingress. A side is *not subject* to
NetworkPolicy (an external address, a host-network pod, a CNI that enforces
nothing), *not isolated* (no policy selects it for that direction), or isolated
and then allowed by named rules or denied by named policies.
"""

from __future__ import annotations

from typing import Any

from nplint.engine.cni_layer import CNILayer, LayerStep, unenforced_notes
from nplint.engine.endpoints import AddressRange, Endpoint, PodClass
from nplint.engine.engine import Engine
from nplint.engine.layers import AdminLayers, Step, decide
from nplint.engine.portsets import ALL_PORTS, NO_PORTS, PortSet
from nplint.model import Direction, NetworkPolicy, Peer, PolicyRule
from nplint.model.admin import Action
from nplint.records import record
from nplint.untrusted import quoted

NOT_SUBJECT = "not-subject"
NOT_ISOLATED = "not-isolated"
ALLOWED = "allowed"
DENIED = "denied"
SELF = "self"


@record(frozen=True, slots=True, order=True)
class PolicyRef:
    """A NetworkPolicy and where it is written."""

    namespace: str
    name: str
    path: str
    line: int
    column: int = 1

    @classmethod
    def of(cls, policy: NetworkPolicy) -> PolicyRef:
        span = policy.span
        return cls(policy.namespace, policy.name, policy.path, span.line, span.column)

    def __str__(self) -> str:
        return f"NetworkPolicy {self.namespace}/{self.name} ({self.path}:{self.line})"

    def to_json(self) -> dict[str, Any]:
        return {"namespace": self.namespace, "name": self.name, "path": self.path, "line": self.line}


@record(frozen=True, slots=True, order=True)
class RuleRef:
    """One rule (and the peer of it that matched) that allows a connection."""

    policy: PolicyRef
    direction: str
    rule: int
    line: int
    #: The index and line of the matching peer; None for a rule without ``from``/``to``.
    peer: int | None
    peer_line: int | None
    ports: PortSet
    column: int = 1

    def __str__(self) -> str:
        p = self.policy
        text = (
            f"NetworkPolicy {p.namespace}/{p.name} {self.direction} rule {self.rule} ({p.path}:{self.line})"
        )
        peers_key = "from" if self.direction == "ingress" else "to"
        if self.peer is None:
            text += f", any peer (no `{peers_key}`)"
        else:
            text += f", {peers_key} peer {self.peer} ({p.path}:{self.peer_line})"
        return f"{text}, {self.ports.describe()}"

    def to_json(self) -> dict[str, Any]:
        return {
            **self.policy.to_json(),
            "direction": self.direction,
            "rule": self.rule,
            "rule_line": self.line,
            "peer": self.peer,
            "peer_line": self.peer_line,
            "connections": self.ports.describe(),
        }


@record(frozen=True, slots=True, order=True)
class LayerRuleRef:
    """A rule of an Admin or Baseline layer (AdminNetworkPolicy, BANP, ClusterNetworkPolicy) that
    decided some of a side's connections: which ports it took and what it did."""

    kind: str
    name: str
    path: str
    line: int
    direction: str
    rule: int
    rule_name: str | None
    rule_line: int
    peer: int
    peer_line: int
    action: str
    ports: PortSet
    column: int = 1

    @classmethod
    def of(cls, step: Step) -> LayerRuleRef:
        policy, rule = step.applied.policy, step.applied.rule
        span = policy.span
        return cls(
            policy.title,
            policy.name,
            policy.path,
            span.line,
            rule.direction.lower,
            rule.index,
            rule.name,
            rule.node.span.line,
            step.peer.index,
            step.peer.node.span.line,
            step.action.value,
            step.ports,
            rule.node.span.column,
        )

    def __str__(self) -> str:
        named = f" {quoted(self.rule_name)}" if self.rule_name else ""
        peers_key = "from" if self.direction == "ingress" else "to"
        return (
            f"{self.kind} {self.name} ({self.path}:{self.line}) {self.direction} rule {self.rule}{named} "
            f"({self.path}:{self.rule_line}), {peers_key} peer {self.peer} ({self.path}:{self.peer_line}): "
            f"{_ACTION_WORDS[self.action]} {self.ports.describe()}"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "path": self.path,
            "line": self.line,
            "direction": self.direction,
            "rule": self.rule,
            "rule_name": self.rule_name,
            "rule_line": self.rule_line,
            "peer": self.peer,
            "peer_line": self.peer_line,
            "action": self.action,
            "connections": self.ports.describe(),
        }


_ACTION_WORDS = {
    Action.ALLOW.value: "allows",
    Action.DENY.value: "denies",
    Action.PASS.value: "passes on",
}


@record(frozen=True, slots=True)
class SideVerdict:
    """One side of a connection: the source's egress or the destination's ingress."""

    direction: Direction
    #: The endpoint whose side this is, and the one at the other end.
    subject: str
    peer: str
    status: str
    #: What this side allows with the peer (restricted to the asked port, if any).
    ports: PortSet
    isolated_by: tuple[PolicyRef, ...] = ()
    allowed_by: tuple[RuleRef, ...] = ()
    detail: str = ""
    #: Admin-layer rules that decided some connections, in evaluation order (:mod:`.layers`).
    admin_steps: tuple[LayerRuleRef, ...] = ()
    #: The NetworkPolicy verdict on what the Admin layer left (None: nothing reached an
    #: isolating NetworkPolicy), and what reached it.
    network_policy: SideVerdict | None = None
    reached: PortSet = NO_PORTS
    #: Baseline-layer rules that decided some of what reached them.
    baseline_steps: tuple[LayerRuleRef, ...] = ()
    #: What no layer decided, allowed by default.
    by_default: PortSet = NO_PORTS
    #: True when the side went through the Admin and Baseline layers.
    layered: bool = False
    #: For a side the CNI's own layer governs (Calico tiers, Cilium's union): what it did, in order.
    layer_steps: tuple[LayerStep, ...] = ()

    @property
    def by_cni_layer(self) -> bool:
        return bool(self.layer_steps)

    @property
    def allowed(self) -> bool:
        return bool(self.ports)

    def message(self, asked: str) -> str:
        return f"{self.direction.lower} of {self.subject}: {self.body(asked)}"

    def body(self, asked: str) -> str:
        if self.by_cni_layer:
            return "; then ".join(step.describe() for step in self.layer_steps)
        if self.layered:
            return self._layered_body(asked)
        if self.status == SELF:
            return self.detail
        if self.status == NOT_SUBJECT:
            return f"not subject to NetworkPolicy ({self.detail})"
        if self.status == NOT_ISOLATED:
            extra = f"; {self.detail}" if self.detail else ""
            return f"not isolated, no NetworkPolicy selects it for {self.direction.value}{extra}"
        isolated = "isolated by " + ", ".join(map(str, self.isolated_by))
        if self.status == ALLOWED:
            return f"{isolated}; allowed by " + "; ".join(map(str, self.allowed_by))
        text = f"{isolated}; no {self.direction.lower} rule of these allows {self.peer} on {asked}"
        if self.allowed_by:
            text += f" (rules matching {self.peer} allow only " + "; ".join(map(str, self.allowed_by)) + ")"
        return text

    def _layered_body(self, asked: str) -> str:
        parts = [str(step) for step in self.admin_steps]
        if self.network_policy is None and (self.baseline_steps or self.by_default):
            parts.append(f"no NetworkPolicy selects it for {self.direction.value}")
        if self.network_policy is not None:
            reached = self.reached.describe()
            parts.append(f"then NetworkPolicy decides {reached}: {self.network_policy.body(reached)}")
        parts.extend(f"then {step}" if i == 0 else str(step) for i, step in enumerate(self.baseline_steps))
        if self.by_default:
            parts.append(f"no rule decides {self.by_default.describe()}: allowed")
        if not parts:
            parts.append(f"no rule matches {self.peer} on {asked}: allowed")
        return "; ".join(parts)

    def to_json(self, asked: str) -> dict[str, Any]:
        return {
            "side": self.direction.lower,
            "status": self.status,
            "endpoint": self.subject,
            "message": self.message(asked),
            "isolated_by": [p.to_json() for p in self.isolated_by],
            "allowed_by": [r.to_json() for r in self.allowed_by],
            **(
                {
                    "admin_rules": [r.to_json() for r in self.admin_steps],
                    "network_policy": (
                        None
                        if self.network_policy is None
                        else self.network_policy.to_json(self.reached.describe())
                    ),
                    "baseline_rules": [r.to_json() for r in self.baseline_steps],
                    "allowed_by_default": self.by_default.describe() if self.by_default else None,
                }
                if self.layered
                else {}
            ),
            **({"layer_steps": [step.to_json() for step in self.layer_steps]} if self.by_cni_layer else {}),
        }


@record(frozen=True, slots=True)
class Verdict:
    source: str
    destination: str
    protocol: str | None
    port: int | None
    allowed: bool
    #: Everything the pair allows (not only the asked port).
    connections: PortSet
    egress: SideVerdict
    ingress: SideVerdict
    notes: tuple[str, ...] = ()

    @property
    def asked(self) -> str:
        if self.protocol is None:
            return "any port"
        return f"{self.protocol} {self.port}" if self.port is not None else f"any {self.protocol} port"

    def reasons(self) -> list[str]:
        return [self.egress.message(self.asked), self.ingress.message(self.asked), *self.notes]

    def reasons_json(self) -> list[dict[str, Any]]:
        notes = [{"side": "note", "status": "note", "message": n} for n in self.notes]
        return [self.egress.to_json(self.asked), self.ingress.to_json(self.asked), *notes]


def wanted(protocol: str | None, port: int | None) -> PortSet:
    if protocol is None:
        return ALL_PORTS
    if port is None:
        return PortSet.protocol(protocol)
    return PortSet.single(protocol, port)


def explain_side(
    engine: Engine,
    direction: Direction,
    subject: PodClass | None,
    subject_name: str,
    peer: PodClass | AddressRange,
    peer_name: str,
    asked: PortSet,
) -> SideVerdict:
    """Judge one side: ``subject`` is the pod whose policies apply (None: an external address)."""
    profile = engine.profile

    def side(status: str, ports: PortSet, detail: str = "") -> SideVerdict:
        return SideVerdict(direction, subject_name, peer_name, status, ports, detail=detail)

    if subject is None:
        return side(NOT_SUBJECT, asked, "an address outside the cluster")
    cni_layer = engine.cni_layer
    # A Cilium host policy (nodeSelector) governs a node and its host-network pods.
    host_governed = cni_layer is not None and cni_layer.governs(direction, subject.index)
    if subject.is_node and not host_governed:
        return side(NOT_SUBJECT, asked, "it is a node: pod policies neither select nor isolate it")
    if subject.host_network and not host_governed:
        return side(
            NOT_SUBJECT, asked, "it runs in the host network, where policies neither select nor isolate it"
        )
    if not profile.enforces:
        return side(
            NOT_SUBJECT,
            asked,
            profile.notes.get("enforces", f"{profile.title} does not enforce NetworkPolicy"),
        )
    if direction is Direction.EGRESS and not profile.egress:
        return side(
            NOT_SUBJECT, asked, profile.notes.get("egress", f"{profile.title} does not enforce egress policy")
        )
    cni_layer = engine.cni_layer
    if cni_layer is not None and cni_layer.governs(direction, subject.index):
        return _cni_side(engine, cni_layer, direction, subject, subject_name, peer, peer_name, asked)
    layers = engine.layers
    if layers is not None and layers.has_rules(direction, subject.index):
        return _layered_side(engine, layers, direction, subject, subject_name, peer, peer_name, asked)
    return _network_policy_side(engine, direction, subject, subject_name, peer, peer_name, asked)


def _destination_and_key(
    direction: Direction, subject: PodClass, peer: PodClass | AddressRange
) -> tuple[PodClass | None, int | AddressRange]:
    """The pod a side's connections go to (None: an outside address), and the peer as layers key it."""
    destination = (
        subject if direction is Direction.INGRESS else (peer if isinstance(peer, PodClass) else None)
    )
    return destination, peer.index if isinstance(peer, PodClass) else peer


def _layered_side(
    engine: Engine,
    layers: AdminLayers,
    direction: Direction,
    subject: PodClass,
    subject_name: str,
    peer: PodClass | AddressRange,
    peer_name: str,
    asked: PortSet,
) -> SideVerdict:
    """A side the Admin or Baseline layer has rules for: Admin, then NetworkPolicy, then Baseline."""
    destination, key = _destination_and_key(direction, subject, peer)
    admin: list[Step] = []
    allowed, passed, rest = decide(
        layers, layers.admin[direction][subject.index], key, destination, asked, admin
    )
    rest = rest | passed
    network_policy: SideVerdict | None = None
    baseline: list[Step] = []
    by_default = NO_PORTS
    isolated_by: tuple[PolicyRef, ...] = ()
    if rest and engine.is_isolated(subject.index, direction):
        network_policy = _network_policy_side(engine, direction, subject, subject_name, peer, peer_name, rest)
        isolated_by = network_policy.isolated_by
        allowed = allowed | network_policy.ports
    elif rest:
        base_allowed, base_passed, base_rest = decide(
            layers, layers.baseline[direction][subject.index], key, destination, rest, baseline
        )
        by_default = base_passed | base_rest
        allowed = allowed | base_allowed | by_default
    return SideVerdict(
        direction,
        subject_name,
        peer_name,
        ALLOWED if allowed else DENIED,
        allowed,
        isolated_by,
        admin_steps=tuple(LayerRuleRef.of(step) for step in admin),
        network_policy=network_policy,
        reached=rest if network_policy is not None else NO_PORTS,
        baseline_steps=tuple(LayerRuleRef.of(step) for step in baseline),
        by_default=by_default,
        layered=True,
    )


def _cni_side(
    engine: Engine,
    cni_layer: CNILayer,
    direction: Direction,
    subject: PodClass,
    subject_name: str,
    peer: PodClass | AddressRange,
    peer_name: str,
    asked: PortSet,
) -> SideVerdict:
    """A side the CNI's own layer governs (policy-kinds §7.8 for Calico, §8.10 for Cilium)."""
    destination, key = _destination_and_key(direction, subject, peer)
    steps: list[LayerStep] = []
    allowed = cni_layer.evaluate(
        direction,
        subject.index,
        key,
        destination,
        lambda policy: engine.policy_ports(direction, subject.index, key, destination, policy),
        asked,
        steps,
    )
    return SideVerdict(
        direction,
        subject_name,
        peer_name,
        ALLOWED if allowed else DENIED,
        allowed,
        layer_steps=tuple(steps),
    )


def _network_policy_side(
    engine: Engine,
    direction: Direction,
    subject: PodClass,
    subject_name: str,
    peer: PodClass | AddressRange,
    peer_name: str,
    asked: PortSet,
) -> SideVerdict:
    """The NetworkPolicy layer's verdict on ``asked``."""
    policies = engine.isolating[direction][subject.index]
    if not policies:
        return SideVerdict(
            direction, subject_name, peer_name, NOT_ISOLATED, asked, detail=_ignored(engine, subject)
        )
    destination = (
        subject if direction is Direction.INGRESS else (peer if isinstance(peer, PodClass) else None)
    )
    allowed_by: list[RuleRef] = []
    near: list[RuleRef] = []
    total = NO_PORTS
    for applied in engine.rules[direction][subject.index]:
        if isinstance(peer, PodClass):
            matched = engine.peer_matches_class(applied, peer.index)
        else:
            matched = engine.peer_matches_address(applied, peer)
        if matched is False:
            continue
        rule_ports = engine.rule_ports(applied, destination)
        ports = rule_ports & asked
        if ports:
            allowed_by.append(_rule_ref(applied.policy, applied.rule, matched, ports))
            total = total | ports
        elif rule_ports:
            near.append(_rule_ref(applied.policy, applied.rule, matched, rule_ports))
    isolated_by = tuple(PolicyRef.of(p) for p in policies)
    if total:
        return SideVerdict(direction, subject_name, peer_name, ALLOWED, total, isolated_by, tuple(allowed_by))
    return SideVerdict(direction, subject_name, peer_name, DENIED, NO_PORTS, isolated_by, tuple(near))


def _rule_ref(
    policy: NetworkPolicy, rule: PolicyRule, matched: Peer | bool | None, ports: PortSet
) -> RuleRef:
    peer = matched if isinstance(matched, Peer) else None
    span = rule.node.span
    return RuleRef(
        PolicyRef.of(policy),
        rule.direction.lower,
        rule.index,
        span.line,
        peer.index if peer is not None else None,
        peer.node.span.line if peer is not None else None,
        ports,
        span.column,
    )


def _ignored(engine: Engine, subject: PodClass) -> str:
    texts = [
        f"{PolicyRef.of(i.policy)} would select it but is not enforced: {engine.profile.title} {i.reason}"
        for i in engine.ignored
        if i.policy.namespace == subject.namespace and i.policy.pod_selector.matches(subject.labels)
    ]
    return "; ".join(texts)


def _ignored_layer_notes(engine: Engine, *endpoints: Endpoint) -> list[str]:
    """Admin, Baseline and Calico objects that select an end but that the CNI does not enforce."""
    classes = {i for endpoint in endpoints for i in endpoint.classes}
    notes = []
    if engine.cni_layer is not None:
        notes.extend(engine.cni_layer.notes(classes, len(endpoints) > 1))
    notes.extend(unenforced_notes(engine, classes, len(endpoints) > 1))
    layers = engine.layers
    if layers is None or not layers.ignored:
        return notes
    for ignored in layers.ignored:
        if classes & layers.subjects(ignored.policy):
            policy = ignored.policy
            notes.append(
                f"{policy.title} {policy.name} ({policy.path}:{policy.span.line}) selects "
                f"{'an end' if len(endpoints) > 1 else 'it'} but decides nothing: {ignored.reason}"
            )
    return notes


def profile_notes(engine: Engine) -> tuple[str, ...]:
    profile = engine.profile
    if profile.name == "upstream":
        return ()
    return tuple(f"{profile.title}: {note}" for _, note in sorted(profile.notes.items()))


def explain(
    engine: Engine,
    source: Endpoint,
    destination: Endpoint,
    protocol: str | None = None,
    port: int | None = None,
) -> Verdict:
    """The verdict for a connection between two endpoints, on one port or any.

    An endpoint with several pod classes (pods of one owner with different IPs)
    is allowed only when every pair of classes is: the reasons are those of the
    first pair that is denied.
    """
    asked = wanted(protocol, port)
    notes = list(profile_notes(engine))
    notes.extend(_ignored_layer_notes(engine, source, destination))
    if source.key == destination.key and source.is_bare_pod:
        detail = "a pod can always connect to itself"
        egress = SideVerdict(Direction.EGRESS, source.key, destination.key, SELF, asked, detail=detail)
        ingress = SideVerdict(Direction.INGRESS, source.key, destination.key, SELF, asked, detail=detail)
        return Verdict(
            source.key, destination.key, protocol, port, True, ALL_PORTS, egress, ingress, tuple(notes)
        )
    if source.is_external and destination.is_external:
        raise ValueError("both ends are external addresses; at least one must be a workload")
    results: list[tuple[SideVerdict, SideVerdict, PortSet]] = []
    for src in _ends(engine, source):
        for dst in _ends(engine, destination):
            egress = explain_side(
                engine,
                Direction.EGRESS,
                src if isinstance(src, PodClass) else None,
                source.key,
                dst,
                destination.key,
                asked,
            )
            ingress = explain_side(
                engine,
                Direction.INGRESS,
                dst if isinstance(dst, PodClass) else None,
                destination.key,
                src,
                source.key,
                asked,
            )
            results.append((egress, ingress, _pair_connections(engine, src, dst)))
    denied = [r for r in results if not (r[0].ports & r[1].ports)]
    chosen = denied[0] if denied else results[0]
    connections = results[0][2]
    for _, _, ports in results[1:]:
        connections = connections & ports
    if len(results) > 1:
        why = " (the pods differ in IPs or labels; the reasons are those of a denied pair)" if denied else ""
        notes.append(f"{len(results) - len(denied)} of {len(results)} pod pairs allow it{why}")
    if source.key == destination.key:
        notes.append(f"a connection between two pods (replicas) of {source.key}")
    egress, ingress = chosen[0], chosen[1]
    if egress.allowed and ingress.allowed and not (egress.ports & ingress.ports):
        notes.append(
            f"each side allows something, but nothing in common: egress {egress.ports.describe()}, "
            f"ingress {ingress.ports.describe()}"
        )
    return Verdict(
        source.key,
        destination.key,
        protocol,
        port,
        not denied,
        connections,
        chosen[0],
        chosen[1],
        tuple(notes),
    )


def _ends(engine: Engine, endpoint: Endpoint) -> list[PodClass | AddressRange]:
    if endpoint.address is not None:
        return [endpoint.address]
    return [engine.classes[i] for i in endpoint.classes]


def _pair_connections(engine: Engine, src: PodClass | AddressRange, dst: PodClass | AddressRange) -> PortSet:
    if isinstance(src, PodClass) and isinstance(dst, PodClass):
        return engine.connections(src.index, dst.index)
    if isinstance(dst, PodClass):
        assert isinstance(src, AddressRange)
        return engine.from_external(src, dst.index)
    assert isinstance(src, PodClass)
    return engine.to_external(src.index, dst)
