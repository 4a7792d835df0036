"""The reports' JSON writer gives the json module's bytes, without its garbage."""

from __future__ import annotations

import gc
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from nplint.reporting.jsontext import dumps

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


@settings(max_examples=500, deadline=None)
@given(_VALUES)
def test_same_text_as_the_json_module(value: object) -> None:
    assert dumps(value) == json.dumps(value, indent=2, ensure_ascii=False)


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
