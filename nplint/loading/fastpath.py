"""Compose ordinary files with libyaml's own composer, faster than from events.

The plainest files are read line by line first (:mod:`nplint.loading.linescan`,
faster still); what that declines comes here.

PyYAML's C extension composes a whole stream into node objects inside C, with
the marks we need for positions. We convert those nodes into ours in one
iterative pass. The pass handles what real manifests are made of: untagged
scalars, mappings with unique plain keys, sequences. Anything else (a tag, an
anchor used by an alias, a merge key, a duplicate or complex key, a syntax
error, nesting libyaml refuses) makes :func:`compose_fast` return None, and the
caller composes the file from events (:mod:`nplint.loading.composer`), which
reports those cases exactly. So the fast path never decides what a finding says;
it only skips work where the answer is already known to be the same.

``tests/test_composing_paths.py`` composes every fixture and corpus file, and
generated streams, each way and requires identical trees.
"""

from __future__ import annotations

from sys import intern
from typing import Any

from nplint.loading.linescan import compose_lines, flatten_lines
from nplint.loading.nodes import (
    FIELD,
    INTERNED_LENGTH,
    NARROW,
    NARROW_LINES,
    STYLE_CODES,
    WIDE,
    MapNode,
    Node,
    ScalarNode,
    SeqNode,
    end_of,
    pack,
    with_end,
)
from nplint.loading.scalars import NULLS, resolve_plain

#: Kubernetes objects are shallow; deeper input is hostile or broken, and goes to
#: the event composer, which reports it.
MAX_DEPTH = 1000

try:  # pragma: no cover - depends on the platform's wheels
    from yaml import YAMLError as _YAMLError
    from yaml._yaml import CParser as _CParser
    from yaml.nodes import MappingNode as _YMapping
    from yaml.nodes import ScalarNode as _YScalar
except ImportError:  # pragma: no cover
    _CParser = None

_new: Any = object.__new__

#: The tag our resolver gives every node written without one; libyaml's own are URIs.
_UNTAGGED = ""

__all__ = ["AVAILABLE", "compose_fast", "compose_libyaml", "flatten_fast", "python_fast"]

AVAILABLE = _CParser is not None


class _Unusual(Exception):
    """The file needs the event composer."""


if _CParser is not None:

    class _Composer(_CParser):  # type: ignore[misc]
        """libyaml's composer with tag resolution left to us: every untagged node gets ``_UNTAGGED``."""

        def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
            return _UNTAGGED

        def descend_resolver(self, parent: Any, index: Any) -> None:
            return None

        def ascend_resolver(self) -> None:
            return None


def compose_fast(text: str) -> list[tuple[int, Node]] | None:
    """The documents of ``text`` as (index, root) pairs, or None when the file needs the event composer.

    The plainest files are read line by line (:func:`~nplint.loading.linescan.compose_lines`),
    the others by libyaml's composer (:func:`compose_libyaml`): both make the same tree.
    """
    lines = compose_lines(text)
    if lines is not None:
        return lines
    return compose_libyaml(text)


def compose_libyaml(text: str) -> list[tuple[int, Node]] | None:
    """:func:`compose_fast` by libyaml's composer alone.

    Plain scalars are resolved as the event composer resolves them
    (:func:`nplint.loading.scalars.resolve_plain`), so both read ``on``, ``0755``
    and ``~`` alike.
    """
    roots = _libyaml_roots(text)
    if roots is None:
        return None
    # Without an '&' there is no anchor, so no alias: no node can appear twice.
    seen: set[int] | None = set() if "&" in text else None
    try:
        return [(index, _convert(root, seen)) for index, root in enumerate(roots)]
    except _Unusual:
        return None


def _libyaml_roots(text: str) -> list[Any] | None:
    """libyaml's node tree of each document of ``text``; None without libyaml or when it fails."""
    if _CParser is None:
        return None
    parser = _Composer(text)
    roots: list[Any] = []
    try:
        while parser.check_node():
            roots.append(parser.get_node())
    except (_YAMLError, ValueError, TypeError, IndexError):
        return None
    finally:
        parser.dispose()
    return roots


