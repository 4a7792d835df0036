"""How the Kubernetes objects a CNI installs show it (networkpolicy-semantics §4.1).

:class:`Scan` collects :class:`~nplint.cluster.cni.CNIEvidence` from
DaemonSets and Deployments (images, container names, flags), ConfigMaps, CRDs,
operator resources and GitOps releases of CNI charts; :mod:`.cni_configs` adds
cluster configuration files and drives the pass. Names and images come from the
CNIs' install manifests; each signal is kept narrow (a DaemonSet or Deployment,
an exact ConfigMap name, a CRD group) so an unrelated object is never taken for
a CNI.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping

from nplint.cluster.cni import PROFILES, CNIEvidence
from nplint.cluster.cni_version import ANTREA_GATES, CILIUM_MODES, CNISwitches, CNIVersion, parse_release
from nplint.loading import Manifest
from nplint.loading.nodes import MapNode, Node, ScalarNode, SeqNode
from nplint.model import KubeObject

#: The last components of an image repository (registry and tag removed) → component.
_IMAGES: Mapping[str, str] = {
    "flannel": "flannel",
    "flannel-cni-plugin": "flannel",
    "mirrored-flannelcni-flannel": "flannel",
    "calico/node": "calico",
    "calico/cni": "calico",
    "calico/kube-controllers": "calico",
    "calico/typha": "calico",
    "calico/calico": "calico",
    "tigera/operator": "calico",
    "cilium/cilium": "cilium",
    "cilium/operator": "cilium",
    "cilium/operator-generic": "cilium",
    "weave-kube": "weave",
    "weave-npc": "weave-npc",
    "kube-router": "kube-router",
    "antrea-agent-ubuntu": "antrea",
    "antrea-controller-ubuntu": "antrea",
    "antrea-ubuntu": "antrea",
    "amazon-k8s-cni": "aws-vpc-cni",
    "aws-network-policy-agent": "aws-agent",
    "azure-npm": "azure-npm",
    "kindnetd": "kindnet",
    "kube-network-policies": "kube-network-policies",
    "ovn-kube-fedora": "ovn-kubernetes",
    "ovn-kube-ubuntu": "ovn-kubernetes",
    "ovn-kubernetes": "ovn-kubernetes",
}
_CONTAINERS: Mapping[str, str] = {
    "kube-flannel": "flannel",
    "calico-node": "calico",
    "cilium-agent": "cilium",
    "weave": "weave",
    "weave-npc": "weave-npc",
    "kube-router": "kube-router",
    "antrea-agent": "antrea",
    "aws-node": "aws-vpc-cni",
    "aws-network-policy-agent": "aws-agent",
    "aws-eks-nodeagent": "aws-agent",
    "azure-npm": "azure-npm",
    "kindnet-cni": "kindnet",
    "kube-network-policies": "kube-network-policies",
}
_WORKLOADS: Mapping[str, str] = {
    "canal": "canal",
    "calico-node": "calico",
    "calico-kube-controllers": "calico",
    "tigera-operator": "calico",
    "cilium": "cilium",
    "cilium-operator": "cilium",
    "weave-net": "weave",
    "kube-router": "kube-router",
    "antrea-agent": "antrea",
    "antrea-controller": "antrea",
    "aws-node": "aws-vpc-cni",
    "azure-npm": "azure-npm",
    "kindnet": "kindnet",
    "anetd": "gke-dataplane-v2",
    "ovnkube-node": "ovn-kubernetes",
    "kube-network-policies": "kube-network-policies",
}
# Cilium's CRDs and its other resources (BGP peering, load-balancer pools, egress gateways) are
# installed and written for clusters where Cilium runs beside another policy engine, or not yet:
# only its agent, its configuration, its chart, and its own policy kinds show that it enforces.
_CRD_SUFFIXES = ((".crd.projectcalico.org", "calico"), (".crd.antrea.io", "antrea"))
_POLICY_GROUPS = (("projectcalico.org/", "calico"), ("crd.antrea.io/", "antrea"))
_CILIUM_POLICY_KINDS = frozenset({"CiliumNetworkPolicy", "CiliumClusterwideNetworkPolicy"})
_CHARTS: Mapping[str, str] = {
    "cilium": "cilium",
    "tigera-operator": "calico",
    "calico": "calico",
    "flannel": "flannel",
    "antrea": "antrea",
    "aws-vpc-cni": "aws-vpc-cni",
    "rke2-canal": "canal",
    "rke2-cilium": "cilium",
    "rke2-calico": "calico",
}
_OPENSHIFT = {"OVNKubernetes": "ovn-kubernetes", "OpenShiftSDN": "openshift-sdn"}
_VERSION = re.compile(r"v?(\d+)\.(\d+)(?:\.(\d+))?")


def image_name(image: str) -> tuple[str, str]:
    """An image's repository path without the registry, and its tag ("" when none)."""
    image = image.split("@", 1)[0]
    repo, _, tag = image.rpartition(":") if ":" in image.rsplit("/", 1)[-1] else (image, "", "")
    parts = repo.split("/")
    if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        parts = parts[1:]
    return "/".join(parts), tag


