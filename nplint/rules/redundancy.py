"""NP705, NP706: rules and policies that allow nothing the others do not already allow.

Containment is decided structurally, and only where it is exact: a rule without
peers or ports covers anything; a selector peer covers another when its
namespace scope holds the other's and its pod selector asks a subset of the
other's requirements (fewer requirements, more pods); an ipBlock covers another
when its network holds the other's and each of its ``except`` ranges is cut out
of the other too. Anything else (a union of two peers, a named port against a
number, a malformed field) is taken as *not* covered, so a finding is a proof.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence

from nplint.cluster.profiles import EngineProfile
from nplint.engine.endpoints import PodClass
from nplint.engine.engine import Engine, engine_for
from nplint.engine.portsets import ALL_PORTS, NO_PORTS, PortSet
from nplint.findings import Finding, Level, Related
from nplint.loading.nodes import MapNode, Node, SeqNode, is_null
from nplint.model import Direction, IPBlock, LabelSelector, NetworkPolicy, Peer, PolicyRule
from nplint.model.inventory import NAMESPACE_NAME_LABEL
from nplint.model.objects import PROTOCOLS
from nplint.records import record
from nplint.rules.base import Rule, RuleContext
from nplint.rules.coverage import pinned_names, shares_area, workloads_by_namespace
from nplint.untrusted import quoted, shown

_FULL = ((1, 65535),)


# -- containment ----------------------------------------------------------------------


def _requirements(selector: LabelSelector) -> frozenset[object] | None:
    """The selector's requirements as a set (None when one cannot be interpreted)."""
    found: set[object] = {("label", key, value) for key, value in selector.match_labels}
    for requirement in selector.expressions:
        if requirement.operator is None:
            return None
        found.add(("expr", requirement.key, requirement.operator, requirement.values))
    return frozenset(found)


def selector_covers(big: LabelSelector, small: LabelSelector) -> bool:
    """Whether every object ``small`` matches is matched by ``big`` (big asks a subset of small)."""
    big_reqs, small_reqs = _requirements(big), _requirements(small)
    return big_reqs is not None and small_reqs is not None and big_reqs <= small_reqs


def _covers_own_namespace(selector: LabelSelector, namespace: str) -> bool:
    """Whether a namespaceSelector provably matches ``namespace`` (only its name label is certain)."""
    if _requirements(selector) is None or selector.keys - {NAMESPACE_NAME_LABEL}:
        return False
    return selector.matches({NAMESPACE_NAME_LABEL: namespace})


def _only_own_namespace(selector: LabelSelector, namespace: str) -> bool:
    """Whether a namespaceSelector can match no namespace but ``namespace`` (it pins the name label)."""
    pinned = pinned_names(selector)
    return _requirements(selector) is not None and pinned is not None and pinned <= {namespace}


def _block_covers(big: IPBlock, small: IPBlock, profile: EngineProfile) -> bool:
    if big.network is None or small.network is None or big.network.version != small.network.version:
        return False
    if (big.excepts or small.excepts) and not profile.ipblock_except:
        return False
    if any(net is None for _, net in (*big.excepts, *small.excepts)):
        return False
    if not small.network.subnet_of(big.network):  # type: ignore[arg-type]
        return False
    small_excepts = [n for _, n in small.excepts if n is not None and n.version == small.network.version]
    for _, cut in big.excepts:
        if cut is None or cut.version != small.network.version or not cut.overlaps(small.network):
            continue
        inside = cut if cut.subnet_of(small.network) else small.network  # type: ignore[arg-type]
        if not any(inside.subnet_of(e) for e in small_excepts):  # type: ignore[arg-type]
            return False
    return True


