"""Calico NetworkPolicy and GlobalNetworkPolicy as typed objects (policy-kinds §7).

Built for ``projectcalico.org/v3`` (what users write: the Calico API server, calicoctl or
native v3 CRDs default and validate it) and ``crd.projectcalico.org/v1`` (Calico's storage
version, applied as is by some manifests: no defaulting, no validation; §7.9). The builder
(:func:`build_calico_policy`) dispatches on apiVersion *and* kind (:func:`is_calico_policy`).

The interface the engine evaluates:

* :class:`CalicoPolicy` — ``is_global``, ``tier`` (defaulted to ``default``), ``order``
  (None = +∞, sorts last; :attr:`CalicoPolicy.sort_key`), ``selector`` /
  ``namespace_selector`` / ``service_account_selector`` (:class:`SelectorField`, each a
  parsed AST with ``matches(labels)``), ``types`` (the directions it governs, defaulted
  per §7.2 for v3 and as Felix reads an empty list for v1: both), ``ingress`` /
  ``egress`` (ordered :class:`CalicoRule` lists), :meth:`CalicoPolicy.selects`.
* :class:`CalicoTier` — ``order`` (None = last; :attr:`CalicoTier.sort_key`) and
  ``default_action`` (Deny or Pass: what ends the tier for an endpoint it governs);
  :data:`WELL_KNOWN_TIERS` for the tiers Calico defines itself. :class:`CalicoNetworkSet` —
  labels and nets a rule's selector can match.
* :class:`CalicoRule` — ``action`` (:class:`Action`, None when missing or unknown),
  ``protocol`` / ``not_protocol``, ``ip_version``, ``icmp``, ``source`` / ``destination``
  (:class:`EntityRule`); :attr:`CalicoRule.peer` is the far side of the rule for its
  direction; :meth:`CalicoRule.matches_port` and :meth:`EntityRule.matches_endpoint`
  decide a connection the way §7.5 says.

Every field keeps its YAML node, for positions. Reading is lenient: a value of the wrong
type is left out (the validation rule NP011 and the selector rule NP010 judge them).
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Mapping
from dataclasses import field
from enum import Enum

from nplint.loading.nodes import MapNode, Node, ScalarNode
from nplint.model.calico_selector import (
    NAME_LABEL,
    CalicoSelector,
    Global,
    SelectorError,
    parse_selector,
)
from nplint.model.objects import Direction, IPNetwork, KubeObject
from nplint.records import record

__all__ = [
    "CALICO_API_VERSIONS",
    "CALICO_NETWORK_SET_KINDS",
    "CALICO_POLICY_KINDS",
    "STORAGE_API_VERSION",
    "WELL_KNOWN_TIERS",
    "Action",
    "CalicoEndpoint",
    "CalicoNetworkSet",
    "CalicoPolicy",
    "CalicoRule",
    "CalicoTier",
    "EntityRule",
    "PortRange",
    "SelectorField",
    "TierAction",
    "default_types",
    "is_calico_kind",
    "is_calico_policy",
    "protocol_number",
    "supports_ports",
]

USER_API_VERSION = "projectcalico.org/v3"
STORAGE_API_VERSION = "crd.projectcalico.org/v1"
CALICO_API_VERSIONS = frozenset((USER_API_VERSION, STORAGE_API_VERSION))
CALICO_POLICY_KINDS = frozenset(("NetworkPolicy", "GlobalNetworkPolicy"))
CALICO_NETWORK_SET_KINDS = frozenset(("NetworkSet", "GlobalNetworkSet"))
DEFAULT_TIER = "default"

#: Protocol numbers by the names Calico accepts, v3 spelling and the lowercase v1 one.
_PROTOCOL_NUMBERS = {"TCP": 6, "UDP": 17, "SCTP": 132, "ICMP": 1, "ICMPv6": 58, "UDPLite": 136}
_PROTOCOL_NUMBERS |= {name.lower(): number for name, number in _PROTOCOL_NUMBERS.items()}
#: Protocol numbers whose rules may carry ports (numorstring ``Protocol.SupportsPorts``).
PORT_PROTOCOL_NUMBERS = frozenset((6, 17, 132))


def protocol_number(value: str | int | None) -> int | None:
    """The IP protocol number a Calico ``protocol`` means: a number, a numeric string, or a name."""
    if value is None or isinstance(value, int):
        return value
    text = value.strip()
    if text.isdigit():
        return int(text)
    return _PROTOCOL_NUMBERS.get(text)


def supports_ports(value: str | int | None) -> bool:
    """Whether a rule with this protocol may carry ports ([CAL-VAL] ``validateRule``)."""
    return protocol_number(value) in PORT_PROTOCOL_NUMBERS


def is_calico_kind(api_version: str | None, kind: str | None) -> bool:
    """Whether an object is a Calico policy, Tier or network set this model reads."""
    return api_version in CALICO_API_VERSIONS and (
        kind in CALICO_POLICY_KINDS or kind in CALICO_NETWORK_SET_KINDS or kind == "Tier"
    )


def is_calico_policy(api_version: str | None, kind: str | None) -> bool:
    """Whether an object is a Calico (Global)NetworkPolicy: never on the kind alone (§1)."""
    return api_version in CALICO_API_VERSIONS and kind in CALICO_POLICY_KINDS


class Action(Enum):
    ALLOW = "Allow"
    DENY = "Deny"
    PASS = "Pass"
    LOG = "Log"


@record(frozen=True, slots=True)
class SelectorField:
    """A selector as written: its text, its node, and the AST or the parse error."""

    text: str
    node: Node | None
    selector: CalicoSelector | None
    error: SelectorError | None = None
    #: A YAML local tag in front of the value (``selector: !has(x)``): YAML took the text
    #: after ``!`` for a tag, and Calico receives only what follows it (policy-kinds §7.3).
    yaml_tag: str | None = None

    def matches(self, labels: Mapping[str, str]) -> bool:
        """An unparseable selector matches nothing: Calico refuses (or cannot use) the policy."""
        return self.selector is not None and self.selector.matches(labels)

    @property
    def is_global(self) -> bool:
        """Exactly ``global()``: non-namespaced resources (network sets, host endpoints)."""
        # Calico accepts `global()` alone, spaces around it included ([CAL-VAL] validateEntityRule).
        return (
            self.selector is not None
            and isinstance(self.selector.root, Global)
            and self.text.strip(" \t").startswith("global(")
        )


@record(frozen=True, slots=True)
class PortRange:
    first: int
    last: int

    def __contains__(self, port: object) -> bool:
        return isinstance(port, int) and self.first <= port <= self.last


@record(frozen=True, slots=True)
class CalicoEndpoint:
    """A pod as Calico's rules see it (§7.4): what :meth:`EntityRule.matches_endpoint` reads.

    ``labels`` already carry ``projectcalico.org/namespace`` and the other special labels
    (:func:`nplint.model.calico_selector.endpoint_labels`).
    """

    labels: Mapping[str, str]
    namespace: str
    namespace_labels: Mapping[str, str]
    service_account: str = "default"
    service_account_labels: Mapping[str, str] = field(default_factory=dict)
    ips: tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, ...] = ()
    #: Container ports by name, for named ports: name → ((protocol, number), …).
    named_ports: Mapping[str, tuple[tuple[str, int], ...]] = field(default_factory=dict)


@record(frozen=True, slots=True)
class EntityRule:
    """A rule's ``source`` or ``destination`` (§7.1, §7.5). Every set criterion must match."""

    nets: tuple[IPNetwork, ...] = ()
    not_nets: tuple[IPNetwork, ...] = ()
    selector: SelectorField | None = None
    not_selector: SelectorField | None = None
    namespace_selector: SelectorField | None = None
    service_account_names: tuple[str, ...] = ()
    service_account_selector: SelectorField | None = None
    #: ``services``: (name, namespace or None for the policy's).
    service: tuple[str, str | None] | None = None
    ports: tuple[PortRange | str, ...] = ()
    not_ports: tuple[PortRange | str, ...] = ()
    node: MapNode | None = None

    @property
    def selectors(self) -> tuple[SelectorField, ...]:
        found = (self.selector, self.not_selector, self.namespace_selector, self.service_account_selector)
        return tuple(f for f in found if f is not None)

    def matches_endpoint(self, endpoint: CalicoEndpoint, policy_namespace: str | None) -> bool:
        """Whether a pod matches the L3 part; ``policy_namespace`` is None for a global policy.

        Scoping per [CAL-RULES] ``getEndpointSelector`` (§7.5): a ``namespaceSelector``
        limits the rule to pods of matching namespaces (``global()`` to non-namespaced
        resources, so to no pod); without one, a namespaced policy's selectors see only
        its own namespace. ``nets`` are pure IP matches and see pods too.
        """
        if self.nets and not any(ip in net for ip in endpoint.ips for net in self.nets):
            return False
        if self.not_nets and any(ip in net for ip in endpoint.ips for net in self.not_nets):
            return False
        # Service accounts count as a selector: in a namespaced policy they too see its namespace
        # only ([CAL-CONV] ``getEndpointSelector`` ANDs the namespace with the account selector).
        scoped = (
            self.selector is not None
            or self.not_selector is not None
            or bool(self.service_account_names)
            or self.service_account_selector is not None
        )
        if self.namespace_selector is not None:
            if self.namespace_selector.is_global:
                return False
            namespace_labels = {**endpoint.namespace_labels, NAME_LABEL: endpoint.namespace}
            if not self.namespace_selector.matches(namespace_labels):
                return False
        elif scoped and policy_namespace is not None and endpoint.namespace != policy_namespace:
            return False
        if self.selector is not None and not self.selector.matches(endpoint.labels):
            return False
        if self.not_selector is not None and self.not_selector.matches(endpoint.labels):
            return False
        if self.service_account_names and endpoint.service_account not in self.service_account_names:
            return False
        if self.service_account_selector is not None:
            account_labels = {**endpoint.service_account_labels, NAME_LABEL: endpoint.service_account}
            if not self.service_account_selector.matches(account_labels):
                return False
        return True


