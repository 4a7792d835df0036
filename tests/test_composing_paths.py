"""The fast composers (line by line, and libyaml's own) and the event composer build identical trees.

The fast paths only ever skip work; whenever one answers, its tree must equal
the event composer's node for node: values, text, style, tag, positions, keys
and parent links. Files they decline go to the event composer, which reports
what makes them unusual. Each fast reader is held to that on its own.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import CORPUS
from nplint.loading import decode, load_text
from nplint.loading.composer import compose_events
from nplint.loading.fastpath import AVAILABLE, compose_fast, compose_libyaml
from nplint.loading.linescan import compose_lines
from nplint.loading.nodes import (
    NARROW,
    NARROW_LINES,
    MapNode,
    Node,
    ScalarNode,
    SeqNode,
    end_of,
    pack,
    unpack,
    with_end,
)

pytestmark = pytest.mark.skipif(not AVAILABLE, reason="PyYAML has no C extension on this platform")

FIXTURES = Path(__file__).parent / "fixtures"


def shape(node: Node | None) -> list[tuple[object, ...]]:
    """Everything a rule can see of a tree (keys' positions and styles too), in document order."""
    out: list[tuple[object, ...]] = []
    stack: list[tuple[Node | None, Node | None]] = [(node, None)]
    while stack:
        current, parent = stack.pop()
        if current is None:
            out.append(("none",))
            continue
        common = (current.pos, current.key_at, current.tag, current.key, current.parent is parent)
        if isinstance(current, ScalarNode):
            value = current.value
            shown = "nan" if isinstance(value, float) and math.isnan(value) else value
            out.append(("scalar", *common, type(value).__name__, shown, current.text, current.style))
        elif isinstance(current, MapNode):
            out.append(("map", *common, tuple(current.entries)))
            stack.extend((value_node, current) for value_node in reversed(current.entries.values()))
        else:
            assert isinstance(current, SeqNode)
            out.append(("seq", *common, len(current.items)))
            stack.extend((item, current) for item in reversed(current.items))
    return out


def both_ways(
    text: str, fast_reader: Callable[[str], list[tuple[int, Node]] | None] = compose_fast
) -> tuple[list[object], list[object]] | None:
    """The trees of ``fast_reader`` and of the event composer, or None when the fast one declines."""
    fast = fast_reader(text)
    if fast is None:
        return None
    documents, problems = compose_events(text)
    assert problems == []
    assert all(not d.problems and not d.failed for d in documents)
    slow = [(d.index, shape(d.root)) for d in documents]
    return [(index, shape(root)) for index, root in fast], slow  # type: ignore[return-value]


def manifest_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in (".yaml", ".yml", ".json"))


def _text(path: Path) -> str | None:
    text, _ = decode(path.read_bytes())
    if text is not None and path.suffix == ".json":
        text = text.replace("\t", " ")
    return text


#: Each fast reader on its own, and the two together as loading uses them.
READERS = {"lines": compose_lines, "libyaml": compose_libyaml, "fast": compose_fast}


def _check_tree(root: Path, reader: Callable[[str], list[tuple[int, Node]] | None]) -> tuple[int, int]:
    fast = declined = 0
    for path in manifest_files(root):
        text = _text(path)
        if text is None:
            continue
        outcome = both_ways(text, reader)
        if outcome is None:
            declined += 1
            continue
        fast += 1
        assert outcome[0] == outcome[1], path
    return fast, declined


@pytest.mark.parametrize("reader", sorted(READERS))
def test_fixtures_compose_identically(reader: str) -> None:
    fast, declined = _check_tree(FIXTURES, READERS[reader])
    # Nearly every fixture is ordinary YAML; the few that are not test the odd cases.
    # The line reader takes less of YAML, and still most of what manifests are.
    assert fast > (2 if reader == "lines" else 10) * declined


@pytest.mark.parametrize("reader", sorted(READERS))
def test_corpus_composes_identically(reader: str) -> None:
    if not CORPUS.is_dir():
        pytest.skip(f"{CORPUS} is absent (it sits beside the repository in CI only)")
    fast, _ = _check_tree(CORPUS, READERS[reader])
    # The corpus holds chart templates and files in every style; the line reader takes the plainest.
    assert fast > (600 if reader == "lines" else 1000)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("a: &x {b: 1}\nc: *x\n", "an alias"),
        ("a: !!str 80\n", "a tag"),
        ("a: !custom x\n", "a tag"),
        ("a: 1\na: 2\n", "a duplicate key"),
        ("<<: {a: 1}\nb: 2\n", "a merge key"),
        ("? [a]\n: b\n", "a complex key"),
        ("~: a\n", "a null key"),
        ("a: [\n", "a syntax error"),
        ("a: " + "[" * 1001 + "]" * 1001 + "\n", "nesting libyaml refuses"),
    ],
)
def test_unusual_input_goes_to_the_event_composer(text: str, why: str) -> None:
    assert compose_fast(text) is None, why
    assert compose_lines(text) is None, why


