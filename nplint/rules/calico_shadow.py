"""NP710: a Calico Allow that an earlier policy's Deny of the same tier always beats.

Inside a tier Calico runs the policies that select an endpoint by (``order``, name) —
order absent last — and their rules in written order; the first matching rule decides
(policy-kinds §7.8, [CAL-FELIX] PolKVLess). A Deny in an earlier policy whose match holds
everything a later policy's Allow matches, for every endpoint that later policy selects,
decides all of that traffic first: the Allow can never take effect (pitfall K15,
projectcalico/calico#7896).

The comparison is on the rules as written, so it holds for pods the repository does not
show: the Deny's policy must select every endpoint the Allow's does (same or wider
selectors, same namespace or global), and each criterion of the Deny must be absent or
at least as wide as the Allow's. Anything nplint cannot compare (named ports against
numbers, ``notNets``, ICMP codes, ``http``) counts as not covered.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from nplint.engine.calico_layer import CalicoLayers, order_text
from nplint.engine.engine import engine_for
from nplint.findings import Finding, Level, Related
from nplint.model import Direction
from nplint.model.calico import (
    Action,
    CalicoPolicy,
    CalicoRule,
    EntityRule,
    PortRange,
    SelectorField,
    protocol_number,
)
from nplint.rules.base import Rule, RuleContext
from nplint.untrusted import shown

_RUNS_CALICO = frozenset(("calico", "canal"))
#: Characters of a name in the headline (the detail gives it whole).
_NAME_LIMIT = 30


class CalicoAllowShadowed(Rule):
    id = "NP710"
    name = "calico-allow-shadowed"
    summary = "A Calico Allow that a Deny of an earlier policy of the same tier always decides first."
    level = Level.WARNING
    tags = ("calico", "order", "hygiene")

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        profile = ctx.cluster.profile
        if profile.name not in _RUNS_CALICO or not profile.enforces:
            return
        engine = engine_for(ctx.inventory, ctx.config)
        layer = engine.cni_layer
        if not isinstance(layer, CalicoLayers):
            return
        ignored = {id(i.policy) for i in layer.ignored}
        policies = sorted(
            (p for p in ctx.inventory.calico_policies if id(p) not in ignored and not p.host_endpoints_only),
            key=lambda p: (p.tier, _place(p), p.kind, p.path, p.span.line, p.span.column),
        )
        directions = [d for d in Direction if d is Direction.INGRESS or profile.egress]
        for later_index, later in enumerate(policies):
            earlier_policies = [
                p for p in policies[:later_index] if p.tier == later.tier and _place(p) < _place(later)
            ]
            if not earlier_policies:
                continue
            for direction in directions:
                if direction not in later.types:
                    continue
                for allow in later.rules(direction):
                    if allow.action is not Action.ALLOW:
                        continue
                    found = _shadowing(earlier_policies, later, allow, direction)
                    if found is not None:
                        yield self._finding(later, allow, *found)

    def _finding(
        self, policy: CalicoPolicy, allow: CalicoRule, earlier: CalicoPolicy, deny: CalicoRule
    ) -> Finding:
        line = deny.node.span.line
        where = order_text(earlier.order)
        message = (
            f"this Allow is never reached: the Deny of {shown(earlier.name, _NAME_LIMIT)} "
            f"({where}, line {line}) decides all of it first; give this policy a lower order"
        )
        detail = (
            f"{policy.kind} {shown(policy.name)} ({order_text(policy.order)}) and {earlier.kind} "
            f"{shown(earlier.name)} ({where}) are both in tier {shown(policy.tier)}, and Calico runs the "
            "earlier first for every endpoint both select (policy-kinds §7.8, pitfall K15). "
            f"Its {allow.direction.lower} rule {deny.index} matches everything that "
            f"{allow.direction.lower} rule {allow.index} here allows, for every endpoint this policy "
            "selects, so this Allow is never reached. Give this policy a lower `order` than the "
            "Deny's, or narrow the Deny (e.g. with `notSelector`/`notNets`) to leave this traffic out."
        )
        action = allow.node.get("action")
        related = [Related(earlier.path, deny.node.span, f"the Deny of {earlier.kind} {shown(earlier.name)}")]
        return self.finding(
            policy, action if action is not None else allow.node, message, detail=detail, related=related
        )


def _place(policy: CalicoPolicy) -> tuple[float, str, str]:
    """Where a policy runs in its tier, as the Calico layer sorts it: order (absent last), name, namespace."""
    return (math.inf if policy.order is None else policy.order, policy.name, policy.home_namespace)


def _shadowing(
    earlier_policies: list[CalicoPolicy], later: CalicoPolicy, allow: CalicoRule, direction: Direction
) -> tuple[CalicoPolicy, CalicoRule] | None:
    """The first Deny of an earlier policy that decides all of ``allow`` first, if any."""
    if allow.http:
        return None
    for earlier in earlier_policies:
        if direction not in earlier.types or not _selects_all_of(earlier, later):
            continue
        for rule in earlier.rules(direction):
            if rule.action is Action.DENY and _covers(rule, allow, earlier, later):
                return earlier, rule
            if rule.action in (Action.ALLOW, Action.PASS) and _covers(rule, allow, earlier, later):
                return None  # an earlier rule decides the same traffic otherwise: not this Deny
    return None


def _everything(field: SelectorField | None) -> bool:
    return field is None or field.text.strip(" \t") in ("", "all()")


def _same(a: SelectorField | None, b: SelectorField | None) -> bool:
    if a is None or b is None:
        return a is b
    return a.error is None and b.error is None and a.text.strip(" \t") == b.text.strip(" \t")


def _selects_all_of(earlier: CalicoPolicy, later: CalicoPolicy) -> bool:
    """Every endpoint ``later`` selects, ``earlier`` selects too."""
    if not earlier.is_global and (later.is_global or later.home_namespace != earlier.home_namespace):
        return False
    if earlier.selector.error is not None or later.selector.error is not None:
        return False
    if not (_everything(earlier.selector) or _same(earlier.selector, later.selector)):
        return False
    for wide, narrow in (
        (earlier.namespace_selector, later.namespace_selector),
        (earlier.service_account_selector, later.service_account_selector),
    ):
        if wide is not None and not _same(wide, narrow):
            return False
    return True


def _covers(deny: CalicoRule, allow: CalicoRule, earlier: CalicoPolicy, later: CalicoPolicy) -> bool:
    """Whether ``deny`` matches every packet ``allow`` matches (judged on the rules as written)."""
    if deny.http:
        return False
    allowed = protocol_number(allow.protocol)
    if deny.protocol is not None and protocol_number(deny.protocol) != allowed:
        return False
    if deny.not_protocol is not None and (allowed is None or allowed == protocol_number(deny.not_protocol)):
        return False
    if deny.ip_version is not None and deny.ip_version != allow.ip_version:
        return False
    if (deny.icmp is not None or deny.not_icmp is not None) and (
        deny.icmp != allow.icmp or deny.not_icmp != allow.not_icmp
    ):
        return False
    return (
        _entity_covers(deny.source, allow.source, earlier.is_global)
        and _entity_covers(deny.destination, allow.destination, earlier.is_global)
        and _ports_cover(deny.destination.ports, allow.destination.ports)
        and _ports_cover(deny.source.ports, allow.source.ports)
        and not deny.destination.not_ports
        and not deny.source.not_ports
    )


def _entity_covers(wide: EntityRule, narrow: EntityRule, wide_global: bool) -> bool:
    """Whether ``wide`` matches every address and endpoint ``narrow`` matches."""
    if wide.service is not None or wide.not_nets or wide.not_selector is not None:
        if wide.service != narrow.service or wide.not_nets != narrow.not_nets:
            return False
        if not _same(wide.not_selector, narrow.not_selector):
            return False
    if wide.nets:
        if not narrow.nets:
            return False
        if not all(
            any(n.version == w.version and n.subnet_of(w) for w in wide.nets)  # type: ignore[arg-type]
            for n in narrow.nets
        ):
            return False
    labelled = wide.selector is not None or wide.namespace_selector is not None
    if labelled:
        # A selector matches known endpoints only (never an outside address), and in a namespaced
        # policy only its own namespace unless a namespaceSelector widens it (policy-kinds §7.5).
        if narrow.selector is None and narrow.namespace_selector is None:
            return False
        if wide.namespace_selector is None and not wide_global and narrow.namespace_selector is not None:
            return False  # the Deny's selector sees its own namespace only; the Allow's sees others
        if wide.selector is not None and not (
            (_everything(wide.selector) and narrow.selector is not None)
            or _same(wide.selector, narrow.selector)
        ):
            return False
        if wide.namespace_selector is not None and not _same(
            wide.namespace_selector, narrow.namespace_selector
        ):
            return False
    if wide.service_account_names and set(narrow.service_account_names) - set(wide.service_account_names):
        return False
    if wide.service_account_names and not narrow.service_account_names:
        return False
    return wide.service_account_selector is None or _same(
        wide.service_account_selector, narrow.service_account_selector
    )


def _ports_cover(wide: tuple[PortRange | str, ...], narrow: tuple[PortRange | str, ...]) -> bool:
    if not wide:
        return True
    if not narrow:
        return False
    for entry in narrow:
        if isinstance(entry, str):
            if entry not in wide:
                return False
        elif not any(
            isinstance(w, PortRange) and w.first <= entry.first and entry.last <= w.last for w in wide
        ):
            return False
    return True


RULES = (CalicoAllowShadowed,)
