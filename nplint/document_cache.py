"""Loaded documents kept between runs, beside the rendered output in ``.nplint_cache/``.

Parsing YAML is most of what a run costs before the rules. A file whose bytes did
not change loads to the same documents, so the documents of every file a run
loaded are kept in one pack, keyed by a digest of the file's bytes (and whether it
was read as JSON), written in the plain form :mod:`nplint.loading.transfer` sends
between processes, which :mod:`marshal` reads in C and which is rebuilt into nodes
about five times faster than composing them from the text. The next run reads the
pack once and loads from it every file whose bytes it knows: an edit, a rename or
a deletion invalidates exactly the files it touched, because the key is the content
and the path is the one of the file being loaded, not the one stored.

The pack lives in the repository, which is untrusted, so it is kept by
:class:`~nplint.render_cache.RenderCache`: authenticated with the user's key (a pack
a pull request committed is ignored, as is anything :mod:`marshal` is not sure to
read safely), opened without following links, written whole to a new file and
renamed into place (two runs sharing the cache each write a whole pack, and the
last one stays), and counted in the same size bound. The pack holds only what the
last run loaded, so it never grows past one repository's documents, and one past
:data:`MAX_PACK_BYTES` is not written at all.

What the pack says is only ever what this version of nplint made from those bytes:
the key of the pack covers Python's and PyYAML's versions and the source of every
module of nplint, so a loader that changed (a new release, or a developer's edit)
starts over.
"""

from __future__ import annotations

import contextlib
import hashlib
import marshal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

from nplint import __version__, parallel, render_cache
from nplint.loading import Document, LoadedFile
from nplint.loading.transfer import decode_documents, decode_into, encode

__all__ = ["MAX_PACK_BYTES", "DocumentCache", "opened"]

#: The largest pack written; a repository whose documents take more is loaded from its text.
MAX_PACK_BYTES = 128 * 1024 * 1024
_PACK = "documents"
_SUFFIX = ".pack"
_RESULT_SUFFIX = ".result"
#: Files loaded in this process from which encoding and writing the pack goes to a second
#: process (:meth:`DocumentCache.save_early`): below it, writing takes a few milliseconds.
WRITER_MIN_FILES = 1000
#: How long the writer may take before it is stopped and the pack written here.
_WRITER_SECONDS = 120.0
_WRITTEN, _UNCHANGED = b"written", b"unchanged"


def parsing_environment() -> bytes:
    """nplint's version and what parses for it: Python, PyYAML, and whether libyaml is there."""
    import sys

    import yaml

    parts = (__version__, sys.version, yaml.__version__, str(getattr(yaml, "__with_libyaml__", False)))
    return "\0".join(parts).encode() + b"\0"


def _loader_fingerprint() -> bytes:
    """What a stored record depends on: the parsing environment and nplint's own source.

    The whole package, not the loader alone: what reads a file before the loader (the
    judgement of undecodable bytes) counts as much.
    """
    from nplint.result_cache import code_fingerprint

    return hashlib.sha256(b"nplint documents 1\0" + code_fingerprint()).digest()


class _StoredFile(LoadedFile):
    """A file loaded from the pack, whose nodes are built when its documents are first read.

    A run whose findings are kept (:mod:`nplint.result_cache`) reads the documents of
    few files or none; building every node of the repository first would be most of it.
    """

    def __init__(self, path: str, record: tuple[Any, ...]) -> None:
        self._record: tuple[Any, ...] | None = record
        super().__init__(path)
        decode_into(self, record)

    @property
    def documents(self) -> list[Document]:
        record = self._record
        if record is not None:
            self._record = None
            _DOCUMENTS.__set__(self, decode_documents(record))
        return cast("list[Document]", _DOCUMENTS.__get__(self, LoadedFile))

    @documents.setter
    def documents(self, value: list[Document]) -> None:
        if value:
            self._record = None
        _DOCUMENTS.__set__(self, value)


#: The slot of LoadedFile that holds the documents, under the property of _StoredFile.
_DOCUMENTS: Any = LoadedFile.__dict__["documents"]


