"""Which Kubernetes distribution the cluster is, where that changes the facts rules rely on.

Only OpenShift does so far: its cluster DNS is not kube-system's CoreDNS but the
DNS operator's daemon set in ``openshift-dns`` (pods labelled
``dns.operator.openshift.io/daemonset-dns: default``, serving on 5353 behind the
Service ``dns-default`` at 172.30.0.10, port 53 → 5353), and its default service
network is 172.30.0.0/16 (the ``kubernetes`` Service at 172.30.0.1). Because
OVN-Kubernetes judges egress after the Service's DNAT (networkpolicy-semantics
§4), an egress rule must allow the pods' 5353, not the Service's 53.

The platform is declared (``cluster.platform``, or ``cni: openshift``) or shown
by the manifests: an object of an ``*.openshift.io`` API group (a Route, a
SecurityContextConstraints, a DeploymentConfig, a Project, an operator or config
resource) can only be applied to an OpenShift cluster, so a world that holds one
is deployed to OpenShift. Declared beats detected, and declared DNS facts
(``cluster.dns``) beat the platform's.

AKS (Azure Kubernetes Service) runs upstream CoreDNS (``k8s-app: kube-dns`` in
kube-system), but labels it and its namespace more than kubeadm does: the namespace
carries ``kubernetes.io/cluster-service: "true"``, ``control-plane: "true"`` and
``kubernetes.azure.com/managedby: aks``; the CoreDNS pods
``kubernetes.io/cluster-service: "true"`` and ``kubernetes.azure.com/managedby: aks``
(the labels of AKS's CoreDNS identity and deployment; Microsoft's AKS reference
implementations select DNS by ``kubernetes.io/cluster-service``). A policy that
selects by them works there and nowhere else. A world shows AKS with a key of AKS's
own label domain (``kubernetes.azure.com/…``: a node selector, label or annotation)
or an annotation of the Azure cloud provider on a Service
(``service.beta.kubernetes.io/azure-…``), which only Azure's load balancer reads.
OpenShift evidence wins over Azure evidence (Azure Red Hat OpenShift is OpenShift).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

from nplint.config import ClusterFacts, Config, DNSFacts
from nplint.loading import Manifest
from nplint.loading.nodes import MapNode, Node
from nplint.model import Inventory
from nplint.records import record
from nplint.untrusted import shown

OPENSHIFT = "openshift"
AKS = "aks"
KUBERNETES = "kubernetes"
#: How messages name each platform.
_TITLES = {OPENSHIFT: "OpenShift", AKS: "AKS"}

#: Declared CNI names that can only mean an OpenShift cluster.
_OPENSHIFT_CNIS = frozenset({"openshift", "openshift-sdn", "openshiftsdn"})

#: The DNS operator's defaults (openshift/cluster-dns-operator): namespace, pod labels, pod port.
OPENSHIFT_DNS = DNSFacts(
    namespace="openshift-dns",
    pod_labels={"dns.operator.openshift.io/daemonset-dns": "default"},
    ports=(5353,),
)
#: The labels AKS sets on its CoreDNS pods and on kube-system besides the DNS pods' identity.
AKS_DNS_POD_LABELS = {"kubernetes.io/cluster-service": "true", "kubernetes.azure.com/managedby": "aks"}
AKS_DNS_NAMESPACE_LABELS = {
    "kubernetes.io/cluster-service": "true",
    "control-plane": "true",
    "kubernetes.azure.com/managedby": "aks",
}
#: AKS's own label domain, and the prefix of the Azure cloud provider's Service annotations.
_AKS_DOMAIN = "kubernetes.azure.com"
_AZURE_SERVICE_ANNOTATION = "service.beta.kubernetes.io/azure-"

#: The installer's default service network (the DNS Service is its 10th address, 172.30.0.10).
OPENSHIFT_SERVICE_NETWORK = "172.30.0.0/16"
#: The installer's default cluster (pod) network; documented, not assumed by any rule.
OPENSHIFT_CLUSTER_NETWORK = "10.128.0.0/14"


@record(frozen=True, slots=True)
class PlatformEvidence:
    """The object that shows the platform: where it is and what it is."""

    path: str
    document_index: int
    node: Node
    #: Built from escaped, capped values (:func:`nplint.untrusted.shown`).
    description: str

    def __str__(self) -> str:
        return f"{self.description} at {shown(self.path, 48)}:{self.node.span.line}"


@record(frozen=True, slots=True)
class Platform:
    """The distribution of one world's cluster, and how nplint knows it."""

    #: ``openshift``, ``aks``, or None for a cluster nplint takes for upstream Kubernetes.
    name: str | None = None
    #: How it was decided: ``declared`` (configuration), ``detected`` (manifests) or "" (default).
    source: str = ""
    #: The first object that shows it, when detected.
    evidence: PlatformEvidence | None = None

    @property
    def is_openshift(self) -> bool:
        return self.name == OPENSHIFT

    @property
    def is_aks(self) -> bool:
        return self.name == AKS

    @property
    def reason(self) -> str:
        """Why nplint takes the cluster for this platform, for messages and ``nplint worlds``."""
        if self.name is None:
            return ""
        title = _TITLES.get(self.name, self.name)
        if self.source == "declared":
            return f"{title} (declared in the configuration)"
        assert self.evidence is not None
        return f"{title} (detected: {self.evidence})"


def api_group(api_version: str) -> str:
    """The group of an ``apiVersion`` (``route.openshift.io/v1`` → ``route.openshift.io``); "" for core."""
    group, slash, _ = api_version.partition("/")
    return group if slash else ""


def is_openshift_group(group: str) -> bool:
    return group == "openshift.io" or group.endswith(".openshift.io")


