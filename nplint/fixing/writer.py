"""Apply fixes to the files of the repository: one document rewritten, every other byte kept.

A file is split on its document boundaries (where the YAML parser says each
document starts); only the document a fix edits goes through ruamel.yaml's
round-trip mode, with the file's own indentation, and is put back between the
untouched bytes of the others. Before anything is edited, the document is
round-tripped without an edit: unless that gives back its exact bytes, ruamel
would rewrite more than the fix, and the file is left alone with a note. The
same for what ruamel cannot keep safely: anchors and aliases, tags, a byte
order other than UTF-8, mixed line endings.

Every file is the repository's, and hostile: only files nplint read from the
repository itself are written (never a render output, never through a
symbolic link, never outside the root, never over the reading bound), and the
new content replaces the old by a rename in the same folder. What a fix
writes is the fix catalogue's own data (:class:`nplint.findings.Edit`); the
repository's bytes reach the output only as the YAML they already were.
"""

from __future__ import annotations

import functools
import io
import itertools
import json
import os
import re
import secrets
import stat
from collections import Counter
from collections.abc import Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import field
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from nplint.findings import Edit, Fix
from nplint.reading import MAX_FILE_BYTES, read_bounded
from nplint.records import record
from nplint.untrusted import quoted

__all__ = ["FileChange", "FixPlan", "apply_fixes", "plan_fixes", "round_trip"]

_BOM = b"\xef\xbb\xbf"
#: libyaml's parser where PyYAML has it: its marks count characters, as the Python one's do.
_PARSER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STANDARD_TAG = "tag:yaml.org,2002:"
#: A line that only starts a document (``---``, perhaps with a comment).
_START_LINE = re.compile(r"---[ \t]*(?:#.*)?\Z")
#: Files whose name is where findings on a render's output are placed: never edited.
_RENDER_NAMES = frozenset(("kustomization.yaml", "kustomization.yml", "Kustomization", "Chart.yaml"))


class Refused(Exception):
    """A file or a fix the writer leaves alone; the message says why."""


@record(slots=True)
class FileChange:
    """The new bytes of one file, and the fixes they apply."""

    display: str
    path: Path
    before: bytes
    after: bytes
    applied: list[Fix] = field(default_factory=list)


@record(slots=True)
class FixPlan:
    """What the fixes of a run would change, and the notes on what they leave alone."""

    changes: list[FileChange] = field(default_factory=list)
    #: (display path, why), in file order.
    notes: list[tuple[str, str]] = field(default_factory=list)

    @property
    def applied(self) -> int:
        return sum(len(change.applied) for change in self.changes)


def plan_fixes(root: Path, fixes: Iterable[Fix], readable: Iterable[str]) -> FixPlan:
    """The changes ``fixes`` make to the files of ``root``, nothing written yet.

    ``readable``: the display paths of the files nplint read from the
    repository in this run; a fix of any other file (a render's output) is not
    applied. Fixes apply in the order given, one after the other, to each file.
    """
    # A caller planning fix after fix passes a set, made once.
    allowed: AbstractSet[str] = readable if isinstance(readable, (set, frozenset)) else set(readable)
    by_file: dict[str, list[Fix]] = {}
    for fix in fixes:
        by_file.setdefault(fix.path, []).append(fix)
    plan = FixPlan()
    for display in sorted(by_file):
        try:
            path = _repository_file(root, display, allowed)
            before = read_bounded(path)
            change = _changed(display, path, before, by_file[display], plan.notes)
        except Refused as refused:
            plan.notes += [(display, f"{fix.description}: {refused}") for fix in by_file[display]]
            continue
        except OSError as error:
            reason = f"not fixed: {error.strerror or error}"
            plan.notes += [(display, f"{fix.description}: {reason}") for fix in by_file[display]]
            continue
        if change is not None:
            plan.changes.append(change)
    return plan


