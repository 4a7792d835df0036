"""Build positioned node trees from YAML parser events, without recursion.

The parser (libyaml through PyYAML's C extension when present, PyYAML's
pure-Python parser otherwise) hands us a flat stream of events; composing them
with an explicit stack means that 20,000 levels of nesting cannot overflow the
interpreter's stack. No Python object is ever constructed from a tag, so
``!!python/object`` and friends are inert text.

Scalars are resolved the way Kubernetes' YAML decoder (go-yaml v2 behind
sigs.k8s.io/yaml) resolves them: YAML 1.1 booleans (``yes``, ``on`` …), octal
with a leading zero, ``~`` for null. That is what makes ``matchLabels: {env: on}``
a boolean, and so an error, exactly as ``kubectl apply`` would say.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from dataclasses import field
from typing import Any

import yaml
from yaml import events as ev
from yaml.error import MarkedYAMLError, YAMLError

from nplint.findings import Span
from nplint.loading.fastpath import MAX_DEPTH, compose_fast
from nplint.loading.nodes import INTERNED_LENGTH, MapNode, Node, Scalar, ScalarNode, SeqNode, pack_key
from nplint.loading.scalars import CORE_TAG, resolve_plain, resolve_tagged
from nplint.records import record

try:  # pragma: no cover - depends on the platform's wheels
    from yaml._yaml import CParser as _CParser
except ImportError:  # pragma: no cover
    _CParser = None

#: Nodes a document may expand to once aliases are followed (a "billion laughs" guard).
MAX_EXPANDED_NODES = 1_000_000
#: Values (nodes) nplint builds for one document, and for one file. A flow
#: sequence spends two bytes a value (``[1,1,1,…]``), so a file under the size
#: cap could otherwise ask for gigabytes of nodes; the largest real manifests
#: (CRDs, `kubectl get -o yaml` exports) hold a few hundred thousand.
MAX_DOCUMENT_NODES = 1_000_000
MAX_FILE_NODES = 2_000_000
#: The most nodes :func:`node_bound` may promise for a file to go to the fast
#: path, which builds libyaml's nodes (about three times the size of ours) for
#: the whole file before anything can be counted.
FAST_PATH_BOUND = 1_000_000

_TOO_DEEP = f"not read: nested {MAX_DEPTH:,} levels deep or more; no Kubernetes manifest is nearly this deep"
_KNOWN_TAGS = frozenset(
    CORE_TAG + name
    for name in ("str", "int", "float", "bool", "null", "map", "seq", "omap", "timestamp", "binary")
)


@record(slots=True)
class Problem:
    """Something that keeps a file or document from being read as Kubernetes would read it."""

    span: Span
    message: str


@record(slots=True)
class Document:
    """One YAML document of a stream. ``root`` is None for an empty document."""

    index: int
    root: Node | None
    problems: list[Problem] = field(default_factory=list)
    #: True when the document could not be read at all (it is not linted further).
    failed: bool = False


class _Frame:
    __slots__ = ("anchor", "depth", "merged", "node", "pending_key", "size")

    def __init__(self, node: MapNode | SeqNode, anchor: str | None, depth: int) -> None:
        self.node = node
        self.pending_key: ScalarNode | None = None
        self.size = 1
        self.anchor = anchor
        self.depth = depth
        #: Keys a ``<<`` merge put in this mapping: a key written later overrides them.
        self.merged: set[str] | None = None


class _TooManyValues(Exception):
    """A document, or the file, holds more values than nplint builds; raised to stop composing."""

    def __init__(self, pos: tuple[int, int, int, int], whole_file: bool) -> None:
        if whole_file:
            message = (
                f"not read: the file holds more than {MAX_FILE_NODES:,} values, the most nplint reads "
                "in one file; this document and the ones after it are left out"
            )
        else:
            message = (
                f"not read: this document holds more than {MAX_DOCUMENT_NODES:,} values, the most "
                "nplint reads in one document"
            )
        super().__init__(message)
        self.span = Span(pos[0], pos[1], pos[0], pos[1] + 1)
        self.message = message
        self.whole_file = whole_file


class _DocumentTooLarge(Exception):
    def __init__(self, span: Span, message: str) -> None:
        super().__init__(message)
        self.span = span
        self.message = message


def _events(text: str) -> Iterator[ev.Event]:
    if _CParser is not None:
        parser = _CParser(text)
        try:
            while True:
                event = parser.get_event()
                yield event
                if isinstance(event, ev.StreamEndEvent):
                    return
        finally:
            parser.dispose()
    else:  # pragma: no cover - exercised only without the C extension
        yield from yaml.parse(text, Loader=yaml.SafeLoader)


_SCALAR = ev.ScalarEvent
_MAPPING_START = ev.MappingStartEvent
_SEQUENCE_START = ev.SequenceStartEvent
_MAPPING_END = ev.MappingEndEvent
_SEQUENCE_END = ev.SequenceEndEvent

_DOC_SEPARATOR = re.compile(r"^(?:---|\.\.\.)(?:[ \t].*)?$", re.MULTILINE)


def compose_documents(text: str) -> tuple[list[Document], list[Problem]]:
    """Compose every document of ``text``.

    Returns the documents and the stream-level problems. A syntax error spoils
    the document it is in; parsing starts again at the next ``---`` so the
    documents after it are still read.
    """
    if within_fast_bound(text):
        fast = compose_fast(text)
        if fast is not None:
            return [Document(index, root) for index, root in fast], []
    return compose_events(text)


def within_fast_bound(text: str) -> bool:
    """Whether :func:`node_bound` of ``text`` is within :data:`FAST_PATH_BOUND`.

    Told without counting for nearly every file: every character adds at most
    three to the bound, so a text of fewer than a third as many characters is within it.
    """
    return 3 * len(text) + 1 <= FAST_PATH_BOUND or node_bound(text) <= FAST_PATH_BOUND


def node_bound(text: str) -> int:
    """More nodes than ``text`` can compose to, counted without parsing it.

    Every node but a document's root is announced by an indicator: a sequence
    item by "-" or "," (or the "[" before it), a mapping key by ":" or "?"
    (or "," or "{" in flow), and each of them makes at most a collection, a
    key and a value. A root needs a line of its own.
    """
    indicators = sum(text.count(char) for char in ",:-?[{")
    return 3 * indicators + text.count("\n") + 1


def compose_events(text: str) -> tuple[list[Document], list[Problem]]:
    """:func:`compose_documents` from libyaml's events, for every input, however odd."""
    documents: list[Document] = []
    problems: list[Problem] = []
    offset_line = 0
    remaining = text
    built = 0
    while True:
        composer = _Composer(offset_line, len(documents), built)
        try:
            for event in _events(remaining):
                composer.feed(event)
            documents.extend(composer.documents)
            return documents, problems
        except _TooManyValues as error:
            documents.extend(composer.documents)
            built = composer.file_built
            if error.whole_file:
                # The documents read so far stand; nothing more of this file is built.
                problems.append(Problem(error.span, error.message))
                documents.append(Document(len(documents), None, failed=True))
                return documents, problems
            document_problems = [*composer.document_problems, Problem(error.span, error.message)]
            documents.append(Document(len(documents), None, document_problems, failed=True))
            span = error.span
        except (MarkedYAMLError, YAMLError, ValueError, TypeError, IndexError) as error:
            documents.extend(composer.documents)
            built = composer.file_built
            span = _error_span(error, offset_line)
            problems.append(Problem(span, _error_message(error)))
            if composer.in_document:
                documents.append(Document(len(documents), None, failed=True))
        # Resume at the first document separator after the error.
        error_line = span.line - offset_line  # 1-based within ``remaining``
        resume = _next_separator(remaining, error_line)
        if resume is None:
            return documents, problems
        skipped_lines = remaining.count("\n", 0, resume)
        offset_line += skipped_lines
        remaining = remaining[resume:]


