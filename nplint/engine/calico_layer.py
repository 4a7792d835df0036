"""The Calico layer: tiers, ``order`` and end-of-tier actions on a Calico world (policy-kinds §7.8, §9.1).

Per side (the source's egress, the destination's ingress) of a workload endpoint:

* tiers run by (``order``, name), order absent last; a tier takes part only when one of its
  policies selects the endpoint with that direction in ``types`` (§7.7), otherwise it is
  skipped entirely;
* inside a tier, policies by (``order``, name), rules in written order; the first matching
  rule decides a connection: ``Allow`` and ``Deny`` are final, ``Log`` goes on with the next
  rule, ``Pass`` goes to the next tier;
* what no rule of a taking-part tier matched meets the tier's default action: ``Deny`` (the
  end-of-tier drop) or ``Pass``;
* Kubernetes NetworkPolicies are Calico policies ``knp.default.<name>`` of tier ``default`` at
  order 1000 ([CAL-CONV] ``K8sNetworkPolicyToCalico``): allow rules only, governing the
  directions of their effective policyTypes;
* what every tier passed or skipped meets the namespace's profile ``kns.<ns>``: allowed.

A policy whose Tier is neither in the repository nor one Calico defines itself decides
nothing (Calico refuses to create a policy in a tier that does not exist) and is listed in
:attr:`CalicoLayers.ignored`.

Service accounts (policy-kinds §7.4): a pod's account is its ``spec.serviceAccountName``
(``default`` when absent), seen as ``projectcalico.org/serviceaccount``; ``serviceAccountSelector``
and ``serviceAccounts.selector`` see the ServiceAccount object's labels plus
``projectcalico.org/name``. Where the world does not hold the ServiceAccount object its labels
are unknown: the selectors see its name alone (as if it carried no labels), and the verdict's
notes say so (not for ``default``, which Kubernetes makes in every namespace without labels).
In a namespaced policy ``serviceAccounts`` see the policy's namespace only.

Not modelled: host endpoints (host-network pods are neither selected nor matched by a selector; ``nets`` still
match their addresses), ``services`` peers (they match nothing), the ``http`` part of a rule
(its L3/L4 part decides, policy-kinds §12.5), source ports (a connection is named by its
destination port), and the ANP/BANP/ClusterNetworkPolicy tiers Calico builds itself.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from nplint.engine.portsets import ALL_PORTS, NO_PORTS, PortSet
from nplint.model.admin import Action as AdminAction
from nplint.model.admin import AdminPolicy, Tier
from nplint.model.calico import (
    WELL_KNOWN_TIERS,
    Action,
    CalicoEndpoint,
    CalicoPolicy,
    CalicoRule,
    EntityRule,
    PortRange,
    TierAction,
    protocol_number,
)
from nplint.model.calico_selector import NAME_LABEL, endpoint_labels
from nplint.model.objects import PROTOCOLS, Direction, IPNetwork, NetworkPolicy
from nplint.records import record
from nplint.untrusted import shown

if TYPE_CHECKING:
    from nplint.engine.cni_layer import LayerStep
    from nplint.engine.endpoints import AddressRange, PodClass
    from nplint.engine.engine import Engine
    from nplint.engine.layers import AppliedAdminRule

#: Where Calico puts a Kubernetes NetworkPolicy: tier ``default``, order 1000 (policy-kinds §7.8).
KNP_TIER = "default"
KNP_ORDER = 1000.0
_PROTOCOL_NAMES = {6: "TCP", 17: "UDP", 132: "SCTP"}


@record(frozen=True, slots=True, eq=False)
class AppliedCalicoRule:
    """A Calico rule with its peer resolved to the pod classes it matches."""

    uid: int
    policy: CalicoPolicy
    rule: CalicoRule
    #: The pod classes the rule's far side (source of ingress, destination of egress) matches.
    peers: frozenset[int]
    has_named_port: bool


@record(frozen=True, slots=True, eq=False)
class KubernetesEntry:
    """A Kubernetes NetworkPolicy's place in tier ``default``: its allow rules, in one step."""

    uid: int
    policy: NetworkPolicy


@record(frozen=True, slots=True, eq=False)
class AdminEntry:
    """A rule of an AdminNetworkPolicy, BaselineAdminNetworkPolicy or ClusterNetworkPolicy in the
    tier Calico builds for its kind (policy-kinds §9.1), resolved by the engine's admin layers."""

    uid: int
    applied: AppliedAdminRule


