"""One cluster view: every rule, the engine and `reach` agree on the CNI; an unknown one is a usage error."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from helpers import FIXTURES, lint_paths, run_cli
from nplint.cluster.view import UnknownCNIError, check_cni, cluster_view
from nplint.config import build_config
from nplint.engine.engine import engine_for

CILIUM = FIXTURES / "cluster-view" / "cilium"
FINDING = re.compile(r"^(\S+):(\d+):(\d+): (NP\d{3}) ")

#: With the Cilium DaemonSet of the tree deciding the CNI. NP106, NP303, NP705 and
#: NP801 (and NP301, NP602) hold only because Cilium never lets an ipBlock select a
#: pod and ignores SCTP rules; under Calico semantics none of them is reported.
UNDER_CILIUM = [
    ("apps.yaml", 3, 18, "NP101"),
    ("apps.yaml", 3, 18, "NP102"),
    ("policies.yaml", 9, 17, "NP301"),
    ("policies.yaml", 11, 10, "NP106"),
    ("policies.yaml", 13, 27, "NP502"),
    ("policies.yaml", 23, 27, "NP303"),
    ("policies.yaml", 44, 53, "NP602"),
    ("policies.yaml", 45, 5, "NP705"),
    ("policies.yaml", 46, 53, "NP602"),
    ("probes.yaml", 1, 3, "NP801"),
]
UNDER_CALICO = [
    ("apps.yaml", 3, 18, "NP101"),
    ("apps.yaml", 3, 18, "NP102"),
    ("policies.yaml", 13, 27, "NP502"),
]


@pytest.fixture
def cilium_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    tree = tmp_path / "cilium"
    shutil.copytree(CILIUM, tree)
    monkeypatch.chdir(tree)
    return tree


def _findings(output: str) -> list[tuple[str, int, int, str]]:
    found = []
    for line in output.splitlines():
        match = FINDING.match(line)
        assert match is not None, line
        found.append((match[1], int(match[2]), int(match[3]), match[4]))
    return found


def test_every_rule_follows_the_detected_cilium(cilium_tree: Path) -> None:
    code, out = run_cli(["check", ".", "--quiet", "--no-color"])
    assert code == 1
    assert _findings(out) == UNDER_CILIUM
    lines = {f[3]: line for f, line in zip(_findings(out), out.splitlines(), strict=True)}
    assert lines["NP602"].endswith(
        "this port is SCTP, but Cilium enforces SCTP rules only with its beta SCTP support turned on"
    )
    assert "DNS is allowed only to the DNS Service IP 10.96.0.10" in lines["NP303"]
    assert "this ingress rule 1 (line 45) adds nothing that ingress rule 0 (line 43)" in lines["NP705"]
    assert lines["NP801"] == (
        "probes.yaml:1:3: NP801 [connectivity-expectation-failed] expected shop/web -> shop/api on TCP 80 "
        "to be allowed, but it is denied"
    )
    # The why of each is its detail, which the JSON carries (and --verbose shows).
    _, report = run_cli(["check", ".", "--format", "json"])
    details = {f["rule"]: f["detail"] for f in json.loads(report)["findings"]}
    assert "Cilium, the detected CNI, enforces SCTP rules only" in details["NP602"]
    assert "DNS from Deployment shop/web is allowed only through this ipBlock" in details["NP303"]
    assert "Cilium never lets an ipBlock (CIDR rule) select a cluster pod" in details["NP801"]


def test_a_declared_cni_wins_over_the_detected_one_everywhere(cilium_tree: Path) -> None:
    code, out = run_cli(["check", ".", "--quiet", "--no-color", "--cni", "calico"])
    assert code == 1
    assert _findings(out) == UNDER_CALICO


@pytest.mark.parametrize(("extra", "verdict"), [([], "denied"), (["--cni", "calico"], "allowed")])
def test_reach_agrees_with_the_rules(cilium_tree: Path, extra: list[str], verdict: str) -> None:
    code, out = run_cli(["reach", ".", "--from", "shop/web", "--to", "shop/api", "--port", "80", *extra])
    assert code == 0
    assert out.splitlines()[0] == f"shop/web[Deployment] -> shop/api[Deployment] on TCP 80: {verdict}"
    assert ("Cilium never lets an ipBlock" in out) is (verdict == "denied")


def test_the_view_is_decided_once_and_the_engine_reads_it(cilium_tree: Path) -> None:
    config = build_config({}, source=None, root=cilium_tree)
    result = lint_paths(["."], root=cilium_tree, select=["NP106"])
    view = cluster_view(result.inventory, config)
    assert view is cluster_view(result.inventory, config)
    assert (view.cni, view.source, view.profile.name, view.ipblock_matches_pods) == (
        "cilium",
        "detected",
        "cilium",
        False,
    )
    assert engine_for(result.inventory, config).profile is view.profile
    declared = build_config({"cni": "calico"}, source=None, root=cilium_tree)
    calico = cluster_view(result.inventory, declared)
    assert (calico.cni, calico.source, calico.profile.name) == ("calico", "declared", "calico")
    assert engine_for(result.inventory, declared).profile is calico.profile


UNKNOWN = (
    "nplint: error: `--cni cilum` is not a CNI nplint knows; did you mean cilium? "
    "(`nplint explain NP603` describes them)\n"
)


@pytest.mark.parametrize(
    "argv",
    [
        ["check", "."],
        ["reach", "."],
        ["reach", ".", "--from", "shop/web", "--to", "shop/api"],
        ["diff", "./", "./"],
    ],
)
def test_an_unknown_cni_is_a_usage_error_in_every_command(
    cilium_tree: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    code, out = run_cli([*argv, "--cni", "cilum"])
    assert (code, out) == (2, "")
    assert capsys.readouterr().err == UNKNOWN


@pytest.mark.parametrize("command", ["check", "reach"])
def test_an_unknown_cni_in_the_configuration_is_a_usage_error(
    cilium_tree: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    (cilium_tree / ".nplint.yaml").write_text('cni: "bogus\\e[2J"\n', encoding="utf-8")
    code, out = run_cli([command, "."])
    assert (code, out) == (2, "")
    assert capsys.readouterr().err == (
        "nplint: error: `cni: bogus\\x1b[2J` is not a CNI nplint knows; use one of: antrea, aws-vpc-cni, "
        "azure-npm, azure-npm-windows, calico, canal, cilium, flannel, gke-dataplane-v2, k3s, kindnet, "
        "kube-network-policies, kube-router, none, openshift-sdn, ovn-kubernetes, weave "
        "(`nplint explain NP603` describes them)\n"
    )


def test_check_cni_accepts_every_profile_name_and_alias() -> None:
    for name in (None, "upstream", "Cilium", "aws", "kind", "kube-network-policies"):
        check_cni(name)
    with pytest.raises(
        UnknownCNIError, match=r"^`--cni calic` is not a CNI nplint knows; did you mean calico, canal\?"
    ):
        check_cni("calic", option="--cni")


@pytest.mark.parametrize(
    ("cni", "headline"),
    [
        ("romana", "`cni: romana` is not a CNI nplint knows: use one of the names `nplint explain NP603`"),
        ("upstream", "`cni: upstream` names no CNI, so enforcement cannot be checked"),
    ],
)
def test_np603_still_explains_a_name_given_in_code(cilium_tree: Path, cni: str, headline: str) -> None:
    # The commands stop at an unknown name; a configuration built in code reaches the rules.
    result = lint_paths(["."], root=cilium_tree, select=["NP603", "NP106"], extra={"cni": cni})
    assert [(f.rule_id, f.path, f.span.line) for f in result.findings] == [("NP603", "policies.yaml", 6)]
    assert result.findings[0].message.startswith(headline)


def test_a_views_key_follows_the_cluster_facts_not_the_objects_holding_them(tmp_path: Path) -> None:
    """view_key keeps the text of each facts object it saw; equal facts give equal keys, others not."""
    from dataclasses import replace

    from nplint.cluster.view import view_key

    first = build_config(
        {"cni": "calico", "cluster": {"pod-cidr": "10.0.0.0/16"}}, source=None, root=tmp_path
    )
    same = build_config({"cni": "calico", "cluster": {"pod-cidr": "10.0.0.0/16"}}, source=None, root=tmp_path)
    other = build_config(
        {"cni": "calico", "cluster": {"pod-cidr": "10.1.0.0/16"}}, source=None, root=tmp_path
    )
    assert first.cluster is not same.cluster
    assert view_key(first) == view_key(same) == view_key(first)
    assert view_key(other) != view_key(first)
    # A config given other facts (a world's) is keyed by those, however often it was asked before.
    assert view_key(replace(first, cluster=other.cluster)) == view_key(other)
    assert view_key(replace(first, cni="cilium")) != view_key(first)
    assert view_key(replace(first, cni_options=other.cni_options)) == view_key(first)
