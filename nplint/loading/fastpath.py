"""Compose ordinary files with libyaml's own composer, three times faster than our events.

PyYAML's C extension composes a whole stream into node objects inside C, with
the marks we need for positions. We convert those nodes into ours in one
iterative pass. The pass handles what real manifests are made of: untagged
scalars, mappings with unique plain keys, sequences. Anything else (a tag, an
anchor used by an alias, a merge key, a duplicate or complex key, a syntax
error, nesting libyaml refuses) makes :func:`compose_fast` return None, and the
caller composes the file from events (:mod:`nplint.loading.composer`), which
reports those cases exactly. So the fast path never decides what a finding says;
it only skips work where the answer is already known to be the same.

``tests/test_loading.py`` composes every fixture and corpus file both ways and
requires identical trees.
"""

from __future__ import annotations

from sys import intern
from typing import Any

from nplint.loading.nodes import STYLE_CODES, MapNode, Node, ScalarNode, SeqNode
from nplint.loading.scalars import NULLS

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

#: Short values repeat across a repository (``TCP``, ``app``, an apiVersion): one copy each.
_INTERNED = 64

#: The tag our resolver gives every node written without one; libyaml's own are URIs.
_UNTAGGED = ""

__all__ = ["AVAILABLE", "compose_fast"]

AVAILABLE = _CParser is not None


class _Unusual(Exception):
    """The file needs the event composer."""


if _CParser is not None:

    class _Composer(_CParser):  # type: ignore[misc]
        """libyaml's composer with tag resolution left to us (see :func:`_resolve`)."""

        def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
            return _UNTAGGED

        def descend_resolver(self, parent: Any, index: Any) -> None:
            return None

        def ascend_resolver(self) -> None:
            return None


def compose_fast(text: str, resolve: Any) -> list[tuple[int, Node]] | None:
    """The documents of ``text`` as (index, root) pairs, or None when the file needs the event composer.

    ``resolve`` is the event composer's resolver for plain scalars, so both paths
    read ``on``, ``0755`` and ``~`` alike.
    """
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
    # Without an '&' there is no anchor, so no alias: no node can appear twice.
    seen: set[int] | None = set() if "&" in text else None
    try:
        return [(index, _convert(root, resolve, seen)) for index, root in enumerate(roots)]
    except _Unusual:
        return None


def _scalar(node: Any, resolve: Any) -> ScalarNode:
    if node.tag != _UNTAGGED:
        raise _Unusual
    start = node.start_mark
    end = node.end_mark
    text: str = node.value
    if len(text) <= _INTERNED:
        text = intern(text)
    style: str = node.style
    return ScalarNode(
        resolve(text) if style == "" else text,
        text,
        style,
        (start.line + 1, start.column + 1, end.line + 1, end.column + 1),
    )


def _collection(node: Any) -> MapNode | SeqNode:
    if node.tag != _UNTAGGED:
        raise _Unusual
    start = node.start_mark
    pos = (start.line + 1, start.column + 1, start.line + 1, start.column + 1)
    return MapNode(pos) if type(node) is _YMapping else SeqNode(pos)


def _convert(root: Any, resolve: Any, seen: set[int] | None) -> Node:
    if type(root) is _YScalar:
        return _scalar(root, resolve)
    top = _collection(root)
    # (libyaml node, our node) pairs whose children are still to be made. The
    # tree is built top-down, and each collection's end is set once its last
    # child is known: block collections end where their last child ends, as
    # the event composer has it, flow ones after their closing bracket.
    pending: list[tuple[Any, MapNode | SeqNode, int]] = [(root, top, 1)]
    finish: list[tuple[Any, MapNode | SeqNode]] = []
    while pending:
        source, target, depth = pending.pop()
        if depth > MAX_DEPTH:
            raise _Unusual
        if seen is not None:
            if id(source) in seen:
                raise _Unusual  # an alias
            seen.add(id(source))
        finish.append((source, target))
        if isinstance(target, MapNode):
            entries = target.entries
            for key_source, value_source in source.value:
                if type(key_source) is not _YScalar:
                    raise _Unusual
                if key_source.tag != _UNTAGGED:
                    raise _Unusual
                key_text = intern(key_source.value)
                key_style = key_source.style
                if key_style == "" and (key_text == "<<" or key_text in NULLS):
                    raise _Unusual
                if key_text in entries:
                    raise _Unusual
                start = key_source.start_mark
                end = key_source.end_mark
                if type(value_source) is _YScalar:
                    if seen is not None:
                        if id(value_source) in seen:
                            raise _Unusual
                        seen.add(id(value_source))
                    value: Node = _scalar(value_source, resolve)
                else:
                    value = _collection(value_source)
                    pending.append((value_source, value, depth + 1))
                value.parent = target
                value.key = key_text
                value.key_at = (
                    (((start.line + 1) << 32 | start.column + 1) << 32 | end.line + 1) << 32 | end.column + 1
                ) << 3 | STYLE_CODES[key_style]
                entries[key_text] = value
        else:
            items = target.items
            for item_source in source.value:
                if type(item_source) is _YScalar:
                    if seen is not None:
                        if id(item_source) in seen:
                            raise _Unusual
                        seen.add(id(item_source))
                    item: Node = _scalar(item_source, resolve)
                else:
                    item = _collection(item_source)
                    pending.append((item_source, item, depth + 1))
                item.parent = target
                item.key = len(items)
                items.append(item)
    # Children are finished before their parents: ``finish`` is in top-down order.
    # Positions are packed ints (see nodes.pack): the start is kept, the end replaced.
    start_only = ~((1 << 64) - 1)
    end_only = (1 << 64) - 1
    for source, target in reversed(finish):
        if source.flow_style:
            end = source.end_mark
            target.packed = target.packed & start_only | (end.line + 1) << 32 | end.column + 1
            continue
        last: Node | None = None
        if isinstance(target, SeqNode):
            if target.items:
                last = target.items[-1]
        elif target.entries:
            last = next(reversed(target.entries.values()))
        if last is not None:
            target.packed = target.packed & start_only | last.packed & end_only
    return top
