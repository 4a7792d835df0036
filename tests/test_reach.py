"""``nplint reach``: the command-line contract (formats, point queries, probe files, exit codes)."""

from __future__ import annotations

import io
import json
import re
import shutil
from pathlib import Path

import pytest

from helpers import FIXTURES
from nplint.commands import run_command
from nplint.reporting.connectivity import mermaid_text

SCENARIO = FIXTURES / "connectivity" / "default-deny"


def reach(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    code = run_command("reach", list(args), out)
    return code, out.getvalue()


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    target = tmp_path / "repo"
    shutil.copytree(SCENARIO, target)
    (target / ".git").mkdir()  # the repository root: config and display paths are relative to it
    monkeypatch.chdir(target)
    return target


# -- the matrix ---------------------------------------------------------------------------------


def test_text_matrix_is_a_table(repo: Path) -> None:
    code, out = reach(".")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["FROM", "TO", "CONNECTIONS"]
    assert re.search(r"^shop/web\[Deployment\]\s+shop/db\[StatefulSet\]\s+TCP 5432$", out, re.MULTILINE)
    assert lines[-1].startswith("8 allowed flows among 3 workloads")


def test_json_matrix(repo: Path) -> None:
    code, out = reach(".", "--format", "json")
    data = json.loads(out)
    assert code == 0 and data["version"] == 1 and data["profile"] == "upstream"
    assert {"id": "shop/web[Deployment]", "type": "workload", "kind": "Deployment", "namespace": "shop",
            "name": "web"} in data["endpoints"]  # fmt: skip
    flow = next(f for f in data["flows"] if f["to"] == "shop/db[StatefulSet]")
    assert flow == {
        "from": "shop/web[Deployment]",
        "to": "shop/db[StatefulSet]",
        "connections": "TCP 5432",
        "ports": {"TCP": [[5432, 5432]]},
    }
    assert [(f["from"], f["to"]) for f in data["flows"]] == sorted(
        (f["from"], f["to"]) for f in data["flows"]
    )


def check_mermaid(text: str) -> None:
    """Structural validity of a Mermaid flowchart as nplint writes it."""
    lines = text.splitlines()
    assert lines[0] == "flowchart LR"
    node_id = r"[A-Za-z0-9_]+"
    label = r'"[^"]*"'
    declared: set[str] = set()
    depth = 0
    edges = []
    for line in lines[1:]:
        stripped = line.strip()
        if match := re.fullmatch(rf"subgraph ({node_id})\[{label}\]", stripped):
            depth += 1
            declared.add(match.group(1))
        elif stripped == "end":
            depth -= 1
            assert depth >= 0, "an `end` without its subgraph"
        elif match := re.fullmatch(rf"({node_id})(?:\[{label}\]|\(\[{label}\]\))", stripped):
            assert match.group(1) not in declared, f"node {match.group(1)} declared twice"
            declared.add(match.group(1))
        elif match := re.fullmatch(rf"({node_id}) -->\|{label}\| ({node_id})", stripped):
            edges.append((match.group(1), match.group(2)))
        else:
            raise AssertionError(f"not a Mermaid statement nplint writes: {line!r}")
    assert depth == 0, "subgraph and end unbalanced"
    assert not {"end", "graph", "subgraph", "flowchart"} & declared, "a keyword used as an id"
    for source, target in edges:
        assert source in declared and target in declared, f"edge {source} -> {target} to an undeclared node"


def test_mermaid_is_a_valid_flowchart(repo: Path) -> None:
    code, out = reach(".", "--format", "mermaid")
    assert code == 0
    check_mermaid(out)
    assert 'subgraph ns0["shop"]' in out
    assert '-->|"TCP 5432"|' in out


def test_mermaid_labels_are_escaped() -> None:
    assert mermaid_text('a "b" <c> #d') == "a #34;b#34; #60;c#62; #35;d"


def test_markdown_has_graph_and_table(repo: Path) -> None:
    code, out = reach(".", "--format", "markdown")
    assert code == 0
    graph = out.split("```mermaid\n", 1)[1].split("```", 1)[0]
    check_mermaid(graph)
    assert "| `shop/web[Deployment]` | `shop/db[StatefulSet]` | TCP 5432 |" in out


def test_dot_is_balanced(repo: Path) -> None:
    code, out = reach(".", "--format", "dot")
    assert code == 0 and out.startswith("digraph nplint {") and out.rstrip().endswith("}")
    assert out.count("{") == out.count("}")
    assert '"shop/web[Deployment]" -> "shop/db[StatefulSet]" [label="TCP 5432"];' in out
    assert "subgraph cluster_0" in out


def test_namespace_and_focus_cut_the_matrix(repo: Path) -> None:
    code, out = reach(".", "--format", "json", "--namespace", "tools")
    flows = json.loads(out)["flows"]
    assert code == 0 and flows
    assert all("tools/" in f["from"] or "tools/" in f["to"] for f in flows)
    code, out = reach(".", "--format", "json", "--focus", "shop/db")
    flows = json.loads(out)["flows"]
    assert {(f["from"], f["to"]) for f in flows} == {
        ("shop/web[Deployment]", "shop/db[StatefulSet]"),
        ("shop/db[StatefulSet]", "0.0.0.0/0"),
        ("shop/db[StatefulSet]", "tools/debug[Deployment]"),
    }


def test_unknown_namespace_or_focus_is_a_usage_error(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert reach(".", "--namespace", "shp")[0] == 2
    assert "did you mean shop" in capsys.readouterr().err
    assert reach(".", "--focus", "shop/wbe")[0] == 2
    assert "did you mean shop/web" in capsys.readouterr().err


def test_default_namespace_option(repo: Path) -> None:
    (repo / "extra.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: lone, labels: {a: b}}\n"
        "spec: {containers: [{name: c, image: c}]}\n"
    )
    assert "elsewhere/lone[Pod]" in reach(".", "--default-namespace", "elsewhere")[1]


def test_output_is_byte_identical_whatever_the_file_order(repo: Path, tmp_path: Path) -> None:
    first = reach(".", "--format", "json")[1]
    assert reach(".", "--format", "json")[1] == first
    split = tmp_path / "split"
    split.mkdir()
    documents = (repo / "manifests.yaml").read_text().split("\n---\n")
    for index, document in enumerate(reversed(documents)):
        (split / f"{index:02d}.yaml").write_text(document + "\n")
    assert reach(str(split), "--format", "json")[1] == first


# -- point queries --------------------------------------------------------------------------------


def test_point_query_allowed_with_reasons(repo: Path) -> None:
    code, out = reach(".", "--from", "shop/web", "--to", "shop/db", "--port", "5432")
    assert code == 0
    assert out.startswith("shop/web[Deployment] -> shop/db[StatefulSet] on TCP 5432: allowed\n")
    assert "NetworkPolicy shop/db-from-web ingress rule 0 (manifests.yaml:53)" in out


def test_point_query_denied_json(repo: Path) -> None:
    code, out = reach(".", "--from", "tools/debug", "--to", "shop/db", "--port", "5432", "--format", "json")
    data = json.loads(out)
    assert code == 0 and data["allowed"] is False
    assert data["from"] == "tools/debug[Deployment]" and data["protocol"] == "TCP" and data["port"] == 5432
    ingress = next(r for r in data["reasons"] if r["side"] == "ingress")
    assert ingress["status"] == "denied"
    assert {(p["name"], p["path"], p["line"]) for p in ingress["isolated_by"]} == {
        ("db-from-web", "manifests.yaml", 49),
        ("default-deny-ingress", "manifests.yaml", 42),
    }


def test_point_query_by_address_and_protocol(repo: Path) -> None:
    code, out = reach(".", "--from", "shop/web", "--to", "203.0.113.9", "--port", "53", "--protocol", "udp")
    assert code == 0 and "on UDP 53: allowed" in out
    code, out = reach(".", "--from", "shop/web", "--to", "shop/db")
    assert code == 0 and "shop/web[Deployment] -> shop/db[StatefulSet]: allowed TCP 5432" in out


def test_point_query_usage_errors(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert reach(".", "--from", "shop/web")[0] == 2
    assert reach(".", "--port", "80")[0] == 2
    assert reach(".", "--from", "shop/web", "--to", "shop/db", "--format", "mermaid")[0] == 2
    assert reach(".", "--from", "1.2.3.4", "--to", "5.6.7.8")[0] == 2
    assert reach(".", "--from", "shop/web", "--to", "shop/db", "--port", "0")[0] == 2
    capsys.readouterr()
    assert reach(".", "--from", "shop/wbe", "--to", "shop/db")[0] == 2
    assert "unknown endpoint 'shop/wbe'; did you mean shop/web" in capsys.readouterr().err


def test_unknown_cni_is_a_usage_error(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert reach(".", "--cni", "cilum")[0] == 2
    assert "did you mean cilium" in capsys.readouterr().err


# -- probe files ----------------------------------------------------------------------------------


def test_probes_json_contract(repo: Path) -> None:
    (repo / "p.json").write_text(
        json.dumps(
            [
                {"from": "tools/debug", "to": "shop/db", "port": 5432, "expect": "allow"},
                {"from": "shop/web", "to": "shop/db", "port": 5432},
                {"from": "shop/web", "to": "shop/db", "port": 5432, "protocol": "UDP", "expect": "deny"},
            ]
        )
    )
    code, out = reach(".", "--probes", "p.json", "--format", "json")
    data = json.loads(out)  # exactly one JSON object
    assert code == 1
    probes = data["probes"]
    assert [(p["from"], p["protocol"]) for p in probes] == [
        ("tools/debug", "TCP"),
        ("shop/web", "TCP"),
        ("shop/web", "UDP"),
    ], "one object per probe, in file order"
    assert probes[0]["allowed"] is False and probes[0]["expect"] == "allow" and probes[0]["ok"] is False
    assert "expect" not in probes[1] and "ok" not in probes[1] and probes[1]["allowed"] is True
    assert probes[2]["ok"] is True
    for probe in probes:
        assert {"from", "to", "port", "protocol", "allowed", "reasons"} <= set(probe)
        assert isinstance(probe["reasons"], list) and probe["reasons"]


def test_probes_pass_exit_zero_and_text(repo: Path) -> None:
    code, out = reach(".", "--probes", "probes.yaml")
    assert code == 0
    assert out.splitlines()[0].startswith("PASS  probes.yaml:1: shop/web -> shop/db TCP 5432: allowed")
    assert out.splitlines()[-1] == "10 probes: 10 passed, 0 failed, 0 without expectation."


def test_probe_with_unknown_endpoint_exits_2(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / "p.yaml").write_text("- {from: shop/web, to: shop/dbb, port: 1, expect: deny}\n")
    assert reach(".", "--probes", "p.yaml", "--format", "json")[0] == 2
    err = capsys.readouterr().err
    assert "p.yaml:1: unknown endpoint 'shop/dbb'; did you mean shop/db" in err


def test_bad_probe_file_exits_2(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / "p.yaml").write_text("- {from: shop/web, to: shop/db, port: http, expect: maybe}\n")
    assert reach(".", "--probes", "p.yaml")[0] == 2
    err = capsys.readouterr().err
    assert "`port` is a port number" in err and "`expect` is allow or deny" in err
    (repo / "q.yaml").write_text("probes: {from: a}\n")
    assert reach(".", "--probes", "q.yaml")[0] == 2
    assert reach(".", "--probes", "missing.yaml")[0] == 2
    assert "cannot read the probe file" in capsys.readouterr().err


def test_probes_may_share_a_file_with_manifests(repo: Path) -> None:
    text = (
        repo / "manifests.yaml"
    ).read_text() + "---\nprobes:\n- {from: shop/web, to: shop/db, port: 5432}\n"
    (repo / "manifests.yaml").write_text(text)
    code, out = reach(".", "--probes", "manifests.yaml", "--format", "json")
    assert code == 0 and len(json.loads(out)["probes"]) == 1
