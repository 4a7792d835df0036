"""NP604: a policy of a kind (or a priority) the cluster's CNI does not enforce.

The API server accepts such an object wherever its CRD is installed, and nothing applies
it: it decides no connection (policy-kinds §10, K10, K02). The engine leaves it out of
every verdict for the same reasons (:func:`nplint.engine.layers.not_enforced_reason`,
:mod:`nplint.engine.cni_layer`); this rule says so once per object, where it is written.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from nplint.cluster.cni import CNIDetection
from nplint.cluster.profiles import EngineProfile, engine_profile
from nplint.engine.layers import AdminSupport, admin_support, not_enforced_reason
from nplint.findings import Finding, Level, Related
from nplint.loading.nodes import Node
from nplint.model.admin import AdminPolicy
from nplint.model.cilium import CiliumPolicy
from nplint.model.objects import KubeObject
from nplint.rules.base import Rule, RuleContext
from nplint.untrusted import shown

#: Engine profiles whose dataplane runs Calico's policy engine (Felix): Canal is Calico's
#: policy engine on Flannel's network (policy-kinds §10 "Calico" column).
_RUNS_CALICO = frozenset(("calico", "canal"))
_RUNS_CILIUM = frozenset(("cilium",))
#: Kinds whose enforcement on a CNI the reference leaves UNCERTAIN whatever the version
#: (policy-kinds §10, §12): Cilium's and the AWS policy agent's ClusterNetworkPolicy. What hangs
#: on a version or a feature gate nplint does not know (Calico's releases, Antrea's gates) is
#: the support's ``unknown`` (:func:`nplint.engine.layers.admin_support`). The engine decides
#: with them as it does; only this rule holds back.
_UNKNOWABLE: dict[str, frozenset[str]] = {
    "cilium": frozenset(("ClusterNetworkPolicy",)),
    "aws-vpc-cni": frozenset(("ClusterNetworkPolicy",)),
}
#: The first Cilium release with deny rules, ``ingressDeny`` / ``egressDeny`` (policy-kinds §10).
CILIUM_DENY_RELEASE = (1, 9)
#: Characters of the CNI's evidence in a headline (the detail gives it whole).
_EVIDENCE_LIMIT = 60
#: Characters of the object's name in the headline (the detail gives it whole).
_NAME_LIMIT = 32


class KindNotEnforced(Rule):
    id = "NP604"
    name = "kind-not-enforced"
    summary = "A policy of a kind, or with a priority, the cluster's CNI does not enforce decides nothing."
    level = Level.WARNING
    tags = ("cni", "enforcement")

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        detection = ctx.cluster.detection
        # An unknown CNI is NP603's note; nothing here can be judged against it.
        if detection.enforces is None or detection.profile is None:
            return
        profile = ctx.cluster.profile
        # Several CNIs detected for one world (two clusters' files in one folder, or a CNI
        # replacing another): a kind counts as not enforced only when none of them enforces it;
        # where one alone is shown explicitly, it is the world's CNI here.
        others = _other_members(profile, detection)
        named: EngineProfile | None = None
        if len(others) == 1:
            profile, named, others = others[0], others[0], []
        inventory = ctx.inventory
        # (object, kind, why in the headline, why in the detail)
        found: list[tuple[KubeObject, str, str, str]] = []
        # (policy, the deny section's key, the headline's why, the detail's why)
        sections: list[tuple[KubeObject, Node, str, str]] = []
        support = admin_support(profile)
        unknowable = (
            _UNKNOWABLE.get(profile.name, frozenset()) | support.unknown if profile.enforces else frozenset()
        )
        for admin in inventory.admin_policies:
            if admin.kind in unknowable:
                continue
            reason = (
                not_enforced_reason(admin, profile.name, profile.title, support)
                if profile.enforces
                else _enforces_none(profile)
            )
            if reason is not None and all(_refuses(admin, member) for member in others):
                found.append((admin, admin.kind, _short(admin, profile, support), reason))
        if not _runs(profile, others, _RUNS_CALICO):
            for calico in inventory.calico_policies:
                does_not = f"{profile.title} {_do(profile)} not enforce"
                reason = _enforces_none(profile) or f"{does_not} Calico policies"
                found.append((calico, f"Calico {calico.kind}", _short(calico, profile, support), reason))
        if not _runs(profile, others, _RUNS_CILIUM):
            for cilium in inventory.cilium_policies:
                does_not = f"{profile.title} {_do(profile)} not enforce"
                reason = _enforces_none(profile) or f"{does_not} {cilium.kind}"
                found.append((cilium, cilium.kind, _short(cilium, profile, support), reason))
        elif (
            profile.enforces and profile.version is not None and profile.version.release < CILIUM_DENY_RELEASE
        ):
            sections = _deny_sections(inventory.cilium_policies, profile)
        if found or sections:
            yield from self._findings(found, sections, detection, named)

    def _findings(
        self,
        found: list[tuple[KubeObject, str, str, str]],
        sections: list[tuple[KubeObject, Node, str, str]],
        detection: CNIDetection,
        named: EngineProfile | None,
    ) -> Iterator[Finding]:
        source, related = _source(detection, named)
        for obj, key, short, reason in sections:
            yield self.finding(
                obj,
                key,
                f"{obj.kind} {shown(obj.name, _NAME_LIMIT)}: {short}",
                related=related,
                detail=f"{obj.kind} {shown(obj.name)}: {source}. {reason}: the API server of that release "
                "does not know the field, and nothing applies it, so it denies no connection and puts no "
                "pod in default deny (policy-kinds §10). Upgrade Cilium, or write the deny as the absence "
                "of an allow, or correct `cni:` if the cluster runs another release.",
            )
        for obj, kind, short, reason in sorted(found, key=lambda f: (f[0].path, f[0].span)):
            where = obj.node.get("kind")
            yield self.finding(
                obj,
                where,
                f"{kind} {shown(obj.name, _NAME_LIMIT)} decides nothing: {short}",
                related=related,
                detail=f"{kind} {shown(obj.name)}: {source}. {reason[:1].upper()}{reason[1:]}: the API "
                "server accepts the object "
                "where its CRD is installed, and nothing applies it, so it allows and denies no "
                "connection (policy-kinds §10). Write the policy in a kind the CNI enforces (a "
                "NetworkPolicy, or the CNI's own kind), or correct `cni:` if the cluster runs "
                "another CNI.",
            )


def _other_members(profile: EngineProfile, detection: CNIDetection) -> list[EngineProfile]:
    """The profiles of each CNI a merged profile (``kindnet+cilium``) stands for; none for one CNI.

    Where some of them are shown explicitly (an operator's Installation, an agent's settings),
    only those count: a CNI shown by nothing but policies written for it (a CiliumNetworkPolicy
    is evidence of Cilium, and weaker) does not make those same policies enforced.
    """
    names = profile.name.split("+")
    if len(names) < 2:
        return []
    explicit = {e.cni for e in detection.detected if e.explicit}
    if explicit & set(names):
        names = [name for name in names if name in explicit]
    members = []
    for name in names:
        try:
            members.append(engine_profile(name))
        except KeyError:
            continue
    return members


def _do(profile: EngineProfile) -> str:
    """The verb for the profile's title: a merged profile's title names several CNIs."""
    return "do" if "+" in profile.name else "does"


def _runs(profile: EngineProfile, others: list[EngineProfile], engines: frozenset[str]) -> bool:
    return profile.name in engines or any(member.name in engines for member in others)


def _refuses(admin: AdminPolicy, member: EngineProfile) -> bool:
    """Whether one CNI of several surely does not enforce ``admin`` (unknown counts as enforcing)."""
    if not member.enforces:
        return True
    support = admin_support(member)
    if admin.kind in _UNKNOWABLE.get(member.name, frozenset()) | support.unknown:
        return False
    return not_enforced_reason(admin, member.name, member.title, support) is not None


def _before(profile: EngineProfile, release: tuple[int, int]) -> bool:
    return profile.version is not None and profile.version.release < release


def _deny_sections(
    policies: Sequence[CiliumPolicy], profile: EngineProfile
) -> list[tuple[KubeObject, Node, str, str]]:
    """The ``ingressDeny`` / ``egressDeny`` sections of Cilium policies on a release without them."""
    found: list[tuple[KubeObject, Node, str, str]] = []
    for cilium in sorted(policies, key=lambda p: (p.path, p.span)):
        for spec in cilium.specs:
            for key in ("ingressDeny", "egressDeny"):
                node = spec.node.key_node(key)
                if node is None:
                    continue
                where = f"specs[{spec.index}]." if spec.index is not None else ""
                short = f"its {where}{key} decides nothing on {profile.release_title}"
                reason = (
                    f"{profile.release_title} has no deny rules: Cilium enforces `{key}` from "
                    f"{CILIUM_DENY_RELEASE[0]}.{CILIUM_DENY_RELEASE[1]} on"
                )
                found.append((cilium, node, short, reason))
    return found


def _short(obj: KubeObject, profile: EngineProfile, support: AdminSupport) -> str:
    """Why, short enough for a headline; the detail gives the whole reason."""
    if not profile.enforces:
        return f"{profile.title} enforces no network policy"
    if isinstance(obj, AdminPolicy) and obj.kind == "AdminNetworkPolicy" and support.anp:
        return f"{profile.title} refuses a priority above {support.max_anp_priority}"
    if isinstance(obj, AdminPolicy) and profile.name == "antrea" and obj.kind in support.reasons:
        gate = "ClusterNetworkPolicy" if obj.kind == "ClusterNetworkPolicy" else "AdminNetworkPolicy"
        return f"Antrea's feature gate {gate} is off; enable the gate"
    if isinstance(obj, AdminPolicy) and obj.kind in support.reasons:
        # Canal's release is Calico's: the policy engine it runs decides (policy-kinds §10).
        title = f"Calico {profile.version}" if profile.name in _RUNS_CALICO else profile.release_title
        return f"{title} does not enforce this kind"
    return f"{profile.title} {_do(profile)} not enforce this kind"


def _enforces_none(profile: EngineProfile) -> str | None:
    return None if profile.enforces else f"{profile.title} enforces no network policy"


def _source(detection: CNIDetection, named: EngineProfile | None = None) -> tuple[str, list[Related]]:
    """Where the CNI comes from, as a sentence, and the evidence to point at.

    ``named``: the one CNI shown explicitly among several detected, which is judged alone.
    """
    assert detection.profile is not None
    title = detection.profile.title
    if detection.declared:
        declared = f"The configuration declares `cni: {shown(detection.declared)}` ({title})"
        return declared + _release_source(detection, declared=True), []
    names = [named.name] if named is not None else detection.profile.name.split("+")
    shown_evidence = [e for e in detection.detected if e.cni in names and (named is None or e.explicit)]
    if named is not None:
        title = named.title
    if not shown_evidence:
        return f"The repository shows {title} as the cluster's CNI", []
    first = shown_evidence[0]
    others = (
        " (the other CNIs it shows, only by policies written for them)"
        if named is not None and named.name != detection.profile.name
        else ""
    )
    return (
        f"The repository shows {title} as the cluster's CNI{others}: "
        f"{shown(first.description, _EVIDENCE_LIMIT)}" + _release_source(detection, declared=False),
        [Related(first.path, first.node.span, first.description)],
    )


def _release_source(detection: CNIDetection, *, declared: bool) -> str:
    """Where the version and the switches come from, when the declaration does not say it all."""
    parts = []
    if detection.version is not None and not (declared and detection.version_source.startswith("declared")):
        parts.append(f"version {detection.version}, {shown(detection.version_source, 200)}")
    parts.extend(f"{what} ({shown(where, 200)})" for what, where in detection.switch_sources)
    return "; " + "; ".join(parts) if parts else ""


RULES = (KindNotEnforced,)
