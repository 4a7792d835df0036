"""Read the namespace labels a repository sets by command: ``kubectl label namespace X k=v``.

Many repositories label namespaces outside their manifests: a setup script, a
Makefile target, or a README that tells the administrator what to run
(``oc label namespace default name=default``). Such a command is evidence that a
namespace carries the label on the cluster, which NP207 and the label reasoning of
other rules accept (rules/NP207.md, "Known problems").

The scan is exact and bounded. Only ``kubectl``/``oc`` ``label`` commands whose
object is a namespace count (``ns``, ``namespace``, ``namespaces``, ``ns/NAME``,
``namespace/NAME``); ``key=value`` pairs are read, removals (``key-``) and flags are
not evidence of anything, and a command that does not touch the cluster
(``--dry-run``, ``--local``, ``--list``, ``-f FILE``) is ignored. Which files are read
is decided by discovery (:func:`is_label_source`, :func:`label_source_allowed`);
this module reads at most :data:`MAX_SOURCES` of them, each of at most
:data:`MAX_SOURCE_BYTES`, through :mod:`nplint.reading`.

Every byte is hostile: nothing read here is run, opened, or imported. A namespace
name, label key or value is kept only when it is valid for Kubernetes; anything else
is a placeholder (an unknown namespace or value) or dropped.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from nplint.reading import read_bounded

if TYPE_CHECKING:
    from nplint.model.namespace_labels import LabelCommand, NamespaceLabelCommands

#: At most this many files are read, the shallowest first.
MAX_SOURCES = 2000
#: A larger file is not read: no script or README is this long.
MAX_SOURCE_BYTES = 1024 * 1024
#: Bytes read over all files, at most.
MAX_TOTAL_BYTES = 16 * 1024 * 1024
#: Commands kept per file, and a logical line (continuations joined) at most this long.
MAX_COMMANDS_PER_FILE = 1000
MAX_LINE_CHARS = 16 * 1024
#: Programs parsed per logical line, and words read per command: a line that names
#: ``kubectl`` a thousand times costs no more than a few readings of it.
MAX_PROGRAMS_PER_LINE = 8
MAX_WORDS = 256

_SCRIPT_SUFFIXES = (".sh", ".bash", ".mk", ".md", ".markdown")
_MAKEFILES = frozenset(("Makefile", "makefile", "GNUmakefile"))
#: Folders whose files say nothing about the clusters this repository deploys to:
#: other projects' code, and tests (which label the namespaces they create for themselves).
_NOT_SOURCE_FOLDERS = frozenset(
    ("vendor", "node_modules", "third_party", "third-party", "testdata", "test", "tests", "e2e", "e2e-tests")
)


def is_label_source(name: str) -> bool:
    """Whether a file of this name may carry label commands: a shell script, a Makefile, Markdown."""
    return name in _MAKEFILES or name.lower().endswith(_SCRIPT_SUFFIXES)


def label_source_allowed(relative: str) -> bool:
    """Whether a file at ``relative`` (POSIX, below the walked directory) is read for label commands.

    Not in a vendored tree, a test folder or a dot-directory (CI configuration,
    editor settings): those label namespaces of their own clusters, if any.
    """
    folders = relative.split("/")[:-1]
    return not any(part in _NOT_SOURCE_FOLDERS or part.startswith(".") for part in folders)


def read_label_commands(sources: Sequence[tuple[Path, str]]) -> NamespaceLabelCommands:
    """The namespace label commands of ``sources`` (real path, display path).

    The shallowest files are read first (a repository's own scripts and README
    before those deep in a tree), up to the bounds of this module. A file that
    cannot be read, is too large or holds binary data is passed over.
    """
    # Imported here: discovery imports this module, and the model imports the configuration,
    # which imports discovery.
    from nplint.model.namespace_labels import NamespaceLabelCommands

    ordered = sorted(sources, key=lambda s: (s[1].count("/"), s[1].encode("utf-8", "surrogateescape")))
    found: list[LabelCommand] = []
    total = 0
    for path, display in ordered[:MAX_SOURCES]:
        if total >= MAX_TOTAL_BYTES:
            break
        try:
            data = read_bounded(path, min(MAX_SOURCE_BYTES, MAX_TOTAL_BYTES - total))
        except OSError:
            continue
        total += len(data)
        # Cheap tests first: most files never mention labelling, and binary data is no text.
        if b"label" not in data or b"\0" in data:
            continue
        text = data.decode("utf-8", "replace")
        found.extend(scan_text(text, display))
    return NamespaceLabelCommands.of(found)


# -- the scan ----------------------------------------------------------------------------

#: The program of a command: ``kubectl`` or ``oc`` (by path too: ``./bin/kubectl``), or the
#: variables Makefiles and scripts keep it in (``$(KUBECTL)``, ``${OC}``). Where it begins is
#: checked by :func:`_program_start`, not by a pattern, so that no line costs more than linear time.
_PROGRAM = re.compile(
    r"(?<![\w-])(?:kubectl|oc)(?=[ \t])|\$(?:\((?:KUBECTL|OC)\)|\{(?:KUBECTL|OC)\}|(?:KUBECTL|OC)\b)(?=[ \t])"
)
#: Characters of a path before the program's name, and those that may come before a command.
_PATH_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.${}()/-")
_COMMAND_BOUNDARY = frozenset(" \t;&|(`\"'@+")
_NAMESPACE_TYPES = frozenset(("ns", "namespace", "namespaces"))
#: Flags of kubectl (global, and of ``label``) that take the next word as their value.
_VALUE_FLAGS = frozenset(
    (
        "-n",
        "--namespace",
        "--context",
        "--kubeconfig",
        "--cluster",
        "--user",
        "-s",
        "--server",
        "--token",
        "--as",
        "--as-group",
        "--as-uid",
        "--request-timeout",
        "--certificate-authority",
        "--client-certificate",
        "--client-key",
        "--tls-server-name",
        "--cache-dir",
        "-v",
        "-o",
        "--output",
        "--resource-version",
        "--field-selector",
        "--field-manager",
        "--template",
        "--show-managed-fields",
    )
)
#: Flags after which the command changes nothing on the cluster, or labels objects
#: of files whose kind the command line does not show.
_NOT_APPLIED = (
    "--dry-run",
    "--local",
    "--list",
    "-f",
    "--filename",
    "-k",
    "--kustomize",
    "-R",
    "--recursive",
)
_SELECTORS = ("-l", "--selector")
_ALL = frozenset(("--all", "-A", "--all-namespaces"))

_DNS_LABEL = re.compile(r"[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?\Z")
_KEY_NAME = re.compile(r"[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?\Z")
_KEY_PREFIX = re.compile(r"[a-z0-9](?:[-a-z0-9.]{0,251}[a-z0-9])?\Z")
_VALUE = re.compile(r"(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?\Z")
#: What marks a word as a placeholder rather than a literal: shell expansions and the
#: ``<name>``/``{{ name }}`` of documentation and templates.
_PLACEHOLDER = re.compile(r"[$<>{}%]")


def scan_text(text: str, display: str) -> Iterator[LabelCommand]:
    """The namespace label commands written in ``text``, a file shown as ``display``."""
    from nplint.model.namespace_labels import LabelCommand  # see read_label_commands

    kept = 0
    for logical, starts, first in _logical_lines(text):
        if "label" not in logical or logical.lstrip().startswith("#"):
            continue  # a comment is not a command
        for tried, match in enumerate(_PROGRAM.finditer(logical)):
            begin = _program_start(logical, match.start())
            if tried >= MAX_PROGRAMS_PER_LINE:
                break
            if begin is None:
                continue
            command = _parse(_words(logical, match.end()))
            if command is None:
                continue
            namespaces, labels = command
            index = bisect.bisect_right(starts, begin) - 1
            line = first + index
            column = begin - starts[index] + 1
            yield LabelCommand(display, line, column, namespaces, labels)
            kept += 1
            if kept >= MAX_COMMANDS_PER_FILE:
                return


def _program_start(line: str, name: int) -> int | None:
    """Where the program whose name begins at ``name`` begins (its path first), or None when
    it is no command: a word that merely ends in ``kubectl``, or one not at a command's start."""
    begin = name
    if line[name] != "$":
        while begin > 0 and line[begin - 1] in _PATH_CHARS:
            begin -= 1
        if begin < name and line[name - 1] != "/":
            return None  # `mykubectl`, `.oc`
    return begin if begin == 0 or line[begin - 1] in _COMMAND_BOUNDARY else None


