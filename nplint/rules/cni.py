"""NP6xx: CNI and enforcement — do the policies reach a CNI that applies them, all of them?"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from nplint.cluster.cni import PROFILES, CNIDetection, CNIEvidence, CNIProfile
from nplint.cluster.profiles import names_upstream
from nplint.findings import Finding, Level, Related
from nplint.loading.nodes import MapNode, Node, ScalarNode
from nplint.model import Direction, Inventory, NetworkPolicy, PolicyPort
from nplint.rules.base import Rule, RuleContext, WorldFacts
from nplint.rules.dns import egress_type_node
from nplint.units import naming
from nplint.untrusted import quoted
from nplint.untrusted import shown as shown_value

#: What to do when a CNI enforces nothing, per CNI (semantics §4, §7 P31).
REMEDIES = {
    "flannel": "run Flannel's policy controller (Flannel v0.25.5 or later, chart value `netpol.enabled: "
    "true`, which adds the kube-network-policies container), or a CNI that enforces policies: Canal, "
    "Calico, Cilium",
    "k3s": "remove `disable-network-policy` so k3s's embedded controller enforces policies, or install a "
    "CNI that does (with `flannel-backend: none`)",
    "aws-vpc-cni": 'turn the policy agent on: `enableNetworkPolicy: "true"` in the vpc-cni add-on '
    "configuration (VPC CNI 1.14 or later, Kubernetes 1.25 or later)",
    "kindnet": "use kind v0.24.0 or later with one of its node images, or turn kindnet off "
    "(`disableDefaultCNI: true`) and install Calico or Cilium",
    "cilium": "set Cilium's policy enforcement mode back to `default`",
    "kube-router": "run kube-router with `--run-firewall=true`",
}
_DEFAULT_REMEDY = "install a CNI that enforces NetworkPolicy (Calico, Cilium, Antrea, …), or correct `cni:`"
_DECLARE = (
    "Declare the CNI with `cni:` in .nplint.yaml (e.g. `cni: calico`) or `--cni`, so NP601 and NP602 "
    "can check it; `nplint explain NP603` lists the names"
)
_DECLARE_SHORT = "set `cni:` or pass `--cni`"
#: Characters of a CNI's evidence in a headline (the detail gives it whole).
_EVIDENCE_LIMIT = 90
#: Advice of NP602 short enough to follow the headline; longer advice is in the detail only.
_ADVICE_IN_HEADLINE = 60


def first_policy(inventory: Inventory) -> NetworkPolicy | None:
    """The first policy in reading order (path, then position)."""
    return min(inventory.policies, key=lambda p: (p.path, p.span), default=None)


def _policies(count: int) -> str:
    """The repository's policies as a subject: "the NetworkPolicy of …" or "the 3 NetworkPolicies of …"."""
    return (
        "the NetworkPolicy of this repository"
        if count == 1
        else f"the {count} NetworkPolicies of this repository"
    )


def _no_effect(inventory: Inventory) -> str:
    count = len(inventory.policies)
    if count == 1:
        return "the NetworkPolicy of this repository isolates no pod and restricts no connection"
    return f"none of the {count} NetworkPolicies of this repository isolates a pod or restricts a connection"


