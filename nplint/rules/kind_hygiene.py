"""NP104, NP206, NP705, NP706 for the policy kinds beyond NetworkPolicy (policy-kinds §3–§8).

AdminNetworkPolicy, BaselineAdminNetworkPolicy and ClusterNetworkPolicy; Calico
NetworkPolicy and GlobalNetworkPolicy; CiliumNetworkPolicy and
CiliumClusterwideNetworkPolicy. The rule classes stay in :mod:`.coverage` and
:mod:`.redundancy` and call the functions here, so a NetworkPolicy is judged
exactly as before.

"Selects nothing" asks the same evidence NP104 and NP206 ask of a NetworkPolicy
(:func:`nplint.rules.coverage.workloads_by_namespace`, :class:`RuntimePods`, the
cluster DNS pods) and matches with the functions the engine's layers match with
(:meth:`SelectorIndex.pods_matching`, :meth:`CalicoPolicy.selects` over
:func:`class_endpoint`, :meth:`CiliumSpec.selects` over :func:`identity_labels`).
A selector is judged only where every namespace it can reach is known by name and
has its workloads in the repository, and only when every label it reads is one
nplint sees on a pod; anything else is left alone, so a finding is a proof.

Redundancy is structural and exact: a rule or policy is compared with others as
written (its YAML content, positions left out), so only true duplicates count —
and where the kind's order decides (ANP rules, Calico rules), a later rule that
matches exactly what an earlier terminal rule matches, whatever its action.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace

from nplint.engine.calico_layer import class_endpoint
from nplint.engine.endpoints import PodClass
from nplint.engine.engine import Engine, engine_for
from nplint.findings import Finding, Related, listed, namespace_text
from nplint.loading.nodes import MapNode, Node
from nplint.model import Direction, LabelSelector, Operator, Workload
from nplint.model.admin import AdminPeer, AdminPolicy, AdminRule, PeerKind
from nplint.model.calico import Action as CalicoAction
from nplint.model.calico import CalicoPolicy, CalicoRule, EntityRule, SelectorField
from nplint.model.calico_selector import (
    NAME_LABEL,
    All,
    And,
    Has,
    LabelMatch,
    MatchOperator,
    Not,
    SelectorNode,
    namespace_labels,
)
from nplint.model.cilium import (
    NAMESPACE_LABEL,
    NAMESPACE_LABELS_PREFIX,
    CiliumPolicy,
    CiliumRule,
    CiliumSpec,
    EndpointSelector,
    identity_labels,
    label_name,
)
from nplint.model.inventory import NAMESPACE_NAME_LABEL
from nplint.model.objects import KubeObject
from nplint.model.runtime_pods import RuntimePods
from nplint.model.selectors import Requirement
from nplint.records import record
from nplint.rules.base import Rule, RuleContext
from nplint.rules.coverage import (
    _near_misses,
    _selector,
    cluster_dns_pods,
    shares_area,
    workloads_by_namespace,
)
from nplint.untrusted import quoted, shown

#: Calico's own labels nplint sets on every pod exactly as Calico does (policy-kinds §7.4).
_CALICO_KNOWN_SPECIAL = frozenset(("projectcalico.org/namespace", "projectcalico.org/orchestrator"))
#: The Cilium identity label that names a pod's namespace by name, through its namespace's labels.
_CILIUM_NAMESPACE_NAME = NAMESPACE_LABELS_PREFIX + NAMESPACE_NAME_LABEL


# -- the evidence both rules ask ------------------------------------------------------


@record(frozen=True, slots=True)
class Unmatched:
    """A selector that matches no workload of ``namespaces``, with what their pods carry."""

    namespaces: tuple[str, ...]
    near_misses: str

    @property
    def where(self) -> str:
        if len(self.namespaces) == 1:
            return namespace_text(self.namespaces[0])
        return f"namespaces {listed(shown(n) for n in self.namespaces)}"


class _Judge:
    """What NP104 and NP206 know of a world's namespaces, built once per check."""

    def __init__(self, ctx: RuleContext) -> None:
        self.ctx = ctx
        self.inventory = ctx.inventory
        self.engine: Engine = engine_for(ctx.inventory, ctx.config)
        self.complete = workloads_by_namespace(ctx.inventory)
        self.unseen = RuntimePods.of(ctx.inventory)
        self.classes: dict[str, list[PodClass]] = defaultdict(list)
        for pod_class in self.engine.classes:
            self.classes[pod_class.namespace].append(pod_class)

    def unmatched(
        self,
        policy: KubeObject,
        namespaces: Sequence[str] | None,
        pod_selector: LabelSelector,
        matches: Callable[[PodClass], bool],
    ) -> Unmatched | None:
        """Whether a selector surely matches no pod of ``namespaces``; None when it may match one.

        ``pod_selector`` is the selector over pod labels alone (its namespace keys taken
        out), for the evidence of pods the repository does not show and the near misses;
        ``matches`` decides a pod class the way the engine's layer decides it.
        """
        if not namespaces or pod_selector.is_empty:
            return None
        for name in namespaces:
            if not shares_area(policy.path, self.complete.get(name, ())):
                return None  # the namespace's workloads are not (all) in the repository
        candidates = [c for n in namespaces for c in self.classes[n]]
        if any(matches(c) for c in candidates if not c.host_network):
            return None
        if any(c.host_network and pod_selector.matches(c.labels) for c in candidates):
            return None  # host-network pods: policies do not select them, which is another matter
        for name in namespaces:
            if self.unseen.reason(name, pod_selector, self.complete[name]) is not None or cluster_dns_pods(
                self.ctx, name, pod_selector
            ):
                return None  # pods an operator, a controller or the cluster makes at run time
        workloads: list[Workload] = [w for n in namespaces for w in self.complete[n] if not w.host_network]
        return Unmatched(tuple(namespaces), _near_misses(pod_selector, workloads))

    def named_namespaces(self, names: set[str] | None, matches: Callable[[str], bool]) -> list[str] | None:
        """The namespaces of ``names`` that ``matches`` accepts; None when not limited by name."""
        if names is None:
            return None
        return sorted(n for n in names if matches(n))


