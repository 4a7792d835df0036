"""``load_python`` gives what ``load_text`` gives, without the nodes, or declines.

Discovery reads every kustomization file of a repository for its data alone
(:func:`nplint.discovery.parse_kustomization`). The shortcut must never change
what it reads: whenever it answers, its values equal ``to_python()`` of the
roots ``load_text`` composes, and the file is one ``load_text`` loads cleanly.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import CORPUS
from nplint.discovery import ParsedKustomization, parse_kustomization
from nplint.loading import decode, load_python, load_text
from nplint.loading.fastpath import AVAILABLE, PYTHON_DEPTH

pytestmark = pytest.mark.skipif(not AVAILABLE, reason="PyYAML has no C extension on this platform")

FIXTURES = Path(__file__).parent / "fixtures"


def agrees(text: str) -> bool:
    """Whether ``load_python`` answered; when it did, that it gave what ``load_text`` gives."""
    fast = load_python(text)
    if fast is None:
        return False
    loaded = load_text("f.yaml", text)
    assert loaded.problems == []
    assert all(not d.failed and not d.problems and d.root is not None for d in loaded.documents)
    slow = [d.root.to_python() for d in loaded.documents if d.root is not None]
    # repr: the order of keys counts, and a NaN equals itself.
    assert repr(fast) == repr(slow), text
    return True


def _check_tree(root: Path) -> tuple[int, int]:
    fast = declined = 0
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in (".yaml", ".yml")):
        text, _ = decode(path.read_bytes())
        if text is None:
            continue
        if agrees(text):
            fast += 1
        else:
            declined += 1
    return fast, declined


def test_fixtures_give_the_same_values() -> None:
    fast, declined = _check_tree(FIXTURES)
    assert fast > 10 * declined


def test_corpus_gives_the_same_values() -> None:
    if not CORPUS.is_dir():
        pytest.skip(f"{CORPUS} is absent (it sits beside the repository in CI only)")
    fast, _ = _check_tree(CORPUS)
    assert fast > 1000


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("a: &x {b: 1}\nc: *x\n", "an alias"),
        ("a: &x b\nc: *x\n", "an alias of a scalar"),
        ("a: !!str 80\n", "a tag"),
        ("a: 1\na: 2\n", "a duplicate key"),
        ("<<: {a: 1}\nb: 2\n", "a merge key"),
        ("? [a]\n: b\n", "a complex key"),
        ("~: a\n", "a null key"),
        ("a: [\n", "a syntax error"),
        ("a: b\x07\n", "a control character"),
        ("a: " + "[" * (PYTHON_DEPTH + 1) + "]" * (PYTHON_DEPTH + 1) + "\n", "deep nesting"),
    ],
)
def test_unusual_input_is_declined(text: str, why: str) -> None:
    assert load_python(text) is None, why


def test_plain_scalars_are_resolved_as_the_loader_resolves_them() -> None:
    text = "resources:\n- base\non: yes\nport: 0755\nnone: ~\nquoted: 'yes'\n---\n---\n- a\n"
    assert agrees(text)
    assert load_python(text) == [
        {"resources": ["base"], "on": True, "port": 493, "none": None, "quoted": "yes"},
        None,
        ["a"],
    ]


@pytest.mark.parametrize(
    ("text", "first", "mapping", "clean"),
    [
        ("resources:\n- ../base\n", {"resources": ["../base"]}, {"resources": ["../base"]}, True),
        ("- a\n---\nresources: [x]\n", ["a"], {"resources": ["x"]}, False),
        ("---\n---\nresources: [x]\n", None, {"resources": ["x"]}, True),
        ("", None, None, True),
    ],
)
def test_a_kustomization_reads_the_same_either_way(
    tmp_path: Path, text: str, first: object, mapping: object, clean: bool
) -> None:
    path = tmp_path / "kustomization.yaml"
    path.write_text(text)
    fast = parse_kustomization(str(path))
    assert fast == ParsedKustomization(len(text.encode()), True, first, mapping, clean=clean)


def test_a_kustomization_the_shortcut_declines_is_read_the_long_way(tmp_path: Path) -> None:
    path = tmp_path / "kustomization.yaml"
    path.write_text("resources: &r\n- ../base\ncomponents: *r\n")
    assert load_python(path.read_text()) is None
    parsed = parse_kustomization(str(path))
    assert parsed is not None
    assert parsed.mapping == {"resources": ["../base"], "components": ["../base"]}
    assert parsed.clean


_SCALARS = st.one_of(
    st.sampled_from(["on", "off", "yes", "~", "null", "0755", "08080", "1e3", ".inf", ".nan", "0x1F", "-"]),
    st.sampled_from(["''", '""', "'a: b'", '"x\\ty"', "|\n  text", "&a x", "!t x"]),
    st.text(alphabet="ab:-. 0123#'\"&*", min_size=1, max_size=6),
)
_KEYS = st.text(alphabet="abcdef-_./~<", min_size=1, max_size=6)


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
def test_generated_streams_give_the_same_values(documents: list[tuple[object, bool]]) -> None:
    agrees("".join("--- " + _yaml_text(tree, 0, flow) + "\n" for tree, flow in documents))
