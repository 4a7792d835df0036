"""CNI evidence from cluster configuration files: kind, k3s, k3d, RKE2, Rancher, eksctl, OpenShift.

These files are not Kubernetes objects (a k3s ``config.yaml`` has neither
``kind`` nor ``apiVersion``), so each is recognised by the keys only it has.
:func:`scan_manifests` is the single pass over a repository's manifests: it
reads these files itself and hands Kubernetes objects to
:meth:`Scan.kubernetes_object`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

from nplint.cluster.cni_scan import Scan, dig, image_name, string, strings, truthy, version_of
from nplint.loading import Manifest
from nplint.loading.nodes import MapNode, Node, ScalarNode, SeqNode
from nplint.model import KubeObject

#: Keys of ``/etc/rancher/{k3s,rke2}/config.yaml`` (the servers' command-line flags).
RANCHER_KEYS = frozenset(
    (
        "server",
        "token",
        "tls-san",
        "write-kubeconfig-mode",
        "cluster-cidr",
        "service-cidr",
        "cluster-dns",
        "node-label",
        "node-taint",
        "disable",
        "kube-apiserver-arg",
        "kubelet-arg",
        "cluster-init",
        "node-ip",
        "disable-network-policy",
        "flannel-backend",
        "cni",
        "selinux",
        "profile",
        "data-dir",
    )
)
RKE2_CNIS = ("canal", "cilium", "calico", "flannel", "none", "multus")
_BYO = "and the CNI installed instead is not in the repository"


def scan_manifests(manifests: Iterable[Manifest], objects: Mapping[int, KubeObject]) -> Scan:
    """Evidence from every manifest; ``objects`` maps ``id(manifest.node)`` to its inventory object."""
    scan = Scan()
    for manifest in manifests:
        node = manifest.node
        scan.start(manifest, objects.get(id(node)))
        kind = manifest.kind or ""
        api = node.get_str("apiVersion") or ""
        name_node = dig(node, "metadata", "name")
        name = name_node.text if isinstance(name_node, ScalarNode) else ""
        where = name_node or node.key_node("kind") or node
        if kind == "Cluster" and api.startswith(("kind.x-k8s.io/", "kind.sigs.k8s.io/")):
            kind_cluster(scan, node, where)
        elif kind == "Cluster" and api.startswith("provisioning.cattle.io/"):
            config = dig(node, "spec", "rkeConfig", "machineGlobalConfig")
            version = string(dig(node, "spec", "kubernetesVersion")) or ""
            if isinstance(config, MapNode):
                rancher(scan, config, "k3s" if "k3s" in version else "rke2", where)
        elif kind == "Simple" and api.startswith("k3d.io/"):
            k3d(scan, node, where)
        elif kind == "ClusterConfig" and api.startswith("eksctl.io/"):
            eksctl(scan, node, where)
        elif not kind:
            plain(scan, manifest, node, api)
        else:
            scan.kubernetes_object(node, kind, api, name, where)
    return scan


def kind_cluster(scan: Scan, node: MapNode, where: Node) -> None:
    """A kind ``Cluster`` config: kindnet unless ``disableDefaultCNI``; node images hint at kind's release."""
    scan.cidr(scan.pod_cidrs, string(dig(node, "networking", "podSubnet")))
    scan.cidr(scan.service_cidrs, string(dig(node, "networking", "serviceSubnet")))
    disabled = dig(node, "networking", "disableDefaultCNI")
    if disabled is not None and truthy(disabled):
        scan.add(None, None, disabled, f"the kind cluster config turns kind's default CNI off {_BYO}")
        return
    images: list[tuple[ScalarNode, tuple[int, int, int]]] = []
    for entry in node.get_seq("nodes") or ():
        image = dig(entry, "image")
        if isinstance(image, ScalarNode) and isinstance(image.value, str):
            path, tag = image_name(image.value)
            version = version_of(tag)
            if path.endswith("kindest/node") and version is not None:
                images.append((image, version))
    if images and all(v[:2] <= (1, 24) for _, v in images):
        # The last node images for Kubernetes <= 1.24 came with kind v0.22.0; kindnet enforces
        # NetworkPolicy from kind v0.24.0 (kubernetes-sigs/kind#3612, #842).
        first = images[0][0]
        scan.add(
            "kindnet",
            False,
            first,
            f"the kind cluster runs {str(first.value).split('@')[0]}, a node image of a kind "
            "release before v0.24.0, whose kindnet enforces no NetworkPolicy",
            explicit=True,
        )
    elif images and all(v[:2] >= (1, 31) for _, v in images):
        scan.add("kindnet", True, images[0][0], "the kind cluster runs node images of kind v0.24.0 or later")
    else:
        scan.add(
            "kindnet",
            None,
            where,
            "the kind cluster config uses kindnet, kind's default CNI, "
            "which enforces NetworkPolicy only from kind v0.24.0 on",
        )