def _pinned(selector: LabelSelector, keys: frozenset[str]) -> set[str] | None:
    """The values a selector requires of any of ``keys`` (names of namespaces), if it does."""
    names: set[str] | None = None
    for key, value in selector.match_labels:
        if key in keys:
            names = {value} if names is None else names & {value}
    for requirement in selector.expressions:
        if requirement.key in keys and requirement.operator is Operator.IN:
            names = set(requirement.values) if names is None else names & requirement.values
    return names


def _without(selector: LabelSelector, keys: Callable[[str], bool]) -> LabelSelector:
    """``selector`` with the requirements on keys ``keys`` accepts left out."""
    return LabelSelector(
        tuple((k, v) for k, v in selector.match_labels if not keys(k)),
        tuple(r for r in selector.expressions if not keys(r.key)),
        selector.node,
    )


def _in_classes(classes: frozenset[int]) -> Callable[[PodClass], bool]:
    return lambda pod_class: pod_class.index in classes


def _calico_subject(policy: CalicoPolicy) -> Callable[[PodClass], bool]:
    return lambda pod_class: policy.selects(class_endpoint(pod_class))


def _cilium_subject(spec: CiliumSpec) -> Callable[[PodClass], bool]:
    return lambda pod_class: spec.selects(_cilium_identity(pod_class))


# -- Admin policies --------------------------------------------------------------------


def _admin_pinned(selector: LabelSelector | None, judge: _Judge) -> list[str] | None:
    if selector is None:
        return None
    inventory = judge.inventory
    return judge.named_namespaces(
        _pinned(selector, frozenset((NAMESPACE_NAME_LABEL,))),
        lambda n: selector.matches(inventory.namespace_labels(n)),
    )


