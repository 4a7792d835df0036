"""Nodes of the world (policy-kinds §2, §8.5, §9.2): ``kind: Node`` exports become endpoints, a
host-network pod with ``spec.nodeName`` answers on its node's addresses, Cilium's ``host`` and
``remote-node`` entities follow the node a pod runs on, the local host reaches its pods, host
policies select Nodes, and probes name a node as ``node:NAME``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers import lint_paths, run_cli
from nplint.cluster.profiles import engine_profile
from nplint.engine.endpoints import EndpointError
from nplint.engine.engine import Engine
from nplint.engine.matrix import compute_matrix
from nplint.engine.verdict import explain
from nplint.loading import iter_manifests, load_text
from nplint.model import Inventory, build_inventory
from nplint.model.nodes import NODE_ADDRESS_LIMIT

# Two nodes as `kubectl get nodes -o yaml` exports them (a `kind: List`), the second with an
# address that does not parse and a host name that is no address.
NODES = """\
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Node
  metadata:
    name: worker-1
    labels: {kubernetes.io/hostname: worker-1, role: edge}
  status:
    addresses:
    - {type: Hostname, address: worker-1}
    - {type: ExternalIP, address: 203.0.113.7}
    - {type: InternalIP, address: 10.0.0.11}
- apiVersion: v1
  kind: Node
  metadata:
    name: worker-2
    labels: {kubernetes.io/hostname: worker-2}
  status:
    addresses:
    - {type: InternalIP, address: 10.0.0.12}
    - {type: InternalIP, address: not-an-ip}
    - {type: InternalDNS, address: 10.9.9.9}
"""

PODS = """\
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web}}
spec:
  nodeName: worker-1
  containers: [{name: w, image: w, ports: [{containerPort: 8080}]}]
---
apiVersion: v1
kind: Pod
metadata: {name: api, namespace: shop, labels: {app: api}}
spec:
  nodeName: worker-2
  containers: [{name: a, image: a, ports: [{containerPort: 8080}]}]
---
apiVersion: v1
kind: Pod
metadata: {name: agent, namespace: kube-system, labels: {app: agent}}
spec:
  nodeName: worker-2
  hostNetwork: true
  containers: [{name: a, image: a}]
"""

# Upstream: an ipBlock holding worker-2's address admits the host-network agent running there.
NP_FROM_WORKER_2 = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: from-worker-2, namespace: shop}
spec:
  podSelector: {}
  ingress:
  - from: [{ipBlock: {cidr: 10.0.0.12/32}}]
"""

NP_DENY = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny, namespace: shop}
spec:
  podSelector: {}
  policyTypes: [Ingress]
"""

CNP_HOST = """\
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: nodes, namespace: shop}
spec:
  endpointSelector: {}
  egress:
  - toEntities: [ENTITY]
"""

CCNP_HOST_POLICY = """\
apiVersion: cilium.io/v2
kind: CiliumClusterwideNetworkPolicy
metadata: {name: edge-ssh}
spec:
  nodeSelector: {matchLabels: {role: edge}}
  ingress:
  - fromEntities: [cluster]
    toPorts: [{ports: [{port: "22", protocol: TCP}]}]