class DocumentCache:
    """The documents of the last run, and those of this one as they are loaded."""

    def __init__(self, store: render_cache.RenderCache) -> None:
        self._store = store
        self._fingerprint = _loader_fingerprint()
        self._known: dict[bytes, Any] = self._read()
        #: What this run loaded, by key: a stored record, or a file to encode when saving.
        self._used: dict[bytes, Any] = {}
        self._fresh: dict[bytes, LoadedFile] = {}
        #: Every load of the run, in order: the name it was loaded as, and the key of its bytes.
        self._inputs: list[tuple[str, bytes]] = []
        self._complete = True
        #: The second process writing the pack (save_early), and the keys it writes.
        self._writer: parallel._Child | None = None
        self._writer_keys: set[bytes] = set()

    def _read(self) -> dict[bytes, Any]:
        if not self._store.present():
            return {}
        data = self._store.get(_PACK, MAX_PACK_BYTES, suffix=_SUFFIX)
        if data is None:
            return {}
        try:
            fingerprint, entries = marshal.loads(data)
        except (EOFError, ValueError, TypeError):
            return {}
        if fingerprint != self._fingerprint or not isinstance(entries, dict):
            return {}
        return entries

    @staticmethod
    def key(data: bytes, *, is_json: bool = False, decoded: bool = False) -> bytes:
        """The key of a file's documents: its bytes, and how they were read.

        ``decoded``: ``data`` is text already decoded (and encoded again as UTF-8), not
        a file's bytes, which are decoded first (a byte order mark taken off, UTF-16 read).
        """
        person = b"text" if decoded else b"json" if is_json else b"yaml"
        return hashlib.blake2b(data, digest_size=20, person=person).digest()

    def inputs(self) -> list[tuple[str, bytes]] | None:
        """Every load of the run (name, key), in order; None if one was made without a key."""
        return list(self._inputs) if self._complete else None

    def bypassed(self) -> None:
        """Note a file loaded without the cache (standard input, a file that could not be read)."""
        self._complete = False

    def result(self, key: str) -> bytes | None:
        """The findings kept under a run's key (:mod:`nplint.result_cache`), if authentic."""
        return self._store.get(key, MAX_PACK_BYTES, suffix=_RESULT_SUFFIX)

    def keep_result(self, key: str, data: bytes) -> None:
        if len(data) <= MAX_PACK_BYTES:
            self._store.put(key, data, suffix=_RESULT_SUFFIX)

    def get(self, key: bytes, path: str) -> LoadedFile | None:
        """The documents stored under ``key``, as the file at ``path`` holds them; None when not stored."""
        self._inputs.append((path, key))
        record = self._known.get(key)
        if record is None:
            return None
        try:
            loaded = _StoredFile(path, (path, *record))
        except (IndexError, TypeError, ValueError, KeyError):
            return None  # a record of another shape than this loader writes: load the file instead
        self._used[key] = record
        return loaded

    def record(self, key: bytes, record: Any) -> None:
        """Keep a file loaded elsewhere (a second process), in the form it was sent in."""
        if record is not None:
            self._used[key] = record[1:]

    def put(self, key: bytes, loaded: LoadedFile) -> None:
        """Keep a file loaded here; it is encoded only when the pack is written."""
        if key not in self._used:
            self._fresh[key] = loaded

    def load_text(self, path: str, text: str, make: Callable[[], LoadedFile]) -> LoadedFile:
        """``make()``, or the documents the cache holds for ``text`` loaded as the file ``path``."""
        key = self.key(text.encode("utf-8", "surrogatepass"), decoded=True)
        loaded = self.get(key, path)
        if loaded is None:
            loaded = make()
            self.put(key, loaded)
        return loaded

    def save_early(self) -> None:
        """Start writing the pack in a second process, while this one judges what it loaded.

        Encoding the files this process composed and writing the pack cost a cold run
        on a large tree a tenth of its time, on one core while the other waits for the
        rules. The child writes the pack of every file loaded so far; :meth:`save`
        waits for it, and writes the pack itself if the child failed or files were
        loaded after it started.
        """
        if self._writer is not None or len(self._fresh) < WRITER_MIN_FILES:
            return
        self._writer_keys = self._keys()
        self._writer = parallel.in_second_process(self._write, _WRITER_SECONDS)

    def _keys(self) -> set[bytes]:
        return self._used.keys() | self._fresh.keys()

    def save(self) -> None:
        """Write the pack of what this run loaded, unless it is the pack that is there already."""
        writer, self._writer = self._writer, None
        if writer is not None:
            outcome = writer.result()
            if outcome in (_WRITTEN, _UNCHANGED) and self._keys() == self._writer_keys:
                if outcome == _WRITTEN:
                    self._store.note_written()
                return
        self._write()

    def _write(self) -> bytes:
        for key, loaded in self._fresh.items():
            record = encode(loaded)
            if record is not None:  # a file with YAML aliases is not kept; it loads from its text
                self._used[key] = record[1:]
        self._fresh.clear()
        # In the order of the keys: which process loaded a file (a matter of timing,
        # nplint.parallel.load_split) decides the order the records came in, not the pack.
        self._used = dict(sorted(self._used.items()))
        if self._used.keys() == self._known.keys():
            return _UNCHANGED  # the pack there holds exactly this run's documents
        try:
            data = marshal.dumps((self._fingerprint, self._used))
        except ValueError:
            return _UNCHANGED
        if len(data) > MAX_PACK_BYTES:
            return _UNCHANGED
        self._store.put(_PACK, data, suffix=_SUFFIX)
        return _WRITTEN


@contextlib.contextmanager
def opened(root: Path, *, enabled: bool) -> Iterator[DocumentCache | None]:
    """The document cache of ``root`` for one run, saved at its end; None when off or without a key."""
    if not enabled:
        yield None
        return
    root_real = str(Path(root).resolve())
    key = render_cache.user_key(root_real)
    if key is None:
        yield None
        return
    with render_cache.RenderCache(root_real, key) as store:
        cache = DocumentCache(store)
        yield cache
        cache.save()
