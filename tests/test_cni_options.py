"""CNI switches: ``cni-options:`` (top level and per cluster) and the CNI's own ConfigMaps —
Antrea's feature gates ``AdminNetworkPolicy`` / ``ClusterNetworkPolicy`` (policy-kinds §9.4) and
Cilium's ``policy-enforcement-mode`` (§8.9, K40). The configuration wins over the repository."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from helpers import lint_paths, run_cli
from nplint.cluster.cni import detect_cni
from nplint.cluster.cni_version import CNISwitches
from nplint.config import build_config
from nplint.engine.engine import Engine
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
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: w, image: w, ports: [{containerPort: 8080}]}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: client, namespace: other}
spec:
  selector: {matchLabels: {app: client}}
  template:
    metadata: {labels: {app: client}}
    spec: {containers: [{name: c, image: c}]}
"""

ANP_DENY = """\
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: block-other}
spec:
  priority: 10
  subject: {namespaces: {matchLabels: {team: shop}}}
  ingress:
  - name: deny-other
    action: Deny
    from: [{namespaces: {}}]
"""

CNP_DENY = """\
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: block-other}
spec:
  tier: Admin
  priority: 10
  subject: {namespaces: {matchLabels: {team: shop}}}
  ingress:
  - name: deny-other
    action: Deny
    from: [{namespaces: {}}]
"""


def antrea_config(controller: str | None, agent: str | None = None) -> str:
    data = ""
    for name, text in (("antrea-controller.conf", controller), ("antrea-agent.conf", agent)):
        if text is not None:
            body = "".join(f"    {line}\n" for line in text.splitlines())
            data += f"  {name}: |\n{body}"
    return (
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: antrea-config, namespace: kube-system}\n"
        f"data:\n{data}"
    )


def inventory(*texts: str) -> Inventory:
    loaded = load_text("all.yaml", "---\n".join(texts))
    return build_inventory(list(iter_manifests(loaded)))


def config(**data: Any) -> Any:
    return build_config({k.replace("_", "-"): v for k, v in data.items()}, source=None, root=Path("/"))


def verdict(inv: Inventory, conf: Any) -> tuple[bool, list[str]]:
    from nplint.cluster.view import cluster_view

    view = cluster_view(inv, conf)
    engine = Engine.of_view(inv, view)
    topology = engine.topology
    found = explain(engine, topology.resolve("other/client"), topology.resolve("shop/web"), "TCP", 8080)
    return found.allowed, found.reasons()


def gates(**on: bool) -> dict[str, Any]:
    return {"antrea": {"feature-gates": on}}


# -- the configuration ---------------------------------------------------------------------


