"""Properties of the Admin and Baseline layers over random inventories (hypothesis).

* The matrix (which narrows the pairs it evaluates) agrees with the verdict of every
  pair, so the narrowing never hides a flow an Admin or Baseline rule opens or closes.
* A policy kind the CNI does not enforce changes nothing.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from test_engine_properties import (
    NAMESPACES,
    PORT_NAMES,
    PORT_NUMBERS,
    SETTINGS,
    inventory,
    selectors,
    worlds,
)

from nplint.cluster.profiles import engine_profile
from nplint.engine.engine import Engine
from nplint.engine.matrix import compute_matrix
from nplint.engine.verdict import explain


@st.composite
def admin_peers(draw: st.DrawFn, egress: bool) -> dict[str, Any]:
    kind = draw(st.sampled_from(["namespaces", "pods", "networks"] if egress else ["namespaces", "pods"]))
    if kind == "namespaces":
        return {"namespaces": draw(selectors())}
    if kind == "pods":
        return {"pods": {"namespaceSelector": draw(selectors()), "podSelector": draw(selectors())}}
    return {"networks": [draw(st.sampled_from(["0.0.0.0/0", "10.0.0.0/8", "203.0.113.0/24"]))]}


@st.composite
def admin_ports(draw: st.DrawFn) -> dict[str, Any]:
    choice = draw(st.sampled_from(["number", "range", "name"]))
    protocol = draw(st.sampled_from(["TCP", "UDP"]))
    if choice == "number":
        return {"portNumber": {"protocol": protocol, "port": draw(st.sampled_from(PORT_NUMBERS))}}
    if choice == "range":
        return {"portRange": {"protocol": protocol, "start": 80, "end": 443}}
    return {"namedPort": draw(st.sampled_from(PORT_NAMES))}


@st.composite
def admin_rules(draw: st.DrawFn, egress: bool, actions: list[str]) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "action": draw(st.sampled_from(actions)),
        "to" if egress else "from": draw(st.lists(admin_peers(egress), min_size=1, max_size=2)),
    }
    if draw(st.booleans()):
        rule["ports"] = draw(st.lists(admin_ports(), min_size=1, max_size=2))
    return rule


@st.composite
def admin_policies(draw: st.DrawFn, index: int) -> dict[str, Any]:
    baseline = draw(st.booleans())
    actions = ["Allow", "Deny"] if baseline else ["Allow", "Deny", "Pass"]
    spec: dict[str, Any] = {
        "subject": draw(
            st.sampled_from(
                [
                    {"namespaces": {}},
                    {
                        "namespaces": {
                            "matchLabels": {"kubernetes.io/metadata.name": draw(st.sampled_from(NAMESPACES))}
                        }
                    },
                    {"pods": {"namespaceSelector": {}, "podSelector": draw(selectors())}},
                ]
            )
        ),
        "ingress": draw(st.lists(admin_rules(False, actions), max_size=2)),
        "egress": draw(st.lists(admin_rules(True, actions), max_size=2)),
    }
    if not baseline:
        spec["priority"] = draw(st.integers(0, 3))
    kind = "BaselineAdminNetworkPolicy" if baseline else "AdminNetworkPolicy"
    name = "default" if baseline else f"anp{index}"
    return {
        "apiVersion": "policy.networking.k8s.io/v1alpha1",
        "kind": kind,
        "metadata": {"name": name},
        "spec": spec,
    }


@st.composite
def layered_worlds(draw: st.DrawFn) -> list[dict[str, Any]]:
    world = draw(worlds())
    extra = [draw(admin_policies(i)) for i in range(draw(st.integers(1, 3)))]
    banps = [p for p in extra if p["kind"] == "BaselineAdminNetworkPolicy"]
    anps = [p for p in extra if p["kind"] == "AdminNetworkPolicy"]
    return world + anps + banps[:1]


@SETTINGS
@given(layered_worlds())
def test_matrix_agrees_with_every_pair_verdict(world: list[dict[str, Any]]) -> None:
    engine = Engine(inventory(world))
    flows = {(f.source.key, f.destination.key): f.ports for f in compute_matrix(engine)}
    workloads = [e for e in engine.topology.endpoints if not e.is_external]
    for source in workloads:
        for destination in workloads:
            if source.key == destination.key and source.is_bare_pod:
                continue
            verdict = explain(engine, source, destination)
            found = flows.get((source.key, destination.key))
            assert (found.describe() if found else "") == (
                verdict.connections.describe() if verdict.connections else ""
            ), (source.key, destination.key)
            for protocol in ("TCP", "UDP"):
                for port in PORT_NUMBERS:
                    one = explain(engine, source, destination, protocol, port)
                    assert one.allowed == verdict.connections.contains(protocol, port)


@SETTINGS
@given(layered_worlds())
def test_kinds_a_cni_does_not_enforce_change_nothing(world: list[dict[str, Any]]) -> None:
    plain = [o for o in world if not o["apiVersion"].startswith("policy.networking.k8s.io/")]
    profile = engine_profile("calico")
    with_kinds = {f.key: f.ports for f in compute_matrix(Engine(inventory(world), profile))}
    without = {f.key: f.ports for f in compute_matrix(Engine(inventory(plain), profile))}
    assert with_kinds == without