def peer_covers(big: Peer, small: Peer, namespace: str, profile: EngineProfile) -> bool:
    """Whether every endpoint ``small`` matches is matched by ``big`` (both of one policy's namespace)."""
    if big.ip_block is not None or small.ip_block is not None:
        if big.ip_block is None or small.ip_block is None:
            return False
        if any(s is not None for p in (big, small) for s in (p.pod_selector, p.namespace_selector)):
            return False  # an ipBlock with selectors is rejected by the API server
        return _block_covers(big.ip_block, small.ip_block, profile)
    if not big.is_selector_peer or not small.is_selector_peer:
        return False
    if big.namespace_selector is None:
        if small.namespace_selector is not None and not _only_own_namespace(
            small.namespace_selector, namespace
        ):
            return False
    elif small.namespace_selector is None:
        if not _covers_own_namespace(big.namespace_selector, namespace):
            return False
    elif not selector_covers(big.namespace_selector, small.namespace_selector):
        return False
    if big.pod_selector is None or big.pod_selector.is_empty:
        return _requirements(big.pod_selector or LabelSelector()) is not None and (
            small.pod_selector is None or _requirements(small.pod_selector) is not None
        )
    if small.pod_selector is None:
        return False
    return selector_covers(big.pod_selector, small.pod_selector)


@record(frozen=True, slots=True)
class PortShape:
    """What a rule's ``ports`` allow: numbers (per the CNI profile) and named ports kept by name."""

    numbers: PortSet
    named: frozenset[tuple[str, str]]

    @property
    def empty(self) -> bool:
        return not self.numbers and not self.named

    def covers(self, small: PortShape) -> bool:
        if small.numbers - self.numbers:
            return False
        return all(n in self.named or self.numbers.ranges(n[1]) == _FULL for n in small.named)


def port_shape(rule: PolicyRule, profile: EngineProfile) -> PortShape | None:
    """The rule's ports, or None when an entry cannot be interpreted."""
    if rule.ports is None:
        return PortShape(ALL_PORTS, frozenset())
    numbers = NO_PORTS
    named: set[tuple[str, str]] = set()
    for entry in rule.ports:
        if entry.protocol not in PROTOCOLS:
            return None
        if entry.protocol == "SCTP" and not profile.sctp:
            continue
        port = entry.port
        if port is None:
            numbers = numbers | PortSet.protocol(entry.protocol)
        elif isinstance(port, int):
            if not 1 <= port <= 65535:
                return None
            end = entry.end_port
            high = end if end is not None and end >= port and profile.end_port else port
            numbers = numbers | PortSet.single(entry.protocol, port, high)
        else:
            named.add((port, entry.protocol))
    return PortShape(numbers, frozenset(named))


def rule_covers(big: PolicyRule, small: PolicyRule, namespace: str, profile: EngineProfile) -> bool:
    """Whether rule ``big`` allows every flow rule ``small`` allows (same namespace and direction)."""
    if not (_interpretable(big) and _interpretable(small)):
        return False
    big_ports, small_ports = port_shape(big, profile), port_shape(small, profile)
    if big_ports is None or small_ports is None or small_ports.empty or not big_ports.covers(small_ports):
        return False
    if big.peers is None:
        return True
    if small.peers is None:
        return False
    return all(any(peer_covers(b, s, namespace, profile) for b in big.peers) for s in small.peers)


def _interpretable(rule: PolicyRule) -> bool:
    """False when ``from``/``to`` or ``ports`` is neither a list nor null (the model reads it as "all")."""
    node = rule.node
    if not isinstance(node, MapNode):
        return is_null(node)
    for key in (rule.direction.peers_key, "ports"):
        value = node.get(key)
        if value is not None and not isinstance(value, SeqNode) and not is_null(value):
            return False
    return True


def _where(rule: PolicyRule) -> str:
    return f"{rule.direction.lower} rule {rule.index} (line {rule.node.span.line})"


# -- NP705 ----------------------------------------------------------------------------


