"""Namespace labels set by command (scripts, Makefiles, READMEs): what is read, what rules make of it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from helpers import lint_paths, run_cli
from nplint import label_commands
from nplint.discovery import discover
from nplint.label_commands import read_label_commands, scan_text
from nplint.model import build_inventory
from nplint.model.namespace_labels import LabelCommand, NamespaceLabelCommands

Parsed = tuple[tuple[str, ...], tuple[tuple[str, str | None], ...]]


def _parsed(line: str) -> list[Parsed]:
    return [(c.namespaces, c.labels) for c in scan_text(line, "setup.sh")]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("kubectl label namespace default name=default", [(("default",), (("name", "default"),))]),
        (
            "kubectl label ns/kube-system name=kube-system --overwrite",
            [(("kube-system",), (("name", "kube-system"),))],
        ),
        ("oc label namespaces b a team=x env=prod", [(("a", "b"), (("team", "x"), ("env", "prod")))]),
        ("kubectl -n foo --context c label namespace/x k=v", [(("x",), (("k", "v"),))]),
        ("kubectl --context=c label Namespace x k=v", [(("x",), (("k", "v"),))]),
        ("\t@$(KUBECTL) label ns x example.com/tier=web", [(("x",), (("example.com/tier", "web"),))]),
        ("${OC} label ns x k=v", [(("x",), (("k", "v"),))]),
        ("sudo ./bin/kubectl label ns x k=", [(("x",), (("k", ""),))]),
        ('kubectl label ns "$NS" "name=${NS}"', [((), (("name", None),))]),
        ("kubectl label ns <namespace> name=<value>", [((), (("name", None),))]),
        ("kubectl label ns YOUR_NAMESPACE k=v", [((), (("k", "v"),))]),
        ("kubectl label ns x k=$(echo v)", [(("x",), (("k", None),))]),
        ("kubectl label ns --all k=v", [((), (("k", "v"),))]),
        ("kubectl label ns -l team=a k=v", [((), (("k", "v"),))]),
        (
            "kubectl label ns x k=v; oc label ns y j=w && echo done",
            [(("x",), (("k", "v"),)), (("y",), (("j", "w"),))],
        ),
        ("Run `oc label namespace default name=default` once.", [(("default",), (("name", "default"),))]),
        ("$ kubectl label ns x k=v --dry-run=none", [(("x",), (("k", "v"),))]),
        # Not evidence: a removal, a dry run, a local edit, a file's objects, another kind,
        # another verb, a comment, an invalid key, no namespace named.
        ("kubectl label ns x k-", []),
        ("kubectl label ns x k=v --dry-run=client -o yaml", []),
        ("kubectl label ns x k=v --dry-run", []),
        ("kubectl label --local -f ns.yaml k=v", []),
        ("kubectl label -f namespace.yaml k=v", []),
        ("kubectl label pods x k=v", []),
        ("kubectl label deployment/x k=v", []),
        ("kubectl get ns x -o yaml | grep label", []),
        ("# kubectl label ns x k=v", []),
        ("kubectl label ns x 'bad key!=v'", []),
        ("kubectl label ns k=v", []),
        ("kubectl annotate ns x k=v", []),
        ("mykubectl label ns x k=v", []),
        ("run.oc label ns x k=v", []),
        ("x=$(LOCALBIN)/kubectl label ns x k=v", []),
        ("\t$(LOCALBIN)/kubectl label ns x k=v", [(("x",), (("k", "v"),))]),
        ("the doc label ns x k=v", []),
    ],
)
def test_commands_are_read_exactly(line: str, expected: list[Parsed]) -> None:
    assert _parsed(line) == expected


def test_a_command_is_placed_at_its_program_across_continuation_lines() -> None:
    text = "#!/bin/sh\nset -e\nif true; then\n  kubectl label \\\n    ns default \\\n    name=default\nfi\n"
    found = list(scan_text(text, "hack/setup.sh"))
    assert found == [LabelCommand("hack/setup.sh", 4, 3, ("default",), (("name", "default"),))]
    assert found[0].where == "hack/setup.sh:4"


def test_hostile_words_never_become_names_keys_or_values() -> None:
    text = "kubectl label ns x\x1b[31m ../../etc name=a\x07b evil\nkey=v k=v\n"
    assert _parsed(text) == []
    # Over-long names and values are not valid Kubernetes names: placeholders, or dropped.
    long = "a" * 64
    assert _parsed(f"kubectl label ns {long} k=v {long}=x") == [((), (("k", "v"),))]
    assert _parsed(f"kubectl label ns x k={long}") == []


def test_a_file_keeps_at_most_its_share_of_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(label_commands, "MAX_COMMANDS_PER_FILE", 3)
    text = "".join(f"kubectl label ns n{i} k=v\n" for i in range(10))
    assert [c.namespaces for c in scan_text(text, "a.sh")] == [("n0",), ("n1",), ("n2",)]


def test_read_bounded_shallowest_first_and_deterministic(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "deep" / "er").mkdir(parents=True)
    (tmp_path / "README.md").write_text("kubectl label ns a k=1\n")
    (tmp_path / "deep" / "er" / "x.sh").write_text("kubectl label ns a k=2\n")
    (tmp_path / "big.sh").write_text("kubectl label ns big k=v\n" + "#" * 200)
    (tmp_path / "binary.sh").write_bytes(b"kubectl label ns bin k=v\n\0")
    monkeypatch.setattr(label_commands, "MAX_SOURCE_BYTES", 100)
    sources = [
        (tmp_path / "deep" / "er" / "x.sh", "deep/er/x.sh"),
        (tmp_path / "binary.sh", "binary.sh"),
        (tmp_path / "big.sh", "big.sh"),
        (tmp_path / "missing.md", "missing.md"),
        (tmp_path / "README.md", "README.md"),
    ]
    found = read_label_commands(sources)
    assert [(c.path, c.namespaces) for c in found.commands] == [
        ("README.md", ("a",)),
        ("deep/er/x.sh", ("a",)),
    ]
    # The first command in path order decides a key several commands set on one namespace.
    assert found.labels_of("a") == {"k": "1"}
    assert read_label_commands(list(reversed(sources))) == found
    monkeypatch.setattr(label_commands, "MAX_SOURCES", 1)
    assert [c.path for c in read_label_commands(sources).commands] == ["README.md"]


def test_discovery_keeps_scripts_makefiles_and_markdown_of_the_repository_only(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    for folder in ("hack", "docs", "vendor/x", "tests", "e2e", ".github", "node_modules/y", "ignored"):
        (root / folder).mkdir(parents=True)
    for name in (
        "README.md",
        "Makefile",
        "hack/setup.sh",
        "hack/rules.mk",
        "docs/install.markdown",
        "vendor/x/README.md",
        "tests/label.sh",
        "e2e/run.sh",
        ".github/ci.sh",
        "node_modules/y/README.md",
        "ignored/notes.md",
        "notes.txt",
        "policy.yaml",
    ):
        (root / name).write_text("kubectl label ns a k=v\n")
    (root / ".gitignore").write_text("ignored/\n")
    outside = tmp_path / "outside.sh"
    outside.write_text("kubectl label ns a k=v\n")
    os.symlink(outside, root / "hack" / "link.sh")
    found = discover([str(root)], root=root)
    assert [display for _, display in found.label_sources] == [
        "Makefile",
        "README.md",
        "docs/install.markdown",
        "hack/rules.mk",
        "hack/setup.sh",
    ]
    assert [f.display for f in found.files] == ["policy.yaml"]


DNS_POLICY = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-dns, namespace: shop}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
  - to:
    - namespaceSelector:
        matchLabels: {name: kube-system}
      podSelector:
        matchLabels: {k8s-app: kube-dns}
    ports:
    - {protocol: UDP, port: 53}
    - {protocol: TCP, port: 53}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: web:1}]}
"""