def _admin_subject_node(policy: AdminPolicy) -> Node | None:
    spec = policy.node.get_map("spec")
    subject = spec.get_map("subject") if spec is not None else None
    pods = subject.get_map("pods") if subject is not None else None
    return pods.get("podSelector") if pods is not None else None


def _admin_selects_nothing(rule: Rule, judge: _Judge) -> Iterator[Finding]:
    index = judge.engine.index
    for policy in judge.inventory.admin_policies:
        if policy.rejected or policy.subject_namespaces is None or policy.subject_pods is None:
            continue
        namespaces = _admin_pinned(policy.subject_namespaces, judge)
        subjects = index.pods_matching(
            index.namespaces_matching(policy.subject_namespaces), policy.subject_pods
        )
        found = judge.unmatched(policy, namespaces, policy.subject_pods, _in_classes(subjects))
        if found is None:
            continue
        node = _admin_subject_node(policy)
        yield rule.finding(
            policy,
            node,
            f"subject podSelector {_selector(policy.subject_pods)} matches no workload of {found.where}: "
            "fix it to match their template labels",
            span=node.key_span if node is not None else None,
            detail=(
                f"The {policy.title}'s subject selects pods of {found.where} by "
                f"{policy.subject_pods}, which matches none of them ({found.near_misses}), so its rules "
                "apply to no pod. Fix the selector to match the pods' template labels."
            ),
        )


def _admin_peers_select_nothing(rule: Rule, judge: _Judge) -> Iterator[Finding]:
    for policy in judge.inventory.admin_policies:
        if policy.rejected:
            continue
        for direction in Direction:
            for admin_rule in policy.rules(direction):
                for peer in admin_rule.peers:
                    finding = _admin_peer(rule, judge, policy, admin_rule, peer)
                    if finding is not None:
                        yield finding


def _admin_peer(
    rule: Rule,
    judge: _Judge,
    policy: AdminPolicy,
    admin_rule: AdminRule,
    peer: AdminPeer,
) -> Finding | None:
    if peer.kind is not PeerKind.PODS or peer.pods is None or peer.namespaces is None:
        return None  # v1alpha2 without namespaceSelector: every namespace, never all known
    engine_index = judge.engine.index
    namespaces = _admin_pinned(peer.namespaces, judge)
    selected = engine_index.pods_matching(engine_index.namespaces_matching(peer.namespaces), peer.pods)
    found = judge.unmatched(policy, namespaces, peer.pods, _in_classes(selected))
    if found is None:
        return None
    pods = peer.node.get_map("pods") if isinstance(peer.node, MapNode) else None
    node = pods.get("podSelector") if pods is not None else None
    key = "from" if admin_rule.direction is Direction.INGRESS else "to"
    return rule.finding(
        policy,
        node if node is not None else peer.node,
        f"this {key} peer's podSelector {_selector(peer.pods)} matches no pod of {found.where}: "
        "fix its labels",
        span=node.key_span if node is not None else None,
        detail=(
            f"{admin_rule.label[:1].upper()}{admin_rule.label[1:]} of this {policy.title} names pods "
            f"{peer.pods} of {found.where}; none of them match ({found.near_misses}), so the peer matches "
            "no traffic. Fix the selector to match the pods' template labels."
        ),
    )


# -- Calico ----------------------------------------------------------------------------


