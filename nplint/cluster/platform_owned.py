"""What the platform owns and a repository never shows whole: its namespaces and the labels it sets.

A cluster always runs pods the repository does not ship: the DNS pods, the
network plugin, the provider's add-ons, in namespaces Kubernetes (or the
distribution) creates. A repository that adds one workload there shows one pod
of many, and a label that only the platform sets has a value nplint cannot know.
The rules ask here instead of assuming the repository shows everything.
"""

from __future__ import annotations

from collections.abc import Mapping

from nplint.model import LabelSelector, Operator

#: The namespaces every Kubernetes cluster creates for itself (kube-system holds the DNS pods
#: and the add-ons; kube-public and kube-node-lease are the API server's own).
KUBERNETES_NAMESPACES = frozenset(("kube-system", "kube-public", "kube-node-lease"))
#: OpenShift's namespaces: ``openshift`` and ``openshift-*``, where its cluster operators run.
OPENSHIFT_PREFIX = "openshift-"
#: The prefix of the namespaces GKE runs its managed add-ons in (Dataplane V2 observability, …).
GKE_MANAGED_PREFIX = "gke-managed-"

#: The label the API server sets on every namespace: its value is known, its name.
_NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
#: Label prefixes reserved for Kubernetes' own components ("kubernetes.io/" and "k8s.io/",
#: with their subdomains; Kubernetes documentation, "Labels and Selectors", syntax).
_RESERVED_DOMAINS = ("kubernetes.io", "k8s.io")


def platform_namespace(name: str, defined: bool) -> bool:
    """Whether the platform owns namespace ``name``, so the repository shows only some of its pods.

    The three namespaces Kubernetes creates are the platform's even when the
    repository has a Namespace object for them (it can only add labels). An
    ``openshift-*`` namespace (OpenShift's) or ``gke-managed-*`` one (GKE's managed
    add-ons) is the platform's unless the repository defines it itself.

    :param defined: whether the repository (the world) has a Namespace object for it.
    """
    if name in KUBERNETES_NAMESPACES:
        return True
    return not defined and (
        name == "openshift" or name.startswith(OPENSHIFT_PREFIX) or name.startswith(GKE_MANAGED_PREFIX)
    )


def platform_label(key: str) -> bool:
    """Whether a label key is in a domain reserved for Kubernetes' components (and so set by the platform).

    ``kubernetes.io/metadata.name`` is not among them: the API server sets it to
    the namespace's name, which is known.
    """
    prefix, slash, _ = key.partition("/")
    if not slash or key == _NAMESPACE_NAME_LABEL:
        return False
    return any(prefix == domain or prefix.endswith("." + domain) for domain in _RESERVED_DOMAINS)


def with_platform_labels(selector: LabelSelector | None, known: Mapping[str, str]) -> Mapping[str, str]:
    """``known`` labels, plus the platform labels ``selector`` asks for that ``known`` does not settle.

    The labels of pods or namespaces the platform made are known only in part:
    nplint knows the DNS pods' ``k8s-app`` label, not what a managed provider
    adds under ``kubernetes.io/`` (AKS's ``kubernetes.io/cluster-service``). With
    them assumed as the selector wants them, a selector that still does not
    match fails on something nplint does know.
    """
    if selector is None:
        return known
    assumed = dict(known)
    for key, value in selector.match_labels:
        if platform_label(key) and key not in known:
            assumed[key] = value
    for requirement in selector.expressions:
        key = requirement.key
        if not platform_label(key) or key in known or key in assumed:
            continue
        if requirement.operator is Operator.IN and requirement.values:
            assumed[key] = min(requirement.values)
        elif requirement.operator is Operator.EXISTS:
            assumed[key] = ""
    return assumed
