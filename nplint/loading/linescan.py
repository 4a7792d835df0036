"""Compose the plainest YAML line by line, without libyaml, faster than libyaml's own composer.

Most manifests are written in a small part of YAML: block mappings (plain or simply
quoted keys) and sequences, plain scalars (over several lines too), quoted scalars
with the commonest escapes, flow collections that open and close on one line
(``{app: web}``, ``[Ingress, Egress]``), literal and folded scalars of the plainest
kind, comments and ``---``. Reading such a file a line at a time and making our
nodes at once costs about half of what libyaml's composer costs (which makes two
objects of marks for every node, then a node that :mod:`nplint.loading.fastpath`
converts). :func:`compose_lines` reads only that part. A line it is not sure of
makes it give None, and the file is composed by libyaml as before: a tab or another
line break than "\n", a rarer escape, a scalar folded over an empty line, a flow
collection over several lines, an anchor, an alias or a tag, a complex key, a block
scalar with indicators, leading blank lines or lines of blanks, a document with a
scalar root, indentation that matches no open collection, and more.

So it never decides what a file means: it answers only where its tree is the one
:func:`~nplint.loading.fastpath.compose_libyaml` and the event composer make, node
for node (values, text, style, positions, keys and parents), which
``tests/test_composing_paths.py`` checks on every fixture and corpus file and
``tests/test_linescan.py`` on generated documents and mutated manifests.
"""

from __future__ import annotations

import re
from sys import intern
from typing import Any

from nplint.loading.nodes import (
    INTERNED_LENGTH,
    NARROW,
    NARROW_LINES,
    STYLE_CODES,
    MapNode,
    Node,
    ScalarNode,
    SeqNode,
    end_of,
    pack,
    unpack,
)
from nplint.loading.scalars import NULLS, resolve_plain

__all__ = ["compose_lines", "flatten_lines"]

#: Characters of a text not read here at all: tabs and the line breaks other than "\n"
#: (libyaml also breaks lines at these), and a byte order mark.
_REFUSED = ("\t", "\r", "\x85", "\u2028", "\u2029", "\ufeff")
#: A line: its indentation, a sequence item's "- ", a key (plain, or quoted without escapes)
#: and the colon after it, and the rest (a value, a comment, or what this module does not read).
_LINE = re.compile(
    r"( *)"  # the indentation
    r"(?:(-)( +|$))?"  # a sequence item
    r"""(?:([A-Za-z0-9_.][A-Za-z0-9_./-]{0,999}|"[^"\\]{0,998}"|'[^']{0,998}'):( +|$))?"""  # a key
    r"(.*)"
)
#: The first characters of a value read by :func:`_special`: quotes, flow collections,
#: comments and the indicators a plain scalar cannot start with.
_SPECIAL = frozenset("-?:,[]{}#&*!|>'\"%@`")
_QUOTES = frozenset("'\"")
#: The escapes of double-quoted scalars read here, and what they stand for.
_ESCAPES = {"\\": "\\", '"': '"', "/": "/", "n": "\n", "t": "\t"}
_ESCAPE = re.compile(r"\\(.?)")
#: The first characters of the plain scalars that may resolve to something else than
#: their text (null, a boolean, a number); any other is a string as written.
_RESOLVED = frozenset("0123456789+-.~nNyYtTfFoO")
#: A plain scalar inside a flow collection, read here: no blanks, no flow indicators, and a
#: colon only before more of the scalar (``nginx:1.27``), never before a blank.
_FLOW_PLAIN = re.compile(r"(?:[A-Za-z0-9_./]|-(?=[A-Za-z0-9_.]))(?:[A-Za-z0-9_./-]|:(?=[A-Za-z0-9_./]))*")
#: Nesting read here at most, block and flow collections together; deeper goes to libyaml
#: (and its own bounds). As deep as :func:`~nplint.loading.fastpath.python_fast` reads.
MAX_LEVELS = 100

_new: Any = object.__new__


class _Declined(Exception):
    """The text needs libyaml."""


def _refused(text: str) -> bool:
    """Whether ``text`` holds a character this module does not read at all."""
    return any(refused in text for refused in _REFUSED)


