"""NP501–NP502: ipBlock ranges that say something other than they mean.

An ipBlock is meant for addresses outside the cluster (networkpolicy-semantics
§2.8): whether it matches pods is up to the CNI, and Service addresses are
rewritten before policies see them. Its CIDRs must be network addresses from
Kubernetes 1.36 on (KEP-4858, §1.6).
"""

from __future__ import annotations

from collections.abc import Iterator

from nplint.cluster.addresses import (
    POD,
    SERVICE,
    ClusterRange,
    apiserver_service_addresses,
    block_overlaps,
    dns_service_addresses,
    is_whole_family,
)
from nplint.findings import Finding, Level, Related
from nplint.loading.nodes import Node, ScalarNode
from nplint.model import Direction, IPBlock, NetworkPolicy
from nplint.model.validation import is_strict_subset, parse_cidr
from nplint.rules.base import Rule, RuleContext, replacing


def policy_blocks(policy: NetworkPolicy) -> Iterator[IPBlock]:
    """Every ipBlock of the policy, ingress then egress, in document order."""
    for direction in Direction:
        for rule in policy.rules(direction):
            for peer in rule.peers or ():
                if peer.ip_block is not None:
                    yield peer.ip_block


def cidr_values(block: IPBlock) -> Iterator[tuple[str, ScalarNode]]:
    """The block's ``cidr`` and ``except`` strings with their nodes."""
    cidr = block.node.get("cidr")
    if isinstance(cidr, ScalarNode) and isinstance(cidr.value, str):
        yield "cidr", cidr
    for item in block.node.get_seq("except") or ():
        if isinstance(item, ScalarNode) and isinstance(item.value, str):
            yield "except", item


def host_bits_fix(text: str) -> tuple[str, str] | None:
    """For a CIDR with host bits set: (the masked network, the single address); else None."""
    parsed = parse_cidr(text)
    if parsed.network is None or parsed.error is not None or not parsed.host_bits:
        return None  # leading zeros, bare addresses and the like are NP003's
    address = text.partition("/")[0]
    return str(parsed.network), f"{address}/{parsed.network.max_prefixlen}"


class IpBlockHostBitsSet(Rule):
    id = "NP501"
    name = "ipblock-host-bits-set"
    summary = "A CIDR with host bits set (`10.0.0.1/24`): ambiguous, and rejected from Kubernetes 1.36."
    level = Level.WARNING
    about_form = True
    tags = ("ipblock", "validation")

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        for policy in ctx.inventory.policies:
            for block in policy_blocks(policy):
                for field, node in cidr_values(block):
                    fixed = host_bits_fix(str(node.value))
                    if fixed is None:
                        continue
                    network, single = fixed
                    message = (
                        f"{field} {node.value} has host bits set: write {network} for the range, "
                        f"or {single} for the one address"
                    )
                    detail = (
                        f"The API server reads {node.value} as the network {network}, other tools may read "
                        f"it as the single address {single}, and from Kubernetes 1.36 "
                        "(StrictIPCIDRValidation, on by default) the API server rejects it."
                    )
                    # The API server reads the CIDR as its network already: the same block, as it acts.
                    edit = replacing(node, network)
                    fixes = (
                        self.make_fix(
                            policy, f"write {network}, the network the API server reads", [edit], safe=True
                        )
                        if edit is not None
                        else ()
                    )
                    yield self.finding(policy, node, message, fix=network, detail=detail, fixes=fixes)


def _excluded(ctx: RuleContext, ranges: tuple[ClusterRange, ...]) -> set[object]:
    """Single-address blocks of the DNS and ``kubernetes`` Services: NP303 and NP305 judge them."""
    inventory, facts = ctx.inventory, ctx.cluster.facts
    known = dns_service_addresses(inventory, facts, ranges) + apiserver_service_addresses(
        inventory, facts, ranges
    )
    return {a.address for a in known}


class IpBlockOverlapsClusterCidr(Rule):
    id = "NP502"
    name = "ipblock-overlaps-cluster-cidr"
    summary = "An ipBlock overlaps the pod or service range: whether it matches depends on the CNI."
    level = Level.WARNING
    about_form = True
    tags = ("ipblock", "cni")

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        ranges = ctx.cluster.ranges
        if not ranges:
            return
        if ctx.cluster.pre_dnat:
            # The AWS VPC CNI judges egress before DNAT and allows ClusterIPs by design.
            ranges = tuple(r for r in ranges if r.role == POD)
        excluded = _excluded(ctx, ranges)
        for policy in ctx.inventory.policies:
            for block in policy_blocks(policy):
                network = block.network
                if network is None:
                    continue
                if network.num_addresses == 1 and network.network_address in excluded:
                    continue
                if is_whole_family(network) and not block.excepts:
                    continue  # "anywhere" on purpose: NP307 and NP306 speak about it
                hits = [r for r in ranges if block_overlaps(block, r.network)]
                if hits:
                    yield self._report(policy, block, hits)

    def _report(self, policy: NetworkPolicy, block: IPBlock, hits: list[ClusterRange]) -> Finding:
        node: Node = block.node.get("cidr") or block.node
        pods = [r for r in hits if r.role == POD]
        services = [r for r in hits if r.role == SERVICE]
        parts = []
        if pods:
            parts.append(
                f"the pod range{'s' if len(pods) > 1 else ''} {' and '.join(map(str, pods))}: Calico, "
                "kube-router and most iptables-based CNIs let it match the pods inside, Cilium and the "
                "Cilium-based dataplanes never do, and pod addresses change with every restart"
            )
        if services:
            parts.append(
                f"the Service range{'s' if len(services) > 1 else ''} {' and '.join(map(str, services))}: "
                "on almost every CNI a connection to a ClusterIP is rewritten to the backend pod before "
                "the policy sees it, so these addresses never match"
            )
        outer = block.network
        assert outer is not None
        excepts = [text for text, _ in block.excepts]
        excepts += [str(r.network) for r in hits if is_strict_subset(r.network, outer)]
        advice = "Select in-cluster peers with namespaceSelector/podSelector instead" + (
            f", and keep the block external with `except: [{', '.join(excepts)}]`" if excepts else ""
        )
        roles = " and ".join(
            f"the {noun} range {' and '.join(str(r.network) for r in hits if r.role == role)}"
            for noun, role in (("pod", POD), ("Service", SERVICE))
            if any(r.role == role for r in hits)
        )
        message = f"ipBlock {block.cidr} overlaps {roles}: select pods by selectors"
        if excepts:
            message += ", or add the range to `except`"
        detail = f"ipBlock {block.cidr} overlaps " + "; it also overlaps ".join(parts) + f". {advice}."
        related = [
            Related(r.path, r.node.span, f"the {r.role} range {r.network}") for r in hits if r.path and r.node
        ]
        fix = f"except: [{', '.join(excepts)}]" if excepts else None
        return self.finding(policy, node, message, related=related, fix=fix, detail=detail)


RULES = (
    IpBlockHostBitsSet,
    IpBlockOverlapsClusterCidr,
)