def fixed_bytes(
    root: Path, display: str, before: bytes, fixes: Sequence[Fix], readable: Iterable[str]
) -> tuple[bytes | None, list[tuple[str, str]]]:
    """What ``fixes`` make of ``before`` (``display`` as an editor holds it); nothing is read or written.

    The file must be one nplint read from the repository (``readable``), as for
    :func:`plan_fixes`. None when nothing changes; the notes say why.
    """
    notes: list[tuple[str, str]] = []
    try:
        path = _repository_file(root, display, set(readable))
        change = _changed(display, path, before, fixes, notes)
    except Refused as refused:
        return None, [*notes, *((display, f"{fix.description}: {refused}") for fix in fixes)]
    return (change.after if change is not None else None), notes


def apply_fixes(plan: FixPlan) -> list[tuple[str, str]]:
    """Write every change of ``plan``; the notes for the files that changed under nplint's feet."""
    notes: list[tuple[str, str]] = []
    for change in plan.changes:
        try:
            _replace(change)
        except Refused as why:
            notes.append((change.display, str(why)))
        except OSError as error:
            notes.append((change.display, f"not fixed: {error.strerror or error}"))
    return notes


def _repository_file(root: Path, display: str, allowed: AbstractSet[str]) -> Path:
    """The file ``display`` names inside ``root``, refused unless nplint read it there as it is."""
    posix = PurePosixPath(display)
    if display not in allowed or display == "-":
        raise Refused("not fixed: nplint did not read this file from the repository (a render's output?)")
    if posix.is_absolute() or ".." in posix.parts or not posix.parts:
        raise Refused("not fixed: the file is outside the repository")
    if posix.name in _RENDER_NAMES:
        raise Refused("not fixed: findings here are on a render's output, not on this file")
    current = root
    for part in posix.parts:
        current = current / part
        try:
            mode = os.lstat(current).st_mode
        except OSError as error:
            raise Refused(f"not fixed: {error.strerror or error}") from None
        if stat.S_ISLNK(mode):
            raise Refused("not fixed: a symbolic link is on the way to the file")
    if not stat.S_ISREG(mode):
        raise Refused("not fixed: not a regular file")
    if os.lstat(current).st_size > MAX_FILE_BYTES:
        raise Refused("not fixed: the file is larger than nplint reads")
    return current


def _changed(
    display: str, path: Path, before: bytes, fixes: Sequence[Fix], notes: list[tuple[str, str]]
) -> FileChange | None:
    bom = before.startswith(_BOM)
    body = before[3:] if bom else before
    if body.startswith((b"\xff\xfe", b"\xfe\xff", b"\x00\x00")):
        raise Refused("not fixed: the file is not UTF-8")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused("not fixed: the file is not UTF-8") from None
    crlf = "\r\n" in text
    if crlf and text.count("\n") != text.count("\r\n"):
        raise Refused("not fixed: the file mixes line endings (CRLF and LF)")
    if "\r" in text.replace("\r\n", ""):
        raise Refused("not fixed: the file has carriage returns outside line endings")
    text = text.replace("\r\n", "\n")
    segments = _documents_of(text)
    edited: dict[int, _Document] = {}
    appended: list[str] = []
    # The text each document was checked with, by the document: ruamel writes a document in
    # milliseconds, and the last check of one no later fix copied is its final text.
    checked: dict[int, tuple[_Document, str]] = {}
    change = FileChange(display, path, before, before)
    for fix in fixes:
        try:
            staged = {index: document.copy() for index, document in edited.items()}
            added = list(appended)
            changed = False
            for edit in fix.edits:
                if edit.op == "new-document":
                    if display.endswith(".json") or text.lstrip().startswith(("{", "[")):
                        raise Refused("not fixed: a JSON file takes no second document")
                    new = _new_document(edit.value, text)
                    if new not in added and not _holds_document(segments, edit.data):
                        added.append(new)
                        changed = True
                    continue
                if not 0 <= fix.document_index < len(segments):
                    raise Refused("not fixed: the file has no such document (it changed since it was read)")
                document = staged.get(fix.document_index)
                if document is None:
                    document = staged[fix.document_index] = _Document.read(segments[fix.document_index])
                changed = _apply(document.data, edit, compact=uses_flow_style(document.body)) or changed
            written = None
            if fix.document_index in staged:
                written = staged[fix.document_index].written()  # refused when ruamel would rewrite more
        except Refused as why:
            notes.append((display, f"{fix.description}: {why}"))
            continue
        edited, appended = staged, added
        if written is not None:
            checked[fix.document_index] = (staged[fix.document_index], written)
        if changed:
            change.applied.append(fix)
    if not change.applied:
        return None
    pieces = list(segments)
    for index, document in edited.items():
        done = checked.get(index)
        pieces[index] = done[1] if done is not None and done[0] is document else document.written()
    new_text = "".join(pieces)
    for document_text in appended:
        if new_text and not new_text.endswith("\n"):
            new_text += "\n"
        new_text += document_text
    _check_parses(new_text)
    if crlf:
        new_text = new_text.replace("\n", "\r\n")
    change.after = (_BOM if bom else b"") + new_text.encode("utf-8")
    return change if change.after != before else None


