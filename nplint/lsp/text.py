"""Positions: nplint counts 1-based lines and code points; LSP 0-based lines and UTF-16 units."""

from __future__ import annotations

from collections.abc import Sequence

from lsprotocol import types


def utf16_length(text: str) -> int:
    return len(text) + sum(1 for character in text if ord(character) > 0xFFFF)


def position(lines: Sequence[str], line: int, column: int) -> tuple[int, int]:
    """(0-based line, UTF-16 offset) of nplint's 1-based ``line`` and code-point ``column``."""
    index = max(line - 1, 0)
    offset = max(column - 1, 0)
    if index >= len(lines):
        return index, offset
    content = lines[index].rstrip("\r\n")
    return index, utf16_length(content[:offset]) + max(offset - len(content), 0)


def contains(span: types.Range, point: types.Position) -> bool:
    """Whether ``point`` is inside ``span``, its end included (a hover at a word's end counts)."""
    start, end = span.start, span.end
    after_start = (point.line, point.character) >= (start.line, start.character)
    before_end = (point.line, point.character) <= (end.line, end.character)
    return after_start and before_end


def shares_a_line(first: types.Range, second: types.Range) -> bool:
    """Whether the ranges share a line: a cursor anywhere on a finding's line asks for its actions."""
    return first.start.line <= second.end.line and second.start.line <= first.end.line


def line_count(source: str) -> int:
    return len(source.splitlines()) or 1