def compose_lines(text: str) -> list[tuple[int, Node]] | None:
    """The documents of ``text`` as (index, root) pairs, or None when the file needs libyaml."""
    if _refused(text):
        return None
    try:
        return _compose(text)
    except _Declined:
        return None


def _compose(text: str) -> list[tuple[int, Node]]:
    roots: list[Node] = []
    # The open collections, outermost first: [node, column (0-based), is a sequence, last
    # child, line]. A block collection's position is set when it closes: it starts at its
    # first key or "-" and ends where its last child ends.
    stack: list[list[Any]] = []
    # A key whose value starts on a later line: (its mapping, the key, its key_at, the mapping's column).
    pending: tuple[MapNode, str, int, int] | None = None
    explicit = False  # the current document was opened by "---" (so an empty one counts)
    in_document = False
    match = _LINE.match
    new = _new
    special = _SPECIAL
    resolved = _RESOLVED
    lines = text.split("\n")
    # A text that ends with a line break splits into one more (empty) string than it has lines.
    real_lines = len(lines) - (text[-1:] == "\n")
    skip = 0  # lines a block scalar took
    node: Node
    # The plain scalar that ended the last line read, which a more indented line continues:
    # the scalar, the column of its collection, its last line (-1: none may be continued).
    open_node: ScalarNode | None = None
    open_parent = 0
    open_line = -1
    # The lines that continue the open scalar, and every continued scalar with its lines:
    # each text is joined once, at the end (joining line by line would cost the square of
    # a long scalar's length).
    open_parts: list[str] | None = None
    continued: list[tuple[ScalarNode, list[str]]] = []
    number = 0
    for line in lines:
        number += 1
        if number <= skip:
            continue
        spaces, dash, after_dash, key, after_key, value = match(line).groups()  # type: ignore[union-attr]
        indent = len(spaces)
        if dash is None and key is None:
            if not value or value[0] == "#":
                continue  # blank, or a comment
            if open_line == number - 1 and indent > open_parent:
                assert open_node is not None
                if open_parts is None:
                    open_parts = []
                    continued.append((open_node, open_parts))
                open_node.packed, open_line = _continued(open_node.packed, open_parts, value, number, indent)
                continue
            if indent or not _separator(value):
                raise _Declined  # a scalar alone on its line, a directive, "...", or a key not read here
            if pending is not None:
                stack[-1][3] = _null(pending)
                pending = None
            if in_document:
                roots.append(_close_all(stack))
            elif explicit:
                roots.append(_empty_root(number, 1))
            explicit, in_document = True, False
            continue
        in_document = True
        # The collection this line adds to: a pending key's new one, or an open one.
        if pending is not None and (indent < pending[3] or (indent == pending[3] and dash is None)):
            # The key's value is null: the line belongs to a collection open before it.
            stack[-1][3] = _null(pending)
            pending = None
        if pending is not None:
            mapping, pending_key, pending_at, column = pending
            pending = None
            child: Any = new(MapNode if dash is None else SeqNode)
            if dash is None:
                child.entries = {}
            else:
                child.items = []
            child.tag = None
            child.parent = mapping
            child.key = pending_key
            child.key_at = pending_at
            mapping.entries[pending_key] = child
            stack[-1][3] = child
            if len(stack) >= MAX_LEVELS:
                raise _Declined
            top = [child, indent, dash is not None, None, number]
            stack.append(top)
        elif not stack:
            child = new(MapNode if dash is None else SeqNode)
            if dash is None:
                child.entries = {}
            else:
                child.items = []
            child.tag = None
            child.parent = child.key = child.key_at = None
            top = [child, indent, dash is not None, None, number]
            stack.append(top)
        else:
            while True:
                top = stack[-1]
                if top[1] > indent or (top[2] and dash is None and top[1] == indent):
                    # Left of it, or (an indentless sequence) at its mapping's next key: it closes.
                    stack.pop()
                    top[0].packed = _ending(top[4], top[1], top[3].packed)
                    if not stack:
                        raise _Declined  # left of the document's root
                    if top[1] == indent and (stack[-1][2] or stack[-1][1] != indent):
                        raise _Declined  # an indentless sequence belongs to the mapping it is level with
                    continue
                if top[1] < indent:
                    raise _Declined  # a scalar over several lines, or indentation libyaml refuses
                if dash is not None and not top[2]:
                    raise _Declined  # an item level with a mapping's keys, after a value
                break
        if dash is not None:
            # An item: a scalar, or a mapping whose first key is on this line.
            column = indent + 1 + len(after_dash)
            sequence = top[0]
            items = sequence.items
            if key is None:
                if not value or value[0] in special:
                    node, skip = _value(lines, number, real_lines, value, column + 1, top[1], len(stack))
                else:
                    node = _plain(value, number, column + 1)
                    if " #" not in value:
                        open_node, open_parent, open_line, open_parts = node, top[1], number, None
                node.parent = sequence
                node.key = len(items)
                node.key_at = None
                items.append(node)
                top[3] = node
                continue
            mapping = new(MapNode)
            mapping.entries = {}
            mapping.tag = None
            mapping.parent = sequence
            mapping.key = len(items)
            mapping.key_at = None
            items.append(mapping)
            top[3] = mapping
            if len(stack) >= MAX_LEVELS:
                raise _Declined
            top = [mapping, column, False, None, number]
            stack.append(top)
        else:
            column = indent
            mapping = top[0]
        # ``key: value`` at ``column`` in ``mapping`` (``top``).
        entries = mapping.entries
        start = column + 1
        end_column = start + len(key)
        first = key[0]
        if first == '"' or first == "'":
            key = key[1:-1]
            style_code = 2 if first == '"' else 1
            if key in entries:
                raise _Declined  # a repeated key
        else:
            style_code = 0
            if key in entries or key in NULLS:
                raise _Declined  # a repeated key, or a null one
        key = intern(key)
        if number < NARROW_LINES and end_column < NARROW:
            key_at = ((number << 12 | start) << 24 | end_column) << 3 | style_code
        else:
            key_at = pack((number, start, number, end_column)) << 3 | style_code
        if not value or value[0] == "#":
            pending = (mapping, key, key_at, column)  # the value is on later lines
            continue
        value_column = end_column + 1 + len(after_key)
        if value[0] in special:
            node, skip = _value(lines, number, real_lines, value, value_column, column, len(stack))
        else:
            # A plain scalar, the most common value: read here.
            cut = value.find(" #")
            text_ = (value if cut < 0 else value[:cut]).rstrip(" ")
            if ": " in text_ or text_[-1] == ":":
                raise _Declined
            if len(text_) <= INTERNED_LENGTH:
                text_ = intern(text_)
            scalar: ScalarNode = new(ScalarNode)
            scalar.value = resolve_plain(text_) if text_[0] in resolved else text_
            scalar.text = text_
            scalar.style = ""
            end_column = value_column + len(text_)
            if number < NARROW_LINES and end_column < NARROW:
                scalar.packed = (number << 12 | value_column) << 24 | end_column
            else:
                scalar.packed = pack((number, value_column, number, end_column))
            scalar.tag = None
            node = scalar
            if cut < 0:
                open_node, open_parent, open_line, open_parts = scalar, column, number, None
        node.parent = mapping
        node.key = key
        node.key_at = key_at
        entries[key] = node
        top[3] = node
    if pending is not None:
        stack[-1][3] = _null(pending)
    if in_document:
        roots.append(_close_all(stack))
    elif explicit:
        # "---" and nothing after it: an empty document, whose null sits where the stream ends.
        roots.append(_empty_root(_line_after(text), 1))
    for scalar_node, parts in continued:
        joined = " ".join((scalar_node.text, *parts))
        scalar_node.text = intern(joined) if len(joined) <= INTERNED_LENGTH else joined
        scalar_node.value = resolve_plain(scalar_node.text)
    return list(enumerate(roots))


