"""The Calico layer of the engine (policy-kinds §7.5–§7.8, §9.1): tiers by order, policies by
order then name, first-match rules with Allow/Deny/Pass/Log, the end-of-tier action, Kubernetes
NetworkPolicy in tier ``default`` at order 1000, and the namespace's profile at the end."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import lint_paths, run_cli
from nplint.cluster.profiles import engine_profile
from nplint.engine.engine import Engine
from nplint.engine.matrix import compute_matrix
from nplint.engine.verdict import explain
from nplint.loading import iter_manifests, load_text
from nplint.model import Inventory, build_inventory

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
status: {podIP: 10.1.0.5}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: other, labels: {app: client}}
spec: {containers: [{name: c, image: c}]}
status: {podIP: 10.2.0.7}
"""

# Calico's documented cluster-wide default deny, with DNS let out (its own recommendation).
GNP_DEFAULT_DENY = """\
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: default-deny}
spec:
  selector: projectcalico.org/namespace not in {'kube-system'}
  types: [Ingress, Egress]
  egress:
  - action: Allow
    protocol: UDP
    destination: {ports: [53]}
"""

NP_WEB_8080 = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from: [{namespaceSelector: {}}]
    ports: [{port: 8080}]
"""


def inventory(*texts: str) -> Inventory:
    loaded = load_text("all.yaml", "---\n".join(texts))
    return build_inventory(list(iter_manifests(loaded)))


def verdict(inv: Inventory, cni: str, port: int = 8080, protocol: str = "TCP") -> tuple[bool, list[str]]:
    engine = Engine(inv, engine_profile(cni))
    topology = engine.topology
    found = explain(engine, topology.resolve("other/client"), topology.resolve("shop/web"), protocol, port)
    return found.allowed, found.reasons()


def flows(inv: Inventory, cni: str) -> list[tuple[str, str, str]]:
    engine = Engine(inv, engine_profile(cni))
    return sorted((f.source.key, f.destination.key, f.ports.describe()) for f in compute_matrix(engine))


def test_global_default_deny_closes_both_directions_and_names_the_tier_end() -> None:
    inv = inventory(PODS, GNP_DEFAULT_DENY, NP_WEB_8080)
    allowed, reasons = verdict(inv, "calico")
    assert not allowed
    assert reasons[0] == (
        "egress of other/client[Pod]: no rule of Calico tier default matches TCP 8080 (the tier governs "
        "it through Calico GlobalNetworkPolicy default-deny (all.yaml:23)): its end-of-tier action Deny "
        "denies it"
    )
    # The Kubernetes NetworkPolicy sits at order 1000 in tier default, before the GNP without order.
    assert reasons[1] == (
        "ingress of shop/web[Pod]: NetworkPolicy shop/web (all.yaml:34), in Calico tier default at "
        "order 1000: allows TCP 8080"
    )
    assert flows(inv, "calico") == [
        ("other/client[Pod]", "0.0.0.0/0", "UDP 53"),
        ("shop/web[Pod]", "0.0.0.0/0", "UDP 53"),
    ]


@pytest.mark.parametrize("cni", ["cilium", "flannel", None])
def test_calico_policies_decide_nothing_where_calico_does_not_run(cni: str | None) -> None:
    inv = inventory(PODS, GNP_DEFAULT_DENY, NP_WEB_8080)
    assert flows(inv, cni or "upstream") == flows(inventory(PODS, NP_WEB_8080), cni or "upstream")


ORDERED = """\
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {{name: block, namespace: shop}}
spec:
  {order}
  selector: app == 'web'
  ingress:
  - action: Deny
    protocol: TCP
    destination: {{ports: [8080]}}
"""


def test_a_deny_with_order_below_1000_runs_before_the_kubernetes_policy() -> None:
    inv = inventory(PODS, NP_WEB_8080, ORDERED.format(order="order: 100"))
    allowed, reasons = verdict(inv, "calico")
    assert not allowed
    assert reasons[1] == (
        "ingress of shop/web[Pod]: Calico NetworkPolicy shop/block (all.yaml:32) (tier default, order 100) "
        "ingress rule 0 (all.yaml:37): denies TCP 8080"
    )


def test_a_deny_without_order_runs_after_the_kubernetes_policy() -> None:
    inv = inventory(PODS, NP_WEB_8080, ORDERED.format(order=""))
    allowed, reasons = verdict(inv, "calico")
    assert allowed
    assert "in Calico tier default at order 1000: allows TCP 8080" in reasons[1]
    # What the NetworkPolicy leaves meets the Deny, then the end of tier default.
    assert not verdict(inv, "calico", port=9090)[0]


TIERED = """\
apiVersion: projectcalico.org/v3
kind: Tier
metadata: {{name: security}}
spec: {{order: 50, defaultAction: {action}}}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {{name: security.guard}}
spec:
  tier: security
  selector: app == 'web'
  ingress:
  - action: Log
  - action: Pass
    protocol: TCP
    destination: {{ports: [8080]}}
  - action: Deny
    protocol: TCP
    destination: {{ports: [9090]}}
