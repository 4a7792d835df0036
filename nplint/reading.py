"""Read a file of the scanned repository with a bound on its size, and only if it is a regular file.

Every byte of a scanned repository may be hostile: a 10 GB manifest, a FIFO
that never ends, a link to ``/dev/zero``. nplint therefore never calls
``read()`` without a bound: it reads at most :data:`MAX_FILE_BYTES` + 1 bytes,
and opens a file it found itself without blocking, refusing anything but a
regular file. Pipes and devices are read only where the user named them
(``nplint <(kustomize build)``, standard input), bounded all the same.

The errors are :class:`OSError` subclasses, so a caller that already reports
"cannot read the file" reports these too, with their own plain message.
"""

from __future__ import annotations

import errno
import math
import os
import stat
from typing import BinaryIO

__all__ = ["MAX_FILE_BYTES", "FileTooLarge", "NotARegularFile", "read_bounded", "read_head", "read_stream"]

#: The largest file nplint reads. Real manifests, even `kubectl get -o yaml`
#: exports of large clusters, stay well below.
MAX_FILE_BYTES = 32 * 1024 * 1024

_MIB = 1024 * 1024
#: Bytes asked for per read(2).
_CHUNK = 1024 * 1024


def _mib(size: int) -> str:
    # Rounded up to a tenth, so a file one byte over the cap never reads "32 MiB".
    return f"{math.ceil(size * 10 / _MIB) / 10:g} MiB"


class FileTooLarge(OSError):
    """A file over the size cap. ``size`` is None for a stream, whose size is unknown."""

    def __init__(self, size: int | None, limit: int) -> None:
        self.size = size
        self.limit = limit
        what = f"{_mib(size)}" if size is not None else f"more than {_mib(limit)}"
        super().__init__(errno.EFBIG, f"file too large ({what}); nplint reads at most {_mib(limit)}")

    def __str__(self) -> str:
        return str(self.strerror)


class NotARegularFile(OSError):
    """A FIFO, device or socket where nplint expects a file of the repository."""

    def __init__(self, mode: int) -> None:
        self.mode = mode
        super().__init__(
            errno.EINVAL, f"not a regular file ({_kind(mode)}); nplint reads only regular files it finds"
        )

    def __str__(self) -> str:
        return str(self.strerror)


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISDIR(mode):
        return "a directory"
    return "not a file"


def read_bounded(path: str | os.PathLike[str], limit: int = MAX_FILE_BYTES, *, stream: bool = False) -> bytes:
    """The bytes of the regular file at ``path``, at most ``limit`` of them.

    With ``stream`` (a path the user named: a pipe, ``/dev/stdin``, a process
    substitution) anything readable is read, blocking as ``cat`` would, but
    still no more than ``limit`` bytes.

    :raises FileTooLarge: the file holds more than ``limit`` bytes.
    :raises NotARegularFile: without ``stream``, the path is a FIFO, a device, a socket.
    :raises OSError: the file cannot be opened or read.
    """
    flags = os.O_RDONLY | os.O_NOCTTY | os.O_CLOEXEC
    if not stream:
        # Opening a FIFO blocks until someone writes to it; O_NONBLOCK lets us look first.
        flags |= os.O_NONBLOCK
    descriptor = os.open(path, flags)
    try:
        status = os.fstat(descriptor)
        if not stream and not stat.S_ISREG(status.st_mode):
            raise NotARegularFile(status.st_mode)
        if stat.S_ISREG(status.st_mode) and status.st_size > limit:
            raise FileTooLarge(status.st_size, limit)
        data = _read_at_most(descriptor, limit + 1)
    finally:
        os.close(descriptor)
    if len(data) > limit:
        # A file that grew while read, or a stream: its real size is unknown.
        raise FileTooLarge(None, limit)
    return data


def read_head(path: str | os.PathLike[str], count: int) -> bytes:
    """The first ``count`` bytes (or fewer) of the regular file at ``path``, however large it is.

    For a look at how a file starts; the same refusals as :func:`read_bounded`.

    :raises NotARegularFile: the path is a FIFO, a device, a socket.
    :raises OSError: the file cannot be opened or read.
    """
    descriptor = os.open(path, os.O_RDONLY | os.O_NOCTTY | os.O_CLOEXEC | os.O_NONBLOCK)
    try:
        status = os.fstat(descriptor)
        if not stat.S_ISREG(status.st_mode):
            raise NotARegularFile(status.st_mode)
        return _read_at_most(descriptor, count)
    finally:
        os.close(descriptor)


def read_stream(handle: BinaryIO, limit: int = MAX_FILE_BYTES) -> bytes:
    """At most ``limit`` bytes of an open binary stream (standard input).

    :raises FileTooLarge: the stream holds more than ``limit`` bytes.
    """
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        chunk = handle.read(min(_CHUNK, limit + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    if size > limit:
        raise FileTooLarge(None, limit)
    return b"".join(chunks)


def _read_at_most(descriptor: int, count: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while size < count:
        chunk = os.read(descriptor, min(_CHUNK, count - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)
