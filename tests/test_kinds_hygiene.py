"""NP104, NP206, NP705, NP706 on AdminNetworkPolicy, ClusterNetworkPolicy, Calico and Cilium policies.

The fixtures under tests/fixtures/NP1xx|NP2xx|NP7xx hold the cases with positions;
here: the pages' "Other policy kinds" examples, the evidence NP104 asks before it
speaks, the Calico selector translation (K21), and the order of files.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from helpers import REPO, lint_paths, lint_text
from nplint.model.calico import SelectorField
from nplint.model.calico_selector import parse_selector
from nplint.rules.kind_hygiene import calico_label_selector

YAML_BLOCK = re.compile(r"```yaml\n(.*?)```", re.DOTALL)

SHOP_API = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  namespace: shop
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api-server}}
    spec:
      containers: [{name: api, image: api}]
"""


def _found(result: object) -> list[tuple[str, str, int, int]]:
    return sorted(
        (f.rule_id, f.path, f.span.line, f.span.column)
        for f in result.findings  # type: ignore[attr-defined]
    )


def _other_kinds(rule_id: str) -> tuple[str, str]:
    page = (REPO / "rules" / f"{rule_id}.md").read_text(encoding="utf-8")
    section = page.split("## Other policy kinds\n", 1)[1].split("\n## ", 1)[0]
    blocks = YAML_BLOCK.findall(section)
    assert len(blocks) == 2, "the section has an example and a 'use instead'"
    return blocks[0], blocks[1]


@pytest.mark.parametrize("rule_id", ["NP104", "NP206", "NP705", "NP706"])
def test_page_other_kinds_examples_are_true(rule_id: str, tmp_path: Path) -> None:
    bad, good = _other_kinds(rule_id)
    (tmp_path / "bad").mkdir()
    (tmp_path / "good").mkdir()
    found = lint_text(bad, select=[rule_id], tmp_path=tmp_path / "bad")
    assert [f.rule_id for f in found.findings] == [rule_id]
    assert not found.failures
    fixed = lint_text(good, select=[rule_id], tmp_path=tmp_path / "good")
    assert fixed.findings == [] and not fixed.failures


def test_calico_subject_position_and_message(tmp_path: Path) -> None:
    text = SHOP_API + (
        "---\napiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {name: api, namespace: shop}\n"
        "spec:\n  selector: app == 'api'\n  types: [Ingress]\n"
    )
    result = lint_text(text, select=["NP104"], tmp_path=tmp_path)
    assert _found(result) == [("NP104", "manifest.yaml", 17, 3)]
    finding = result.findings[0]
    assert "selector app == 'api' matches no workload of namespace 'shop'" in finding.message
    assert "app in (api-server)" in finding.detail


def test_no_workloads_of_the_namespace_no_finding(tmp_path: Path) -> None:
    """A world that holds no workload of the namespace says nothing about it."""
    text = (
        "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: api, namespace: shop}\n"
        "spec:\n  endpointSelector: {matchLabels: {app: api}}\n  ingress:\n  - fromEndpoints:\n"
        "    - matchLabels: {app: web}\n"
    )
    assert lint_text(text, select=["NP104", "NP206"], tmp_path=tmp_path).findings == []


def test_operator_evidence_quiets_the_other_kinds(tmp_path: Path) -> None:
    """A custom resource that may run pods makes the namespace unjudged, as for a NetworkPolicy."""
    text = SHOP_API + (
        "---\napiVersion: databases.example.com/v1\nkind: Cluster\nmetadata: {name: db, namespace: shop}\n"
        "---\napiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: db, namespace: shop}\n"
        "spec:\n  endpointSelector: {matchLabels: {app: db}}\n  ingress:\n  - fromEntities: [cluster]\n"
    )
    assert lint_text(text, select=["NP104"], tmp_path=tmp_path).findings == []


def test_policy_kinds_do_not_make_pods_unknown(tmp_path: Path) -> None:
    """A Cilium or Calico policy is no operator: a NetworkPolicy beside it is still judged.

    A CiliumClusterwideNetworkPolicy names no namespace and lands with its unit, where a
    custom resource of an unknown kind would make the namespace's pods unknown.
    """
    text = SHOP_API + (
        "---\napiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: dns, namespace: shop}\n"
        "spec:\n  endpointSelector: {}\n  egress:\n  - toEntities: [cluster]\n"
        "---\napiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\nmetadata: {name: all}\n"
        "spec:\n  endpointSelector: {}\n  ingress:\n  - fromEntities: [cluster]\n"
        "---\napiVersion: projectcalico.org/v3\nkind: Tier\nmetadata: {name: platform}\nspec: {order: 100}\n"
        "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: api, namespace: shop}\n"
        "spec:\n  podSelector: {matchLabels: {app: api}}\n  policyTypes: [Ingress]\n"
    )
    result = lint_text(text, select=["NP104"], tmp_path=tmp_path)
    assert _found(result) == [("NP104", "manifest.yaml", 38, 3)]


@pytest.mark.parametrize(
    ("text", "labels", "expected"),
    [
        ("env != 'prod'", {}, True),
        ("env != 'prod'", {"env": "prod"}, False),
        ("env not in {'a', 'b'}", {"app": "x"}, True),
        ("!has(canary) && app == 'x'", {"app": "x"}, True),
        ("!has(canary) && app == 'x'", {"app": "x", "canary": ""}, False),
        ("app in {'x', 'y'} && has(tier)", {"app": "y", "tier": "1"}, True),
        ("all()", {}, True),
    ],
)
def test_calico_translation_agrees_with_calico(text: str, labels: dict[str, str], expected: bool) -> None:
    """The label-selector form of a Calico conjunction matches what Calico's selector matches (K21)."""
    field = SelectorField(text, None, parse_selector(text))
    translated = calico_label_selector(field)
    assert translated is not None
    assert field.matches(labels) is expected
    assert translated.matches(labels) is expected


@pytest.mark.parametrize(
    "text", ["a == 'x' || b == 'y'", "a contains 'x'", "!(a == 'x')", "global()", "a starts with 'x'"]
)
def test_calico_selectors_left_out(text: str) -> None:
    field = SelectorField(text, None, parse_selector(text))
    assert calico_label_selector(field) is None


def test_findings_do_not_depend_on_file_order(tmp_path: Path) -> None:
    policy = (
        "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {{name: {name}, namespace: shop}}\n"
        "spec:\n  endpointSelector: {{matchLabels: {{app: api}}}}\n  ingress:\n"
        "  - fromEndpoints: [{{matchLabels: {{app: web}}}}]\n"
    )
    (tmp_path / "a.yaml").write_text(policy.format(name="zeta"), encoding="utf-8")
    (tmp_path / "b.yaml").write_text(policy.format(name="alpha"), encoding="utf-8")
    forward = lint_paths(["a.yaml", "b.yaml"], root=tmp_path, select=["NP706"])
    backward = lint_paths(["b.yaml", "a.yaml"], root=tmp_path, select=["NP706"])
    assert _found(forward) == _found(backward) == [("NP706", "b.yaml", 3, 18)]
    assert [f.message for f in forward.findings] == [f.message for f in backward.findings]
