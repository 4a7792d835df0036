"""NP401–NP404: ports that name or number something the destination pods do not have.

A policy port is the destination pod's own port, after any Service's DNAT; a
named port is resolved against the destination pod's container ports, name and
protocol both (networkpolicy-semantics §2.6, pitfalls P07, P24).
"""

from __future__ import annotations

import difflib
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar

from nplint.cluster.addresses import POD, block_overlaps
from nplint.engine.matching import AddressContext, peer_matches_pod
from nplint.engine.pods import pod_view
from nplint.findings import Edit, Finding, Fix, Level, Related
from nplint.loading.nodes import MapNode, Node
from nplint.model import (
    Direction,
    Inventory,
    LabelSelector,
    NetworkPolicy,
    Operator,
    Peer,
    PolicyPort,
    PolicyRule,
    Service,
    ServicePort,
    Workload,
)
from nplint.model.inventory import NAMESPACE_NAME_LABEL
from nplint.model.serving import served_ports
from nplint.rules.base import Rule, RuleContext, yaml_path
from nplint.untrusted import quoted, shown


def port_node(entry: PolicyPort) -> Node:
    """The entry's ``port`` value, else the entry itself."""
    node = entry.node
    found = node.get("port") if isinstance(node, MapNode) else None
    return found if found is not None else node


def describe(workloads: Sequence[Workload]) -> str:
    names = list(dict.fromkeys(f"{w.ref}" for w in workloads))
    return ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")


def port_text(entry: PolicyPort) -> str:
    if entry.end_port is not None:
        return f"{entry.protocol} ports {entry.port}-{entry.end_port}"
    return f"{entry.protocol} port {entry.port}"


def pinned_namespaces(selector: LabelSelector) -> frozenset[str] | None:
    """The namespace names a selector pins with ``kubernetes.io/metadata.name``, or None."""
    for key, value in selector.match_labels:
        if key == NAMESPACE_NAME_LABEL:
            return frozenset((value,))
    for requirement in selector.expressions:
        if requirement.key == NAMESPACE_NAME_LABEL and requirement.operator is Operator.IN:
            return requirement.values
    return None


def _related(workloads: Sequence[Workload]) -> list[Related]:
    return [Related(w.path, w.span, f"{w.ref}") for w in workloads[:3]]


class Destinations:
    """The repository's pod-network workloads and Services, indexed by namespace."""

    def __init__(self, inventory: Inventory) -> None:
        self.inventory = inventory
        self.by_namespace: dict[str, list[Workload]] = defaultdict(list)
        for workload in inventory.workloads:
            if not workload.host_network:
                self.by_namespace[workload.namespace].append(workload)
        self._namespaces_of: dict[tuple[object, ...], list[str]] = {}
        self._backends: dict[int, list[Workload]] = {}
        self.services: dict[str, list[Service]] = defaultdict(list)
        for service in inventory.services:
            if service.selector:
                self.services[service.namespace].append(service)

    def selected(self, policy: NetworkPolicy) -> list[Workload]:
        """The workloads whose pods the policy selects: the destinations of its ingress rules."""
        return [
            w
            for w in self.by_namespace.get(policy.namespace, ())
            if policy.pod_selector.matches(w.pod_labels)
        ]

    def everything(self) -> list[Workload]:
        return [w for namespace in sorted(self.by_namespace) for w in self.by_namespace[namespace]]

    def peer_workloads(self, policy: NetworkPolicy, peer: Peer) -> list[Workload]:
        """The workloads a selector peer matches."""
        selector = peer.namespace_selector
        if selector is None:
            namespaces = [policy.namespace]
        else:
            # Repositories repeat a few namespace selectors many times: match each once.
            key = selector.signature()
            cached = self._namespaces_of.get(key)
            if cached is None:
                labels = self.inventory.namespace_labels
                cached = sorted(ns for ns in self.by_namespace if selector.matches(labels(ns)))
                self._namespaces_of[key] = cached
            namespaces = cached
        found = []
        for namespace in namespaces:
            for workload in self.by_namespace.get(namespace, ()):
                if peer_matches_pod(
                    peer, policy.namespace, pod_view(workload, self.inventory), AddressContext()
                ):
                    found.append(workload)
        return found

    def egress_destinations(self, policy: NetworkPolicy, rule: PolicyRule) -> list[Workload] | None:
        """The workloads an egress rule's selector peers reach, or None when the repository cannot tell.

        Every namespace a peer can reach must have its workloads here: the policy's own, or
        the ones a ``kubernetes.io/metadata.name`` selector names. A peer selecting
        namespaces by other labels is judged on the namespaces the repository shows.
        """
        if rule.peers is None:
            return self.everything()
        found: dict[int, Workload] = {}
        for peer in rule.peers:
            if not peer.is_selector_peer:
                continue
            selector = peer.namespace_selector
            names = pinned_namespaces(selector) if selector is not None else frozenset((policy.namespace,))
            if names is not None and not all(name in self.by_namespace for name in names):
                return None
            for workload in self.peer_workloads(policy, peer):
                found.setdefault(id(workload), workload)
        return list(found.values()) or None

    @classmethod
    def of(cls, inventory: Inventory) -> Destinations:
        """The index of ``inventory``, built once and shared by the rules of this module."""
        return inventory.memo(("ports.Destinations",), lambda: cls(inventory))

    def backends(self, service: Service) -> list[Workload]:
        found = self._backends.get(id(service))
        if found is None:
            selector = (service.selector or {}).items()
            found = [
                w
                for w in self.by_namespace.get(service.namespace, ())
                if all(w.pod_labels.get(k) == v for k, v in selector)
            ]
            self._backends[id(service)] = found
        return found

    def services_of(self, workloads: Sequence[Workload]) -> list[tuple[Service, list[Workload]]]:
        """The Services whose selector picks some of ``workloads``, with those backends."""
        found = []
        wanted = {id(w) for w in workloads}
        for namespace in sorted({w.namespace for w in workloads}):
            for service in self.services.get(namespace, ()):
                backends = [w for w in self.backends(service) if id(w) in wanted]
                if backends:
                    found.append((service, backends))
        return found

    def ingress_services(self, policy: NetworkPolicy) -> list[tuple[Service, list[Workload]]]:
        """The Services in front of the policy's pods; with no workload here, by their selector alone."""
        if policy.namespace in self.by_namespace:
            return self.services_of(self.selected(policy))
        return [
            (s, [])
            for s in self.services.get(policy.namespace, ())
            if policy.pod_selector.matches(s.selector or {})
        ]


