"""AdminNetworkPolicy, BaselineAdminNetworkPolicy and ClusterNetworkPolicy: the model, and the
engine's Admin → NetworkPolicy → Baseline layers per CNI (policy-kinds §3–§6, §9.3, §9.4, §10)."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import lint_paths, run_cli
from nplint.cluster.profiles import UPSTREAM, engine_profile
from nplint.engine.engine import Engine
from nplint.engine.matrix import compute_matrix
from nplint.engine.verdict import ALLOWED, DENIED, explain
from nplint.loading import iter_manifests, load_text
from nplint.model import Direction, Inventory, build_inventory
from nplint.model.admin import Action, AdminPolicy, PeerKind, Tier

PODS = """\
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {team: shop}}
---
apiVersion: v1
kind: Namespace
metadata: {name: other}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web}}
spec: {containers: [{name: w, image: w, ports: [{name: http, containerPort: 8080}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: other, labels: {app: client}}
spec: {containers: [{name: c, image: c}]}
"""

ANP = """\
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata:
  name: guard
spec:
  priority: {priority}
  subject:
    namespaces:
      matchLabels: {{team: shop}}
  ingress:
  - name: pass-http
    action: Pass
    from:
    - namespaces: {{}}
    ports:
    - portNumber: {{port: 8080}}
  - name: deny-rest
    action: Deny
    from:
    - namespaces: {{}}
"""

BANP_DENY_OTHER = """\
apiVersion: policy.networking.k8s.io/v1alpha1
kind: BaselineAdminNetworkPolicy
metadata:
  name: default
spec:
  subject:
    namespaces: {}
  ingress:
  - action: Deny
    from:
    - pods:
        namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: other}}
        podSelector: {}
"""

NP_ALLOW_OTHER = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: shop}
spec:
  podSelector: {}
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: other}}
"""


def inventory(*texts: str) -> Inventory:
    loaded = load_text("all.yaml", "---\n".join(texts))
    return build_inventory(list(iter_manifests(loaded)))


def flows(engine: Engine) -> list[tuple[str, str, str]]:
    return sorted((f.source.key, f.destination.key, f.ports.describe()) for f in compute_matrix(engine))


def verdict(inv: Inventory, cni: str | None, port: int | None = 8080) -> tuple[bool, list[str]]:
    engine = Engine(inv, engine_profile(cni))
    topology = engine.topology
    found = explain(
        engine, topology.resolve("other/client"), topology.resolve("shop/web"), "TCP" if port else None, port
    )
    return found.allowed, found.reasons()


# -- model ----------------------------------------------------------------------------------


def test_anp_is_built_with_defaults_and_positions() -> None:
    inv = inventory(ANP.format(priority=10))
    (policy,) = inv.admin_policies
    assert isinstance(policy, AdminPolicy)
    assert (policy.kind, policy.name, policy.tier, policy.priority) == (
        "AdminNetworkPolicy",
        "guard",
        Tier.ADMIN,
        10,
    )
    assert policy.namespace == "" and not policy.problems
    first, second = policy.ingress
    assert (first.name, first.action, first.node.span.line) == ("pass-http", Action.PASS, 11)
    assert first.peers[0].kind is PeerKind.NAMESPACES and first.peers[0].node.span.line == 14
    (port,) = first.ports or ()
    assert (port.protocol, port.start, port.end) == ("TCP", 8080, 8080)  # protocol defaulted (§3.2)
    assert second.action is Action.DENY and second.ports is None
    assert policy.egress == ()
    assert inv.policies == []


def test_cnp_v1alpha2_spelling_and_tiers() -> None:
    inv = inventory(
        """\
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: base}
spec:
  tier: Baseline
  priority: 5
  subject:
    pods:
      podSelector: {matchLabels: {app: web}}
  egress:
  - action: Accept
    to:
    - networks: [10.0.0.0/8]
    protocols:
    - udp: {destinationPort: {number: 53}}
    - tcp: {destinationPort: {range: {start: 1000, end: 2000}}}
"""
    )
    (policy,) = inv.admin_policies
    assert (policy.tier, policy.priority, policy.title) == (
        Tier.BASELINE,
        5,
        "ClusterNetworkPolicy (Baseline tier)",
    )
    assert policy.subject_pods is not None and policy.subject_namespaces is not None
    assert policy.subject_namespaces.is_empty  # v1alpha2: an omitted namespaceSelector is every namespace
    (rule,) = policy.egress
    assert rule.action is Action.ALLOW
    assert [(p.protocol, p.start, p.end) for p in rule.ports or ()] == [("UDP", 53, 53), ("TCP", 1000, 2000)]
    assert str(rule.peers[0].networks[0][1]) == "10.0.0.0/8"
    assert not policy.problems


@pytest.mark.parametrize(
    ("api_version", "kind"),
    [
        ("policy.networking.k8s.io/v1alpha2", "AdminNetworkPolicy"),
        ("policy.networking.k8s.io/v1alpha1", "ClusterNetworkPolicy"),
        ("crd.antrea.io/v1beta1", "ClusterNetworkPolicy"),
        ("projectcalico.org/v3", "NetworkPolicy"),
    ],
)
def test_dispatch_on_api_version_and_kind(api_version: str, kind: str) -> None:
    inv = inventory(
        f"apiVersion: {api_version}\nkind: {kind}\nmetadata: {{name: x, namespace: shop}}\nspec: {{}}\n"
    )
    assert inv.admin_policies == [] and inv.policies == []


def problems(text: str) -> list[tuple[int, str]]:
    (policy,) = inventory(text).admin_policies
    return [(node.span.line, message) for node, message in policy.problems]


def test_schema_problems_v1alpha1() -> None:
    text = """\
apiVersion: policy.networking.k8s.io/v1alpha1
kind: BaselineAdminNetworkPolicy
metadata:
  name: baseline
spec:
  subject:
    namespaces: {}
    pods: {podSelector: {}}
  ingress:
  - action: Pass
    from:
    - networks: [10.0.0.0/8]
  egress:
  - action: Allow
    to:
    - pods: {podSelector: {}}
    ports:
    - portNumber: {port: 0, protocol: TCP}
    - portNumber: {port: 53, protocol: ICMP}
"""
    assert problems(text) == [
        (4, "a BaselineAdminNetworkPolicy must be named `default` (there is one per cluster)"),
        (7, "`subject` must set exactly one of `namespaces` and `pods`"),
        (10, "`action` must be one of `Allow`, `Deny`"),
        (12, "an ingress peer of a BaselineAdminNetworkPolicy may be `namespaces`, `pods`"),
        (16, "`pods` needs a `namespaceSelector` in v1alpha1 (`{}` for every namespace)"),
        (18, "`port` is required, from 1 to 65535"),
        (19, "`protocol` must be `TCP`, `UDP` or `SCTP`"),
    ]


def test_schema_problems_v1alpha2() -> None:
    text = """\
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: c}
spec:
  priority: 1001
  subject: {namespaces: {}}
  egress:
  - action: Allow
    to:
    - domainNames: ["*.example.com"]
    ports:
    - portNumber: {port: 443}
    protocols:
    - tcp: {}
    - udp: {destinationPort: {range: {start: 60, end: 50}}}
"""
    assert problems(text) == [
        (5, "`tier` is required and must be `Admin` or `Baseline`"),
        (5, "`priority` must be from 0 to 1000"),
        (8, "`action` must be one of `Accept`, `Deny`, `Pass` (v1alpha2 spells it `Accept`)"),
        (11, "v1alpha2 has no `ports`: write `protocols`"),
        (14, "`tcp` needs `destinationPort` (`number`, or `range` 1-65535 for every port)"),
        (15, "`range` needs `start` < `end`, each from 1 to 65535"),
    ]


# -- engine: layers per CNI ----------------------------------------------------------------


def test_admin_deny_decides_before_network_policy_on_ovn_kubernetes() -> None:
    # ANP deny-rest beats the NetworkPolicy that allows everything from `other` (§6, §9.3).
    inv = inventory(PODS, ANP.format(priority=10), NP_ALLOW_OTHER)
    allowed, reasons = verdict(inv, "ovn-kubernetes", port=9090)
    assert not allowed
    assert reasons[1] == (
        "ingress of shop/web[Pod]: AdminNetworkPolicy guard (all.yaml:22) ingress rule 1 'deny-rest' "
        "(all.yaml:35), from peer 0 (all.yaml:38): denies TCP 9090"
    )
    # Pass hands 8080 to the NetworkPolicy, which allows it.
    allowed, reasons = verdict(inv, "ovn-kubernetes")
    assert allowed
    assert reasons[1].startswith(
        "ingress of shop/web[Pod]: AdminNetworkPolicy guard (all.yaml:22) ingress rule 0 'pass-http' "
        "(all.yaml:29), from peer 0 (all.yaml:32): passes on TCP 8080; then NetworkPolicy decides TCP 8080: "
        "isolated by NetworkPolicy shop/web (all.yaml:42); allowed by NetworkPolicy shop/web ingress rule 0"
    )


def test_pass_reaches_baseline_when_no_network_policy_isolates() -> None:
    inv = inventory(PODS, ANP.format(priority=10), BANP_DENY_OTHER)
    allowed, reasons = verdict(inv, "ovn-kubernetes")
    assert not allowed
    assert reasons[1].endswith(
        "passes on TCP 8080; no NetworkPolicy selects it for Ingress; "
        "then BaselineAdminNetworkPolicy default (all.yaml:43) ingress rule 0 (all.yaml:48), "
        "from peer 0 (all.yaml:50): denies TCP 8080"
    )


def test_network_policy_replaces_the_baseline() -> None:
    # A NetworkPolicy that isolates the pod decides; the BANP deny is never reached (§4).
    inv = inventory(PODS, BANP_DENY_OTHER, NP_ALLOW_OTHER)
    assert verdict(inv, "ovn-kubernetes")[0]
    assert not verdict(inventory(PODS, BANP_DENY_OTHER), "ovn-kubernetes")[0]


def test_ovn_kubernetes_refuses_priority_above_99() -> None:
    inv = inventory(PODS, ANP.format(priority=100))
    allowed, reasons = verdict(inv, "ovn-kubernetes", port=9090)
    assert allowed
    assert reasons[2] == (
        "AdminNetworkPolicy guard (all.yaml:22) selects an end but decides nothing: OVN-Kubernetes "
        "refuses an AdminNetworkPolicy priority above 99 and enforces nothing of it"
    )
    assert not verdict(inv, "antrea", port=9090)[0]


@pytest.mark.parametrize("cni", ["calico", "cilium", "flannel", "weave"])
def test_cnis_without_these_kinds_evaluate_network_policy_alone(cni: str) -> None:
    plain = inventory(PODS, NP_ALLOW_OTHER)
    mixed = inventory(PODS, ANP.format(priority=10), BANP_DENY_OTHER, NP_ALLOW_OTHER)
    profile = engine_profile(cni)
    assert flows(Engine(mixed, profile)) == flows(Engine(plain, profile))


def test_cluster_network_policy_tiers() -> None:
    cnp = """\
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {{name: {name}}}
spec:
  tier: {tier}
  priority: {priority}
  subject: {{namespaces: {{}}}}
  ingress:
  - action: {action}
    from: [{{namespaces: {{}}}}]
"""
    admin_pass = cnp.format(name="a", tier="Admin", priority=1, action="Pass")
    baseline_deny = cnp.format(name="b", tier="Baseline", priority=1, action="Deny")
    baseline_pass = cnp.format(name="c", tier="Baseline", priority=0, action="Pass")
    # Admin Pass → no NetworkPolicy → Baseline Deny (§5.4).
    assert not verdict(inventory(PODS, admin_pass, baseline_deny), "antrea")[0]
    # A Baseline Pass ends the tier: default allow.
    assert verdict(inventory(PODS, admin_pass, baseline_pass, baseline_deny), "antrea")[0]
    # OVN-Kubernetes does not implement v1alpha2 (§9.3).
    assert verdict(inventory(PODS, baseline_deny), "ovn-kubernetes")[0]
    assert not verdict(inventory(PODS, baseline_deny), None)[0]


def test_admin_allow_overrides_network_policy_isolation() -> None:
    allow = """\
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: monitoring}
spec:
  priority: 1
  subject: {namespaces: {}}
  ingress:
  - action: Allow
    from: [{pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: client}}}}]
    ports: [{portRange: {start: 9000, end: 9100, protocol: TCP}}]
"""
    deny_all = (
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
        "metadata: {name: deny, namespace: shop}\nspec: {podSelector: {}}\n"
    )
    inv = inventory(PODS, allow, deny_all)
    engine = Engine(inv, UPSTREAM)
    client, web = engine.topology.resolve("other/client"), engine.topology.resolve("shop/web")
    assert engine.connections(client.classes[0], web.classes[0]).describe() == "TCP 9000-9100"
    found = explain(engine, client, web, "TCP", 9050)
    assert found.allowed and found.ingress.status == ALLOWED
    assert explain(engine, client, web, "TCP", 8080).ingress.status == DENIED
    assert engine.is_isolated(web.classes[0], Direction.INGRESS)


def test_named_port_resolves_on_the_destination() -> None:
    named = """\
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: named}
spec:
  priority: 1
  subject: {namespaces: {matchLabels: {team: shop}}}
  ingress:
  - action: Allow
    from: [{namespaces: {}}]
    ports: [{namedPort: http}]
  - action: Deny
    from: [{namespaces: {}}]
"""
    engine = Engine(inventory(PODS, named), UPSTREAM)
    client, web = engine.topology.resolve("other/client"), engine.topology.resolve("shop/web")
    assert engine.connections(client.classes[0], web.classes[0]).describe() == "TCP 8080"


def test_egress_networks_cut_outside_ranges_and_decide_them() -> None:
    egress = """\
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: egress}
spec:
  priority: 1
  subject: {namespaces: {matchLabels: {team: shop}}}
  egress:
  - action: Deny
    to: [{networks: [203.0.113.0/24]}]
"""
    found = {
        (source, destination) for source, destination, _ in flows(Engine(inventory(PODS, egress), UPSTREAM))
    }
    assert ("shop/web[Pod]", "203.0.113.0/24") not in found
    assert ("other/client[Pod]", "203.0.113.0/24") in found
    assert ("shop/web[Pod]", "0.0.0.0-203.0.112.255") in found


PROBES = """\
- {from: other/client, to: shop/web, port: 8080, expect: allow}
- {from: other/client, to: shop/web, port: 9090, expect: deny}
"""


@pytest.mark.parametrize(("cni", "failing"), [("ovn-kubernetes", []), ("calico", [2])])
def test_probes_judge_through_the_layers(tmp_path: Path, cni: str, failing: list[int]) -> None:
    # NP801 uses the same verdicts: on OVN-Kubernetes the ANP denies 9090; Calico enforces no ANP here.
    (tmp_path / "all.yaml").write_text("---\n".join((PODS, ANP.format(priority=10))), encoding="utf-8")
    (tmp_path / "probes.yaml").write_text(PROBES, encoding="utf-8")
    result = lint_paths(["."], root=tmp_path, select=["NP801"], extra={"expect": "probes.yaml", "cni": cni})
    assert [(f.path, f.span.line) for f in result.findings] == [("probes.yaml", line) for line in failing]


BANP_DEFAULT_DENY = """\
apiVersion: policy.networking.k8s.io/v1alpha1
kind: BaselineAdminNetworkPolicy
metadata:
  name: default
spec:
  subject: {namespaces: {}}
  ingress:
  - {name: deny-all, action: Deny, from: [{namespaces: {}}]}
"""


@pytest.mark.parametrize(
    ("cni", "reported"), [("ovn-kubernetes", False), ("antrea", False), ("cilium", True)]
)
def test_default_deny_of_a_baseline_policy_counts_where_enforced(
    tmp_path: Path, cni: str, reported: bool
) -> None:
    (tmp_path / "all.yaml").write_text("---\n".join((PODS, BANP_DEFAULT_DENY)), encoding="utf-8")
    result = lint_paths(["."], root=tmp_path, select=["NP101"], extra={"cni": cni})
    shop = [f for f in result.findings if "'shop'" in f.message]
    assert bool(shop) is reported
    if reported:
        assert shop[0].detail.endswith(
            " BaselineAdminNetworkPolicy default (all.yaml:22) rule 0 'deny-all' would deny it all, "
            "but Cilium does not enforce BaselineAdminNetworkPolicy."
        )


def test_a_failed_probe_points_at_the_deciding_admin_rule(tmp_path: Path) -> None:
    (tmp_path / "all.yaml").write_text("---\n".join((PODS, ANP.format(priority=10))), encoding="utf-8")
    (tmp_path / "probes.yaml").write_text(
        "- {from: other/client, to: shop/web, port: 9090, expect: allow}\n", encoding="utf-8"
    )
    result = lint_paths(["."], root=tmp_path, select=["NP801"], extra={"expect": "probes.yaml"})
    (finding,) = result.findings
    assert [(r.path, r.span.line, r.message) for r in finding.related] == [
        ("all.yaml", 35, "ingress rule 1 of AdminNetworkPolicy guard")
    ]


def test_diff_shows_what_an_admin_policy_closes(tmp_path: Path) -> None:
    base, head = tmp_path / "base", tmp_path / "head"
    base.mkdir()
    head.mkdir()
    (base / "pods.yaml").write_text(PODS, encoding="utf-8")
    (head / "pods.yaml").write_text(PODS, encoding="utf-8")
    (head / "anp.yaml").write_text(ANP.format(priority=10), encoding="utf-8")
    code, out = run_cli(["diff", f"{base}/", f"{head}/", "--cni", "ovn-kubernetes"])
    assert code == 0
    assert "  ~ other/client[Pod] -> shop/web[Pod]: now TCP 8080; was All Connections" in out
    code, out = run_cli(["diff", f"{base}/", f"{head}/", "--cni", "calico"])
    assert "Flows changed (0):" in out
