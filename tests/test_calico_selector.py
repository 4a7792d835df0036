"""Calico's selector language: parsing as Calico parses, evaluation, error offsets and file positions."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nplint.findings import Span
from nplint.loading import load_text
from nplint.loading.nodes import MapNode, ScalarNode
from nplint.model.calico_selector import (
    MAX_DEPTH,
    MAX_LENGTH,
    All,
    And,
    CalicoSelector,
    Global,
    Has,
    LabelMatch,
    MatchOperator,
    Not,
    Or,
    SelectorError,
    SelectorNode,
    endpoint_labels,
    locate,
    namespace_labels,
    parse_selector,
)


def _eq(key: str, value: str) -> LabelMatch:
    return LabelMatch(key, MatchOperator.EQ, (value,))


@pytest.mark.parametrize(
    ("text", "root"),
    [
        ("", All()),
        ("   ", All()),
        ("all()", All()),
        ("all( )", All()),
        ("global()", Global()),
        ("has(app)", Has("app")),
        ("has( app.kubernetes.io/name )", Has("app.kubernetes.io/name")),
        ("!has(app)", Not(Has("app"))),
        ("!!has(app)", Has("app")),
        ("!!!has(app)", Not(Has("app"))),
        ("app == 'web'", _eq("app", "web")),
        ('app=="web"', _eq("app", "web")),
        ("app != 'web'", LabelMatch("app", MatchOperator.NE, ("web",))),
        ("app == ''", _eq("app", "")),
        ("app == 'it\"s'", _eq("app", 'it"s')),
        ("app in {'b', 'a'}", LabelMatch("app", MatchOperator.IN, ("a", "b"))),
        ("app in {}", LabelMatch("app", MatchOperator.IN, ())),
        ("app in {'a',}", LabelMatch("app", MatchOperator.IN, ("a",))),
        ("app not in {'a'}", LabelMatch("app", MatchOperator.NOT_IN, ("a",))),
        ("app notin {'a'}", LabelMatch("app", MatchOperator.NOT_IN, ("a",))),
        ("app\tnot \t in {'a'}", LabelMatch("app", MatchOperator.NOT_IN, ("a",))),
        ("app contains 'e'", LabelMatch("app", MatchOperator.CONTAINS, ("e",))),
        ("app starts  with 'w'", LabelMatch("app", MatchOperator.STARTS_WITH, ("w",))),
        ("app ends with 'b'", LabelMatch("app", MatchOperator.ENDS_WITH, ("b",))),
        # A label may be a word that is an operator or a function name elsewhere.
        ("all == 'x'", _eq("all", "x")),
        ("in == 'x'", _eq("in", "x")),
        ("has == 'x'", _eq("has", "x")),
        (
            "projectcalico.org/namespace == 'prod'",
            _eq("projectcalico.org/namespace", "prod"),
        ),
        # `&&` binds tighter than `||`.
        ("a == '1' || b == '2' && c == '3'", Or((_eq("a", "1"), And((_eq("b", "2"), _eq("c", "3")))))),
        ("a == '1' && b == '2' || c == '3'", Or((And((_eq("a", "1"), _eq("b", "2"))), _eq("c", "3")))),
        ("(a == '1' || b == '2') && c == '3'", And((Or((_eq("a", "1"), _eq("b", "2"))), _eq("c", "3")))),
        # `!` takes one operation or one parenthesised group, not the whole conjunction.
        ("!a == '1' && b == '2'", And((Not(_eq("a", "1")), _eq("b", "2")))),
        ("!(a == '1' && b == '2')", Not(And((_eq("a", "1"), _eq("b", "2"))))),
        ("a == '1' && b == '2' && c == '3'", And((_eq("a", "1"), _eq("b", "2"), _eq("c", "3")))),
    ],
)
def test_parses_as_calico(text: str, root: SelectorNode) -> None:
    assert parse_selector(text).root == root


@pytest.mark.parametrize(
    ("text", "offset", "fragment"),
    [
        ("app == web", 7, "expected a string after `==` (a value must be quoted"),
        ("app = 'web'", 4, "expected `==`"),
        ("app == 'web", 7, "unterminated string"),
        ('app == "web', 7, "unterminated string"),
        ("app == 'web' & b == 'x'", 13, "expected `&&`"),
        ("app == 'web' | b == 'x'", 13, "expected `||`"),
        ("app", 3, "after the label `app`, found the end of the selector"),
        ("app 'web'", 4, "after the label `app`, found a string"),
        ("app is 'web'", 4, "expected an operator (`==`, `!=`, `in`, `not in`, …) after the label `app`"),
        ("app starts 'w'", 4, "expected an operator"),
        ("app not 'w'", 4, "expected an operator"),
        ("app in 'a'", 7, "expected a set literal"),
        ("app in {'a' 'b'}", 12, "expected `}` to close the set"),
        ("app in {a}", 8, "expected `}` to close the set"),
        ("has(app", 4, "no label name in `has(`"),
        ("has()", 4, "no label name in `has(`"),
        ("has(app x)", 8, "no closing `)` after `has(`"),
        ("has (app)", 4, "expected an operator"),
        ("all(x)", 4, "no closing `)` after `all(`"),
        ("global(", 7, "no closing `)` after `global(`"),
        ("(app == 'a'", 11, "expected `)` to close the `(` at character 1"),
        ("app == 'a')", 10, "unexpected `)` after a complete selector"),
        ("app == 'a' app == 'b'", 11, "unexpected a label after a complete selector"),
        ("&& app == 'a'", 0, "unexpected `&&`"),
        ("app == 'a' &&", 13, "unexpected the end of the selector"),
        ("!", 1, "unexpected the end of the selector"),
        ("()", 1, "unexpected `)`"),
        ("app == 'a'\n", 10, "a line break"),
        ("app == 'a' && é == 'b'", 14, "unexpected character `é`"),
        ("app == 'a' $", 11, "unexpected character `$`"),
    ],
)
def test_rejects_what_calico_rejects_at_its_offset(text: str, offset: int, fragment: str) -> None:
    with pytest.raises(SelectorError) as caught:
        parse_selector(text)
    assert caught.value.offset == offset
    assert fragment in caught.value.message
    assert not caught.value.limit


def test_limits_refuse_hostile_input() -> None:
    with pytest.raises(SelectorError) as caught:
        parse_selector("(" * (MAX_DEPTH + 1) + "all()" + ")" * (MAX_DEPTH + 1))
    assert caught.value.limit and caught.value.offset == MAX_DEPTH
    deep = "(" * MAX_DEPTH + "all()" + ")" * MAX_DEPTH
    assert parse_selector(deep).root == All()
    with pytest.raises(SelectorError) as caught:
        parse_selector("a" * (MAX_LENGTH + 1))
    assert caught.value.limit
    # A long chain of `!` and of `&&` is iterative, not recursive.
    assert parse_selector("!" * 5001 + "has(a)").root == Not(Has("a"))
    assert len(parse_selector(" && ".join(["has(a)"] * 1500)).root.operands) == 1500  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("text", "labels", "expected"),
    [
        ("app == 'web'", {"app": "web"}, True),
        ("app == 'web'", {"app": "db"}, False),
        ("app == 'web'", {}, False),
        # The negative operators match resources that lack the label (policy-kinds §7.3).
        ("app != 'web'", {}, True),
        ("app != 'web'", {"app": "web"}, False),
        ("app not in {'web'}", {}, True),
        ("app not in {'web'}", {"app": "web"}, False),
        ("app in {'web', 'db'}", {"app": "db"}, True),
        ("app in {}", {"app": ""}, False),
        ("has(app)", {"app": ""}, True),
        ("!has(app)", {"app": ""}, False),
        ("app contains 'e'", {"app": "web"}, True),
        ("app starts with 'w'", {"app": "web"}, True),
        ("app ends with 'w'", {"app": "web"}, False),
        ("app ends with 'w'", {}, False),
        ("all()", {}, True),
        ("!all()", {"a": "b"}, False),
        ("global()", {}, True),
    ],
)
def test_matches(text: str, labels: dict[str, str], expected: bool) -> None:
    assert parse_selector(text).matches(labels) is expected


def test_special_labels() -> None:
    pod = endpoint_labels({"app": "web"}, "prod", "api")
    selector = parse_selector(
        "projectcalico.org/namespace == 'prod' && projectcalico.org/orchestrator == 'k8s'"
        " && projectcalico.org/serviceaccount == 'api' && app == 'web'"
    )
    assert selector.matches(pod)
    assert not selector.matches(endpoint_labels({"app": "web"}, "dev", "api"))
    namespace = namespace_labels({"team": "a"}, "prod")
    assert parse_selector("projectcalico.org/name == 'prod' && team == 'a'").matches(namespace)
    assert parse_selector("kubernetes.io/metadata.name == 'prod'").matches(namespace)


def test_selector_flags() -> None:
    assert parse_selector("").is_all
    assert not parse_selector("has(a)").is_all
    assert parse_selector("has(a) || !global()").uses_global
    assert not parse_selector("has(a)").uses_global


# --- properties -------------------------------------------------------------------------

KEYS = ("app", "tier", "a.b/c-d_e")
VALUES = ("x", "y", "", "it's", 'say "hi"')
label_sets = st.dictionaries(st.sampled_from(KEYS), st.sampled_from(VALUES), max_size=3)


def _leaves() -> st.SearchStrategy[SelectorNode]:
    value_ops = [m for m in MatchOperator if m not in (MatchOperator.IN, MatchOperator.NOT_IN)]
    single = st.builds(
        lambda key, op, value: LabelMatch(key, op, (value,)),
        st.sampled_from(KEYS),
        st.sampled_from(value_ops),
        st.sampled_from(VALUES),
    )
    sets = st.builds(
        lambda key, op, values: LabelMatch(key, op, tuple(sorted(set(values)))),
        st.sampled_from(KEYS),
        st.sampled_from([MatchOperator.IN, MatchOperator.NOT_IN]),
        st.lists(st.sampled_from(VALUES), max_size=3),
    )
    return st.one_of(st.just(All()), st.builds(Has, st.sampled_from(KEYS)), single, sets)


trees = st.recursive(
    _leaves(),
    lambda inner: st.one_of(
        st.builds(Not, inner),
        st.builds(lambda ops: And(tuple(ops)), st.lists(inner, min_size=2, max_size=3)),
        st.builds(lambda ops: Or(tuple(ops)), st.lists(inner, min_size=2, max_size=3)),
    ),
    max_leaves=8,
)


def _reference(node: SelectorNode, labels: dict[str, str]) -> bool:
    """Calico's semantics written independently of the classes' own ``matches``."""
    if isinstance(node, All):
        return True
    if isinstance(node, Has):
        return node.key in labels
    if isinstance(node, Not):
        return not _reference(node.operand, labels)
    if isinstance(node, And):
        return all(_reference(op, labels) for op in node.operands)
    if isinstance(node, Or):
        return any(_reference(op, labels) for op in node.operands)
    assert isinstance(node, LabelMatch)
    present = node.key in labels
    value = labels.get(node.key, "")
    operator = node.operator
    if operator is MatchOperator.IN:
        return present and value in node.values
    if operator is MatchOperator.NOT_IN:
        return not present or value not in node.values
    (wanted,) = node.values
    if operator is MatchOperator.EQ:
        return present and value == wanted
    if operator is MatchOperator.NE:
        return not present or value != wanted
    if operator is MatchOperator.CONTAINS:
        return present and wanted in value
    if operator is MatchOperator.STARTS_WITH:
        return present and value.startswith(wanted)
    return present and value.endswith(wanted)


@settings(max_examples=200, deadline=None)
@given(trees, label_sets)
def test_printed_selector_parses_back_with_the_same_meaning(
    tree: SelectorNode, labels: dict[str, str]
) -> None:
    parsed = parse_selector(str(tree))
    assert parsed.matches(labels) is _reference(tree, labels)
    # Printing is a fixed point after one round.
    assert str(parse_selector(str(parsed))) == str(parsed)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab =!&|(){},'\"\tinothaswlgbc.-/\n")), max_size=40))
def test_any_text_parses_or_fails_at_an_offset_inside_it(text: str) -> None:
    try:
        selector = parse_selector(text)
    except SelectorError as error:
        assert 0 <= error.offset <= len(text)
    else:
        assert isinstance(selector, CalicoSelector)
        assert str(parse_selector(str(selector))) == str(selector)


# --- positions in YAML ------------------------------------------------------------------


def _scalar(yaml_text: str) -> ScalarNode:
    loaded = load_text("x.yaml", yaml_text)
    root = loaded.documents[0].root
    assert isinstance(root, MapNode)
    node = root.get("selector")
    assert isinstance(node, ScalarNode)
    return node


@pytest.mark.parametrize(
    ("yaml_text", "offset", "column"),
    [
        ("selector: app == web\n", 7, 18),
        ("selector: 'app == web'\n", 7, 19),
        ("selector: 'it''s == web'\n", 8, 21),
        ('selector: "app == web"\n', 7, 19),
        ('selector: "a \\"b\\" == c"\n', 9, 23),
    ],
)
def test_locate_one_line_scalars(yaml_text: str, offset: int, column: int) -> None:
    node = _scalar(yaml_text)
    span = locate(node, offset)
    assert span == Span.point(1, column)
    line = yaml_text.splitlines()[0]
    assert line[column - 1] == node.text[offset]


def test_locate_multi_line_scalar_returns_its_span() -> None:
    node = _scalar("selector: >-\n  app == 'a' &&\n  b == c\n")
    assert locate(node, 20) == node.span
    node = _scalar("selector: |\n  app == web\n")
    assert locate(node, 7) == node.span