class CNICannotEnforce(Rule):
    id = "NP601"
    name = "cni-cannot-enforce"
    summary = "The cluster's CNI enforces no NetworkPolicy, so the repository's policies do nothing."
    level = Level.ERROR
    tags = ("cni", "enforcement")

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        inventory = ctx.inventory
        first = first_policy(inventory)
        if first is None:
            return
        detection = ctx.cluster.detection
        if detection.enforces is not False:
            return
        no_effect = _no_effect(inventory)
        related = Related(
            first.path,
            first.span,
            f"{first.ref} is not enforced",
        )
        if detection.declared and not detection.blame:
            yield self._declared(detection, first, no_effect)
            return
        if not detection.blame and detection.profile is not None:
            # A CNI the repository shows, switched off by the configuration's `cni-options`
            # (Cilium's `policy-enforcement-mode: never`): nothing in the repository to point at.
            yield self._switched_off(detection.profile, first, no_effect)
            return
        reported: set[str | None] = set()
        for evidence in detection.blame:
            if evidence.cni in reported:
                continue
            reported.add(evidence.cni)
            remedy = REMEDIES.get(evidence.cni or "", _DEFAULT_REMEDY)
            message = (
                f"NetworkPolicy is not enforced here: {shown_value(evidence.description, _EVIDENCE_LIMIT)}"
            )
            detail = (
                f"{evidence.description}: the API server accepts NetworkPolicy objects but nothing "
                f"applies them, so {no_effect}. To fix it, {remedy}."
            )
            yield self.finding(
                evidence.object,
                evidence.node,
                message,
                path=evidence.path,
                document_index=evidence.document_index,
                related=[related],
                detail=detail,
            )

    def _switched_off(self, profile: CNIProfile, first: NetworkPolicy, no_effect: str) -> Finding:
        remedy = REMEDIES.get(profile.name, _DEFAULT_REMEDY)
        shown_cni = PROFILES[profile.name].title if profile.name in PROFILES else profile.name
        return self.finding(
            first,
            None,
            f"NetworkPolicy is not enforced: {profile.title} (the configuration's `cni-options`) "
            "enforces none",
            detail=f"The repository shows {shown_cni}, and the configuration's `cni-options` switch its "
            f"enforcement off, so {no_effect}. To fix it, {remedy}, or correct `cni-options` if the "
            "cluster enforces policy.",
        )

    def _declared(self, detection: CNIDetection, first: NetworkPolicy, no_effect: str) -> Finding:
        profile = detection.profile
        assert profile is not None
        remedy = REMEDIES.get(profile.name, _DEFAULT_REMEDY)
        declared = f"the configuration declares `cni: {shown_value(detection.declared)}`"
        if profile.name == "none":
            message = f"NetworkPolicy is not enforced: {declared}, which enforces nothing"
            detail = f"Nothing enforces NetworkPolicy, so {no_effect}. To fix it, {remedy}."
        else:
            message = f"NetworkPolicy is not enforced: {declared}, and {profile.title} enforces none"
            detail = (
                f"{profile.title} enforces no NetworkPolicy, so {no_effect}. To fix it, {remedy}. "
                "If a policy engine runs beside it, declare that one instead (e.g. `cni: "
                "kube-network-policies`)."
            )
        return self.finding(first, None, message, detail=detail)


_FEATURE_TEXT = {
    "end_port": ("this port is a range (`endPort`)", "does not implement `endPort`"),
    "named_ports": ("this port is named", "does not resolve named ports"),
    "sctp": ("this port is SCTP", "does not enforce SCTP rules"),
    "ip_block_except": ("this ipBlock has an `except`", "does not support `except`"),
    "egress": ("this policy isolates egress", "does not enforce egress policy"),
}


class CNIIgnoresFeature(Rule):
    id = "NP602"
    name = "cni-ignores-feature"
    summary = "A policy uses a feature the declared or detected CNI ignores or rejects."
    level = Level.WARNING
    tags = ("cni", "enforcement")

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        inventory = ctx.inventory
        if not inventory.policies:
            return
        detection = ctx.cluster.detection
        profile = detection.profile
        if profile is None or detection.enforces is False:
            return
        source = "declared" if detection.declared else "detected"
        for policy in inventory.policies:
            for feature, node, advice in _features(policy, inventory):
                if profile.supports(feature) is not False:
                    continue
                uses, missing = _FEATURE_TEXT[feature]
                behaviour = profile.notes.get(feature) or missing
                # The profile's own note qualifies the gap (a version, a switch): its first
                # clause in the headline, never flattened into "does not"; the rest in the detail.
                message = f"{uses}, but {profile.title} {_first_clause(behaviour)}"
                if len(advice) <= _ADVICE_IN_HEADLINE:
                    message += f": {advice}"
                detail = f"{profile.title}, the {source} CNI, {behaviour}; {advice}."
                span = node.key_span if feature in ("end_port", "ip_block_except", "egress") else None
                related = _why(detection, profile)
                yield self.finding(policy, node, message, span=span, related=related, detail=detail)


