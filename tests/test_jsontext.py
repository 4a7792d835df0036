"""The reports' JSON writer gives the json module's bytes, without its garbage.

One difference on purpose: characters a report must not carry raw (DEL, C1
controls, U+2028/U+2029, bidi controls, lone surrogates) are written as
``\\uXXXX`` escapes, which the json module leaves raw with ``ensure_ascii=False``.
"""

from __future__ import annotations

import gc
import json
import math
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import run_cli
from nplint.reporting.jsontext import PLACEHOLDER, dumps, spliced

_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(),  # any code point: quotes, backslashes, control characters, non-ASCII
    lambda children: (
        st.lists(children, max_size=4)
        | st.tuples(children, children)
        | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=30,
)


_NOT_RAW = "\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff"


def _json_module_text(value: object) -> str:
    """What the json module writes, with the characters above as \\u escapes (which it leaves raw)."""
    text = json.dumps(value, indent=2, ensure_ascii=False)
    return re.sub(f"[{_NOT_RAW}]", lambda m: f"\\u{ord(m.group()):04x}", text)


@settings(max_examples=500, deadline=None)
@given(_VALUES)
def test_same_text_as_the_json_module(value: object) -> None:
    assert dumps(value) == _json_module_text(value)


def _has_nan(value: object) -> bool:
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, dict):
        return any(_has_nan(item) for item in value.values())
    if isinstance(value, (list, tuple)):
        return any(_has_nan(item) for item in value)
    return False


@settings(max_examples=300, deadline=None)
@given(_VALUES)
def test_escapes_are_lossless_and_nothing_unsafe_is_raw(value: object) -> None:
    text = dumps(value)
    assert re.search(f"[{_NOT_RAW}]", text) is None
    text.encode("utf-8")  # lone surrogates would make this raise
    if not _has_nan(value):
        assert json.loads(text) == json.loads(json.dumps(value))


def test_unsafe_characters_are_escaped_exactly() -> None:
    value = {"name": "a\u202eb\u2028c\x85d\x7fe\udcff"}
    assert dumps(value) == '{\n  "name": "a\\u202eb\\u2028c\\u0085d\\u007fe\\udcff"\n}'


def test_every_ascii_character_is_written_as_the_json_module_writes_it_but_del() -> None:
    # ASCII text is let through without the pattern's look, unless it holds DEL.
    for code in range(128):
        value = {"name": f"plain text {chr(code)} in ASCII"}
        assert dumps(value) == _json_module_text(value), code
    assert dumps("only ASCII \x7f") == '"only ASCII \\u007f"'


def test_leaves_no_cyclic_garbage() -> None:
    document = {"findings": [{"rule": "NP101", "related": [{"line": 1}], "object": None}] * 50}
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        gc.collect()
        dumps(document)
        assert gc.collect() == 0
        json.dumps(document, indent=2)
        # What this module avoids: the json module's encoder closures refer to each other.
        assert gc.collect() > 0
    finally:
        if was_enabled:
            gc.enable()


@pytest.mark.parametrize("fmt", ["json", "sarif"])
@pytest.mark.parametrize("tree", ["fixtures", "clean"])
def test_reports_written_in_pieces_are_the_json_modules_text(fmt: str, tree: str, tmp_path: Path) -> None:
    if tree == "clean":
        (tmp_path / "ns.yaml").write_text("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n")
        root = tmp_path
    else:
        root = Path(__file__).parent / "fixtures"
    code, out = run_cli(["--format", fmt, "--fail-on", "never", str(root)])
    assert code == 0
    document = json.loads(out)
    # Findings spliced in one at a time give exactly what one json.dumps of the whole gives.
    assert out == json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    findings = document["findings"] if fmt == "json" else document["runs"][0]["results"]
    assert (len(findings) > 100) == (tree == "fixtures")


@settings(max_examples=200, deadline=None)
@given(_VALUES, st.lists(_VALUES, max_size=4), st.integers(0, 3))
def test_spliced_items_give_the_whole_documents_text(other: object, items: list[object], depth: int) -> None:
    def nest(value: object, levels: int) -> object:
        for level in range(levels):
            value = {"before": other, f"level{level}": [value, 1] if level % 2 else value}
        return value

    document = nest({"head": other, "items": [PLACEHOLDER], "tail": other}, depth)
    whole = nest({"head": other, "items": items, "tail": other}, depth)
    assert "".join(spliced(document, items)) == _json_module_text(whole) + "\n"
