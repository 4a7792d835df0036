"""Malformed Calico and Cilium objects: every field of the wrong shape is read leniently, never a crash."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import lint_paths

SHAPES = ["null", "7", "'text'", "[]", "[1, {a: b}, [x]]", "{}", "{a: [1]}", "true", "'!has(x) && ('"]

CALICO_FIELDS = [
    "spec",
    "spec.selector",
    "spec.order",
    "spec.types",
    "spec.ingress",
    "spec.ingress[0].action",
    "spec.ingress[0].protocol",
    "spec.ingress[0].source",
    "spec.ingress[0].source.nets",
    "spec.ingress[0].source.ports",
    "spec.ingress[0].source.services",
    "spec.ingress[0].source.serviceAccounts",
    "spec.ingress[0].icmp",
    "spec.egress",
]
CILIUM_FIELDS = [
    "spec",
    "specs",
    "spec.endpointSelector",
    "spec.endpointSelector.matchLabels",
    "spec.endpointSelector.matchExpressions",
    "spec.enableDefaultDeny",
    "spec.ingress",
    "spec.ingress[0].fromEndpoints",
    "spec.ingress[0].fromEntities",
    "spec.ingress[0].fromCIDRSet",
    "spec.ingress[0].toPorts",
    "spec.ingress[0].toPorts[0].ports",
    "spec.ingress[0].toPorts[0].rules",
    "spec.egressDeny",
    "spec.egress[0].toFQDNs",
]


def _document(head: str, path: str, value: str) -> str:
    """A YAML document with ``value`` placed at ``path`` (dots and ``[0]`` steps)."""
    steps: list[str] = []
    for part in path.split("."):
        name, _, index = part.partition("[")
        steps.append(name)
        if index:
            steps.append("[0]")
    text = value
    for step in reversed(steps):
        text = f"[{text}]" if step == "[0]" else f"{{{step}: {text}}}"
    body = text[1:-1]  # the top-level mapping's entries
    return f"{head}\n{body}\n"


CALICO_HEAD = "apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {name: p, namespace: shop}\n"
CILIUM_HEAD = "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: p, namespace: shop}\n"
RULES = ["NP010", "NP011", "NP012", "NP013"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.sampled_from([(CALICO_HEAD, CALICO_FIELDS), (CILIUM_HEAD, CILIUM_FIELDS)]).flatmap(
        lambda pair: st.tuples(st.just(pair[0]), st.sampled_from(pair[1]), st.sampled_from(SHAPES))
    )
)
def test_malformed_fields_never_crash(tmp_path: Path, case: tuple[str, str, str]) -> None:
    head, path, value = case
    folder = tmp_path / f"case{abs(hash(case))}"
    folder.mkdir()
    (folder / "policy.yaml").write_text(_document(head, path, value), encoding="utf-8")
    result = lint_paths(["."], root=folder, select=RULES)
    assert not result.failures


@pytest.mark.parametrize("head", [CALICO_HEAD, CILIUM_HEAD])
def test_document_builder_places_values(head: str) -> None:
    assert _document(head, "spec.ingress[0].action", "Allow").endswith("spec: {ingress: [{action: Allow}]}\n")
