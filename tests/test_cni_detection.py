"""CNI detection over realistic manifests (networkpolicy-semantics §4.1), and the capability table."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import CORPUS
from nplint.cluster.cni import PROFILES, CNIDetection, detect_cni, profile_for
from nplint.cluster.cni_scan import image_name
from nplint.config import build_config
from nplint.loading import iter_manifests, load_text
from nplint.model import build_inventory

POLICY = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny, namespace: shop}
spec: {podSelector: {}}
"""


def detect(*files: tuple[str, str], cni: str | None = None) -> CNIDetection:
    manifests = [m for path, text in files for m in iter_manifests(load_text(path, text))]
    config = build_config({"cni": cni} if cni else {}, source=None, root=Path("."))
    return detect_cni(build_inventory(manifests), config)


def daemonset(name: str, *containers: tuple[str, str], args: str = "") -> str:
    listed = "".join(
        f"      - name: {c}\n        image: {image}\n{args if c == containers[-1][0] else ''}"
        for c, image in containers
    )
    return (
        f"apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {{name: {name}, namespace: kube-system}}\n"
        f"spec:\n  template:\n    spec:\n      containers:\n{listed}"
    )


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("ghcr.io/flannel-io/flannel:v0.28.9", ("flannel-io/flannel", "v0.28.9")),
        ("localhost:5000/calico/node:v3.29.0@sha256:abc", ("calico/node", "v3.29.0")),
        ("registry.example.com:5000/cilium/cilium", ("cilium/cilium", "")),
        ("weaveworks/weave-npc:2.8.1", ("weaveworks/weave-npc", "2.8.1")),
        ("kindest/node@sha256:abc", ("kindest/node", "")),
    ],
)
def test_image_name(image: str, expected: tuple[str, str]) -> None:
    assert image_name(image) == expected


def test_profiles_by_name_and_alias() -> None:
    assert profile_for("Calico") is PROFILES["calico"]
    assert profile_for(" weave-net ") is PROFILES["weave"]
    assert profile_for("aws") is PROFILES["aws-vpc-cni"]
    assert profile_for("romana") is None
    assert PROFILES["flannel"].enforces is False
    assert PROFILES["weave"].supports("named_ports") is False
    assert PROFILES["openshift-sdn"].supports("egress") is False
    # "?" cells of the table stay unknown, so no rule reports them.
    assert PROFILES["canal"].supports("sctp") is None


def test_plain_flannel_does_not_enforce() -> None:
    ds = daemonset("kube-flannel-ds", ("kube-flannel", "ghcr.io/flannel-io/flannel:v0.28.9"))
    result = detect(("flannel.yaml", ds), ("policy.yaml", POLICY))
    assert (result.cni, result.enforces) == ("flannel", False)
    assert [e.node.span.line for e in result.blame] == [3]


def test_flannel_with_kube_network_policies_enforces() -> None:
    ds = daemonset(
        "kube-flannel-ds",
        ("kube-flannel", "ghcr.io/flannel-io/flannel:v0.26.0"),
        ("kube-network-policies", "registry.k8s.io/networking/kube-network-policies:v0.6.1"),
    )
    cfg = "kind: ConfigMap\napiVersion: v1\nmetadata: {name: kube-flannel-cfg}\n"
    result = detect(("flannel.yaml", ds + "---\n" + cfg))
    assert (result.cni, result.enforces) == ("flannel", True)


def test_canal_is_flannel_plus_calico() -> None:
    ds = daemonset(
        "canal",
        ("calico-node", "docker.io/calico/node:v3.29.0"),
        ("kube-flannel", "quay.io/coreos/flannel:v0.15.1"),
    )
    result = detect(("canal.yaml", ds))
    assert (result.cni, result.enforces) == ("canal", True)


def test_policy_engine_beside_flannel_enforces() -> None:
    flannel = daemonset("kube-flannel-ds", ("kube-flannel", "ghcr.io/flannel-io/flannel:v0.28.9"))
    router = daemonset(
        "kube-router",
        ("kube-router", "cloudnativelabs/kube-router:v2.8.0"),
        args="        args: [--run-router=false]\n",
    )
    result = detect(("a.yaml", flannel), ("b.yaml", router))
    assert (result.cni, result.enforces, result.blame) == ("kube-router", True, ())


def test_kube_router_without_firewall() -> None:
    ds = daemonset(
        "kube-router",
        ("kube-router", "cloudnativelabs/kube-router:v2.1.0"),
        args="        args: [--run-firewall=false]\n",
    )
    assert detect(("kr.yaml", ds)).enforces is False


