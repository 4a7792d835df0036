"""Property-based fuzzing: whatever the input, no exception escapes, the exit code is 0 or 1,
and the JSON output parses.

The strategy builds NetworkPolicy-shaped documents (valid ones, then mutated by
deleting, retyping and duplicating nodes), and raw byte noise. CI runs a modest
number of examples; set NPLINT_FUZZ_EXAMPLES for a long local run.
"""

from __future__ import annotations

import io
import json
import os
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nplint.cli import main

EXAMPLES = int(os.environ.get("NPLINT_FUZZ_EXAMPLES", "150"))

labels = st.dictionaries(
    st.sampled_from(["app", "role", "k8s-app", "kubernetes.io/metadata.name", "team", "x/y", "bad key!"]),
    st.sampled_from(["web", "db", "kube-dns", "kube-system", "", "on", "a" * 70]),
    max_size=3,
)
expression = st.fixed_dictionaries(
    {
        "key": st.sampled_from(["app", "role", "tier"]),
        "operator": st.sampled_from(["In", "NotIn", "Exists", "DoesNotExist", "in", "Equals"]),
    },
    optional={"values": st.lists(st.sampled_from(["a", "b", "web"]), max_size=3)},
)
selector = st.fixed_dictionaries(
    {}, optional={"matchLabels": labels, "matchExpressions": st.lists(expression, max_size=2)}
)
ip_block = st.fixed_dictionaries(
    {
        "cidr": st.sampled_from(
            ["10.0.0.0/8", "0.0.0.0/0", "10.0.0.1/24", "::/0", "fd00::/8", "bad", "10.0.0.1"]
        )
    },
    optional={
        "except": st.lists(st.sampled_from(["10.1.0.0/16", "169.254.169.254/32", "11.0.0.0/8"]), max_size=2)
    },
)
peer = st.one_of(
    st.fixed_dictionaries({}, optional={"podSelector": selector, "namespaceSelector": selector}),
    st.fixed_dictionaries({"ipBlock": ip_block}),
)
port = st.fixed_dictionaries(
    {},
    optional={
        "protocol": st.sampled_from(["TCP", "UDP", "SCTP", "tcp", "ICMP"]),
        "port": st.one_of(
            st.integers(-5, 70000), st.sampled_from(["dns", "http", "8080", "BAD_NAME", "a" * 20])
        ),
        "endPort": st.integers(-1, 70000),
    },
)
rule = st.fixed_dictionaries(
    {},
    optional={
        "from": st.lists(peer, max_size=3),
        "to": st.lists(peer, max_size=3),
        "ports": st.lists(port, max_size=3),
    },
)
policy = st.builds(
    lambda name, namespace, spec: {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    },
    st.sampled_from(["p", "deny-all", "Bad_Name"]),
    st.sampled_from(["shop", "kube-system", "default"]),
    st.fixed_dictionaries(
        {},
        optional={
            "podSelector": selector,
            "policyTypes": st.lists(st.sampled_from(["Ingress", "Egress", "ingress", "Both"]), max_size=3),
            "ingress": st.lists(rule, max_size=3),
            "egress": st.lists(rule, max_size=3),
        },
    ),
)
junk = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=5)),
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(max_size=4), children, max_size=3)
    ),
    max_leaves=8,
)


@st.composite
def mutated(draw: st.DrawFn) -> Any:
    document: Any = draw(policy)
    for _ in range(draw(st.integers(0, 4))):
        containers = []
        stack = [document]
        while stack:
            node = stack.pop()
            if isinstance(node, dict):
                containers.append(node)
                stack.extend(node.values())
            elif isinstance(node, list):
                containers.append(node)
                stack.extend(node)
        target = draw(st.sampled_from(containers))
        if isinstance(target, dict) and target:
            key = draw(st.sampled_from(sorted(target)))
            action = draw(st.sampled_from(["delete", "retype", "duplicate"]))
            if action == "delete":
                del target[key]
            elif action == "retype":
                target[key] = draw(junk)
            else:
                target[key + draw(st.sampled_from(["", "s", "X"]))] = target[key]
        elif isinstance(target, list) and target:
            index = draw(st.integers(0, len(target) - 1))
            action = draw(st.sampled_from(["delete", "retype", "duplicate"]))
            if action == "delete":
                del target[index]
            elif action == "retype":
                target[index] = draw(junk)
            else:
                target.append(target[index])
    return document


def _as_text(document: Any, style: str) -> bytes:
    if style == "json":
        return json.dumps(document).encode()
    # A tiny YAML emitter in block style, so the YAML path (not only JSON) is exercised.
    lines: list[str] = []

    def emit(value: Any, indent: int) -> None:
        pad = "  " * indent
        if isinstance(value, dict):
            for key, item in value.items():
                if isinstance(item, (dict, list)) and item:
                    lines.append(f"{pad}{json.dumps(key)}:")
                    emit(item, indent + 1)
                else:
                    lines.append(f"{pad}{json.dumps(key)}: {json.dumps(item)}")
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, (dict, list)) and item:
                    lines.append(f"{pad}-")
                    emit(item, indent + 1)
                else:
                    lines.append(f"{pad}- {json.dumps(item)}")
        else:
            lines.append(f"{pad}{json.dumps(value)}")

    emit(document, 0)
    return ("\n".join(lines) + "\n").encode()


inputs = st.one_of(
    st.tuples(st.one_of(policy, mutated()), st.sampled_from(["json", "yaml"])).map(lambda t: _as_text(*t)),
    st.binary(max_size=300),
    st.tuples(mutated(), st.binary(max_size=20), st.integers(0, 400)).map(
        lambda t: (lambda text: text[: t[2]] + t[1] + text[t[2] :])(_as_text(t[0], "yaml"))
    ),
)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(content=inputs)
def test_any_input_gives_findings_never_an_error(content: bytes) -> None:
    out = io.StringIO()
    code = main(["--format", "json", "-"], stdout=out, stdin=lambda: content)
    assert code in (0, 1)
    report = json.loads(out.getvalue())
    assert isinstance(report["findings"], list)