def _logical_lines(text: str) -> Iterator[tuple[str, list[int], int]]:
    """Lines with their continuations (a trailing backslash) joined: the text, the offset of
    each physical line in it, and the number of the first."""
    lines = text.split("\n")
    number = 0
    while number < len(lines):
        first = number + 1
        pieces: list[str] = []
        starts: list[int] = []
        size = 0
        while True:
            piece = lines[number].rstrip("\r")
            number += 1
            starts.append(size)
            continued = piece.endswith("\\") and number < len(lines) and size + len(piece) < MAX_LINE_CHARS
            if continued:
                piece = piece[:-1] + " "
            pieces.append(piece)
            size += len(piece)
            if not continued:
                break
        yield "".join(pieces)[:MAX_LINE_CHARS], starts, first


def _words(line: str, start: int) -> list[str]:
    """The words of the shell command beginning at ``start``, quotes removed, up to its end.

    The command ends at an operator (``;``, ``&``, ``|``), a backtick (Markdown's code
    span, or a command substitution), an unbalanced ``)``, or a comment. ``$(…)`` and
    ``${…}`` stay inside their word.
    """
    words: list[str] = []
    current: list[str] = []
    in_word = False
    quote = ""
    depth = 0
    index = start
    while index < len(line):
        char = line[index]
        index += 1
        if quote:
            if char == quote:
                quote = ""
            elif char == "\\" and quote == '"' and index < len(line):
                current.append(line[index])
                index += 1
            else:
                current.append(char)
            continue
        if char in "'\"":
            quote, in_word = char, True
            continue
        if char == "\\" and index < len(line):
            current.append(line[index])
            index += 1
            in_word = True
            continue
        if char == "$" and index < len(line) and line[index] in "({":
            depth += 1
            current.append(char + line[index])
            index += 1
            in_word = True
            continue
        if depth and char in ")}":
            depth -= 1
            current.append(char)
            continue
        if char in ";&|`)" or (char == "#" and not in_word):
            break
        if char in " \t":
            if in_word:
                words.append("".join(current))
                current, in_word = [], False
                if len(words) >= MAX_WORDS:
                    return words
            continue
        current.append(char)
        in_word = True
    if in_word and not quote:
        words.append("".join(current))
    return words


