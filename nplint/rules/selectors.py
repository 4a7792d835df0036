"""NP2xx: selectors that mean something other than what they look like."""

from __future__ import annotations

from collections.abc import Iterator

from nplint.findings import Edit, Finding, Fix, Level, Related
from nplint.loading.nodes import MapNode, Node, ScalarNode
from nplint.model import Direction, LabelSelector, NetworkPolicy, Peer
from nplint.rules.base import Rule, RuleContext, yaml_path
from nplint.untrusted import quoted, shown


def selector_yaml(selector: LabelSelector) -> str:
    """A selector in flow style, as a user would write it in a peer (its keys and values capped)."""
    parts = []
    if selector.match_labels:
        labels = ", ".join(f"{shown(key)}: {_quote(shown(value))}" for key, value in selector.match_labels)
        parts.append(f"matchLabels: {{{labels}}}")
    if selector.expressions:
        items = []
        for requirement in selector.expressions:
            op = requirement.operator.value if requirement.operator else "?"
            text = f"key: {shown(requirement.key)}, operator: {op}"
            if requirement.values:
                text += f", values: [{', '.join(_quote(shown(v)) for v in sorted(requirement.values))}]"
            items.append("{" + text + "}")
        parts.append(f"matchExpressions: [{', '.join(items)}]")
    return "{" + ", ".join(parts) + "}"


def _quote(value: str) -> str:
    from nplint.loading.scalars import resolve_plain

    plain = resolve_plain(value)
    safe = isinstance(plain, str) and plain == value and not any(c in value for c in ":{}[],#&*!|>'\"%@`")
    return value if safe and value else '"' + value.replace('"', '\\"') + '"'


def _only(peer: Peer, field: str) -> bool:
    node = peer.node
    if not isinstance(node, MapNode) or peer.ip_block is not None:
        return False
    present = {key for key, value in node.items() if not (isinstance(value, ScalarNode) and value.is_null)}
    return present == {field}


class PeerAndOrConfusion(Rule):
    id = "NP201"
    name = "peer-and-or-confusion"
    summary = (
        "A `- namespaceSelector` peer next to a `- podSelector` peer: "
        "two peers (OR) where one peer (AND) was meant."
    )
    level = Level.WARNING
    about_form = True
    tags = ("selectors",)

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        for policy in ctx.inventory.policies:
            for direction in Direction:
                for rule in policy.rules(direction):
                    if rule.peers is None:
                        continue
                    yield from self._check_peers(policy, direction, rule.peers)

    def _check_peers(
        self, policy: NetworkPolicy, direction: Direction, peers: tuple[Peer, ...]
    ) -> Iterator[Finding]:
        namespace_only = [p for p in peers if _only(p, "namespaceSelector")]
        if not namespace_only or any(p.ip_block is not None for p in peers):
            # A list that also names address ranges enumerates kinds of sources one by
            # one — the Kubernetes documentation's own example is written so, and means OR.
            return
        for pod_peer in peers:
            if not _only(pod_peer, "podSelector"):
                continue
            assert pod_peer.pod_selector is not None
            if pod_peer.pod_selector.is_empty:
                # `- podSelector: {}` beside a namespace peer is the usual, deliberate
                # "my namespace, or that one"; NP202 covers its own meaning.
                continue
            # Pair it with the nearest namespace-only peer, the one before it first.
            ns_peer = min(
                namespace_only,
                key=lambda p: (abs(p.index - pod_peer.index), p.index > pod_peer.index),
            )
            assert ns_peer.namespace_selector is not None
            key = direction.peers_key
            ns_text = selector_yaml(ns_peer.namespace_selector)
            pod_text = selector_yaml(pod_peer.pod_selector)
            fix = f"{key}:\n- namespaceSelector: {ns_text}\n  podSelector: {pod_text}"
            message = (
                f"two {key} peers, ORed, where one AND peer may be meant: drop the dash before this one "
                "to make it one peer"
            )
            detail = (
                f"These are two {key} peers, ORed: pods {pod_peer.pod_selector} of namespace "
                f"{quoted(policy.namespace)} OR every pod of the namespaces matching "
                f"{ns_peer.namespace_selector}. "
                f"If you meant pods {pod_peer.pod_selector} in those namespaces, make them one peer: "
                f"`- namespaceSelector: {ns_text}` with `podSelector: {pod_text}` under it, in the same "
                "list item, without its own dash. If OR is intended, suppress this finding."
            )
            # The later item of the pair carries the dash one too many.
            later, other = (pod_peer, ns_peer) if pod_peer.index > ns_peer.index else (ns_peer, pod_peer)
            yield self.finding(
                policy,
                later.node,
                message,
                related=[Related(policy.path, other.node.span, "the other peer of the pair")],
                fix=fix,
                detail=detail,
                fixes=self._and_fix(policy, other, later),
            )

    def _and_fix(self, policy: NetworkPolicy, first: Peer, later: Peer) -> tuple[Fix, ...]:
        """The later peer's selector moved into the earlier one: one peer, both selectors ANDed.

        Unsafe: it narrows who may connect to what the author most likely meant.
        """
        peers = first.node.parent
        where = yaml_path(peers) if peers is not None else None
        if where is None or not isinstance(first.node, MapNode) or not isinstance(later.node, MapNode):
            return ()
        keys = [list(first.node.entries), list(later.node.entries)]
        edit = Edit.make("join", where, first.index, {"from": later.index, "keys": keys})
        return self.make_fix(
            policy, "make the two peers one (AND): drop the dash before the second", [edit], safe=False
        )


class ImplicitPodSelector(Rule):
    id = "NP204"
    name = "implicit-pod-selector"
    summary = "`spec.podSelector` is omitted or null, which selects every pod of the namespace."
    level = Level.WARNING
    about_form = True
    tags = ("selectors",)

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        for policy in ctx.inventory.policies:
            spec = policy.spec
            selector = spec.get("podSelector") if spec is not None else None
            if selector is not None and not (isinstance(selector, ScalarNode) and selector.is_null):
                continue
            what = "is null" if selector is not None else "is omitted"
            where: Node | None
            if selector is not None:
                where = selector
                span = selector.key_span
            elif spec is not None:
                where = spec
                span = spec.key_span
            else:
                where = None
                span = policy.node.key_span if policy.node.parent is not None else policy.span
            message = (
                f"spec.podSelector {what}, so the policy selects every pod of its namespace: "
                "write `podSelector: {}` or a selector"
            )
            detail = (
                f"With spec.podSelector {what.removeprefix('is ')}, this policy applies to every pod in "
                f"namespace {quoted(policy.namespace)}. Write `podSelector: {{}}` if that is what you mean, "
                "or a selector for the pods you mean (schema validators for Kubernetes before 1.34 also "
                "reject a missing podSelector)."
            )
            place = yaml_path(spec) if spec is not None else None
            # The API server reads an omitted or null selector as `{}`: the same policy, written out.
            fixes = (
                self.make_fix(
                    policy,
                    "write `podSelector: {}` (every pod of the namespace, as now)",
                    [Edit.make("set", place, "podSelector", {}, after="")],
                    safe=True,
                )
                if place is not None
                else ()
            )
            yield self.finding(
                policy, where, message, span=span, fix="podSelector: {}", detail=detail, fixes=fixes
            )


RULES = (
    PeerAndOrConfusion,
    ImplicitPodSelector,
)