def test_kube_router_version_limits_features() -> None:
    ds = daemonset("kube-router", ("kube-router", "cloudnativelabs/kube-router:v1.2.1"))
    profile = detect(("kr.yaml", ds)).profile
    assert profile is not None
    assert (profile.supports("end_port"), profile.supports("sctp")) == (False, False)


def test_cilium_config() -> None:
    never = (
        "kind: ConfigMap\napiVersion: v1\nmetadata: {name: cilium-config}\ndata:\n  enable-policy: never\n"
    )
    agent = daemonset("cilium", ("cilium-agent", "quay.io/cilium/cilium:v1.16.3"))
    result = detect(("cilium.yaml", agent + "---\n" + never))
    assert (result.cni, result.enforces) == ("cilium", False)
    sctp = "kind: ConfigMap\napiVersion: v1\nmetadata: {name: cilium-config}\ndata: {enable-sctp: 'true'}\n"
    profile = detect(("cilium.yaml", agent + "---\n" + sctp)).profile
    assert profile is not None and profile.supports("sctp") is True


@pytest.mark.parametrize(("flag", "enforces"), [("true", True), ("false", False)])
def test_aws_node_policy_agent(flag: str, enforces: bool) -> None:
    ds = daemonset(
        "aws-node",
        ("aws-node", "602401143452.dkr.ecr.us-west-2.amazonaws.com/amazon-k8s-cni:v1.18.1"),
        (
            "aws-eks-nodeagent",
            "602401143452.dkr.ecr.us-west-2.amazonaws.com/amazon/aws-network-policy-agent:v1.1",
        ),
        args=f"        args: [--enable-ipv6=false, --enable-network-policy={flag}]\n",
    )
    assert detect(("aws.yaml", ds)).enforces is enforces


@pytest.mark.parametrize(
    ("values", "enforces"),
    [
        ('configurationValues: \'{"enableNetworkPolicy": "true"}\'', True),
        ('configurationValues: |\n    enableNetworkPolicy: "true"', True),
        ("configurationValues: '{}'", False),
        ("version: latest", False),
    ],
)
def test_eksctl_vpc_cni_addon(values: str, enforces: bool) -> None:
    config = (
        "apiVersion: eksctl.io/v1alpha5\nkind: ClusterConfig\nmetadata: {name: prod, region: eu-west-1}\n"
        f"addons:\n- name: vpc-cni\n  {values}\n"
    )
    assert detect(("cluster.yaml", config)).enforces is enforces


def test_eksctl_without_addon_is_unknown() -> None:
    config = "apiVersion: eksctl.io/v1alpha5\nkind: ClusterConfig\nmetadata: {name: prod}\n"
    result = detect(("cluster.yaml", config))
    assert (result.cni, result.enforces) == ("aws-vpc-cni", None)


@pytest.mark.parametrize(
    ("path", "text", "cni", "enforces"),
    [
        ("k3s/config.yaml", "disable-network-policy: true\n", "k3s", False),
        ("config.yaml", "disable-network-policy: true\ncluster-cidr: 10.42.0.0/16\n", "k3s", False),
        ("k3s/config.yaml", "write-kubeconfig-mode: '0644'\n", "k3s", True),
        ("config.yaml", "flannel-backend: none\ndisable-network-policy: true\n", None, None),
        ("rke2/config.yaml", "token: x\n", "canal", True),
        ("rke2/config.yaml", "cni: [multus, cilium]\n", "cilium", True),
        ("server.yaml", "cni: calico\ntls-san: [a]\n", "calico", True),
        ("rke2/config.yaml", "cni: none\n", None, None),
    ],
)
def test_k3s_and_rke2_config_files(path: str, text: str, cni: str | None, enforces: bool | None) -> None:
    result = detect((path, text))
    assert (result.cni, result.enforces) == (cni, enforces)


@pytest.mark.parametrize(
    "text",
    [
        "cni: calico\n",  # a lone key in some file: not enough to call it an RKE2 config
        "cni:\n  chainingMode: aws-cni\ntoken: x\n",  # Cilium Helm values
        "cni: weave\ntoken: x\n",  # not an RKE2 choice
    ],
)
def test_unrelated_yaml_is_not_a_cluster_config(text: str) -> None:
    assert detect(("values.yaml", text)).evidence == ()


def test_k3d_flags() -> None:
    config = (
        "apiVersion: k3d.io/v1alpha5\nkind: Simple\nmetadata: {name: dev}\noptions:\n  k3s:\n    extraArgs:\n"
        "    - arg: --disable-network-policy\n      nodeFilters: ['server:*']\n"
    )
    assert (detect(("k3d.yaml", config)).enforces) is False
    byo = config + "    - arg: --flannel-backend=none\n      nodeFilters: ['server:*']\n"
    assert detect(("k3d.yaml", byo)).evidence[0].cni is None