def _rules(policy: NetworkPolicy) -> Iterator[tuple[Direction, PolicyRule]]:
    """The rules that count: those of the directions the policy isolates."""
    for direction in Direction:
        if policy.isolates(direction):
            for rule in policy.rules(direction):
                yield direction, rule


class NamedPortUnresolved(Rule):
    id = "NP401"
    name = "named-port-unresolved"
    summary = "A named port that no destination pod of the rule declares with that protocol."
    level = Level.WARNING
    tags = ("ports", "named-ports")

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        index = Destinations.of(ctx.inventory)
        for policy in ctx.inventory.policies:
            for direction, rule in _rules(policy):
                named = [e for e in rule.ports or () if isinstance(e.port, str)]
                if not named:
                    continue
                if direction is Direction.INGRESS:
                    destinations: list[Workload] | None = index.selected(policy) or None
                else:
                    destinations = index.egress_destinations(policy, rule)
                if destinations is None:
                    continue
                for entry in named:
                    if not any(w.named_port(str(entry.port), entry.protocol) for w in destinations):
                        yield self._report(policy, direction, entry, destinations)

    def _protocol_fix(
        self, policy: NetworkPolicy, entry: PolicyPort, protocols: list[str]
    ) -> tuple[Fix, ...]:
        """``protocol:`` as every destination declares the port: only when they agree on one."""
        where = yaml_path(entry.node) if isinstance(entry.node, MapNode) else None
        if len(protocols) != 1 or where is None:
            return ()
        edit = Edit.make("set", where, "protocol", protocols[0], after="port")
        return self.make_fix(
            policy, f"write `protocol: {protocols[0]}` as the pods declare the port", [edit], safe=True
        )

    def _report(
        self, policy: NetworkPolicy, direction: Direction, entry: PolicyPort, workloads: list[Workload]
    ) -> Finding:
        name = str(entry.port)
        whose = "selected pods" if direction is Direction.INGRESS else "destination pods of this rule"
        other = sorted({p.protocol for w in workloads for p in w.ports if p.name == name})
        if other:
            protocol = other[0]
            implied = " (the default when `protocol` is omitted)" if entry.protocol == "TCP" else ""
            message = (
                f"port {quoted(name)} is {'/'.join(other)} on the {whose}, but this entry is "
                f"{entry.protocol}: write `protocol: {protocol}`"
            )
            detail = (
                f"The {whose} ({describe(workloads)}) declare port {quoted(name)} as {'/'.join(other)}, "
                f"but this entry is {entry.protocol}{implied}, and a named port matches only with its own "
                f"protocol: the entry matches nothing. Write `protocol: {protocol}` in it."
            )
            return self.finding(
                policy,
                port_node(entry),
                message,
                related=_related(workloads),
                fix=f"protocol: {protocol}",
                detail=detail,
                fixes=self._protocol_fix(policy, entry, other),
            )
        names = sorted({p.name for w in workloads for p in w.ports if p.name})
        close = difflib.get_close_matches(name, names, n=1)
        hint = f" (did you mean {quoted(close[0])}?)" if close else ""
        declared = f"their port names: {', '.join(names)}" if names else "they name no port"
        message = (
            f"none of the {whose} declares a port named {quoted(name)}{hint}, so this entry matches nothing"
        )
        detail = (
            f"None of the {whose} ({describe(workloads)}; {declared}) declares a container port named "
            f"{quoted(name)}. Use a name their containers declare, or the port number."
        )
        fix = f"port: {close[0]}" if close else None
        return self.finding(
            policy, port_node(entry), message, related=_related(workloads), fix=fix, detail=detail
        )


