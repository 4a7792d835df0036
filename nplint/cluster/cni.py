"""Which CNI enforces the repository's policies, and what it can enforce.

Two things live here: the capability table of the CNIs (networkpolicy-semantics
§4), the one place every rule and the connectivity engine (:mod:`.profiles`)
read it from, and :func:`detect_cni`, which weighs what the manifests show
(§4.1) against the configuration's ``cni:``, which wins. The manifests are read
by :mod:`.cni_scan` (DaemonSets and their images, ConfigMaps, CRDs, operator and
GitOps resources) and :mod:`.cni_configs` (kind, k3s, k3d, RKE2, Rancher and
eksctl configuration files).

Each piece of evidence says whether it shows policies enforced (True), not
enforced (False) or cannot tell (None). Evidence marked ``explicit`` is the
component that decides (the DaemonSet's containers, a flag), and overrides the
defaults other evidence of the same CNI implies.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field, replace
from typing import Any

from nplint.cluster.cni_version import CNISwitches, CNIVersion, cni_name, split_cni
from nplint.config import Config
from nplint.loading.nodes import Node
from nplint.model import Inventory, KubeObject
from nplint.records import record

FEATURES = ("egress", "ip_block_except", "sctp", "end_port", "named_ports")


@record(frozen=True, slots=True)
class CNIProfile:
    """What a CNI does with NetworkPolicy. None is "not known" and never reported."""

    name: str
    title: str
    enforces: bool | None
    egress: bool | None = True
    ip_block_except: bool | None = True
    sctp: bool | None = None
    end_port: bool | None = None
    named_ports: bool | None = True
    #: Why a feature is missing (feature name → the CNI's behaviour and its source).
    notes: Mapping[str, str] = field(default_factory=dict)

    def supports(self, feature: str) -> bool | None:
        value: bool | None = getattr(self, feature)
        return value


#: The capability table (networkpolicy-semantics §4); "?" cells are None.
PROFILES: Mapping[str, CNIProfile] = {
    p.name: p
    for p in (
        CNIProfile("calico", "Calico", True, sctp=True, end_port=True),
        CNIProfile("canal", "Canal (Flannel with Calico policy)", True),
        CNIProfile(
            "cilium",
            "Cilium",
            True,
            sctp=False,
            notes={
                "sctp": "enforces SCTP rules only with its beta SCTP support turned on "
                '(Helm `sctp.enabled=true`, `enable-sctp: "true"` in cilium-config)'
            },
        ),
        CNIProfile("gke-dataplane-v2", "GKE Dataplane V2", True),
        CNIProfile(
            "weave",
            "Weave Net",
            True,
            ip_block_except=None,
            sctp=False,
            end_port=False,
            named_ports=False,
            notes={
                "named_ports": "rejects a policy that uses a named port (weave-npc enforces none of "
                "its rules, weaveworks/weave#3032)",
                "sctp": "is not known to enforce SCTP rules",
                "end_port": "is not known to implement `endPort` and then enforces `port` alone",
            },
        ),
        CNIProfile(
            "kube-router",
            "kube-router",
            True,
            sctp=True,
            end_port=True,
            notes={
                # Only the image tag can turn these off (cni_scan): commits 21473edf, 39efb923.
                "end_port": "implements `endPort` only from v1.3.0 on, and enforces `port` alone before",
                "sctp": "enforces SCTP rules only from v2.8.0 on",
            },
        ),
        CNIProfile("antrea", "Antrea", True, end_port=True),
        CNIProfile("flannel", "Flannel", False),
        CNIProfile("kindnet", "kindnet (kind's default CNI)", True, end_port=True),
        CNIProfile("aws-vpc-cni", "the AWS VPC CNI", True, ip_block_except=None),
        CNIProfile(
            "azure-npm",
            "Azure NPM",
            True,
            end_port=False,
            notes={
                "end_port": "ignores `endPort` and enforces `port` alone (Azure/AKS#2857, "
                "Azure/azure-container-networking#2313)"
            },
        ),
        CNIProfile(
            "azure-npm-windows",
            "Azure NPM on Windows nodes",
            True,
            ip_block_except=False,
            end_port=False,
            named_ports=False,
            sctp=False,
            notes={
                "ip_block_except": "does not support `except` in an ipBlock",
                "named_ports": "does not resolve named ports",
                "end_port": "ignores `endPort` and enforces `port` alone (Azure/AKS#2857)",
                "sctp": "does not support SCTP",
            },
        ),
        CNIProfile("k3s", "k3s's embedded network policy controller (kube-router)", True, end_port=True),
        CNIProfile("ovn-kubernetes", "OVN-Kubernetes", True, sctp=True, end_port=True),
        CNIProfile(
            "openshift-sdn",
            "OpenShift SDN",
            True,
            egress=False,
            ip_block_except=False,
            named_ports=None,
            notes={
                "egress": "does not enforce egress policy: egress isolation and egress rules have no effect",
                "ip_block_except": "ignores an ipBlock that has `except` entirely, so the peer "
                "matches nothing",
            },
        ),
        CNIProfile("kube-network-policies", "kube-network-policies", True, sctp=True, end_port=True),
        CNIProfile("none", "no network policy controller", False),
    )
}

ALIASES: Mapping[str, str] = {
    "aws": "aws-vpc-cni",
    "vpc-cni": "aws-vpc-cni",
    "amazon-vpc-cni": "aws-vpc-cni",
    "azure": "azure-npm",
    "azure-cilium": "cilium",
    "azure-cni-cilium": "cilium",
    "weave-net": "weave",
    "weavenet": "weave",
    "kuberouter": "kube-router",
    "ovn-k": "ovn-kubernetes",
    # OpenShift's default network plugin (the only one from OpenShift 4.17 on).
    "openshift": "ovn-kubernetes",
    "ovnkubernetes": "ovn-kubernetes",
    "openshiftsdn": "openshift-sdn",
    "dataplane-v2": "gke-dataplane-v2",
    "gke-dpv2": "gke-dataplane-v2",
    "kind": "kindnet",
    "rke2": "canal",
    "knp": "kube-network-policies",
}


def profile_for(name: str | None) -> CNIProfile | None:
    """The profile of a CNI name or alias (case-insensitive), or None when unknown."""
    if not name:
        return None
    # ``calico@3.30``: the version chooses verdicts (:mod:`.cni_version`), never the profile.
    key = cni_name(name).strip().lower()
    return PROFILES.get(ALIASES.get(key, key))


@record(frozen=True, slots=True, eq=False)
class CNIEvidence:
    """One thing in the repository that shows which CNI runs."""

    #: The CNI (a PROFILES key); None for "a CNI the repository does not show" (kind's
    #: ``disableDefaultCNI``, ``flannel-backend: none``, RKE2 ``cni: none``).
    cni: str | None
    enforces: bool | None
    path: str
    document_index: int
    #: Where to point: the object's name, or the decisive key.
    node: Node
    description: str
    object: KubeObject | None = None
    explicit: bool = False
    #: Capabilities this evidence changes (``("sctp", True)`` from cilium-config).
    capabilities: tuple[tuple[str, bool], ...] = ()
    #: The CNI's release its image tag shows (``calico/node:v3.30.2``); None: not shown.
    version: CNIVersion | None = None
    #: The switches this evidence sets (antrea-config's feature gates, cilium-config's
    #: ``enable-policy``); None: it sets none.
    switches: CNISwitches | None = None
    #: The image whose tag shows :attr:`version`.
    image: str = ""


@record(frozen=True, slots=True)
class CNIDetection:
    """The CNI of the repository's cluster, as declared or as the manifests show it."""

    #: ``cni:`` of the configuration (or ``--cni``) as written.
    declared: str | None
    evidence: tuple[CNIEvidence, ...]
    #: The CNI whose profile applies (a PROFILES key); None when unknown or several.
    cni: str | None
    #: The capabilities to check against (merged when several CNIs enforce).
    profile: CNIProfile | None
    #: Whether policies are enforced at all: None when it cannot be told.
    enforces: bool | None
    #: Evidence that shows policies are not enforced (for NP601), strongest first.
    blame: tuple[CNIEvidence, ...] = ()
    pod_cidrs: tuple[str, ...] = ()
    service_cidrs: tuple[str, ...] = ()
    #: The CNI's release: declared (``cni: calico@3.30``) or shown by its images; None: not known.
    version: CNIVersion | None = None
    #: Where the version comes from, as a sentence (repository text in it is not yet escaped).
    version_source: str = ""
    #: The switches that change verdicts: the configuration's ``cni-options:``, else the CNI's
    #: own ConfigMaps in the repository; unset ones are not known.
    switches: CNISwitches = field(default_factory=CNISwitches)
    #: For each switch set: (what it is set to, where that comes from), in a stable order.
    switch_sources: tuple[tuple[str, str], ...] = ()

    @property
    def detected(self) -> tuple[CNIEvidence, ...]:
        return tuple(e for e in self.evidence if e.cni is not None)


