"""Positioned YAML nodes: the loader's output and the only view of YAML the rest of nplint has.

Every node keeps the 1-based span of its text and a link to its parent, so a
rule can point at the exact node and a fingerprint can name its path inside
the document. A value in a mapping also keeps the span and style of its key;
:meth:`MapNode.key_node` makes a node of the key when a rule asks for one.

A repository has millions of nodes and few findings, so a node is kept small:
positions are packed into one small int, and keys are not nodes until asked for.
"""

from __future__ import annotations

from collections.abc import Iterator

from nplint.findings import Span
from nplint.loading.scalars import Scalar, resolve_plain

__all__ = [
    "FIELD",
    "INTERNED_LENGTH",
    "NARROW",
    "NARROW_LINES",
    "STYLE_CODES",
    "WIDE",
    "MapNode",
    "Node",
    "Scalar",
    "ScalarNode",
    "SeqNode",
    "describe",
    "end_of",
    "is_null",
    "pack",
    "pack_key",
    "unpack",
    "with_end",
]

#: Values up to this length are interned: short ones repeat across a repository
#: (``TCP``, ``app``, an apiVersion), and one copy of each is enough.
INTERNED_LENGTH = 64

#: Scalar styles, by the code a key's packed position keeps in its low three bits.
_STYLES = ("", "'", '"', "|", ">")
STYLE_CODES = {style: code for code, style in enumerate(_STYLES)}

# Positions are packed into one int. Nearly every node fits the narrow form,
# line (21 bits), column, lines spanned and end column (12 bits each): 57 bits,
# 60 with a key's style, which CPython stores in 32 bytes. Anything larger (a
# column past 4095, say) takes the wide form, 32 bits a field above a marker bit.
NARROW_LINES = 1 << 21
NARROW = 1 << 12
FIELD = NARROW - 1
WIDE = 1 << 128
_MASK = (1 << 32) - 1


def pack(pos: tuple[int, int, int, int]) -> int:
    """(line, column, end line, end column) as one int: a third of the tuple's memory."""
    line, column, end_line, end_column = pos
    lines = end_line - line
    if line < NARROW_LINES and column < NARROW and 0 <= lines < NARROW and end_column < NARROW:
        return ((line << 12 | column) << 12 | lines) << 12 | end_column
    return WIDE | ((line << 32 | column) << 32 | end_line) << 32 | end_column


def unpack(packed: int) -> tuple[int, int, int, int]:
    if packed < WIDE:
        line = packed >> 36
        return (line, packed >> 24 & FIELD, line + (packed >> 12 & FIELD), packed & FIELD)
    return (packed >> 96 & _MASK, packed >> 64 & _MASK, packed >> 32 & _MASK, packed & _MASK)


def with_end(packed: int, end_line: int, end_column: int) -> int:
    """``packed`` with its end replaced."""
    if packed < WIDE:
        line = packed >> 36
        lines = end_line - line
        if 0 <= lines < NARROW and end_column < NARROW:
            return (packed >> 24 << 12 | lines) << 12 | end_column
    line, column, _, _ = unpack(packed)
    return pack((line, column, end_line, end_column))


def end_of(packed: int) -> tuple[int, int]:
    """The end line and column of a packed position."""
    if packed < WIDE:
        return (packed >> 36) + (packed >> 12 & FIELD), packed & FIELD
    return packed >> 32 & _MASK, packed & _MASK


def pack_key(pos: tuple[int, int, int, int], style: str) -> int:
    """A mapping key's position and style, kept on the value node in place of a key node."""
    return pack(pos) << 3 | STYLE_CODES[style]


class Node:
    """Base class of the three node shapes."""

    __slots__ = ("key", "key_at", "packed", "parent", "tag")

    parent: MapNode | SeqNode | None
    #: The key under which this node sits in its parent (a str for a mapping, an int for a sequence).
    key: str | int | None
    #: In a mapping: the key's position and style (see :func:`pack_key`), else None.
    key_at: int | None
    #: The node's position as one int (see :func:`pack`); :attr:`pos` unpacks it.
    packed: int
    #: An explicit tag written in the YAML (``!!str``), else None.
    tag: str | None

    kind_name = "node"

    def __init__(self, pos: tuple[int, int, int, int], tag: str | None = None) -> None:
        self.parent = None
        self.key = None
        self.key_at = None
        self.packed = pack(pos)
        self.tag = tag

    @property
    def pos(self) -> tuple[int, int, int, int]:
        """(line, column, end line, end column), 1-based, end exclusive."""
        return unpack(self.packed)

    @pos.setter
    def pos(self, value: tuple[int, int, int, int]) -> None:
        self.packed = pack(value)

    @property
    def span(self) -> Span:
        return Span(*unpack(self.packed))

    @property
    def path(self) -> str:
        """The node's path inside its document, e.g. ``spec.ingress[0].from[1]``."""
        parts: list[str] = []
        node: Node | None = self
        while node is not None and node.key is not None:
            if isinstance(node.key, int):
                parts.append(f"[{node.key}]")
            else:
                parts.append(f".{node.key}" if _is_plain_key(node.key) else f"[{node.key!r}]")
            node = node.parent
        return "".join(reversed(parts)).lstrip(".")

    @property
    def key_span(self) -> Span:
        """The span of the key this node sits under, or of the node itself in a sequence."""
        if self.key_at is not None:
            return Span(*unpack(self.key_at >> 3))
        return self.span

    def to_python(self) -> object:
        raise NotImplementedError


