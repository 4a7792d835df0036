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
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import lint_paths, run_cli
from nplint.findings import Finding, Fix, Level, ObjectRef, Related, Span
from nplint.reporting.jsonfmt import _finding, finding_text
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


# -- the JSON format's findings, written straight from each finding -------------------------------

_TEXT = st.text(max_size=40)  # any code point, as a repository's names and a rule's words may hold
_LINES, _COLUMNS = st.integers(1, 10**6), st.integers(1, 500)
_SPANS = st.builds(Span, _LINES, _COLUMNS, _LINES, _COLUMNS)
_FINDINGS = st.builds(
    Finding,
    rule_id=st.sampled_from(["NP101", "NP106", "NP999", "X"]),
    level=st.sampled_from(list(Level)),
    message=_TEXT,
    path=_TEXT,
    span=_SPANS,
    object=st.none() | st.builds(ObjectRef, _TEXT, _TEXT, _TEXT),
    yaml_path=_TEXT,
    related=st.lists(st.builds(Related, _TEXT, _SPANS, _TEXT), max_size=3).map(tuple),
    fix=st.none() | _TEXT,
    detail=_TEXT,
    fixes=st.lists(st.builds(Fix, _TEXT, st.booleans(), st.just(())), max_size=2).map(tuple),
)
_NAMES = {"NP101": "missing-default-deny-ingress", "NP106": "one-sided-allow"}
_SHAPES = [
    lambda f: f.related,
    lambda f: f.fixes,
    lambda f: f.object is None,
    lambda f: f.object is not None,
    lambda f: f.fix is None,
    lambda f: f.fix is not None,
    lambda f: not f.detail,
]


@settings(max_examples=400, deadline=None)
@given(_FINDINGS, st.sampled_from(["", "    ", "  "]))
def test_a_findings_text_is_the_general_writers(finding: Finding, indent: str) -> None:
    assert finding_text(finding, _NAMES, indent) == dumps(_finding(finding, _NAMES), indent)


def test_every_fixture_finding_is_written_as_the_general_writer_writes_it() -> None:
    result = lint_paths(["."], root=Path(__file__).parent / "fixtures", extra={"select": ["ALL"]})
    names = {rule.id: rule.name for rule in result.rules}
    found = result.findings
    assert len(found) > 500
    # Every part of the shape is exercised: related places, fixes, no object, no fix text.
    assert all(any(test(f) for f in found) for test in _SHAPES)
    for finding in result.findings:
        assert finding_text(finding, names, "    ") == dumps(_finding(finding, names), "    ")


def test_a_finding_of_other_types_is_written_the_general_way() -> None:
    # A plugin's finding need not hold the types Finding declares: the general writer takes any.
    finding = Finding("NP101", Level.NOTE, "m", "a.yaml", Span(1, 1, 1, 2))
    odd = replace(finding, detail=None, span=Span(True, 1, 1, 2))  # type: ignore[arg-type]
    assert finding_text(odd, _NAMES, "") == dumps(_finding(odd, _NAMES), "")
    assert '"detail": null' in finding_text(odd, _NAMES, "")
    assert '"line": true' in finding_text(odd, _NAMES, "")
