"""NP004 and the selector-hygiene rules (NP202, NP203, NP205, NP207, NP208): messages, fixes, edges.

The fixtures decide where each rule fires; these tests pin what the findings
say (the advice a user acts on) and that odd input never makes a rule raise.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from nplint.config import Config
from nplint.findings import Finding
from nplint.loading import iter_manifests, load_text
from nplint.model import build_inventory
from nplint.rules.api import DeprecatedApiVersion, custom_kind_groups, meant_builtin, problem
from nplint.rules.base import Rule, RuleContext
from nplint.rules.selector_hygiene import (
    AllNamespacesPeer,
    EmptySelectorByAccident,
    EphemeralLabelSelector,
    SameNamespaceOnlyPeer,
    UnknownNamespaceLabel,
    emptied_field,
)

RULES: tuple[type[Rule], ...] = (
    DeprecatedApiVersion,
    SameNamespaceOnlyPeer,
    AllNamespacesPeer,
    EmptySelectorByAccident,
    UnknownNamespaceLabel,
    EphemeralLabelSelector,
)


def run(rule: type[Rule], text: str, options: Mapping[str, Any] | None = None) -> list[Finding]:
    loaded = load_text("policy.yaml", text)
    inventory = build_inventory(iter_manifests(loaded))
    ctx = RuleContext(
        inventory=inventory, config=Config(), files=[loaded], options={**rule.options, **(options or {})}
    )
    return list(rule().check(ctx))


def only(rule: type[Rule], text: str, options: Mapping[str, Any] | None = None) -> Finding:
    findings = run(rule, text, options)
    assert len(findings) == 1, findings
    return findings[0]


def policy(spec: str, name: str = "p", namespace: str = "shop") -> str:
    return (
        f"apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
        f"metadata:\n  name: {name}\n  namespace: {namespace}\nspec:\n{spec}"
    )


# NP004 ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("api_version", "words"),
    [
        ("extensions/v1beta1", "no longer served since 1.16"),
        ("networking.k8s.io/v1beta1", "no NetworkPolicy in version `v1beta1`"),
        ("networking.k8s.io/V1", "not spelled exactly"),
        ("Networking.k8s.io/v1", "not spelled exactly"),
        ("v1", "core API group"),
        ("networking.k8s.io", "not of the form `group/version`"),
        ("netwroking.k8s.io/v1", "a misspelling of `networking.k8s.io`"),
        ("policy.networking.k8s.io/v1alpha1", "AdminNetworkPolicy"),
        ("apps.k8s.io/v1", "has no NetworkPolicy kind"),
    ],
)
def test_np004_problem_names_the_cause(api_version: str, words: str) -> None:
    assert meant_builtin(api_version)
    message = problem(api_version)
    assert message is not None and words in message


def test_np004_served_version_is_no_problem() -> None:
    assert problem("networking.k8s.io/v1") is None


@pytest.mark.parametrize(
    "api_version",
    ["projectcalico.org/v3", "crd.projectcalico.org/v1", "crd.antrea.io/v1beta1", "cilium.io/v2"],
)
def test_np004_other_groups_have_kinds_of_the_same_name(api_version: str) -> None:
    assert not meant_builtin(api_version)


def test_np004_crds_of_the_repository_declare_groups() -> None:
    text = (
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: x}\n"
        "spec: {group: networking.k8s.local, names: {kind: NetworkPolicy, plural: networkpolicies}}\n"
        "---\n"
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: y}\n"
        "spec: {group: other.example.com, names: {kind: Widget}}\n"
    )
    manifests = list(iter_manifests(load_text("crd.yaml", text)))
    groups = custom_kind_groups(manifests, "NetworkPolicy")
    assert groups == frozenset({"networking.k8s.local"})
    assert meant_builtin("networking.k8s.local/v1")
    assert not meant_builtin("networking.k8s.local/v1", groups)


def test_np004_fix_is_the_served_version() -> None:
    finding = only(
        DeprecatedApiVersion,
        policy("  podSelector: {}\n").replace("networking.k8s.io/v1", "extensions/v1beta1"),
    )
    assert finding.fix == "apiVersion: networking.k8s.io/v1"
    assert (
        finding.message == "`extensions/v1beta1` is no longer served since 1.16: write `networking.k8s.io/v1`"
    )
    assert "the spec fields are the same" in finding.detail
    assert (finding.span.line, finding.span.column) == (1, 13)
    assert finding.object is not None and finding.object.name == "p"


def test_np004_missing_version_points_at_kind_and_names_the_object() -> None:
    finding = only(DeprecatedApiVersion, "kind: NetworkPolicy\nmetadata: {name: p, namespace: shop}\n")
    assert finding.message == "NetworkPolicy without apiVersion: add `apiVersion: networking.k8s.io/v1`"
    assert "cannot tell which resource" in finding.detail
    assert (finding.span.line, finding.span.column) == (1, 1)


def test_np004_unbuilt_object_still_reported() -> None:
    # No metadata: the inventory builds no object, the rule still reports the document.
    finding = only(DeprecatedApiVersion, "apiVersion: networking.k8s.io/v1beta1\nkind: NetworkPolicy\n")
    assert finding.object is None and finding.path == "policy.yaml"


# NP202 ---------------------------------------------------------------------------------------


def test_np202_message_explains_and_suggests_all_namespaces() -> None:
    finding = only(
        SameNamespaceOnlyPeer, policy("  podSelector: {}\n  ingress:\n  - from:\n    - podSelector: {}\n")
    )
    assert "only this namespace's pods" in finding.message
    assert "`- namespaceSelector: {}`" in finding.message
    assert "every pod of namespace 'shop' only" in finding.detail
    assert (
        finding.fix is not None and "namespaceSelector: {}" in finding.fix and "podSelector:" in finding.fix
    )


def test_np202_egress_wording() -> None:
    text = policy("  podSelector: {}\n  policyTypes: [Egress]\n  egress:\n  - to:\n    - podSelector: {}\n")
    finding = only(SameNamespaceOnlyPeer, text)
    assert "allows connections to" in finding.message
    assert finding.fix is not None and finding.fix.startswith("to:")


# NP203 ---------------------------------------------------------------------------------------

ALL_NAMESPACES = "  podSelector: {}\n  ingress:\n  - from:\n    - namespaceSelector: {}\n"


def test_np203_message_and_fix_name_namespaces() -> None:
    finding = only(AllNamespacesPeer, policy(ALL_NAMESPACES))
    assert "every pod of every namespace on every port" in finding.message
    assert "every pod of every namespace of the cluster on every port" in finding.detail
    assert "kubernetes.io/metadata.name: <namespace>" in finding.detail
    assert finding.fix is not None and "kubernetes.io/metadata.name" in finding.fix
    assert (finding.span.line, finding.span.column) == (10, 7)


def test_np203_port_restricted_only_with_the_option() -> None:
    text = policy(ALL_NAMESPACES + "    ports:\n    - port: 8080\n")
    assert run(AllNamespacesPeer, text) == []
    finding = only(AllNamespacesPeer, text, {"port-restricted": True})
    assert "on the ports of this rule" in finding.message


def test_np203_option_of_the_wrong_type_keeps_the_default() -> None:
    text = policy(ALL_NAMESPACES + "    ports:\n    - port: 8080\n")
    assert run(AllNamespacesPeer, text, {"port-restricted": "yes"}) == []


# NP205 ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "words", "fix"),
    [
        ("  podSelector:\n    matchLabels:\n", "`matchLabels` is null", "podSelector: {}"),
        ("  podSelector:\n    matchExpressions: []\n", "put the expressions back", "podSelector: {}"),
        (
            "  podSelector: {}\n  ingress:\n  - from:\n    - namespaceSelector: {matchLabels: {}}\n",
            "every pod of every namespace of the cluster",
            "namespaceSelector: {}",
        ),
        (
            "  podSelector: {}\n  ingress:\n  - from:\n    - namespaceSelector: {matchLabels: {team: a}}\n"
            "      podSelector: {matchLabels: {}}\n",
            "every pod of the namespaces matching {team=a}",
            "podSelector: {}",
        ),
    ],
)
def test_np205_message_says_what_the_selector_now_covers(spec: str, words: str, fix: str) -> None:
    finding = only(EmptySelectorByAccident, policy(spec))
    assert words.lower() in f"{finding.message} {finding.detail}".lower()
    assert finding.fix == fix
    assert f"write `{fix}`" in finding.message


def test_np205_points_at_the_key() -> None:
    finding = only(EmptySelectorByAccident, policy("  podSelector:\n    matchLabels: {}\n"))
    assert (finding.span.line, finding.span.column, finding.span.end_column) == (8, 5, 16)


def test_emptied_field_ignores_malformed_fields() -> None:
    loaded = load_text("x.yaml", "matchLabels: app=web\nmatchExpressions: []\n")
    root = loaded.documents[0].root
    from nplint.loading.nodes import MapNode

    assert isinstance(root, MapNode)
    assert emptied_field(root) is None


# NP207 ---------------------------------------------------------------------------------------


def namespace_peer(labels: str) -> str:
    """A spec whose one egress peer selects namespaces by ``labels`` (flow-style mapping body)."""
    return (
        "  podSelector: {}\n  policyTypes: [Egress]\n  egress:\n  - to:\n"
        "    - namespaceSelector:\n        matchLabels: {" + labels + "}\n"
    )


def test_np207_suggests_the_automatic_label() -> None:
    finding = only(UnknownNamespaceLabel, policy(namespace_peer("name: kube-system")))
    assert "select by `kubernetes.io/metadata.name`" in finding.message
    assert "`kubernetes.io/metadata.name: kube-system`" in finding.detail
    assert finding.fix == "kubernetes.io/metadata.name: kube-system"
    assert "rules.NP207.namespace-labels" in finding.detail


def test_np207_in_expression_suggests_an_expression() -> None:
    spec = (
        "  podSelector: {}\n  ingress:\n  - from:\n    - namespaceSelector:\n        matchExpressions:\n"
        "        - {key: name, operator: In, values: [kube-system, monitoring]}\n"
    )
    finding = only(UnknownNamespaceLabel, policy(spec))
    assert (
        finding.fix == "{key: kubernetes.io/metadata.name, operator: In, values: [kube-system, monitoring]}"
    )


def test_np207_misspelling_of_a_carried_label() -> None:
    text = (
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: web\n  labels: {team-name: web, env1: a}\n---\n"
        + policy(namespace_peer("team_name: web"))
    )
    finding = only(UnknownNamespaceLabel, text)
    assert "did you mean `team-name`?" in finding.message
    assert finding.fix == "team-name: web"
    # A short key is no misspelling of another short one.
    assert run(UnknownNamespaceLabel, text.replace("team_name: web", "env: a")) == []


def test_np207_relates_the_defined_namespace() -> None:
    text = (
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: payments\n  labels: {team: pay}\n---\n"
        + policy(namespace_peer("project: payments"))
    )
    finding = only(UnknownNamespaceLabel, text)
    assert "Namespace 'payments' is defined in this repository without it" in finding.detail
    assert [r.span.line for r in finding.related] == [4]


@pytest.mark.parametrize(
    ("options", "count"),
    [
        ({"namespace-labels": ["name"]}, 0),
        ({"namespace-labels": "name"}, 1),  # not a list: ignored, never a crash
        ({"namespaces-complete": True}, 1),
    ],
)
def test_np207_options(options: dict[str, Any], count: int) -> None:
    assert len(run(UnknownNamespaceLabel, policy(namespace_peer("name: kube-system")), options)) == count


def test_np207_complete_needs_defined_namespaces() -> None:
    text = policy(namespace_peer("tier: backend"))
    assert run(UnknownNamespaceLabel, text, {"namespaces-complete": True}) == []
    with_namespace = "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n---\n" + text
    finding = only(UnknownNamespaceLabel, with_namespace, {"namespaces-complete": True})
    assert "no Namespace defined in this repository has it" in finding.detail


# NP208 ---------------------------------------------------------------------------------------


def test_np208_suggests_dropping_the_label_when_the_rest_selects() -> None:
    finding = only(
        EphemeralLabelSelector,
        policy("  podSelector:\n    matchLabels: {app: api, pod-template-hash: 7d4b9c8f6d}\n"),
    )
    assert finding.message == (
        "the selector uses a `pod-template-hash` value, which changes with every rollout: remove it"
    )
    assert (
        "Remove `pod-template-hash`: the rest, {matchLabels: {app: api}}, selects the workload"
        in finding.detail
    )


def test_np208_without_other_labels_points_at_the_template_labels() -> None:
    finding = only(
        EphemeralLabelSelector, policy("  podSelector:\n    matchLabels: {controller-revision-hash: web-5}\n")
    )
    assert finding.message.endswith(": select by stable template labels")
    assert "stable labels of their pod template" in finding.detail


def test_np208_not_in_lapses_and_pod_name_not_in_stays() -> None:
    spec = (
        "  podSelector:\n    matchExpressions:\n"
        "    - {key: pod-template-hash, operator: NotIn, values: [abc]}\n"
        "    - {key: statefulset.kubernetes.io/pod-name, operator: NotIn, values: [kafka-0]}\n"
    )
    finding = only(EphemeralLabelSelector, policy(spec))
    assert "the exclusion then lapses" in finding.detail


def test_np208_namespace_selector_matches_nothing() -> None:
    spec = (
        "  podSelector: {}\n  ingress:\n  - from:\n"
        "    - namespaceSelector: {matchLabels: {controller-uid: x}}\n"
    )
    finding = only(EphemeralLabelSelector, policy(spec))
    assert "matches no namespace" in finding.detail


# Robustness ----------------------------------------------------------------------------------

MALFORMED = [
    "apiVersion: {a: b}\nkind: NetworkPolicy\nmetadata: {name: p}\n",
    "apiVersion: [1]\nkind: NetworkPolicy\nmetadata: {name: p}\n",
    "apiVersion: 1\nkind: NetworkPolicy\nmetadata: {name: p}\nspec: {podSelector: {}}\n",
    policy("  podSelector: 7\n"),
    policy("  podSelector: {matchLabels: [a, b], matchExpressions: {a: b}}\n"),
    policy("  podSelector:\n    matchExpressions: [~, 3, {key: ~}, {key: [x]}, {operator: In}]\n"),
    policy("  podSelector: {}\n  ingress: [~, 3, {from: 5}, {from: [~, 7, [], {}]}]\n"),
    policy(
        "  podSelector: {}\n  ingress:\n  - from:\n"
        "    - namespaceSelector: {matchLabels: {name: [kube-system]}}\n"
    ),
    policy(
        "  podSelector: {}\n  egress:\n  - to:\n"
        "    - namespaceSelector: {matchExpressions: [{key: name, operator: In, values: 3}]}\n"
    ),
    policy(
        "  podSelector: {}\n  ingress:\n  - from:\n"
        "    - {namespaceSelector: {}, podSelector: {}, ipBlock: {cidr: 10.0.0.0/8}}\n"
    ),
    "apiVersion: v1\nkind: NetworkPolicyList\nitems: [{metadata: {name: a}}, 3, ~]\n",
    "kind: NetworkPolicyList\nitems: [{metadata: {name: a}}]\n",
]


@pytest.mark.parametrize("text", MALFORMED)
@pytest.mark.parametrize("rule", RULES, ids=[r.id for r in RULES])
def test_rules_never_raise_on_malformed_input(rule: type[Rule], text: str) -> None:
    for finding in run(rule, text):
        assert finding.rule_id == rule.id and finding.message


def test_findings_come_in_document_order() -> None:
    spec = (
        "  podSelector:\n    matchLabels: {pod-template-hash: a}\n  ingress:\n  - from:\n"
        "    - podSelector: {matchLabels: {controller-revision-hash: b}}\n"
        "    - podSelector: {matchLabels: {pod-template-hash: c}}\n"
    )
    lines = [f.span.line for f in run(EphemeralLabelSelector, policy(spec))]
    assert lines == sorted(lines) and len(lines) == 3