def flatten_lines(text: str) -> tuple[list[Any], list[Any], list[set[str] | None]] | None:
    """What :func:`compose_lines` reads, written straight in the plain form of
    :mod:`nplint.loading.transfer`, or None where it declines.

    For the process that loads files only to send them: no node is made. The
    documents (as ``transfer.encode`` writes them), every tree in document order, and
    the keys of each document's root mapping (None for another root).
    """
    if _refused(text):
        return None
    try:
        return _flatten(text)
    except _Declined:
        return None


def _flatten(text: str) -> tuple[list[Any], list[Any], list[set[str] | None]]:
    """:func:`_compose`, writing each value as it is read (see :func:`flatten_lines`).

    An open collection is [where its header is in ``out``, column, is a sequence, the
    position of its last child, line, children, keys (of a mapping)]: its position and
    count are filled in when it closes.
    """
    out: list[Any] = []
    root_keys: list[set[str] | None] = []
    stack: list[list[Any]] = []
    pending: tuple[list[Any], str, int, int] | None = None
    explicit = False
    in_document = False
    match = _LINE.match
    special = _SPECIAL
    resolved = _RESOLVED
    lines = text.split("\n")
    real_lines = len(lines) - (text[-1:] == "\n")
    skip = 0
    # The plain scalar a more indented line may continue: where it is in ``out``, its
    # collection, that collection's column, its last line (-1: none).
    open_at = open_parent = 0
    open_level: list[Any] = []
    open_line = -1
    open_parts: list[str] | None = None
    continued: list[tuple[int, list[str]]] = []
    node: Node
    number = 0
    for line in lines:
        number += 1
        if number <= skip:
            continue
        spaces, dash, after_dash, key, after_key, value = match(line).groups()  # type: ignore[union-attr]
        indent = len(spaces)
        if dash is None and key is None:
            if not value or value[0] == "#":
                continue
            if open_line == number - 1 and indent > open_parent:
                if open_parts is None:
                    open_parts = []
                    continued.append((open_at, open_parts))
                packed, open_line = _continued(out[open_at + 1], open_parts, value, number, indent)
                out[open_at + 1] = open_level[3] = packed  # the scalar is its collection's last child
                continue
            if indent or not _separator(value):
                raise _Declined
            if pending is not None:
                _null_flat(out, pending)
                pending = None
            if in_document:
                root_keys.append(_close_all_flat(out, stack))
            elif explicit:
                out += (0, pack((number, 1, number, 1)), None, None, "", "", None)
                root_keys.append(None)
            explicit, in_document = True, False
            continue
        in_document = True
        if pending is not None and (indent < pending[3] or (indent == pending[3] and dash is None)):
            _null_flat(out, pending)
            pending = None
        if pending is not None:
            level, pending_key, pending_at, column = pending
            pending = None
            out.append(pending_key)
            level[5] += 1
            if len(stack) >= MAX_LEVELS:
                raise _Declined
            top: list[Any] = [
                len(out),
                indent,
                dash is not None,
                0,
                number,
                0,
                None if dash is not None else set(),
            ]
            out += (1 if dash is None else 2, 0, pending_at, None, 0)
            stack.append(top)
        elif not stack:
            top = [len(out), indent, dash is not None, 0, number, 0, None if dash is not None else set()]
            out += (1 if dash is None else 2, 0, None, None, 0)
            stack.append(top)
        else:
            while True:
                top = stack[-1]
                if top[1] > indent or (top[2] and dash is None and top[1] == indent):
                    stack.pop()
                    _close_flat(out, top, stack)
                    if not stack:
                        raise _Declined
                    if top[1] == indent and (stack[-1][2] or stack[-1][1] != indent):
                        raise _Declined
                    continue
                if top[1] < indent:
                    raise _Declined
                if dash is not None and not top[2]:
                    raise _Declined
                break
        if dash is not None:
            column = indent + 1 + len(after_dash)
            if key is None:
                if not value or value[0] in special:
                    node, skip = _value(lines, number, real_lines, value, column + 1, top[1], len(stack))
                else:
                    node = _plain(value, number, column + 1)
                    if " #" not in value:
                        open_at, open_level, open_parent, open_line, open_parts = (
                            len(out),
                            top,
                            top[1],
                            number,
                            None,
                        )
                node.key_at = None
                _write(out, node)
                top[3] = node.packed
                top[5] += 1
                continue
            top[5] += 1
            if len(stack) >= MAX_LEVELS:
                raise _Declined
            top = [len(out), column, False, 0, number, 0, set()]
            out += (1, 0, None, None, 0)
            stack.append(top)
        else:
            column = indent
        keys = top[6]
        start = column + 1
        end_column = start + len(key)
        first = key[0]
        if first == '"' or first == "'":
            key = key[1:-1]
            style_code = 2 if first == '"' else 1
            if key in keys:
                raise _Declined
        else:
            style_code = 0
            if key in keys or key in NULLS:
                raise _Declined
        key = intern(key)
        keys.add(key)
        if number < NARROW_LINES and end_column < NARROW:
            key_at = ((number << 12 | start) << 24 | end_column) << 3 | style_code
        else:
            key_at = pack((number, start, number, end_column)) << 3 | style_code
        if not value or value[0] == "#":
            pending = (top, key, key_at, column)
            continue
        value_column = end_column + 1 + len(after_key)
        top[5] += 1
        out.append(key)
        if value[0] in special:
            node, skip = _value(lines, number, real_lines, value, value_column, column, len(stack))
        else:
            cut = value.find(" #")
            text_ = (value if cut < 0 else value[:cut]).rstrip(" ")
            if ": " in text_ or text_[-1] == ":":
                raise _Declined
            if len(text_) <= INTERNED_LENGTH:
                text_ = intern(text_)
            end_column = value_column + len(text_)
            if number < NARROW_LINES and end_column < NARROW:
                packed = (number << 12 | value_column) << 24 | end_column
            else:
                packed = pack((number, value_column, number, end_column))
            if cut < 0:
                open_at, open_level, open_parent, open_line, open_parts = len(out), top, column, number, None
            out += (
                0,
                packed,
                key_at,
                resolve_plain(text_) if text_[0] in resolved else text_,
                text_,
                "",
                None,
            )
            top[3] = packed
            continue
        node.key_at = key_at
        _write(out, node)
        top[3] = node.packed
    if pending is not None:
        _null_flat(out, pending)
    if in_document:
        root_keys.append(_close_all_flat(out, stack))
    elif explicit:
        end = _line_after(text)
        out += (0, pack((end, 1, end, 1)), None, None, "", "", None)
        root_keys.append(None)
    for at, parts in continued:
        joined = " ".join((out[at + 4], *parts))
        out[at + 4] = intern(joined) if len(joined) <= INTERNED_LENGTH else joined
        out[at + 3] = resolve_plain(out[at + 4])
    documents: list[Any] = [(index, False, [], True) for index in range(len(root_keys))]
    return documents, out, root_keys


