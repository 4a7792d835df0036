"""NP503: an address rule of an admin or Calico policy whose range holds the pods.

An AdminNetworkPolicy or ClusterNetworkPolicy ``networks`` peer, and a Calico ``nets``
match by IP address, and that includes the pods' own addresses: "Deny to 0.0.0.0/0
denies pod-to-pod too, unless an earlier rule passes pod traffic" (policy-kinds §3.3,
§7.5, §9.1, pitfall K04). Written for "the internet", such a rule also decides every
connection between pods. The rule reports:

* a ``Deny`` on such a range (either kind, either tier);
* an Admin-tier ``Allow``/``Accept`` on such a range: pod egress it accepts no
  NetworkPolicy can restrict any more;
* a Calico ``Allow`` whose ``notNets`` carve private ranges out but leave the pod range in:
  written for the internet, it allows the pods too.

It stays quiet when the rule itself, or an earlier rule of the same policy and direction
(whatever its action), names pods by selector: the author has decided pod traffic on purpose. A CNI whose
CIDR rules never match pods (Cilium) or that does not enforce the kind is not judged.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Sequence

from nplint.cluster.addresses import POD, ClusterRange
from nplint.engine.calico_layer import CalicoLayers
from nplint.engine.engine import engine_for, has_admin_layers, has_cni_layer
from nplint.findings import Finding, Level, Related
from nplint.loading.nodes import MapNode, Node, ScalarNode, SeqNode
from nplint.model import Direction
from nplint.model.admin import V1ALPHA2, AdminPolicy, AdminRule, PeerKind, Tier
from nplint.model.admin import Action as AdminAction
from nplint.model.calico import Action as CalicoAction
from nplint.model.calico import CalicoPolicy, CalicoRule, EntityRule
from nplint.model.inventory import parse_network
from nplint.model.objects import IPNetwork
from nplint.records import record
from nplint.rules.base import Rule, RuleContext
from nplint.untrusted import shown

_RUNS_CALICO = frozenset(("calico", "canal"))
#: Characters of a name in the headline (the detail gives it whole).
_NAME_LIMIT = 30


@record(frozen=True, slots=True)
class _PodRange:
    """A pod range to judge against: the cluster's, or every IPv4 address when it is unknown."""

    network: IPNetwork
    known: ClusterRange | None

    def __str__(self) -> str:
        return str(self.network)


def _pod_ranges(ranges: Sequence[ClusterRange]) -> list[_PodRange]:
    known = [_PodRange(r.network, r) for r in ranges if r.role == POD]
    # Unknown: only a range holding every IPv4 address surely holds the pods, wherever they are.
    return known or [_PodRange(ipaddress.IPv4Network("0.0.0.0/0"), None)]


def _held(network: IPNetwork, excepts: Sequence[IPNetwork], pods: Sequence[_PodRange]) -> list[_PodRange]:
    """The pod ranges ``network`` holds, and more, that ``excepts`` take nothing of.

    A range no wider than the pod range is aimed at the pods on purpose, and is left alone.
    """
    return [
        p
        for p in pods
        if p.network.version == network.version
        and p.network.subnet_of(network)  # type: ignore[arg-type]
        and (p.known is None or network.prefixlen < p.network.prefixlen)
        and not any(e.version == network.version and e.overlaps(p.network) for e in excepts)
    ]


