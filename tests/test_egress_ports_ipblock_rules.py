"""Unit tests of the address helpers and of what NP302–NP307, NP401–NP404, NP501–NP502 say."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from helpers import lint_text
from nplint.cluster.addresses import (
    POD,
    SERVICE,
    ServiceAim,
    apiserver_endpoints,
    apiserver_service_addresses,
    block_overlaps,
    cluster_ranges,
    dns_service_addresses,
    is_covered,
    is_whole_family,
    nth_address,
    parse_range,
)
from nplint.config import ClusterFacts, DNSFacts
from nplint.loading import iter_manifests, load_text
from nplint.model import Inventory, IPBlock, LabelSelector, Operator, Requirement, build_inventory
from nplint.model.inventory import parse_network
from nplint.rules.ipblock import host_bits_fix
from nplint.rules.ports import pinned_namespaces


def net(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    return ipaddress.ip_network(text)


def block(cidr: str, *excepts: str) -> IPBlock:
    from nplint.loading.nodes import MapNode

    return IPBlock(
        cidr, parse_network(cidr), tuple((e, parse_network(e)) for e in excepts), MapNode((1, 1, 1, 1))
    )


def inventory(text: str, path: str = "repo.yaml") -> Inventory:
    return build_inventory(iter_manifests(load_text(path, text)))


# --- address helpers ------------------------------------------------------------------


def test_nth_address_gives_the_distribution_service_addresses() -> None:
    assert str(nth_address(net("10.96.0.0/12"), 10)) == "10.96.0.10"
    assert str(nth_address(net("10.43.0.0/16"), 1)) == "10.43.0.1"
    assert nth_address(net("10.0.0.0/30"), 10) is None


def test_whole_family() -> None:
    assert is_whole_family(net("0.0.0.0/0"))
    assert is_whole_family(net("::/0"))
    assert not is_whole_family(net("10.0.0.0/8"))
    assert not is_whole_family(None)


@pytest.mark.parametrize(
    ("network", "excepts", "covered"),
    [
        ("10.244.0.0/16", ["10.0.0.0/8"], True),
        ("10.244.0.0/16", ["10.244.0.0/17", "10.244.128.0/17"], True),
        ("10.244.0.0/16", ["10.244.0.0/17"], False),
        ("10.244.0.0/16", [], False),
        ("10.244.0.0/16", ["2001:db8::/32"], False),
        ("10.244.0.0/16", ["10.244.0.0/17", "10.244.128.0/18", "10.244.192.0/18"], True),
    ],
)
def test_is_covered(network: str, excepts: list[str], covered: bool) -> None:
    assert is_covered(net(network), [net(e) for e in excepts]) is covered


def test_block_overlaps_takes_excepts_and_families_into_account() -> None:
    pods = net("10.244.0.0/16")
    assert block_overlaps(block("10.0.0.0/8"), pods)
    assert block_overlaps(block("10.244.3.0/24"), pods)
    assert not block_overlaps(block("10.0.0.0/8", "10.244.0.0/16"), pods)
    assert not block_overlaps(block("192.168.0.0/16"), pods)
    assert not block_overlaps(block("::/0"), pods)
    assert not block_overlaps(block("not-a-cidr"), pods)


def test_service_aim_tells_service_blocks_from_wide_ones() -> None:
    aim = ServiceAim((net("10.96.0.0/12"),), (net("10.244.0.0/16"),))
    assert aim.at_services(block("10.96.0.10/32"))
    assert aim.at_services(block("10.96.0.0/24"))
    assert aim.at_services(block("203.0.113.9/32"))  # a single address is always aimed
    assert not aim.at_services(block("10.0.0.0/8"))
    assert not aim.at_services(block("10.244.0.7/32"))  # a pod address


def test_service_aim_of_known_ranges_only() -> None:
    aim = ServiceAim.of(())
    assert aim.at_services(block("10.0.0.1/32"))
    assert not aim.at_services(block("10.0.0.0/24"))  # no guess from distribution defaults


def test_cluster_ranges_from_configuration_come_first_and_are_unique() -> None:
    facts = ClusterFacts(pod_cidrs=("10.244.0.0/16",), service_cidrs=("10.96.0.0/12",))
    repo = inventory(
        "apiVersion: kubeadm.k8s.io/v1beta3\nkind: ClusterConfiguration\n"
        "networking: {podSubnet: 10.244.0.0/16, serviceSubnet: 10.96.0.0/12}\n"
    )
    ranges = cluster_ranges(repo, facts)
    assert [(str(r.network), r.role) for r in ranges] == [("10.244.0.0/16", POD), ("10.96.0.0/12", SERVICE)]
    assert all("configuration" in r.source for r in ranges)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: calico-node}\nspec:\n  template:\n"
            "    spec:\n      containers:\n      - name: calico-node\n        env:\n"
            "        - {name: CALICO_IPV4POOL_CIDR, value: 192.168.0.0/16}\n",
            [("192.168.0.0/16", POD)],
        ),
        (
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: kube-flannel-cfg}\ndata:\n  net-conf.json: |\n"
            '    {"Network": "10.244.0.0/16", "IPv6Network": "2001:db8:42::/56"}\n',
            [("10.244.0.0/16", POD), ("2001:db8:42::/56", POD)],
        ),
        (
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: kubeadm-config}\n"
            "data:\n  ClusterConfiguration: |\n"
            "    kind: ClusterConfiguration\n    networking:\n      podSubnet: 10.32.0.0/12,fd00:10::/56\n"
            "      serviceSubnet: 10.96.0.0/12\n",
            [("10.32.0.0/12", POD), ("fd00:10::/56", POD), ("10.96.0.0/12", SERVICE)],
        ),
        (
            "cluster-cidr: 10.52.0.0/16\nservice-cidr: 10.53.0.0/16\n",
            [("10.52.0.0/16", POD), ("10.53.0.0/16", SERVICE)],
        ),
        (
            "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes: [{role: control-plane}]\n",
            [("10.244.0.0/16", POD), ("10.96.0.0/16", SERVICE)],
        ),
        (
            "apiVersion: crd.projectcalico.org/v1\nkind: IPPool\nmetadata: {name: default}\n"
            "spec: {cidr: 172.16.0.0/16}\n",
            [("172.16.0.0/16", POD)],
        ),
        (
            "apiVersion: v1\nkind: Pod\nmetadata: {name: kube-apiserver, namespace: kube-system}\nspec:\n"
            "  containers:\n  - name: kube-apiserver\n"
            "    command: [kube-apiserver, --service-cluster-ip-range=10.100.0.0/16]\n",
            [("10.100.0.0/16", SERVICE)],
        ),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: other}\ndata: {net-conf.json: 'not json'}\n", []),
    ],
)
def test_cluster_ranges_revealed_by_manifests(text: str, expected: list[tuple[str, str]]) -> None:
    ranges = cluster_ranges(inventory(text, "cluster.yaml"), ClusterFacts())
    assert [(str(r.network), r.role) for r in ranges] == expected
    assert all(r.path == "cluster.yaml" and r.node is not None for r in ranges)
    assert all("cluster.yaml:" in str(r) for r in ranges)


def test_dns_service_address_order() -> None:
    service = (
        "apiVersion: v1\nkind: Service\nmetadata: {name: kube-dns, namespace: kube-system}\n"
        "spec: {clusterIP: 10.152.183.10, selector: {k8s-app: kube-dns}}\n"
    )
    configured = ClusterFacts(dns=DNSFacts(service_ip="10.32.0.10"))
    found = dns_service_addresses(inventory(service), configured, ())
    assert [str(a.address) for a in found] == ["10.32.0.10", "10.152.183.10"]
    assert not any(a.assumed for a in found)
    ranges = cluster_ranges(inventory(""), ClusterFacts(service_cidrs=("10.200.0.0/16",)))
    assert [str(a.address) for a in dns_service_addresses(inventory(""), ClusterFacts(), ranges)] == [
        "10.200.0.10"
    ]


def test_service_addresses_fall_back_to_distribution_defaults() -> None:
    dns = dns_service_addresses(inventory(""), ClusterFacts(), ())
    assert [str(a.address) for a in dns] == [
        "10.96.0.10",
        "10.43.0.10",
        "10.100.0.10",
        "172.20.0.10",
        "10.0.0.10",
    ]
    assert all(a.assumed for a in dns)
    api = apiserver_service_addresses(inventory(""), ClusterFacts(), ())
    assert [str(a.address) for a in api] == ["10.96.0.1", "10.43.0.1", "10.100.0.1", "172.20.0.1", "10.0.0.1"]
    assert "kubeadm" in api[0].source


def test_apiserver_endpoints_accept_addresses_and_ranges() -> None:
    facts = ClusterFacts(apiserver_addresses=("192.168.10.11", "10.0.1.0/24", "bogus", "2001:db8::1"))
    assert [str(n) for n in apiserver_endpoints(facts)] == [
        "192.168.10.11/32",
        "10.0.1.0/24",
        "2001:db8::1/128",
    ]


def test_parse_range_is_lenient_about_host_bits_only() -> None:
    assert str(parse_range("10.0.0.1/8")) == "10.0.0.0/8"
    assert parse_range("10.0.0.1") is None
    assert parse_range(None) is None


# --- rule helpers ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10.0.0.1/24", ("10.0.0.0/24", "10.0.0.1/32")),
        ("2001:db8::1/64", ("2001:db8::/64", "2001:db8::1/128")),
        ("10.0.0.0/24", None),
        ("10.0.0.1/32", None),
        ("010.0.0.1/8", None),  # leading zeros: NP003's
        ("10.0.0.1", None),
        ("nonsense", None),
    ],
)
def test_host_bits_fix(text: str, expected: tuple[str, str] | None) -> None:
    assert host_bits_fix(text) == expected


def test_pinned_namespaces() -> None:
    label = "kubernetes.io/metadata.name"
    assert pinned_namespaces(LabelSelector(((label, "data"),))) == frozenset({"data"})
    requirement = Requirement(label, Operator.IN, frozenset({"a", "b"}))
    assert pinned_namespaces(LabelSelector((), (requirement,))) == frozenset({"a", "b"})
    assert pinned_namespaces(LabelSelector((("team", "x"),))) is None
    assert pinned_namespaces(LabelSelector()) is None


# --- messages -------------------------------------------------------------------------

POLICY = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: p, namespace: shop}}
spec:
  podSelector: {{}}
  policyTypes: [Egress]
  egress:
{rules}
"""