def detect_cni(inventory: Inventory, config: Config | None = None) -> CNIDetection:
    """The effective CNI: the configuration's ``cni:`` if set, else what the manifests show.

    Computed once per inventory and declared CNI; every CNI-aware rule asks.
    """
    declared = config.cni if config is not None else None
    options = config.cni_options if config is not None else CNISwitches()
    return inventory.memo(
        ("cni", declared, options), lambda: _with_release(_detect_cni(inventory, declared), declared, options)
    )


def _detect_cni(inventory: Inventory, declared: str | None) -> CNIDetection:
    # The scanners import this module's table, so they are imported here, not at the top.
    from nplint.cluster.cni_configs import scan_manifests

    scan = scan_manifests(inventory.manifests, {id(o.node): o for o in inventory.objects})
    evidence = tuple(scan.evidence)
    if not any(e.cni is not None for e in evidence):
        evidence += _platform_default(inventory)
    cidrs: dict[str, Any] = {
        "pod_cidrs": tuple(dict.fromkeys(scan.pod_cidrs)),
        "service_cidrs": tuple(scan.service_cidrs),
    }
    if declared:
        known = profile_for(declared)
        if known is None:
            return CNIDetection(declared, evidence, None, None, None, (), **cidrs)
        shown = tuple(e for e in evidence if e.cni == known.name and e.enforces is False)
        # What the manifests show of the declared CNI (cilium-config's SCTP switch) still counts.
        profile = _merged([known.name], evidence)
        return CNIDetection(declared, evidence, known.name, profile, known.enforces, shown, **cidrs)
    verdicts: dict[str, bool | None] = {}
    for cni in dict.fromkeys(e.cni for e in evidence if e.cni is not None):
        verdicts[cni] = _verdict([e for e in evidence if e.cni == cni], every=cni in EVERY_COMPONENT)
    enforcing = [c for c, v in verdicts.items() if v is True]
    if enforcing:
        # Canal shows as Flannel plus Calico; a policy engine on top of Flannel enforces.
        chosen, enforces = enforcing, True
    elif any(v is False for v in verdicts.values()):
        chosen, enforces = [c for c, v in verdicts.items() if v is False], False
    else:
        chosen, enforces = list(verdicts), None
    profile = _merged(chosen, evidence)
    blame: tuple[CNIEvidence, ...] = ()
    if enforces is False:
        blame = tuple(
            sorted(
                (e for e in evidence if e.cni in chosen and e.enforces is False),
                key=lambda e: (not e.explicit, e.path, e.node.span),
            )
        )
    name = chosen[0] if len(chosen) == 1 else None
    return CNIDetection(None, evidence, name, profile, enforces, blame, **cidrs)