def calico_label_selector(field: SelectorField) -> LabelSelector | None:
    """The Calico selector as a Kubernetes label selector, when it is one: a conjunction of
    ``==``, ``!=``, ``in``, ``not in``, ``has()``, ``!has()`` and ``all()``. Calico's negative
    operators match resources without the label (K21), as ``NotIn`` and ``DoesNotExist`` do.
    None for anything else (``||``, ``contains``, ``starts with``, ``!`` over an expression,
    ``global()``, a selector that does not parse)."""
    if field.selector is None or field.yaml_tag is not None:
        return None
    labels: list[tuple[str, str]] = []
    requirements: list[Requirement] = []
    stack: list[SelectorNode] = [field.selector.root]
    while stack:
        node = stack.pop()
        if isinstance(node, And):
            stack.extend(node.operands)
        elif isinstance(node, All):
            continue
        elif isinstance(node, Has):
            requirements.append(Requirement(node.key, Operator.EXISTS, frozenset()))
        elif isinstance(node, Not) and isinstance(node.operand, Has):
            requirements.append(Requirement(node.operand.key, Operator.DOES_NOT_EXIST, frozenset()))
        elif isinstance(node, LabelMatch) and node.operator is MatchOperator.EQ:
            labels.append((node.key, node.values[0]))
        elif isinstance(node, LabelMatch) and node.operator is MatchOperator.IN:
            requirements.append(Requirement(node.key, Operator.IN, frozenset(node.values)))
        elif isinstance(node, LabelMatch) and node.operator in (MatchOperator.NE, MatchOperator.NOT_IN):
            requirements.append(Requirement(node.key, Operator.NOT_IN, frozenset(node.values)))
        else:
            return None
    return LabelSelector(tuple(sorted(labels)), tuple(requirements), field.node)


def _calico_pod_selector(field: SelectorField) -> LabelSelector | None:
    """The pod-label part of a Calico selector; None when it reads a label nplint does not see
    (a service account, or another of Calico's own ``projectcalico.org/`` labels)."""
    selector = calico_label_selector(field)
    if selector is None:
        return None
    for key in selector.keys:
        if key.startswith("projectcalico.org/") and key not in _CALICO_KNOWN_SPECIAL:
            return None
    return _without(selector, lambda k: k in _CALICO_KNOWN_SPECIAL)


def _calico_namespaces(field: SelectorField | None, judge: _Judge) -> list[str] | None:
    """The namespaces a Calico ``namespaceSelector`` names by name (``projectcalico.org/name``
    or ``kubernetes.io/metadata.name``); None when it does not limit them so."""
    if field is None:
        return None
    selector = calico_label_selector(field)
    if selector is None:
        return None
    inventory = judge.inventory
    return judge.named_namespaces(
        _pinned(selector, frozenset((NAME_LABEL, NAMESPACE_NAME_LABEL))),
        lambda n: field.matches(namespace_labels(inventory.namespace_labels(n), n)),
    )


def _calico_selects_nothing(rule: Rule, judge: _Judge) -> Iterator[Finding]:
    for policy in judge.inventory.calico_policies:
        if policy.service_account_selector is not None:
            continue  # service accounts: nplint does not know a pod's labels of its account
        pod_selector = _calico_pod_selector(policy.selector)
        if pod_selector is None:
            continue
        if policy.is_global:
            namespaces = _calico_namespaces(policy.namespace_selector, judge)
        else:
            namespaces = [policy.home_namespace]
        found = judge.unmatched(policy, namespaces, pod_selector, _calico_subject(policy))
        if found is None:
            continue
        node = policy.selector.node
        yield rule.finding(
            policy,
            node,
            f"selector {shown(policy.selector.text, 36)} matches no workload of {found.where}: "
            "fix it to match their pod labels",
            span=node.key_span if node is not None else None,
            detail=(
                f"The {policy.kind}'s selector `{shown(policy.selector.text)}` matches none of the workloads "
                f"of {found.where} ({found.near_misses}), so it applies to no pod. Fix the selector to "
                "match the pods' template labels."
            ),
        )


def _calico_peers_select_nothing(rule: Rule, judge: _Judge) -> Iterator[Finding]:
    for policy in judge.inventory.calico_policies:
        for direction in Direction:
            for calico_rule in policy.rules(direction):
                finding = _calico_peer(rule, judge, policy, calico_rule)
                if finding is not None:
                    yield finding