def _write(out: list[Any], node: Node) -> None:
    """Write a node a helper made (a scalar, or a flow collection) in the plain form."""
    if type(node) is ScalarNode:
        out += (0, node.packed, node.key_at, node.value, node.text, node.style, None)
        return
    from nplint.loading.transfer import flatten_nodes  # transfer imports the composer, which imports this

    flatten_nodes(node, out)


def _null_flat(out: list[Any], pending: tuple[list[Any], str, int, int]) -> None:
    """:func:`_null`, written: the pending key and its null."""
    level, key, key_at, _ = pending
    line, column = _after_key(key_at)
    at = pack((line, column, line, column))
    out.append(key)
    out += (0, at, key_at, None, "", "", None)
    level[5] += 1
    level[3] = at


def _close_flat(out: list[Any], level: list[Any], stack: list[list[Any]]) -> None:
    """Fill in the position and count of a collection that closed; it is its parent's last child."""
    at, column, _, last, line, count, _ = level
    packed = _ending(line, column, last)
    out[at + 1] = packed
    out[at + 4] = count
    if stack:
        stack[-1][3] = packed


def _close_all_flat(out: list[Any], stack: list[list[Any]]) -> set[str] | None:
    """Close every open collection; the keys of the document's root mapping (None for a sequence)."""
    keys: set[str] | None = stack[0][6]
    while stack:
        _close_flat(out, stack.pop(), stack)
    return keys