@functools.lru_cache(maxsize=2)
def _documents_of(text: str) -> tuple[str, ...]:
    """:func:`split_documents` of ``text``, checked against nplint's own count of its documents.

    Kept for the last two files: a report's fixes are planned one at a time, and the
    fixes of one file come one after the other (a refusal is raised again each time).
    """
    segments = split_documents(text)
    _check_documents(text, len(segments))
    return tuple(segments)


def split_documents(text: str) -> list[str]:
    """``text`` cut where each document starts: joined, the pieces are ``text``; one per document.

    The first piece starts at the top of the file (comments and directives before
    the first document go with it); every other one at its document's ``---``,
    or at its first token when it starts without one. Pieces are cut on whole
    lines, so each holds the lines of its document.
    """
    starts: list[int] = []
    try:
        for event in yaml.parse(text, Loader=_PARSER):
            if isinstance(event, yaml.DocumentStartEvent):
                starts.append(event.start_mark.index)
    except yaml.YAMLError as error:
        raise Refused("not fixed: the file does not parse") from error
    if not starts:
        return [text]
    cuts = [0] + [text.rfind("\n", 0, start) + 1 for start in starts[1:]]
    if any(b <= a for a, b in itertools.pairwise(cuts)):
        raise Refused("not fixed: two documents start on one line")
    return [text[a:b] for a, b in zip(cuts, [*cuts[1:], len(text)], strict=True)]


def _holds_document(segments: Sequence[str], data: object) -> bool:
    """Whether the file already holds a document equal to ``data`` (a fix run twice adds it once)."""
    return any(_data_of(segment) == data for segment in segments)


_UNREADABLE = object()


@functools.lru_cache(maxsize=64)
def _data_of(segment: str) -> object:
    """One document's data, as ``yaml.safe_load`` reads it (with libyaml's parser: the same
    constructor and resolver); a value equal to no data when it does not load. Kept for the
    documents of the last few files, and only compared, never changed."""
    try:
        return yaml.load(segment, Loader=_PARSER)
    except yaml.YAMLError:
        return _UNREADABLE


class _Document:
    """One document's text split around its body, the body as ruamel.yaml's round-trip data."""

    def __init__(self, head: str, body: str, data: Any, style: tuple[int, int, int], unedited: str) -> None:
        self.head = head
        self.body = body
        self.data = data
        self.style = style
        #: The body as ruamel.yaml writes it back with no edit: where it differs from ``body``,
        #: ruamel would rewrite what no fix asked for, so only the lines an edit changes are taken.
        self.unedited = unedited

    @classmethod
    def read(cls, segment: str) -> _Document:
        head, body = _split_head(segment)
        _check_safe(body)
        style = detect_indentation(body)
        data = _rt_load(body)
        return cls(head, body, data, style, _rt_dump(data, style, body))

    def copy(self) -> _Document:
        data = _rt_load(_rt_dump(self.data, self.style, self.body))
        return _Document(self.head, self.body, data, self.style, self.unedited)

    def written(self) -> str:
        edited = _rt_dump(self.data, self.style, self.body)
        if self.unedited == self.body:
            return self.head + edited
        return self.head + spliced(self.body, self.unedited, edited)