def _component(image: str | None) -> str | None:
    if not image:
        return None
    path, _ = image_name(image)
    parts = path.split("/")
    return _IMAGES.get("/".join(parts[-2:])) or _IMAGES.get(parts[-1])


def version_of(text: str) -> tuple[int, int, int] | None:
    """``v1.2.3`` or ``1.2`` (an image tag) as a comparable tuple."""
    match = _VERSION.match(text)
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)


#: Images whose tag is not the CNI's release: the Tigera operator has releases of its own.
_NOT_THE_RELEASE = frozenset({"tigera/operator"})


def _release(containers: Iterable[MapNode], cni: str) -> tuple[CNIVersion | None, str]:
    """The CNI's release its first component image with a release tag shows, and that image (without
    its digest); a tag that is no release (``latest``, ``master``) shows none (policy-kinds §10)."""
    for container in containers:
        image = container.get_str("image") or ""
        path, tag = image_name(image)
        if _component(image) != cni or "/".join(path.split("/")[-2:]) in _NOT_THE_RELEASE:
            continue
        version = parse_release(tag)
        if version is not None:
            return version, image.split("@", 1)[0]
    return None, ""


def truthy(node: Node | None) -> bool:
    """A flag's value as Kubernetes tools read it: ``true``, ``"true"``, ``1`` or ``yes``."""
    return isinstance(node, ScalarNode) and str(node.value).lower() in ("true", "1", "yes")


def strings(node: Node | None) -> Iterator[ScalarNode]:
    """The string scalars of a scalar or a (nested) list."""
    if isinstance(node, ScalarNode) and isinstance(node.value, str):
        yield node
    elif isinstance(node, SeqNode):
        for item in node:
            yield from strings(item)


def dig(node: Node | None, *keys: str) -> Node | None:
    """The node at a path of mapping keys, or None where the path breaks."""
    for key in keys:
        if not isinstance(node, MapNode):
            return None
        node = node.get(key)
    return node


def _containers(template: Node | None) -> Iterator[MapNode]:
    spec = dig(template, "spec")
    for key in ("initContainers", "containers"):
        found = dig(spec, key)
        for container in found if isinstance(found, SeqNode) else ():
            if isinstance(container, MapNode):
                yield container


def _flags(containers: Iterable[MapNode]) -> dict[str, ScalarNode]:
    """Command-line flags of containers (``--x=v`` and ``--x v``), flag → value node."""
    found: dict[str, ScalarNode] = {}
    for container in containers:
        words = [*strings(container.get("command")), *strings(container.get("args"))]
        for index, word in enumerate(words):
            for part in word.value.split() if isinstance(word.value, str) else ():
                flag, equals, _ = part.partition("=")
                if flag.startswith("--") and flag not in found:
                    found[flag] = word if equals or index + 1 >= len(words) else words[index + 1]
    return found


def _flag_value(flags: Mapping[str, ScalarNode], flag: str) -> str | None:
    node = flags.get(flag)
    if node is None:
        return None
    for part in str(node.value).split():
        name, equals, value = part.partition("=")
        if name == flag and equals:
            return value.lower()
    return str(node.value).lower() if not str(node.value).startswith("--") else "true"