def _calico_peer(rule: Rule, judge: _Judge, policy: CalicoPolicy, calico_rule: CalicoRule) -> Finding | None:
    entity = calico_rule.peer
    if (
        entity.selector is None
        or entity.not_selector is not None
        or entity.service_account_names
        or entity.service_account_selector is not None
        or entity.service is not None
    ):
        return None
    pod_selector = _calico_pod_selector(entity.selector)
    if pod_selector is None:
        return None
    if entity.namespace_selector is not None:
        namespaces = _calico_namespaces(entity.namespace_selector, judge)
    elif policy.is_global:
        return None  # every namespace, network sets and host endpoints
    else:
        namespaces = [policy.home_namespace]
    if _network_set_matches(judge, policy, entity):
        return None  # a rule selector also matches network sets (policy-kinds §7.5, K23)
    scope = None if policy.is_global else policy.home_namespace
    # The L3 selector part alone: addresses and ports are other matters.
    labels_only = replace(entity, nets=(), not_nets=(), ports=(), not_ports=())
    found = judge.unmatched(
        policy, namespaces, pod_selector, lambda c: labels_only.matches_endpoint(class_endpoint(c), scope)
    )
    if found is None:
        return None
    side = "source" if calico_rule.direction is Direction.INGRESS else "destination"
    node = entity.selector.node
    return rule.finding(
        policy,
        node,
        f"this {calico_rule.direction.lower} rule's {side} selector {shown(entity.selector.text, 36)} "
        f"matches no pod of {found.where}: fix its labels",
        span=node.key_span if node is not None else None,
        detail=(
            f"{calico_rule.direction.value} rule {calico_rule.index} of this {policy.kind} names its {side} "
            f"by `{shown(entity.selector.text)}`, which matches no pod of {found.where} "
            f"({found.near_misses}) and no network set, so the rule matches no traffic. Fix the selector "
            "to match the pods' template labels."
        ),
    )


def _network_set_matches(judge: _Judge, policy: CalicoPolicy, entity: EntityRule) -> bool:
    assert entity.selector is not None
    for network_set in judge.inventory.calico_network_sets:
        if entity.selector.matches(network_set.labels):
            return True
    return False


# -- Cilium ----------------------------------------------------------------------------


def _cilium_pod_selector(selector: EndpointSelector) -> LabelSelector | None:
    """The pod-label part of a Cilium selector; None when it reads an identity label nplint
    does not see as Cilium does (``reserved:`` and other sources, service accounts, clusters,
    namespace labels other than the name, policy-kinds §8.3, K39)."""
    effective = LabelSelector(
        tuple((label_name(k), v) for k, v in selector.written.match_labels),
        tuple(Requirement(label_name(r.key), r.operator, r.values) for r in selector.written.expressions),
        selector.written.node,
    )
    for key in selector.written.keys:
        name = label_name(key)
        if ":" in name:
            return None  # a source other than k8s/any: no pod label
        if name in (NAMESPACE_LABEL, _CILIUM_NAMESPACE_NAME):
            continue
        if name.startswith(("io.cilium.", "io.kubernetes.")):
            return None
    return _without(effective, lambda k: k in (NAMESPACE_LABEL, _CILIUM_NAMESPACE_NAME))


def _cilium_named(selector: LabelSelector) -> set[str] | None:
    return _pinned(
        LabelSelector(
            tuple((label_name(k), v) for k, v in selector.match_labels),
            tuple(Requirement(label_name(r.key), r.operator, r.values) for r in selector.expressions),
        ),
        frozenset((NAMESPACE_LABEL, _CILIUM_NAMESPACE_NAME)),
    )


def _cilium_identity(pod_class: PodClass) -> Mapping[str, str]:
    return identity_labels(pod_class.labels, pod_class.namespace, pod_class.namespace_labels)