def _node(source: Any, parent: MapNode | SeqNode | None) -> Node:
    """Our node for one libyaml node, without its children; the caller sets ``key`` and ``key_at``.

    Nodes are made without their initialisers (which would set the links
    twice): this runs once per value of the repository.
    """
    if source.tag != _UNTAGGED:
        raise _Unusual
    start = source.start_mark
    line = start.line + 1
    column = start.column + 1
    node: Node
    if type(source) is _YScalar:
        end = source.end_mark
        text: str = source.value
        if len(text) <= INTERNED_LENGTH:
            text = intern(text)
        style: str = source.style
        scalar: ScalarNode = _new(ScalarNode)
        scalar.value = resolve_plain(text) if style == "" else text
        scalar.text = text
        scalar.style = style
        end_line = end.line + 1
        end_column = end.column + 1
        lines = end_line - line
        if line < NARROW_LINES and column < NARROW and lines < NARROW and end_column < NARROW:
            scalar.packed = ((line << 12 | column) << 12 | lines) << 12 | end_column  # nodes.pack, inlined
        else:
            scalar.packed = pack((line, column, end_line, end_column))
        node = scalar
    else:
        # The end is set when the children are known (see _convert).
        if type(source) is _YMapping:
            mapping: MapNode = _new(MapNode)
            mapping.entries = {}
            node = mapping
        else:
            sequence: SeqNode = _new(SeqNode)
            sequence.items = []
            node = sequence
        node.packed = pack((line, column, line, column))
    node.tag = None
    node.parent = parent
    return node


def _refuse_shared(source: Any, children: Any, seen: set[int]) -> None:
    """Note ``source`` and its scalar children as seen; an alias (a node met twice) is unusual.

    Only called for text that may hold aliases (``seen`` is None otherwise).
    """
    if id(source) in seen:
        raise _Unusual  # an alias
    seen.add(id(source))
    for child in children:
        for part in child if type(child) is tuple else (child,):
            if type(part) is _YScalar:
                if id(part) in seen:
                    raise _Unusual
                seen.add(id(part))


def _implicit_pair(source: Any) -> bool:
    """Whether a flow mapping is a single pair written without braces (``[a: b ]``).

    libyaml ends such a mapping after the blanks that follow its value; the event
    composer ends it where the value ends, as it ends block collections.
    """
    if type(source) is not _YMapping or not source.value:
        return False
    return bool(source.start_mark.index == source.value[0][0].start_mark.index)


def _convert(root: Any, seen: set[int] | None) -> Node:
    top = _node(root, None)
    top.key = top.key_at = None
    if type(root) is _YScalar:
        return top
    # (libyaml node, our node, depth) of the collections whose children are
    # still to be made. The tree is built top-down, and each collection's end
    # is set once its last child is known: block collections end where their
    # last child ends, as the event composer has it, flow ones after their
    # closing bracket.
    pending: list[tuple[Any, Any, int]] = [(root, top, 1)]
    # (libyaml node, our node, its last child) in the order made: parents first.
    finish: list[tuple[Any, MapNode | SeqNode, Node | None]] = []
    scalar = _YScalar
    make = _node
    codes = STYLE_CODES
    while pending:
        source, target, depth = pending.pop()
        if depth > MAX_DEPTH:
            raise _Unusual
        children = source.value
        if seen is not None:
            _refuse_shared(source, children, seen)
        depth += 1
        value = item = None
        if type(target) is MapNode:
            entries = target.entries
            for key_source, value_source in children:
                if type(key_source) is not scalar or key_source.tag != _UNTAGGED:
                    raise _Unusual
                key_text = intern(key_source.value)
                key_style = key_source.style
                if key_text in entries or (key_style == "" and (key_text == "<<" or key_text in NULLS)):
                    raise _Unusual
                start = key_source.start_mark
                end = key_source.end_mark
                value = make(value_source, target)
                value.key = key_text
                line = start.line + 1
                column = start.column + 1
                end_column = end.column + 1
                if end.line == start.line and line < NARROW_LINES and column < NARROW and end_column < NARROW:
                    packed = (line << 12 | column) << 24 | end_column  # nodes.pack, inlined
                else:
                    packed = pack((line, column, end.line + 1, end_column))
                value.key_at = packed << 3 | codes[key_style]
                entries[key_text] = value
                if type(value_source) is not scalar:
                    pending.append((value_source, value, depth))
            finish.append((source, target, value))
        else:
            items = target.items
            for index, item_source in enumerate(children):
                item = make(item_source, target)
                item.key = index
                item.key_at = None
                items.append(item)
                if type(item_source) is not scalar:
                    pending.append((item_source, item, depth))
            finish.append((source, target, item))
    # Children before parents: the start is kept, the end replaced (nodes.with_end,
    # inlined for the narrow form).
    for source, target, last in reversed(finish):
        if source.flow_style and not _implicit_pair(source):
            end = source.end_mark
            end_line = end.line + 1
            end_column = end.column + 1
        elif last is None:
            continue
        else:
            packed = last.packed
            if packed < WIDE:
                end_line = (packed >> 36) + (packed >> 12 & FIELD)
                end_column = packed & FIELD
            else:
                end_line, end_column = end_of(packed)
        packed = target.packed
        if packed < WIDE:
            lines = end_line - (packed >> 36)
            if lines < NARROW and end_column < NARROW:
                target.packed = (packed >> 24 << 12 | lines) << 12 | end_column
                continue
        target.packed = with_end(packed, end_line, end_column)
    return top