def test_cni_options_are_read_top_level_and_per_cluster() -> None:
    built = config(
        cni_options={**gates(AdminNetworkPolicy=True), "cilium": {"policy-enforcement-mode": "always"}},
        clusters={"east": {"paths": ["*"], "cni-options": gates(ClusterNetworkPolicy=False)}},
    )
    assert built.cni_options == CNISwitches((("AdminNetworkPolicy", True),), "always")
    assert built.clusters[0].cni_options == CNISwitches((("ClusterNetworkPolicy", False),), None)


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / ".git").mkdir()
    (tmp_path / "app.yaml").write_text(PODS)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "cni-options:\n  cilium: {policy-enforcement-mode: strict}\n",
            "key 'cni-options.cilium.policy-enforcement-mode': 'strict' is not one of default, always, never",
        ),
        (
            "cni-options:\n  antrea: {feature-gates: {AdminNetworkPolicies: true}}\n",
            "key 'cni-options.antrea.feature-gates.AdminNetworkPolicies': unknown key "
            "(did you mean 'AdminNetworkPolicy'?)",
        ),
        (
            "cni-options:\n  antrea: {feature-gates: {AdminNetworkPolicy: 'yes'}}\n",
            "is not of type 'boolean'",
        ),
        (
            "clusters:\n  east: {paths: ['*'], cni-options: {weave: {}}}\n",
            "key 'clusters.east.cni-options.weave': unknown key",
        ),
    ],
)
def test_bad_cni_options_stop_the_run_naming_the_key(
    repo: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    (repo / ".nplint.yaml").write_text(text)
    assert run_cli(["."])[0] == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


# -- Antrea's feature gates ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("conf", "texts", "enforced"),
    [
        # Not known: taken as on, as a repository that ships the kind for Antrea means it.
        ({}, (), True),
        ({"cni_options": gates(AdminNetworkPolicy=True)}, (), True),
        ({"cni_options": gates(AdminNetworkPolicy=False)}, (), False),
        # The controller's file without the gate: its default, off (§9.4).
        ({}, (antrea_config("featureGates:\n  Traceflow: true\n"),), False),
        ({}, (antrea_config("featureGates:\n  AdminNetworkPolicy: true\n"),), True),
        # The agent's file alone says nothing of a gate it leaves out.
        ({}, (antrea_config(None, "featureGates:\n  Egress: true\n"),), True),
        ({}, (antrea_config(None, "featureGates:\n  AdminNetworkPolicy: false\n"),), False),
        # The configuration wins over the repository's ConfigMap.
        ({"cni_options": gates(AdminNetworkPolicy=True)}, (antrea_config("featureGates: {}\n"),), True),
    ],
)
def test_antrea_enforces_admin_network_policy_with_its_gate_on(
    conf: dict[str, Any], texts: tuple[str, ...], enforced: bool
) -> None:
    inv = inventory(PODS, ANP_DENY, *texts)
    allowed, reasons = verdict(inv, config(cni="antrea", **conf))
    assert allowed is not enforced, reasons


def test_antrea_cluster_network_policy_follows_its_own_gate() -> None:
    inv = inventory(PODS, CNP_DENY)
    assert not verdict(inv, config(cni="antrea", cni_options=gates(AdminNetworkPolicy=False)))[0]
    allowed, reasons = verdict(inv, config(cni="antrea", cni_options=gates(ClusterNetworkPolicy=False)))
    assert allowed
    assert reasons[-1].startswith(
        "ClusterNetworkPolicy (Admin tier) block-other (all.yaml:29) selects an end but decides nothing: "
        "Antrea enforces ClusterNetworkPolicy only with its feature gate ClusterNetworkPolicy on, "
        "and it is off"
    )


def np604(tmp_path: Path, extra: dict[str, Any], *texts: str) -> list[tuple[str, int, int, str]]:
    (tmp_path / "p.yaml").write_text("---\n".join(texts))
    result = lint_paths(["p.yaml"], root=tmp_path, select=["NP604"], extra=extra)
    return [(f.rule_id, f.span.line, f.span.column, f.message) for f in result.findings]


def test_np604_says_enable_the_gate(tmp_path: Path) -> None:
    extra = {"cni": "antrea", "cni-options": gates(AdminNetworkPolicy=False)}
    assert np604(tmp_path, extra, ANP_DENY) == [
        (
            "NP604",
            2,
            7,
            "AdminNetworkPolicy block-other decides nothing: "
            "Antrea's feature gate AdminNetworkPolicy is off; enable the gate",
        )
    ]
    result = lint_paths(["p.yaml"], root=tmp_path, select=["NP604"], extra=extra)
    assert "enable the gate (`featureGates: {AdminNetworkPolicy: true}` in antrea-config" in (
        result.findings[0].detail
    )
    assert (
        "Antrea feature gate AdminNetworkPolicy: off (declared: `cni-options:`)" in result.findings[0].detail
    )


def test_np604_reads_the_gate_from_the_repository(tmp_path: Path) -> None:
    texts = (antrea_config("featureGates:\n  ClusterNetworkPolicy: false\n"), ANP_DENY, CNP_DENY)
    found = np604(tmp_path, {}, *texts)
    # Both gates off: the controller's file sets one and leaves the other at its default.
    assert [(line, message.split(":")[0]) for _, line, _, message in found] == [
        (10, "AdminNetworkPolicy block-other decides nothing"),
        (21, "ClusterNetworkPolicy block-other decides nothing"),
    ]