def _first_clause(text: str) -> str:
    """``enforces SCTP rules only with …`` up to its first parenthesis, colon or second clause."""
    cuts = [i for i in (text.find(mark) for mark in (" (", ": ", ", so ", ", and ")) if i > 0]
    return text[: min(cuts)] if cuts else text


def _why(detection: CNIDetection, profile: CNIProfile) -> list[Related]:
    shown: list[CNIEvidence] = [e for e in detection.detected if e.cni in profile.name.split("+")]
    return [Related(e.path, e.node.span, e.description) for e in shown[:1]]


def _features(policy: NetworkPolicy, inventory: Inventory) -> Iterator[tuple[str, Node, str]]:
    """The CNI-sensitive features a policy uses: (feature, its node, what to write instead)."""
    if policy.isolates(Direction.EGRESS):
        node = egress_type_node(policy)
        if node is not None:
            yield (
                "egress",
                node,
                "restrict egress with an EgressNetworkPolicy, or move to a CNI that enforces egress policy",
            )
    for direction in Direction:
        if not policy.isolates(direction):
            continue
        for rule in policy.rules(direction):
            for peer in rule.peers or ():
                block = peer.ip_block
                except_node = block.node.get("except") if block is not None else None
                if block is not None and block.excepts and except_node is not None:
                    yield (
                        "ip_block_except",
                        except_node,
                        "list the allowed ranges as separate ipBlocks without `except`",
                    )
            for port in rule.ports or ():
                yield from _port_features(policy, direction, port, inventory)


def _port_features(
    policy: NetworkPolicy, direction: Direction, port: PolicyPort, inventory: Inventory
) -> Iterator[tuple[str, Node, str]]:
    node = port.node
    if not isinstance(node, MapNode):
        return
    end = node.get("endPort")
    if isinstance(port.port, int) and port.end_port is not None and end is not None:
        yield (
            "end_port",
            end,
            f"only port {port.port} would be open, not {port.port}–{port.end_port}; list each port "
            "of the range as its own entry",
        )
    value = node.get("port")
    if isinstance(port.port, str) and not port.port.isdigit() and isinstance(value, ScalarNode):
        # A quoted number is no name: the API server rejects it (NP002), no CNI sees it.
        yield "named_ports", value, _number_for(policy, direction, port, inventory)
    protocol = node.get("protocol")
    if port.protocol == "SCTP" and protocol is not None:
        yield (
            "sctp",
            protocol,
            "the SCTP traffic this rule allows stays blocked; turn the CNI's SCTP support on (or upgrade it)",
        )


def _number_for(policy: NetworkPolicy, direction: Direction, port: PolicyPort, inventory: Inventory) -> str:
    """Advice to write the number instead of the name, with the number when the selected pods agree on it."""
    name = str(port.port)
    numbers: set[int] = set()
    if direction is Direction.INGRESS:
        for workload in inventory.workloads_in(policy.namespace):
            if policy.pod_selector.matches(workload.pod_labels):
                numbers.update(workload.named_port(name, port.protocol))
    if len(numbers) == 1:
        return f"write the number instead: `port: {numbers.pop()}`"
    return f"write the container port number that {quoted(name)} stands for instead"