def spliced(body: str, unedited: str, edited: str) -> str:
    """``body`` with the lines ruamel changed from ``unedited`` to ``edited``, and no other line.

    ruamel.yaml writes some constructs otherwise than they were written (``[{a: b}]``
    as ``[a: b]``, a ``...`` end marker dropped). Those lines are kept as the file has
    them: each changed block of ``unedited`` must sit between lines that are the
    file's own, and consist of them, or the document is refused.
    """
    import difflib

    original = body.splitlines(keepends=True)
    before = unedited.splitlines(keepends=True)
    after = edited.splitlines(keepends=True)
    # Where each line ruamel wrote back unchanged sits in the file.
    place: dict[int, int] = {-1: -1, len(before): len(original)}
    for block in difflib.SequenceMatcher(None, original, before, autojunk=False).get_matching_blocks():
        for offset in range(block.size):
            place[block.b + offset] = block.a + offset
    result = list(original)
    changes = difflib.SequenceMatcher(None, before, after, autojunk=False).get_opcodes()
    for tag, i1, i2, j1, j2 in reversed(changes):
        if tag == "equal":
            continue
        first, last = place.get(i1 - 1), place.get(i2)
        if first is None or last is None or last - first - 1 != i2 - i1:
            raise Refused(
                "not fixed: ruamel.yaml would rewrite the lines around the edit otherwise than "
                "they are written"
            )
        if any(place.get(i) != first + 1 + (i - i1) for i in range(i1, i2)):
            raise Refused(
                "not fixed: ruamel.yaml would rewrite the edited lines otherwise than they are written"
            )
        result[first + 1 : last] = after[j1:j2]
    return "".join(result)


def round_trip(text: str) -> str:
    """``text`` split, each document read and written back without an edit, and joined again.

    For the acceptance tests: a document the writer may edit comes back byte for
    byte; one it refuses raises :class:`Refused`.
    """
    return "".join(_Document.read(segment).written() for segment in split_documents(text))


def _split_head(segment: str) -> tuple[str, str]:
    """The lines before a document's content that ruamel does not keep (``---``, directives), and the rest."""
    lines = segment.splitlines(keepends=True)
    for number, line in enumerate(lines):
        stripped = line.rstrip("\n")
        if _START_LINE.match(stripped):
            return "".join(lines[: number + 1]), "".join(lines[number + 1 :])
        if stripped.startswith("---"):
            raise Refused("not fixed: the document starts on its `---` line")
        if stripped.startswith("%"):
            continue
        if stripped.strip() and not stripped.lstrip().startswith("#"):
            break
    return "", segment


def _check_safe(body: str) -> None:
    """Refuse a document whose round trip could change its meaning: anchors, aliases, tags, merges."""
    try:
        events = list(yaml.parse(body, Loader=_PARSER))
    except yaml.YAMLError as error:
        raise Refused("not fixed: the document does not parse") from error
    for event in events:
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise Refused("not fixed: the document uses anchors or aliases, which an edit could change")
        tag = getattr(event, "tag", None)
        if tag and not tag.startswith(_STANDARD_TAG) and tag != "!":
            raise Refused(f"not fixed: the document has a tag ruamel.yaml may not keep ({quoted(tag)})")
        if isinstance(event, yaml.ScalarEvent) and event.value == "<<" and event.implicit[0]:
            raise Refused("not fixed: the document merges mappings (`<<`)")
        if isinstance(event, yaml.ScalarEvent) and event.style in ("|", ">"):
            # ruamel keeps block scalars, but not always their trailing blank lines.
            continue


#: Lines of a block mapping key with nothing after it, and the first line under it.
_KEY_ONLY = re.compile(r"( *)(?:- +)?[^\s#'\"-][^:#]*:[ \t]*(?:#.*)?\Z")
_ITEM = re.compile(r"( *)-( +)\S")
_CONTENT = re.compile(r"( *)(\S)")