def _next_separator(text: str, error_line: int) -> int | None:
    """Character offset of the first ``---`` line at or after 1-based ``error_line``.

    The offset is always past the start of ``text``, so parsing makes progress.
    """
    position = 0
    for _ in range(error_line - 1):
        newline = text.find("\n", position)
        if newline < 0:
            return None
        position = newline + 1
    match = _DOC_SEPARATOR.search(text, max(position, 1))
    while match is not None and match.start() > 0 and text[match.start() - 1] != "\n":
        match = _DOC_SEPARATOR.search(text, match.end())
    if match is None:
        return None
    if text.startswith("...", match.start()):
        # An end marker: the next document starts on the following line.
        newline = text.find("\n", match.start())
        return None if newline < 0 else newline + 1
    return match.start()


def _error_span(error: Exception, offset_line: int) -> Span:
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    if mark is not None and getattr(mark, "line", None) is not None:
        line = mark.line + 1 + offset_line
        column = mark.column + 1
        return Span(line, column, line, column + 1)
    return Span(offset_line + 1, 1, offset_line + 1, 2)


def _error_message(error: Exception) -> str:
    problem = getattr(error, "problem", None)
    context = getattr(error, "context", None)
    if problem == "exceeded maximum nesting depth":
        # libyaml's own limit: the 1,000th block level or the 1,001st flow level.
        return _TOO_DEEP
    if problem:
        text = str(problem)
        if context:
            text = f"{text} ({context})"
    else:
        text = str(error).splitlines()[0] if str(error) else type(error).__name__
    return f"not valid YAML: {text}"