#: Nesting :func:`python_fast` converts; deeper trees go the way of the nodes, whose
#: recursive ``to_python`` decides what they give.
PYTHON_DEPTH = 100


def python_fast(text: str) -> list[object] | None:
    """What ``root.to_python()`` gives for each document :func:`compose_fast` composes, or None.

    For a reader that needs a file's data and none of its positions (discovery
    reading kustomization files): the values are made straight from libyaml's
    nodes, with the same checks, so a file :func:`compose_fast` declines is
    declined here too, and the caller composes it the usual way. (The line reader
    would make nodes first, which costs more than this on such small files.)
    """
    roots = _libyaml_roots(text)
    if roots is None:
        return None
    seen: set[int] | None = set() if "&" in text else None
    try:
        return [_python(root, seen, 1) for root in roots]
    except _Unusual:
        return None


def _python(source: Any, seen: set[int] | None, depth: int) -> object:
    """The Python value of one libyaml node, as :func:`_convert` and ``to_python`` would make it."""
    if source.tag != _UNTAGGED:
        raise _Unusual
    if type(source) is _YScalar:
        text: str = source.value
        return resolve_plain(text) if source.style == "" else text
    if depth > PYTHON_DEPTH:
        raise _Unusual
    children = source.value
    if seen is not None:
        _refuse_shared(source, children, seen)
    depth += 1
    if type(source) is _YMapping:
        found: dict[str, object] = {}
        for key_source, value_source in children:
            if type(key_source) is not _YScalar or key_source.tag != _UNTAGGED:
                raise _Unusual
            key_text: str = key_source.value
            if key_text in found or (key_source.style == "" and (key_text == "<<" or key_text in NULLS)):
                raise _Unusual
            found[key_text] = _python(value_source, seen, depth)
        return found
    return [_python(item, seen, depth) for item in children]


def flatten_fast(text: str) -> tuple[list[Any], list[Any], list[Any]] | None:
    """The documents of ``text`` in the plain form of :mod:`nplint.loading.transfer`, or None.

    What :func:`compose_fast` composes, written as ``transfer.encode`` writes it
    (the documents, and every tree in document order), without making a node:
    a second process that only sends what it loads saves building the trees and
    walking them again. With the keys of each document's root mapping (None for
    another root). None where :func:`compose_fast` gives None. The line reader
    writes what it reads itself (:func:`~nplint.loading.linescan.flatten_lines`).
    """
    lines = flatten_lines(text)
    if lines is not None:
        return lines
    roots = _libyaml_roots(text)
    if roots is None:
        return None
    seen: set[int] | None = set() if "&" in text else None
    flat: list[Any] = []
    try:
        for root in roots:
            _flatten(root, seen, flat)
    except _Unusual:
        return None
    root_keys = [[key.value for key, _ in root.value] if type(root) is _YMapping else None for root in roots]
    return [(index, False, [], True) for index in range(len(roots))], flat, root_keys


