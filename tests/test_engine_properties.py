"""Properties of the engine over random inventories (hypothesis).

* Adding a policy that selects no pod changes nothing.
* Adding a policy to pods that are already isolated (in the directions it
  isolates) only adds allows.
* A probe's verdict is the AND of its two one-sided verdicts, and agrees with the
  matrix.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nplint.engine.engine import Engine
from nplint.engine.matrix import compute_matrix
from nplint.engine.portsets import PortSet
from nplint.engine.verdict import explain
from nplint.loading import iter_manifests, load_text
from nplint.model import Direction, Inventory, build_inventory

NAMESPACES = ("a", "b", "c")
KEYS = ("app", "tier")
VALUES = ("x", "y", "z")
PORT_NUMBERS = (53, 80, 443, 8080)
PORT_NAMES = ("http", "dns")

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

labels = st.dictionaries(st.sampled_from(KEYS), st.sampled_from(VALUES), max_size=2)


@st.composite
def selectors(draw: st.DrawFn) -> dict[str, Any]:
    selector: dict[str, Any] = {}
    match = draw(st.dictionaries(st.sampled_from(KEYS), st.sampled_from(VALUES), max_size=1))
    if match:
        selector["matchLabels"] = match
    if draw(st.booleans()):
        operator = draw(st.sampled_from(["In", "NotIn", "Exists", "DoesNotExist"]))
        expression: dict[str, Any] = {"key": draw(st.sampled_from(KEYS)), "operator": operator}
        if operator in ("In", "NotIn"):
            expression["values"] = draw(
                st.lists(st.sampled_from(VALUES), min_size=1, max_size=2, unique=True)
            )
        selector["matchExpressions"] = [expression]
    return selector


@st.composite
def peers(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["pod", "namespace", "both", "ipBlock"]))
    if kind == "ipBlock":
        block: dict[str, Any] = {"cidr": draw(st.sampled_from(["0.0.0.0/0", "10.0.0.0/8", "203.0.113.0/24"]))}
        if block["cidr"] == "0.0.0.0/0" and draw(st.booleans()):
            block["except"] = ["10.0.0.0/8"]
        return {"ipBlock": block}
    peer: dict[str, Any] = {}
    if kind in ("pod", "both"):
        peer["podSelector"] = draw(selectors())
    if kind in ("namespace", "both"):
        peer["namespaceSelector"] = draw(selectors())
    return peer


@st.composite
def port_entries(draw: st.DrawFn) -> dict[str, Any]:
    entry: dict[str, Any] = {}
    if draw(st.booleans()):
        entry["protocol"] = draw(st.sampled_from(["TCP", "UDP"]))
    choice = draw(st.sampled_from(["number", "range", "name", "none"]))
    if choice == "number":
        entry["port"] = draw(st.sampled_from(PORT_NUMBERS))
    elif choice == "range":
        entry["port"], entry["endPort"] = 80, 443
    elif choice == "name":
        entry["port"] = draw(st.sampled_from(PORT_NAMES))
    return entry


@st.composite
def rules(draw: st.DrawFn, peers_key: str) -> dict[str, Any]:
    rule: dict[str, Any] = {}
    if draw(st.booleans()):
        rule[peers_key] = draw(st.lists(peers(), min_size=1, max_size=2))
    if draw(st.booleans()):
        rule["ports"] = draw(st.lists(port_entries(), min_size=1, max_size=2))
    return rule


@st.composite
def policies(
    draw: st.DrawFn, namespace: str | None = None, pod_selector: dict[str, Any] | None = None
) -> dict[str, Any]:
    spec: dict[str, Any] = {"podSelector": pod_selector if pod_selector is not None else draw(selectors())}
    types = draw(st.sampled_from([None, ["Ingress"], ["Egress"], ["Ingress", "Egress"]]))
    if types is not None:
        spec["policyTypes"] = types
    if draw(st.booleans()):
        spec["ingress"] = draw(st.lists(rules("from"), max_size=2))
    if draw(st.booleans()):
        spec["egress"] = draw(st.lists(rules("to"), max_size=2))
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {
            "name": f"p{draw(st.integers(0, 10**6))}",
            "namespace": namespace or draw(st.sampled_from(NAMESPACES)),
        },
        "spec": spec,
    }


@st.composite
def pods(draw: st.DrawFn, index: int) -> dict[str, Any]:
    ports = draw(
        st.lists(
            st.tuples(
                st.sampled_from(PORT_NAMES), st.sampled_from(PORT_NUMBERS), st.sampled_from(["TCP", "UDP"])
            ),
            max_size=2,
        )
    )
    pod: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"pod{index}",
            "namespace": draw(st.sampled_from(NAMESPACES)),
            "labels": draw(labels),
        },
        "spec": {
            "hostNetwork": draw(st.booleans()) and draw(st.booleans()),
            "containers": [
                {
                    "name": "c",
                    "image": "i",
                    "ports": [{"name": n, "containerPort": p, "protocol": t} for n, p, t in ports],
                }
            ],
        },
    }
    if draw(st.booleans()):
        pod["status"] = {"podIP": f"10.0.0.{index + 1}"}
    return pod


@st.composite
def worlds(draw: st.DrawFn) -> list[dict[str, Any]]:
    count = draw(st.integers(1, 5))
    objects = [draw(pods(i)) for i in range(count)]
    objects += [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n, "labels": draw(labels)}}
        for n in NAMESPACES
    ]
    objects += draw(st.lists(policies(), max_size=4))
    return objects


def inventory(objects: list[dict[str, Any]]) -> Inventory:
    text = "\n---\n".join(json.dumps(o) for o in objects)
    return build_inventory(iter_manifests(load_text("world.yaml", text)))


def compared(
    first: list[dict[str, Any]], second: list[dict[str, Any]]
) -> tuple[dict[tuple[str, str], PortSet], dict[tuple[str, str], PortSet]]:
    """Both worlds' flows, with external addresses cut at the same boundaries (as ``nplint diff`` does)."""
    engines = [Engine(inventory(first)), Engine(inventory(second))]
    networks = [n for e in engines for d in (Direction.INGRESS, Direction.EGRESS) for n in e.ip_blocks(d)]
    a, b = ({f.key: f.ports for f in compute_matrix(e, extra_networks=networks)} for e in engines)
    return a, b


