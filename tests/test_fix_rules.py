"""Each fixable rule: its bad fixtures, fixed, lint clean of it; fixing twice changes nothing.

Also: the rule pages say what each fix does and whether it is safe, and a safe
fix leaves the connectivity matrix as it was, or changes it only as the finding asked.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from test_fixtures import fixture_config

from helpers import FIXTURES, REPO, lint_paths, run_cli
from nplint.fixing.run import fix_files

#: Rule → whether its fix is safe (None: safe or not, as the finding's policy is).
FIXABLE: dict[str, bool | None] = {
    "NP002": True,
    "NP101": False,
    "NP102": False,
    "NP201": False,
    "NP204": True,
    "NP004": True,
    "NP301": None,
    "NP302": True,
    "NP303": True,
    "NP401": True,
    "NP501": True,
    "NP701": False,
    "NP702": True,
}


def _copy(case: Path, tmp_path: Path) -> tuple[Path, str]:
    root = tmp_path / "repo"
    if case.is_dir():
        shutil.copytree(case, root)
        return root, "."
    root.mkdir(parents=True)
    shutil.copyfile(case, root / case.name)
    return root, case.name


def _lint(root: Path, target: str, rule_id: str, config: dict[str, object]):  # type: ignore[no-untyped-def]
    extra = dict(config)
    rules = [str(code) for code in extra.pop("select", [])]  # type: ignore[attr-defined]
    return lint_paths([target], root=root, select=[rule_id, *rules], extra={**extra, "cache": False})


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("rule_id", sorted(FIXABLE))
def test_bad_fixtures_fixed_lint_clean_and_fixing_twice_changes_nothing(rule_id: str, tmp_path: Path) -> None:
    fixed_cases = 0
    for number, case in enumerate(sorted((FIXTURES / rule_id / "bad").iterdir())):
        if case.name.startswith("."):
            continue
        work = tmp_path / str(number)
        root, target = _copy(case, work)
        config = fixture_config(case)
        before = _lint(root, target, rule_id, config)
        found = [f for f in before.findings if f.rule_id == rule_id]
        fixable = [f for f in found if f.fixes]
        if not fixable:
            continue
        if FIXABLE[rule_id] is not None:
            assert all(fix.safe is FIXABLE[rule_id] for f in fixable for fix in f.fixes)
        readable = [loaded.path for loaded in before.files]
        outcome = fix_files(root, before.findings, readable, unsafe=True, write=True)
        # A fix the writer refuses says why (a document ruamel would rewrite); every other one lands.
        refused = {
            f.fixes[0].description
            for f in fixable
            if any(f.fixes[0].description in why for _, why in outcome.notes)
        }
        after = _lint(root, target, rule_id, config)
        left = [f for f in after.findings if f.rule_id == rule_id]
        assert len(left) == len(found) - len([f for f in fixable if f.fixes[0].description not in refused]), (
            case,
            left,
        )
        if not outcome.fixed:
            continue
        # Nothing else broke: no file that fails to load, no new finding of the rule.
        assert not any(loaded.problems for loaded in after.files)
        snapshot = _files(root)
        again = fix_files(root, after.findings, readable, unsafe=True, write=True)
        assert again.fixed == 0 and _files(root) == snapshot
        fixed_cases += 1
    assert fixed_cases, f"no bad fixture of {rule_id} was fixed"


@pytest.mark.parametrize("rule_id", sorted(FIXABLE))
def test_rule_page_has_a_fix_line(rule_id: str) -> None:
    page = (REPO / "rules" / f"{rule_id}.md").read_text()
    line = next((line for line in page.splitlines() if line.startswith("**Fix:**")), None)
    assert line is not None, f"rules/{rule_id}.md has no **Fix:** line"
    if FIXABLE[rule_id] is None:
        assert "(safe when" in line and "unsafe when" in line, line
        return
    assert ("(safe" in line) is FIXABLE[rule_id], line
    assert ("(unsafe" in line) is not FIXABLE[rule_id], line


def _reach(root: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.chdir(root)
    code, out = run_cli(["reach", "--no-cache", "."])
    assert code in (0, 1), out
    return out


#: Safe fixes that change no connection at all: the matrix is the same before and after.
SAME_MATRIX = {
    "NP204": "omitted.yaml",
    "NP501": "cidr-host-bits.yaml",
    "NP702": "egress-only.yaml",
}


@pytest.mark.parametrize(("rule_id", "name"), sorted(SAME_MATRIX.items()))
def test_a_safe_fix_leaves_the_connectivity_matrix_as_it_was(
    rule_id: str, name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, target = _copy(FIXTURES / rule_id / "bad" / name, tmp_path)
    before = _lint(root, target, rule_id, {})
    matrix = _reach(root, monkeypatch)
    outcome = fix_files(root, before.findings, [f.path for f in before.files], unsafe=False, write=True)
    assert outcome.fixed >= 1, outcome.notes
    assert _reach(root, monkeypatch) == matrix


def test_the_named_port_fix_opens_only_the_port_the_finding_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """NP401's safe fix changes the matrix by one flow: to the pods on the named port's UDP number."""
    root, target = _copy(FIXTURES / "NP401" / "bad" / "protocol-mismatch.yaml", tmp_path)
    before = _lint(root, target, "NP401", {})
    monkeypatch.chdir(root)
    flows_before = _flows()
    outcome = fix_files(root, before.findings, [f.path for f in before.files], unsafe=False, write=True)
    assert outcome.fixed == 1, outcome.notes
    added = _flows() - flows_before
    assert flows_before <= _flows()
    # The pods declare `syslog` as UDP 5140: exactly that, to them.
    assert added == {("logging/collector[StatefulSet]", "logging/collector[StatefulSet]", "UDP 5140")}


def _flows() -> set[tuple[str, str, str]]:
    import json

    code, out = run_cli(["reach", "--no-cache", "--format", "json", "."])
    assert code in (0, 1), out
    return {(f["from"], f["to"], f["connections"]) for f in json.loads(out)["flows"]}


SHOP_API = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers: [{name: api, image: example.org/api:1, ports: [{containerPort: 8080}]}]
"""

