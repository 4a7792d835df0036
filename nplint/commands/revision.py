"""A git revision written into a directory: what ``nplint diff`` compares.

The revision is read straight from git's object store (``git ls-tree`` and
``git cat-file --batch``) rather than with ``git archive``: an archive runs the
smudge filters that the revision's own ``.gitattributes`` choose among those
configured on the machine (Git LFS, which fetches over the network, for one),
and a pull request chooses that revision's attributes. Blobs are written as
stored. A symbolic link is recreated only when it stays inside the tree; one to
``/etc/passwd`` or ``../../outside`` is left out, as nplint never reads outside
the repository anyway. Submodules are left out. The revision is bounded in size
(:data:`REVISION_LIMIT`) and every git command in time (:data:`GIT_TIMEOUT`).
Revisions reach git only after ``--end-of-options``, and then as full hashes.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import IO

from nplint import programs
from nplint.config import size_text
from nplint.discovery import find_repository_root
from nplint.export import within

#: The most a revision's files (and the listing of them) may hold.
REVISION_LIMIT = 1 << 30
#: Seconds one git command may take.
GIT_TIMEOUT = 300
#: A symbolic link's target is a path; longer than this it is not one nplint follows.
_LINK_LIMIT = 4096
_HEX = frozenset("0123456789abcdef")


class RevisionError(Exception):
    """A revision that cannot be compared: unknown, too large, or git failed. Exit code 2."""


def git_program() -> str:
    """The git to run: found in an absolute directory of PATH, never in the repository.

    A relative PATH entry (``bin``, ``node_modules/.bin``, an empty one) names a
    folder of the current directory -- the checkout being compared -- so a ``git``
    committed there would run in place of the real one; an absolute entry that leads
    into the repository around the current directory would do the same.
    """
    found = programs.find_program("git")
    if found is None:
        raise RevisionError("git is not on PATH (only absolute PATH directories are searched)")
    repository = find_repository_root(Path.cwd())
    in_repository = os.path.lexists(repository / ".git")
    if in_repository and within(os.path.realpath(found), str(repository)):
        raise RevisionError(f"the git found on PATH ({found}) is inside the repository; it is not run")
    return str(found)


def git(*command: str, cwd: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    """A git command whose whole output is small (a hash, a path)."""
    try:
        return subprocess.run(
            [git_program(), *command], cwd=cwd, capture_output=True, check=False, timeout=GIT_TIMEOUT
        )
    except subprocess.TimeoutExpired:
        raise RevisionError(f"git {command[0]} took longer than {GIT_TIMEOUT} s") from None
    except OSError as error:
        raise RevisionError(f"cannot run git: {error}") from None


def repository_root() -> Path:
    done = git("rev-parse", "--show-toplevel")
    if done.returncode != 0:
        raise RevisionError("not inside a git repository: name two directories, or run from the repository")
    return Path(os.fsdecode(done.stdout.rstrip(b"\n")))


def commit_of(reference: str, root: Path) -> str:
    """The commit a revision names, as a full hash (nothing git could take for an option)."""
    if reference.startswith("-"):
        raise RevisionError(f"{reference!r}: a revision does not start with '-'")
    done = git("rev-parse", "--verify", "--quiet", "--end-of-options", f"{reference}^{{commit}}", cwd=root)
    commit = done.stdout.decode(errors="replace").strip()
    if done.returncode != 0 or not commit or not set(commit) <= _HEX:
        hint = ""
        if Path(reference).is_dir():
            hint = f"; to compare the directory, write it as ./{reference} or {reference}/"
        raise RevisionError(f"{reference!r} is not a revision of the repository at {root}{hint}")
    return commit


def write_revision(commit: str, reference: str, root: Path, target: Path) -> None:
    """Write the files of ``commit`` into the new directory ``target``."""
    listing = git("ls-tree", "-r", "-z", "--full-tree", commit, cwd=root)
    if listing.returncode != 0:
        lines = listing.stderr.decode(errors="replace").strip().splitlines()
        raise RevisionError(f"git ls-tree {reference!r} failed: {lines[-1] if lines else 'no message'}")
    if len(listing.stdout) > REVISION_LIMIT:
        raise _too_large(reference)
    entries = _entries(listing.stdout)
    target.mkdir(parents=True)
    with tempfile.TemporaryFile() as wanted, tempfile.TemporaryFile() as errors:
        wanted.write(b"".join(oid.encode() + b"\n" for _, oid, _ in entries))
        wanted.seek(0)
        try:
            process = subprocess.Popen(
                [git_program(), "cat-file", "--batch"],
                cwd=root,
                stdin=wanted,
                stdout=subprocess.PIPE,
                stderr=errors,
            )
        except OSError as error:
            raise RevisionError(f"cannot run git: {error}") from None
        assert process.stdout is not None
        expired = threading.Event()

        def expire() -> None:
            expired.set()
            process.kill()

        # A read blocks while git is silent; the timer ends git, and with it the read.
        timer = threading.Timer(GIT_TIMEOUT, expire)
        timer.start()
        try:
            links = _write_blobs(process.stdout, entries, reference, target)
            code = process.wait()
        except RevisionError:
            if expired.is_set():
                raise RevisionError(
                    f"reading revision {reference!r} took longer than {GIT_TIMEOUT} s"
                ) from None
            raise
        finally:
            timer.cancel()
            if process.poll() is None:
                process.kill()
                process.wait()
            process.stdout.close()
        if code != 0:
            errors.seek(0)
            lines = errors.read(4096).decode(errors="replace").strip().splitlines()
            raise RevisionError(
                f"git cat-file {reference!r} failed: {lines[-1] if lines else f'exit code {code}'}"
            )
    _make_links(target, links)


def _entries(listing: bytes) -> list[tuple[str, str, str]]:
    """(mode, blob id, path) of the files and links in ``git ls-tree -r -z`` output."""
    entries: list[tuple[str, str, str]] = []
    for record in listing.split(b"\0"):
        meta, tab, raw_path = record.partition(b"\t")
        fields = meta.decode("ascii", errors="replace").split(" ")
        if not tab or len(fields) != 3:
            continue
        mode, kind, oid = fields
        path = os.fsdecode(raw_path)
        # git refuses such paths in a tree; one crafted anyway is left out.
        if any(part in ("", ".", "..") or part.lower() == ".git" for part in path.split("/")):
            continue
        if kind == "blob" and mode in ("100644", "100755", "120000") and set(oid) <= _HEX:
            entries.append((mode, oid, path))
    return entries


def _write_blobs(
    stream: IO[bytes], entries: list[tuple[str, str, str]], reference: str, target: Path
) -> list[tuple[str, bytes]]:
    """Copy each blob of ``git cat-file --batch`` output to its file; return the links' targets."""
    links: list[tuple[str, bytes]] = []
    total = 0
    for mode, _, path in entries:
        header = stream.readline(256).split()
        if len(header) != 3 or header[1] != b"blob" or not header[2].isdigit():
            raise RevisionError(f"git cat-file {reference!r}: unexpected output")
        size = int(header[2])
        total += size
        if total > REVISION_LIMIT:
            raise _too_large(reference)
        if mode == "120000":
            content = _read(stream, size, reference)
            if size <= _LINK_LIMIT:
                links.append((path, content))
        else:
            _copy(stream, size, target / path, executable=mode == "100755", reference=reference)
        if stream.read(1) != b"\n":
            raise RevisionError(f"git cat-file {reference!r}: unexpected output")
    return links