def _target_numbers(port: ServicePort, backends: Sequence[Workload]) -> set[int]:
    if isinstance(port.target_port, int):
        return {port.target_port}
    return {
        p.port
        for w in backends
        for p in w.ports
        if p.name == port.target_port and p.protocol == port.protocol
    }


def service_port_mismatch(
    entry: PolicyPort,
    rule: PolicyRule,
    services: Sequence[tuple[Service, list[Workload]]],
    destinations: Sequence[Workload],
) -> tuple[Service, ServicePort, set[int], list[Workload]] | None:
    """A Service whose ``port`` the entry allows while the rule allows none of its pod ports.

    Nothing is reported when a destination pod declares the entry's port itself.
    """
    if not isinstance(entry.port, int) or any(
        p.protocol == entry.protocol and entry.matches_number(p.port) for w in destinations for p in w.ports
    ):
        return None
    for service, backends in services:
        for port in service.ports:
            if port.protocol != entry.protocol or not entry.matches_number(port.port):
                continue
            targets = _target_numbers(port, backends)
            if not targets or port.port in targets:
                continue
            if any(
                e.protocol == port.protocol and e.matches_number(t) for e in rule.ports or () for t in targets
            ):
                continue
            return service, port, targets, backends
    return None


class ServicePortNotPodPort(Rule):
    id = "NP402"
    name = "service-port-not-pod-port"
    summary = "A policy port equals a selected Service's `port` but not its `targetPort` (the pods' port)."
    level = Level.WARNING
    tags = ("ports", "services")

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        index = Destinations.of(ctx.inventory)
        for policy in ctx.inventory.policies:
            for direction, rule in _rules(policy):
                if rule.ports is None:
                    continue
                if direction is Direction.INGRESS:
                    destinations = index.selected(policy)
                    services = index.ingress_services(policy)
                elif rule.peers is not None:
                    destinations = index.egress_destinations(policy, rule) or []
                    services = index.services_of(destinations)
                else:
                    continue  # a port to anywhere is not aimed at one Service
                for entry in rule.ports:
                    found = service_port_mismatch(entry, rule, services, destinations) if services else None
                    if found is not None:
                        yield self._report(policy, entry, *found)

    def _report(
        self,
        policy: NetworkPolicy,
        entry: PolicyPort,
        service: Service,
        port: ServicePort,
        targets: set[int],
        backends: list[Workload],
    ) -> Finding:
        numbers = sorted(targets)
        target = " or ".join(map(str, numbers))
        named = (
            f" (the container port named {quoted(port.target_port)})"
            if isinstance(port.target_port, str)
            else ""
        )
        message = (
            f"{port.protocol} {port.port} is the Service port of {service.ref.qualified}, not its pods' "
            f"port: write `port: {numbers[0]}`"
        )
        detail = (
            f"{port.protocol} {port.port} is the `port` of Service {service.ref.qualified}, which forwards "
            f"to targetPort {target}{named} on its pods. Policies see connections after the Service's "
            "DNAT, at the pod's port, so this entry does not allow traffic through the Service."
        )
        related = [
            Related(
                service.path,
                service.span,
                f"Service {service.ref.qualified}",
            )
        ]
        return self.finding(
            policy,
            port_node(entry),
            message,
            related=related + _related(backends),
            fix=f"port: {numbers[0]}",
            detail=detail,
        )


