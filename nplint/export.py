"""A copy of the repository for rendering programs: no ``.git``, no way out, bounded.

Renderers read whatever a kustomization or chart names. On the live checkout
that includes ``.git/config``, where a CI checkout keeps its job token, and
anything a symbolic link points at. They are therefore run on an export: the
regular files of the repository copied into a temporary directory, ``.git``
(directory or file, at any depth) and nplint's ``.nplint_cache`` left out, symbolic links that stay inside the
repository recreated to point at the same place in the export, and links that
lead out of it -- or into a ``.git`` -- left out and listed, so that the caller
can refuse what holds them. Special files (FIFOs, sockets, devices) are not
copied: reading a FIFO would block. The export is bounded in entries and bytes.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import field
from pathlib import Path

from nplint.records import record

#: Files, directories and links an export may hold.
EXPORT_MAX_ENTRIES = 100_000
#: Bytes of file content an export may hold.
EXPORT_MAX_BYTES = 512 * 1024 * 1024
_CHUNK = 1024 * 1024
LINK_OUTSIDE = "leads out of the repository"
LINK_INTO_GIT = "leads into .git"
#: nplint's render cache at the root (:mod:`nplint.render_cache`): not the renderers' to read.
CACHE_DIRECTORY = ".nplint_cache"


class ExportTooLarge(Exception):
    """The repository holds more than an export may."""


@record(slots=True)
class Export:
    #: The directory that mirrors the repository root.
    tree: Path
    #: Links left out, by POSIX path relative to the root, with why.
    refused_links: dict[str, str] = field(default_factory=dict)


def within(path: str, directory: str) -> bool:
    return path == directory or path.startswith(directory.rstrip(os.sep) + os.sep)


def in_git(relative: str) -> bool:
    """Whether a POSIX path relative to the root passes through a ``.git``."""
    return ".git" in relative.split("/")


def export_tree(
    root: Path, tree: Path, *, max_entries: int | None = None, max_bytes: int | None = None
) -> Export:
    """Copy ``root`` into the new directory ``tree`` (which must not exist yet).

    Raises :class:`ExportTooLarge` beyond ``max_entries`` entries or ``max_bytes``
    bytes (by default :data:`EXPORT_MAX_ENTRIES` and :data:`EXPORT_MAX_BYTES`).
    """
    entries = EXPORT_MAX_ENTRIES if max_entries is None else max_entries
    size = EXPORT_MAX_BYTES if max_bytes is None else max_bytes
    return _Exporter(os.path.realpath(root), tree, entries, size).run()


def _amount(size: int) -> str:
    mebibyte = 1024 * 1024
    return f"{size // mebibyte} MiB" if size >= mebibyte else f"{size} bytes"


class _Exporter:
    def __init__(self, root_real: str, tree: Path, max_entries: int, max_bytes: int) -> None:
        self.root_real = root_real
        self.export = Export(tree)
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.entries = 0
        self.bytes = 0

    def run(self) -> Export:
        os.mkdir(self.export.tree, 0o700)
        # Iterative, so that a deep tree cannot exhaust Python's recursion limit; sorted, so
        # that which files fit under the caps never depends on the order of the file system.
        pending = [""]
        while pending:
            relative = pending.pop()
            source = os.path.join(self.root_real, relative) if relative else self.root_real
            try:
                with os.scandir(source) as iterator:
                    entries = sorted(iterator, key=lambda entry: entry.name)
            except OSError:
                continue  # unreadable: left out, like git does
            for entry in reversed(entries):
                if entry.name == ".git" or (not relative and entry.name == CACHE_DIRECTORY):
                    continue
                child = f"{relative}/{entry.name}" if relative else entry.name
                self._count()
                try:
                    if entry.is_symlink():
                        self._link(entry.path, child)
                    elif entry.is_dir(follow_symlinks=False):
                        os.mkdir(self._target(child), 0o700)
                        pending.append(child)
                    elif entry.is_file(follow_symlinks=False):
                        self._copy(entry.path, child)
                except OSError:
                    continue  # vanished or unreadable: left out, like git does
        return self.export

    def _target(self, relative: str) -> str:
        return os.path.join(self.export.tree, *relative.split("/"))

    def _count(self) -> None:
        self.entries += 1
        if self.entries > self.max_entries:
            raise ExportTooLarge(f"the repository holds more than {self.max_entries} files and directories")

    def _link(self, path: str, relative: str) -> None:
        real = os.path.realpath(path)
        if not within(real, self.root_real):
            self.export.refused_links[relative] = LINK_OUTSIDE
            return
        points_at = os.path.relpath(real, self.root_real).replace(os.sep, "/")
        if in_git(points_at):
            self.export.refused_links[relative] = LINK_INTO_GIT
            return
        if not os.path.lexists(real):
            return  # dangling: there is nothing to reach
        # The link points at the resolved place, so no hop of a chain can lead out of the export.
        target = self._target(points_at) if points_at != "." else str(self.export.tree)
        link = self._target(relative)
        os.symlink(os.path.relpath(target, os.path.dirname(link)), link)

    def _copy(self, path: str, relative: str) -> None:
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
        try:
            source = os.open(path, flags | getattr(os, "O_CLOEXEC", 0))
        except OSError:
            return  # unreadable, or replaced by a link since the directory was read
        try:
            if not stat.S_ISREG(os.fstat(source).st_mode):
                return
            descriptor = os.open(self._target(relative), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "wb") as destination:
                while chunk := os.read(source, _CHUNK):
                    self.bytes += len(chunk)
                    if self.bytes > self.max_bytes:
                        raise ExportTooLarge(f"the repository holds more than {_amount(self.max_bytes)}")
                    destination.write(chunk)
        except OSError as error:
            if error.errno == errno.ENOSPC:
                raise ExportTooLarge("no space left for the export") from None
        finally:
            os.close(source)
