"""Rendered output kept between runs, in ``.nplint_cache/`` under the root, authenticated.

Rendering a fleet of overlays takes most of a run; a pre-commit run that changed
one file must not render a hundred overlays again. So what a render printed is
kept, named by a digest of everything the render could read and of how it was
run (:func:`digest`), and used again while that digest is the same.

The cache lives in the scanned repository, and the repository is untrusted: a
pull request can commit a ``.nplint_cache/`` of its own, with entries that say
an overlay renders to something it does not. So

- every entry carries an HMAC over its name and content, keyed by a secret of
  the person running nplint kept outside the repository
  (``$XDG_CACHE_HOME/nplint/key``, else ``~/.cache/nplint/key``, made 0600 on
  first use); an entry that fails the check is treated as absent;
- a ``.nplint_cache`` that is a symbolic link (or not a directory), and an entry
  that is a link or not a regular file, are treated as absent and never written
  through: the directory is opened once with ``O_NOFOLLOW`` and every entry is
  opened relative to it, with ``O_NOFOLLOW`` too;
- entries are written to a new file and renamed into place, so a reader never
  sees half an entry, and the whole cache is kept under :data:`MAX_CACHE_BYTES`
  by removing the entries used longest ago.

The directory holds a ``.gitignore`` of ``*``, as ruff's cache does, so that it
is never committed by accident.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
import stat
import threading
from collections.abc import Iterable
from pathlib import Path

from nplint.export import CACHE_DIRECTORY, EXPORT_MAX_BYTES, EXPORT_MAX_ENTRIES, within

__all__ = ["CACHE_DIRECTORY", "MAX_CACHE_BYTES", "RenderCache", "TooMuchToHash", "TreeHasher", "user_key"]

#: Bytes all entries together may take; past it the entries used longest ago go.
MAX_CACHE_BYTES = 256 * 1024 * 1024
#: Bytes of the secret key.
_KEY_BYTES = 32
_MAC_BYTES = hashlib.sha256().digest_size
_ENTRY_SUFFIX = ".render"
#: Every kind of entry the cache holds: rendered output, the loaded documents of
#: nplint.document_cache, the findings of nplint.result_cache.
_SUFFIXES = (_ENTRY_SUFFIX, ".pack", ".result")
_GITIGNORE = "# Created by nplint: rendered output, never to be committed.\n*\n"
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
#: Bytes of one file hashed at a time.
_CHUNK = 1024 * 1024


def _key_path() -> Path:
    base = os.environ.get("XDG_CACHE_HOME", "")
    # A relative XDG_CACHE_HOME would name a directory of wherever nplint was started,
    # usually the repository; the specification says to ignore it.
    directory = Path(base) if base and os.path.isabs(base) else Path.home() / ".cache"
    return directory / "nplint" / "key"


def user_key(root_real: str) -> bytes | None:
    """The secret of the person running nplint, made on first use; None when there is none to be had.

    None also when the key would lie inside the repository being linted (an
    ``XDG_CACHE_HOME`` or ``HOME`` inside it), where the repository could know it.
    """
    try:
        path = _key_path()
    except RuntimeError:  # no home directory to keep a key in: no cache
        return None
    try:
        directory = path.parent
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        if within(os.path.realpath(directory), root_real):
            return None
        key = _read_key(path)
        if key is not None:
            return key
        # Written whole to a private file, then linked into place: a second nplint started
        # at the same moment sees either no key or the whole of one, and both use the same.
        temporary = directory / f".key.{secrets.token_hex(8)}"
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC, 0o600)
        try:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(secrets.token_bytes(_KEY_BYTES))
            with contextlib.suppress(FileExistsError):
                os.link(temporary, path)
        finally:
            temporary.unlink(missing_ok=True)
        return _read_key(path)
    except OSError:
        return None


def _read_key(path: Path) -> bytes | None:
    try:
        descriptor = os.open(path, os.O_RDONLY | _NOFOLLOW | _CLOEXEC)
    except FileNotFoundError:
        return None
    with os.fdopen(descriptor, "rb") as handle:
        status = os.fstat(handle.fileno())
        # Someone else's key, or one others may read, is no secret.
        if not stat.S_ISREG(status.st_mode) or status.st_mode & 0o077 or status.st_uid != os.getuid():
            return None
        key = handle.read(_KEY_BYTES + 1)
    return key if len(key) == _KEY_BYTES else None


class RenderCache:
    """The cache of one root. Use as a context manager; every method is safe from several threads."""

    def __init__(self, root_real: str, key: bytes, *, max_bytes: int = MAX_CACHE_BYTES) -> None:
        self._root_real = root_real
        self._key = key
        self._max_bytes = max_bytes
        self._fd: int | None = None
        self._opened = False
        self._written = False
        self._lock = threading.Lock()

    def __enter__(self) -> RenderCache:
        return self

    def __exit__(self, *_: object) -> None:
        self.trim()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def present(self) -> bool:
        """Whether there is a cache directory to look in (a first run has none: nothing to hash for)."""
        return self._directory(create=False) is not None

    def _directory(self, *, create: bool) -> int | None:
        """A descriptor of the cache directory, opened without following a link; None if there is none."""
        with self._lock:
            return self._open_directory(create=create)

    def _open_directory(self, *, create: bool) -> int | None:
        if self._fd is not None or (self._opened and not create):
            return self._fd
        self._opened = True
        path = os.path.join(self._root_real, CACHE_DIRECTORY)
        if create:
            with contextlib.suppress(OSError):
                os.mkdir(path, 0o700)
        try:
            fd = os.open(path, os.O_RDONLY | _DIRECTORY | _NOFOLLOW | _CLOEXEC)
        except OSError:
            return None  # absent, a link, or not a directory: no cache
        if not stat.S_ISDIR(os.fstat(fd).st_mode):
            os.close(fd)
            return None
        self._fd = fd
        with contextlib.suppress(OSError):
            self._create(".gitignore", _GITIGNORE.encode())
        return fd

    def _create(self, name: str, data: bytes) -> None:
        assert self._fd is not None
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC
        descriptor = os.open(name, flags, 0o600, dir_fd=self._fd)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)

    def _mac(self, name: str, data: bytes) -> bytes:
        return hmac.new(self._key, name.encode() + b"\0" + data, hashlib.sha256).digest()

    def get(self, digest: str, limit: int, *, suffix: str = _ENTRY_SUFFIX) -> bytes | None:
        """The output stored under ``digest`` if an authentic entry of at most ``limit`` bytes holds it."""
        fd = self._directory(create=False)
        if fd is None:
            return None
        assert suffix in _SUFFIXES
        name = digest + suffix
        try:
            descriptor = os.open(name, os.O_RDONLY | _NOFOLLOW | _CLOEXEC | os.O_NONBLOCK, dir_fd=fd)
        except OSError:
            return None
        with os.fdopen(descriptor, "rb") as handle:
            status = os.fstat(handle.fileno())
            if not stat.S_ISREG(status.st_mode) or status.st_size > limit + _MAC_BYTES:
                return None
            content = handle.read(limit + _MAC_BYTES + 1)
        mac, data = content[:_MAC_BYTES], content[_MAC_BYTES:]
        if len(content) > limit + _MAC_BYTES or not hmac.compare_digest(mac, self._mac(name, data)):
            return None
        # Used now: the last to be evicted.
        with contextlib.suppress(OSError, NotImplementedError):
            os.utime(name, dir_fd=fd, follow_symlinks=False)
        return data

    def put(self, digest: str, data: bytes, *, suffix: str = _ENTRY_SUFFIX) -> None:
        """Store ``data`` under ``digest``; a cache that cannot be written is no error."""
        fd = self._directory(create=True)
        if fd is None or len(data) > self._max_bytes:
            return
        assert suffix in _SUFFIXES
        name = digest + suffix
        temporary = f".{digest[:16]}.{secrets.token_hex(6)}.tmp"
        try:
            self._create(temporary, self._mac(name, data) + data)
            os.replace(temporary, name, src_dir_fd=fd, dst_dir_fd=fd)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(temporary, dir_fd=fd)
            return
        with self._lock:
            self._written = True

    def note_written(self) -> None:
        """Count an entry another process wrote into this cache (a forked writer), for :meth:`trim`."""
        with self._lock:
            self._written = True

    def trim(self) -> None:
        """Remove the entries used longest ago until the cache is within its bound (once per run)."""
        with self._lock:
            written, self._written = self._written, False
        if written and self._fd is not None:
            self._evict(self._fd)

    def _evict(self, fd: int) -> None:
        entries: list[tuple[int, str, int]] = []
        try:
            with os.scandir(fd) as iterator:
                for entry in iterator:
                    if entry.name.endswith(_SUFFIXES) and entry.is_file(follow_symlinks=False):
                        status = entry.stat(follow_symlinks=False)
                        entries.append((status.st_mtime_ns, entry.name, status.st_size))
        except OSError:
            return
        total = sum(size for _, _, size in entries)
        for _, name, size in sorted(entries):
            if total <= self._max_bytes:
                break
            with contextlib.suppress(OSError):
                os.unlink(name, dir_fd=fd)
                total -= size


class TooMuchToHash(Exception):
    """The inputs of the renders are more than a run hashes; what depends on them is not cached."""


class TreeHasher:
    """Digests of directories of a tree, by content, each directory hashed once per run.

    A digest covers every name, kind and byte below the directory, ``.git`` left
    out (renderers never see it). A symbolic link counts as where it resolves to
    (relative to the base) and, when that is a directory of the tree, as what it
    holds, so the same tree gives the same digest in the repository and in the
    export, whose links are written differently. ``.nplint_cache`` at the top is
    left out: the export holds none.
    """

    def __init__(
        self,
        base_real: str,
        *,
        file_limit: int,
        max_bytes: int = EXPORT_MAX_BYTES,
        max_entries: int = EXPORT_MAX_ENTRIES,
    ) -> None:
        self._base = base_real
        self._file_limit = file_limit
        self._memo: dict[str, bytes] = {}
        # What one run may hash, all directories together: no more than an export may hold.
        self._bytes_left = max_bytes
        self._entries_left = max_entries

    def _count(self, entries: int = 0, size: int = 0) -> None:
        self._entries_left -= entries
        self._bytes_left -= size
        if self._entries_left < 0 or self._bytes_left < 0:
            raise TooMuchToHash("the inputs hold more than a render cache entry may depend on")

    def directories(self, relatives: Iterable[str]) -> bytes:
        """One digest of several directories (real paths relative to the base), with their names."""
        total = hashlib.sha256(b"directories\0")
        for relative in sorted(set(relatives)):
            total.update(relative.encode("utf-8", "surrogateescape") + b"\0" + self.directory(relative))
        return total.digest()

    def file(self, relative: str) -> bytes:
        return self._file(os.path.join(self._base, *relative.split("/")) if relative else self._base)

    def directory(self, relative: str, active: frozenset[str] = frozenset()) -> bytes:
        if relative in self._memo:
            return self._memo[relative]
        if relative in active:
            return b"loop"  # a link back to a directory being hashed: its content is counted already
        active = active | {relative}
        path = os.path.join(self._base, *relative.split("/")) if relative else self._base
        digest = hashlib.sha256(b"directory\0")
        try:
            with os.scandir(path) as iterator:
                entries = sorted(iterator, key=lambda entry: entry.name)
        except OSError:
            entries = []
        self._count(entries=len(entries))
        for entry in entries:
            if entry.name == ".git" or (not relative and entry.name == CACHE_DIRECTORY):
                continue
            child = f"{relative}/{entry.name}" if relative else entry.name
            digest.update(entry.name.encode("utf-8", "surrogateescape") + b"\0")
            try:
                if entry.is_symlink():
                    digest.update(b"L" + self._link(entry.path, active))
                elif entry.is_dir(follow_symlinks=False):
                    digest.update(b"D" + self.directory(child, active))
                elif entry.is_file(follow_symlinks=False):
                    digest.update(b"F" + self._file(entry.path))
                else:
                    digest.update(b"S")
            except OSError:
                digest.update(b"E")
        self._memo[relative] = digest.digest()
        return self._memo[relative]

    def _link(self, path: str, active: frozenset[str]) -> bytes:
        real = os.path.realpath(path)
        if not within(real, self._base):
            return b"outside"
        target = "" if real == self._base else os.path.relpath(real, self._base).replace(os.sep, "/")
        described = target.encode("utf-8", "surrogateescape") + b"\0"
        if ".git" in target.split("/"):
            return described + b"git"
        if os.path.isdir(real):
            return described + self.directory(target, active)
        if os.path.isfile(real):
            return described + self._file(real)
        return described + b"missing"

    def _file(self, path: str) -> bytes:
        digest = hashlib.sha256()
        try:
            descriptor = os.open(path, os.O_RDONLY | _NOFOLLOW | _CLOEXEC | os.O_NONBLOCK)
        except OSError:
            return b"unreadable"
        with os.fdopen(descriptor, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                return b"special"
            read = 0
            while chunk := handle.read(_CHUNK):
                read += len(chunk)
                self._count(size=len(chunk))
                if read > self._file_limit:
                    # Beyond the bound, the size and time say whether it changed.
                    status = os.fstat(handle.fileno())
                    return f"large {status.st_size} {status.st_mtime_ns}".encode()
                digest.update(chunk)
        return digest.digest()