def _parse(words: list[str]) -> tuple[tuple[str, ...], tuple[tuple[str, str | None], ...]] | None:
    """The namespaces (empty: not known) and labels of a ``label`` command on namespaces, else None."""
    index = 0
    while index < len(words) and words[index].startswith("-"):
        index += 2 if words[index] in _VALUE_FLAGS else 1
    if index >= len(words) or words[index] != "label":
        return None
    kind: str | None = None
    names: list[str] = []
    unknown = False
    labels: list[tuple[str, str | None]] = []
    rest = iter(words[index + 1 :])
    for word in rest:
        if word.startswith("-") and len(word) > 1:
            flag, _, value = word.partition("=")
            if flag in _NOT_APPLIED and not (flag == "--dry-run" and value == "none"):
                return None
            if flag in _SELECTORS or flag in _ALL:
                unknown = True
            if (flag in _SELECTORS or flag in _VALUE_FLAGS) and not value:
                next(rest, None)
            continue
        if "=" in word:
            pair = _label(word)
            if pair is not None:
                labels.append(pair)
        elif word.endswith("-"):
            continue  # a removal: no evidence of a label, nor against one
        elif "/" in word:
            typed, _, name = word.partition("/")
            if typed.lower() not in _NAMESPACE_TYPES:
                return None
            kind = "namespace"
            names.append(name)
        elif kind is None:
            if word.lower() not in _NAMESPACE_TYPES:
                return None
            kind = "namespace"
        else:
            names.append(word)
    if kind is None or not labels or not (names or unknown):
        return None
    # A name that is no valid namespace name is a placeholder or a variable (``$NS``,
    # ``<namespace>``): some namespace, not known which.
    return tuple(sorted({n for n in names if _DNS_LABEL.match(n)})), tuple(labels)


def _label(word: str) -> tuple[str, str | None] | None:
    """A ``key=value`` word as a label (the value None when it is a placeholder), or None if invalid."""
    key, _, value = word.partition("=")
    if not _valid_key(key):
        return None
    if _VALUE.match(value):
        return key, value
    if _PLACEHOLDER.search(value):
        return key, None
    return None


def _valid_key(key: str) -> bool:
    prefix, slash, name = key.rpartition("/")
    if slash and not _KEY_PREFIX.match(prefix):
        return False
    return bool(_KEY_NAME.match(name))