def detect_indentation(body: str) -> tuple[int, int, int]:
    """The document's mapping indent, sequence indent and ``- `` offset, as ruamel.yaml takes them.

    Read from the lines that open a block: the key with nothing after it and the
    first content line below. The most common step wins (2, 2, 0 when none is seen).
    """
    mappings: Counter[int] = Counter()
    #: (the dash's offset from its key, the dash and the spaces after it)
    items: Counter[tuple[int, int]] = Counter()
    lines = body.split("\n")
    for number, line in enumerate(lines):
        match = _KEY_ONLY.match(line)
        if match is None:
            continue
        key_column = _key_column(line)
        following = next(
            (n for n in lines[number + 1 :] if n.strip() and not n.lstrip().startswith("#")), None
        )
        if following is None:
            continue
        item = _ITEM.match(following)
        content = _CONTENT.match(following)
        if item is not None:
            offset = len(item.group(1)) - key_column
            if offset >= 0:
                items[offset, 1 + len(item.group(2))] += 1
        elif content is not None:
            step = len(content.group(1)) - key_column
            if step > 0:
                mappings[step] += 1
    mapping = mappings.most_common(1)[0][0] if mappings else 2
    offset, dash = items.most_common(1)[0][0] if items else (0, 2)
    # ruamel's sequence indent is where an item's content starts: past the dash and its spaces.
    return mapping, offset + dash, offset


def _key_column(line: str) -> int:
    """The column of a line's key: past a ``- `` that opens a sequence item on the same line."""
    column = len(line) - len(line.lstrip(" "))
    rest = line[column:]
    while rest.startswith("- "):
        stripped = rest[2:].lstrip(" ")
        column += len(rest) - len(stripped)
        rest = stripped
    return column


def _yaml(style: tuple[int, int, int]) -> Any:
    from ruamel.yaml import YAML

    writer = YAML(typ="rt", pure=True)
    writer.preserve_quotes = True
    writer.width = 1 << 30
    mapping, sequence, offset = style
    writer.indent(mapping=mapping, sequence=sequence, offset=offset)
    writer.allow_duplicate_keys = False
    return writer


def _rt_load(body: str) -> Any:
    from ruamel.yaml.error import YAMLError

    try:
        return _yaml((2, 2, 0)).load(body)
    except YAMLError as error:
        raise Refused("not fixed: ruamel.yaml cannot read the document") from error


def _rt_dump(data: Any, style: tuple[int, int, int], body: str) -> str:
    if data is None:
        return body
    out = io.StringIO()
    _yaml(style).dump(data, out)
    text = out.getvalue()
    if not body.endswith("\n") and text.endswith("\n"):
        text = text[:-1]
    return text


