"""Loaded files as plain values, to send from one process to another.

A second process that loads part of a large repository sends its files back
as lists of ints, strings and None, which :mod:`marshal` writes and reads in C;
rebuilding nodes from them costs a third of composing them. A tree is written
in document order: a scalar as ``0, packed, key_at, value, text, style, tag``,
a mapping as ``1, packed, key_at, tag, count`` then each key followed by its
value, a sequence as ``2, packed, key_at, tag, count`` then its items. (A key
just before its value lets a writer that reads a file line by line write it as
it goes, filling in a collection's position and count when it closes.)

A tree in which one node sits in two places (a YAML alias) cannot be written
so; :func:`encode` returns None for such a file and the receiver loads it itself.
"""

from __future__ import annotations

from typing import Any

from nplint.findings import Span
from nplint.loading.composer import Document, Problem
from nplint.loading.nodes import MapNode, Node, ScalarNode, SeqNode

__all__ = ["decode", "encode"]

_new: Any = object.__new__
_SCALAR, _MAPPING, _SEQUENCE = 0, 1, 2


class _Shared(Exception):
    """A node appears twice in a tree."""


def encode(loaded: Any) -> tuple[Any, ...] | None:
    """A :class:`~nplint.loading.LoadedFile` as plain values, or None when it holds a shared node."""
    flat: list[Any] = []
    documents = []
    try:
        for document in loaded.documents:
            if document.root is not None:
                flatten_nodes(document.root, flat)
            documents.append(
                (document.index, document.failed, _problems(document.problems), document.root is not None)
            )
    except _Shared:
        return None
    suppressions = [(s.line, s.column, s.scope, s.codes, s.own_line) for s in loaded.suppressions]
    return (
        loaded.path,
        _problems(loaded.problems),
        suppressions,
        documents,
        flat,
        loaded.kubernetes,
        loaded.generated,
    )


def decode(values: tuple[Any, ...]) -> Any:
    """The :class:`~nplint.loading.LoadedFile` that :func:`encode` wrote."""
    from nplint.loading import LoadedFile

    loaded = LoadedFile(values[0])
    decode_into(loaded, values)
    loaded.documents = decode_documents(values)
    return loaded


def decode_into(loaded: Any, values: tuple[Any, ...]) -> None:
    """Set what :func:`encode` wrote on ``loaded`` but its documents: problems, suppressions, kind."""
    from nplint.loading import SuppressionComment

    _, problems, suppressions, _, _, kubernetes, generated = values
    loaded.kubernetes = kubernetes
    loaded.generated = generated
    loaded.problems = [Problem(Span(*span), message) for *span, message in problems]
    loaded.suppressions = [SuppressionComment(*s) for s in suppressions]


def decode_documents(values: tuple[Any, ...]) -> list[Document]:
    """The documents :func:`encode` wrote, nodes and all."""
    _, _, _, documents, flat, _, _ = values
    built: list[Document] = []
    position = 0
    for index, failed, document_problems, has_root in documents:
        root = None
        if has_root:
            root, position = _build(flat, position)
        built.append(
            Document(
                index, root, [Problem(Span(*span), message) for *span, message in document_problems], failed
            )
        )
    return built


def _problems(problems: list[Problem]) -> list[tuple[Any, ...]]:
    return [(p.span.line, p.span.column, p.span.end_line, p.span.end_column, p.message) for p in problems]


def flatten_nodes(root: Node, out: list[Any]) -> None:
    """Write the tree of ``root`` to ``out`` as :func:`encode` writes a document's.

    :raises _Shared: a node is met twice (a YAML alias); such a file is not sent.
    """
    seen: set[int] = set()
    stack: list[Any] = [root]
    while stack:
        node = stack.pop()
        if type(node) is str:
            out.append(node)
            continue
        if type(node) is ScalarNode:
            out += (_SCALAR, node.packed, node.key_at, node.value, node.text, node.style, node.tag)
            continue
        if id(node) in seen:
            raise _Shared
        seen.add(id(node))
        if isinstance(node, MapNode):
            entries = node.entries
            out += (_MAPPING, node.packed, node.key_at, node.tag, len(entries))
            # Each key is written when its value is taken off the stack (a str on the stack).
            for key, value in reversed(entries.items()):
                stack.append(value)
                stack.append(key)
        else:
            assert isinstance(node, SeqNode)
            out += (_SEQUENCE, node.packed, node.key_at, node.tag, len(node.items))
            stack.extend(reversed(node.items))


def _build(flat: list[Any], position: int) -> tuple[Node, int]:
    """The tree written at ``flat[position]``, and where the next one starts."""
    root: Node | None = None
    # [collection, whether a mapping, children made, children in all]
    frames: list[list[Any]] = []
    while True:
        key = None
        if frames and frames[-1][1]:
            key = flat[position]  # a mapping's key, just before its value
            position += 1
        code = flat[position]
        node: Node
        is_map = False
        count = 0
        if code == _SCALAR:
            scalar: ScalarNode = _new(ScalarNode)
            scalar.value = flat[position + 3]
            scalar.text = flat[position + 4]
            scalar.style = flat[position + 5]
            scalar.tag = flat[position + 6]
            node = scalar
            width = 7
        elif code == _MAPPING:
            mapping: MapNode = _new(MapNode)
            mapping.entries = {}
            mapping.tag = flat[position + 3]
            count = flat[position + 4]
            is_map = True
            node = mapping
            width = 5
        else:
            sequence: SeqNode = _new(SeqNode)
            sequence.items = []
            sequence.tag = flat[position + 3]
            count = flat[position + 4]
            node = sequence
            width = 5
        node.packed = flat[position + 1]
        node.key_at = flat[position + 2]
        position += width
        if frames:
            frame = frames[-1]
            parent = frame[0]
            node.parent = parent
            made = frame[2]
            if key is not None:
                node.key = key
                parent.entries[key] = node
            else:
                node.key = made
                parent.items.append(node)
            frame[2] = made + 1
            if made + 1 == frame[3]:
                frames.pop()
        else:
            node.parent = None
            node.key = None
            root = node
        if count:
            frames.append([node, is_map, 0, count])
        # A frame is dropped as its last child is attached, so none is ever full here.
        if not frames:
            assert root is not None
            return root, position