def _findings(root: Path) -> set[tuple[str, str, int, int]]:
    result = lint_paths(["."], root=root, select=["NP207", "NP301"])
    assert not result.failures
    return {(f.rule_id, f.path, f.span.line, f.span.column) for f in result.findings}


def test_a_namespace_labelled_by_name_carries_the_label_for_the_rules_and_the_engine(tmp_path: Path) -> None:
    (tmp_path / "policy.yaml").write_text(DNS_POLICY)
    assert _findings(tmp_path) == {("NP207", "policy.yaml", 10, 23), ("NP301", "policy.yaml", 6, 17)}
    (tmp_path / "setup.sh").write_text("kubectl label namespace kube-system name=kube-system --overwrite\n")
    assert _findings(tmp_path) == set()


def test_a_command_on_some_namespace_answers_np207_but_not_the_engine(tmp_path: Path) -> None:
    # Which namespaces `$ns` is nplint cannot know: the DNS namespace does not get the label.
    (tmp_path / "policy.yaml").write_text(DNS_POLICY)
    (tmp_path / "setup.sh").write_text('for ns in $NAMESPACES; do kubectl label ns "$ns" "name=$ns"; done\n')
    assert _findings(tmp_path) == {("NP301", "policy.yaml", 6, 17)}


def test_the_namespace_labels_of_commands_do_not_override_the_manifest() -> None:
    commands = NamespaceLabelCommands.of(
        [
            LabelCommand("b.sh", 1, 1, ("shop",), (("team", "b"), ("tier", "web"))),
            LabelCommand("a.sh", 9, 1, ("shop",), (("team", "a"), ("open", None))),
        ]
    )
    inventory = build_inventory([], label_commands=commands)
    assert inventory.namespace_labels("shop") == {
        "kubernetes.io/metadata.name": "shop",
        "team": "a",
        "tier": "web",
    }
    assert inventory.namespace_labels("other") == {"kubernetes.io/metadata.name": "other"}
    assert commands.setting("open", ("anything",)) == commands.commands[0]
    assert commands.setting("tier", ("db",)) is None