def _cilium_selects_nothing(rule: Rule, judge: _Judge) -> Iterator[Finding]:
    for policy in judge.inventory.cilium_policies:
        for spec in policy.specs:
            selector = spec.endpoint_selector
            if selector is None or spec.node_selector is not None:
                continue  # a host policy selects nodes, whose labels nplint does not see
            pod_selector = _cilium_pod_selector(selector)
            if pod_selector is None:
                continue
            namespaces: list[str] | None
            if policy.is_clusterwide:
                # `{}` selects every endpoint, kube-system's and Cilium's own included (K35).
                namespaces = judge.named_namespaces(_cilium_named(selector.written), lambda n: True)
            else:
                namespaces = [policy.home_namespace]
            found = judge.unmatched(policy, namespaces, pod_selector, _cilium_subject(spec))
            if found is None:
                continue
            node = selector.node
            yield rule.finding(
                policy,
                node,
                f"endpointSelector {_selector(pod_selector)} matches no workload of {found.where}: "
                "fix it to match their template labels",
                span=node.key_span if node is not None else None,
                detail=(
                    f"The {policy.kind}'s endpointSelector {selector.written} matches none of the workloads "
                    f"of {found.where} ({found.near_misses}), so the rule applies to no pod. Fix the "
                    "selector to match the pods' template labels."
                ),
            )


def _cilium_peers_select_nothing(rule: Rule, judge: _Judge) -> Iterator[Finding]:
    for policy in judge.inventory.cilium_policies:
        for spec in policy.specs:
            for cilium_rule in (*spec.ingress, *spec.ingress_deny, *spec.egress, *spec.egress_deny):
                for selector in cilium_rule.endpoints or ():
                    finding = _cilium_peer(rule, judge, policy, cilium_rule, selector)
                    if finding is not None:
                        yield finding


def _cilium_peer(
    rule: Rule, judge: _Judge, policy: CiliumPolicy, cilium_rule: CiliumRule, selector: EndpointSelector
) -> Finding | None:
    pod_selector = _cilium_pod_selector(selector)
    if pod_selector is None:
        return None
    namespaces: list[str] | None
    by_label = any(label_name(k) == _CILIUM_NAMESPACE_NAME for k in selector.written.keys)
    if selector.names_namespace or (by_label and policy.is_clusterwide):
        namespaces = judge.named_namespaces(_cilium_named(selector.written), lambda n: True)
    elif by_label:
        return None  # a namespaced policy keeps the peer in its namespace: NP016 says so
    elif policy.is_clusterwide:
        return None  # every namespace
    else:
        namespaces = [policy.home_namespace]
    found = judge.unmatched(policy, namespaces, pod_selector, lambda c: selector.matches(_cilium_identity(c)))
    if found is None:
        return None
    field = ("from" if cilium_rule.direction is Direction.INGRESS else "to") + "Endpoints"
    node = selector.node
    return rule.finding(
        policy,
        node,
        f"this {field} selector {_selector(pod_selector)} matches no pod of {found.where}: fix its labels",
        span=node.key_span if node is not None else None,
        detail=(
            f"The selector {selector.written} matches no pod of {found.where} ({found.near_misses}), so "
            f"this {'deny ' if cilium_rule.deny else ''}rule matches no traffic from these endpoints. Fix "
            "the selector to match the pods' template labels."
        ),
    )


# -- entry points of NP104 and NP206 ---------------------------------------------------


def kinds_selecting_nothing(rule: Rule, ctx: RuleContext) -> Iterator[Finding]:
    """NP104 for the other policy kinds: a subject selector that matches no workload."""
    inventory = ctx.inventory
    if not (inventory.admin_policies or inventory.calico_policies or inventory.cilium_policies):
        return
    judge = _Judge(ctx)
    yield from _admin_selects_nothing(rule, judge)
    yield from _calico_selects_nothing(rule, judge)
    yield from _cilium_selects_nothing(rule, judge)