def _is_plain_key(key: str) -> bool:
    return key.replace("-", "").replace("_", "").isalnum()


class ScalarNode(Node):
    __slots__ = ("style", "text", "value")

    kind_name = "scalar"

    def __init__(
        self, value: Scalar, text: str, style: str, pos: tuple[int, int, int, int], tag: str | None = None
    ) -> None:
        # The base initialiser is inlined: this runs once per scalar of the repository.
        self.parent = None
        self.key = None
        self.key_at = None
        self.packed = pack(pos)
        self.tag = tag
        #: The resolved value (YAML 1.1 rules, as Kubernetes' YAML decoder applies them).
        self.value = value
        #: The text as written, without quotes.
        self.text = text
        #: "" for plain, "'" or '"' for quoted, "|" or ">" for block scalars.
        self.style = style

    @property
    def is_null(self) -> bool:
        return self.value is None

    def to_python(self) -> Scalar:
        return self.value

    def __repr__(self) -> str:
        line, column, _, _ = self.pos
        return f"ScalarNode({self.value!r} @{line}:{column})"


class MapNode(Node):
    __slots__ = ("entries",)

    kind_name = "mapping"

    def __init__(self, pos: tuple[int, int, int, int], tag: str | None = None) -> None:
        super().__init__(pos, tag)
        #: key text -> value node, in document order.
        self.entries: dict[str, Node] = {}

    def get(self, key: str) -> Node | None:
        return self.entries.get(key)

    def __contains__(self, key: object) -> bool:
        return key in self.entries

    def keys(self) -> Iterator[str]:
        return iter(self.entries)

    def items(self) -> Iterator[tuple[str, Node]]:
        return iter(self.entries.items())

    def key_node(self, key: str) -> ScalarNode | None:
        """The key as a node of its own (position, style, resolved value), or None.

        The node is made on each call. A value shared through a YAML alias
        keeps the key it was first written under.
        """
        value = self.entries.get(key)
        if value is None or value.key_at is None:
            return None
        style = _STYLES[value.key_at & 7]
        node = ScalarNode(resolve_plain(key) if style == "" else key, key, style, unpack(value.key_at >> 3))
        node.parent = self
        node.key = key
        return node

    def key_items(self) -> Iterator[tuple[str, ScalarNode, Node]]:
        """(key text, key node, value) for every entry, in document order."""
        for key, value in self.entries.items():
            key_node = self.key_node(key)
            if key_node is not None:
                yield key, key_node, value

    def get_str(self, key: str) -> str | None:
        """The value under ``key`` when it is a string scalar, else None."""
        node = self.entries.get(key)
        if isinstance(node, ScalarNode) and isinstance(node.value, str):
            return node.value
        return None

    def get_map(self, key: str) -> MapNode | None:
        node = self.entries.get(key)
        return node if isinstance(node, MapNode) else None

    def get_seq(self, key: str) -> SeqNode | None:
        node = self.entries.get(key)
        return node if isinstance(node, SeqNode) else None

    def to_python(self) -> dict[str, object]:
        return {key: value.to_python() for key, value in self.entries.items()}

    def __repr__(self) -> str:
        line, column, _, _ = self.pos
        return f"MapNode({list(self.entries)} @{line}:{column})"


class SeqNode(Node):
    __slots__ = ("items",)

    kind_name = "sequence"

    def __init__(self, pos: tuple[int, int, int, int], tag: str | None = None) -> None:
        super().__init__(pos, tag)
        self.items: list[Node] = []

    def __iter__(self) -> Iterator[Node]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def to_python(self) -> list[object]:
        return [item.to_python() for item in self.items]

    def __repr__(self) -> str:
        line, column, _, _ = self.pos
        return f"SeqNode({len(self.items)} @{line}:{column})"


def is_null(node: Node | None) -> bool:
    """True for an absent value or an explicit YAML null (``key:`` with nothing after it)."""
    return node is None or (isinstance(node, ScalarNode) and node.value is None)


def describe(node: Node) -> str:
    """A short noun for error messages: 'a string', 'a number', 'null', 'a mapping'."""
    if isinstance(node, MapNode):
        return "a mapping"
    if isinstance(node, SeqNode):
        return "a list"
    assert isinstance(node, ScalarNode)
    value = node.value
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {node.text}"
    if isinstance(value, (int, float)):
        return f"the number {node.text}"
    return f"the string {value!r}"