class NetworkRuleDecidesPods(Rule):
    id = "NP503"
    name = "network-rule-holds-pods"
    summary = (
        "An admin `networks` or Calico `nets` rule whose range holds the pod range also denies "
        "(or allows) traffic between pods."
    )
    level = Level.WARNING
    tags = ("ipblock", "admin", "calico")

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        view = ctx.cluster
        profile = view.profile
        if not profile.enforces or not profile.ipblock_matches_pods:
            return
        if not has_admin_layers(ctx.inventory) and not has_cni_layer(profile, ctx.inventory):
            return  # no admin or Calico rule to judge (and no engine to build for it)
        pods = _pod_ranges(view.ranges)
        engine = engine_for(ctx.inventory, ctx.config)
        layers = engine.layers
        if layers is not None:
            for tier in (Tier.ADMIN, Tier.BASELINE):
                for policy in layers.enforced[tier]:
                    yield from self._admin(policy, pods)
        cni_layer = engine.cni_layer
        if profile.name in _RUNS_CALICO and isinstance(cni_layer, CalicoLayers):
            ignored = {id(i.policy) for i in cni_layer.ignored}
            workloads = [c for c in engine.classes if not c.host_network]
            for calico in sorted(ctx.inventory.calico_policies, key=lambda p: (p.path, p.span)):
                if id(calico) in ignored or calico.host_endpoints_only:
                    continue
                # A policy for none of the repository's pods (host endpoints, say) is not judged.
                if any(calico.selects(cni_layer.endpoints[c.index]) for c in workloads):
                    yield from self._calico(calico, pods)

    # -- AdminNetworkPolicy, BaselineAdminNetworkPolicy, ClusterNetworkPolicy ----------

    def _admin(self, policy: AdminPolicy, pods: list[_PodRange]) -> Iterator[Finding]:
        pods_decided = False
        for rule in policy.egress:
            names_pods = any(p.kind in (PeerKind.NAMESPACES, PeerKind.PODS) for p in rule.peers)
            if pods_decided or names_pods:
                pods_decided = pods_decided or rule.action is not None
                continue
            judged = rule.action is AdminAction.DENY or (
                rule.action is AdminAction.ALLOW and policy.tier is Tier.ADMIN
            )
            if not judged:
                continue
            for peer in rule.peers:
                if peer.kind is not PeerKind.NETWORKS:
                    continue
                for index, (text, network) in enumerate(peer.networks):
                    held = _held(network, (), pods) if network is not None else []
                    if held:
                        yield self._admin_finding(policy, rule, peer.node, index, text, held)
                        break

    def _admin_finding(
        self,
        policy: AdminPolicy,
        rule: AdminRule,
        peer_node: Node,
        index: int,
        text: str,
        held: list[_PodRange],
    ) -> Finding:
        deny = rule.action is AdminAction.DENY
        allow = "Accept" if policy.api_version == V1ALPHA2 else "Allow"
        verb = "Deny" if deny else allow
        effect = "blocks pod-to-pod egress too" if deny else "opens pod-to-pod egress past any NetworkPolicy"
        message = f"`networks` {shown(text)} holds {_ranges(held)}: this {verb} {effect}; decide pods first"
        detail = (
            f"{policy.title} {shown(policy.name)} {rule.label}: a `networks` peer matches by address, and "
            f"pods' addresses are in it (policy-kinds §3.3, pitfall K04). {_source(held)} "
            f"If it is meant for addresses outside the cluster, put a rule for the pods before it "
            f"(e.g. `action: Pass` to `namespaces: {{}}`, so NetworkPolicy decides them), or list only "
            "outside ranges."
        )
        node = (
            _item(peer_node.get("networks") if isinstance(peer_node, MapNode) else None, index) or peer_node
        )
        return self.finding(policy, node, message, detail=detail, related=_related(held))

    # -- Calico ------------------------------------------------------------------------

    def _calico(self, policy: CalicoPolicy, pods: list[_PodRange]) -> Iterator[Finding]:
        for direction in (Direction.INGRESS, Direction.EGRESS):
            if direction not in policy.types:
                continue
            pods_decided = False
            for rule in policy.rules(direction):
                peer = rule.peer
                if pods_decided or _names_endpoints(peer):
                    pods_decided = pods_decided or rule.action not in (None, CalicoAction.LOG)
                    continue
                internet = bool(peer.not_nets)
                if not (rule.action is CalicoAction.DENY or (rule.action is CalicoAction.ALLOW and internet)):
                    continue
                for network in peer.nets:
                    held = _held(network, peer.not_nets, pods)
                    if held:
                        yield self._calico_finding(policy, rule, network, held)
                        break

    def _calico_finding(
        self, policy: CalicoPolicy, rule: CalicoRule, network: IPNetwork, held: list[_PodRange]
    ) -> Finding:
        peer = rule.peer
        side = "source" if rule.direction is Direction.INGRESS else "destination"
        deny = rule.action is CalicoAction.DENY
        what = f"pod-to-pod {rule.direction.lower}"
        if deny:
            message = (
                f"`{side}.nets` {network} holds {_ranges(held)}: this Deny blocks {what} too; "
                "add the pod range to `notNets`"
            )
        else:
            message = (
                f"`{side}.nets` {network} minus `notNets` holds {_ranges(held)}: "
                f"this Allow opens {what}; add it to `notNets`"
            )
        detail = (
            f"{policy.kind} {shown(policy.name)} {rule.direction.lower} rule {rule.index}: Calico `nets` are "
            f"pure address matches and hold pods too (policy-kinds §7.5, §9.1, pitfall K04). "
            f"{_source(held)} "
            + (
                ""
                if deny
                else "Its `notNets` take private ranges out, so it reads as meant for the internet. "
            )
            + "If pods are to be decided here, say so with a `selector` or `namespaceSelector`; else "
            "keep the pod range out with `notNets`."
        )
        nets = peer.node.get("nets") if peer.node is not None else None
        node = _net_item(nets, network) or nets or rule.node
        return self.finding(policy, node, message, detail=detail, related=_related(held))


def _names_endpoints(entity: EntityRule) -> bool:
    """The entity picks endpoints by label, account or Service: its author decided pods there."""
    return bool(entity.selectors or entity.service_account_names or entity.service is not None)


def _ranges(held: list[_PodRange]) -> str:
    known = [str(p) for p in held if p.known is not None]
    return "the pod range " + ", ".join(known) if known else "every pod address"


def _source(held: list[_PodRange]) -> str:
    known = [p.known for p in held if p.known is not None]
    if known:
        return "The pod range: " + "; ".join(str(k) for k in known) + "."
    return (
        "The pod range is not known (set `cluster.pod-cidr` in the configuration); every IPv4 "
        "address holds it, wherever it is."
    )


def _related(held: list[_PodRange]) -> list[Related]:
    return [
        Related(p.known.path, p.known.node.span, f"the pod range {p.network}")
        for p in held
        if p.known is not None and p.known.path and p.known.node is not None
    ]


def _item(node: Node | None, index: int) -> Node | None:
    items = list(node) if isinstance(node, SeqNode) else []
    return items[index] if 0 <= index < len(items) else None


def _net_item(node: Node | None, network: IPNetwork) -> Node | None:
    items = list(node) if isinstance(node, SeqNode) else []
    for item in items:
        if (
            isinstance(item, ScalarNode)
            and isinstance(item.value, str)
            and parse_network(item.text) == network
        ):
            return item
    return None


RULES = (NetworkRuleDecidesPods,)