Entry = AppliedCalicoRule | KubernetesEntry | AdminEntry

#: The tier Calico puts each kind of the Network Policy API in (policy-kinds §9.1): v1alpha1's
#: ``adminnetworkpolicy`` (order 1000) and ``baselineadminnetworkpolicy`` (order 10,000,000),
#: v1alpha2's ``kube-admin`` and ``kube-baseline`` at the same orders; each ends in Pass.
ADMIN_TIERS: dict[tuple[str, Tier], str] = {
    ("AdminNetworkPolicy", Tier.ADMIN): "adminnetworkpolicy",
    ("BaselineAdminNetworkPolicy", Tier.BASELINE): "baselineadminnetworkpolicy",
    ("ClusterNetworkPolicy", Tier.ADMIN): "kube-admin",
    ("ClusterNetworkPolicy", Tier.BASELINE): "kube-baseline",
}


@record(frozen=True, slots=True)
class TierPlan:
    """One tier that takes part in a side: its entries in evaluation order and its end."""

    name: str
    order: float | None
    end: TierAction
    entries: tuple[Entry, ...]
    #: The policies that make the tier take part (they select the endpoint for the direction).
    governed_by: tuple[CalicoPolicy | NetworkPolicy | AdminPolicy, ...] = ()

    @property
    def key(self) -> tuple[object, ...]:
        return (self.name, self.end.value, tuple(e.uid for e in self.entries))


@record(frozen=True, slots=True)
class IgnoredCalicoPolicy:
    policy: CalicoPolicy
    reason: str


@record(frozen=True, slots=True)
class CalicoStep:
    """What one entry (or a tier's end, or the profile) did with some of a side's connections."""

    #: "rule", "kubernetes", "tier-end" or "profile".
    what: str
    action: str
    ports: PortSet
    tier: str = ""
    entry: Entry | None = None
    plan: TierPlan | None = None

    def describe(self) -> str:
        words = {"Allow": "allows", "Deny": "denies", "Pass": "passes on", "Log": "logs (and goes on with)"}
        entry = self.entry
        if isinstance(entry, AppliedCalicoRule):
            policy, rule = entry.policy, entry.rule
            return (
                f"{policy_title(policy)} (tier {shown(policy.tier)}, {order_text(policy.order)}) "
                f"{rule.direction.lower} rule {rule.index} ({policy.path}:{rule.node.span.line}): "
                f"{words[self.action]} {self.ports.describe()}"
            )
        if isinstance(entry, KubernetesEntry):
            return (
                f"{object_title(entry.policy)}, in Calico tier default at order 1000: "
                f"allows {self.ports.describe()}"
            )
        if isinstance(entry, AdminEntry):
            admin, admin_rule = entry.applied.policy, entry.applied.rule
            return (
                f"{object_title(admin)}, in Calico tier {shown(self.tier)}, {admin_rule.direction.lower} "
                f"{admin_rule.label} ({admin.path}:{admin_rule.node.span.line}): {words[self.action]} "
                f"{self.ports.describe()}"
            )
        if self.what == "tier-end":
            governing = ", ".join(object_title(p) for p in self.plan.governed_by) if self.plan else ""
            return (
                f"no rule of Calico tier {shown(self.tier)} matches {self.ports.describe()}"
                + (f" (the tier governs it through {governing})" if governing else "")
                + f": its end-of-tier action {self.action} {words[self.action]} it"
            )
        return f"no tier decides {self.ports.describe()}: the namespace's profile allows it"

    def related(self) -> tuple[str, int, int, str] | None:
        """(path, line, column, message) of the rule or policy that decided, for related locations."""
        entry = self.entry
        if isinstance(entry, AppliedCalicoRule):
            policy, rule = entry.policy, entry.rule
            span = rule.node.span
            return (
                policy.path,
                span.line,
                span.column,
                f"rule {rule.index} of Calico {policy.kind} {policy.name}",
            )
        if isinstance(entry, KubernetesEntry):
            kube = entry.policy
            return (
                kube.path,
                kube.span.line,
                kube.span.column,
                f"NetworkPolicy {kube.namespace}/{kube.name}",
            )
        if isinstance(entry, AdminEntry):
            admin, admin_rule = entry.applied.policy, entry.applied.rule
            span = admin_rule.node.span
            return (admin.path, span.line, span.column, f"{admin_rule.label} of {admin.title} {admin.name}")
        if self.plan is not None and self.plan.governed_by:
            first = self.plan.governed_by[0]
            span = first.span
            return (
                first.path,
                span.line,
                span.column,
                f"end of Calico tier {self.tier}: {first.kind} {first.name}",
            )
        return None

    def to_json(self) -> dict[str, object]:
        found: dict[str, object] = {
            "step": self.what,
            "action": self.action,
            "connections": self.ports.describe(),
        }
        entry = self.entry
        if isinstance(entry, AppliedCalicoRule):
            policy = entry.policy
            found |= {
                "kind": policy.kind,
                "namespace": None if policy.is_global else policy.home_namespace,
                "name": policy.name,
                "path": policy.path,
                "line": policy.span.line,
                "tier": policy.tier,
                "direction": entry.rule.direction.lower,
                "rule": entry.rule.index,
                "rule_line": entry.rule.node.span.line,
            }
        elif isinstance(entry, KubernetesEntry):
            found |= {
                "kind": "NetworkPolicy",
                "namespace": entry.policy.namespace,
                "name": entry.policy.name,
                "path": entry.policy.path,
                "line": entry.policy.span.line,
                "tier": KNP_TIER,
            }
        elif isinstance(entry, AdminEntry):
            admin = entry.applied.policy
            found |= {
                "kind": admin.kind,
                "namespace": None,
                "name": admin.name,
                "path": admin.path,
                "line": admin.span.line,
                "tier": self.tier,
                "direction": entry.applied.rule.direction.lower,
                "rule": entry.applied.rule.index,
                "rule_line": entry.applied.rule.node.span.line,
            }
        elif self.what == "tier-end":
            found["tier"] = self.tier
        return found


