"""Two objects run together in one YAML document for want of a ``---``: the slip test folders keep.

Test folders (Chainsaw, kuttl and Kyverno CLI tests, a software project's top-level
``tests/``) are skipped by discovery: they hold inputs broken on purpose. One slip
in them is never deliberate: two objects written one after the other without a
``---`` between them. The document is then one mapping whose top level repeats
``apiVersion:`` and ``kind:``; kubectl refuses it, and a test runner that reads it
with a lenient YAML library keeps the second object and silently drops the first,
so the test no longer tests what it says.

Discovery finds such files with a text scan (:func:`boundaries`), cheap enough for
thousands of test files; the loader then confirms each place (:func:`keep_glued`):
only a duplicate ``apiVersion`` or ``kind`` key of a document's top-level mapping,
at a line the scan found, is kept, and nothing else of the file is linted.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from nplint.loading import LoadedFile, Problem

#: The two keys every object writes once at its top.
GLUE_KEYS = ("apiVersion", "kind")

#: A line at column 0 that ends a document (``---``, ``...``) or writes one of
#: :data:`GLUE_KEYS` as a key of the document's top-level mapping.
_TOP_LINE = re.compile(
    r"^(?:(?P<end>---|\.\.\.)(?=[ \t\r]|$)|[\"']?(?P<key>apiVersion|kind)[\"']?[ \t]*:(?=[ \t\r]|$))",
    re.MULTILINE,
)
#: How the loader words a duplicate key (nplint.loading.composer): the key, quoted by repr.
_DUPLICATE = re.compile(r"not valid YAML: duplicate key '(apiVersion|kind)' \(first at line (\d+)\)")


def boundaries(text: str) -> tuple[int, ...]:
    """The lines (1-based) where a second object starts inside one document of ``text``.

    A document's top level writes ``apiVersion`` and ``kind`` once each; where one of
    them is written again before the next ``---``, a new object began there. Only
    lines at column 0 count, as only they belong to the top-level mapping of a block
    document; the loader confirms each line found (:func:`keep_glued`).
    """
    found: list[int] = []
    seen: set[str] = set()
    line = 1
    position = 0
    for match in _TOP_LINE.finditer(text):
        key = match.group("key")
        if key is None:
            seen = set()
            continue
        if key in seen:
            line += text.count("\n", position, match.start())
            position = match.start()
            found.append(line)
            # The second object has written this key; the other one is still to come.
            seen = {key}
        else:
            seen.add(key)
    return tuple(found)


def glued_key(problem: Problem) -> tuple[str, int] | None:
    """(key, line first written) when ``problem`` is a top-level ``apiVersion``/``kind`` written twice."""
    if problem.span.column != 1:
        return None  # a nested mapping's key: no second object starts there
    match = _DUPLICATE.match(problem.message)
    if match is None:
        return None
    return match.group(1), int(match.group(2))


def headline(key: str, first_line: int) -> tuple[str, str]:
    """NP001's headline and detail at the second ``key`` of a document (first at ``first_line``)."""
    return (
        f"second object in one document (`{key}` again, first at line {first_line}): "
        "a `---` is missing before it",
        "Without the separator the two objects are one mapping whose top-level keys are all written "
        "twice: kubectl rejects the document, and a tool that accepts it (a test runner, a YAML "
        "library that keeps the last value) silently keeps only the second object. Put `---` on a "
        "line of its own where the second object starts.",
    )


def keep_glued(loaded: LoadedFile, lines: Sequence[int]) -> LoadedFile | None:
    """``loaded`` reduced to its glued objects at ``lines`` (:func:`boundaries`); None if none is confirmed.

    The file is a test input nplint otherwise leaves alone: only the slip is kept, as a
    problem of the file without any of its documents, so no other rule sees its objects.
    """
    wanted = set(lines)
    kept = [
        problem
        for document in loaded.documents
        for problem in document.problems
        if problem.span.line in wanted and glued_key(problem) is not None
    ]
    if not kept:
        return None
    kept.sort(key=lambda problem: (problem.span.line, problem.span.column))
    return LoadedFile(loaded.path, [], kept, list(loaded.suppressions), kubernetes=True)
