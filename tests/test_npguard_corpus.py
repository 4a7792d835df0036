"""The engine against np-guard's expected connectivity (../shared/corpus/np-guard, see its FORMAT.md).

Included: every case of plain Kubernetes objects (``category: k8s``) and every
case with AdminNetworkPolicy/BaselineAdminNetworkPolicy (``category: anp-banp``,
evaluated through the engine's Admin and Baseline layers, :mod:`nplint.engine.layers`): the
``connlist`` and ``exposure`` outputs, whose workload-to-workload lines must be
exactly what nplint computes (with the case's focus options applied), and the
pod-by-pod maps. Lines with external address ranges and ``{ingress-controller}``
are not compared: np-guard cuts ranges only from policy blocks and models
Ingress/Route objects, which are not NetworkPolicy semantics.

Two documented differences of np-guard are applied to nplint's side:

* an ipBlock never matches a pod (FORMAT.md) — the engine runs with
  ``ipblock_matches_pods=False``;
* np-guard selects and isolates host-network pods like any other, where
  networkpolicy-semantics §2.10 (and nplint) treats them as node traffic that
  policies neither select nor isolate — the compared inventories mark no pod
  host-network.

Excluded, with the reason (see :data:`EXCLUDED`): ``multinetwork`` cases hold
UserDefinedNetworks, NetworkAttachmentDefinitions and MultiNetworkPolicies, which
are not NetworkPolicy semantics.

Several anp-banp inputs omit a ``pods`` peer's ``podSelector`` or (v1alpha1)
``namespaceSelector``, which the CRD requires (NP006 reports it); np-guard reads
an omitted selector as empty, and so does the engine, which evaluates what a
manifest says as the NetworkPolicy engine does.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from nplint.cluster.profiles import UPSTREAM
from nplint.engine.engine import Engine
from nplint.engine.matrix import Matrix, compute_matrix
from nplint.engine.portsets import ALL_PORTS
from nplint.loading import Manifest, iter_manifests, load_text
from nplint.model import Inventory, build_inventory

CORPUS = Path(__file__).parents[2] / "shared" / "corpus" / "np-guard"
CASES_FILE = CORPUS / "cases.json"
#: np-guard's semantics: an ipBlock never selects a pod; the Admin and Baseline layers as upstream.
NP_GUARD = dataclasses.replace(UPSTREAM, title="np-guard", ipblock_matches_pods=False)

EXCLUDED = {
    "multinetwork": "inputs hold UDN/NAD/MultiNetworkPolicy objects: not plain Kubernetes semantics",
}
WORKLOAD = re.compile(r"\S+/\S+\[\w+\]\Z")

pytestmark = pytest.mark.skipif(
    not CASES_FILE.is_file(), reason=f"the np-guard corpus is not available at {CORPUS} (needs ../shared)"
)


def _records() -> list[dict[str, Any]]:
    if not CASES_FILE.is_file():
        return []
    records: list[dict[str, Any]] = json.loads(CASES_FILE.read_text(encoding="utf-8"))
    return records


RECORDS = _records()
INCLUDED = [r for r in RECORDS if r["category"] not in EXCLUDED]


@cache
def _inventory(case_dir: str) -> Inventory:
    manifests: list[Manifest] = []
    for path in sorted((CORPUS / case_dir).rglob("*")):
        if path.suffix.lower() not in (".yaml", ".yml", ".json") or not path.is_file():
            continue
        loaded = load_text(
            path.name, path.read_text(encoding="utf-8"), is_json=path.suffix.lower() == ".json"
        )
        assert not [d for d in loaded.documents if d.failed], f"{path} does not load"
        manifests.extend(iter_manifests(loaded))
    inventory = build_inventory(manifests)
    inventory.workloads = [dataclasses.replace(w, host_network=False) for w in inventory.workloads]
    return inventory


@cache
def _engine(case_dir: str) -> Engine:
    return Engine(_inventory(case_dir), NP_GUARD)


@cache
def _matrix(case_dir: str) -> Matrix:
    return compute_matrix(_engine(case_dir))


def _expected_pairs(text: str, by_port: bool) -> set[tuple[str, str, str | None]]:
    text = text.split("Exposure Analysis Result")[0]
    pairs: set[tuple[str, str, str | None]] = set()
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("Permitted connections"):
            continue
        pair, _, connections = line.partition(" : ")
        source, destination = (part.strip() for part in pair.split("=>"))
        if not (WORKLOAD.match(source) and WORKLOAD.match(destination)):
            continue
        if "[External]" in source + destination:
            continue
        pairs.add((source, destination, None if by_port else connections))
    return pairs


def _names(endpoint: str, names: list[str]) -> bool:
    namespaced = endpoint.split("[", 1)[0]
    return any(n == namespaced or n == namespaced.split("/", 1)[1] for n in names)


def _in_focus(record: dict[str, Any], source: str, destination: str) -> bool:
    focus = record["focus_workloads"]
    if not focus:
        return True
    peers = record["focus_workload_peers"]
    direction = record["focus_direction"]
    egress = (
        direction in ("", "egress") and _names(source, focus) and (not peers or _names(destination, peers))
    )
    ingress = (
        direction in ("", "ingress") and _names(destination, focus) and (not peers or _names(source, peers))
    )
    return egress or ingress


def _computed_pairs(record: dict[str, Any]) -> Iterator[tuple[str, str, str | None]]:
    connection = record["focus_conn"]
    for flow in _matrix(record["case_dir"]):
        source, destination = flow.source.key, flow.destination.key
        if flow.source.is_external or flow.destination.is_external or source == destination:
            continue  # np-guard lists no workload with itself
        if not _in_focus(record, source, destination):
            continue
        if connection:
            protocol, port = connection.split("-")
            if flow.ports.contains(protocol.upper(), int(port)):
                yield source, destination, None
        else:
            yield source, destination, flow.ports.describe()


def _pod_map(record: dict[str, Any]) -> list[str]:
    engine = _engine(record["case_dir"])
    pods = sorted(
        ((w, cls.index) for cls in engine.classes for w in cls.workloads if w.kind == "Pod"),
        key=lambda item: (item[0].namespace, item[0].name),
    )
    lines = []
    for source, source_class in pods:
        for destination, destination_class in pods:
            ports = (
                ALL_PORTS if source is destination else engine.connections(source_class, destination_class)
            )
            if record["output"] == "podmap-bool":
                answer = "true" if ports.contains(record["protocol"], record["port"]) else "false"
            else:
                answer = ports.describe()
            lines.append(
                f"src: {source.namespace}/{source.name}, dest: {destination.namespace}/{destination.name}, "
                f"allowed conns: {answer}"
            )
    return lines


def _id(record: dict[str, Any]) -> str:
    return Path(record["expected"]).name.removesuffix(".txt")


@pytest.mark.parametrize("record", INCLUDED, ids=[_id(r) for r in INCLUDED])
def test_np_guard_case(record: dict[str, Any]) -> None:
    expected_text = (CORPUS / record["expected"]).read_text(encoding="utf-8")
    if record["output"].startswith("podmap"):
        assert _pod_map(record) == sorted(line for line in expected_text.splitlines() if line.strip())
        return
    expected = _expected_pairs(expected_text, by_port=bool(record["focus_conn"]))
    computed = set(_computed_pairs(record))
    assert computed == expected, (
        f"only nplint: {sorted(computed - expected)[:10]}\nonly np-guard: {sorted(expected - computed)[:10]}"
    )


def test_included_and_excluded_counts() -> None:
    """The corpus split this test runs on: a change in the corpus should be looked at."""
    excluded = [r for r in RECORDS if r["category"] in EXCLUDED]
    assert len(RECORDS) == len(INCLUDED) + len(excluded)
    assert {r["category"] for r in INCLUDED} == {"k8s", "anp-banp"}
    assert sum(1 for r in INCLUDED if r["category"] == "k8s") == 133
    assert sum(1 for r in INCLUDED if r["category"] == "anp-banp") == 78
    assert {c: sum(1 for r in excluded if r["category"] == c) for c in EXCLUDED} == {"multinetwork": 40}
