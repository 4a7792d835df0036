"""Positioned YAML nodes: the loader's output and the only view of YAML the rest of nplint has.

Every node keeps the 1-based span of its text and a link to its parent, so a
rule can point at the exact node and a fingerprint can name its path inside
the document. Mappings also keep the span of each key.
"""

from __future__ import annotations

from collections.abc import Iterator

from nplint.findings import Span

Scalar = str | int | float | bool | None


class Node:
    """Base class of the three node shapes."""

    __slots__ = ("key", "parent", "pos", "tag")

    parent: MapNode | SeqNode | None
    #: The key under which this node sits in its parent (a str for a mapping, an int for a sequence).
    key: str | int | None
    #: (line, column, end line, end column), 1-based, end exclusive. Kept as a
    #: tuple because a repository has millions of nodes and few findings;
    #: :attr:`span` builds the Span when one is asked for.
    pos: tuple[int, int, int, int]
    #: An explicit tag written in the YAML (``!!str``), else None.
    tag: str | None

    kind_name = "node"

    def __init__(self, pos: tuple[int, int, int, int], tag: str | None = None) -> None:
        self.parent = None
        self.key = None
        self.pos = pos
        self.tag = tag

    @property
    def span(self) -> Span:
        return Span(*self.pos)

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
        parent = self.parent
        if isinstance(parent, MapNode) and isinstance(self.key, str):
            entry = parent.entries.get(self.key)
            if entry is not None and entry[1] is self:
                return entry[0].span
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
        self.pos = pos
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
        return f"ScalarNode({self.value!r} @{self.pos[0]}:{self.pos[1]})"


class MapNode(Node):
    __slots__ = ("entries",)

    kind_name = "mapping"

    def __init__(self, pos: tuple[int, int, int, int], tag: str | None = None) -> None:
        super().__init__(pos, tag)
        #: key text -> (key node, value node), in document order.
        self.entries: dict[str, tuple[ScalarNode, Node]] = {}

    def get(self, key: str) -> Node | None:
        entry = self.entries.get(key)
        return entry[1] if entry is not None else None

    def __contains__(self, key: object) -> bool:
        return key in self.entries

    def keys(self) -> Iterator[str]:
        return iter(self.entries)

    def items(self) -> Iterator[tuple[str, Node]]:
        for key, (_, value) in self.entries.items():
            yield key, value

    def key_node(self, key: str) -> ScalarNode | None:
        entry = self.entries.get(key)
        return entry[0] if entry is not None else None

    def get_str(self, key: str) -> str | None:
        """The value under ``key`` when it is a string scalar, else None."""
        node = self.get(key)
        if isinstance(node, ScalarNode) and isinstance(node.value, str):
            return node.value
        return None

    def get_map(self, key: str) -> MapNode | None:
        node = self.get(key)
        return node if isinstance(node, MapNode) else None

    def get_seq(self, key: str) -> SeqNode | None:
        node = self.get(key)
        return node if isinstance(node, SeqNode) else None

    def to_python(self) -> dict[str, object]:
        return {key: value.to_python() for key, value in self.items()}

    def __repr__(self) -> str:
        return f"MapNode({list(self.entries)} @{self.pos[0]}:{self.pos[1]})"


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
        return f"SeqNode({len(self.items)} @{self.pos[0]}:{self.pos[1]})"


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
