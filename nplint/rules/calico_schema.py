"""NP010/NP011: Calico policies the Calico API server (or Felix) cannot take.

NP010 judges every selector of a Calico NetworkPolicy or GlobalNetworkPolicy with
Calico's own grammar (:mod:`nplint.model.calico_selector`) and points at the offending
character. NP011 mirrors the rest of the v3 validation ([CAL-VAL] ``validateRule``,
``validateEntityRule``, ``validateNetworkPolicySpec``, name regexes; policy-kinds §7.2).
Objects in ``crd.projectcalico.org/v1`` skip the API server's validation (§7.9): NP011
leaves them alone, while NP010 still reports selectors, which Felix cannot use either.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from nplint.findings import Finding, Level
from nplint.loading.nodes import MapNode, Node, ScalarNode, SeqNode
from nplint.loading.placeholders import placeholder_node
from nplint.model.calico import (
    Action,
    CalicoPolicy,
    CalicoRule,
    EntityRule,
    default_types,
    protocol_number,
    supports_ports,
)
from nplint.model.calico_build import parse_net
from nplint.model.calico_selector import locate
from nplint.model.objects import Direction
from nplint.rules.base import Rule, RuleContext
from nplint.untrusted import shown

_LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_SUBDOMAIN = _LABEL + r"(\." + _LABEL + ")*"
#: [CAL-VAL] ``networkPolicyNameRegex`` and ``globalNetworkPolicyNameRegex``.
_POLICY_NAME = re.compile(rf"({_LABEL})(\.{_LABEL})?|(?:knp|ossg)\.default\.{_SUBDOMAIN}")
_GLOBAL_POLICY_NAME = re.compile(rf"({_LABEL}\.)?{_LABEL}")
_NAME_MAX = 253
_ICMP = ("ICMP", 1)
_ICMPV6 = ("ICMPv6", 58)


class CalicoSelectorSyntax(Rule):
    id = "NP010"
    name = "calico-selector-syntax"
    summary = "A Calico policy selector that Calico's selector parser rejects, at the offending character."
    level = Level.ERROR
    tags = ("schema", "calico")

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        for policy in ctx.inventory.calico_policies:
            for selector in policy.selector_fields:
                error = selector.error
                node = selector.node
                if selector.yaml_tag is not None:
                    continue  # YAML read the `!` as a tag: NP001 reports it where it stands
                if error is None or not isinstance(node, ScalarNode) or placeholder_node(node):
                    continue
                where = locate(node, error.offset)
                near = shown(selector.text[error.offset : error.offset + 12], 24) or "the end"
                column = error.offset + 1
                field_name = ".".join(re.sub(r"\[\d+\]", "", node.path).split(".")[-2:])
                if error.limit:
                    message = f"`{field_name}`: {error.message}; nplint does not evaluate it"
                else:
                    message = (
                        f"Calico cannot parse `{field_name}`: {shown(error.message, 90)} "
                        f"(character {column}, at `{near}`)"
                    )
                consequence = (
                    "Felix cannot parse it: this storage-version object skips the API server's validation"
                    if policy.storage_version
                    else "the Calico API server rejects the policy"
                )
                yield self.finding(
                    policy,
                    node,
                    message,
                    span=where,
                    detail=f"{consequence}. Calico selectors quote their values ('web'), use `==` "
                    "and `!=`, `&&` and `||`, and only spaces and tabs between their parts "
                    "(policy-kinds §7.3).",
                )


class CalicoInvalidPolicy(Rule):
    id = "NP011"
    name = "calico-invalid-policy"
    summary = (
        "A projectcalico.org/v3 policy the Calico API server rejects: action, types, ports, ICMP, nets, name."
    )
    level = Level.ERROR
    tags = ("schema", "calico")

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        for policy in ctx.inventory.calico_policies:
            if policy.storage_version:
                continue
            for node, message in _policy_problems(policy):
                yield self.finding(
                    policy,
                    node,
                    f"{policy.kind} {shown(policy.name)}: {message}",
                    detail="The Calico API server validates projectcalico.org/v3 policies and refuses "
                    "this one, so it never reaches the cluster (policy-kinds §7.2).",
                )


def _policy_problems(policy: CalicoPolicy) -> Iterator[tuple[Node | None, str]]:
    metadata = policy.node.get_map("metadata")
    name_node = metadata.get("name") if metadata is not None else None
    if isinstance(name_node, ScalarNode) and not placeholder_node(name_node):
        pattern = _GLOBAL_POLICY_NAME if policy.is_global else _POLICY_NAME
        if len(policy.name) > _NAME_MAX or not pattern.fullmatch(policy.name):
            yield (
                name_node,
                (
                    f"the name `{shown(policy.name)}` is not a lowercase DNS label "
                    "(optionally `tier.name`, with one dot)"
                ),
            )
    spec = policy.node.get_map("spec")
    if spec is None:
        return
    order = spec.get("order")
    if (
        isinstance(order, ScalarNode)
        and order.value is not None
        and type(order.value) not in (int, float)
        and not placeholder_node(order)
    ):
        yield order, f"`order` must be a number, not `{shown(order.text)}`"
    types = spec.get_seq("types")
    seen: set[str] = set()
    for item in types or ():
        if not isinstance(item, ScalarNode) or placeholder_node(item):
            continue
        if item.text not in ("Ingress", "Egress"):
            yield item, f"`types` holds `{shown(item.text)}`: only `Ingress` and `Egress` exist"
        elif item.text in seen:
            yield item, f"`types` lists `{item.text}` twice"
        seen.add(item.text)
    for field_ in (policy.selector, policy.service_account_selector):
        if field_ is not None and field_.selector is not None and "global()" in field_.text:
            yield field_.node, "`global()` is only valid in a rule's `namespaceSelector`"
    for rule in (*policy.ingress, *policy.egress):
        yield from _rule_problems(rule)


def _rule_problems(rule: CalicoRule) -> Iterator[tuple[Node | None, str]]:
    node = rule.node
    action = node.get("action")
    if rule.action is None and not placeholder_node(action):
        what = f"`{shown(rule.action_text)}` is no action" if rule.action_text else "the rule has no `action`"
        yield action if action is not None else node, f"{what}: write Allow, Deny, Pass or Log"
    protocol = rule.protocol
    for side_name, side in (("source", rule.source), ("destination", rule.destination)):
        for key in ("ports", "notPorts"):
            ports = side.node.get_seq(key) if side.node is not None else None
            if ports is not None and len(ports) > 0 and not supports_ports(protocol):
                if protocol is None:
                    reason = "the rule sets no `protocol`"
                else:
                    reason = f"protocol {shown(str(protocol))} has no ports"
                yield ports, f"`{side_name}.{key}` needs `protocol` TCP, UDP or SCTP; {reason}"
        yield from _entity_problems(rule, side_name, side)
    icmp_node = node.get_map("icmp")
    if icmp_node is not None and protocol not in (*_ICMP, *_ICMPV6):
        yield icmp_node, "`icmp` needs `protocol: ICMP` or `protocol: ICMPv6`"
    for key, value in (("icmp", rule.icmp), ("notICMP", rule.not_icmp)):
        if value is not None and value[1] is not None and value[0] is None:
            yield node.get(key), f"`{key}.code` needs `{key}.type`"
    for written in (rule.protocol, rule.not_protocol):
        if rule.ip_version is not None and written in _ICMP and rule.ip_version != 4:
            yield node.get("ipVersion"), "protocol ICMP needs `ipVersion: 4`"
        if rule.ip_version is not None and written in _ICMPV6 and rule.ip_version != 6:
            yield node.get("ipVersion"), "protocol ICMPv6 needs `ipVersion: 6`"
    yield from _nets_problems(rule)
    http = node.get("http")
    if rule.http:
        if rule.direction is Direction.EGRESS:
            yield http, "`http` matches are not allowed in egress rules"
        elif rule.action is not None and rule.action is not Action.ALLOW:
            yield http, "`http` matches are only valid in Allow rules"
        if protocol is not None and protocol_number(protocol) != 6:
            yield http, "`http` matches need `protocol: TCP` or no protocol"


def _entity_problems(rule: CalicoRule, side_name: str, side: EntityRule) -> Iterator[tuple[Node | None, str]]:
    node = side.node
    if node is None:
        return
    if side.selector is not None and side.selector.selector is not None and "global()" in side.selector.text:
        yield side.selector.node, f"`{side_name}.selector`: `global()` is only valid in a `namespaceSelector`"
    namespace = side.namespace_selector
    if (
        namespace is not None
        and namespace.selector is not None
        and "global(" in namespace.text
        and not namespace.is_global
    ):
        yield (
            namespace.node,
            f"`{side_name}.namespaceSelector`: `global()` cannot be combined with other selectors",
        )
    services = node.get_map("services")
    if services is None:
        return
    if side_name == "source" and rule.direction is Direction.EGRESS:
        yield services, "`source.services` is not allowed in an egress rule"
    if side_name == "destination" and rule.direction is Direction.INGRESS:
        yield services, "`destination.services` is not allowed in an ingress rule"
    if not services.get_str("name"):
        yield services, f"`{side_name}.services` must name a service"
    others = [
        key
        for key in ("selector", "notSelector", "namespaceSelector", "serviceAccounts", "nets", "notNets")
        if _present(node.get(key))
    ]
    if others:
        yield services, f"`{side_name}.services` cannot be combined with `{'`, `'.join(others)}`"
    if side_name == "destination":
        for key in ("ports", "notPorts"):
            if _present(node.get(key)):
                yield node.get(key), f"`destination.{key}` cannot be combined with `destination.services`"


def _present(node: Node | None) -> bool:
    if isinstance(node, (MapNode, SeqNode)):
        return len(node) > 0 if isinstance(node, SeqNode) else True
    return isinstance(node, ScalarNode) and node.value not in (None, "")


def _nets_problems(rule: CalicoRule) -> Iterator[tuple[Node | None, str]]:
    seen_v4 = seen_v6 = False
    for side_name, side in (("source", rule.source), ("destination", rule.destination)):
        for key in ("nets", "notNets"):
            nets = side.node.get_seq(key) if side.node is not None else None
            v4 = v6 = False
            for item in nets or ():
                if not isinstance(item, ScalarNode) or placeholder_node(item):
                    continue
                net = parse_net(item.text)
                if net is None:
                    yield item, f"`{side_name}.{key}`: `{shown(item.text)}` is no CIDR"
                    continue
                v4 = v4 or net.version == 4
                v6 = v6 or net.version == 6
            if rule.ip_version is not None and (
                (v4 and rule.ip_version != 4) or (v6 and rule.ip_version != 6)
            ):
                yield nets, f"`{side_name}.{key}` does not match `ipVersion: {rule.ip_version}`"
            if (v4 and seen_v6) or (v6 and seen_v4) or (v4 and v6):
                yield nets, f"`{side_name}.{key}`: one rule cannot mix IPv4 and IPv6 CIDRs"
            seen_v4 = seen_v4 or v4
            seen_v6 = seen_v6 or v6


class CalicoStorageVersionWithoutTypes(Rule):
    id = "NP013"
    name = "calico-storage-version-without-types"
    summary = (
        "A crd.projectcalico.org/v1 policy without `types` also isolates the direction it has no rules for."
    )
    level = Level.WARNING
    tags = ("calico", "isolation")

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        for policy in ctx.inventory.calico_policies:
            if not policy.storage_version or policy.written_types is not None:
                continue
            spec = policy.node.get_map("spec")
            if spec is not None and _has_placeholder_types(spec):
                continue
            if not policy.ingress and not policy.egress:
                continue  # a deny-all: both directions may well be what it means
            # What the Calico API server would have defaulted, against what Felix does without it.
            _, intended = default_types(spec, storage_version=False)
            silent = sorted(d.value for d in policy.types - intended)
            if not silent:
                continue
            directions = " and ".join(silent)
            governed = " and ".join(sorted(d.value for d in intended))
            yield self.finding(
                policy,
                policy.node.get("apiVersion"),
                f"{shown(policy.name)}: no `types` in the storage version, so Felix also isolates "
                f"{directions}, which it has no rules for; add `types: [{governed}]`",
                detail="`crd.projectcalico.org/v1` is the backing store of the Calico API server; an "
                "object applied to it directly is neither validated nor defaulted, and Felix reads an "
                "empty `types` as both Ingress and Egress, so its endpoints lose all traffic in the "
                "direction without rules (policy-kinds §7.9, K25). Written as `projectcalico.org/v3`, "
                f"the policy would govern {governed} only.",
            )


def _has_placeholder_types(spec: MapNode) -> bool:
    return placeholder_node(spec.get("types"))


RULES = (CalicoSelectorSyntax, CalicoInvalidPolicy, CalicoStorageVersionWithoutTypes)