@pytest.mark.parametrize(
    ("nodes", "enforces"),
    [
        ("- {role: control-plane, image: 'kindest/node:v1.24.17'}", False),
        ("- {role: control-plane, image: 'kindest/node:v1.31.0@sha256:53df'}", True),
        ("- {role: control-plane, image: 'kindest/node:v1.29.8'}", None),
        ("- {role: control-plane}", None),
    ],
)
def test_kind_node_images(nodes: str, enforces: bool | None) -> None:
    config = f"kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n{nodes}\n"
    result = detect(("kind.yaml", config))
    assert (result.cni, result.enforces) == ("kindnet", enforces)


def test_kind_without_default_cni() -> None:
    config = (
        "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnetworking:\n  disableDefaultCNI: true\n"
        "  podSubnet: 192.168.0.0/16\n  serviceSubnet: 10.96.0.0/16\n"
        "nodes:\n- {image: 'kindest/node:v1.24.17'}\n"
    )
    result = detect(("kind.yaml", config))
    assert (result.cni, result.enforces, result.detected) == (None, None, ())
    assert (result.pod_cidrs, result.service_cidrs) == (("192.168.0.0/16",), ("10.96.0.0/16",))


def test_operator_and_platform_resources() -> None:
    installation = "apiVersion: operator.tigera.io/v1\nkind: Installation\nmetadata: {name: default}\n"
    assert detect(("i.yaml", installation)).cni == "calico"
    sdn = (
        "apiVersion: operator.openshift.io/v1\nkind: Network\nmetadata: {name: cluster}\n"
        "spec:\n  defaultNetwork: {type: OpenShiftSDN}\n"
    )
    result = detect(("n.yaml", sdn))
    assert result.cni == "openshift-sdn"
    assert result.profile is not None and result.profile.supports("ip_block_except") is False
    rancher = (
        "apiVersion: provisioning.cattle.io/v1\nkind: Cluster\nmetadata: {name: c}\n"
        "spec:\n  kubernetesVersion: v1.30.4+k3s1\n  rkeConfig:\n    machineGlobalConfig:\n"
        "      disable-network-policy: true\n"
    )
    assert detect(("r.yaml", rancher)).enforces is False


def test_gitops_charts() -> None:
    release = (
        "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: cilium}\n"
        "spec:\n  chart:\n    spec: {chart: cilium}\n  values: {policyEnforcementMode: never}\n"
    )
    assert detect(("hr.yaml", release)).enforces is False
    app = (
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: calico, namespace: argocd}\n"
        "spec:\n  sources:\n  - {repoURL: 'https://docs.tigera.io/calico/charts', chart: tigera-operator}\n"
    )
    assert detect(("app.yaml", app)).cni == "calico"


def test_crds_and_policy_kinds_show_the_cni() -> None:
    crd = "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n"
    crd += "metadata: {name: tiers.crd.antrea.io}\n"
    assert detect(("crd.yaml", crd)).cni == "antrea"
    cnp = "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: x, namespace: shop}\n"
    result = detect(("cnp.yaml", cnp + "---\n" + cnp.replace("name: x", "name: y")))
    assert result.cni == "cilium" and len(result.evidence) == 1


def test_declared_cni_wins() -> None:
    ds = daemonset("kube-flannel-ds", ("kube-flannel", "ghcr.io/flannel-io/flannel:v0.28.9"))
    result = detect(("flannel.yaml", ds), cni="Calico")
    assert (result.declared, result.cni, result.enforces, result.blame) == ("Calico", "calico", True, ())
    declared_flannel = detect(("flannel.yaml", ds), cni="flannel")
    assert declared_flannel.enforces is False and len(declared_flannel.blame) == 1
    unknown = detect(("policy.yaml", POLICY), cni="romana")
    assert (unknown.cni, unknown.profile, unknown.enforces) == (None, None, None)


def test_several_enforcing_cnis_merge_capabilities() -> None:
    weave = daemonset(
        "weave-net", ("weave", "weaveworks/weave-kube:2.8.1"), ("weave-npc", "weaveworks/weave-npc:2.8.1")
    )
    calico = daemonset("calico-node", ("calico-node", "quay.io/calico/node:v3.29.0"))
    result = detect(("a.yaml", weave), ("b.yaml", calico))
    assert (result.cni, result.enforces) == (None, True)
    assert result.profile is not None and result.profile.supports("named_ports") is None
    both_weave = detect(("a.yaml", weave), ("b.yaml", weave.replace("weave-net", "weave-net-2")))
    assert both_weave.profile is PROFILES["weave"]