def policy_title(policy: CalicoPolicy) -> str:
    where = shown(policy.name) if policy.is_global else f"{shown(policy.home_namespace)}/{shown(policy.name)}"
    return f"Calico {policy.kind} {where} ({policy.path}:{policy.span.line})"


def object_title(policy: CalicoPolicy | NetworkPolicy | AdminPolicy) -> str:
    if isinstance(policy, CalicoPolicy):
        return policy_title(policy)
    if isinstance(policy, AdminPolicy):
        return f"{policy.title} {shown(policy.name)} ({policy.path}:{policy.span.line})"
    return f"NetworkPolicy {policy.namespace}/{policy.name} ({policy.path}:{policy.span.line})"


def order_text(order: float | None) -> str:
    if order is None:
        return "no order"
    return f"order {int(order) if order == int(order) else order}"


def class_endpoint(cls: PodClass, account_labels: Mapping[str, str] | None = None) -> CalicoEndpoint:
    """The pod class as Calico's selectors see it; ``account_labels`` are its ServiceAccount's."""
    ips = []
    for text in cls.ips:
        try:
            ips.append(ipaddress.ip_address(text))
        except ValueError:
            continue
    named: dict[str, list[tuple[str, int]]] = {}
    for port in cls.ports:
        if port.name:
            named.setdefault(port.name, []).append((port.protocol, port.port))
    account = cls.service_account or "default"
    return CalicoEndpoint(
        labels=endpoint_labels(cls.labels, cls.namespace, account),
        namespace=cls.namespace,
        namespace_labels=cls.namespace_labels,
        service_account=account,
        service_account_labels=dict(account_labels or {}),
        ips=tuple(ips),
        named_ports={k: tuple(v) for k, v in named.items()},
    )