def _flatten(root: Any, seen: set[int] | None, out: list[Any]) -> None:
    """Write one tree as ``transfer.encode`` writes the tree :func:`_convert` makes of it.

    In document order: a scalar as its seven values, a collection as its header
    (with the keys of a mapping) and then its children. A collection's end is
    known only once its children are written, so it is filled in afterwards,
    children first, as :func:`_convert` does.
    """
    scalar = _YScalar
    mapping = _YMapping
    codes = STYLE_CODES
    # [libyaml node, where its position is written, where its last child's is (-1: none)],
    # in the order written: parents before children.
    finish: list[list[Any]] = []
    # (libyaml node, the key it sits under (None in a sequence), its key_at, depth, its
    # parent's entry in ``finish`` when it is the parent's last child, else None), the next
    # to write last.
    stack: list[tuple[Any, str | None, int | None, int, list[Any] | None]] = [(root, None, None, 1, None)]
    while stack:
        source, key, key_at, depth, last_of = stack.pop()
        if source.tag != _UNTAGGED:
            raise _Unusual
        if key is not None:
            out.append(key)  # a mapping's key, just before its value
        start = source.start_mark
        line = start.line + 1
        column = start.column + 1
        if last_of is not None:
            last_of[2] = len(out) + 1
        if type(source) is scalar:
            end = source.end_mark
            text: str = source.value
            if len(text) <= INTERNED_LENGTH:
                text = intern(text)
            style: str = source.style
            end_line = end.line + 1
            end_column = end.column + 1
            lines = end_line - line
            if line < NARROW_LINES and column < NARROW and lines < NARROW and end_column < NARROW:
                packed = ((line << 12 | column) << 12 | lines) << 12 | end_column  # nodes.pack, inlined
            else:
                packed = pack((line, column, end_line, end_column))
            out += (0, packed, key_at, resolve_plain(text) if style == "" else text, text, style, None)
            continue
        if depth > MAX_DEPTH:
            raise _Unusual
        children = source.value
        if seen is not None:
            _refuse_shared(source, children, seen)
        depth += 1
        entry = [source, len(out) + 1, -1]
        finish.append(entry)
        pushed: list[tuple[Any, str | None, int | None, int, list[Any] | None]]
        if type(source) is mapping:
            out += (1, pack((line, column, line, column)), key_at, None, len(children))
            keys: set[str] = set()
            pushed = []
            for key_source, value_source in children:
                if type(key_source) is not scalar or key_source.tag != _UNTAGGED:
                    raise _Unusual
                key_text = intern(key_source.value)
                key_style = key_source.style
                if key_text in keys or (key_style == "" and (key_text == "<<" or key_text in NULLS)):
                    raise _Unusual
                keys.add(key_text)
                start = key_source.start_mark
                end = key_source.end_mark
                key_line = start.line + 1
                key_column = start.column + 1
                end_column = end.column + 1
                if (
                    end.line == start.line
                    and key_line < NARROW_LINES
                    and key_column < NARROW
                    and end_column < NARROW
                ):
                    packed = (key_line << 12 | key_column) << 24 | end_column  # nodes.pack, inlined
                else:
                    packed = pack((key_line, key_column, end.line + 1, end_column))
                pushed.append((value_source, key_text, packed << 3 | codes[key_style], depth, None))
        else:
            out += (2, pack((line, column, line, column)), key_at, None, len(children))
            pushed = [(item, None, None, depth, None) for item in children]
        if pushed:
            value_source, key, key_at, depth, _ = pushed[-1]
            pushed[-1] = (value_source, key, key_at, depth, entry)
            pushed.reverse()
            stack += pushed
    # Children before parents: the start is kept, the end replaced (as in _convert).
    for source, slot, last in reversed(finish):
        if source.flow_style and not _implicit_pair(source):
            end = source.end_mark
            end_line = end.line + 1
            end_column = end.column + 1
        elif last < 0:
            continue
        else:
            packed = out[last]
            if packed < WIDE:
                end_line = (packed >> 36) + (packed >> 12 & FIELD)
                end_column = packed & FIELD
            else:
                end_line, end_column = end_of(packed)
        packed = out[slot]
        if packed < WIDE:
            lines = end_line - (packed >> 36)
            if lines < NARROW and end_column < NARROW:
                out[slot] = (packed >> 24 << 12 | lines) << 12 | end_column
                continue
        out[slot] = with_end(packed, end_line, end_column)
