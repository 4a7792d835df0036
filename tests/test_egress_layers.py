"""NP306/NP307 through the layered verdict: what closes or opens egress where other kinds are enforced."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import lint_paths

WEB = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx}]}
---
"""

# Lines 9-17: web may send anything to 0.0.0.0/0 (NP306 and NP307 at 17:23).
OPEN = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-egress, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Egress]
  egress:
  - to:
    - ipBlock: {cidr: 0.0.0.0/0}
---
"""

ADMIN_DENY_METADATA = """\
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: no-metadata}
spec:
  priority: 1
  subject: {namespaces: {}}
  egress:
  - name: metadata
    action: Deny
    to:
    - networks: [169.254.169.254/32]
"""

# Lines 9-24; the Allow rule is at 16:5.
ADMIN_ALLOW_INTERNET = """\
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: open-egress}
spec:
  priority: 10
  subject: {namespaces: {}}
  egress:
  - name: internet
    action: Allow
    to:
    - networks: [0.0.0.0/0]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-egress, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Egress]
"""


def _found(tmp_path: Path, text: str, cni: str, select: list[str]) -> list[tuple[str, int, int]]:
    (tmp_path / "all.yaml").write_text(text, encoding="utf-8")
    result = lint_paths(["."], root=tmp_path, select=select, extra={"cni": cni})
    assert not result.failures
    return sorted((f.rule_id, f.span.line, f.span.column) for f in result.findings)


@pytest.mark.parametrize(
    ("cni", "closed"),
    [("ovn-kubernetes", True), ("antrea", True), ("cilium", False), ("calico", False), ("flannel", False)],
)
def test_an_admin_deny_closes_the_metadata_service_only_where_enforced(
    tmp_path: Path, cni: str, closed: bool
) -> None:
    found = _found(tmp_path, WEB + OPEN + ADMIN_DENY_METADATA, cni, ["NP306", "NP307"])
    # The internet stays open on every port: NP307 keeps its finding whatever the CNI.
    expected = [("NP307", 17, 23)] if closed else [("NP306", 17, 23), ("NP307", 17, 23)]
    assert found == expected


@pytest.mark.parametrize(
    ("cni", "reported"),
    [("ovn-kubernetes", True), ("antrea", True), ("kube-network-policies", True), ("cilium", False)],
)
def test_an_admin_allow_of_the_internet_is_reported_on_its_rule(
    tmp_path: Path, cni: str, reported: bool
) -> None:
    (tmp_path / "all.yaml").write_text(WEB + ADMIN_ALLOW_INTERNET, encoding="utf-8")
    result = lint_paths(["."], root=tmp_path, select=["NP306", "NP307"], extra={"cni": cni})
    found = sorted((f.rule_id, f.path, f.span.line, f.span.column) for f in result.findings)
    if not reported:
        assert found == []
        return
    assert found == [("NP306", "all.yaml", 16, 5), ("NP307", "all.yaml", 16, 5)]
    by_rule = {f.rule_id: f for f in result.findings}
    assert by_rule["NP307"].message == (
        "this rule opens every port to CIDR 0.0.0.0/0, the whole internet: "
        "list the ports the pods need, or narrow the peer"
    )
    assert by_rule["NP306"].message == (
        "this rule opens the cloud metadata service 169.254.169.254 through "
        "CIDR 0.0.0.0/0: deny it first, or narrow the peer"
    )
    assert "AdminNetworkPolicy open-egress egress rule 0 'internet'" in by_rule["NP306"].detail
    assert "Deployment shop/web" in by_rule["NP306"].detail


def test_a_higher_priority_deny_keeps_the_allow_from_deciding(tmp_path: Path) -> None:
    text = (
        WEB + ADMIN_ALLOW_INTERNET + "---\n" + ADMIN_DENY_METADATA.replace("169.254.169.254/32", "0.0.0.0/0")
    )
    assert _found(tmp_path, text, "ovn-kubernetes", ["NP306", "NP307"]) == []


def test_plain_network_policy_worlds_are_unchanged(tmp_path: Path) -> None:
    for cni in ("calico", "cilium", "ovn-kubernetes"):
        assert _found(tmp_path, WEB + OPEN, cni, ["NP306", "NP307"]) == [("NP306", 17, 23), ("NP307", 17, 23)]


def test_a_calico_tier_that_closes_part_of_the_internet_leaves_the_rest_open(tmp_path: Path) -> None:
    # The tier denies one /8 of the internet: every other address still gets every port.
    text = (
        WEB
        + OPEN
        + """\
apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: platform}
spec: {order: 100}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: platform.some}
spec:
  tier: platform
  order: 1
  selector: all()
  types: [Egress]
  egress:
  - action: Deny
    destination: {nets: [8.0.0.0/8]}
  - action: Pass
"""
    )
    assert _found(tmp_path, text, "calico", ["NP306", "NP307"]) == [("NP306", 17, 23), ("NP307", 17, 23)]


def test_the_cilium_world_entity_is_named(tmp_path: Path) -> None:
    text = (
        WEB
        + """\
apiVersion: cilium.io/v2
kind: CiliumClusterwideNetworkPolicy
metadata: {name: world}
spec:
  endpointSelector: {}
  egress:
  - toEntities: [world]
"""
    )
    (tmp_path / "all.yaml").write_text(text, encoding="utf-8")
    result = lint_paths(["."], root=tmp_path, select=["NP307"], extra={"cni": "cilium"})
    (finding,) = result.findings
    assert (finding.span.line, finding.span.column) == (15, 5)
    assert finding.message.startswith("this rule opens every port to entity `world`, the whole internet")


CALICO_DNS_ANYWHERE = """\
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: allow-dns}
spec:
  selector: all()
  types: [Egress]
  egress:
  - action: Allow
    protocol: UDP
    destination:
      ports: [53]
"""


@pytest.mark.parametrize(
    ("cni", "reported"), [("calico", True), ("cilium", False), ("ovn-kubernetes", False)]
)
def test_a_calico_dns_allow_to_anywhere_is_reported_only_on_calico(
    tmp_path: Path, cni: str, reported: bool
) -> None:
    (tmp_path / "all.yaml").write_text(WEB + CALICO_DNS_ANYWHERE, encoding="utf-8")
    result = lint_paths(["."], root=tmp_path, select=["NP304"], extra={"cni": cni})
    found = [(f.rule_id, f.path, f.span.line, f.span.column) for f in result.findings]
    assert found == ([("NP304", "all.yaml", 16, 5)] if reported else [])
    if reported:
        (finding,) = result.findings
        assert finding.message == (
            "this rule opens port 53 (UDP) to any destination: restrict it to the cluster DNS pods"
        )
        assert "names no address or selector, so every destination" in finding.detail
        # The advice is written in Calico's own language, not a NetworkPolicy peer.
        assert finding.detail.endswith(
            "Allow the cluster DNS pods only: `destination: {namespaceSelector: "
            "\"projectcalico.org/name == 'kube-system'\", selector: \"k8s-app == 'kube-dns'\"}`."
        )


def test_dns_to_anywhere_of_a_network_policy_is_unchanged_without_other_kinds(tmp_path: Path) -> None:
    text = WEB + OPEN.replace(
        "    - ipBlock: {cidr: 0.0.0.0/0}\n",
        "    - ipBlock: {cidr: 0.0.0.0/0}\n    ports:\n    - {protocol: UDP, port: 53}\n",
    )
    for cni in ("calico", "cilium"):
        assert _found(tmp_path, text, cni, ["NP304"]) == [("NP304", 19, 7)]


CILIUM_SERVICE_IP = """\
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: web-dns, namespace: shop}
spec:
  endpointSelector:
    matchLabels: {app: web}
  egress:
  - toCIDR: [10.96.0.10/32]
    toPorts:
    - ports:
      - {port: "53", protocol: UDP}