def messages(tmp_path: Path, rule: str, text: str, config: dict[str, object] | None = None) -> list[str]:
    result = lint_text(text, select=[rule], extra=config, tmp_path=tmp_path)
    assert not result.failures
    return [f.message for f in result.findings if f.rule_id == rule]


def details(tmp_path: Path, rule: str, text: str, config: dict[str, object] | None = None) -> list[str]:
    """The detail of each finding of ``rule``: the explanation behind its headline."""
    result = lint_text(text, select=[rule], extra=config, tmp_path=tmp_path)
    assert not result.failures
    return [f.detail for f in result.findings if f.rule_id == rule]


def test_np302_message_names_tcp_and_the_fix(tmp_path: Path) -> None:
    rules = (
        "  - to:\n    - namespaceSelector: {}\n      podSelector: {matchLabels: {k8s-app: kube-dns}}\n"
        "    ports: [{protocol: UDP, port: 53}]"
    )
    [message] = messages(tmp_path, "NP302", POLICY.format(rules=rules))
    assert "UDP 53 only" in message and "`- {protocol: TCP, port: 53}`" in message
    [detail] = details(tmp_path, "NP302", POLICY.format(rules=rules))
    assert "every pod of namespace 'shop'" in detail


def test_np303_message_says_the_address_is_assumed(tmp_path: Path) -> None:
    rules = "  - to: [{ipBlock: {cidr: 10.96.0.10/32}}]\n    ports: [{protocol: UDP, port: 53}]"
    [message] = details(tmp_path, "NP303", POLICY.format(rules=rules))
    assert "10.96.0.10, the kubeadm default for the DNS Service" in message
    assert "cluster.dns.service-ip" in message
    assert "kubernetes.io/metadata.name: kube-system" in message