def test_the_detail_names_where_the_key_is_set_otherwise_escaped(tmp_path: Path) -> None:
    (tmp_path / "policy.yaml").write_text(DNS_POLICY)
    name = "set\x1bup.sh"
    (tmp_path / name).write_text("\n\nkubectl label ns default name=default\n")
    result = lint_paths(["."], root=tmp_path, select=["NP207"])
    (finding,) = result.findings
    assert (finding.rule_id, finding.span.line, finding.span.column) == ("NP207", 10, 23)
    assert "set\\x1bup.sh:3 labels namespace default `name=default`" in finding.detail
    assert "\x1b" not in finding.detail


def test_a_changed_readme_invalidates_the_kept_result(tmp_path: Path) -> None:
    (tmp_path / "policy.yaml").write_text(DNS_POLICY)
    first = run_cli(["check", "--format", "json", "--select", "NP207", str(tmp_path)])
    assert '"NP207"' in first[1]
    (tmp_path / "README.md").write_text("```\nkubectl label ns kube-system name=kube-system\n```\n")
    second = run_cli(["check", "--format", "json", "--select", "NP207", str(tmp_path)])
    assert '"NP207"' not in second[1]
    assert second == run_cli(["check", "--format", "json", "--select", "NP207", "--no-cache", str(tmp_path)])


REACH = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: from-tools, namespace: shop}
spec:
  podSelector: {}
  policyTypes: [Ingress]
  ingress:
  - from:
    - namespaceSelector:
        matchLabels: {team: tools}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: web:1, ports: [{containerPort: 8080}]}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: debug, namespace: tools}
spec:
  selector: {matchLabels: {app: debug}}
  template:
    metadata: {labels: {app: debug}}
    spec: {containers: [{name: debug, image: debug:1}]}
"""


def test_reach_sees_the_labels_commands_set(tmp_path: Path) -> None:
    (tmp_path / "objects.yaml").write_text(REACH)
    query = ["reach", "--from", "tools/debug", "--to", "shop/web", "--port", "8080", str(tmp_path)]
    _, before = run_cli(query)
    assert ": denied" in before.splitlines()[0]
    (tmp_path / "Makefile").write_text("label:\n\tkubectl label ns tools team=tools\n")
    _, after = run_cli(query)
    assert ": allowed" in after.splitlines()[0]


def test_a_file_named_alone_is_judged_with_the_commands_of_its_repository(tmp_path: Path) -> None:
    # As pre-commit passes files: the inventory, and the label commands, come from the root.
    (tmp_path / ".git").mkdir()
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "dns.yaml").write_text(DNS_POLICY)
    named = [
        "check",
        "--format",
        "json",
        "--select",
        "NP207",
        "--no-cache",
        str(tmp_path / "policies" / "dns.yaml"),
    ]
    assert '"NP207"' in run_cli(named)[1]
    (tmp_path / "README.md").write_text("Run `kubectl label ns kube-system name=kube-system` first.\n")
    assert '"NP207"' not in run_cli(named)[1]