class CNIUnknown(Rule):
    id = "NP603"
    name = "cni-unknown"
    summary = "Policies exist but no CNI is declared or detected, so enforcement cannot be checked."
    level = Level.NOTE
    tags = ("cni", "enforcement")
    # Whether the cluster's CNI is known is a question about the run, not about one world: a
    # fleet of six clusters that all leave it open gets the note once, not six times.
    phase = "run"
    needs_worlds = True

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        worlds = ctx.worlds or (WorldFacts(None, ctx.cluster, tuple(ctx.inventory.policies)),)
        with_policies = [w for w in worlds if w.policies]
        # Worlds whose CNI is unknown in the same way share one finding.
        groups: dict[tuple[str, str | None], list[WorldFacts]] = {}
        for facts in with_policies:
            detection = facts.cluster.detection
            if detection.enforces is None:
                groups.setdefault(_situation(detection), []).append(facts)
        for group in groups.values():
            finding = self._unknown(group)
            if len(group) < len(with_policies):
                # Other worlds' CNI is known (or unknown otherwise): say which worlds this is about.
                held = [w.world for w in group if w.world is not None]
                finding = replace(
                    finding,
                    message=f"{finding.message} ({naming(held)})",
                    worlds=tuple(w.label for w in held),
                )
            yield finding

    def _unknown(self, group: list[WorldFacts]) -> Finding:
        """One finding for worlds whose CNI is unknown alike, on the first of their policies."""
        # A policy every world holds (from a shared base) is one policy of the repository.
        seen: dict[tuple[str, str], NetworkPolicy] = {}
        for facts in group:
            for policy in sorted(facts.policies, key=lambda p: (p.path, p.span)):
                seen.setdefault((policy.namespace, policy.name), policy)
        first = min(seen.values(), key=lambda p: (p.path, p.span))
        detection = group[0].cluster.detection
        evidence = list({e.description: e for w in group for e in w.cluster.detection.evidence}.values())
        policies = _policies(len(seen))
        be = "is" if len(seen) == 1 else "are"
        known = ", ".join(sorted(PROFILES))
        related: list[Related] = []
        if detection.declared and names_upstream(detection.declared):
            # `upstream` asks for the API's semantics: a choice, not a CNI that enforces anything.
            message = (
                f"`cni: {shown_value(detection.declared)}` names no CNI, so enforcement cannot be checked: "
                "declare the cluster's CNI"
            )
            detail = (
                f"`cni: {shown_value(detection.declared)}` asks for the Kubernetes API's semantics and names "
                f"no CNI, so nplint cannot tell whether {policies} {be} enforced. To check it, use one of: "
                f"{known}."
            )
        elif detection.declared:
            # The commands refuse an unknown name (exit 2); a Config built in code gets here.
            message = (
                f"`cni: {shown_value(detection.declared)}` is not a CNI nplint knows: use one of the names "
                "`nplint explain NP603` lists"
            )
            detail = f"nplint cannot tell whether {policies} {be} enforced. The CNIs it knows: {known}."
        elif evidence:
            shown = "; ".join(dict.fromkeys(e.description for e in evidence[:3]))
            message = f"the repository does not show whether its CNI enforces NetworkPolicy: {_DECLARE_SHORT}"
            detail = (
                f"{policies[:1].upper()}{policies[1:]} {be} enforced only if the cluster's CNI enforces "
                f"NetworkPolicy, and the repository does not show whether it does ({shown}). {_DECLARE}."
            )
            related = [Related(e.path, e.node.span, e.description) for e in evidence[:3]]
        else:
            message = f"no CNI declared or found, so enforcement is unchecked: {_DECLARE_SHORT}"
            detail = (
                f"{policies[:1].upper()}{policies[1:]} {be} enforced only if the cluster's CNI enforces "
                f"NetworkPolicy, and no CNI is declared or found in the repository. {_DECLARE}."
            )
        return self.finding(first, None, message, related=related, detail=detail)


def _situation(detection: CNIDetection) -> tuple[str, str | None]:
    """How a world's CNI is unknown: the worlds that say the same share one finding."""
    if detection.declared:
        return ("upstream" if names_upstream(detection.declared) else "unknown", detection.declared)
    return ("evidence" if detection.evidence else "nothing", None)


RULES = (CNICannotEnforce, CNIIgnoresFeature, CNIUnknown)
