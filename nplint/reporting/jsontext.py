"""Indented JSON text for reports, byte for byte as the json module writes it."""

from __future__ import annotations

import json
from json.encoder import encode_basestring

__all__ = ["dumps"]


def dumps(value: object, indent: str = "") -> str:
    """``json.dumps(value, indent=2, ensure_ascii=False)``, for JSON values whose keys are strings.

    The json module encodes with ``indent`` in Python, holding a string per token
    of the whole document until it joins them, and its encoder is a set of
    closures that refer to each other, which only the cyclic collector frees
    (nplint's console script runs without it). This writes the same bytes from
    one string per value, and leaves no garbage behind.
    """
    if isinstance(value, str):
        return encode_basestring(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return int.__repr__(value)
    inner = indent + "  "
    if isinstance(value, dict):
        if not value:
            return "{}"
        body = ",\n".join(
            f"{inner}{encode_basestring(key)}: {dumps(item, inner)}" for key, item in value.items()
        )
        return f"{{\n{body}\n{indent}}}"
    if isinstance(value, (list, tuple)):
        if not value:
            return "[]"
        body = ",\n".join(inner + dumps(item, inner) for item in value)
        return f"[\n{body}\n{indent}]"
    # Anything else (a float, say) as the json module writes it.
    return json.dumps(value, ensure_ascii=False)
