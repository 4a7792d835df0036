"""CNI versions: ``cni: NAME@VERSION`` (top level, per cluster, ``--cni``), versions read from
the CNI's images, and the implementation matrix by version (policy-kinds §9.1, §10): which of the
Network Policy API's kinds Calico enforces, in which of its tiers, and Cilium's deny rules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers import FIXTURES, lint_paths, run_cli
from nplint.cluster.cni import detect_cni
from nplint.cluster.cni_version import BadCNIVersion, CNIVersion, parse_release, split_cni
from nplint.cluster.profiles import engine_profile
from nplint.config import build_config
from nplint.engine.engine import Engine
from nplint.engine.verdict import explain
from nplint.loading import iter_manifests, load_text
from nplint.model import Inventory, build_inventory

# -- the declared version --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("calico", ("calico", None)),
        ("calico@3.30", ("calico", CNIVersion(3, 30))),
        ("cilium@v1.17.1", ("cilium", CNIVersion(1, 17, 1))),
        ("antrea@2.7", ("antrea", CNIVersion(2, 7))),
    ],
)
def test_a_declared_cni_splits_into_name_and_version(text: str, expected: tuple[str, object]) -> None:
    assert split_cni(text) == expected


@pytest.mark.parametrize(
    "text", ["calico@", "calico@latest", "calico@3", "calico@3.30.1-rc1", "@3.30", "c@3.x"]
)
def test_a_version_that_is_no_release_is_refused(text: str) -> None:
    with pytest.raises(BadCNIVersion, match=r"MAJOR\.MINOR or MAJOR\.MINOR\.PATCH"):
        split_cni(text)


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("v3.30.2", CNIVersion(3, 30, 2)),
        ("1.17", CNIVersion(1, 17)),
        ("latest", None),
        ("master", None),
        ("v3.30.2-amd64", None),
        ("", None),
    ],
)
def test_only_release_tags_are_versions(tag: str, expected: CNIVersion | None) -> None:
    assert parse_release(tag) == expected


def test_versions_compare_by_release() -> None:
    assert CNIVersion(3, 29, 9) < CNIVersion(3, 30) < CNIVersion(3, 30, 1)
    assert CNIVersion(3, 32).at_least(3, 32) and not CNIVersion(3, 31, 5).at_least(3, 32)
    assert str(CNIVersion(1, 17, 1)) == "1.17.1" and str(CNIVersion(2, 7)) == "2.7"


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / ".git").mkdir()
    (tmp_path / "policy.yaml").write_text(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny, namespace: shop}\n"
        "spec: {podSelector: {}, policyTypes: [Ingress, Egress]}\n"
    )
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_a_bad_version_on_the_command_line_is_a_usage_error(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(["--cni", "calico@latest", "."])[0] == 2
    err = capsys.readouterr().err
    assert "`--cni calico@latest`: the version after `@` must be MAJOR.MINOR or MAJOR.MINOR.PATCH" in err
    assert "such as `calico@3.30`" in err
    assert "Traceback" not in err


def test_a_version_on_upstream_is_refused(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["reach", "--cni", "upstream@1.2", "."])[0] == 2
    assert "`upstream` names no CNI release" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("config", "key"),
    [
        ("cni: cilium@one.seventeen\n", "'cni'"),
        ("clusters:\n  east:\n    paths: ['*']\n    cni: antrea@2\n", "'clusters.east.cni'"),
    ],
)
def test_a_bad_version_in_the_configuration_names_the_key(
    repo: Path, capsys: pytest.CaptureFixture[str], config: str, key: str
) -> None:
    (repo / ".nplint.yaml").write_text(config)
    for command in (["."], ["worlds", "."], ["reach", "."]):
        assert run_cli(command)[0] == 2
        err = capsys.readouterr().err
        assert f".nplint.yaml: key {key}: " in err
        assert "must be MAJOR.MINOR or MAJOR.MINOR.PATCH" in err


def test_a_good_version_runs(repo: Path) -> None:
    (repo / ".nplint.yaml").write_text("cni: calico@3.30\nfail-on: never\n")
    assert run_cli(["."])[0] == 0
    assert run_cli(["--cni", "cilium@1.17", "."])[0] == 0


# -- versions from images ----------------------------------------------------------------------

DAEMONSET = """\
apiVersion: apps/v1
kind: {kind}
metadata: {{name: {name}, namespace: kube-system}}
spec:
  template:
    spec:
      containers:
{containers}
"""


def workload(name: str, *images: str, kind: str = "DaemonSet") -> str:
    containers = "".join(f"      - name: c{i}\n        image: {image}\n" for i, image in enumerate(images))
    return DAEMONSET.format(kind=kind, name=name, containers=containers)


def inventory(*texts: str) -> Inventory:
    loaded = load_text("cni.yaml", "---\n".join(texts))
    return build_inventory(list(iter_manifests(loaded)))


def config(**data: object) -> object:
    return build_config({k.replace("_", "-"): v for k, v in data.items()}, source=None, root=Path("/"))


@pytest.mark.parametrize(
    ("texts", "cni", "version", "image"),
    [
        ((workload("calico-node", "docker.io/calico/node:v3.30.2"),), "calico", "3.30.2", "calico/node"),
        (
            (workload("cilium", "quay.io/cilium/cilium:v1.17.1@sha256:" + "a" * 64),),
            "cilium",
            "1.17.1",
            "quay.io/cilium/cilium:v1.17.1",
        ),
        ((workload("antrea-agent", "antrea/antrea-agent-ubuntu:v2.7.0"),), "antrea", "2.7.0", "antrea-agent"),
        (
            (workload("canal", "calico/node:v3.29.1", "quay.io/coreos/flannel:v0.15.1"),),
            "canal",
            "3.29.1",
            "calico/node:v3.29.1",
        ),
    ],
)
def test_detection_reads_the_version_from_the_cnis_image(
    texts: tuple[str, ...], cni: str, version: str, image: str
) -> None:
    found = detect_cni(inventory(*texts))
    assert (found.cni, str(found.version)) == (cni, version)
    assert found.version_source.startswith("detected: DaemonSet kube-system/")
    assert image in found.version_source and "cni.yaml:3" in found.version_source


@pytest.mark.parametrize(
    "texts",
    [
        (workload("calico-node", "calico/node:latest"),),
        (workload("calico-node", "calico/node:master"),),
        (workload("calico-node", "calico/node@sha256:" + "b" * 64),),
        # The operator's tag is the operator's release, not Calico's.
        (workload("tigera-operator", "quay.io/tigera/operator:v1.36.0", kind="Deployment"),),
        # A cluster mid-upgrade runs two releases: which one decides is not known.
        (
            workload("calico-node", "calico/node:v3.29.0"),
            workload("calico-kube-controllers", "calico/kube-controllers:v3.30.0", kind="Deployment"),
        ),
    ],
)
def test_tags_that_are_not_one_release_leave_the_version_unknown(texts: tuple[str, ...]) -> None:
    found = detect_cni(inventory(*texts))
    assert found.cni == "calico"
    assert found.version is None


def test_the_images_agreeing_on_a_release_give_it() -> None:
    found = detect_cni(
        inventory(
            workload("calico-node", "calico/node:v3.30.2"),
            workload("calico-kube-controllers", "calico/kube-controllers:v3.30.1", kind="Deployment"),
        )
    )
    assert found.version == CNIVersion(3, 30, 2)


def test_the_declared_version_wins_over_the_images() -> None:
    found = detect_cni(inventory(workload("calico-node", "calico/node:v3.30.2")), config(cni="calico@3.32"))
    assert found.version == CNIVersion(3, 32)
    assert found.version_source == "declared: `cni: calico@3.32`"
    # A bare declared name leaves the version to the images.
    found = detect_cni(inventory(workload("calico-node", "calico/node:v3.30.2")), config(cni="calico"))
    assert found.version == CNIVersion(3, 30, 2)


def test_worlds_shows_the_version_and_where_it_came_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "calico.yaml").write_text(workload("calico-node", "calico/node:v3.30.2"))
    monkeypatch.chdir(tmp_path)
    code, out = run_cli(["worlds", "."])
    assert code == 0
    assert (
        "    cni: Calico 3.30.2 (detected: DaemonSet kube-system/calico-node runs Calico "
        "(image calico/node:v3.30.2, calico.yaml:3))\n"
    ) in out
    code, out = run_cli(["worlds", "--format", "json", "--cni", "calico@3.29", "."])
    world = json.loads(out)["worlds"][0]
    assert world["cni_release"] == {
        "name": "calico",
        "version": "3.29",
        "source": "declared: `cni: calico@3.29`",
    }


def test_worlds_shows_each_clusters_declared_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".git").mkdir()
    for name in ("east", "west"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "np.yaml").write_text(
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: d, namespace: a}\n"
            "spec: {podSelector: {}}\n"
        )
    (tmp_path / ".nplint.yaml").write_text(
        "clusters:\n  east: {paths: ['east/*'], cni: cilium@1.8}\n"
        "  west: {paths: ['west/*'], cni: calico@3.32}\n"
    )
    monkeypatch.chdir(tmp_path)
    code, out = run_cli(["worlds", "."])
    assert code == 0
    assert (
        "  cluster east (cni: cilium@1.8): 1 unit\n    cni: Cilium 1.8 (declared: `cni: cilium@1.8`)\n" in out
    )
    assert (
        "  cluster west (cni: calico@3.32): 1 unit\n    cni: Calico 3.32 (declared: `cni: calico@3.32`)\n"
        in out
    )


# -- the matrix by version -------------------------------------------------------------------

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
spec: {containers: [{name: w, image: w, ports: [{containerPort: 8080}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: other, labels: {app: client}}
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

BANP_DENY = """\
apiVersion: policy.networking.k8s.io/v1alpha1
kind: BaselineAdminNetworkPolicy
metadata: {name: default}
spec:
  subject: {namespaces: {}}
  ingress:
  - name: deny-all
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