"""


def inventory(*texts: str) -> Inventory:
    loaded = load_text("all.yaml", "---\n".join(texts))
    return build_inventory(list(iter_manifests(loaded)))


def engine(*texts: str, cni: str = "upstream") -> Engine:
    return Engine(inventory(*texts), engine_profile(cni))


def ask(found: Engine, source: str, destination: str, port: int) -> tuple[bool, list[str]]:
    topology = found.topology
    verdict = explain(found, topology.resolve(source), topology.resolve(destination), "TCP", port)
    return verdict.allowed, verdict.reasons()


# -- the model -------------------------------------------------------------------------------


def test_nodes_of_a_list_export_keep_name_labels_and_ip_addresses() -> None:
    inv = inventory(NODES)
    assert [(n.name, dict(n.labels), n.ips) for n in inv.nodes] == [
        ("worker-1", {"kubernetes.io/hostname": "worker-1", "role": "edge"}, ("10.0.0.11", "203.0.113.7")),
        ("worker-2", {"kubernetes.io/hostname": "worker-2"}, ("10.0.0.12",)),
    ]
    assert inv.node_named("worker-2") is inv.nodes[1]
    assert inv.node_named("worker-3") is None


def test_a_node_list_whose_items_omit_their_kind_is_read() -> None:
    export = (
        "apiVersion: v1\nkind: NodeList\nitems:\n"
        "- metadata: {name: n1}\n  status: {addresses: [{type: InternalIP, address: '10.1.0.1'}]}\n"
    )
    assert [(n.name, n.ips) for n in inventory(export).nodes] == [("n1", ("10.1.0.1",))]


def test_a_node_of_another_api_group_or_without_a_name_is_no_node() -> None:
    other = "apiVersion: example.com/v1\nkind: Node\nmetadata: {name: n1}\n"
    unnamed = "apiVersion: v1\nkind: Node\nmetadata: {labels: {a: b}}\n"
    assert inventory(other, unnamed).nodes == []


def test_a_node_keeps_a_bounded_number_of_addresses() -> None:
    addresses = "\n".join(
        f"    - {{type: InternalIP, address: 10.2.{i // 250}.{i % 250}}}" for i in range(500)
    )
    export = f"apiVersion: v1\nkind: Node\nmetadata: {{name: big}}\nstatus:\n  addresses:\n{addresses}\n"
    (node,) = inventory(export).nodes
    assert len(node.ips) == NODE_ADDRESS_LIMIT
    assert node.ips[0] == "10.2.0.0"


def test_pods_carry_their_node_and_service_account() -> None:
    inv = inventory(
        PODS,
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d, namespace: shop}\n"
        "spec: {template: {metadata: {labels: {a: b}},\n"
        "  spec: {serviceAccount: old-style, containers: [{name: c, image: c}]}}}\n",
    )
    assert [(w.name, w.node_name, w.service_account) for w in inv.workloads] == [
        ("web", "worker-1", "default"),
        ("api", "worker-2", "default"),
        ("agent", "worker-2", "default"),
        ("d", None, "old-style"),
    ]


# -- endpoints -------------------------------------------------------------------------------


def test_nodes_are_endpoints_and_a_node_has_no_flow_to_itself() -> None:
    found = engine(NODES, PODS, NP_DENY)
    nodes = [e for e in found.topology.endpoints if e.is_node]
    assert [(e.key, e.kind, e.namespace, e.name) for e in nodes] == [
        ("node:worker-1", "Node", "", "worker-1"),
        ("node:worker-2", "Node", "", "worker-2"),
    ]
    flows = {(f.source.key, f.destination.key) for f in compute_matrix(found)}
    assert ("node:worker-1", "node:worker-2") in flows
    assert ("node:worker-1", "node:worker-1") not in flows
    # Pods are isolated: a node reaches them only where a rule says so.
    assert ("node:worker-1", "shop/web[Pod]") not in flows


def test_a_host_network_pod_answers_on_its_nodes_address() -> None:
    found = engine(NODES, PODS, NP_FROM_WORKER_2)
    assert ask(found, "kube-system/agent", "shop/web", 8080)[0]
    assert ask(found, "node:worker-2", "shop/web", 8080)[0]
    allowed, reasons = ask(found, "node:worker-1", "shop/web", 8080)
    assert not allowed
    assert reasons[0] == (
        "egress of node:worker-1: not subject to NetworkPolicy (it is a node: pod policies neither "
        "select nor isolate it)"
    )
    # Without the Node object the agent's address is unknown: the ipBlock does not provably hold it.
    assert not ask(engine(PODS, NP_FROM_WORKER_2), "kube-system/agent", "shop/web", 8080)[0]


def test_a_node_is_named_by_node_name_or_by_its_address() -> None:
    topology = engine(NODES, PODS).topology
    assert topology.resolve("node:worker-1").key == "node:worker-1"
    assert topology.resolve("203.0.113.7").key == "node:worker-1"
    assert topology.resolve("10.0.0.12").key == "node:worker-2"
    assert topology.resolve("10.0.0.99").is_external


def test_an_unknown_node_is_an_error_naming_the_nodes() -> None:
    topology = engine(NODES, PODS).topology
    with pytest.raises(EndpointError) as near:
        topology.resolve("node:worker-3")
    assert str(near.value) == "unknown node 'node:worker-3'; did you mean node:worker-1, node:worker-2?"
    with pytest.raises(EndpointError) as nothing:
        engine(PODS).topology.resolve("node:worker-1")
    assert str(nothing.value) == (
        "unknown node 'node:worker-1' (the world holds no `kind: Node` object; add the export of "
        "`kubectl get nodes -o yaml`)"
    )


def test_the_matrix_does_not_depend_on_file_order() -> None:
    first = compute_matrix(engine(NODES, PODS, NP_FROM_WORKER_2))
    second = compute_matrix(engine(PODS, NP_FROM_WORKER_2, NODES))
    assert [(f.source.key, f.destination.key, f.ports.describe()) for f in first] == [
        (f.source.key, f.destination.key, f.ports.describe()) for f in second
    ]


# -- Cilium ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entity", "from_worker_1", "from_worker_2"),
    [("host", True, False), ("remote-node", False, True)],
)
def test_host_is_the_pods_own_node_and_remote_node_every_other(
    entity: str, from_worker_1: bool, from_worker_2: bool
) -> None:
    found = engine(NODES, PODS, CNP_HOST.replace("ENTITY", entity), cni="cilium")
    # shop/web runs on worker-1: its local host is worker-1.
    assert ask(found, "shop/web", "node:worker-1", 10250)[0] is from_worker_1
    assert ask(found, "shop/web", "node:worker-2", 10250)[0] is from_worker_2
    assert ask(found, "shop/web", "kube-system/agent", 10250)[0] is from_worker_2
    # shop/api runs on worker-2, with the agent.
    assert ask(found, "shop/api", "kube-system/agent", 10250)[0] is from_worker_1


def test_host_is_never_another_node_and_the_reasons_name_the_rule() -> None:
    found = engine(NODES, PODS, CNP_HOST.replace("ENTITY", "host"), cni="cilium")
    allowed, reasons = ask(found, "shop/web", "node:worker-2", 10250)
    assert not allowed
    assert reasons[0] == (
        "egress of shop/web[Pod]: no rule allows TCP 10250: denied, the direction is in default deny "
        "through CiliumNetworkPolicy shop/nodes (all.yaml:49)"
    )
    allowed, reasons = ask(found, "shop/web", "node:worker-1", 10250)
    assert allowed
    assert reasons[0] == (
        "egress of shop/web[Pod]: CiliumNetworkPolicy shop/nodes (all.yaml:49) egress rule 0 (all.yaml:53): "
        "allows TCP 10250"
    )


def test_the_local_host_reaches_its_pods_through_a_network_policy_default_deny() -> None:
    found = engine(NODES, PODS, NP_DENY, cni="cilium")
    allowed, reasons = ask(found, "kube-system/agent", "shop/api", 8080)
    assert allowed
    assert reasons[1] == (
        "ingress of shop/api[Pod]: kube-system/agent runs in the host network of the pod's node: Cilium "
        "allows TCP 8080 from the local host (allow-localhost)"
    )
    allowed, reasons = ask(found, "node:worker-1", "shop/web", 8080)
    assert allowed
    assert "node:worker-1 is the pod's own node" in reasons[1]
    # Another node is no local host.
    assert not ask(found, "node:worker-1", "shop/api", 8080)[0]
    # Upstream semantics leave the exemption out (networkpolicy-semantics §2.9): unchanged there.
    assert not ask(engine(NODES, PODS, NP_DENY), "node:worker-1", "shop/web", 8080)[0]


def test_without_node_names_host_and_remote_node_stand_for_every_node_and_say_so() -> None:
    pods = PODS.replace("  nodeName: worker-1\n", "")
    found = engine(NODES, pods, CNP_HOST.replace("ENTITY", "host"), cni="cilium")
    allowed, reasons = ask(found, "shop/web", "node:worker-2", 10250)
    assert allowed
    assert reasons[-1] == (
        "shop/web carries no spec.nodeName: which node is the local host is unknown, so Cilium's "
        "host and remote-node entities stand for every node and host-network pod here"
    )
    # With both nodes known the note is not needed.
    assert not any(
        "nodeName" in r
        for r in ask(
            engine(NODES, PODS, CNP_HOST.replace("ENTITY", "host"), cni="cilium"),
            "shop/web",
            "node:worker-1",
            1,
        )[1]
    )


def test_a_host_policy_selects_nodes_by_their_labels() -> None:
    found = engine(NODES, PODS, CCNP_HOST_POLICY, cni="cilium")
    allowed, reasons = ask(found, "shop/api", "node:worker-1", 22)
    assert allowed
    assert reasons[1] == (
        "ingress of node:worker-1: CiliumClusterwideNetworkPolicy edge-ssh (all.yaml:49) (a host policy: "
        "enforced with Cilium's host firewall on) ingress rule 0 (all.yaml:53): allows TCP 22"
    )
    assert not ask(found, "shop/api", "node:worker-1", 443)[0]
    # worker-2 has no `role: edge`: the policy does not select it.
    assert ask(found, "shop/api", "node:worker-2", 443)[0]
    # Where Cilium does not run, nothing selects a node.
    assert ask(engine(NODES, PODS, CCNP_HOST_POLICY), "shop/api", "node:worker-1", 443)[0]


ANP_DENY_EDGE_NODES = """\
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: no-edge-nodes}
spec:
  priority: 10
  subject: {namespaces: {matchLabels: {kubernetes.io/metadata.name: shop}}}
  egress:
  - name: deny-edge
    action: Deny
    to: [{nodes: {matchLabels: {role: edge}}}]