def _apply(root: Any, edit: Edit, *, compact: bool = False) -> bool:
    """Apply ``edit`` to a document's round-trip data; whether anything changed."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    target = root
    for step in edit.path:
        in_map = isinstance(target, CommentedMap) and isinstance(step, str) and step in target
        in_seq = isinstance(target, CommentedSeq) and isinstance(step, int) and 0 <= step < len(target)
        if in_map or in_seq:
            target = target[step]
        else:
            raise Refused("not fixed: the place it edits is gone (the file changed since it was read)")
    value = edit.data
    if edit.op == "append":
        if not isinstance(target, CommentedSeq):
            raise Refused("not fixed: the place it edits is no list")
        if any(_plain(item) == value for item in target):
            return False
        target.append(_node(value, flow=target.fa.flow_style(), compact=compact))
        return True
    if edit.op == "join":
        return _join(target, edit)
    if edit.op == "rename":
        if (
            not isinstance(target, CommentedMap)
            or not isinstance(edit.key, str)
            or not isinstance(value, str)
        ):
            raise Refused("not fixed: the place it edits is no mapping")
        if edit.key not in target:
            return False
        if value in target:
            raise Refused(f"not fixed: the mapping has {quoted(value)} already")
        position = list(target).index(edit.key)
        moved = target.pop(edit.key)
        comment = target.ca.items.pop(edit.key, None)
        target.insert(position, value, moved)
        if comment is not None:
            target.ca.items[value] = comment
        return True
    # "set": a mapping key, inserted when absent, or a sequence item.
    if isinstance(target, CommentedSeq) and isinstance(edit.key, int) and 0 <= edit.key < len(target):
        if _plain(target[edit.key]) == value:
            return False
        target[edit.key] = _node(value, flow=target.fa.flow_style(), compact=compact)
        return True
    if not isinstance(target, CommentedMap) or not isinstance(edit.key, str):
        raise Refused("not fixed: the place it edits is no mapping")
    if edit.key in target:
        old = target[edit.key]
        if _plain(old) == value:
            return False
        # A collection replaced keeps the style it was written in.
        keep = old.fa.flow_style() if isinstance(old, (CommentedMap, CommentedSeq)) else None
        if keep is None:
            target[edit.key] = _node(value, flow=target.fa.flow_style(), compact=compact)
        else:
            target[edit.key] = _node(value, flow=keep or target.fa.flow_style(), compact=False)
        return True
    keys = list(target)
    # `after` names the key before the new one; "" puts it first, and one not there, last.
    position = 0 if edit.after == "" else keys.index(edit.after) + 1 if edit.after in keys else len(keys)
    _insert(target, position, edit.key, _node(value, flow=target.fa.flow_style(), compact=compact))
    return True


def _join(target: Any, edit: Edit) -> bool:
    """Move the entries of one mapping item of a sequence into another, and drop the emptied item.

    Both items must hold exactly the keys the fix saw, so an earlier edit that moved
    items (or a file that changed) cannot make it join two others.
    """
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    value = edit.data
    into = edit.key
    if not (isinstance(target, CommentedSeq) and isinstance(value, dict) and isinstance(into, int)):
        raise Refused("not fixed: the place it edits is no list")
    source, keys = value.get("from"), value.get("keys")
    if not isinstance(source, int) or not isinstance(keys, list) or len(keys) != 2 or source == into:
        raise Refused("not fixed: the fix names no two items")
    if not (0 <= into < len(target) and 0 <= source < len(target)):
        raise Refused("not fixed: the items it joins are gone (the file changed since it was read)")
    first, second = target[into], target[source]
    if not (isinstance(first, CommentedMap) and isinstance(second, CommentedMap)):
        raise Refused("not fixed: the items it joins are no mappings")
    if list(first) != keys[0] or list(second) != keys[1] or set(keys[0]) & set(keys[1]):
        raise Refused("not fixed: the items it joins hold other keys now (an earlier fix joined them?)")
    for key in list(second):
        first[key] = second[key]
    del target[source]
    return True


def _insert(target: Any, position: int, key: str, value: Any) -> None:
    """Insert ``key`` at ``position``: below the previous entry's end-of-line comment, above its other ones.

    ruamel keeps the comment lines that follow an entry on that entry; they introduce
    the next key, so they move onto the new entry and stay just above the key they precede.
    """
    import copy

    keys = list(target)
    target.insert(position, key, value)
    if not 0 < position < len(keys) + 1:
        return
    before = keys[position - 1]
    comment = target.ca.items.get(before)
    token = comment[2] if comment is not None and len(comment) > 2 else None
    if token is None or position == len(keys):
        return
    text: str = token.value
    if text.startswith("#"):
        end_of_line, newline, rest = text.partition("\n")
        kept: Any = copy.copy(token)
        kept.value = end_of_line + newline
        comment[2] = kept
    else:
        # No end-of-line comment: the lines are all the next key's.
        comment[2] = None
        rest = text
    if rest.strip():
        moved: Any = copy.copy(token)
        moved.value = "\n" + rest if not rest.startswith("\n") else rest
        _comment_after(target, key, moved)


def _comment_after(mapping: Any, key: str, token: Any) -> None:
    """Put comment lines after the entry ``key`` of ``mapping``: after its value's last line."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    holder: Any = mapping
    slot: Any = key
    value = mapping[key]
    while isinstance(value, (CommentedMap, CommentedSeq)) and len(value) and not value.fa.flow_style():
        holder = value
        slot = len(value) - 1 if isinstance(value, CommentedSeq) else list(value)[-1]
        value = value[slot]
    if isinstance(holder, CommentedSeq):
        holder.ca.items[slot] = [token, None]
    else:
        holder.ca.items[slot] = [None, None, token, None]