# A Calico policy that governs the web pod's ingress and passes everything on: the side is then
# decided through Calico's tiers, with the ANP and BANP tiers in them (policy-kinds §9.1).
CALICO_PASS = """\
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: hand-on, namespace: shop}
spec:
  selector: app == 'web'
  types: [Ingress]
  ingress:
  - action: Pass
"""


def allowed(cni: str, *texts: str) -> tuple[bool, list[str]]:
    engine = Engine(inventory(PODS, *texts), engine_profile(cni))
    topology = engine.topology
    found = explain(engine, topology.resolve("other/client"), topology.resolve("shop/web"), "TCP", 8080)
    return found.allowed, found.reasons()


# (kind's object, the releases that enforce it) per policy-kinds §10.
MATRIX = [
    (ANP_DENY, {"3.29", "3.30", "3.31"}),
    (BANP_DENY, {"3.30", "3.31"}),
    (CNP_DENY, {"3.32", "3.33"}),
]


@pytest.mark.parametrize(("policy", "enforcing"), MATRIX)
@pytest.mark.parametrize("release", ["3.28", "3.29", "3.30", "3.31", "3.32", "3.33"])
@pytest.mark.parametrize("with_calico_policy", [False, True])
def test_calico_enforces_each_kind_at_the_releases_that_do(
    policy: str, enforcing: set[str], release: str, with_calico_policy: bool
) -> None:
    extra = (CALICO_PASS,) if with_calico_policy else ()
    for cni in ("calico", "canal"):
        found, reasons = allowed(f"{cni}@{release}", policy, *extra)
        assert found is (release not in enforcing), (cni, release, reasons)