def test_np604_is_silent_while_the_gate_is_not_known(tmp_path: Path) -> None:
    assert np604(tmp_path, {"cni": "antrea"}, ANP_DENY, CNP_DENY) == []
    assert np604(tmp_path, {"cni": "antrea", "cni-options": gates(AdminNetworkPolicy=True)}, ANP_DENY) == []


# -- Cilium's enforcement mode ------------------------------------------------------------------

CILIUM_CONFIG = """\
apiVersion: v1
kind: ConfigMap
metadata: {{name: cilium-config, namespace: kube-system}}
data:
  enable-policy: {mode}
"""


@pytest.mark.parametrize(
    ("conf", "texts", "allowed"),
    [
        ({}, (), True),
        ({"cni_options": {"cilium": {"policy-enforcement-mode": "default"}}}, (), True),
        ({"cni_options": {"cilium": {"policy-enforcement-mode": "always"}}}, (), False),
        ({}, (CILIUM_CONFIG.format(mode="always"),), False),
        ({}, (CILIUM_CONFIG.format(mode="default"),), True),
        # The configuration wins over the repository's ConfigMap.
        (
            {"cni_options": {"cilium": {"policy-enforcement-mode": "default"}}},
            (CILIUM_CONFIG.format(mode="always"),),
            True,
        ),
    ],
)
def test_cilium_always_mode_denies_what_no_rule_allows(
    conf: dict[str, Any], texts: tuple[str, ...], allowed: bool
) -> None:
    inv = inventory(PODS, *texts)
    found, reasons = verdict(inv, config(cni="cilium", **conf))
    assert found is allowed, reasons
    if not allowed:
        assert "default deny through Cilium's policy-enforcement-mode `always`" in reasons[0]


CILIUM_ALLOW = """\
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: web-from-other, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: web}}
  ingress:
  - fromEndpoints: [{matchLabels: {k8s:io.kubernetes.pod.namespace: other}}]
  egress:
  - {}
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: client-out, namespace: other}
spec:
  endpointSelector: {}
  egress:
  - toEntities: [cluster]
"""


def test_cilium_always_mode_keeps_what_rules_allow() -> None:
    inv = inventory(PODS, CILIUM_ALLOW)
    conf = config(cni="cilium", cni_options={"cilium": {"policy-enforcement-mode": "always"}})
    assert verdict(inv, conf)[0]


def test_cilium_never_mode_enforces_nothing() -> None:
    deny = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: d, namespace: shop}\n"
    deny += "spec: {podSelector: {}, policyTypes: [Ingress]}\n"
    inv = inventory(PODS, deny)
    assert not verdict(inv, config(cni="cilium"))[0]
    assert verdict(inv, config(cni="cilium", cni_options={"cilium": {"policy-enforcement-mode": "never"}}))[0]
    detection = detect_cni(
        inv, config(cni="cilium", cni_options={"cilium": {"policy-enforcement-mode": "never"}})
    )
    assert detection.enforces is False


def test_always_mode_is_a_default_deny_for_np101_and_np102(tmp_path: Path) -> None:
    (tmp_path / "app.yaml").write_text(PODS)
    found = lint_paths(["app.yaml"], root=tmp_path, select=["NP101", "NP102"], extra={"cni": "cilium"})
    assert sorted({f.rule_id for f in found.findings}) == ["NP101", "NP102"]
    extra = {"cni": "cilium", "cni-options": {"cilium": {"policy-enforcement-mode": "always"}}}
    assert lint_paths(["app.yaml"], root=tmp_path, select=["NP101", "NP102"], extra=extra).findings == []


# -- which source decided ----------------------------------------------------------------------