def _separator(line: str) -> bool:
    """Whether a line is a document separator, ``---`` alone (maybe with a comment)."""
    if line[:3] != "---":
        return False
    after = line[3:]
    if not after:
        return True
    if after[0] != " ":
        return False
    after = after.lstrip(" ")
    return not after or after[0] == "#"


def _after_key(key_at: int) -> tuple[int, int]:
    """The line and column just past a key's colon, where libyaml places a null value."""
    line, column = end_of(key_at >> 3)
    return line, column + 1


def _line_after(text: str) -> int:
    """The line after the last of ``text``, where libyaml ends the stream (it ends a last line
    that has no break)."""
    return text.count("\n") + (not text.endswith("\n")) + 1


def _null(pending: tuple[MapNode, str, int, int]) -> ScalarNode:
    """The null value of a key written with none (``key:``), right after its colon, as libyaml places it."""
    mapping, key, key_at, _ = pending
    node = _scalar("", "", *_after_key(key_at), 0)
    node.parent = mapping
    node.key = key
    node.key_at = key_at
    mapping.entries[key] = node
    return node


def _block_scalar(
    lines: list[str], number: int, real_lines: int, value: str, column: int, parent: int
) -> tuple[ScalarNode, int]:
    """A literal (``|``, ``|-``) or folded (``>``, ``>-``) scalar of the simplest kind, and its last line.

    ``value`` is the indicator (and a comment) at 1-based ``column`` on line ``number``;
    ``parent`` is the column of the collection it is a value in. The content lines all
    sit at the indentation of the first, past ``parent``; empty lines may come between
    and after them. Anything else (an indentation or keep indicator, leading empty lines,
    lines of blanks, a folded scalar whose lines do not simply fold, the text's end
    without a line break) is declined.
    """
    style = value[0]
    chomp = value[1:2] == "-"
    _line_ends(value, 2 if chomp else 1)
    first = number  # 0-based index of the line after the indicator's
    if first >= real_lines:
        raise _Declined
    head = lines[first]
    indent = len(head) - len(head.lstrip(" "))
    if indent <= parent or indent == len(head):
        raise _Declined  # empty, a line of blanks, or not inside the collection
    contents: list[str] = []
    at = first
    while at < real_lines:
        line = lines[at]
        if not line:
            contents.append("")
        elif line[:indent].strip(" "):
            break  # less indented: the scalar ended
        elif not line.strip(" "):
            raise _Declined  # a line of blanks
        else:
            contents.append(line[indent:])
        at += 1
    if at == real_lines and real_lines == len(lines):
        raise _Declined  # the text ends without a line break
    while not contents[-1]:
        contents.pop()
    if style == "|":
        text = "\n".join(contents)
    else:
        if any(not line or line[0] == " " or line[-1] == " " for line in contents):
            raise _Declined  # folding that is more than joining with blanks
        text = " ".join(contents)
    if not chomp:
        text += "\n"
    node: ScalarNode = _new(ScalarNode)
    node.value = text
    node.text = text
    node.style = style
    node.packed = pack((number, column, at + 1, 1))
    node.tag = None
    return node, at