def _with_release(detection: CNIDetection, declared: str | None, options: CNISwitches) -> CNIDetection:
    """The detection with the CNI's version and switches: the configuration's, else the repository's."""
    version, version_source = None, ""
    if declared:
        try:
            version = split_cni(declared)[1]
        except ValueError:
            version = None  # refused by the commands; an embedding gets "not known"
        if version is not None:
            version_source = f"declared: `cni: {declared}`"
    if version is None and detection.cni is not None:
        version, version_source = _shown_version(detection)
    switches, sources = _switches(detection, options)
    detection = replace(
        detection, version=version, version_source=version_source, switches=switches, switch_sources=sources
    )
    if detection.cni == "cilium" and detection.profile is not None and switches.cilium_mode is not None:
        # `never` enforces nothing; `default` and `always` enforce (policy-kinds §8.9, K40). The
        # configuration's mode wins over an `enable-policy: never` the repository shows.
        on = switches.cilium_mode != "never"
        blame = detection.blame if not on else ()
        profile = replace(detection.profile, enforces=on)
        if not on and not blame:
            # Only the configuration says so: messages name the mode with the CNI.
            profile = replace(profile, title=f"{profile.title} with `policy-enforcement-mode: never`")
        detection = replace(detection, enforces=on, profile=profile, blame=blame)
    return detection