@record(frozen=True, slots=True)
class CalicoRule:
    """One rule of a Calico policy, in its list's order."""

    direction: Direction
    index: int
    action: Action | None
    #: The action as written (for messages), "" when absent.
    action_text: str
    protocol: str | int | None
    not_protocol: str | int | None
    ip_version: int | None
    #: ``icmp`` / ``notICMP`` as (type, code), either part None when absent.
    icmp: tuple[int | None, int | None] | None
    not_icmp: tuple[int | None, int | None] | None
    source: EntityRule
    destination: EntityRule
    #: An ``http`` match (application layer policy) is present.
    http: bool
    node: MapNode

    @property
    def peer(self) -> EntityRule:
        """The far side: ``source`` of an ingress rule, ``destination`` of an egress rule."""
        return self.source if self.direction is Direction.INGRESS else self.destination

    @property
    def local(self) -> EntityRule:
        """The policy's own endpoint side: ``destination`` of an ingress rule, ``source`` of egress."""
        return self.destination if self.direction is Direction.INGRESS else self.source

    def matches_protocol(self, protocol: str) -> bool:
        number = protocol_number(protocol)
        if self.protocol is not None and protocol_number(self.protocol) != number:
            return False
        return self.not_protocol is None or protocol_number(self.not_protocol) != number

    def matches_port(self, protocol: str, port: int, destination: CalicoEndpoint | None = None) -> bool:
        """Whether protocol and destination port match; named ports resolve on ``destination``.

        ``source.ports`` (the client's port) is not judged here: a connection is named by its
        destination port, and the engine decides connections, not packets.
        """
        if not self.matches_protocol(protocol):
            return False
        ports = self.destination.ports
        if ports and not any(_port_matches(entry, protocol, port, destination) for entry in ports):
            return False
        return not any(
            _port_matches(entry, protocol, port, destination) for entry in self.destination.not_ports
        )


