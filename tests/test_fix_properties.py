"""Random edits from the fix catalogue on generated manifests: the YAML still parses, the API server takes it.

"The API server takes it" is nplint's own schema rules (NP002 unknown fields,
NP003 invalid values, NP004 API version): a fixed document raises none of them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import lint_text
from nplint.findings import Edit, Fix
from nplint.fixing.writer import plan_fixes
from nplint.loading import load_text

LABEL = st.sampled_from(["app", "tier", "k8s-app", "team"])
VALUE = st.sampled_from(["web", "db", "api", "kube-dns", "53", "true"])
LABELS = st.dictionaries(LABEL, VALUE, min_size=1, max_size=2)
SELECTOR = st.builds(lambda labels: {"matchLabels": labels}, LABELS)
PORT = st.one_of(
    st.builds(lambda n: {"port": n}, st.integers(1, 65535)),
    st.builds(
        lambda n, p: {"port": n, "protocol": p}, st.integers(1, 65535), st.sampled_from(["TCP", "UDP"])
    ),
)
PEER = st.one_of(
    st.builds(lambda s: {"podSelector": s}, SELECTOR),
    st.builds(lambda s, t: {"namespaceSelector": s, "podSelector": t}, SELECTOR, SELECTOR),
    st.just({"ipBlock": {"cidr": "10.0.0.0/8"}}),
)
RULE = st.builds(
    lambda peers, ports: {**({"to": peers} if peers else {}), **({"ports": ports} if ports else {})},
    st.lists(PEER, max_size=2),
    st.lists(PORT, max_size=2),
)


@st.composite
def policies(draw: st.DrawFn) -> dict[str, Any]:
    spec: dict[str, Any] = {"podSelector": draw(st.one_of(st.just({}), SELECTOR))}
    if draw(st.booleans()):
        spec["policyTypes"] = draw(st.sampled_from([["Egress"], ["Ingress", "Egress"]]))
    if draw(st.booleans()):
        spec["egress"] = draw(st.lists(RULE, min_size=1, max_size=2))
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "p", "namespace": "shop"},
        "spec": spec,
    }


DNS_RULE = {
    "to": [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
        }
    ],
    "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
}
DENY = {
    "apiVersion": "networking.k8s.io/v1",
    "kind": "NetworkPolicy",
    "metadata": {"name": "default-deny", "namespace": "shop"},
    "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
}


def _catalogue(policy: dict[str, Any]) -> list[Edit]:
    """The edits nplint's fixes make, where they apply to this policy."""
    spec = policy["spec"]
    edits = [
        Edit.make("set", ["spec"], "policyTypes", ["Ingress", "Egress"], after="podSelector"),
        Edit.make("set", [], "apiVersion", "networking.k8s.io/v1", after=""),
        Edit.make("new-document", [], None, DENY),
    ]
    if "egress" in spec:
        edits.append(Edit.make("append", ["spec", "egress"], None, DNS_RULE))
        for index, rule in enumerate(spec["egress"]):
            if "ports" in rule:
                edits.append(
                    Edit.make(
                        "append", ["spec", "egress", index, "ports"], None, {"port": 53, "protocol": "TCP"}
                    )
                )
                edits.append(
                    Edit.make("set", ["spec", "egress", index, "ports", 0], "protocol", "UDP", after="port")
                )
            for peer_index, peer in enumerate(rule.get("to", [])):
                if "ipBlock" in peer:
                    edits.append(
                        Edit.make(
                            "set",
                            ["spec", "egress", index, "to", peer_index, "ipBlock"],
                            "cidr",
                            "10.0.0.0/8",
                        )
                    )
    else:
        edits.append(Edit.make("set", ["spec"], "egress", [DNS_RULE], after="policyTypes"))
    return edits


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    policy=policies(),
    flow=st.sampled_from([False, None]),
    indent=st.sampled_from([2, 4]),
    crlf=st.booleans(),
    data=st.data(),
)
def test_random_catalogue_edits_parse_and_pass_the_schema_rules(
    policy: dict[str, Any], flow: bool | None, indent: int, crlf: bool, data: st.DataObject, tmp_path: Path
) -> None:
    # A copy with no shared parts: PyYAML would write a part that appears twice as an alias.
    policy = json.loads(json.dumps(policy))
    text = yaml.safe_dump(policy, default_flow_style=flow, indent=indent, sort_keys=False)
    if crlf:
        text = text.replace("\n", "\r\n")
    catalogue = _catalogue(policy)
    chosen = data.draw(st.lists(st.sampled_from(catalogue), min_size=1, max_size=3, unique_by=repr))
    name = "policy.yaml"
    (tmp_path / name).write_bytes(text.encode())
    plan = plan_fixes(tmp_path, [Fix("edit", True, (edit,), name, 0) for edit in chosen], [name])
    if flow is False and indent == 2:
        # Block style, one indentation throughout: nothing for the writer to refuse. (With
        # indent=4 PyYAML writes `- a` but `-   key: a`, two styles ruamel cannot both keep.)
        assert not plan.notes, plan.notes
    for change in plan.changes:
        after = change.after.decode()
        if crlf:
            assert after.count("\n") == after.count("\r\n")
        loaded = load_text(name, after.replace("\r\n", "\n"))
        assert not loaded.problems and not any(d.problems for d in loaded.documents), after
        result = lint_text(after, select=["NP002", "NP003", "NP004"], tmp_path=tmp_path, name="fixed.yaml")
        assert not result.findings, (after, result.findings)