@SETTINGS
@given(worlds(), policies(pod_selector={"matchLabels": {"nobody": "has-this"}}))
def test_a_policy_selecting_no_pod_changes_nothing(
    world: list[dict[str, Any]], policy: dict[str, Any]
) -> None:
    before, after = compared(world, [*world, policy])
    assert after == before


@SETTINGS
@given(worlds(), st.sampled_from(NAMESPACES), st.data())
def test_allows_only_grow_on_isolated_pods(
    world: list[dict[str, Any]], namespace: str, data: st.DataObject
) -> None:
    deny_all = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "deny-all", "namespace": namespace},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
    }
    extra = data.draw(policies(namespace=namespace))
    before, after = compared([*world, deny_all], [*world, deny_all, extra])
    for key, ports in before.items():
        assert key in after and (ports - after[key]).is_empty, f"{key}: {ports} shrank to {after.get(key)}"


@SETTINGS
@given(worlds(), st.data())
def test_verdict_is_the_and_of_both_sides(world: list[dict[str, Any]], data: st.DataObject) -> None:
    engine = Engine(inventory(world))
    endpoints = engine.topology.endpoints
    source = data.draw(st.sampled_from(endpoints))
    destination = data.draw(st.sampled_from([*endpoints, engine.topology.resolve("203.0.113.7")]))
    protocol = data.draw(st.sampled_from(["TCP", "UDP"]))
    port = data.draw(st.sampled_from(PORT_NUMBERS))
    verdict = explain(engine, source, destination, protocol, port)
    assert verdict.allowed == (verdict.egress.allowed and verdict.ingress.allowed)
    if source.key == destination.key and source.is_bare_pod:
        assert verdict.allowed
        return
    matrix = compute_matrix(engine)
    if not source.is_external:
        focused = {f.key: f.ports for f in compute_matrix(engine, focus=[source])}
        touching = {f.key: f.ports for f in matrix if source.key in (f.source.key, f.destination.key)}
        assert focused == touching, "a focused matrix is the full matrix cut down, nothing else"
    allowed_ports = PortSet()
    for flow in matrix:
        if flow.source.key != source.key:
            continue
        address = flow.destination.address
        if flow.destination.key == destination.key or (
            address is not None
            and destination.address is not None
            and address.first <= destination.address.first <= address.last
        ):
            allowed_ports = allowed_ports | flow.ports
    assert verdict.allowed == allowed_ports.contains(protocol, port)
