"""Writing an output file without following a link the repository put in its place.

nplint's output files (``--output``, ``--format F=FILE``, ``--write-baseline``)
usually sit in the checked-out repository, and the repository is untrusted: a
committed symlink ``nplint.sarif -> ~/.bashrc`` would make opening the path for
writing overwrite whatever the link points at. So a report is written to a new
file beside the target and renamed onto it: a rename replaces a symlink itself,
never what it points to, and a reader never sees half a report. A folder on the
way may be a committed link too (``reports -> ~/.config/tool``): a path named
inside the repository must stay inside it once its folders are followed.
"""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

__all__ = ["OutputFileError", "replace_file", "write_chunks"]

#: Characters per write: few calls, and never the whole text in memory.
_BATCH = 1 << 20


class OutputFileError(Exception):
    """An output file that cannot be written; the message names it and says why."""


def replace_file(path: str | os.PathLike[str], chunks: Iterable[str]) -> None:
    """Write ``chunks`` (UTF-8) as the new content of ``path``, never through a symlink.

    A path that names a FIFO or a character device (``/dev/null``, a pipe made
    by the caller) is written in place, opened with ``O_NOFOLLOW``; git cannot
    commit either, so such a path is the caller's, not the repository's.

    :raises OutputFileError: when the file cannot be written (a directory, no permission).
    """
    target = Path(path)
    _check_folder(target)
    try:
        mode = os.lstat(target).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as error:
        raise _error(target, error) from None
    if mode is not None and stat.S_ISDIR(mode):
        raise OutputFileError(f"cannot write {target}: it is a directory")
    if mode is not None and (stat.S_ISFIFO(mode) or stat.S_ISCHR(mode)):
        _write_in_place(target, chunks)
        return
    directory = target.parent
    temporary, fd = _create_beside(directory, target.name)
    try:
        with open(fd, "w", encoding="utf-8", newline="") as handle:
            write_chunks(chunks, handle)
        os.replace(temporary, target)
    except BaseException as error:
        temporary.unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise _error(target, error) from None
        raise


def _check_folder(target: Path) -> None:
    """Refuse a path named inside the repository whose folder leads out of it through a link.

    The repository is the one around the current directory (the folder holding
    ``.git``), as for the run's configuration; a path named outside it
    (``$RUNNER_TEMP/x.sarif``), or any path when there is no repository, is the caller's.
    """
    from nplint.config import stays_inside
    from nplint.discovery import find_repository_root

    root = find_repository_root(Path.cwd())
    if not os.path.lexists(root / ".git"):
        return  # not in a repository: every path is the caller's
    if not stays_inside(target.parent, root):
        raise OutputFileError(
            f"cannot write {target}: its folder is a symbolic link leading outside the repository {root}"
        )


def _create_beside(directory: Path, name: str) -> tuple[Path, int]:
    """A new file in ``directory``, created exclusively (so never through a link), with the umask's mode."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        candidate = directory / f".{name[:64]}.{secrets.token_hex(6)}.nplint-tmp"
        try:
            return candidate, os.open(candidate, flags, 0o666)
        except FileExistsError:
            continue
        except OSError as error:
            raise _error(directory / name, error) from None
    raise OutputFileError(f"cannot write {directory / name}: no free temporary name beside it")


def _write_in_place(target: Path, chunks: Iterable[str]) -> None:
    flags = os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(target, flags)
    except OSError as error:
        raise _error(target, error) from None
    with open(fd, "w", encoding="utf-8", newline="") as handle:
        write_chunks(chunks, handle)


def write_chunks(chunks: Iterable[str], stream: TextIO) -> None:
    """Write chunks in writes of about a megabyte: few calls, and never the whole text in memory."""
    write = stream.write
    batch: list[str] = []
    size = 0
    for chunk in chunks:
        batch.append(chunk)
        size += len(chunk)
        if size >= _BATCH:
            write("".join(batch))
            batch.clear()
            size = 0
    write("".join(batch))


def _error(target: Path, error: OSError) -> OutputFileError:
    return OutputFileError(f"cannot write {target}: {error.strerror or error}")