class RedundantRule(Rule):
    id = "NP705"
    name = "redundant-rule"
    summary = "A rule whose flows another rule of the same policy already allows."
    level = Level.NOTE
    about_form = True
    tags = ("hygiene",)

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        profile = engine_for(ctx.inventory, ctx.config).profile
        for policy in ctx.inventory.policies:
            for direction in (Direction.INGRESS, Direction.EGRESS):
                if not policy.isolates(direction):
                    continue
                rules = policy.rules(direction)
                for rule in rules:
                    cover = self._cover(policy, rule, rules, profile)
                    if cover is not None:
                        yield self._finding(policy, rule, cover, profile)
        from nplint.rules.kind_hygiene import kind_redundant_rules

        yield from kind_redundant_rules(self, ctx)

    @staticmethod
    def _cover(
        policy: NetworkPolicy, rule: PolicyRule, rules: Sequence[PolicyRule], profile: EngineProfile
    ) -> PolicyRule | None:
        for other in rules:
            if other is rule or not rule_covers(other, rule, policy.namespace, profile):
                continue
            # Two equal rules: only the later one is redundant.
            if other.index < rule.index or not rule_covers(rule, other, policy.namespace, profile):
                return other
        return None

    def _finding(
        self, policy: NetworkPolicy, rule: PolicyRule, cover: PolicyRule, profile: EngineProfile
    ) -> Finding:
        equal = rule_covers(rule, cover, policy.namespace, profile)
        how = "allows exactly the same" if equal else "already allows every peer and port of this one"
        return self.finding(
            policy,
            rule.node,
            f"this {_where(rule)} adds nothing that {_where(cover)} does not allow: delete it",
            related=[Related(policy.path, cover.node.span, f"the covering {_where(cover)}")],
            detail=(
                f"{_where(cover)[:1].upper()}{_where(cover)[1:]} of the same policy {how}, and allows "
                "within one policy are a union. Delete this rule, or merge what it was meant to add "
                f"into {_where(cover)}."
            ),
        )


# -- NP706 ----------------------------------------------------------------------------


class RedundantPolicy(Rule):
    id = "NP706"
    name = "redundant-policy"
    summary = "A policy whose isolation and flows other policies of its namespace already provide."
    level = Level.NOTE
    about_form = True
    tags = ("hygiene",)

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        from nplint.rules.kind_hygiene import kind_redundant_policies

        # The other kinds are compared as written, whatever the CNI enforces.
        yield from kind_redundant_policies(self, ctx)
        inventory = ctx.inventory
        engine = engine_for(inventory, ctx.config)
        if not engine.profile.enforces:
            return
        complete = workloads_by_namespace(inventory)
        ignored = {id(i.policy) for i in engine.ignored}
        policies = sorted(
            (p for p in inventory.policies if id(p) not in ignored),
            key=lambda p: (p.namespace, p.path, p.span.line, p.span.column),
        )
        # A namespace where two policies share a name holds alternatives (an install file
        # and its sources, test scenarios): which policies apply together is unknown (NP704).
        names: dict[tuple[str, str], int] = defaultdict(int)
        for policy in inventory.policies:
            names[(policy.namespace, policy.name)] += 1
        ambiguous = {namespace for (namespace, _), count in names.items() if count > 1}
        removed: set[int] = set()
        found: list[tuple[NetworkPolicy, NetworkPolicy]] = []
        # Latest first: of two equal policies the later one is reported, and a policy
        # already reported never counts as covering another. Only policies kept in the
        # same directory cover each other: other directories may be other variants.
        by_folder: dict[str, list[NetworkPolicy]] = defaultdict(list)
        for policy in policies:
            by_folder[_folder(policy.path)].append(policy)
        classes: dict[str, list[PodClass]] = defaultdict(list)
        for pod_class in engine.classes:
            classes[pod_class.namespace].append(pod_class)
        for policy in reversed(policies):
            if policy.namespace in ambiguous:
                continue
            peers = [p for p in by_folder[_folder(policy.path)] if p is not policy and id(p) not in removed]
            cover = _structural_cover(policy, peers, engine.profile)
            if (
                cover is None
                and policy.namespace in complete
                and shares_area(policy.path, complete[policy.namespace])
            ):
                cover = _engine_cover(policy, engine, classes[policy.namespace], {id(p) for p in peers})
            if cover is not None:
                removed.add(id(policy))
                found.append((policy, cover))
        for policy, cover in sorted(found, key=lambda f: (f[0].path, f[0].span.line)):
            yield self._finding(policy, cover)

    def _finding(self, policy: NetworkPolicy, cover: NetworkPolicy) -> Finding:
        metadata = policy.node.get_map("metadata")
        node: Node | None = metadata.get("name") if metadata is not None else None
        directions = " and ".join(d.lower for d in Direction if d in policy.effective_policy_types)
        return self.finding(
            policy,
            node,
            f"{policy.ref} adds nothing to the other policies of its namespace "
            f"({shown(cover.ref.name)} first): delete it",
            detail=(
                f"Every pod {policy.ref} selects is already isolated for {directions or 'no direction'} "
                f"by other policies of namespace {quoted(policy.namespace)}, and every rule of it is "
                f"already allowed by a rule of those policies ({cover.ref} first). Delete it, or make "
                "it say what the others do not."
            ),
            related=[
                Related(
                    cover.path,
                    cover.span,
                    f"the covering {cover.ref}",
                )
            ],
        )