class _Composer:
    """Turns one event stream into documents. One instance per parse attempt."""

    def __init__(self, offset_line: int, first_index: int, file_built: int = 0) -> None:
        #: Nodes built for the file's documents kept so far, this composer's included.
        self.file_built = file_built
        self.offset = offset_line
        self.documents: list[Document] = []
        self.index = first_index
        self.in_document = False
        self._stack: list[_Frame] = []
        self._anchors: dict[str, tuple[Node, int]] = {}
        self._root: Node | None = None
        self._problems: list[Problem] = []
        self._expanded = 0
        #: What aliases added to ``_expanded``: nodes counted again, not built again.
        self._aliased = 0
        #: ``_expanded`` may grow to this before :meth:`_attach` looks at it again.
        self._unchecked = 0
        self._too_large: _DocumentTooLarge | None = None

    @property
    def document_problems(self) -> list[Problem]:
        """The problems of the document being composed."""
        return self._problems

    def _pos(self, start: Any, end: Any) -> tuple[int, int, int, int]:
        offset = self.offset
        return (start.line + 1 + offset, start.column + 1, end.line + 1 + offset, end.column + 1)

    def feed(self, event: ev.Event) -> None:
        kind = type(event)
        if kind is _SCALAR:
            self._scalar(event)
        elif kind is _MAPPING_START or kind is _SEQUENCE_START:
            self._start_collection(event)
        elif kind is _MAPPING_END or kind is _SEQUENCE_END:
            self._end_collection(event)
        elif kind is ev.AliasEvent:
            self._alias(event)
        elif kind is ev.DocumentStartEvent:
            self.in_document = True
            self._root = None
            self._anchors = {}
            self._problems = []
            self._expanded = self._aliased = 0
            self._unchecked = min(MAX_EXPANDED_NODES, MAX_DOCUMENT_NODES, MAX_FILE_NODES - self.file_built)
            self._too_large = None
        elif kind is ev.DocumentEndEvent:
            self._finish_document()

    def _finish_document(self) -> None:
        failed = False
        root = self._root
        if self._too_large is not None:
            self._problems.append(Problem(self._too_large.span, self._too_large.message))
            failed = True
            root = None
        self.documents.append(Document(self.index, root, self._problems, failed))
        self.file_built += self._expanded - self._aliased
        self.index += 1
        self.in_document = False
        self._root = None
        self._anchors = {}

    def _check_tag(self, tag: str, pos: tuple[int, int, int, int]) -> str | None:
        if tag == "!":
            return None
        if tag not in _KNOWN_TAGS:
            self._problems.append(
                Problem(
                    Span(*pos),
                    f"not valid YAML for Kubernetes: unsupported tag {_short_tag(tag)!r}; "
                    "Kubernetes manifests use plain YAML values, remove the tag",
                )
            )
        return tag

    def _scalar(self, event: ev.ScalarEvent) -> None:
        start = event.start_mark
        end = event.end_mark
        offset = self.offset
        pos = (start.line + 1 + offset, start.column + 1, end.line + 1 + offset, end.column + 1)
        text: str = event.value
        if len(text) <= INTERNED_LENGTH:
            text = sys.intern(text)
        style = event.style or ""
        tag = event.tag
        if tag is not None:
            tag = self._check_tag(tag, pos)
        if tag is not None:
            value: Scalar = resolve_tagged(tag, text)
        elif style == "":
            value = resolve_plain(text)
        else:
            value = text
        node = ScalarNode(value, text, style, pos, tag)
        if event.anchor:
            self._anchors[event.anchor] = (node, 1)
        stack = self._stack
        if stack and self._too_large is None and self._expanded < self._unchecked:
            # The common case, a plain scalar inside a collection, inlined: this
            # runs for almost every event of a repository. Near a limit every
            # node goes through _attach, which checks them.
            frame = stack[-1]
            parent = frame.node
            if type(parent) is SeqNode:
                self._expanded += 1
                frame.size += 1
                node.parent = parent
                node.key = len(parent.items)
                parent.items.append(node)
                return
            key = frame.pending_key
            if key is None:
                self._expanded += 1
                frame.size += 1
                frame.pending_key = node
                return
            key_text = key.text
            entries = parent.entries  # type: ignore[union-attr]
            if key.value is not None and key_text != "<<" and key_text not in entries:
                self._expanded += 1
                frame.size += 1
                frame.pending_key = None
                node.parent = parent
                node.key = key_text = sys.intern(key_text)
                node.key_at = pack_key(key.pos, key.style)
                entries[key_text] = node
                return
        self._attach(node, 1)

    def _start_collection(self, event: ev.CollectionStartEvent) -> None:
        pos = self._pos(event.start_mark, event.end_mark)
        tag = self._check_tag(event.tag, pos) if event.tag is not None else None
        node: MapNode | SeqNode = MapNode(pos, tag) if type(event) is _MAPPING_START else SeqNode(pos, tag)
        depth = len(self._stack) + 1
        if depth > MAX_DEPTH and self._too_large is None:
            self._too_large = _DocumentTooLarge(Span(*pos), _TOO_DEEP)
        self._stack.append(_Frame(node, event.anchor, depth))

    def _end_collection(self, event: ev.Event) -> None:
        frame = self._stack.pop()
        node = frame.node
        line, column = node.pos[0], node.pos[1]
        if _is_flow_end(event):
            end = self._pos(event.start_mark, event.end_mark)
            node.pos = (line, column, end[2], end[3])
        else:
            last: Node | None = None
            if isinstance(node, SeqNode):
                if node.items:
                    last = node.items[-1]
            elif node.entries:
                last = next(reversed(node.entries.values()))
            if last is not None:
                end_line, end_column = last.pos[2:]
                node.pos = (line, column, end_line, end_column)
        if frame.anchor:
            self._anchors[frame.anchor] = (node, frame.size)
        self._attach(node, frame.size)

    def _alias(self, event: ev.AliasEvent) -> None:
        target = self._anchors.get(event.anchor) if event.anchor else None
        if target is None:
            raise _UnknownAlias(event.start_mark, event.anchor)
        node, size = target
        self._attach(node, size, alias=True, at=self._pos(event.start_mark, event.end_mark))

    def _attach(
        self, node: Node, size: int, alias: bool = False, at: tuple[int, int, int, int] | None = None
    ) -> None:
        # A collection's children were counted as they came; an alias adds its
        # whole target again, which is what an alias bomb multiplies.
        if alias:
            self._expanded += size
            self._aliased += size
        else:
            self._expanded += 1
        if self._expanded >= self._unchecked:
            self._check_built(at or node.pos)
        if self._expanded > MAX_EXPANDED_NODES and self._too_large is None:
            self._too_large = _DocumentTooLarge(
                Span(*(at or node.pos)),
                f"not read: aliases expand this document to more than {MAX_EXPANDED_NODES:,} "
                "nodes (an alias bomb?)",
            )
        if not self._stack:
            self._root = node
            return
        frame = self._stack[-1]
        frame.size += size
        parent = frame.node
        if isinstance(parent, SeqNode):
            if not alias:
                node.parent = parent
                node.key = len(parent.items)
            parent.items.append(node)
            return
        key = frame.pending_key
        if key is None:
            if not isinstance(node, ScalarNode):
                self._problems.append(
                    Problem(node.span, "not valid for Kubernetes: a mapping key must be a plain value")
                )
                key_node = ScalarNode(None, "", "", node.pos)
            else:
                key_node = node
            frame.pending_key = key_node
            return
        frame.pending_key = None
        self._add_entry(frame, parent, key, node, alias)

    def _check_built(self, pos: tuple[int, int, int, int]) -> None:
        """Stop composing once the document, or the file, holds more nodes than nplint builds."""
        built = self._expanded - self._aliased
        if self.file_built + built > MAX_FILE_NODES:
            raise _TooManyValues(pos, whole_file=True)
        if built > MAX_DOCUMENT_NODES:
            raise _TooManyValues(pos, whole_file=False)

    def _add_entry(self, frame: _Frame, parent: MapNode, key: ScalarNode, value: Node, alias: bool) -> None:
        key_text = key.text if key.value is not None or key.style else ""
        if key_text == "<<" and key.style == "":
            self._merge(frame, parent, value)
            return
        previous = parent.entries.get(key_text)
        merged = frame.merged
        if previous is not None and merged is not None and key_text in merged:
            # A key written in the mapping overrides the one ``<<`` merged in, wherever it is
            # written (the YAML 1.1 merge-key type; go-yaml v3 checks only the keys written in
            # a mapping for duplicates). Written twice in the mapping, it is a duplicate.
            merged.discard(key_text)
            del parent.entries[key_text]
        elif previous is not None:
            first = previous.key_span
            self._problems.append(
                Problem(
                    key.span,
                    f"not valid YAML: duplicate key {key_text!r} (first at line {first.line}); "
                    "kubectl rejects the document, and other tools keep only one of the values. "
                    "Remove one of them",
                )
            )
            del parent.entries[key_text]
        if not alias:
            # An alias's node keeps the key it was first written under.
            value.parent = parent
            value.key = key_text = sys.intern(key_text)
            value.key_at = pack_key(key.pos, key.style)
        parent.entries[key_text] = value

    def _merge(self, frame: _Frame, parent: MapNode, value: Node) -> None:
        # Keys written before ``<<`` stand, and of several merged mappings the first that has
        # a key gives it: what is merged only fills the keys the mapping does not write.
        sources = value.items if isinstance(value, SeqNode) else [value]
        entries = parent.entries
        for source in sources:
            if not isinstance(source, MapNode):
                self._problems.append(Problem(source.span, "not valid YAML: '<<' merges only mappings"))
                continue
            for key_text, entry in source.entries.items():
                if key_text not in entries:
                    if type(entry) is ScalarNode:
                        # The merged value is this mapping's own: a scalar gets its own node here,
                        # so that no node sits in two places (as a merged collection does, like an
                        # alias), and its parent and key are where it is read.
                        own = ScalarNode(entry.value, entry.text, entry.style, entry.pos, entry.tag)
                        own.parent = parent
                        own.key = key_text
                        own.key_at = entry.key_at
                        entry = own
                    entries[key_text] = entry
                    if frame.merged is None:
                        frame.merged = set()
                    frame.merged.add(key_text)


def _is_flow_end(event: ev.Event) -> bool:
    start = getattr(event, "start_mark", None)
    end = getattr(event, "end_mark", None)
    if start is None or end is None:
        return False
    # Flow collections end at a ']' or '}' one character wide; block ones are zero-width.
    return bool(end.line == start.line and end.column == start.column + 1)


class _UnknownAlias(ValueError):
    """An alias to an anchor never defined; reported like a parser error."""

    def __init__(self, mark: object, anchor: str | None) -> None:
        super().__init__(f"found undefined alias {anchor!r}")
        self.problem = f"found undefined alias {anchor!r}"
        self.problem_mark = mark
        self.context = None


def _short_tag(tag: str) -> str:
    return "!!" + tag[len(CORE_TAG) :] if tag.startswith(CORE_TAG) else tag