def test_an_unknown_calico_version_decides_as_before() -> None:
    for policy, _ in MATRIX:
        found, reasons = allowed("calico", policy)
        assert found
        assert reasons[-1].endswith("and its version is not known (declare it: `cni: calico@3.30`)")


def test_the_calico_tiers_name_the_admin_and_baseline_tiers() -> None:
    found, reasons = allowed("calico@3.30", ANP_DENY, CALICO_PASS)
    assert not found
    assert reasons[1] == (
        "ingress of shop/web[Pod]: AdminNetworkPolicy block-other (cni.yaml:21), in Calico tier "
        "adminnetworkpolicy, ingress rule 0 'deny-other' (cni.yaml:26): denies TCP 8080"
    )
    found, reasons = allowed("calico@3.30", BANP_DENY, CALICO_PASS)
    assert not found
    assert reasons[1] == (
        "ingress of shop/web[Pod]: Calico NetworkPolicy shop/hand-on (cni.yaml:31) (tier default, no order) "
        "ingress rule 0 (cni.yaml:36): passes on TCP 8080; then BaselineAdminNetworkPolicy default "
        "(cni.yaml:21), in Calico tier baselineadminnetworkpolicy, ingress rule 0 'deny-all' (cni.yaml:25): "
        "denies TCP 8080"
    )
    found, reasons = allowed("calico@3.32", CNP_DENY, CALICO_PASS)
    assert not found
    assert (
        "ClusterNetworkPolicy (Admin tier) block-other (cni.yaml:21), in Calico tier kube-admin" in reasons[1]
    )


def test_a_calico_deny_below_order_1000_runs_before_the_admin_tier() -> None:
    # A user tier at order 100 allows; the ANP tier at 1000 never sees the connection (§9.1).
    tier = "apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata: {name: early}\nspec: {order: 100}\n"
    early = (
        "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: early.let-in}\n"
        "spec:\n  tier: early\n  selector: app == 'web'\n  types: [Ingress]\n  ingress:\n  - action: Allow\n"
    )
    found, reasons = allowed("calico@3.30", ANP_DENY, tier, early)
    assert found, reasons


CILIUM_DENY = """\
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: no-other, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: web}}
  ingressDeny:
  - fromEndpoints: [{matchLabels: {k8s:io.kubernetes.pod.namespace: other}}]
"""


@pytest.mark.parametrize(("cni", "enforced"), [("cilium", True), ("cilium@1.9", True), ("cilium@1.8", False)])
def test_cilium_deny_sections_count_from_1_9(cni: str, enforced: bool) -> None:
    found, reasons = allowed(cni, CILIUM_DENY)
    assert found is not enforced, reasons


# -- NP604 by version --------------------------------------------------------------------------