class CalicoLayers:
    """Every workload side the Calico layer decides, for one engine on a Calico world."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.ignored: list[IgnoredCalicoPolicy] = []
        self.applied: list[AppliedCalicoRule] = []
        self._uid = 0
        inventory = engine.inventory
        self.endpoints = [
            class_endpoint(c, inventory.service_account_labels(c.namespace, c.service_account))
            for c in engine.classes
        ]
        count = len(engine.classes)
        #: direction → class → the tiers taking part, in order; () when no Calico policy governs it.
        self.plans: dict[Direction, list[tuple[TierPlan, ...]]] = {
            d: [() for _ in range(count)] for d in Direction
        }
        self._build()

    def _next_uid(self) -> int:
        self._uid += 1
        return self._uid

    def _tiers(self) -> dict[str, tuple[float | None, TierAction]]:
        tiers: dict[str, tuple[float | None, TierAction]] = dict(WELL_KNOWN_TIERS)
        for tier in sorted(self.engine.inventory.calico_tiers, key=lambda t: (t.name, t.path, t.span)):
            if tier.name in WELL_KNOWN_TIERS or tier.name in tiers:
                continue  # Calico fixes the well-known tiers; the first of a duplicate wins
            tiers[tier.name] = (tier.order, tier.default_action or TierAction.DENY)
        return tiers

    def _build(self) -> None:
        engine = self.engine
        tiers = self._tiers()
        policies = sorted(
            engine.inventory.calico_policies,
            key=lambda p: (p.sort_key, p.home_namespace, p.kind, p.path, p.span),
        )
        directions = [d for d in Direction if d is Direction.INGRESS or engine.profile.egress]
        workloads = [c for c in engine.classes if not c.host_network]
        # tier → direction → class → [(sort key, policy, entries)]
        chosen: dict[
            str,
            dict[
                Direction,
                dict[int, list[tuple[tuple[float, str, str], CalicoPolicy | NetworkPolicy, list[Entry]]]],
            ],
        ] = {}
        for policy in policies:
            if policy.tier not in tiers:
                self.ignored.append(
                    IgnoredCalicoPolicy(
                        policy,
                        f"its Tier {shown(policy.tier)} is not in the repository, and Calico refuses a "
                        "policy whose tier does not exist",
                    )
                )
                continue
            subjects = [c.index for c in workloads if policy.selects(self.endpoints[c.index])]
            if not subjects:
                continue
            applied = {
                d: [self._apply(policy, r) for r in policy.rules(d) if r.action is not None]
                for d in directions
            }
            key = (*policy.sort_key, policy.home_namespace)
            for direction in directions:
                if direction not in policy.types:
                    continue
                for cls in subjects:
                    entries: list[Entry] = [
                        a for a in applied[direction] if self._local_matches(a.rule, cls, policy)
                    ]
                    chosen.setdefault(policy.tier, {}).setdefault(direction, {}).setdefault(cls, []).append(
                        (key, policy, entries)
                    )
        # Kubernetes NetworkPolicies join tier default only where a Calico policy governs the
        # side: elsewhere the engine's own NetworkPolicy layer gives the same answer.
        governed = {d: {cls for by_dir in chosen.values() for cls in by_dir.get(d, {})} for d in directions}
        knp: dict[int, KubernetesEntry] = {}
        for direction in directions:
            for cls in governed[direction]:
                for kube in engine.isolating[direction][cls]:
                    entry = knp.get(id(kube))
                    if entry is None:
                        entry = knp[id(kube)] = KubernetesEntry(self._next_uid(), kube)
                    kube_key = (KNP_ORDER, f"knp.default.{kube.name}", kube.namespace)
                    chosen.setdefault(KNP_TIER, {}).setdefault(direction, {}).setdefault(cls, []).append(
                        (kube_key, kube, [entry])
                    )
        self._admin_tiers(chosen, governed)
        order = sorted(tiers, key=lambda name: (math.inf if tiers[name][0] is None else tiers[name][0], name))
        for direction in directions:
            for cls in governed[direction]:
                plan = []
                for name in order:
                    found = chosen.get(name, {}).get(direction, {}).get(cls)
                    if not found:
                        continue
                    found.sort(key=lambda item: item[0])
                    in_order = tuple(e for _, _, group in found for e in group)
                    governing = tuple(p for _, p, _ in found)
                    plan.append(TierPlan(name, tiers[name][0], tiers[name][1], in_order, governing))
                self.plans[direction][cls] = tuple(plan)

    def _admin_tiers(
        self,
        chosen: dict[str, dict[Direction, dict[int, list[tuple[tuple[float, str, str], Any, list[Entry]]]]]],
        governed: dict[Direction, set[int]],
    ) -> None:
        """The Network Policy API's kinds the CNI enforces at its version (the engine's admin layers
        hold only those), each in the tier Calico builds for it, where a Calico policy governs the
        side: elsewhere the admin layers give the same answer (their tiers end in Pass, §9.1)."""
        layers = self.engine.layers
        if layers is None:
            return
        entries: dict[int, AdminEntry] = {}
        for tier in (Tier.ADMIN, Tier.BASELINE):
            for position, policy in enumerate(layers.enforced[tier]):
                name = ADMIN_TIERS.get((policy.kind, policy.tier))
                if name is None:
                    continue
                subjects = layers.subjects(policy)
                for direction, classes in governed.items():
                    applied = layers.by_policy.get(id(policy), {}).get(direction, ())
                    if not applied:
                        continue
                    group: list[Entry] = []
                    for rule in applied:
                        entry = entries.get(rule.uid)
                        if entry is None:
                            entry = entries[rule.uid] = AdminEntry(self._next_uid(), rule)
                        group.append(entry)
                    # The admin layers' precedence (priority, then kind and name) is Calico's order.
                    key = (float(position), "", "")
                    for cls in sorted(classes & subjects):
                        chosen.setdefault(name, {}).setdefault(direction, {}).setdefault(cls, []).append(
                            (key, policy, group)
                        )

    def _apply(self, policy: CalicoPolicy, rule: CalicoRule) -> AppliedCalicoRule:
        peer = rule.peer
        namespace = None if policy.is_global else policy.home_namespace
        peers = frozenset(
            c.index for c in self.engine.classes if self._entity_matches_class(peer, c, namespace)
        )
        named = any(isinstance(p, str) for p in (*rule.destination.ports, *rule.destination.not_ports))
        applied = AppliedCalicoRule(self._next_uid(), policy, rule, peers, named)
        self.applied.append(applied)
        return applied

    def _local_matches(self, rule: CalicoRule, cls: int, policy: CalicoPolicy) -> bool:
        """The rule's own side (destination of ingress, source of egress) holds the subject."""
        local = rule.local
        if not (
            local.nets or local.not_nets or local.selectors or local.service_account_names or local.service
        ):
            return True
        namespace = None if policy.is_global else policy.home_namespace
        return self._entity_matches_class(local, self.engine.classes[cls], namespace)

    def _entity_matches_class(self, entity: EntityRule, cls: PodClass, namespace: str | None) -> bool:
        if entity.service is not None:
            return False  # `services` peers are not modelled: they match nothing here
        endpoint = self.endpoints[cls.index]
        scoped = entity.selectors or entity.service_account_names
        if cls.host_network and scoped:
            return False  # a host-network pod is a host endpoint, not a workload endpoint
        if (entity.nets or entity.not_nets) and not endpoint.ips:
            if entity.nets and not self._nets_hold_unknown(entity.nets, cls):
                return False
            if entity.not_nets and any(self._nets_hold_unknown((n,), cls) for n in entity.not_nets):
                return False
            entity = replace(entity, nets=(), not_nets=())
        if not scoped and cls.host_network:
            return entity.matches_endpoint(endpoint, namespace) if endpoint.ips else True
        return entity.matches_endpoint(endpoint, namespace)

    def _nets_hold_unknown(self, nets: tuple[IPNetwork, ...], cls: PodClass) -> bool:
        """Whether a pod of unknown address is surely in ``nets``: they hold the whole pod (or node) range."""
        ranges = self.engine.node_cidrs if cls.host_network else self.engine.pod_cidrs
        for net in nets:
            candidates = [r for r in ranges if r.version == net.version] or (
                [net] if net.prefixlen == 0 else []
            )
            if any(c.subnet_of(net) for c in candidates):  # type: ignore[arg-type]
                return True
        return False

    # -- evaluation -------------------------------------------------------------------

    def governs(self, direction: Direction, cls: int) -> bool:
        return bool(self.plans[direction][cls])

    def side_key(self, direction: Direction, cls: int) -> tuple[object, ...]:
        return tuple(plan.key for plan in self.plans[direction][cls])

    def has_named_port(self, direction: Direction, cls: int) -> bool:
        return any(
            (isinstance(e, AppliedCalicoRule) and e.has_named_port)
            or (isinstance(e, AdminEntry) and e.applied.has_named_port)
            for plan in self.plans[direction][cls]
            for e in plan.entries
        )

    def rule_ports(self, applied: AppliedCalicoRule, destination: PodClass | None) -> PortSet:
        rule = applied.rule
        protocols = PortSet.nothing()
        number = protocol_number(rule.protocol)
        for name in PROTOCOLS:
            if name == "SCTP" and not self.engine.profile.sctp:
                continue
            if rule.protocol is not None and _PROTOCOL_NAMES.get(number or -1) != name:
                continue
            if (
                rule.not_protocol is not None
                and _PROTOCOL_NAMES.get(protocol_number(rule.not_protocol) or -1) == name
            ):
                continue
            protocols = protocols | PortSet.protocol(name)
        entity = rule.destination
        result = protocols
        if entity.ports:
            result = protocols & self._ports(entity.ports, destination)
        if entity.not_ports:
            result = result - self._ports(entity.not_ports, destination)
        return result

    @staticmethod
    def _ports(entries: tuple[PortRange | str, ...], destination: PodClass | None) -> PortSet:
        result = NO_PORTS
        for entry in entries:
            if isinstance(entry, PortRange):
                for name in PROTOCOLS:
                    result = result | PortSet.single(name, entry.first, entry.last)
                continue
            for port in destination.ports if destination is not None else ():
                if port.name == entry and port.protocol in PROTOCOLS:
                    result = result | PortSet.single(port.protocol, port.port)
        return result

    def matches(self, applied: AppliedCalicoRule, peer: int | AddressRange) -> bool:
        if isinstance(peer, int):
            return peer in applied.peers
        return self._entity_matches_address(applied, peer)

    def _entity_matches_address(self, applied: AppliedCalicoRule, address: AddressRange) -> bool:
        rule, entity, policy = applied.rule, applied.rule.peer, applied.policy
        if rule.ip_version is not None and rule.ip_version != address.version:
            return False
        if entity.service is not None or entity.service_account_names or entity.service_account_selector:
            return False
        ip = address.first_address
        if entity.nets and not any(ip in net for net in entity.nets):
            return False
        if entity.not_nets and any(ip in net for net in entity.not_nets):
            return False
        if entity.selector is None and entity.namespace_selector is None:
            if entity.not_selector is None:
                return True
            # `notSelector` negates the packet match: everything but the network sets it names (§7.5).
            return not any(
                entity.not_selector.matches(labels) for labels in self._sets_holding(ip, entity, policy)
            )
        # A selector matches known resources only: outside addresses through network sets (§7.5).
        for labels in self._sets_holding(ip, entity, policy):
            if entity.selector is not None and not entity.selector.matches(labels):
                continue
            if entity.not_selector is not None and entity.not_selector.matches(labels):
                continue
            return True
        return False

    def _sets_holding(
        self, ip: ipaddress.IPv4Address | ipaddress.IPv6Address, entity: EntityRule, policy: CalicoPolicy
    ) -> list[dict[str, str]]:
        """Labels of the network sets in the rule's scope that hold ``ip``."""
        found = []
        inventory = self.engine.inventory
        for net_set in inventory.calico_network_sets:
            if not any(ip in net for net in net_set.nets):
                continue
            selector = entity.namespace_selector
            if net_set.is_global:
                in_scope = (selector is not None and selector.is_global) or (
                    selector is None and policy.is_global
                )
            elif selector is not None:
                labels = inventory.namespace_labels(net_set.home_namespace)
                in_scope = not selector.is_global and selector.matches(
                    {**labels, NAME_LABEL: net_set.home_namespace}
                )
            else:
                in_scope = policy.is_global or net_set.home_namespace == policy.home_namespace
            if in_scope:
                found.append(dict(net_set.labels))
        return found

    def notes(self, classes: set[int], several: bool) -> list[str]:
        found = []
        for skipped in self.ignored:
            if any(skipped.policy.selects(self.endpoints[i]) for i in sorted(classes)):
                found.append(
                    f"{policy_title(skipped.policy)} selects {'an end' if several else 'it'} "
                    f"but decides nothing: {skipped.reason}"
                )
        found.extend(self._unknown_account_notes(classes))
        return found

    def _unknown_account_notes(self, classes: set[int]) -> list[str]:
        """Ends whose ServiceAccount object the world lacks, where a service-account selector is used."""
        if not self._uses_account_selectors():
            return []
        engine = self.engine
        inventory = engine.inventory
        missing: dict[tuple[str, str], None] = {}
        for index in sorted(classes):
            cls = engine.classes[index]
            # Kubernetes makes account `default` in every namespace, without labels: it is known.
            if cls.host_network or cls.service_account == "default":
                continue
            if inventory.service_account_labels(cls.namespace, cls.service_account) is None:
                missing.setdefault((cls.namespace, cls.service_account), None)
        return [
            f"ServiceAccount {shown(namespace)}/{shown(name)} is not in the repository: Calico's "
            "service-account selectors saw its name alone (projectcalico.org/name), as if it carried "
            "no labels"
            for namespace, name in sorted(missing)
        ]

    def _uses_account_selectors(self) -> bool:
        ignored = {id(i.policy) for i in self.ignored}
        return any(
            policy.service_account_selector is not None
            or any(
                entity.service_account_selector is not None
                for rule in (*policy.ingress, *policy.egress)
                for entity in (rule.source, rule.destination)
            )
            for policy in self.engine.inventory.calico_policies
            if id(policy) not in ignored
        )

    def evaluate(
        self,
        direction: Direction,
        subject: int,
        peer: int | AddressRange,
        destination: PodClass | None,
        policy_ports: Callable[[NetworkPolicy], PortSet],
        asked: PortSet,
        steps: list[LayerStep] | None = None,
    ) -> PortSet:
        found: list[CalicoStep] | None = [] if steps is not None else None
        result = evaluate(self, direction, subject, peer, destination, policy_ports, asked, found)
        if steps is not None and found is not None:
            steps.extend(found)
        return result

    def networks(self) -> list[IPNetwork]:
        """Every CIDR Calico rules and network sets name (they cut the outside address ranges)."""
        found: list[IPNetwork] = []
        for policy in self.engine.inventory.calico_policies:
            for rule in (*policy.ingress, *policy.egress):
                for entity in (rule.source, rule.destination):
                    found.extend(entity.nets)
                    found.extend(entity.not_nets)
        for net_set in self.engine.inventory.calico_network_sets:
            found.extend(net_set.nets)
        return found