def test_an_anchor_without_an_alias_stays_on_the_fast_path() -> None:
    text = "a: &x {b: 1}\nc: 'R&D'\n"
    outcome = both_ways(text, compose_libyaml)
    assert outcome is not None
    assert outcome[0] == outcome[1]


def test_load_text_takes_either_path_with_the_same_result() -> None:
    text = (
        "kind: Pod\nmetadata:\n  labels: {app: web, on: yes}\nspec:\n  containers:\n  - {image: nginx:1.27}\n"
    )
    loaded = load_text("p.yaml", text)
    assert loaded.problems == []
    root = loaded.documents[0].root
    assert isinstance(root, MapNode)
    # A colon inside a flow plain scalar is text, as Kubernetes' YAML decoder reads it.
    assert root.to_python()["spec"] == {"containers": [{"image": "nginx:1.27"}]}
    assert root.to_python()["metadata"] == {"labels": {"app": "web", "on": True}}


_SCALARS = st.one_of(
    st.sampled_from(["on", "off", "yes", "~", "null", "0755", "08080", "1e3", ".inf", "0x1F", "-"]),
    st.sampled_from(["''", '""', "'a: b'", '"x\\ty"', "|\n  text"]),
    st.text(alphabet="ab:-. 0123#'\"", min_size=1, max_size=6),
)
_KEYS = st.text(alphabet="abcdef-_./", min_size=1, max_size=6)


def _yaml_text(value: object, indent: int, flow: bool) -> str:
    if isinstance(value, dict):
        if flow or not value:
            return "{" + ", ".join(f"{k}: {_yaml_text(v, 0, True)}" for k, v in value.items()) + "}"
        pad = " " * indent
        parts = []
        for k, v in value.items():
            gap = "" if isinstance(v, (dict, list)) and v else " "
            parts.append(f"\n{pad}{k}:{gap}" + _yaml_text(v, indent + 2, False))
        return "".join(parts)
    if isinstance(value, list):
        if flow or not value:
            return "[" + ", ".join(_yaml_text(v, 0, True) for v in value) + "]"
        pad = " " * indent
        return "".join(f"\n{pad}- " + _yaml_text(v, indent + 2, True) for v in value)
    return str(value)


_TREES = st.recursive(
    _SCALARS,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(_KEYS, children, max_size=4)),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(_TREES, st.booleans()), min_size=1, max_size=3))
def test_generated_streams_compose_identically(documents: list[tuple[object, bool]]) -> None:
    text = "".join("--- " + _yaml_text(tree, 0, flow) + "\n" for tree, flow in documents)
    for reader in READERS.values():
        outcome = both_ways(text, reader)
        if outcome is not None:
            assert outcome[0] == outcome[1], text


_POSITIONS = st.tuples(
    st.integers(1, 1 << 23), st.integers(1, 1 << 23), st.integers(0, 1 << 14), st.integers(1, 1 << 23)
).map(lambda p: (p[0], p[1], p[0] + p[2], p[3]))


@given(_POSITIONS, _POSITIONS)
def test_positions_pack_narrow_or_wide_and_come_back(
    pos: tuple[int, int, int, int], other: tuple[int, ...]
) -> None:
    packed = pack(pos)
    assert unpack(packed) == pos
    assert end_of(packed) == pos[2:]
    end_line, end_column = max(pos[0], other[2]), other[3]
    assert unpack(with_end(packed, end_line, end_column)) == (pos[0], pos[1], end_line, end_column)
    if pos[0] < NARROW_LINES and max(pos[1], pos[3], pos[2] - pos[0]) < NARROW:
        assert packed < 1 << 57  # stored in 32 bytes, with a key's style too


@pytest.mark.parametrize("text", ["--- [0: 0 ]\n", "[a: b  , c]\n", "x: [k: {y: 1} ]\n"])
def test_an_implicit_pair_in_a_flow_sequence_ends_where_its_value_ends(text: str) -> None:
    # libyaml ends such a mapping after the blanks that follow its value (found by the property test).
    outcome = both_ways(text, compose_libyaml)
    assert outcome is not None
    assert outcome[0] == outcome[1]