def _shown_version(detection: CNIDetection) -> tuple[CNIVersion | None, str]:
    """The release the CNI's images show, when they agree on MAJOR.MINOR (a cluster mid-upgrade
    runs two, and then nplint does not know which decides)."""
    # Canal is Calico's policy engine: its calico/node image tells Calico's release.
    names = {detection.cni, "calico"} if detection.cni == "canal" else {detection.cni}
    shown = [e for e in detection.evidence if e.cni in names and e.version is not None]
    releases = {e.version.release for e in shown if e.version is not None}
    if len(releases) != 1:
        return None, (
            "not known: the images disagree (" + ", ".join(e.image for e in shown) + ")"
            if len(releases) > 1
            else ""
        )
    first = shown[0]
    return first.version, (
        f"detected: {first.description} (image {first.image}, {first.path}:{first.node.span.line})"
    )


def _switches(
    detection: CNIDetection, options: CNISwitches
) -> tuple[CNISwitches, tuple[tuple[str, str], ...]]:
    """Each switch from the configuration if it sets it, else from the CNI's ConfigMaps (the first)."""
    gates: dict[str, bool] = dict(options.antrea_gates)
    sources = [(f"Antrea feature gate {g}: {_on(on)}", "declared: `cni-options:`") for g, on in gates.items()]
    mode = options.cilium_mode
    if mode is not None:
        sources.append((f"Cilium policy-enforcement-mode: {mode}", "declared: `cni-options:`"))
    for evidence in detection.evidence:
        found = evidence.switches
        if found is None:
            continue
        where = f"detected: {evidence.description} ({evidence.path}:{evidence.node.span.line})"
        for gate, on in found.antrea_gates:
            if gate not in gates:
                gates[gate] = on
                sources.append((f"Antrea feature gate {gate}: {_on(on)}", where))
        if mode is None and found.cilium_mode is not None:
            mode = found.cilium_mode
            sources.append((f"Cilium policy-enforcement-mode: {mode}", where))
    return CNISwitches(tuple(sorted(gates.items())), mode), tuple(sorted(sources))


def _on(on: bool) -> str:
    return "on" if on else "off"


def _platform_default(inventory: Inventory) -> tuple[CNIEvidence, ...]:
    """The CNI a detected platform runs unless the manifests say otherwise (OpenShift: OVN-Kubernetes)."""
    from nplint.cluster.platform import detected_platform

    platform = detected_platform(inventory)
    if not platform.is_openshift or platform.evidence is None:
        return ()
    shown = platform.evidence
    return (
        CNIEvidence(
            "ovn-kubernetes",
            True,
            shown.path,
            shown.document_index,
            shown.node,
            f"{shown.description} shows an OpenShift cluster, whose default network plugin is OVN-Kubernetes",
        ),
    )


#: CNIs that enforce only when every one of their policy components is on: the AWS VPC CNI
#: needs the network policy controller (ConfigMap ``amazon-vpc-cni``,
#: ``enable-network-policy-controller``) and the node agent (``--enable-network-policy=true``
#: on aws-node's ``aws-network-policy-agent`` container); one switched off enforces nothing.
EVERY_COMPONENT = frozenset({"aws-vpc-cni"})


def _verdict(evidence: list[CNIEvidence], *, every: bool = False) -> bool | None:
    explicit = [e.enforces for e in evidence if e.explicit and e.enforces is not None]
    pool = explicit or [e.enforces for e in evidence if e.enforces is not None]
    if not pool:
        return None
    if every:
        return False not in pool
    return True in pool


def _merged(names: list[str], evidence: tuple[CNIEvidence, ...]) -> CNIProfile | None:
    profiles: list[CNIProfile] = []
    for name in names:
        base = PROFILES.get(name)
        if base is None:
            continue
        changes = {k: v for e in evidence if e.cni == name for k, v in e.capabilities}
        profiles.append(replace(base, **changes) if changes else base)  # type: ignore[arg-type]
    if len(profiles) <= 1:
        return profiles[0] if profiles else None
    # Several clusters (or a layered setup): a feature counts as missing only if every CNI lacks it.
    caps: dict[str, bool | None] = {}
    for feature in FEATURES:
        values = {p.supports(feature) for p in profiles}
        caps[feature] = values.pop() if len(values) == 1 else None
    title = "the detected CNIs (" + ", ".join(p.title for p in profiles) + ")"
    notes = {f: profiles[0].notes.get(f, "") for f in FEATURES if caps[f] is False}
    return CNIProfile("+".join(names), title, profiles[0].enforces, notes=notes, **caps)