def test_np303_uses_the_configured_dns_identity(tmp_path: Path) -> None:
    rules = "  - to: [{ipBlock: {cidr: 172.30.0.10/32}}]\n    ports: [{protocol: UDP, port: 5353}]"
    config = {
        "cluster": {
            "dns": {"namespace": "openshift-dns", "pod-labels": {"dns": "default"}, "ports": [5353]},
            "service-cidr": "172.30.0.0/16",
        }
    }
    [message] = details(tmp_path, "NP303", POLICY.format(rules=rules), config)
    assert "the 10th address of the service range 172.30.0.0/16" in message
    assert "openshift-dns" in message and "{dns: default}" in message


def test_np305_names_the_configured_endpoint_port(tmp_path: Path) -> None:
    rules = "  - to: [{ipBlock: {cidr: 10.96.0.1/32}}]\n    ports: [{protocol: TCP, port: 443}]"
    config = {"cluster": {"apiserver": {"port": 8443}}}
    [message] = messages(tmp_path, "NP305", POLICY.format(rules=rules), config)
    assert "allow TCP 8443" in message
    [detail] = details(tmp_path, "NP305", POLICY.format(rules=rules), config)
    assert "on port 8443" in detail and "Allow TCP 8443" in detail


def test_np306_fix_keeps_the_existing_excepts(tmp_path: Path) -> None:
    rules = "  - to: [{ipBlock: {cidr: 0.0.0.0/0, except: [10.0.0.0/8]}}]"
    result = lint_text(POLICY.format(rules=rules), select=["NP306"], tmp_path=tmp_path)
    [finding] = result.findings
    assert finding.fix is not None and "except: [10.0.0.0/8, 169.254.169.254/32]" in finding.fix


