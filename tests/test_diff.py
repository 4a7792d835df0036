"""``nplint diff BASE [HEAD]``: flows opened, closed and changed between two revisions, and new findings."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from nplint.commands import run_command

BASE = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: shop}
spec:
  template:
    metadata: {labels: {app: api}}
    spec: {containers: [{name: api, image: api}]}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: shop}
spec:
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: db, image: postgres}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny, namespace: shop}
spec:
  podSelector: {}
  policyTypes: [Ingress]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-ingress, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  policyTypes: [Ingress]
  ingress:
  - from: [{podSelector: {matchLabels: {app: web}}}]
    ports: [{port: 5432}]
  - from: [{podSelector: {matchLabels: {app: api}}}]
    ports: [{port: 5432}]
"""

# web loses its access to db (closed), the frontend namespace gains it (opened), and
# api's allowance widens to a range (changed).
HEAD = BASE.replace(
    """  - from: [{podSelector: {matchLabels: {app: web}}}]
    ports: [{port: 5432}]
  - from: [{podSelector: {matchLabels: {app: api}}}]
    ports: [{port: 5432}]
""",
    """  - from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: frontend}}}]
    ports: [{port: 5432}]
  - from: [{podSelector: {matchLabels: {app: api}}}]
    ports: [{port: 5432, endPort: 5433}]
""",
) + (
    "---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: spa, namespace: frontend}\n"
    "spec:\n  template:\n    metadata: {labels: {app: spa}}\n    spec: {containers: [{name: s, image: s}]}\n"
)

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "repo"
    (root / "deploy").mkdir(parents=True)
    git(root, "init", "-q", ".")
    (root / "deploy" / "shop.yaml").write_text(BASE, encoding="utf-8")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "base")
    (root / "deploy" / "shop.yaml").write_text(HEAD, encoding="utf-8")
    git(root, "commit", "-q", "-a", "-m", "head")
    monkeypatch.chdir(root)
    return root


def diff(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    return run_command("diff", list(args), out), out.getvalue()


def test_two_revisions_report_opened_closed_and_changed_flows(repo: Path) -> None:
    code, out = diff("HEAD~1", "HEAD")
    assert code == 0
    assert out.startswith("Connectivity from HEAD~1 to HEAD:\n")
    assert "  + frontend/spa[Deployment] -> shop/db[StatefulSet]: TCP 5432\n" in out
    assert "  - shop/web[Deployment] -> shop/db[StatefulSet]: TCP 5432\n" in out
    assert "  ~ shop/api[Deployment] -> shop/db[StatefulSet]: now TCP 5432-5433; was TCP 5432\n" in out


def test_json_and_markdown(repo: Path) -> None:
    code, out = diff("HEAD~1", "HEAD", "--format", "json")
    data = json.loads(out)
    assert code == 0 and data["base"] == "HEAD~1" and data["head"] == "HEAD"
    opened = {(f["from"], f["to"]) for f in data["flows"]["added"]}
    closed = {(f["from"], f["to"]) for f in data["flows"]["removed"]}
    assert ("frontend/spa[Deployment]", "shop/db[StatefulSet]") in opened
    assert closed == {("shop/web[Deployment]", "shop/db[StatefulSet]")}
    changed = data["flows"]["changed"]
    assert changed == [
        {
            "from": "shop/api[Deployment]",
            "to": "shop/db[StatefulSet]",
            "change": "changed",
            "before": "TCP 5432",
            "after": "TCP 5432-5433",
            "opened": "TCP 5433",
            "closed": None,
        }
    ]
    code, out = diff("HEAD~1", "HEAD", "--format", "markdown")
    assert code == 0 and out.startswith("## nplint: connectivity changes")
    assert "| 🔴 closed | `shop/web[Deployment]` | `shop/db[StatefulSet]` | TCP 5432 |" in out


def test_head_defaults_to_the_working_tree(repo: Path) -> None:
    (repo / "deploy" / "shop.yaml").write_text(BASE, encoding="utf-8")  # uncommitted revert
    code, out = diff("HEAD")
    assert code == 0 and "to working tree" in out
    assert "  + shop/web[Deployment] -> shop/db[StatefulSet]: TCP 5432\n" in out


def test_two_directories(repo: Path, tmp_path: Path) -> None:
    before, after = tmp_path / "before", tmp_path / "after"
    before.mkdir()
    after.mkdir()
    (before / "shop.yaml").write_text(BASE, encoding="utf-8")
    (after / "shop.yaml").write_text(HEAD, encoding="utf-8")
    code, out = diff(str(before), str(after))
    assert code == 0
    assert "  - shop/web[Deployment] -> shop/db[StatefulSet]: TCP 5432\n" in out


def test_fail_on_new_findings(repo: Path) -> None:
    # the head adds a `- podSelector` next to a `- namespaceSelector`: NP201 is new
    text = HEAD + (
        "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
        "metadata: {name: web-in, namespace: shop}\n"
        "spec:\n  podSelector: {matchLabels: {app: web}}\n  policyTypes: [Ingress]\n  ingress:\n"
        "  - from:\n    - namespaceSelector: {matchLabels: {team: a}}\n"
        "    - podSelector: {matchLabels: {app: api}}\n"
    )
    (repo / "deploy" / "shop.yaml").write_text(text, encoding="utf-8")
    code, out = diff("HEAD~1", "--fail-on-new", "--format", "json")
    assert code == 1
    assert "NP201" in {f["rule"] for f in json.loads(out)["findings"]["new"]}
    assert diff("HEAD~1")[0] == 0, "without --fail-on-new new findings do not fail"


def test_unknown_revision_is_a_usage_error(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert diff("no-such-rev", "HEAD")[0] == 2
    assert f"'no-such-rev' is not a revision of the repository at {repo}\n" in capsys.readouterr().err
    assert diff(str(repo))[0] == 2, "one directory alone has nothing to compare with"
    assert "comparing directories needs two" in capsys.readouterr().err


def test_change_graph_is_valid_mermaid() -> None:
    import re

    from nplint.engine.diff import FlowChange
    from nplint.engine.portsets import NO_PORTS, PortSet
    from nplint.reporting.changes import changes_mermaid

    changes = [
        FlowChange("shop/web[Deployment]", "shop/db[StatefulSet]", NO_PORTS, PortSet.single("TCP", 5432)),
        FlowChange('ops/"odd" name[Pod]', "0.0.0.0/0", PortSet.single("UDP", 53), NO_PORTS),
        FlowChange(
            "shop/web[Deployment]", "10.0.0.0/8", PortSet.single("TCP", 80), PortSet.single("TCP", 443)
        ),
    ]
    text = changes_mermaid(changes)
    lines = text.splitlines()
    assert lines[0] == "flowchart LR"
    declared = set(re.findall(r"^\s+(n\d+)[\[(]", text, re.MULTILINE))
    edges = re.findall(r"^\s+(n\d+) (-->|-\.->|==>)\|\"[^\"]*\"\| (n\d+)$", text, re.MULTILINE)
    assert len(edges) == 3
    assert {e[1] for e in edges} == {"-->", "-.->", "==>"}
    assert all(a in declared and b in declared for a, _, b in edges)
    assert text.count("subgraph") == text.count("\n  end")
    assert '"odd"' not in text  # quotes inside labels are escaped
    assert [line.strip() for line in lines if "linkStyle" in line] == [
        "linkStyle 0 stroke:#2da44e",
        "linkStyle 1 stroke:#cf222e",
        "linkStyle 2 stroke:#bf8700",
    ]
