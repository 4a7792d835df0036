"""NP101/NP102 accept a Calico or Cilium default deny covering a namespace where the CNI enforces
its kind, and name it in the detail where it does not (issue 13's acceptance, policy-kinds §7.8,
§8.9, §10)."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import lint_paths

PODS = """\
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx}]}
"""

GNP = """\
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: default-deny}
spec:
  selector: projectcalico.org/namespace != 'kube-system'
  types: [Ingress, Egress]
"""

CCNP = """\
apiVersion: cilium.io/v2
kind: CiliumClusterwideNetworkPolicy
metadata: {name: default-deny}
spec:
  endpointSelector: {}
  ingress: [{}]
  egress: [{}]
"""


@pytest.mark.parametrize(
    ("policy", "cni", "reported", "why"),
    [
        (GNP, "calico", False, ""),
        (GNP, "cilium", True, "Cilium does not enforce Calico policies."),
        (GNP, "ovn-kubernetes", True, "OVN-Kubernetes does not enforce Calico policies."),
        (CCNP, "cilium", False, ""),
        (
            CCNP,
            "calico",
            True,
            "Calico does not enforce CiliumNetworkPolicy or CiliumClusterwideNetworkPolicy.",
        ),
    ],
)
@pytest.mark.parametrize("rule", ["NP101", "NP102"])
def test_a_calico_or_cilium_default_deny_counts_where_enforced(
    tmp_path: Path, policy: str, cni: str, reported: bool, why: str, rule: str
) -> None:
    (tmp_path / "all.yaml").write_text("---\n".join((PODS, policy)), encoding="utf-8")
    result = lint_paths(["."], root=tmp_path, select=[rule], extra={"cni": cni})
    assert [(f.rule_id, f.path, f.span.line) for f in result.findings] == (
        [(rule, "all.yaml", 3)] if reported else []
    )
    if reported:
        (finding,) = result.findings
        kind = "Calico GlobalNetworkPolicy" if policy is GNP else "CiliumClusterwideNetworkPolicy"
        assert f" {kind} default-deny (all.yaml:15) " in finding.detail
        assert finding.detail.endswith(", but " + why)


def test_a_namespaced_default_deny_covers_only_its_namespace(tmp_path: Path) -> None:
    other = PODS.replace("shop", "other")
    cnp = """\
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: deny, namespace: shop}
spec:
  endpointSelector: {}
  ingress: [{}]
"""
    (tmp_path / "all.yaml").write_text("---\n".join((PODS, other, cnp)), encoding="utf-8")
    result = lint_paths(["."], root=tmp_path, select=["NP101"], extra={"cni": "cilium"})
    assert [(f.path, f.span.line) for f in result.findings] == [("all.yaml", 15)]
