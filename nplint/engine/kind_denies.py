"""Calico and Cilium policies that put every pod of a namespace in default deny for a direction.

What NP101/NP102 accept beside a NetworkPolicy with ``podSelector: {}``, on a CNI that
enforces the kind (the detail names the object either way):

* **Calico** (policy-kinds §7.7, §7.8): a GlobalNetworkPolicy, or a NetworkPolicy of the
  namespace, that selects every pod of it (a selector that reads only the labels Calico puts on
  every endpoint of a namespace — ``all()``, ``projectcalico.org/namespace``,
  ``projectcalico.org/orchestrator`` — and, for a GlobalNetworkPolicy, a ``namespaceSelector``
  matching the namespace), governs the direction (``types``), and whose tier ends in ``Deny``
  (tier ``default``, or a Tier of the repository with ``defaultAction: Deny``), or that denies
  everything by a rule; in both cases no rule of it allows or passes everything first.
* **Cilium** (§8.2, §8.9): a CiliumClusterwideNetworkPolicy, or a CiliumNetworkPolicy of the
  namespace, with a rule (``spec`` / ``specs[i]``) whose endpointSelector selects every pod of
  it (empty, or restricted by the namespace's own identity labels only) and that puts the
  direction in default deny (``enableDefaultDeny``, defaulted from a non-empty section), with no
  allow rule taking every peer on every port (``fromEntities``/``toEntities: [all]``, or a rule
  with only a ``toPorts`` entry without ports).

An earlier tier or policy that allows everything is not looked for here (nor is it for a
NetworkPolicy default deny; NP105 reports allow-alls).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from nplint.model.calico import WELL_KNOWN_TIERS, Action, CalicoPolicy, CalicoRule, CalicoTier, TierAction
from nplint.model.calico_selector import (
    NAME_LABEL,
    NAMESPACE_LABEL,
    ORCHESTRATOR_LABEL,
    And,
    Has,
    LabelMatch,
    Not,
    Or,
    SelectorNode,
    endpoint_labels,
)
from nplint.model.cilium import (
    NAMESPACE_LABEL as CILIUM_NAMESPACE_LABEL,
)
from nplint.model.cilium import (
    NAMESPACE_LABELS_PREFIX,
    CiliumPolicy,
    CiliumRule,
    CiliumSpec,
    identity_labels,
)
from nplint.model.objects import Direction
from nplint.records import record
from nplint.untrusted import shown

#: The labels Calico gives every workload endpoint of a namespace alike (policy-kinds §7.4).
_NAMESPACE_WIDE_KEYS = frozenset((NAMESPACE_LABEL, ORCHESTRATOR_LABEL))


@record(frozen=True, slots=True)
class KindDefaultDeny:
    """A Calico or Cilium object that denies by default every pod of a namespace in a direction."""

    kind: str
    name: str
    path: str
    line: int
    #: How it denies: "its tier default ends in Deny", "ingress rule 0 denies everything", …
    how: str
    #: None when the CNI enforces it; else why it decides nothing.
    not_enforced: str | None

    def describe(self) -> str:
        return f"{self.kind} {shown(self.name)} ({self.path}:{self.line}) {self.how}"


def kind_default_denies(
    calico_policies: Sequence[CalicoPolicy],
    calico_tiers: Sequence[CalicoTier],
    cilium_policies: Sequence[CiliumPolicy],
    namespace: str,
    namespace_labels: Mapping[str, str],
    direction: Direction,
    profile_name: str,
    profile_title: str,
    enforces: bool = True,
) -> list[KindDefaultDeny]:
    """The Calico and Cilium default denies of ``namespace`` in ``direction``, enforced ones first."""
    found: list[KindDefaultDeny] = []
    tiers: dict[str, TierAction] = {name: action for name, (_, action) in WELL_KNOWN_TIERS.items()}
    for tier in sorted(calico_tiers, key=lambda t: (t.name, t.path, t.span)):
        tiers.setdefault(tier.name, tier.default_action or TierAction.DENY)
    if calico_policies:
        reason = _not_enforced("calico", "Calico policies", profile_name, profile_title, enforces)
        for policy in sorted(calico_policies, key=lambda p: (p.sort_key, p.home_namespace, p.path, p.span)):
            how = _calico_denies(policy, tiers, namespace, namespace_labels, direction)
            if how is not None:
                title = f"Calico {policy.kind}"
                name = policy.name if policy.is_global else f"{policy.home_namespace}/{policy.name}"
                found.append(KindDefaultDeny(title, name, policy.path, policy.span.line, how, reason))
    if cilium_policies:
        reason = _not_enforced(
            "cilium",
            "CiliumNetworkPolicy or CiliumClusterwideNetworkPolicy",
            profile_name,
            profile_title,
            enforces,
        )
        for cilium in sorted(cilium_policies, key=lambda p: (p.home_namespace, p.name, p.path, p.span)):
            for spec in cilium.specs:
                if _cilium_denies(cilium, spec, namespace, namespace_labels, direction):
                    where = f"specs[{spec.index}] " if spec.index is not None else ""
                    name = cilium.name if cilium.is_clusterwide else f"{cilium.home_namespace}/{cilium.name}"
                    how = f"{where}puts {direction.lower} of every pod in default deny"
                    found.append(
                        KindDefaultDeny(cilium.kind, name, cilium.path, cilium.span.line, how, reason)
                    )
                    break
    return sorted(found, key=lambda d: d.not_enforced is not None)


def _not_enforced(cni: str, kinds: str, profile_name: str, profile_title: str, enforces: bool) -> str | None:
    if not enforces:
        return f"{profile_title} enforces no network policy"
    # Canal runs Calico's policy engine (policy-kinds §10).
    runs = profile_name == cni or (cni == "calico" and profile_name == "canal")
    return None if runs else f"{profile_title} does not enforce {kinds}"


# -- Calico --------------------------------------------------------------------------------


def _keys(node: SelectorNode) -> set[str]:
    if isinstance(node, (Has, LabelMatch)):
        return {node.key}
    if isinstance(node, Not):
        return _keys(node.operand)
    if isinstance(node, (And, Or)):
        return set().union(*(_keys(operand) for operand in node.operands))
    return set()


def _calico_selects_namespace(
    policy: CalicoPolicy, namespace: str, namespace_labels: Mapping[str, str]
) -> bool:
    if not policy.is_global and policy.home_namespace != namespace:
        return False
    selector = policy.selector.selector
    if selector is None or not _keys(selector.root) <= _NAMESPACE_WIDE_KEYS:
        return False  # a selector reading pod labels may leave some pod out
    if not selector.matches(endpoint_labels({}, namespace)):
        return False
    if policy.service_account_selector is not None:
        account = policy.service_account_selector.selector
        if account is None or not account.is_all:
            return False
    if policy.is_global and policy.namespace_selector is not None:
        return policy.namespace_selector.matches({**namespace_labels, NAME_LABEL: namespace})
    return True


def _matches_everything(rule: CalicoRule) -> bool:
    """A rule that matches every connection of its direction: no protocol, peer or port criterion."""
    if rule.protocol is not None or rule.not_protocol is not None or rule.icmp or rule.not_icmp:
        return False
    if rule.ip_version is not None:
        return False
    for entity in (rule.source, rule.destination):
        if (
            entity.nets
            or entity.not_nets
            or entity.selectors
            or entity.service_account_names
            or entity.service
            or entity.ports
            or entity.not_ports
        ):
            return False
    return True


def _calico_denies(
    policy: CalicoPolicy,
    tiers: Mapping[str, TierAction],
    namespace: str,
    namespace_labels: Mapping[str, str],
    direction: Direction,
) -> str | None:
    if direction not in policy.types or policy.tier not in tiers:
        return None
    if not _calico_selects_namespace(policy, namespace, namespace_labels):
        return None
    for rule in policy.rules(direction):
        if not _matches_everything(rule):
            continue
        if rule.action is Action.DENY:
            return f"{direction.lower} rule {rule.index} denies everything"
        if rule.action in (Action.ALLOW, Action.PASS):
            return None
    if tiers[policy.tier] is TierAction.DENY:
        return f"governs {direction.lower} of every pod, and its tier {shown(policy.tier)} ends in Deny"
    return None


# -- Cilium --------------------------------------------------------------------------------


def _cilium_selects_namespace(
    policy: CiliumPolicy, spec: CiliumSpec, namespace: str, namespace_labels: Mapping[str, str]
) -> bool:
    if not policy.is_clusterwide and policy.home_namespace != namespace:
        return False
    selector = spec.endpoint_selector
    if selector is None or spec.node_selector is not None:
        return False
    effective = selector.effective
    if any(
        key != CILIUM_NAMESPACE_LABEL and not key.startswith(NAMESPACE_LABELS_PREFIX)
        for key in effective.keys
    ):
        return False  # a selector reading pod labels may leave some pod out
    return effective.matches(identity_labels({}, namespace, namespace_labels))


def _allows_everything(rule: CiliumRule) -> bool:
    if rule.deny or rule.icmps is not None:
        return False
    every_port = rule.to_ports is None or any(
        not port_rule.ports and not port_rule.l7 for port_rule in rule.to_ports
    )
    if not every_port:
        return False
    return "all" in (rule.entities or ()) or (rule.any_peer and rule.to_ports is not None)


def _cilium_denies(
    policy: CiliumPolicy,
    spec: CiliumSpec,
    namespace: str,
    namespace_labels: Mapping[str, str],
    direction: Direction,
) -> bool:
    if not spec.default_deny(direction):
        return False
    if not _cilium_selects_namespace(policy, spec, namespace, namespace_labels):
        return False
    return not any(_allows_everything(rule) for rule in spec.allows(direction))