def _continued(packed: int, parts: list[str], value: str, number: int, indent: int) -> tuple[int, int]:
    """Add a line to a plain scalar at ``packed`` (``value`` at ``indent`` on line ``number``),
    to be joined with a blank: its text goes to ``parts``.

    The scalar's position, now ending on this line, and the line it can be continued from:
    this one, or -1 after a comment, which ends it.
    """
    more, cut = _plain_text(value)
    parts.append(more)
    line, column, _, _ = unpack(packed)
    return pack((line, column, number, indent + len(more) + 1)), (number if cut < 0 else -1)


def _quoted_lines(
    lines: list[str], number: int, real_lines: int, value: str, column: int, parent: int
) -> tuple[ScalarNode, int]:
    """A quoted scalar over several lines, folded as YAML folds them, and its last line.

    ``value`` starts with the opening quote at 1-based ``column`` on line ``number``;
    ``parent`` is the column of the collection it is a value in. Each line break
    becomes a blank, with the blanks around it. Declined: an empty line (which folds
    to a line break), a line not indented past ``parent``, a first line with nothing
    after the quote, and what :func:`_unquoted` declines.
    """
    quote = value[0]
    first = value[1:].rstrip(" ")
    if not first:
        raise _Declined
    parts = [_unquoted(first, quote)]
    at = number  # 0-based index of the next line
    while True:
        if at >= real_lines:
            raise _Declined  # never closed
        line = lines[at]
        stripped = line.lstrip(" ")
        indent = len(line) - len(stripped)
        if not stripped or indent <= parent:
            raise _Declined
        close = _closing(stripped, 0, quote)
        if close < 0:
            parts.append(_unquoted(stripped.rstrip(" "), quote))
            at += 1
            continue
        _line_ends(stripped, close + 1)
        parts.append(_unquoted(stripped[:close], quote))
        text = " ".join(parts)
        node: ScalarNode = _new(ScalarNode)
        node.value = text
        node.text = text
        node.style = quote
        node.packed = pack((number, column, at + 1, indent + close + 2))
        node.tag = None
        return node, at + 1


