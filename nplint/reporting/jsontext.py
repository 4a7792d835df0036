"""Indented JSON text for reports, byte for byte as the json module writes it (but for :func:`guarded`)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from json.encoder import encode_basestring
from typing import TypeVar

__all__ = ["PLACEHOLDER", "dumps", "guarded", "spliced"]

T = TypeVar("T")

#: Stands in a document for a list written by :func:`spliced`.
PLACEHOLDER = "nplint-items-go-here"

# What json.dumps(ensure_ascii=False) leaves raw and a report must not carry:
# DEL and C1 controls, the line and paragraph separators (line breaks to
# JavaScript before ES2019 and to many viewers), bidi controls, and lone
# surrogates (an undecodable file name; no UTF-8 encoder writes them).
_RAW_UNSAFE = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def guarded(text: str) -> str:
    """JSON text with the characters above written as ``\\uXXXX`` escapes: the same value, lossless.

    Outside strings JSON text is ASCII, so escaping them in the whole text
    escapes them in the strings that hold them.
    """
    # DEL is the one ASCII character among them: ASCII text without it needs no look
    # (two scans in C, where the pattern costs a report of thousands of findings 10 ms).
    if (text.isascii() and "\x7f" not in text) or _RAW_UNSAFE.search(text) is None:
        return text
    return _RAW_UNSAFE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def dumps(value: object, indent: str = "") -> str:
    """``guarded(json.dumps(value, indent=2, ensure_ascii=False))``, for values whose keys are strings."""
    return guarded(_dumps(value, indent))


def _dumps(value: object, indent: str = "") -> str:
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
        # A report's values are mostly strings and numbers: those are written here, without a
        # call each (a report of thousands of findings has tens of thousands of them).
        parts = []
        for key, item in value.items():
            kind = type(item)
            if kind is str:
                text = encode_basestring(item)
            elif item is None:
                text = "null"
            elif kind is int:
                text = int.__repr__(item)
            else:
                text = _dumps(item, inner)
            parts.append(f"{encode_basestring(key)}: {text}")
        return f"{{\n{inner}" + f",\n{inner}".join(parts) + f"\n{indent}}}"
    if isinstance(value, (list, tuple)):
        if not value:
            return "[]"
        items = [encode_basestring(item) if type(item) is str else _dumps(item, inner) for item in value]
        return f"[\n{inner}" + f",\n{inner}".join(items) + f"\n{indent}]"
    # Anything else (a float, say) as the json module writes it.
    return json.dumps(value, ensure_ascii=False)


def spliced(document: object, items: Iterable[T], write: Callable[[T, str], str] = dumps) -> Iterator[str]:
    """``dumps(document) + "\\n"`` in pieces, with ``items`` in place of ``[PLACEHOLDER]``.

    A report's document holds one list that grows with the repository (its
    findings); it is written one item at a time, so neither the whole text nor
    every item's tokens are in memory at once. The bytes are those of writing
    the document whole with the items in it (through :func:`dumps`). ``write``
    makes an item's text at an indent: :func:`dumps`, or a writer of one shape
    that gives its text.
    """
    head, marker, tail = dumps(document).partition(encode_basestring(PLACEHOLDER))
    if not marker:
        raise ValueError("the document has no placeholder for its items")
    # The placeholder sits where the first item goes, indented as the items are.
    indent = head[head.rindex("\n") + 1 :]
    separator = ""
    for item in items:
        yield (separator or head) + write(item, indent)
        separator = ",\n" + indent
    if separator:
        yield tail + "\n"
    else:  # no items: an empty list, as json writes it
        yield head.rstrip() + "]" + tail[tail.index("]") + 1 :] + "\n"