CLUSTER_DNS = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: coredns, namespace: kube-system}
spec:
  selector: {matchLabels: {k8s-app: kube-dns}}
  template:
    metadata: {labels: {k8s-app: kube-dns}}
    spec:
      containers:
      - name: coredns
        image: registry.k8s.io/coredns/coredns:v1.11.1
        ports: [{containerPort: 53, protocol: UDP}, {containerPort: 53, protocol: TCP}]
---
"""

#: Safe DNS fixes: between workloads the matrix gains DNS to the cluster DNS pods and loses
#: nothing. NP303's fix also takes away the flow to the DNS Service's address (10.96.0.10),
#: which the finding asked to replace: no packet ever matched it after the Service's DNAT.
DNS_FIXES = {
    "NP301": ("default-deny-with-app-egress.yaml", None),
    "NP302": ("udp-only.yaml", None),
    "NP303": ("kubeadm-service-ip.yaml", "10.96.0.10"),
}


def _is_workload(end: str) -> bool:
    return end.endswith("]")


@pytest.mark.parametrize(("rule_id", "case"), sorted(DNS_FIXES.items()))
def test_a_safe_dns_fix_opens_dns_and_nothing_else(
    rule_id: str, case: tuple[str, str | None], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name, replaced = case
    root, target = _copy(FIXTURES / rule_id / "bad" / name, tmp_path)
    # The cluster DNS pods and a pod of the policies' namespace, so the matrix holds the
    # connections the fix is about.
    (root / "zz-workloads.yaml").write_text(CLUSTER_DNS + SHOP_API, encoding="utf-8")
    before = _lint(root, target, rule_id, {})
    monkeypatch.chdir(root)
    flows_before = _flows()
    outcome = fix_files(root, before.findings, [f.path for f in before.files], unsafe=False, write=True)
    assert outcome.fixed >= 1, outcome.notes
    after = _flows()
    pods_before = {f for f in flows_before if _is_workload(f[0]) and _is_workload(f[1])}
    pods_after = {f for f in after if _is_workload(f[0]) and _is_workload(f[1])}
    gained = pods_after - pods_before
    assert gained, "the fix opened nothing between workloads"
    for source, destination, connections in gained:
        old = next((c for s, d, c in pods_before if (s, d) == (source, destination)), "")
        new_ports = set(connections.split(",")) - set(old.split(","))
        assert destination.startswith("kube-system/coredns"), (source, destination, connections)
        assert new_ports and all(p.strip() in ("TCP 53", "UDP 53") for p in new_ports), connections
    # Nothing between workloads is lost (a pair that gained shows with its old text).
    lost = pods_before - pods_after
    assert {(s, d) for s, d, _ in lost} <= {(s, d) for s, d, _ in gained}
    addresses_before = flows_before - pods_before
    addresses_after = after - pods_after
    if replaced is None:
        assert addresses_after == addresses_before
    else:
        # Only flows to the replaced address go; the ranges that were cut around it merge back
        # into one, with the same connections.
        merged = {(s, c) for s, d, c in addresses_after if d == "0.0.0.0/0"}
        gone = addresses_before - addresses_after
        assert gone
        assert all(replaced in d or (s, c) in merged for s, d, c in gone), gone
        assert {s for s, _, _ in addresses_after - addresses_before} <= {s for s, _ in merged}


#: Safe fixes that make a field or an object take effect as written: the matrix after the fix
#: is the matrix of the manifest corrected by hand (``(wrong, right)`` replacements), so the
#: fix changed what the finding named and nothing else.
AS_CORRECTED = {
    "NP002": (
        "typos.yaml",
        (
            ("podselector:", "podSelector:"),
            ("policyType:", "policyTypes:"),
            ("matchLabel: {team", "matchLabels: {team"),
            ("protocl:", "protocol:"),
            ("endport:", "endPort:"),
        ),
    ),
    "NP004": ("networking-v1beta1.yaml", (("networking.k8s.io/v1beta1", "networking.k8s.io/v1"),)),
}

SHOP_PODS = (
    SHOP_API
    + """\
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: example.org/web:1}]
"""
)


@pytest.mark.parametrize(("rule_id", "case"), sorted(AS_CORRECTED.items()))
def test_a_safe_fix_gives_the_matrix_of_the_manifest_corrected_by_hand(
    rule_id: str,
    case: tuple[str, tuple[tuple[str, str], ...]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    name, corrections = case
    source = FIXTURES / rule_id / "bad" / name
    by_hand = source.read_text(encoding="utf-8")
    for wrong, right in corrections:
        assert wrong in by_hand, wrong
        by_hand = by_hand.replace(wrong, right)
    expected_root = tmp_path / "by-hand"
    expected_root.mkdir()
    (expected_root / name).write_text(by_hand, encoding="utf-8")
    (expected_root / "zz-pods.yaml").write_text(SHOP_PODS, encoding="utf-8")
    monkeypatch.chdir(expected_root)
    expected = _flows()

    root, target = _copy(source, tmp_path)
    (root / "zz-pods.yaml").write_text(SHOP_PODS, encoding="utf-8")
    before = _lint(root, target, rule_id, {})
    monkeypatch.chdir(root)
    unfixed = _flows()
    outcome = fix_files(root, before.findings, [f.path for f in before.files], unsafe=False, write=True)
    assert outcome.fixed >= 1, outcome.notes
    assert _flows() == expected
    assert unfixed != expected, "the case shows no difference the fix makes"