def np604(tmp_path: Path, cni: str, *texts: str) -> list[tuple[int, int, str]]:
    (tmp_path / "p.yaml").write_text("---\n".join(texts))
    result = lint_paths(["p.yaml"], root=tmp_path, select=["NP604"], extra={"cni": cni})
    return [(f.span.line, f.span.column, f.message) for f in result.findings]


def test_np604_speaks_where_the_version_tells(tmp_path: Path) -> None:
    assert np604(tmp_path, "calico@3.32", ANP_DENY) == [
        (2, 7, "AdminNetworkPolicy block-other decides nothing: Calico 3.32 does not enforce this kind")
    ]
    assert np604(tmp_path, "calico@3.29", BANP_DENY) == [
        (2, 7, "BaselineAdminNetworkPolicy default decides nothing: Calico 3.29 does not enforce this kind")
    ]
    assert np604(tmp_path, "canal@3.31", CNP_DENY) == [
        (2, 7, "ClusterNetworkPolicy block-other decides nothing: Calico 3.31 does not enforce this kind")
    ]
    assert np604(tmp_path, "cilium@1.8", CILIUM_DENY) == [
        (6, 3, "CiliumNetworkPolicy no-other: its ingressDeny decides nothing on Cilium 1.8")
    ]


@pytest.mark.parametrize(
    ("cni", "policy"),
    [
        ("calico", ANP_DENY),
        ("calico", BANP_DENY),
        ("calico", CNP_DENY),
        ("calico@3.30", ANP_DENY),
        ("calico@3.30", BANP_DENY),
        ("calico@3.32", CNP_DENY),
        ("cilium", CILIUM_DENY),
        ("cilium@1.9", CILIUM_DENY),
    ],
)
def test_np604_is_silent_where_the_kind_is_enforced_or_the_version_unknown(
    tmp_path: Path, cni: str, policy: str
) -> None:
    assert np604(tmp_path, cni, policy) == []


def test_np604_detail_says_where_the_version_comes_from(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text("---\n".join((workload("calico-node", "calico/node:v3.32.0"), ANP_DENY)))
    result = lint_paths(["p.yaml"], root=tmp_path, select=["NP604"])
    [finding] = result.findings
    assert finding.message == (
        "AdminNetworkPolicy block-other decides nothing: Calico 3.32.0 does not enforce this kind"
    )
    assert (
        "version 3.32.0, detected: DaemonSet kube-system/calico-node runs Calico (image calico/node:v3.32.0"
        in (finding.detail)
    )
    assert (
        "Calico 3.32.0 does not enforce AdminNetworkPolicy: Calico does only from 3.29 to 3.31"
        in finding.detail
    )


CALICO_DENY = """\
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: default-deny}
spec:
  selector: all()
  types: [Ingress]
"""


@pytest.mark.parametrize("cni", ["calico", "canal", "canal@3.30", "rke2"])
def test_canal_runs_the_calico_layer(cni: str) -> None:
    found, reasons = allowed(cni, CALICO_DENY)
    assert not found
    assert reasons[1].startswith("ingress of shop/web[Pod]: no rule of Calico tier default matches TCP 8080")


def test_a_calico_policy_decides_nothing_on_flannel() -> None:
    assert allowed("flannel", CALICO_DENY)[0]


def test_a_calico_default_deny_covers_the_namespaces_on_canal(tmp_path: Path) -> None:
    (tmp_path / "app.yaml").write_text(PODS + "---\n" + CALICO_DENY)
    for cni, expected in (("canal", []), ("flannel", ["NP101", "NP101"])):
        result = lint_paths(["app.yaml"], root=tmp_path, select=["NP101"], extra={"cni": cni})
        assert [f.rule_id for f in result.findings] == expected, cni


def test_np604_names_the_one_cni_shown_explicitly_among_several(tmp_path: Path) -> None:
    # Calico's Installation shows Calico; the CiliumClusterwideNetworkPolicy shows Cilium only by
    # being written for it: Calico is the world's CNI, and the message says so, not "the detected CNIs".
    fixture = FIXTURES / "NP604" / "bad" / "calico-detected.yaml"
    (tmp_path / "all.yaml").write_text(fixture.read_text(encoding="utf-8"), encoding="utf-8")
    (finding,) = lint_paths(["."], root=tmp_path, select=["NP604"]).findings
    assert finding.message == (
        "CiliumClusterwideNetworkPolicy default-deny decides nothing: Calico does not enforce this kind"
    )
    assert finding.detail is not None
    assert finding.detail.startswith(
        "CiliumClusterwideNetworkPolicy default-deny: The repository shows Calico as the cluster's CNI (the "
        "other CNIs it shows, only by policies written for them): the Tigera operator's Installation "
        "installs Calico. Calico does not enforce CiliumClusterwideNetworkPolicy:"
    ), finding.detail