def _may_cover(cover: NetworkPolicy, policy: NetworkPolicy, direction: Direction) -> bool:
    """A pure deny (isolation without rules) is kept on purpose next to the allows that also
    isolate, as the baseline that holds when they change: only another pure deny covers it."""
    pure = not any(policy.rules(d) for d in policy.effective_policy_types)
    return not pure or not cover.rules(direction)


def _folder(path: str) -> str:
    return path.rpartition("/")[0]


def _active_directions(policy: NetworkPolicy, profile: EngineProfile) -> list[Direction] | None:
    directions = [d for d in Direction if d in policy.effective_policy_types]
    if not directions or (Direction.EGRESS in directions and not profile.egress):
        return None
    return directions


def _rules_covered(
    policy: NetworkPolicy, direction: Direction, others: Sequence[NetworkPolicy], profile: EngineProfile
) -> NetworkPolicy | None:
    """The first of ``others`` that covers a rule of ``policy`` in ``direction``; None unless all are."""
    first: NetworkPolicy | None = None
    for rule in policy.rules(direction):
        cover = next(
            (
                q
                for q in others
                if any(rule_covers(r, rule, policy.namespace, profile) for r in q.rules(direction))
            ),
            None,
        )
        if cover is None:
            return None
        first = first or cover
    return first or others[0]


def _structural_cover(
    policy: NetworkPolicy, candidates: Sequence[NetworkPolicy], profile: EngineProfile
) -> NetworkPolicy | None:
    """A cover that holds for any pod: other policies select a superset and isolate the same directions."""
    directions = _active_directions(policy, profile)
    if directions is None:
        return None
    first: NetworkPolicy | None = None
    for direction in directions:
        others = [
            q
            for q in candidates
            if q.namespace == policy.namespace
            and q.isolates(direction)
            and selector_covers(q.pod_selector, policy.pod_selector)
            and _may_cover(q, policy, direction)
        ]
        if not others:
            return None
        cover = _rules_covered(policy, direction, others, profile)
        if cover is None:
            return None
        first = first or cover
    return first


def _engine_cover(
    policy: NetworkPolicy, engine: Engine, namespace_classes: Sequence[PodClass], allowed: set[int]
) -> NetworkPolicy | None:
    """A cover proven over the repository's workloads (the namespace shows all of its pods)."""
    directions = _active_directions(policy, engine.profile)
    if directions is None or policy.pod_selector.is_empty:
        # A namespace-wide policy is also for the pods the repository does not show yet.
        return None
    members = [
        c.index for c in namespace_classes if not c.host_network and policy.pod_selector.matches(c.labels)
    ]
    if not members:
        return None
    first: NetworkPolicy | None = None
    seen: dict[tuple[object, ...], NetworkPolicy | None] = {}
    for direction in directions:
        for cls in members:
            others = [
                q
                for q in engine.isolating[direction][cls]
                if id(q) in allowed and _may_cover(q, policy, direction)
            ]
            key = (direction is Direction.INGRESS, *(id(q) for q in others))
            if key not in seen:
                seen[key] = _rules_covered(policy, direction, others, engine.profile) if others else None
            cover = seen[key]
            if cover is None:
                return None
            first = first or cover
    return first


RULES = (RedundantRule, RedundantPolicy)