def _port_matches(entry: PortRange | str, protocol: str, port: int, endpoint: CalicoEndpoint | None) -> bool:
    if isinstance(entry, PortRange):
        return port in entry
    if endpoint is None:
        return False
    return (protocol, port) in endpoint.named_ports.get(entry, ())


@record(frozen=True, slots=True, eq=False)
class CalicoPolicy(KubeObject):
    """A Calico NetworkPolicy (namespaced) or GlobalNetworkPolicy, with defaulting applied.

    ``namespace`` is as written (``""`` when absent or global), so the object keeps its
    identity among the inventory's objects; :attr:`home_namespace` is where a namespaced
    policy lands (the unit's namespace when it names none).
    """

    api_version: str = ""
    is_global: bool = False
    home_namespace: str = ""
    tier: str = DEFAULT_TIER
    order: float | None = None
    selector: SelectorField = field(default_factory=lambda: SelectorField("", None, parse_selector("")))
    #: GlobalNetworkPolicy only: which namespaces' endpoints it applies to.
    namespace_selector: SelectorField | None = None
    service_account_selector: SelectorField | None = None
    written_types: tuple[str, ...] | None = None
    types: frozenset[Direction] = frozenset()
    ingress: tuple[CalicoRule, ...] = ()
    egress: tuple[CalicoRule, ...] = ()
    #: GlobalNetworkPolicy with ``preDNAT`` or ``doNotTrack``: applies to host endpoints only,
    #: never to a pod (Calico's GlobalNetworkPolicy reference; policy-kinds §7.1). nplint models
    #: no host endpoints, so such a policy selects nothing here.
    host_endpoints_only: bool = False

    @property
    def storage_version(self) -> bool:
        """Written in ``crd.projectcalico.org/v1``: neither validated nor defaulted (§7.9)."""
        return self.api_version == STORAGE_API_VERSION

    @property
    def sort_key(self) -> tuple[float, str]:
        """Felix's order inside a tier: ``order`` (absent = +∞), then name ([CAL-FELIX] PolKVLess)."""
        return (math.inf if self.order is None else self.order, self.name)

    def rules(self, direction: Direction) -> tuple[CalicoRule, ...]:
        return self.ingress if direction is Direction.INGRESS else self.egress

    @property
    def selector_fields(self) -> tuple[SelectorField, ...]:
        found = [self.selector, self.namespace_selector, self.service_account_selector]
        for rule in (*self.ingress, *self.egress):
            found.extend(rule.source.selectors)
            found.extend(rule.destination.selectors)
        return tuple(f for f in found if f is not None)

    def selects(self, endpoint: CalicoEndpoint) -> bool:
        """Whether the policy applies to a pod (§7.4): its namespace, selectors and service account."""
        if self.host_endpoints_only:
            return False
        if not self.is_global and endpoint.namespace != self.home_namespace:
            return False
        if not self.selector.matches(endpoint.labels):
            return False
        if self.namespace_selector is not None:
            namespace_labels = {**endpoint.namespace_labels, NAME_LABEL: endpoint.namespace}
            if not self.namespace_selector.matches(namespace_labels):
                return False
        if self.service_account_selector is not None:
            account_labels = {**endpoint.service_account_labels, NAME_LABEL: endpoint.service_account}
            if not self.service_account_selector.matches(account_labels):
                return False
        return True