class Scan:
    """One pass over the manifests, collecting evidence and the CIDRs CNI configs reveal."""

    def __init__(self) -> None:
        self.evidence: list[CNIEvidence] = []
        self.pod_cidrs: list[str] = []
        self.service_cidrs: list[str] = []
        self._once: set[str] = set()
        self._manifest: Manifest | None = None
        self._object: KubeObject | None = None

    def add(
        self,
        cni: str | None,
        enforces: bool | None,
        node: Node,
        description: str,
        *,
        explicit: bool = False,
        capabilities: tuple[tuple[str, bool], ...] = (),
        version: CNIVersion | None = None,
        switches: CNISwitches | None = None,
        image: str = "",
    ) -> None:
        assert self._manifest is not None
        manifest = self._manifest
        self.evidence.append(
            CNIEvidence(
                cni,
                enforces,
                manifest.path,
                manifest.document_index,
                node,
                description,
                self._object,
                explicit,
                capabilities,
                version,
                switches,
                image,
            )
        )

    def start(self, manifest: Manifest, obj: KubeObject | None) -> None:
        """Make ``manifest`` the source of the evidence added next."""
        self._manifest, self._object = manifest, obj

    def kubernetes_object(self, node: MapNode, kind: str, api: str, name: str, where: Node) -> None:
        """Evidence from the objects a CNI installs: workloads, ConfigMaps, CRDs, operator resources."""
        if kind in ("DaemonSet", "Deployment"):
            self._workload(node, name, where, self._named(kind, name))
        elif kind == "ConfigMap":
            self._config_map(node, name, where, self._named(kind, name))
        elif kind == "CustomResourceDefinition":
            for suffix, cni in _CRD_SUFFIXES:
                if name.endswith(suffix):
                    self.once(cni, where, f"the CustomResourceDefinition {name} shows {PROFILES[cni].title}")
        elif kind == "Installation" and api.startswith("operator.tigera.io/"):
            self.add(
                "calico", True, where, "the Tigera operator's Installation installs Calico", explicit=True
            )
        elif kind == "Network" and api.startswith(("operator.openshift.io/", "config.openshift.io/")):
            self.openshift(dig(node, "spec", "defaultNetwork", "type") or dig(node, "spec", "networkType"))
        elif kind in ("HelmRelease", "Application", "HelmChart"):
            self._chart(node, kind, name, where, self._named(kind, name))
        for group, cni in _POLICY_GROUPS:
            if api.startswith((group, "crd." + group)):
                self.once(cni, where, f"the {kind} {name} ({api}) shows {PROFILES[cni].title}")
        if api.startswith("cilium.io/") and kind in _CILIUM_POLICY_KINDS:
            self.once("cilium", where, f"the {kind} {name} ({api}) is written for Cilium's policy engine")

    def _named(self, kind: str, name: str) -> str:
        """The object evidence names, as ``Kind namespace/name``: made only for evidence that names it."""
        obj = self._object
        return f"{kind} {obj.namespace + '/' if obj and obj.namespace else ''}{name}"

    def once(self, cni: str, node: Node, description: str) -> None:
        if cni not in self._once:
            self._once.add(cni)
            self.add(cni, True, node, description)

    def _workload(self, node: MapNode, name: str, where: Node, what: str) -> None:
        containers = list(_containers(dig(node, "spec", "template")))
        parts: dict[str, str] = {}
        for container in containers:
            image = container.get_str("image") or ""
            part = _component(image) or _CONTAINERS.get(container.get_str("name") or "")
            if part is not None:
                parts.setdefault(part, image)
        if ("flannel" in parts and "calico" in parts) or name == "canal":
            version, shown = _release(containers, "calico")
            self.add(
                "canal",
                True,
                where,
                f"{what} runs Canal (Flannel with Calico policy)",
                explicit=True,
                version=version,
                image=shown,
            )
        elif "flannel" in parts or name.startswith("kube-flannel-ds"):
            if "kube-network-policies" in parts:
                self.add(
                    "flannel", True, where, f"{what} runs Flannel with kube-network-policies", explicit=True
                )
            else:
                self.add(
                    "flannel",
                    False,
                    where,
                    f"{what} runs Flannel without a kube-network-policies container",
                    explicit=True,
                )
        elif "weave" in parts or "weave-npc" in parts or name == "weave-net":
            npc = "weave-npc" in parts
            self.add("weave", True if npc else None, where, f"{what} runs Weave Net", explicit=npc)
        elif "kube-router" in parts or name == "kube-router":
            self._kube_router(containers, parts.get("kube-router", ""), where, what)
        elif "aws-vpc-cni" in parts or "aws-agent" in parts or name == "aws-node":
            value = _flag_value(_flags(containers), "--enable-network-policy")
            on = value == "true"
            state = "with" if on else "without"
            self.add(
                "aws-vpc-cni",
                on,
                where,
                f"{what} runs the AWS VPC CNI {state} `--enable-network-policy=true` on its policy agent",
                explicit=True,
            )
        elif "kindnet" in parts or name == "kindnet":
            kindnet = version_of(image_name(parts.get("kindnet", ""))[1])
            # Standalone kindnet enforces from v1.3.0 (kubernetes/minikube#19871); kind's
            # date-tagged kindnetd images do not tell.
            standalone = True if kindnet is not None and kindnet >= (1, 3, 0) else None
            self.add("kindnet", standalone, where, f"{what} runs kindnet")
        else:
            cni = next((p for p in parts if p in PROFILES), None) or _WORKLOADS.get(name)
            if cni is not None:
                version, shown = _release(containers, cni)
                self.add(cni, True, where, f"{what} runs {PROFILES[cni].title}", version=version, image=shown)
        for container in containers:
            for env in container.get_seq("env") or ():
                if isinstance(env, MapNode) and env.get_str("name") == "CALICO_IPV4POOL_CIDR":
                    self.cidr(self.pod_cidrs, env.get_str("value"))

    def _kube_router(self, containers: list[MapNode], image: str, where: Node, what: str) -> None:
        firewall = _flag_value(_flags(containers), "--run-firewall")
        caps: list[tuple[str, bool]] = []
        version = version_of(image_name(image)[1])
        if version is not None:
            # SCTP from v2.8.0 (commit 39efb923), endPort from v1.3.0 (commit 21473edf).
            caps += [("sctp", version >= (2, 8, 0)), ("end_port", version >= (1, 3, 0))]
        if firewall == "false":
            self.add(
                "kube-router",
                False,
                where,
                f"{what} runs kube-router with `--run-firewall=false`",
                explicit=True,
            )
        else:
            tag = image_name(image)[1]
            runs = f"{what} runs kube-router {tag}".rstrip()
            self.add("kube-router", True, where, runs, capabilities=tuple(caps))

    def _config_map(self, node: MapNode, name: str, where: Node, what: str) -> None:
        data = node.get("data")
        if name in ("kube-flannel-cfg", "canal-config"):
            self._net_conf(string(dig(data, "net-conf.json")))
        if name == "kube-flannel-cfg":
            # Whether Flannel runs its policy controller shows in the DaemonSet, not here.
            self.add("flannel", None, where, f"{what} configures Flannel")
        elif name == "canal-config":
            self.add("canal", True, where, f"{what} configures Canal")
        elif name == "cilium-config":
            mode = dig(data, "enable-policy")
            caps = (("sctp", True),) if truthy(dig(data, "enable-sctp")) else ()
            for cidr in (string(dig(data, "cluster-pool-ipv4-cidr")) or "").split():
                self.cidr(self.pod_cidrs, cidr)
            value = (string(mode) or "").strip().lower()
            # The agent's policy enforcement mode (policy-kinds §8.9, K40); another value is refused.
            switches = CNISwitches(cilium_mode=value) if value in CILIUM_MODES else None
            if mode is not None and value == "never":
                self.add(
                    "cilium",
                    False,
                    mode,
                    f"{what} sets `enable-policy: never`",
                    explicit=True,
                    switches=switches,
                )
            elif switches is not None and mode is not None:
                self.add(
                    "cilium",
                    True,
                    where,
                    f"{what} sets `enable-policy: {value}`",
                    capabilities=caps,
                    switches=switches,
                )
            else:
                self.add("cilium", True, where, f"{what} configures Cilium", capabilities=caps)
        elif name == "amazon-vpc-cni":
            key = dig(data, "enable-network-policy-controller")
            on = truthy(key)
            if key is None:
                description = f'{what} lacks `enable-network-policy-controller: "true"`'
            else:
                value = '"true"' if on else "a value other than true"
                description = f"{what} sets `enable-network-policy-controller` to {value}"
            # The key decides whether the policy controller runs; its absence is the default (off),
            # which the EKS add-on's own settings may change, so only a written value is explicit.
            self.add("aws-vpc-cni", on, key or where, description, explicit=key is not None)
        elif name == "antrea-config":
            self.add("antrea", True, where, f"{what} configures Antrea", switches=antrea_gates(data))
        elif name in ("calico-config", "azure-npm-config"):
            cni = name.removesuffix("-config")
            self.add(cni, True, where, f"{what} configures {PROFILES[cni].title}")

    def _net_conf(self, text: str | None) -> None:
        try:
            network = json.loads(text or "").get("Network")
        except (ValueError, AttributeError):
            return
        self.cidr(self.pod_cidrs, network if isinstance(network, str) else None)

    def cidr(self, target: list[str], value: str | None) -> None:
        if value and "/" in value and value.strip() not in target:
            target.append(value.strip())

    def openshift(self, node: Node | None) -> None:
        cni = _OPENSHIFT.get(str(getattr(node, "value", "")))
        if cni is not None and node is not None:
            self.add(
                cni,
                True,
                node,
                f"the OpenShift network configuration selects {PROFILES[cni].title}",
                explicit=True,
            )

    def _chart(self, node: MapNode, kind: str, name: str, where: Node, what: str) -> None:
        spec = node.get_map("spec")
        if spec is None:
            return
        sources: list[tuple[str | None, Node | None]] = []
        if kind == "HelmRelease":
            sources.append(
                (spec.get_str("chart") or string(dig(spec, "chart", "spec", "chart")), spec.get("values"))
            )
        elif kind == "Application":
            for source in [spec.get("source"), *(spec.get_seq("sources") or ())]:
                sources.append((string(dig(source, "chart")), dig(source, "helm", "valuesObject")))
        else:
            sources.append((spec.get_str("chart") or name, None))
        for chart, values in sources:
            cni = _CHARTS.get((chart or "").rsplit("/", 1)[-1])
            if cni is None:
                continue
            mode = (string(dig(values, "policyEnforcementMode")) or "").strip().lower()
            if cni == "cilium" and mode == "never":
                self.add(
                    cni,
                    False,
                    where,
                    f"{what} installs Cilium with `policyEnforcementMode: never`",
                    explicit=True,
                    switches=CNISwitches(cilium_mode=mode),
                )
            elif cni == "cilium" and mode in CILIUM_MODES:
                self.add(
                    cni,
                    True,
                    where,
                    f"{what} installs Cilium with `policyEnforcementMode: {mode}`",
                    switches=CNISwitches(cilium_mode=mode),
                )
            elif cni == "flannel":
                on = truthy(dig(values, "netpol", "enabled"))
                inline = "valuesFrom" not in spec
                state = True if on else False if inline else None
                self.add(
                    cni,
                    state,
                    where,
                    f"{what} installs Flannel "
                    + ("with `netpol.enabled: true`" if on else "without `netpol.enabled: true`"),
                    explicit=on,
                )
            elif cni == "aws-vpc-cni":
                on = truthy(dig(values, "enableNetworkPolicy"))
                self.add(cni, True if on else None, where, f"{what} installs the AWS VPC CNI", explicit=on)
            else:
                self.add(cni, True, where, f"{what} installs {PROFILES[cni].title}")


