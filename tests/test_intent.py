"""The shared intent test: a policy's name and the written form of its selectors."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import lint_paths
from nplint.loading import load_text
from nplint.loading.nodes import MapNode
from nplint.rules.intent import (
    name_words,
    says_all_namespaces,
    says_allow_all,
    says_deny_all,
    says_every_pod,
    says_restriction,
    written_empty,
)


def test_name_words() -> None:
    assert name_words("Default-Deny_all.v2") == ("default", "deny", "all", "v2")


@pytest.mark.parametrize(
    "name", ["default-deny", "deny-all", "default-deny-egress", "denyall", "ns-deny-any"]
)
def test_deny_all_names(name: str) -> None:
    assert says_deny_all(name)
    assert says_every_pod(name)
    assert says_restriction(name)


@pytest.mark.parametrize(
    "name",
    ["allow-all", "allow-all-egress", "allowall", "allow-any-ingress", "allow-egress", "flux-allow-egress"],
)
def test_allow_all_names(name: str) -> None:
    assert says_allow_all(name)
    assert says_every_pod(name)
    assert not says_deny_all(name)


@pytest.mark.parametrize(
    "name",
    ["allow-metrics", "api-ingress", "allowed-clients", "all-allow", "web", "allow-egress-to-db", "allow"],
)
def test_names_that_say_nothing(name: str) -> None:
    assert not says_every_pod(name)
    assert not says_restriction(name)


@pytest.mark.parametrize("name", ["restrict-access", "deny-from-internet", "tenant-isolation"])
def test_restriction_names(name: str) -> None:
    assert says_restriction(name)
    assert not says_allow_all(name)


def _selector(text: str) -> MapNode:
    loaded = load_text("p.yaml", text)
    node = loaded.documents[0].root
    assert isinstance(node, MapNode)
    selector = node.get_map("podSelector")
    assert selector is not None
    return selector


def test_all_namespaces_names() -> None:
    assert says_all_namespaces("registry-allow-other-namespaces")
    assert says_all_namespaces("allow-from-all-namespaces")
    assert not says_all_namespaces("allow-monitoring-namespace")


def test_written_form() -> None:
    assert written_empty(_selector("podSelector: {matchLabels: {}}\n").get("matchLabels"))
    assert written_empty(_selector("podSelector:\n  matchLabels: null\n").get("matchLabels"))
    assert written_empty(_selector("podSelector:\n  matchLabels: ~\n").get("matchLabels"))
    assert written_empty(_selector("podSelector:\n  matchExpressions: []\n").get("matchExpressions"))
    emptied = _selector("podSelector:\n  matchLabels:\n    # app: api\npolicyTypes: [Ingress]\n")
    assert not written_empty(emptied.get("matchLabels"))
    # Bare, with the next field on the very next line: nothing was taken out of it.
    bare = _selector("podSelector:\n  matchLabels:\npolicyTypes: [Ingress]\n")
    assert written_empty(bare.get("matchLabels"))
    # Bare at the end of the document: commented lines after it cannot be seen.
    assert not written_empty(_selector("podSelector:\n  matchLabels:\n").get("matchLabels"))
    assert not written_empty(_selector("podSelector: {matchLabels: {a: b}}\n").get("matchLabels"))


POLICY = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {name}
  namespace: shop
spec:
  podSelector:
    matchLabels: {labels}
  ingress:
  - from:
    - podSelector: {{}}
  - {{}}
"""


@pytest.mark.parametrize(
    ("name", "labels", "expected"),
    [
        # The name says "every pod" and `{}` was typed: nothing is accidental.
        ("default-deny", "{}", set()),
        # Same name, labels commented out: the emptied block is still suspect.
        ("default-deny", "\n      # app: api", {("NP205", 8)}),
        # An ordinary name: the empty peer and the emptied selector are both reported.
        ("api-ingress", "{}", {("NP205", 8), ("NP202", 11)}),
        # Named for a restriction: the same-namespace peer is meant.
        ("restrict-api", "{}", {("NP205", 8)}),
    ],
)
def test_rules_share_the_intent(
    tmp_path: Path, name: str, labels: str, expected: set[tuple[str, int]]
) -> None:
    (tmp_path / "p.yaml").write_text(POLICY.format(name=name, labels=labels))
    result = lint_paths(["p.yaml"], root=tmp_path, select=["NP202", "NP205"])
    assert {(f.rule_id, f.span.line) for f in result.findings} == expected