"""


@pytest.mark.parametrize(("action", "open_7070"), [("Deny", False), ("Pass", True)])
def test_tier_order_pass_and_the_end_of_tier_action(action: str, open_7070: bool) -> None:
    inv = inventory(PODS, TIERED.format(action=action))
    # Pass skips to the next tier: no other tier governs web, so the profile allows it.
    allowed, reasons = verdict(inv, "calico", port=8080)
    assert allowed
    assert reasons[1] == (
        "ingress of shop/web[Pod]: Calico GlobalNetworkPolicy security.guard (all.yaml:28) (tier security, "
        "no order) ingress rule 0 (all.yaml:33): logs (and goes on with) TCP 8080; then Calico "
        "GlobalNetworkPolicy security.guard (all.yaml:28) (tier security, no order) ingress rule 1 "
        "(all.yaml:34): passes on TCP 8080; then no tier decides TCP 8080: the namespace's profile allows it"
    )
    assert not verdict(inv, "calico", port=9090)[0]
    # What no rule matched meets the tier's default action.
    assert verdict(inv, "calico", port=7070)[0] is open_7070


def test_a_pass_reaches_the_kubernetes_policy_in_tier_default() -> None:
    inv = inventory(PODS, TIERED.format(action="Deny"), NP_WEB_8080.replace("8080", "9191"))
    assert not verdict(inv, "calico", port=8080)[0]  # passed on, then tier default ends in Deny
    assert not verdict(inv, "calico", port=9191)[0]  # tier security's end-of-tier Deny comes first


def test_a_policy_in_a_tier_the_repository_lacks_decides_nothing_and_is_noted() -> None:
    missing = TIERED.format(action="Deny").split("---\n", 1)[1]
    allowed, reasons = verdict(inventory(PODS, missing), "calico", port=9090)
    assert allowed
    assert reasons[-1] == (
        "Calico GlobalNetworkPolicy security.guard (all.yaml:23) selects an end but decides nothing: its "
        "Tier security is not in the repository, and Calico refuses a policy whose tier does not exist"
    )


NETS = """\
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: out}
spec:
  selector: app == 'client'
  types: [Egress]
  egress:
  - action: Allow
    destination: {nets: [10.1.0.0/16]}
  - action: Allow
    protocol: TCP
    destination: {selector: "has(app)", ports: [443]}
"""


def test_nets_match_pod_addresses_and_selectors_only_known_resources() -> None:
    inv = inventory(PODS, NETS)
    # The selector rule (TCP 443) matches no outside address: a selector sees known resources only.
    assert [f for f in flows(inv, "calico") if f[0] == "other/client[Pod]"] == [
        ("other/client[Pod]", "10.1.0.0/16", "All Connections"),
        ("other/client[Pod]", "shop/web[Pod]", "All Connections"),
    ]
    inv = inventory(PODS, NETS.replace("10.1.0.0/16", "192.0.2.0/24"))
    assert [f for f in flows(inv, "calico") if f[0] == "other/client[Pod]"] == [
        ("other/client[Pod]", "192.0.2.0/24", "All Connections"),
        ("other/client[Pod]", "shop/web[Pod]", "TCP 443"),
    ]


def test_a_failed_probe_points_at_the_deciding_calico_rule(tmp_path: Path) -> None:
    (tmp_path / "all.yaml").write_text(
        "---\n".join((PODS, NP_WEB_8080, ORDERED.format(order="order: 100"))), encoding="utf-8"
    )
    (tmp_path / "probes.yaml").write_text(
        "- {from: other/client, to: shop/web, port: 8080, expect: allow}\n", encoding="utf-8"
    )
    result = lint_paths(
        ["."], root=tmp_path, select=["NP801"], extra={"expect": "probes.yaml", "cni": "calico"}
    )
    (finding,) = result.findings
    assert [(r.path, r.span.line, r.message) for r in finding.related] == [
        ("all.yaml", 37, "ingress rule 0 of Calico NetworkPolicy block")
    ]


def test_where_calico_does_not_run_the_reasons_say_its_policies_decide_nothing() -> None:
    allowed, reasons = verdict(inventory(PODS, GNP_DEFAULT_DENY), "cilium")
    assert allowed
    assert reasons[-1] == (
        "Calico GlobalNetworkPolicy default-deny (all.yaml:23) selects an end but decides nothing: "
        "Cilium does not enforce Calico policies"
    )


def test_diff_shows_what_a_calico_policy_closes(tmp_path: Path) -> None:
    base, head = tmp_path / "base", tmp_path / "head"
    base.mkdir()
    head.mkdir()
    (base / "pods.yaml").write_text(PODS, encoding="utf-8")
    (head / "pods.yaml").write_text(PODS, encoding="utf-8")
    (head / "calico.yaml").write_text(ORDERED.format(order="order: 100"), encoding="utf-8")
    code, out = run_cli(["diff", f"{base}/", f"{head}/", "--cni", "calico"])
    assert code == 0
    # The Calico policy governs web's ingress: its Deny takes 8080, the end of tier default the rest.
    assert "  - other/client[Pod] -> shop/web[Pod]: All Connections" in out
    code, out = run_cli(["diff", f"{base}/", f"{head}/", "--cni", "cilium"])
    assert "Flows changed (0):" in out


NP106_CASE = """\
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web}}
spec: {containers: [{name: w, image: w}]}
---
apiVersion: v1
kind: Pod
metadata: {name: api, namespace: shop, labels: {app: api}}
spec: {containers: [{name: a, image: a}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: api-in, namespace: shop}
spec:
  podSelector: {matchLabels: {app: api}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: web}}}]
    ports: [{port: 8080}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-out, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Egress]
  egress:
  - to: [{podSelector: {matchLabels: {app: api}}}]
    ports: [{port: 9090}]
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: log, namespace: shop}
spec:
  selector: all()
  ingress:
  - action: Log
"""


@pytest.mark.parametrize(("cni", "lines"), [("calico", [21]), ("cilium", [21, 31])])
def test_one_sided_allow_leaves_sides_a_calico_policy_governs(
    tmp_path: Path, cni: str, lines: list[int]
) -> None:
    # On Calico the Calico policy governs api's ingress: what blocks there is not only NetworkPolicy.
    (tmp_path / "all.yaml").write_text(NP106_CASE, encoding="utf-8")
    result = lint_paths(["."], root=tmp_path, select=["NP106"], extra={"cni": cni})
    assert [f.span.line for f in result.findings] == lines