#: antrea-config's files, the controller's first: the Network Policy API's gates are the
#: controller's (it computes the policies), the agent's file repeats what it enables.
_ANTREA_FILES = ("antrea-controller.conf", "antrea-agent.conf")


def antrea_gates(data: Node | None) -> CNISwitches | None:
    """The feature gates ``AdminNetworkPolicy`` and ``ClusterNetworkPolicy`` antrea-config sets.

    A gate a file sets explicitly counts (the controller's file first). With the controller's
    file present and the gate absent, the gate keeps its default: off (both are alpha,
    policy-kinds §9.4). Only the agent's file without the gate tells nothing. None: no gate known.
    """
    from nplint.loading import load_text

    gates: dict[str, bool] = {}
    controller = False
    for file_name in _ANTREA_FILES:
        node = dig(data, file_name)
        text = string(node)
        if text is None:
            continue
        roots = [d.root for d in load_text(file_name, text).documents if d.root is not None]
        config = roots[0] if roots and isinstance(roots[0], MapNode) else None
        if config is None:
            continue
        controller = controller or file_name == _ANTREA_FILES[0]
        found = dig(config, "featureGates")
        for gate in ANTREA_GATES:
            value = dig(found, gate)
            if gate in gates or not isinstance(value, ScalarNode) or not isinstance(value.value, bool):
                continue
            gates[gate] = value.value
    if controller:
        for gate in ANTREA_GATES:
            gates.setdefault(gate, False)
    if not gates:
        return None
    return CNISwitches(antrea_gates=tuple(sorted(gates.items())))


def string(node: Node | None) -> str | None:
    return node.value if isinstance(node, ScalarNode) and isinstance(node.value, str) else None
