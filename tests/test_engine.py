"""The connectivity engine's building blocks: port sets, endpoints, classes, profiles, verdict reasons."""

from __future__ import annotations

import ipaddress
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from nplint.cluster.profiles import UPSTREAM, engine_profile, profile_names
from nplint.config import ClusterFacts
from nplint.engine.endpoints import AddressRange, EndpointError, cut_address_space
from nplint.engine.engine import Engine
from nplint.engine.matrix import compute_matrix
from nplint.engine.portsets import ALL_PORTS, NO_PORTS, PortSet
from nplint.engine.verdict import ALLOWED, DENIED, NOT_ISOLATED, NOT_SUBJECT, explain
from nplint.loading import iter_manifests, load_text
from nplint.model import Inventory, build_inventory

SHOP = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: w, image: w, ports: [{name: http, containerPort: 8080}]}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: db, namespace: shop}
spec:
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: d, image: d, ports: [{name: pg, containerPort: 5432}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: shop, labels: {app: db}}
spec: {containers: [{name: d, image: d, ports: [{name: pg, containerPort: 5432}]}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-ingress, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - from:
    - podSelector: {matchLabels: {app: web}}
    ports: [{port: pg}]
"""


def inventory(text: str, path: str = "shop.yaml") -> Inventory:
    return build_inventory(iter_manifests(load_text(path, text)))


# -- port sets -----------------------------------------------------------------------


def test_portset_merges_and_describes_like_np_guard() -> None:
    ports = PortSet.of({"UDP": [(53, 53)], "TCP": [(80, 80), (81, 90), (8000, 8000)]})
    assert ports.describe() == "TCP 80-90,8000,UDP 53"
    assert ALL_PORTS.describe() == "All Connections"
    assert NO_PORTS.describe() == "No Connections"
    assert ports.contains("TCP", 85) and not ports.contains("UDP", 54)


def test_portset_algebra() -> None:
    tcp = PortSet.protocol("TCP")
    assert (tcp | PortSet.protocol("UDP") | PortSet.protocol("SCTP")).is_everything
    assert (tcp & PortSet.single("TCP", 10, 20)) == PortSet.single("TCP", 10, 20)
    assert (PortSet.single("TCP", 10, 20) & PortSet.single("UDP", 10, 20)).is_empty
    rest = ALL_PORTS - PortSet.single("UDP", 5353)
    assert rest.describe() == "SCTP 1-65535,TCP 1-65535,UDP 1-5352,5354-65535"
    assert PortSet.single("TCP", 70000).is_empty, "ports beyond 65535 are clipped away"
    assert PortSet.single("TCP", 80, 90).short() == "TCP 80-90"
    assert PortSet.protocol("UDP").short() == "UDP all"


# -- endpoints -------------------------------------------------------------------------


def test_endpoint_names_kinds_and_near_matches() -> None:
    engine = Engine(inventory(SHOP))
    topology = engine.topology
    assert [e.key for e in topology.endpoints] == [
        "shop/db[Deployment]",
        "shop/db[Pod]",
        "shop/web[Deployment]",
    ]
    assert topology.resolve("shop/web").key == "shop/web[Deployment]"
    assert topology.resolve("shop/Pod/db").key == "shop/db[Pod]"
    assert topology.resolve("shop/db[Deployment]").kind == "Deployment"
    with pytest.raises(EndpointError, match=r"several workloads.*shop/Deployment/db.*shop/Pod/db"):
        topology.resolve("shop/db")
    with pytest.raises(EndpointError, match="did you mean shop/web"):
        topology.resolve("shop/wbe")
    with pytest.raises(EndpointError, match="write NAMESPACE/NAME"):
        topology.resolve("web")
    address = topology.resolve("198.51.100.7")
    assert address.is_external and address.key == "198.51.100.7/32"


def test_identical_pods_share_a_class() -> None:
    engine = Engine(inventory(SHOP))
    # the db Deployment's pods and the db Pod have the same namespace, labels and ports
    assert len(engine.classes) == 2
    db = engine.topology.resolve("shop/Pod/db")
    assert db.classes == engine.topology.resolve("shop/Deployment/db").classes


def test_address_space_cut_at_every_boundary() -> None:
    nets = [ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("10.1.0.0/16")]
    ranges = [str(r) for r in cut_address_space(nets)]
    assert ranges == [
        "0.0.0.0-9.255.255.255",
        "10.0.0.0/16",
        "10.1.0.0/16",
        "10.2.0.0-10.255.255.255",
        "11.0.0.0-255.255.255.255",
    ]
    assert [str(r) for r in cut_address_space([])] == ["0.0.0.0/0"]
    with_v6 = cut_address_space([ipaddress.ip_network("2001:db8::/32")])
    assert {r.version for r in with_v6} == {4, 6}
    assert str(AddressRange.of_address(ipaddress.ip_address("192.0.2.1"))) == "192.0.2.1/32"


# -- verdicts ----------------------------------------------------------------------------


def test_verdict_reasons_name_policy_rule_and_lines() -> None:
    engine = Engine(inventory(SHOP))
    web, db = engine.topology.resolve("shop/web"), engine.topology.resolve("shop/Pod/db")
    verdict = explain(engine, web, db, "TCP", 5432)
    assert verdict.allowed
    assert verdict.egress.status == NOT_ISOLATED
    assert verdict.ingress.status == ALLOWED
    rule = verdict.ingress.allowed_by[0]
    assert (rule.policy.namespace, rule.policy.name, rule.rule) == ("shop", "db-ingress", 0)
    assert rule.policy.path == "shop.yaml" and rule.line == 28 and rule.peer == 0 and rule.peer_line == 29
    text = verdict.reasons()[1]
    assert "NetworkPolicy shop/db-ingress ingress rule 0 (shop.yaml:28), from peer 0 (shop.yaml:29)" in text

    denied = explain(engine, web, db, "TCP", 8080)
    assert not denied.allowed and denied.ingress.status == DENIED
    assert "isolated by NetworkPolicy shop/db-ingress (shop.yaml:24)" in denied.reasons()[1]
    # the named port pg resolves to 5432 at the destination: the near miss says so
    assert "allow only" in denied.reasons()[1] and "TCP 5432" in denied.reasons()[1]

    external = explain(engine, engine.topology.resolve("203.0.113.1"), web, "TCP", 8080)
    assert external.allowed and external.egress.status == NOT_SUBJECT


def test_pair_query_without_port_lists_the_connections() -> None:
    engine = Engine(inventory(SHOP))
    verdict = explain(engine, engine.topology.resolve("shop/web"), engine.topology.resolve("shop/Pod/db"))
    assert verdict.allowed and verdict.connections == PortSet.single("TCP", 5432)


def test_a_bare_pod_reaches_itself() -> None:
    engine = Engine(inventory(SHOP))
    db = engine.topology.resolve("shop/Pod/db")
    assert explain(engine, db, db, "TCP", 1).allowed
    # two replicas of the Deployment are two pods: the policy decides
    deployment = engine.topology.resolve("shop/Deployment/db")
    assert not explain(engine, deployment, deployment, "TCP", 5432).allowed


# -- profiles ---------------------------------------------------------------------------------


def test_profiles_come_from_one_table() -> None:
    assert engine_profile(None) is UPSTREAM
    assert engine_profile("upstream") is UPSTREAM
    cilium = engine_profile("cilium")
    assert not cilium.ipblock_matches_pods and cilium.enforces
    assert engine_profile("azure-cilium").name == "cilium"
    assert engine_profile("calico").ipblock_matches_pods
    assert not engine_profile("flannel").enforces
    assert not engine_profile("azure-npm").end_port
    assert not engine_profile("weave").named_ports
    assert not engine_profile("openshift-sdn").egress
    assert "cilium" in profile_names() and "upstream" in profile_names()
    with pytest.raises(KeyError, match="did you mean cilium"):
        engine_profile("cilum")


def test_pod_cidr_makes_unknown_pod_addresses_provable() -> None:
    text = SHOP + (
        "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
        "metadata: {name: web-in, namespace: shop}\n"
        "spec:\n  podSelector: {matchLabels: {app: web}}\n  ingress:\n"
        "  - from: [{ipBlock: {cidr: 10.0.0.0/8}}]\n"
    )
    inv = inventory(text)
    db, web = "shop/Pod/db", "shop/web"
    without = Engine(inv)
    assert not explain(
        without, without.topology.resolve(db), without.topology.resolve(web), "TCP", 8080
    ).allowed
    facts = ClusterFacts(pod_cidrs=("10.244.0.0/16",))
    provable = Engine(inv, UPSTREAM, facts)
    assert explain(
        provable, provable.topology.resolve(db), provable.topology.resolve(web), "TCP", 8080
    ).allowed
    cilium = Engine(inv, engine_profile("cilium"), facts)
    assert not explain(cilium, cilium.topology.resolve(db), cilium.topology.resolve(web), "TCP", 8080).allowed


# -- the matrix -------------------------------------------------------------------------------


def test_matrix_is_sorted_and_aggregates_classes() -> None:
    engine = Engine(inventory(SHOP))
    matrix = compute_matrix(engine)
    keys = [f.key for f in matrix]
    assert keys == sorted(keys)
    flows = {f.key: f.ports.describe() for f in matrix}
    assert flows[("shop/web[Deployment]", "shop/db[Pod]")] == "TCP 5432"
    assert flows[("shop/web[Deployment]", "shop/db[Deployment]")] == "TCP 5432"
    assert ("shop/db[Pod]", "shop/db[Pod]") not in flows, "a bare pod has no flow to itself"
    assert flows[("shop/web[Deployment]", "shop/web[Deployment]")] == "All Connections"
    assert flows[("0.0.0.0/0", "shop/web[Deployment]")] == "All Connections"
    assert ("0.0.0.0/0", "shop/db[Pod]") not in flows


def test_matrix_filters_by_namespace_and_focus() -> None:
    text = SHOP.replace("namespace: shop", "namespace: shop") + (
        "---\napiVersion: v1\nkind: Pod\nmetadata: {name: x, namespace: other, labels: {app: x}}\n"
        "spec: {containers: [{name: x, image: x}]}\n"
    )
    engine = Engine(inventory(text))
    other = compute_matrix(engine, namespaces=["other"])
    assert all("other/" in f.source.key or "other/" in f.destination.key for f in other)
    assert [e.key for e in other.endpoints if not e.is_external] == ["other/x[Pod]"]
    focus = compute_matrix(engine, focus=[engine.topology.resolve("shop/web")])
    assert focus.flows and all("shop/web" in (f.source.key + f.destination.key) for f in focus)
    full = {f.key: f.ports for f in compute_matrix(engine)}
    assert all(full[f.key] == f.ports for f in focus), "filtering never changes a flow"


def test_unknown_ip_block_except_profile() -> None:
    text = (
        "apiVersion: v1\nkind: Pod\nmetadata: {name: a, namespace: n, labels: {a: a}}\n"
        "spec: {containers: [{name: a, image: a}]}\n---\n"
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, namespace: n}\n"
        "spec:\n  podSelector: {}\n  ingress:\n"
        "  - from: [{ipBlock: {cidr: 0.0.0.0/0, except: [10.0.0.0/8]}}]\n"
    )
    inv = inventory(text)
    source = "203.0.113.1"
    upstream = Engine(inv)
    assert explain(
        upstream, upstream.topology.resolve(source), upstream.topology.resolve("n/a"), "TCP", 1
    ).allowed
    sdn = Engine(inv, replace(UPSTREAM, ipblock_except=False))
    assert not explain(sdn, sdn.topology.resolve(source), sdn.topology.resolve("n/a"), "TCP", 1).allowed


def test_sides_that_allow_nothing_in_common() -> None:
    text = (
        "apiVersion: v1\nkind: Pod\nmetadata: {name: a, namespace: n, labels: {app: a}}\n"
        "spec: {containers: [{name: a, image: a}]}\n---\n"
        "apiVersion: v1\nkind: Pod\nmetadata: {name: b, namespace: n, labels: {app: b}}\n"
        "spec: {containers: [{name: b, image: b}]}\n---\n"
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, namespace: n}\n"
        "spec:\n  podSelector: {}\n  policyTypes: [Ingress, Egress]\n"
        "  egress: [{ports: [{port: 80}]}]\n  ingress: [{ports: [{port: 443}]}]\n"
    )
    engine = Engine(inventory(text))
    verdict = explain(engine, engine.topology.resolve("n/a"), engine.topology.resolve("n/b"))
    assert not verdict.allowed and verdict.egress.allowed and verdict.ingress.allowed
    assert "nothing in common: egress TCP 80, ingress TCP 443" in verdict.reasons()[-1]
    assert compute_matrix(engine).flows == [] or all(
        f.destination.is_external or f.source.is_external for f in compute_matrix(engine)
    )


def test_rules_of_other_kinds_build_no_engine_for_networkpolicies_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """NP108, NP503, NP708, NP709 and the DNS rules' layered check need no engine without those kinds.

    The rules are split over two processes; an engine built for nothing costs the
    process that builds it as much as a rule that needs one.
    """
    from helpers import lint_paths
    from nplint.engine import engine as engine_module

    (tmp_path / "np.yaml").write_text(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: out, namespace: a}\n"
        "spec:\n  podSelector: {}\n  policyTypes: [Egress]\n"
        "  egress: [{to: [{ipBlock: {cidr: 203.0.113.0/24}}], ports: [{port: 443}]}]\n"
        "---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: a}\n"
        "spec:\n  selector: {matchLabels: {app: web}}\n"
        "  template:\n    metadata: {labels: {app: web}}\n    spec: {containers: [{name: c, image: i}]}\n"
    )
    built: list[int] = []
    real_init = engine_module.Engine.__init__

    def counted(self: engine_module.Engine, *args: Any, **kwargs: Any) -> None:
        built.append(1)
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(engine_module.Engine, "__init__", counted)
    for cni in ("calico", "cilium", "ovn-kubernetes"):
        result = lint_paths(
            ["."],
            root=tmp_path,
            select=["NP108", "NP503", "NP708", "NP709", "NP301", "NP302"],
            extra={"cni": cni},
        )
        assert [f.rule_id for f in result.findings] == ["NP301"]
    assert built == []