def kind_peers_selecting_nothing(rule: Rule, ctx: RuleContext) -> Iterator[Finding]:
    """NP206 for the other policy kinds: a peer selector that matches no pod."""
    inventory = ctx.inventory
    if not (inventory.admin_policies or inventory.calico_policies or inventory.cilium_policies):
        return
    judge = _Judge(ctx)
    yield from _admin_peers_select_nothing(rule, judge)
    yield from _calico_peers_select_nothing(rule, judge)
    yield from _cilium_peers_select_nothing(rule, judge)


# -- NP705, NP706 ----------------------------------------------------------------------


def _written(node: Node | None, leave_out: tuple[str, ...] = ()) -> str:
    """A node's content as written, positions and key order aside: equal text, equal meaning."""
    if node is None:
        return "null"
    value = node.to_python()
    if isinstance(value, dict):
        value = {k: v for k, v in value.items() if k not in leave_out}
    return json.dumps(value, sort_keys=True, default=str)


def _rule_words(direction: Direction, index: int, name: str | None = None) -> str:
    text = f"{direction.lower} rule {index}"
    return text if not name else f"{text} {quoted(name)}"


def kind_redundant_rules(rule: Rule, ctx: RuleContext) -> Iterator[Finding]:
    """NP705 for the other policy kinds: a rule that never decides anything an earlier one does not."""
    for admin in ctx.inventory.admin_policies:
        if admin.rejected:
            continue
        for direction in Direction:
            yield from _ordered_shadows(
                rule,
                admin,
                [
                    (r.node, _rule_words(direction, r.index, r.name), _written(r.node, ("name", "action")))
                    for r in admin.rules(direction)
                    if r.action is not None
                ],
                f"{admin.title} rules are evaluated in order and the first that matches decides",
            )
    for calico in ctx.inventory.calico_policies:
        for direction in Direction:
            entries: list[tuple[Node, str, str]] = []
            terminal: list[bool] = []
            for calico_rule in calico.rules(direction):
                if calico_rule.action is None:
                    continue
                entries.append(
                    (
                        calico_rule.node,
                        _rule_words(direction, calico_rule.index),
                        _written(calico_rule.node, ("action", "metadata")),
                    )
                )
                terminal.append(calico_rule.action is not CalicoAction.LOG)
            yield from _ordered_shadows(
                rule,
                calico,
                entries,
                "Calico evaluates a policy's rules in order and the first Allow, Deny or Pass that "
                "matches decides",
                terminal,
            )
    for cilium in ctx.inventory.cilium_policies:
        for spec in cilium.specs:
            for section, rules in _cilium_sections(spec):
                seen: dict[str, CiliumRule] = {}
                for cilium_rule in rules:
                    key = _written(cilium_rule.node)
                    first = seen.setdefault(key, cilium_rule)
                    if first is cilium_rule:
                        continue
                    yield rule.finding(
                        cilium,
                        cilium_rule.node,
                        f"this {section} rule {cilium_rule.index} is the same as rule {first.index}: "
                        "delete it",
                        related=[Related(cilium.path, first.node.span, f"{section} rule {first.index}")],
                        detail=(
                            f"{section} rule {first.index} of the same Cilium rule is written exactly so, "
                            "and Cilium takes the union of a section's rules: this one adds nothing. "
                            "Delete it."
                        ),
                    )


def _cilium_sections(spec: CiliumSpec) -> Iterator[tuple[str, tuple[CiliumRule, ...]]]:
    yield "ingress", spec.ingress
    yield "ingressDeny", spec.ingress_deny
    yield "egress", spec.egress
    yield "egressDeny", spec.egress_deny