def plain(scan: Scan, manifest: Manifest, node: MapNode, api: str) -> None:
    """A YAML file that is no Kubernetes object: a k3s/RKE2 config, or OpenShift's install-config."""
    if manifest.path.rsplit("/", 1)[-1].startswith(".nplint"):
        return
    if "baseDomain" in node:
        scan.openshift(dig(node, "networking", "networkType"))
        return
    keys = set(node.keys()) & RANCHER_KEYS
    if api or not keys:
        return
    path = manifest.path.lower()
    dist = "rke2" if "rke2" in path else "k3s" if "k3s" in path else None
    # Flags only k3s has, or a path naming the distribution, or `cni:` beside another flag.
    if keys & {"disable-network-policy", "flannel-backend"} or dist or (len(keys) >= 2 and "cni" in keys):
        rancher(scan, node, dist, node.key_node(sorted(keys)[0]) or node)


def rancher(scan: Scan, config: MapNode, dist: str | None, where: Node) -> None:
    """A k3s or RKE2 configuration: the file, or the machineGlobalConfig of a Rancher Cluster."""
    scan.cidr(scan.pod_cidrs, config.get_str("cluster-cidr"))
    scan.cidr(scan.service_cidrs, config.get_str("service-cidr"))
    cni_node = config.get("cni")
    if cni_node is not None:
        names = [n.strip().lower() for s in strings(cni_node) for n in str(s.value).split(",") if n.strip()]
        if not names or any(n not in RKE2_CNIS for n in names):
            return
        main = [n for n in names if n != "multus"] or ["none"]
        if main[0] == "none":
            scan.add(None, None, cni_node, f"the RKE2 configuration sets `cni: none` {_BYO}")
        elif main[0] == "flannel":
            # Whether RKE2 adds a policy controller to Flannel is not documented (semantics §4.1).
            scan.add("flannel", None, cni_node, "the RKE2 configuration selects Flannel")
        else:
            scan.add(main[0], True, cni_node, f"the RKE2 configuration selects `cni: {main[0]}`")
    elif dist == "rke2":
        scan.add("canal", True, where, "the RKE2 configuration keeps the default CNI, Canal")
    else:
        disable = config.get("disable-network-policy")
        off = disable if disable is not None and truthy(disable) else None
        k3s(scan, off, config.get_str("flannel-backend"), where)


def k3s(scan: Scan, disable: Node | None, backend: str | None, where: Node) -> None:
    """k3s enforces policies with an embedded kube-router controller unless ``disable`` (the flag's node)."""
    if disable is None:
        scan.add("k3s", True, where, "the k3s configuration keeps k3s's embedded network policy controller")
    elif backend == "none":
        scan.add(
            None, None, disable, f"the k3s configuration turns off Flannel and the policy controller {_BYO}"
        )
    else:
        scan.add(
            "k3s",
            False,
            disable,
            "the k3s configuration sets `disable-network-policy` and keeps "
            "k3s's Flannel, which enforces no NetworkPolicy",
            explicit=True,
        )


def k3d(scan: Scan, node: MapNode, where: Node) -> None:
    """A k3d ``Simple`` config passes k3s flags as ``options.k3s.extraArgs[].arg``."""
    disable: Node | None = None
    backend: str | None = None
    args = dig(node, "options", "k3s", "extraArgs")
    for entry in args if isinstance(args, SeqNode) else ():
        arg = dig(entry, "arg")
        text = string(arg) or ""
        if text.startswith("--disable-network-policy") and arg is not None:
            disable = arg if text.partition("=")[2].lower() in ("", "true") else None
        elif text.startswith("--flannel-backend"):
            backend = text.partition("=")[2] or None
    k3s(scan, disable, backend, where)


def eksctl(scan: Scan, node: MapNode, where: Node) -> None:
    """An eksctl ClusterConfig: the vpc-cni add-on enforces policies only with ``enableNetworkPolicy``."""
    addons = node.get_seq("addons")
    addon = next((a for a in addons or () if isinstance(a, MapNode) and a.get_str("name") == "vpc-cni"), None)
    if addon is None:
        scan.add(
            "aws-vpc-cni",
            None,
            where,
            "the eksctl ClusterConfig creates an EKS cluster, whose AWS VPC "
            "CNI enforces policies only when the vpc-cni add-on sets `enableNetworkPolicy`",
        )
        return
    values_node = addon.get("configurationValues")
    on = str(parse_values(values_node).get("enableNetworkPolicy", "")).lower() == "true"
    state = "sets" if on else "does not set"
    scan.add(
        "aws-vpc-cni",
        on,
        values_node or addon.get("name") or addon,
        f'the eksctl vpc-cni add-on {state} `enableNetworkPolicy: "true"`',
        explicit=True,
    )


def parse_values(node: Node | None) -> Mapping[str, object]:
    """eksctl's ``configurationValues``: a JSON or YAML string (or, leniently, a mapping)."""
    if isinstance(node, MapNode):
        return node.to_python()
    text = string(node)
    if not text:
        return {}
    try:
        parsed = json.loads(text)
    except ValueError:
        from nplint.loading import load_text

        roots = [d.root for d in load_text("configurationValues", text).documents if d.root is not None]
        parsed = roots[0].to_python() if roots else {}
    return parsed if isinstance(parsed, dict) else {}