#: The longest collection written in flow style (``{protocol: UDP, port: 53}``) in a file that uses it.
_FLOW_WIDTH = 60
#: A value in flow style: ``key: {`` or ``key: [`` or ``- {``.
#: ``{}`` and ``[]`` say nothing of a style: everyone writes them.
_FLOW_VALUE = re.compile(r"^[^#\n]*(?::|-)[ \t]+[\[{][ \t]*[^\]}\s]", re.MULTILINE)


def uses_flow_style(text: str) -> bool:
    """Whether a document writes collections in flow style (``podSelector: {matchLabels: …}``)."""
    return _FLOW_VALUE.search(text) is not None


def _node(value: object, *, flow: bool | None, compact: bool = False, block: int = 0) -> Any:
    """Plain data as ruamel.yaml round-trip nodes.

    Flow style inside a flow collection; with ``compact`` (the file writes small
    collections in flow style), each collection short enough is written so too,
    but for the top ``block`` levels (a new document's ``metadata`` and ``spec``).
    """
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    if isinstance(value, (dict, list)) and not flow and compact and block <= 0:
        flow = len(json.dumps(value, separators=(", ", ": "))) <= _FLOW_WIDTH
    if isinstance(value, dict):
        mapping = CommentedMap()
        for key, item in value.items():
            mapping[key] = _node(item, flow=flow, compact=compact, block=block - 1)
        if flow:
            mapping.fa.set_flow_style()
        return mapping
    if isinstance(value, list):
        sequence = CommentedSeq(_node(item, flow=flow, compact=compact, block=block - 1) for item in value)
        if flow:
            sequence.fa.set_flow_style()
        return sequence
    return value


def _plain(value: Any) -> object:
    """Round-trip data as plain Python data, to compare with an edit's value."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return str(value)


def _new_document(value: str, text: str) -> str:
    """A new document holding ``value`` (JSON text), in the file's indentation, to go after its last one."""
    return _document_text(value, detect_indentation(text), uses_flow_style(text))


@functools.lru_cache(maxsize=256)
def _document_text(value: str, style: tuple[int, int, int], compact: bool) -> str:
    """:func:`_new_document` of a file of that style: made once (a report's fixes add the same few)."""
    out = io.StringIO()
    _yaml(style).dump(_node(json.loads(value), flow=False, compact=compact, block=2), out)
    return "---\n" + out.getvalue()


def _check_documents(text: str, count: int) -> None:
    """The file's documents as nplint read them, one for each piece: a fix's document index finds its own."""
    from nplint.loading import load_text

    if len(load_text("fixed", text).documents) != count:
        raise Refused("not fixed: nplint and the writer do not count the file's documents alike")


def _check_parses(text: str) -> None:
    """The new text loads as nplint loads files, with no problem: else nothing is written."""
    from nplint.loading import load_text

    loaded = load_text("fixed", text)
    if loaded.problems or any(document.problems for document in loaded.documents):
        raise Refused("not fixed: the result would not load cleanly")


def _replace(change: FileChange) -> None:
    """Write ``change.after`` over the file by a rename in its folder, if it still holds ``change.before``."""
    path = change.path
    status = os.lstat(path)
    if not stat.S_ISREG(status.st_mode):
        raise Refused("not fixed: the file is no longer a regular file")
    if read_bounded(path) != change.before:
        raise Refused("not fixed: the file changed while nplint was fixing it")
    directory = path.parent
    for _ in range(100):
        temporary = directory / f".{path.name}.nplint-fix-{secrets.token_hex(6)}"
        try:
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        except FileExistsError:
            continue
        break
    else:
        raise Refused("not fixed: no temporary file could be made beside it")
    try:
        with open(fd, "wb") as handle:
            handle.write(change.after)
        os.chmod(temporary, stat.S_IMODE(status.st_mode))
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