def evaluate(
    layers: CalicoLayers,
    direction: Direction,
    subject: int,
    peer: int | AddressRange,
    destination: PodClass | None,
    kubernetes: Callable[[NetworkPolicy], PortSet],
    asked: PortSet = ALL_PORTS,
    steps: list[CalicoStep] | None = None,
) -> PortSet:
    """What the side allows of ``asked`` through every tier and the profile."""
    open_ports = asked
    allowed = NO_PORTS
    for plan in layers.plans[direction][subject]:
        if not open_ports:
            break
        passed = NO_PORTS
        for entry in plan.entries:
            if not open_ports:
                break
            if isinstance(entry, KubernetesEntry):
                taken = kubernetes(entry.policy) & open_ports
                if taken:
                    allowed = allowed | taken
                    open_ports = open_ports - taken
                    if steps is not None:
                        steps.append(CalicoStep("kubernetes", "Allow", taken, plan.name, entry))
                continue
            if isinstance(entry, AdminEntry):
                admin_layers = layers.engine.layers
                assert admin_layers is not None
                if admin_layers.matches(entry.applied, peer) is None:
                    continue
                taken = admin_layers.rule_ports(entry.applied, destination) & open_ports
                admin_action = entry.applied.rule.action
                if not taken or admin_action is None:
                    continue
                if steps is not None:
                    steps.append(CalicoStep("rule", admin_action.value, taken, plan.name, entry))
                if admin_action is AdminAction.ALLOW:
                    allowed = allowed | taken
                elif admin_action is AdminAction.PASS:
                    passed = passed | taken
                open_ports = open_ports - taken
                continue
            if not layers.matches(entry, peer):
                continue
            taken = layers.rule_ports(entry, destination) & open_ports
            if not taken:
                continue
            action = entry.rule.action
            if steps is not None:
                steps.append(CalicoStep("rule", action.value if action else "", taken, plan.name, entry))
            if action is Action.LOG:
                continue
            if action is Action.ALLOW:
                allowed = allowed | taken
            elif action is Action.PASS:
                passed = passed | taken
            open_ports = open_ports - taken
        if open_ports and steps is not None:
            steps.append(CalicoStep("tier-end", plan.end.value, open_ports, plan.name, plan=plan))
        open_ports = passed | open_ports if plan.end is TierAction.PASS else passed
    if open_ports and steps is not None:
        steps.append(CalicoStep("profile", "Allow", open_ports))
    return allowed | open_ports
