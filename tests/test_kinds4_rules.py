"""NP108 beyond its fixtures: headlines as a user sees them, CNIs, and what stays quiet."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from helpers import FIXTURES, lint_paths


def _findings(tmp_path: Path, fixture: Path, rule_id: str, **extra: object) -> list[tuple[int, int, str]]:
    shutil.copyfile(fixture, tmp_path / fixture.name)
    result = lint_paths([fixture.name], root=tmp_path, select=[rule_id], extra=dict(extra))
    assert not result.failures, result.failures
    return [(f.span.line, f.span.column, f.message) for f in result.findings]


NP108_BAD = FIXTURES / "NP108" / "bad"


def test_np108_headlines(tmp_path: Path) -> None:
    assert _findings(tmp_path, NP108_BAD / "egress-drops-dns.yaml", "NP108") == [
        (
            34,
            5,
            "Egress isolation drops baseline default rule 0 'dns' (line 22) for shop/web: "
            "TCP 53,UDP 53 to kube-system/coredns",
        )
    ]
    assert _findings(tmp_path, NP108_BAD / "ingress-drops-scrape.yaml", "NP108") == [
        (
            34,
            3,
            "Ingress isolation drops baseline scrape rule 0 'prometheus' (line 24) for shop/frontend: "
            "TCP 9113 from monitoring/prometheus",
        ),
        (
            42,
            3,
            "Ingress isolation drops baseline scrape rule 0 'prometheus' (line 24) for shop/api: "
            "TCP 9090 from monitoring/prometheus",
        ),
    ]


def test_np108_names_the_lost_rule_and_the_other_isolating_policies(tmp_path: Path) -> None:
    fixture = NP108_BAD / "ingress-drops-scrape.yaml"
    shutil.copyfile(fixture, tmp_path / fixture.name)
    result = lint_paths([fixture.name], root=tmp_path, select=["NP108"])
    api = result.findings[1]
    assert [(r.span.line, r.message) for r in api.related] == [
        (24, "the lost ClusterNetworkPolicy (Baseline tier) rule 0 'prometheus'"),
        (32, "NetworkPolicy shop/default-deny isolates these pods too"),
    ]
    assert "ClusterNetworkPolicy (Baseline tier) scrape" in api.detail
    assert "pitfall K09" in api.detail


@pytest.mark.parametrize(
    ("cni", "reported"),
    [
        ("ovn-kubernetes", True),
        ("antrea", True),
        ("kube-network-policies", True),
        ("cilium", False),
        ("calico", False),
        ("flannel", False),
    ],
)
def test_np108_only_where_the_cni_enforces_the_baseline(tmp_path: Path, cni: str, reported: bool) -> None:
    found = _findings(tmp_path, NP108_BAD / "egress-drops-dns.yaml", "NP108", cni=cni)
    assert bool(found) is reported


def test_np108_cluster_network_policy_baseline_ignored_by_ovn_kubernetes(tmp_path: Path) -> None:
    # OVN-Kubernetes enforces no ClusterNetworkPolicy (policy-kinds §9.3): nothing is lost there.
    fixture = NP108_BAD / "ingress-drops-scrape.yaml"
    assert _findings(tmp_path, fixture, "NP108", cni="ovn-kubernetes") == []
    assert len(_findings(tmp_path, fixture, "NP108", cni="antrea")) == 2


def test_np108_quiet_when_the_baseline_allow_is_kept_for_the_ports_it_gave(tmp_path: Path) -> None:
    text = (NP108_BAD / "egress-drops-dns.yaml").read_text(encoding="utf-8")
    # The policy allows UDP 53 to the DNS pods itself: only TCP 53 is lost.
    kept = text.replace(
        "  - to: [{podSelector: {matchLabels: {app: db}}}]\n",
        "  - to: [{namespaceSelector: {}, podSelector: {matchLabels: {k8s-app: kube-dns}}}]\n"
        "    ports: [{port: 53, protocol: UDP}]\n"
        "  - to: [{podSelector: {matchLabels: {app: db}}}]\n",
    )
    (tmp_path / "p.yaml").write_text(kept, encoding="utf-8")
    result = lint_paths(["p.yaml"], root=tmp_path, select=["NP108"])
    assert [f.message.split(": ")[1] for f in result.findings] == ["TCP 53 to kube-system/coredns"]


NP503_BAD = FIXTURES / "NP503" / "bad"


def test_np503_headlines(tmp_path: Path) -> None:
    assert _findings(tmp_path, NP503_BAD / "admin-deny-internet.yaml", "NP503") == [
        (
            19,
            9,
            "`networks` 0.0.0.0/0 holds every pod address: this Deny blocks pod-to-pod egress too; "
            "decide pods first",
        ),
        (
            30,
            22,
            "`networks` 0.0.0.0/0 holds every pod address: this Accept opens pod-to-pod egress past "
            "any NetworkPolicy; decide pods first",
        ),
    ]
    calico = {"cni": "calico", "cluster": {"pod-cidr": "10.42.0.0/16"}}
    assert _findings(tmp_path, NP503_BAD / "calico-nets.yaml", "NP503", **calico) == [
        (
            18,
            14,
            "`destination.nets` 0.0.0.0/0 minus `notNets` holds the pod range 10.42.0.0/16: "
            "this Allow opens pod-to-pod egress; add it to `notNets`",
        ),
        (
            32,
            9,
            "`source.nets` 10.0.0.0/8 holds the pod range 10.42.0.0/16: this Deny blocks pod-to-pod "
            "ingress too; add the pod range to `notNets`",
        ),
    ]


def test_np503_a_known_pod_range_outside_the_rule_is_quiet(tmp_path: Path) -> None:
    calico = {"cni": "calico", "cluster": {"pod-cidr": "100.64.0.0/16"}}
    # 0.0.0.0/0 minus notNets still holds 100.64.0.0/16; 10.0.0.0/8 does not.
    assert [
        line for line, _, _ in _findings(tmp_path, NP503_BAD / "calico-nets.yaml", "NP503", **calico)
    ] == [18]


@pytest.mark.parametrize(
    ("cni", "count"), [("ovn-kubernetes", 1), ("antrea", 2), ("cilium", 0), ("flannel", 0)]
)
def test_np503_only_where_the_kind_is_enforced_and_addresses_match_pods(
    tmp_path: Path, cni: str, count: int
) -> None:
    # OVN-Kubernetes enforces the AdminNetworkPolicy, not the ClusterNetworkPolicy; Cilium neither,
    # and its CIDR rules never match pods; flannel enforces no policy.
    assert len(_findings(tmp_path, NP503_BAD / "admin-deny-internet.yaml", "NP503", cni=cni)) == count


def test_np503_detail_says_where_the_pod_range_comes_from(tmp_path: Path) -> None:
    fixture = NP503_BAD / "admin-deny-internet.yaml"
    shutil.copyfile(fixture, tmp_path / fixture.name)
    unknown = lint_paths([fixture.name], root=tmp_path, select=["NP503"]).findings[0]
    assert "The pod range is not known (set `cluster.pod-cidr`" in unknown.detail
    known = lint_paths(
        [fixture.name], root=tmp_path, select=["NP503"], extra={"cluster": {"pod-cidr": "10.244.0.0/16"}}
    ).findings[0]
    assert known.message.startswith("`networks` 0.0.0.0/0 holds the pod range 10.244.0.0/16: this Deny")
    assert "The pod range: 10.244.0.0/16 (cluster.pod-cidr of the configuration)." in known.detail


NP710_BAD = FIXTURES / "NP710" / "bad" / "deny-before-allow.yaml"
CALICO = {"cni": "calico"}


def test_np710_headlines(tmp_path: Path) -> None:
    shadowed = "this Allow is never reached: the Deny of {} ({}, line {}) decides all of it first; "
    tail = "give this policy a lower order"
    assert _findings(tmp_path, NP710_BAD, "NP710", **CALICO) == [
        (28, 13, shadowed.format("no-internet", "order 100", 15) + tail),
        (34, 13, shadowed.format("no-scanners", "order 10", 46) + tail),
        (58, 13, shadowed.format("no-scanners", "order 10", 46) + tail),
    ]


def test_np710_names_the_deny_and_the_tier(tmp_path: Path) -> None:
    shutil.copyfile(NP710_BAD, tmp_path / NP710_BAD.name)
    result = lint_paths([NP710_BAD.name], root=tmp_path, select=["NP710"], extra=CALICO)
    first = result.findings[0]
    assert [(r.span.line, r.message) for r in first.related] == [
        (15, "the Deny of GlobalNetworkPolicy no-internet")
    ]
    assert "are both in tier default" in first.detail
    assert "egress rule 0 matches everything that egress rule 0 here allows" in first.detail


def _calico(tmp_path: Path, text: str) -> list[int]:
    (tmp_path / "p.yaml").write_text(text, encoding="utf-8")
    result = lint_paths(["p.yaml"], root=tmp_path, select=["NP710"], extra=CALICO)
    assert not result.failures
    return [f.span.line for f in result.findings]


def test_np710_follows_the_order(tmp_path: Path) -> None:
    text = NP710_BAD.read_text(encoding="utf-8")
    # payments now runs first (order 50 < 100): only scanner-metrics stays shadowed, and
    # payments' ingress Allow (order 50 > 10) too.
    assert _calico(tmp_path, text.replace("  order: 200\n", "  order: 50\n")) == [34, 58]
    # Without order no-scanners runs after payments (order 200), whose ingress Allow of the
    # scanners now decides first, for scanner-metrics' pods too: no Deny shadows anything there.
    assert _calico(tmp_path, text.replace("  order: 10\n", "")) == [28]


def test_np710_an_earlier_allow_of_the_deny_policy_decides_instead(tmp_path: Path) -> None:
    text = NP710_BAD.read_text(encoding="utf-8").replace(
        "  egress:\n  - action: Deny\n",
        "  egress:\n  - action: Allow\n    destination:\n      nets: [203.0.113.0/24]\n  - action: Deny\n",
    )
    # Three lines more above the two Allows of the scanners.
    assert _calico(tmp_path, text) == [37, 61]


def test_np710_a_wider_allow_is_not_shadowed(tmp_path: Path) -> None:
    text = NP710_BAD.read_text(encoding="utf-8").replace(
        "      selector: role == 'scanner'\n    destination:\n      ports: [9090]\n",
        "      selector: role == 'scanner' || role == 'prober'\n    destination:\n      ports: [9090]\n",
    )
    assert _calico(tmp_path, text) == [28, 34]
