"""NP604: a policy of a kind (or a priority) the cluster's CNI does not enforce.

The API server accepts such an object wherever its CRD is installed, and nothing applies
it: it decides no connection (policy-kinds §10, K10, K02). The engine leaves it out of
every verdict for the same reasons (:func:`nplint.engine.layers.not_enforced_reason`,
:mod:`nplint.engine.cni_layer`); this rule says so once per object, where it is written.
"""

from __future__ import annotations

from collections.abc import Iterator

from nplint.cluster.cni import CNIDetection
from nplint.cluster.profiles import EngineProfile
from nplint.engine.layers import not_enforced_reason, support_for
from nplint.findings import Finding, Level, Related
from nplint.model.admin import AdminPolicy
from nplint.model.objects import KubeObject
from nplint.rules.base import Rule, RuleContext
from nplint.untrusted import shown

#: Engine profiles whose dataplane runs Calico's policy engine (Felix): Canal is Calico's
#: policy engine on Flannel's network (policy-kinds §10 "Calico" column).
_RUNS_CALICO = frozenset(("calico", "canal"))
_RUNS_CILIUM = frozenset(("cilium",))
#: Kinds whose enforcement on a CNI depends on what nplint cannot know yet, so the rule says
#: nothing of them there (policy-kinds §10): Calico enforces AdminNetworkPolicy from 3.29 to
#: 3.31, BaselineAdminNetworkPolicy from 3.30 to 3.31 and ClusterNetworkPolicy from 3.32 (the
#: version is not known); Cilium's and the AWS policy agent's ClusterNetworkPolicy support is
#: UNCERTAIN in the reference. The engine decides with them as it does; only this rule holds back.
_UNKNOWABLE: dict[str, frozenset[str]] = {
    "calico": frozenset(("AdminNetworkPolicy", "BaselineAdminNetworkPolicy", "ClusterNetworkPolicy")),
    "canal": frozenset(("AdminNetworkPolicy", "BaselineAdminNetworkPolicy", "ClusterNetworkPolicy")),
    "cilium": frozenset(("ClusterNetworkPolicy",)),
    "aws-vpc-cni": frozenset(("ClusterNetworkPolicy",)),
}
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
        source, related = _source(detection)
        inventory = ctx.inventory
        # (object, kind, why in the headline, why in the detail)
        found: list[tuple[KubeObject, str, str, str]] = []
        unknowable = _UNKNOWABLE.get(profile.name, frozenset()) if profile.enforces else frozenset()
        for admin in inventory.admin_policies:
            if admin.kind in unknowable:
                continue
            reason = (
                not_enforced_reason(admin, profile.name, profile.title)
                if profile.enforces
                else _enforces_none(profile)
            )
            if reason is not None:
                found.append((admin, admin.kind, _short(admin, profile), reason))
        if profile.name not in _RUNS_CALICO:
            for calico in inventory.calico_policies:
                reason = _enforces_none(profile) or f"{profile.title} does not enforce Calico policies"
                found.append((calico, f"Calico {calico.kind}", _short(calico, profile), reason))
        if profile.name not in _RUNS_CILIUM:
            for cilium in inventory.cilium_policies:
                reason = _enforces_none(profile) or f"{profile.title} does not enforce {cilium.kind}"
                found.append((cilium, cilium.kind, _short(cilium, profile), reason))
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


def _short(obj: KubeObject, profile: EngineProfile) -> str:
    """Why, short enough for a headline; the detail gives the whole reason."""
    if not profile.enforces:
        return f"{profile.title} enforces no network policy"
    support = support_for(profile.name)
    if isinstance(obj, AdminPolicy) and obj.kind == "AdminNetworkPolicy" and support.anp:
        return f"{profile.title} refuses a priority above {support.max_anp_priority}"
    return f"{profile.title} does not enforce this kind"


def _enforces_none(profile: EngineProfile) -> str | None:
    return None if profile.enforces else f"{profile.title} enforces no network policy"


def _source(detection: CNIDetection) -> tuple[str, list[Related]]:
    """Where the CNI comes from, as a sentence, and the evidence to point at."""
    assert detection.profile is not None
    title = detection.profile.title
    if detection.declared:
        return f"The configuration declares `cni: {shown(detection.declared)}` ({title})", []
    shown_evidence = [e for e in detection.detected if e.cni in detection.profile.name.split("+")]
    if not shown_evidence:
        return f"The repository shows {title} as the cluster's CNI", []
    first = shown_evidence[0]
    return (
        f"The repository shows {title} as the cluster's CNI: {shown(first.description, _EVIDENCE_LIMIT)}",
        [Related(first.path, first.node.span, first.description)],
    )


RULES = (KindNotEnforced,)