def _empty_root(line: int, column: int) -> ScalarNode:
    node: ScalarNode = _new(ScalarNode)
    node.value = None
    node.text = ""
    node.style = ""
    node.packed = pack((line, column, line, column))
    node.tag = None
    node.parent = None
    node.key = node.key_at = None
    return node


def _plain(value: str, number: int, column: int) -> ScalarNode:
    """The plain scalar that ``value`` (at 1-based ``column``) starts, ending the line."""
    text, _ = _plain_text(value)
    return _scalar("", text, number, column, len(text))


def _plain_text(value: str) -> tuple[str, int]:
    """The text of the plain scalar ``value`` holds, and where a comment cuts it (-1: none).

    The two line loops do the same inline for a value after a key, the commonest line.
    """
    cut = value.find(" #")
    text = (value if cut < 0 else value[:cut]).rstrip(" ")
    if ": " in text or text[-1] == ":":
        raise _Declined  # a mapping on the same line, or a key with no value
    return text, cut


def _value(
    lines: list[str], number: int, real_lines: int, value: str, column: int, parent: int, levels: int
) -> tuple[Node, int]:
    """A value that is no plain scalar, starting at 1-based ``column`` on line ``number``; and
    the last line it takes (``number`` but for block scalars and quoted ones over lines).

    ``parent`` is the column of the collection it is a value in, ``levels`` how deep that is.
    """
    first = value[:1]
    if first == "|" or first == ">":
        return _block_scalar(lines, number, real_lines, value, column, parent)
    if first in _QUOTES and _closing(value, 1, first) < 0:
        return _quoted_lines(lines, number, real_lines, value, column, parent)
    return _special(value, number, column, levels), number


def _special(value: str, number: int, column: int, levels: int) -> Node:
    """A value starting with a quote, a bracket or an indicator: read when it is simple, else declined.

    ``levels``: how deep the collection it is a value in is nested.
    """
    if not value:
        raise _Declined  # an item on later lines
    first = value[0]
    if first == "-" and len(value) > 1 and value[1] != " ":
        return _plain(value, number, column)
    if first == '"' or first == "'":
        text, end = _quoted(value, 0)
        _line_ends(value, end)
        return _scalar(first, text, number, column, end)
    if first == "{" or first == "[":
        node, end = _flow(value, 0, number, column, levels + 1)
        _line_ends(value, end)
        return node
    raise _Declined


def _flow(value: str, at: int, number: int, column: int, depth: int) -> tuple[Node, int]:
    """The flow node at ``value[at]`` (``value[0]`` sits at 1-based ``column``), and where it ends.

    ``depth``: how deep the node is nested in its document (the root is 1), at most
    :data:`MAX_LEVELS`, as in the block collections.

    Mappings of plain or quoted keys followed by ": ", sequences, simply quoted scalars
    and plain scalars without blanks; anything else (a pair in a sequence, a key with no
    value, a trailing comma, a line that ends inside) is declined.
    """
    size = len(value)
    if at >= size or depth > MAX_LEVELS:
        raise _Declined
    first = value[at]
    if first == '"' or first == "'":
        text, end = _quoted(value, at)
        return _scalar(first, text, number, column + at, end - at), end
    if first != "{" and first != "[":
        found = _FLOW_PLAIN.match(value, at)
        if found is None:
            raise _Declined
        text = found.group()
        return _scalar("", text, number, column + at, len(text)), found.end()
    start = at
    is_map = first == "{"
    close = "}" if is_map else "]"
    collection: Any = _new(MapNode if is_map else SeqNode)
    if is_map:
        collection.entries = {}
    else:
        collection.items = []
    collection.tag = None
    at = _blanks(value, at + 1)
    if at < size and value[at] == close:
        at += 1
    else:
        while True:
            if is_map:
                if at >= size:
                    raise _Declined
                quote = value[at]
                if quote == '"' or quote == "'":
                    key, end = _quoted(value, at)
                    style = quote
                else:
                    found = _FLOW_PLAIN.match(value, at)
                    if found is None:
                        raise _Declined
                    key, end, style = found.group(), found.end(), ""
                if value[end : end + 2] != ": ":
                    raise _Declined  # a key without ": " after it
                entries = collection.entries
                if key in entries or (not style and key in NULLS):
                    raise _Declined
                key = intern(key)
                key_at = pack((number, column + at, number, column + end)) << 3 | STYLE_CODES[style]
                child, at = _flow(value, _blanks(value, end + 2), number, column, depth + 1)
                child.parent = collection
                child.key = key
                child.key_at = key_at
                entries[key] = child
            else:
                child, at = _flow(value, at, number, column, depth + 1)
                child.parent = collection
                child.key = len(collection.items)
                child.key_at = None
                collection.items.append(child)
            at = _blanks(value, at)
            if at >= size:
                raise _Declined  # the line ends inside the collection
            if value[at] == close:
                at += 1
                break
            if value[at] != ",":
                raise _Declined
            at = _blanks(value, at + 1)
            if at < size and value[at] == close:
                raise _Declined  # a trailing comma
    collection.packed = pack((number, column + start, number, column + at))
    return collection, at