def _ordered_shadows(
    rule: Rule,
    policy: KubeObject,
    entries: Sequence[tuple[Node, str, str]],
    why: str,
    terminal: Sequence[bool] | None = None,
) -> Iterator[Finding]:
    """Rules of one ordered list that an earlier rule matching exactly the same traffic decides first.

    ``entries`` are (node, words, what the rule matches as written, its action left out);
    ``terminal`` says which rules end the evaluation when they match (all when None).
    """
    first: dict[str, int] = {}
    for position, (node, words, key) in enumerate(entries):
        earlier = first.get(key)
        if earlier is not None:
            cover_node, cover_words, _ = entries[earlier]
            yield rule.finding(
                policy,
                node,
                f"this {words} never matches: {cover_words} matches exactly the same traffic first: "
                "delete it",
                related=[Related(policy.path, cover_node.span, f"the earlier {cover_words}")],
                detail=(
                    f"{why}: {cover_words} matches every connection this rule matches (the same peers and "
                    "ports), so this rule never decides anything. Delete it, or change what it matches."
                ),
            )
        elif terminal is None or terminal[position]:
            first[key] = position


def kind_redundant_policies(rule: Rule, ctx: RuleContext) -> Iterator[Finding]:
    """NP706 for the other policy kinds: a policy written exactly as another that decides first.

    Two such policies select the same pods and match the same traffic: whatever the
    later one could decide, the earlier one decided (an ANP of lower priority number, a
    Calico policy of lower ``order`` in the same tier), and a Cilium policy adds to a
    union that already holds it. Both must be in one directory (other directories may be
    variants) and have different names (one name is one object in the cluster).
    """
    groups: dict[tuple[str, ...], list[tuple[tuple[object, ...], KubeObject]]] = defaultdict(list)
    for admin in ctx.inventory.admin_policies:
        if admin.rejected:
            continue
        spec = _written(admin.node.get("spec"), ("priority",))
        order = (admin.priority if admin.priority is not None else -1, admin.name)
        groups[(admin.kind, admin.api_version, "", _folder(admin.path), spec)].append((order, admin))
    for calico in ctx.inventory.calico_policies:
        if any(r.action is CalicoAction.LOG for d in Direction for r in calico.rules(d)):
            continue  # a Log rule logs again in the second policy
        spec = _written(calico.node.get("spec"), ("order",))
        group: tuple[str, ...] = (
            calico.kind,
            calico.api_version,
            calico.home_namespace,
            _folder(calico.path),
            spec,
        )
        groups[group].append((calico.sort_key, calico))
    for cilium in ctx.inventory.cilium_policies:
        spec = _written(cilium.node.get("spec")) + _written(cilium.node.get("specs"))
        group = (cilium.kind, cilium.api_version, cilium.home_namespace, _folder(cilium.path), spec)
        groups[group].append(((cilium.path, cilium.span.line, cilium.span.column), cilium))
    found: list[tuple[KubeObject, KubeObject]] = []
    for key in sorted(groups):
        members = sorted(groups[key], key=lambda m: (m[0], m[1].path, m[1].span.line))
        first = members[0][1]
        for _, policy in members[1:]:
            if policy.name != first.name:
                found.append((policy, first))
    for policy, first in sorted(found, key=lambda f: (f[0].path, f[0].span.line, f[0].span.column)):
        metadata = policy.node.get_map("metadata")
        node: Node | None = metadata.get("name") if metadata is not None else None
        yield rule.finding(
            policy,
            node,
            f"{policy.kind} {shown(policy.name)} is written exactly as {shown(first.name)}"
            f"{'' if isinstance(policy, CiliumPolicy) else ', which decides first'}: delete it",
            related=[Related(first.path, first.span, f"{first.kind} {shown(first.name)}")],
            detail=(
                f"{policy.kind} {shown(policy.name)} selects the same pods and matches the same traffic as "
                f"{shown(first.name)} ({first.path}:{first.span.line}), which "
                f"{_decides_first(policy)}: it never decides anything. Delete it, or make it say what the "
                "other does not."
            ),
        )


def _decides_first(policy: KubeObject) -> str:
    if isinstance(policy, AdminPolicy):
        return "has the same or a higher precedence (priority, then name)"
    if isinstance(policy, CalicoPolicy):
        return "runs before it in the same tier (order, then name)"
    return "already adds every rule of it to the union Cilium enforces"


def _folder(path: str) -> str:
    return path.rpartition("/")[0]