def served_elsewhere(
    workloads: Sequence[Workload], services: Sequence[tuple[Service, list[Workload]]], inventory: Inventory
) -> dict[str, set[int]]:
    """Ports the pods serve though no container declares them, by protocol.

    A Service's ``targetPort`` (a number, or a name resolved through the container
    ports) says the pods serve it; so do a container's listen flags, ``PORT``-like
    variables and probes (:func:`~nplint.model.serving.served_ports`, TCP).
    """
    served: dict[str, set[int]] = defaultdict(set)
    for service, backends in services:
        for port in service.ports:
            served[port.protocol] |= _target_numbers(port, backends)
    for workload in workloads:
        served["TCP"] |= served_ports(workload, inventory)
    return served


class PortNotExposed(Rule):
    id = "NP403"
    name = "port-not-exposed"
    summary = "Ingress allows a port that none of the selected pods' containers declares."
    level = Level.NOTE
    about_form = True
    tags = ("ports",)
    #: Ports of sidecars injected at admission, absent from manifests: Istio's HBONE,
    #: merged-metrics, health and Envoy-metrics ports; Linkerd's inbound and admin ports.
    options: ClassVar[Mapping[str, Any]] = {"ignore-ports": [15008, 15020, 15021, 15090, 4143, 4191]}

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        index = Destinations.of(ctx.inventory)
        ignored = {p for p in ctx.options.get("ignore-ports", ()) if isinstance(p, int)}
        for policy in ctx.inventory.policies:
            if not policy.isolates(Direction.INGRESS):
                continue
            selected = index.selected(policy)
            if not selected or not all(w.ports for w in selected):
                continue
            services = index.services_of(selected)
            served = served_elsewhere(selected, services, ctx.inventory)
            for rule in policy.ingress:
                for entry in rule.ports or ():
                    if (
                        not isinstance(entry.port, int)
                        or entry.port in ignored
                        or any(
                            p.protocol == entry.protocol and entry.matches_number(p.port)
                            for w in selected
                            for p in w.ports
                        )
                        or any(entry.matches_number(n) for n in served.get(entry.protocol, ()))
                    ):
                        continue
                    if service_port_mismatch(entry, rule, services, selected) is not None:
                        continue  # NP402 explains it better
                    yield self._report(policy, entry, selected)

    def _report(self, policy: NetworkPolicy, entry: PolicyPort, selected: list[Workload]) -> Finding:
        declared = "; ".join(
            f"{w.kind} {shown(w.name)}: " + ", ".join(sorted({f"{p.protocol} {p.port}" for p in w.ports}))
            for w in selected[:3]
        )
        message = (
            f"this rule allows {port_text(entry)}, which no container of the selected pods declares: "
            "check the number"
        )
        detail = (
            f"The selected pods declare {declared}. The rule opens a port nothing is known to listen "
            "on, and the port the pods serve may stay closed. If a container does listen there, "
            "declare it in its `ports`."
        )
        return self.finding(policy, port_node(entry), message, related=_related(selected), detail=detail)


class NamedPortWithIpBlock(Rule):
    id = "NP404"
    name = "named-port-with-ipblock"
    summary = "A named port in an egress rule whose peers are only ipBlocks: it can match nothing."
    level = Level.WARNING
    tags = ("ports", "named-ports", "ipblock")

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        pod_ranges = [r.network for r in ctx.cluster.ranges if r.role == POD]
        for policy in ctx.inventory.policies:
            if not policy.isolates(Direction.EGRESS):
                continue
            for rule in policy.egress:
                if rule.peers is None or not all(p.ip_block is not None for p in rule.peers):
                    continue
                blocks = [p.ip_block for p in rule.peers if p.ip_block is not None]
                if any(block_overlaps(b, r) for b in blocks for r in pod_ranges):
                    continue  # the block holds pods, whose ports have names: NP502's business
                cidrs = ", ".join(b.cidr for b in blocks)
                for entry in rule.ports or ():
                    if isinstance(entry.port, str):
                        message = (
                            f"named port {quoted(entry.port)} cannot match addresses (ipBlock): write the "
                            "port number"
                        )
                        detail = (
                            "An egress rule resolves a port name against the destination pod's container "
                            f"ports; the destinations here are only addresses (ipBlock {cidrs}), which "
                            "have no named ports, so this entry matches nothing."
                        )
                        yield self.finding(policy, port_node(entry), message, detail=detail)


RULES = (
    NamedPortUnresolved,
    ServicePortNotPodPort,
    PortNotExposed,
    NamedPortWithIpBlock,
)