def test_nothing_detected() -> None:
    result = detect(("policy.yaml", POLICY))
    assert (result.cni, result.profile, result.enforces, result.evidence) == (None, None, None, ())


def _corpus(name: str) -> CNIDetection:
    folder = CORPUS / "realworld" / name
    if not folder.is_dir():
        pytest.skip("the shared corpus is not available")
    files = sorted(p for p in folder.rglob("*") if p.suffix in (".yaml", ".yml"))
    return detect(*((p.relative_to(folder).as_posix(), p.read_text(encoding="utf-8")) for p in files))


def test_corpus_flannel_manifest() -> None:
    result = _corpus("flannel")
    assert (result.cni, result.enforces) == ("flannel", False)
    assert result.blame[0].description.startswith("DaemonSet kube-flannel/kube-flannel-ds runs Flannel")
    assert result.pod_cidrs == ("10.244.0.0/16",)


def test_corpus_calico_manifest() -> None:
    result = _corpus("calico")
    assert (result.cni, result.enforces) == ("calico", True)
    kinds = {e.object.kind for e in result.evidence if e.object is not None}
    assert {"DaemonSet", "Deployment", "ConfigMap", "CustomResourceDefinition"} <= kinds


AWS_CONFIG = (
    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: amazon-vpc-cni, namespace: kube-system}\n"
    "data: {enable-network-policy-controller: %s, enable-windows-ipam: 'false'}\n"
)
AWS_NODE = daemonset(
    "aws-node",
    ("aws-node", "602401143452.dkr.ecr.us-west-2.amazonaws.com/amazon-k8s-cni:v1.19.0"),
    (
        "aws-network-policy-agent",
        "602401143452.dkr.ecr.us-west-2.amazonaws.com/amazon/aws-network-policy-agent:v1.1.5",
    ),
    args="        args: [--enable-network-policy=%s]\n",
)


@pytest.mark.parametrize(
    ("controller", "agent", "enforces"),
    [
        ("'true'", "true", True),
        # The controller is off: no PolicyEndpoints, so the agents enforce nothing.
        ("'false'", "true", False),
        # The agent is off: the controller's endpoints are never applied on the nodes.
        ("'true'", "false", False),
        ("'false'", "false", False),
    ],
)
def test_aws_vpc_cni_needs_controller_and_agent(controller: str, agent: str, enforces: bool) -> None:
    result = detect(("cm.yaml", AWS_CONFIG % controller), ("ds.yaml", AWS_NODE % agent))
    assert (result.cni, result.enforces) == ("aws-vpc-cni", enforces)
    if not enforces:
        assert result.blame and all(e.enforces is False for e in result.blame)


def test_aws_vpc_cni_controller_switch_alone() -> None:
    # EKS Auto Mode and managed add-ons: the ConfigMap is all a repository shows.
    assert detect(("cm.yaml", AWS_CONFIG % "'true'")).enforces is True
    off = detect(("cm.yaml", AWS_CONFIG % "'false'"))
    assert off.enforces is False
    assert "enable-network-policy-controller" in off.blame[0].description
    # Without the key the controller keeps its default (off), which an explicit agent flag outweighs.
    missing = AWS_CONFIG.replace("enable-network-policy-controller: %s, ", "")
    assert detect(("cm.yaml", missing)).enforces is False
    assert detect(("cm.yaml", missing), ("ds.yaml", AWS_NODE % "true")).enforces is True


@pytest.mark.parametrize(
    "text",
    [
        "apiVersion: cilium.io/v2alpha1\nkind: CiliumBGPPeeringPolicy\nmetadata: {name: rack0}\n"
        "spec: {nodeSelector: {matchLabels: {rack: rack0}}}\n",
        "apiVersion: cilium.io/v2alpha1\nkind: CiliumLoadBalancerIPPool\nmetadata: {name: pool}\n",
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n"
        "metadata: {name: ciliumbgppeeringpolicies.cilium.io}\n",
    ],
)
def test_a_lone_cilium_resource_is_no_proof_of_cilium(text: str) -> None:
    result = detect(("cilium.yaml", text), ("policy.yaml", POLICY))
    assert (result.cni, result.evidence) == (None, ())


def test_cilium_resources_beside_its_agent_still_show_cilium() -> None:
    bgp = "apiVersion: cilium.io/v2alpha1\nkind: CiliumBGPPeeringPolicy\nmetadata: {name: rack0}\n"
    agent = daemonset("cilium", ("cilium-agent", "quay.io/cilium/cilium:v1.16.3"))
    result = detect(("bgp.yaml", bgp), ("agent.yaml", agent))
    assert (result.cni, result.enforces) == ("cilium", True)