def test_np306_options_add_addresses_and_ports(tmp_path: Path) -> None:
    rules = "  - to: [{ipBlock: {cidr: 100.64.0.0/10}}]\n    ports: [{protocol: TCP, port: 8080}]"
    config = {"rules": {"NP306": {"addresses": ["100.100.100.200"], "ports": [8080]}}}
    [message] = messages(tmp_path, "NP306", POLICY.format(rules=rules), config)
    assert "100.100.100.200" in message
    [detail] = details(tmp_path, "NP306", POLICY.format(rules=rules), config)
    assert "TCP 8080" in detail
    assert messages(tmp_path, "NP306", POLICY.format(rules=rules)) == []


def test_np401_suggests_the_closest_declared_name(tmp_path: Path) -> None:
    text = """\
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: shop, labels: {app: db}}
spec:
  containers: [{name: db, image: pg, ports: [{name: postgresql, containerPort: 5432}]}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - ports: [{port: postgres}]
"""
    result = lint_text(text, select=["NP401"], tmp_path=tmp_path)
    [finding] = result.findings
    assert "did you mean 'postgresql'?" in finding.message
    assert finding.fix == "port: postgresql"
    assert finding.related and "Pod shop/db" in finding.related[0].message


def test_np402_message_gives_the_pod_port(tmp_path: Path) -> None:
    text = """\
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - ports: [{port: 80}]
"""
    result = lint_text(text, select=["NP402"], tmp_path=tmp_path)
    [finding] = result.findings
    assert "Service port of shop/web" in finding.message and "`port: 8080`" in finding.message
    assert "Service shop/web" in finding.detail and "targetPort 8080" in finding.detail
    assert finding.fix == "port: 8080"


def test_np501_message_gives_both_readings(tmp_path: Path) -> None:
    rules = "  - to: [{ipBlock: {cidr: 10.1.2.3/16}}]"
    [message] = messages(tmp_path, "NP501", POLICY.format(rules=rules))
    assert "10.1.0.0/16" in message and "10.1.2.3/32" in message
    [detail] = details(tmp_path, "NP501", POLICY.format(rules=rules))
    assert "1.36" in detail


def test_np502_fix_excepts_the_cluster_ranges(tmp_path: Path) -> None:
    rules = "  - to: [{ipBlock: {cidr: 10.0.0.0/8}}]"
    config = {"cluster": {"pod-cidr": "10.244.0.0/16", "service-cidr": "10.96.0.0/12"}}
    result = lint_text(POLICY.format(rules=rules), select=["NP502"], extra=config, tmp_path=tmp_path)
    [finding] = result.findings
    assert "the pod range 10.244.0.0/16 (cluster.pod-cidr of the configuration)" in finding.detail
    assert "Service range 10.96.0.0/12" in finding.message
    assert finding.fix == "except: [10.244.0.0/16, 10.96.0.0/12]"


def test_np502_points_at_the_manifest_that_revealed_the_range(tmp_path: Path) -> None:
    text = """\
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
networking: {podSubnet: 10.10.0.0/16}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p, namespace: shop}
spec:
  podSelector: {}
  ingress:
  - from: [{ipBlock: {cidr: 10.10.4.0/24}}]
"""
    result = lint_text(text, select=["NP502"], tmp_path=tmp_path)
    [finding] = result.findings
    assert "manifest.yaml:3" in finding.detail
    assert finding.related and finding.related[0].span.line == 3


def test_rules_survive_malformed_policies(tmp_path: Path) -> None:
    text = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p, namespace: shop}
spec:
  podSelector: {}
  ingress: [{from: [{ipBlock: {cidr: 5}}, {ipBlock: nope}, 7], ports: [{port: {a: 1}}, null, 3]}]
  egress: [{to: [{ipBlock: {cidr: null, except: [null, 1]}}], ports: [{port: dns}]}, null, "x"]
"""
    rules = ["NP302", "NP303", "NP304", "NP305", "NP306", "NP307"]
    rules += ["NP401", "NP402", "NP403", "NP404", "NP501", "NP502"]
    result = lint_text(text, select=rules, tmp_path=tmp_path)
    assert not result.failures