def test_worlds_says_which_source_decided_each_switch(repo: Path) -> None:
    (repo / "antrea.yaml").write_text(antrea_config("featureGates:\n  ClusterNetworkPolicy: true\n"))
    (repo / ".nplint.yaml").write_text(
        "cni-options:\n  antrea: {feature-gates: {AdminNetworkPolicy: true}}\n"
    )
    code, out = run_cli(["worlds", "."])
    assert code == 0
    assert "    cni switch: Antrea feature gate AdminNetworkPolicy: on (declared: `cni-options:`)\n" in out
    assert (
        "    cni switch: Antrea feature gate ClusterNetworkPolicy: on "
        "(detected: ConfigMap kube-system/antrea-config configures Antrea (antrea.yaml:3))\n"
    ) in out
    code, out = run_cli(["worlds", "--format", "json", "."])
    world = json.loads(out)["worlds"][0]
    assert world["cni_switches"] == [
        {"switch": "Antrea feature gate AdminNetworkPolicy: on", "source": "declared: `cni-options:`"},
        {
            "switch": "Antrea feature gate ClusterNetworkPolicy: on",
            "source": "detected: ConfigMap kube-system/antrea-config configures Antrea (antrea.yaml:3)",
        },
    ]


def test_each_cluster_has_its_own_switches(tmp_path: Path) -> None:
    for name in ("east", "west"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "app.yaml").write_text(PODS + "---\n" + ANP_DENY)
    data = {
        "cni": "antrea",
        "clusters": {
            "east": {"paths": ["east/*"], "cni-options": gates(AdminNetworkPolicy=False)},
            "west": {"paths": ["west/*"]},
        },
    }
    result = lint_paths(["."], root=tmp_path, select=["NP604"], extra=data)
    assert [(f.path, f.span.line) for f in result.findings] == [("east/app.yaml", 28)]
    built = build_config(data, source=None, root=tmp_path)
    assert built.clusters[0].cni_options == CNISwitches((("AdminNetworkPolicy", False),))


def test_never_from_the_configuration_is_named_in_np601(tmp_path: Path) -> None:
    (tmp_path / "np.yaml").write_text(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: d, namespace: a}\n"
        "spec: {podSelector: {}}\n"
    )
    extra = {"cni": "cilium", "cni-options": {"cilium": {"policy-enforcement-mode": "never"}}}
    result = lint_paths(["np.yaml"], root=tmp_path, select=["NP601"], extra=extra)
    assert [(f.rule_id, f.span.line, f.message) for f in result.findings] == [
        (
            "NP601",
            3,
            "NetworkPolicy is not enforced: the configuration declares `cni: cilium`, and Cilium with "
            "`policy-enforcement-mode: never` enforces none",
        )
    ]


def test_never_from_the_configuration_on_a_detected_cilium_is_reported_by_np601(tmp_path: Path) -> None:
    # Cilium shown by its agent's image, switched off by the configuration alone.
    (tmp_path / "cilium.yaml").write_text(
        "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: cilium, namespace: kube-system}\n"
        "spec:\n  selector: {matchLabels: {k8s-app: cilium}}\n  template:\n"
        "    metadata: {labels: {k8s-app: cilium}}\n"
        "    spec: {containers: [{name: cilium-agent, image: 'quay.io/cilium/cilium:v1.17.1'}]}\n"
    )
    (tmp_path / "np.yaml").write_text(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: d, namespace: a}\n"
        "spec: {podSelector: {}}\n"
    )
    extra = {"cni-options": {"cilium": {"policy-enforcement-mode": "never"}}}
    result = lint_paths(["."], root=tmp_path, select=["NP601"], extra=extra)
    assert [(f.rule_id, f.path, f.span.line, f.message) for f in result.findings] == [
        (
            "NP601",
            "np.yaml",
            3,
            "NetworkPolicy is not enforced: Cilium with `policy-enforcement-mode: never` (the "
            "configuration's `cni-options`) enforces none",
        )
    ]
    assert not lint_paths(["."], root=tmp_path, select=["NP601"]).findings
