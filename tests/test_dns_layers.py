"""NP301/NP302 through the layered verdict: what decides DNS where other policy kinds are enforced."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import lint_paths

FIXTURES = Path(__file__).parent / "fixtures"

# A namespace with no workload in the repository: a stand-in pod of the policy is asked.
POLICY_ONLY = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-egress, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Egress]
  egress:
  - to:
    - podSelector: {}
  - to:
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}
      podSelector: {matchLabels: {k8s-app: kube-dns}}
    ports:
    - {protocol: UDP, port: 53}
    - {protocol: TCP, port: 53}
"""

ADMIN_DENY = """\
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: no-dns}
spec:
  priority: 5
  subject: {namespaces: {}}
  egress:
  - name: deny-dns
    action: Deny
    to:
    - namespaces: {}
    ports:
    - portNumber: {protocol: UDP, port: 53}
"""


@pytest.mark.parametrize(
    ("cni", "reported"),
    [("ovn-kubernetes", True), ("antrea", True), ("calico", False), ("cilium", False)],
)
def test_an_admin_deny_of_dns_fails_stand_in_pods_where_enforced(
    tmp_path: Path, cni: str, reported: bool
) -> None:
    (tmp_path / "all.yaml").write_text(POLICY_ONLY + "---\n" + ADMIN_DENY, encoding="utf-8")
    result = lint_paths(["."], root=tmp_path, select=["NP301"], extra={"cni": cni})
    found = [(f.rule_id, f.path, f.span.line, f.span.column) for f in result.findings]
    assert found == ([("NP301", "all.yaml", 24, 5)] if reported else [])
    if reported:
        (finding,) = result.findings
        assert finding.message.endswith(
            ": DNS (UDP 53) denied by this rule before NetworkPolicy: name lookups fail"
        )
        assert "namespace 'shop'" in finding.detail
        assert "AdminNetworkPolicy no-dns (all.yaml:19) egress rule 0 'deny-dns'" in finding.detail


def test_plain_network_policy_worlds_never_ask_the_layers(tmp_path: Path) -> None:
    (tmp_path / "all.yaml").write_text(POLICY_ONLY, encoding="utf-8")
    result = lint_paths(["."], root=tmp_path, select=["NP301", "NP302"], extra={"cni": "calico"})
    assert result.findings == []


def test_the_cilium_denial_names_each_step(tmp_path: Path) -> None:
    source = FIXTURES / "NP301" / "bad" / "cilium-default-deny-without-dns.yaml"
    (tmp_path / "all.yaml").write_bytes(source.read_bytes())
    result = lint_paths(["."], root=tmp_path, select=["NP301"], extra={"cni": "cilium"})
    (finding,) = result.findings
    assert finding.message == (
        "Deployment shop/web and 1 more: DNS (UDP 53) denied by this policy of the CNI's own layer: "
        "name lookups fail"
    )
    assert "CiliumClusterwideNetworkPolicy shop-egress" in finding.detail