"""


@pytest.mark.parametrize(
    ("cni", "reported"), [("cilium", True), ("calico", False), ("ovn-kubernetes", False)]
)
def test_a_cilium_rule_to_the_dns_service_ip_is_reported_on_cilium(
    tmp_path: Path, cni: str, reported: bool
) -> None:
    (tmp_path / "all.yaml").write_text(WEB + CILIUM_SERVICE_IP, encoding="utf-8")
    result = lint_paths(["."], root=tmp_path, select=["NP303"], extra={"cni": cni})
    found = [(f.rule_id, f.path, f.span.line, f.span.column) for f in result.findings]
    assert found == ([("NP303", "all.yaml", 16, 5)] if reported else [])
    if reported:
        (finding,) = result.findings
        assert finding.message == (
            "this rule allows DNS over UDP only to the DNS Service IP 10.96.0.10, "
            "which policies never see: allow the DNS pods instead"
        )
        assert "CiliumNetworkPolicy web-dns egress rule 0" in finding.detail


def test_nodelocal_dns_allowed_beside_the_service_ip_is_left_alone(tmp_path: Path) -> None:
    text = WEB + CILIUM_SERVICE_IP.replace("[10.96.0.10/32]", "[10.96.0.10/32, 169.254.20.10/32]")
    assert _found(tmp_path, text, "cilium", ["NP303"]) == []


OPERATOR = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: operator, namespace: operators}
spec:
  template:
    metadata: {labels: {app: operator}}
    spec: {containers: [{name: operator, image: operator}]}
---
"""

# Lines 9-28; the Allow rule is at 23:5.
ADMIN_APISERVER_SERVICE = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: operator-egress, namespace: operators}
spec:
  podSelector: {matchLabels: {app: operator}}
  policyTypes: [Egress]
---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: apiserver}
spec:
  priority: 10
  subject: {namespaces: {}}
  egress:
  - name: apiserver
    action: Allow
    to:
    - networks: [10.96.0.1/32]
    ports:
    - portNumber: {protocol: TCP, port: 443}
"""


@pytest.mark.parametrize(
    ("cni", "reported"),
    [("ovn-kubernetes", True), ("antrea", False), ("kube-network-policies", False), ("cilium", False)],
)
def test_admin_rules_aimed_at_the_apiserver_service_only_where_the_reference_says_post_dnat(
    tmp_path: Path, cni: str, reported: bool
) -> None:
    found = _found(tmp_path, OPERATOR + ADMIN_APISERVER_SERVICE, cni, ["NP305"])
    assert found == ([("NP305", 23, 5)] if reported else [])


def test_an_admin_allow_of_the_endpoint_port_quiets_the_network_policy_block(tmp_path: Path) -> None:
    network_policy = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: operator-egress, namespace: operators}
spec:
  podSelector: {matchLabels: {app: operator}}
  policyTypes: [Egress]
  egress:
  - to:
    - ipBlock: {cidr: 10.96.0.1/32}
    ports:
    - {protocol: TCP, port: 443}
---
"""
    admin = """\
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: apiserver}
spec:
  priority: 10
  subject: {namespaces: {}}
  egress:
  - name: apiserver
    action: Allow
    to:
    - networks: [192.0.2.10/32]
    ports:
    - portNumber: {protocol: TCP, port: 6443}
"""
    assert _found(tmp_path, OPERATOR + network_policy, "ovn-kubernetes", ["NP305"]) == [("NP305", 17, 16)]
    assert _found(tmp_path, OPERATOR + network_policy + admin, "ovn-kubernetes", ["NP305"]) == []
    # Cilium does not run the AdminNetworkPolicy: the block stays reported.
    assert _found(tmp_path, OPERATOR + network_policy + admin, "cilium", ["NP305"]) == [("NP305", 17, 16)]