def detect_platform(inventory: Inventory, config: Config) -> Platform:
    """The platform of ``inventory``'s cluster: declared, else shown by its objects, else none."""
    declared = declared_platform(config)
    return declared if declared is not None else detected_platform(inventory)


def detected_platform(inventory: Inventory) -> Platform:
    """What the manifests of ``inventory`` show, whatever the configuration says."""
    return inventory.memo(("platform",), lambda: platform_shown(inventory.manifests))


def platform_shown(manifests: Iterable[Manifest]) -> Platform:
    """What ``manifests`` show: OpenShift with its first object of an OpenShift group, else AKS, else none."""
    shown: dict[str, list[PlatformEvidence]] = {}
    for manifest in manifests:
        found = platform_evidence(manifest)
        if found is not None:
            shown.setdefault(found[0], []).append(found[1])
    return platform_of(shown)


def platform_of(shown: Mapping[str, Sequence[PlatformEvidence]]) -> Platform:
    """The platform the evidence (by platform name) shows: OpenShift first, then AKS."""
    for name in (OPENSHIFT, AKS):
        if shown.get(name):
            return Platform(name, "detected", min(shown[name], key=evidence_order))
    return Platform()


def platform_evidence(manifest: Manifest) -> tuple[str, PlatformEvidence] | None:
    """The platform a manifest shows, with it as evidence; None when it shows none."""
    found = openshift_evidence(manifest)
    if found is not None:
        return OPENSHIFT, found
    found = aks_evidence(manifest)
    return (AKS, found) if found is not None else None


def declared_platform(config: Config) -> Platform | None:
    """The platform the configuration declares, or None when it leaves it to detection."""
    declared = config.cluster.platform
    if declared is None and config.cni is not None and config.cni.strip().lower() in _OPENSHIFT_CNIS:
        declared = OPENSHIFT
    if declared is None:
        return None
    return Platform(declared, "declared") if declared in (OPENSHIFT, AKS) else Platform()


def evidence_order(evidence: PlatformEvidence) -> tuple[str, int, int, str]:
    """Reading order, so the evidence named is the same whatever order files were read in."""
    return (evidence.path, evidence.node.span.line, evidence.node.span.column, evidence.description)


def openshift_evidence(manifest: Manifest) -> PlatformEvidence | None:
    """The manifest as evidence of OpenShift when it is an object of an OpenShift API group."""
    api = manifest.node.get_str("apiVersion") or ""
    if not is_openshift_group(api_group(api)):
        return None
    kind = manifest.kind or "object"
    metadata = manifest.node.get_map("metadata")
    name_node = metadata.get("name") if metadata is not None else None
    name = metadata.get_str("name") if metadata is not None else None
    # Cut short so that `nplint worlds` prints the reason on one line of under 200 characters.
    group = f"({shown(api, 32)})"
    what = f"the {shown(kind, 24)} {shown(name, 32)} {group}" if name else f"a {shown(kind, 24)} {group}"
    return PlatformEvidence(manifest.path, manifest.document_index, name_node or manifest.node, what)


def aks_evidence(manifest: Manifest) -> PlatformEvidence | None:
    """The manifest as evidence of AKS: a key of AKS's label domain, or an Azure load balancer annotation.

    The keys looked at: the object's labels and annotations, and its pod template's
    labels, annotations and node selector.
    """
    node = manifest.node
    places: list[tuple[str, MapNode | None, tuple[str, ...]]] = [
        ("", node.get_map("metadata"), ("labels", "annotations"))
    ]
    spec = node.get_map("spec")
    template = spec.get_map("template") if spec is not None else None
    if template is not None:
        places.append(("pod template ", template.get_map("metadata"), ("labels", "annotations")))
        pod_spec = template.get_map("spec")
        places.append(("pod template ", pod_spec, ("nodeSelector",)))
    for where, holder, fields in places:
        if holder is None:
            continue
        for field_name in fields:
            mapping = holder.get_map(field_name)
            if mapping is None:
                continue
            for key in mapping.entries:
                # Both signs of AKS name Azure: a key without the word is passed over at once.
                if "azure" not in key or not _shows_aks(key, field_name, manifest.kind):
                    continue
                kind = manifest.kind or "object"
                what = f"the {where}{field_name} key {shown(key, 48)} of a {shown(kind, 24)}"
                at = mapping.key_node(key) or mapping.get(key) or mapping
                return PlatformEvidence(manifest.path, manifest.document_index, at, what)
    return None


def _shows_aks(key: str, field_name: str, kind: str | None) -> bool:
    domain = key.partition("/")[0] if "/" in key else ""
    if domain == _AKS_DOMAIN or domain.endswith("." + _AKS_DOMAIN):
        return True
    return kind == "Service" and field_name == "annotations" and key.startswith(_AZURE_SERVICE_ANNOTATION)


def platform_facts(facts: ClusterFacts, platform: Platform) -> ClusterFacts:
    """The cluster facts with the platform's defaults where the configuration gave none."""
    default = DNSFacts()
    told = (facts.dns.namespace, dict(facts.dns.pod_labels), facts.dns.ports)
    if told != (default.namespace, dict(default.pod_labels), default.ports):
        # The configuration named the DNS pods: they are what the cluster runs.
        return facts
    if platform.is_aks:
        dns = replace(
            facts.dns,
            platform_pod_labels=dict(AKS_DNS_POD_LABELS),
            platform_namespace_labels=dict(AKS_DNS_NAMESPACE_LABELS),
        )
        return replace(facts, dns=dns)
    if not platform.is_openshift:
        return facts
    dns = replace(
        OPENSHIFT_DNS,
        pod_labels=dict(OPENSHIFT_DNS.pod_labels),
        service_ip=facts.dns.service_ip,
        node_local_ip=facts.dns.node_local_ip,
    )
    return replace(facts, dns=dns)