def default_types(
    spec: MapNode | None, storage_version: bool
) -> tuple[tuple[str, ...] | None, frozenset[Direction]]:
    """(types as written, types in effect).

    v3 ([CAL-DEF] ``defaultPolicyTypesField``): Egress alone when only egress rules exist,
    both when both do, else Ingress. v1 is not defaulted, and Felix reads an empty list as
    both directions ([CAL-FELIX] ``ExtractPolicyMetadata``).
    """
    types_node = spec.get_seq("types") if spec is not None else None
    if types_node is not None and len(types_node) > 0:
        written = tuple(item.text for item in types_node if isinstance(item, ScalarNode))
        return written, frozenset(d for d in Direction if d.value in written)
    if storage_version:
        return None, frozenset(Direction)
    ingress = spec.get_seq("ingress") if spec is not None else None
    egress = spec.get_seq("egress") if spec is not None else None
    has_ingress = ingress is not None and len(ingress) > 0
    has_egress = egress is not None and len(egress) > 0
    if has_egress and not has_ingress:
        return None, frozenset((Direction.EGRESS,))
    if has_egress:
        return None, frozenset(Direction)
    return None, frozenset((Direction.INGRESS,))


class TierAction(Enum):
    DENY = "Deny"
    PASS = "Pass"


#: Tiers Calico defines itself, with the order and end-of-tier action CEL fixes for them
#: ([CAL-API] tier.go, [CAL-NAMES]; policy-kinds §7.2, §7.8). The ANP/BANP tiers exist in
#: 3.29–3.31, the kube-* tiers from 3.32.
WELL_KNOWN_TIERS: Mapping[str, tuple[float, TierAction]] = {
    "default": (1_000_000.0, TierAction.DENY),
    "adminnetworkpolicy": (1000.0, TierAction.PASS),
    "baselineadminnetworkpolicy": (10_000_000.0, TierAction.PASS),
    "kube-admin": (1000.0, TierAction.PASS),
    "kube-baseline": (10_000_000.0, TierAction.PASS),
}


@record(frozen=True, slots=True, eq=False)
class CalicoTier(KubeObject):
    """A Calico Tier: where its policies run (``order``, None = last) and what ends it."""

    api_version: str = ""
    order: float | None = None
    #: ``defaultAction``, Deny when absent; None when the written value is unknown.
    default_action: TierAction | None = TierAction.DENY

    @property
    def sort_key(self) -> tuple[float, str]:
        """Felix's tier order: ``order`` (absent = +∞), then name ([CAL-FELIX] TierLess)."""
        return (math.inf if self.order is None else self.order, self.name)


@record(frozen=True, slots=True, eq=False)
class CalicoNetworkSet(KubeObject):
    """A NetworkSet (namespaced) or GlobalNetworkSet: labels for selectors over a set of nets.

    Rule selectors match it by ``labels`` (a GlobalNetworkSet only through a
    ``namespaceSelector`` of ``global()`` in a namespaced policy, policy-kinds §7.5, K23).
    """

    api_version: str = ""
    is_global: bool = False
    home_namespace: str = ""
    nets: tuple[IPNetwork, ...] = ()