def _read(stream: IO[bytes], size: int, reference: str) -> bytes:
    data = stream.read(size)
    if len(data) != size:
        raise RevisionError(f"git cat-file {reference!r}: output ended early")
    return data


def _copy(stream: IO[bytes], size: int, path: Path, *, executable: bool, reference: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Links are made only after every file: nothing on the way to ``path`` can lead elsewhere.
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    with os.fdopen(os.open(path, flags, 0o755 if executable else 0o644), "wb") as sink:
        remaining = size
        while remaining:
            chunk = stream.read(min(remaining, 1 << 20))
            if not chunk:
                raise RevisionError(f"git cat-file {reference!r}: output ended early")
            sink.write(chunk)
            remaining -= len(chunk)


def _make_links(target: Path, links: list[tuple[str, bytes]]) -> None:
    """Recreate the links that stay inside ``target``; leave out the others."""
    made: list[Path] = []
    for path, content in links:
        destination = target / path
        link_target = os.fsdecode(content)
        if not link_target or "\0" in link_target or os.path.isabs(link_target):
            continue
        destination.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.symlink(link_target, destination)
        except OSError:
            continue  # a path a file already holds (a crafted tree): the file stays
        made.append(destination)
    # Only now can a link be judged: one may lead through others (`a -> .`, `b -> a/a/..`).
    top = target.resolve()
    for destination in made:
        real = Path(os.path.realpath(destination))
        if real != top and top not in real.parents:
            destination.unlink()


def _too_large(reference: str) -> RevisionError:
    return RevisionError(
        f"revision {reference!r} holds more than {size_text(REVISION_LIMIT)}; nplint does not extract more"
    )