"""


def test_an_admin_nodes_peer_selects_nodes_by_their_labels() -> None:
    # policy-kinds §3.3: a `nodes` peer holds the nodes its selector matches (OVN-Kubernetes
    # implements it, §9.3), and the host-network pods on them, which answer on their address.
    found = engine(NODES, PODS, ANP_DENY_EDGE_NODES, cni="ovn-kubernetes")
    allowed, reasons = ask(found, "shop/api", "node:worker-1", 22)
    assert not allowed
    assert any("AdminNetworkPolicy no-edge-nodes" in r and "deny-edge" in r for r in reasons), reasons
    # worker-2 has no `role: edge`, nor has the host-network agent running there.
    assert ask(found, "shop/api", "node:worker-2", 22)[0]
    assert ask(found, "shop/api", "kube-system/agent", 22)[0]


# -- probes ----------------------------------------------------------------------------------


def test_probes_name_nodes_and_an_unknown_node_is_a_finding(tmp_path: Path) -> None:
    (tmp_path / "all.yaml").write_text("---\n".join((NODES, PODS, NP_DENY)), encoding="utf-8")
    (tmp_path / "probes.yaml").write_text(
        "- {from: node:worker-1, to: shop/web, port: 8080, expect: allow}\n"
        "- {from: shop/web, to: node:worker-2, port: 10250, expect: allow}\n"
        "- {from: node:worker-9, to: shop/web, port: 8080, expect: deny}\n",
        encoding="utf-8",
    )
    result = lint_paths(
        ["."], root=tmp_path, select=["NP801"], extra={"expect": "probes.yaml", "cni": "cilium"}
    )
    assert [(f.path, f.span.line, f.message) for f in result.findings] == [
        (
            "probes.yaml",
            3,
            "this expectation cannot be checked: unknown node 'node:worker-9'; did you mean node:worker-1, "
            "node:worker-2?",
        )
    ]
    upstream = lint_paths(["."], root=tmp_path, select=["NP801"], extra={"expect": "probes.yaml"})
    assert [f.span.line for f in upstream.findings] == [1, 3]
    assert upstream.findings[0].message == (
        "expected node:worker-1 -> shop/web on TCP 8080 to be allowed, but it is denied"
    )


def test_reach_answers_a_point_query_from_a_node(tmp_path: Path) -> None:
    (tmp_path / "all.yaml").write_text("---\n".join((NODES, PODS, NP_DENY)), encoding="utf-8")
    code, output = run_cli(
        [
            "reach",
            str(tmp_path),
            "--cni",
            "cilium",
            "--from",
            "node:worker-1",
            "--to",
            "shop/web",
            "--port",
            "80",
        ]
    )
    assert code == 0
    assert output.splitlines()[0] == "node:worker-1 -> shop/web[Pod] on TCP 80: allowed"


def test_the_matrix_formats_count_and_group_the_nodes(tmp_path: Path) -> None:
    (tmp_path / "all.yaml").write_text("---\n".join((NODES, PODS, NP_DENY)), encoding="utf-8")
    code, text = run_cli(["reach", str(tmp_path)])
    assert code == 0
    assert text.splitlines()[-1].endswith(" allowed flows among 3 workloads and 2 nodes (profile: upstream).")
    code, output = run_cli(["reach", str(tmp_path), "--format", "json"])
    nodes = [e for e in json.loads(output)["endpoints"] if e["type"] == "node"]
    assert nodes == [
        {"id": "node:worker-1", "type": "node", "kind": "Node", "namespace": "", "name": "worker-1"},
        {"id": "node:worker-2", "type": "node", "kind": "Node", "namespace": "", "name": "worker-2"},
    ]
    code, mermaid = run_cli(["reach", str(tmp_path), "--format", "mermaid"])
    assert mermaid.splitlines()[1:4] == [
        '  subgraph ns0["cluster nodes"]',
        '    n2["worker-1 (Node)"]',
        '    n3["worker-2 (Node)"]',
    ]


def test_a_hostile_node_name_reaches_no_output_raw(tmp_path: Path) -> None:
    hostile = '"evil\\e[31m\\n::warning::x"'
    (tmp_path / "all.yaml").write_text(
        f"apiVersion: v1\nkind: Node\nmetadata: {{name: {hostile}}}\n"
        "status: {addresses: [{type: InternalIP, address: 10.0.0.1}]}\n---\n"
        f"apiVersion: v1\nkind: Pod\nmetadata: {{name: p, namespace: a}}\n"
        f"spec: {{nodeName: {hostile}, hostNetwork: true, containers: [{{name: c, image: c}}]}}\n",
        encoding="utf-8",
    )
    for fmt in ("text", "json", "mermaid", "dot", "markdown"):
        code, output = run_cli(["reach", str(tmp_path), "--format", fmt])
        assert code == 0
        assert "\x1b" not in output
        assert not any(line.startswith("::") for line in output.splitlines())
    code, output = run_cli(["reach", str(tmp_path), "--from", "10.0.0.1", "--to", "a/p"])
    assert output.splitlines()[0] == "node:evil\\x1b[31m\\n::warning::x -> a/p[Pod]: allowed All Connections"