def _quoted(value: str, at: int) -> tuple[str, int]:
    """The text of the quoted scalar at ``value[at]``, on this line, and where it ends."""
    quote = value[at]
    close = _closing(value, at + 1, quote)
    if close < 0:
        raise _Declined  # over several lines
    return _unquoted(value[at + 1 : close], quote), close + 1


def _closing(value: str, at: int, quote: str) -> int:
    """Where the quoted scalar whose text starts at ``value[at]`` closes on this line, or -1.

    A quote written twice (single) or after an odd number of backslashes (double) is text.
    """
    while True:
        found = value.find(quote, at)
        if found < 0:
            return -1
        if quote == "'":
            if value[found + 1 : found + 2] != "'":
                return found
            at = found + 2
            continue
        start = found
        while start > at and value[start - 1] == "\\":
            start -= 1
        if (found - start) % 2 == 0:
            return found
        at = found + 1


def _unquoted(raw: str, quote: str) -> str:
    """The text of a quoted scalar written ``raw`` on one line: quotes written twice, the
    commonest escapes; any other escape is declined."""
    if quote == "'":
        return raw.replace("''", "'")
    if "\\" not in raw:
        return raw
    return _ESCAPE.sub(_escaped, raw)


def _escaped(found: re.Match[str]) -> str:
    text = _ESCAPES.get(found.group(1))
    if text is None:
        raise _Declined  # an escape not read here, or a backslash that ends the line
    return text


def _blanks(value: str, at: int) -> int:
    size = len(value)
    while at < size and value[at] == " ":
        at += 1
    return at


def _line_ends(value: str, at: int) -> None:
    """Refuse anything but blanks and a comment (after a blank) past a value's end."""
    tail = value[at:]
    rest = tail.lstrip(" ")
    if rest and (rest[0] != "#" or rest == tail):
        raise _Declined


def _scalar(style: str, text: str, number: int, column: int, width: int) -> ScalarNode:
    if len(text) <= INTERNED_LENGTH:
        text = intern(text)
    node: ScalarNode = _new(ScalarNode)
    node.value = resolve_plain(text) if style == "" else text
    node.text = text
    node.style = style
    end_column = column + width
    if number < NARROW_LINES and end_column < NARROW:
        node.packed = (number << 12 | column) << 24 | end_column
    else:
        node.packed = pack((number, column, number, end_column))
    node.tag = None
    return node


def _close_all(stack: list[list[Any]]) -> Node:
    """Close every open collection, innermost first; the document's root."""
    root: Node = stack[0][0]
    while stack:
        node, column, _, last, line = stack.pop()
        node.packed = _ending(line, column, last.packed)
    return root


def _ending(line: int, column: int, last: int) -> int:
    """The position of a block collection from ``line`` and 0-based ``column`` to where its last
    child (at ``last``) ends."""
    end_line, end_column = end_of(last)
    return pack((line, column + 1, end_line, end_column))
