"""git's ignore rules: .gitignore files, .git/info/exclude, and the configuration's ``exclude``.

Patterns are compiled to regular expressions once per file and matched the way
``git check-ignore`` does (anchoring, directory-only patterns, negation,
``**``, bracket classes, escapes, trailing spaces).
"""

from __future__ import annotations

import os
import re
import string
from collections.abc import Iterable, Sequence
from types import MappingProxyType

from nplint.reading import read_bounded
from nplint.records import record

_POSIX_CLASSES = MappingProxyType(
    {
        "alnum": "a-zA-Z0-9",
        "alpha": "a-zA-Z",
        "blank": " \\t",
        "cntrl": "\\x00-\\x1f\\x7f",
        "digit": "0-9",
        "graph": "\\x21-\\x7e",
        "lower": "a-z",
        "print": "\\x20-\\x7e",
        "punct": "".join(re.escape(c) for c in string.punctuation),
        "space": " \\t\\n\\r\\f\\v",
        "upper": "A-Z",
        "xdigit": "0-9a-fA-F",
    }
)


def _translate_bracket(glob: str, start: int) -> tuple[str, int] | None:
    """The regex for the ``[...]`` at ``start`` and the index after it, as git's wildmatch reads it.

    None when git would abort the whole pattern (an unclosed bracket, an
    unknown ``[:class:]``): such a pattern matches nothing.
    """
    i = start + 1
    negated = i < len(glob) and glob[i] in "!^"
    if negated:
        i += 1
    items: list[str] = []
    previous: str | None = None  # the last single character, which may open a range
    first = True
    while True:
        if i >= len(glob):
            return None
        char = glob[i]
        # A "]" right after the opening (or its negation) is a literal, as in git.
        if char == "]" and not first:
            break
        first = False
        if char == "\\":
            if i + 1 >= len(glob):
                return None
            previous = glob[i + 1]
            items.append(re.escape(previous))
            i += 2
        elif char == "-" and previous is not None and i + 1 < len(glob) and glob[i + 1] != "]":
            high_at = i + 2 if glob[i + 1] == "\\" else i + 1
            if high_at >= len(glob):
                return None
            high = glob[high_at]
            # The range's start already stands as a single character, as in git,
            # so a reversed range ("z-a") still matches its start.
            if previous < high:
                items[-1] = f"{re.escape(previous)}-{re.escape(high)}"
            previous = None
            i = high_at + 1
        elif char == "[" and glob.startswith(":", i + 1):
            end = glob.find("]", i + 2)
            if end < 0:
                return None
            name = glob[i + 2 : end - 1] if end - 1 >= i + 2 and glob[end - 1] == ":" else None
            if name is None:  # no ":]", so the "[" is an ordinary character
                previous = "["
                items.append(re.escape("["))
                i += 1
                continue
            if name not in _POSIX_CLASSES:
                return None
            items.append(_POSIX_CLASSES[name])
            previous = None
            i = end + 1
        else:
            previous = char
            items.append(re.escape(char))
            i += 1
    body = "".join(items)
    # Brackets never match "/" (git matches with WM_PATHNAME).
    if negated:
        return f"[^{body}/]", i + 1
    return (f"(?!/)[{body}]" if body else "(?!)"), i + 1


# The kinds of a glob's tokens. Each token carries the regex it stands for, so the
# regex path and the wildmatch path read one tokenisation and cannot disagree.
_LITERAL = 0  # one given character
_ONE = 1  # one character but "/" that a class accepts ("?", a bracket)
_STAR = 2  # "*": any run of characters but "/"
_DIRS = 3  # "**/" (and the implicit prefix of a pattern without "/"): zero or more directories
_ALL = 4  # a trailing "/**": everything


@record(frozen=True, slots=True)
class _Token:
    kind: int
    regex: str
    #: The character of a literal.
    char: str = ""
    #: The single-character regex of "?" or a bracket.
    accepts: re.Pattern[str] | None = None


_ANY_BUT_SLASH = "[^/]"
_DIRS_TOKEN = _Token(_DIRS, "(?:.*/)?")


def _tokenize(glob: str) -> list[_Token] | None:
    """A gitignore glob (no "!", no leading or trailing "/") as tokens; None if it matches nothing."""
    out: list[_Token] = []
    i = 0
    while i < len(glob):
        char = glob[i]
        if char == "*":
            end = i
            while end < len(glob) and glob[end] == "*":
                end += 1
            # "**" is special only as a whole path component; elsewhere it is a plain "*".
            whole = (i == 0 or glob[i - 1] == "/") and (end == len(glob) or glob[end] == "/")
            if end - i >= 2 and whole and end < len(glob):
                out.append(_DIRS_TOKEN)  # "**/": zero or more directories
                end += 1
            elif end - i >= 2 and whole:
                out.append(_Token(_ALL, ".*"))  # trailing "/**": everything inside
            else:
                out.append(_Token(_STAR, "[^/]*"))
            i = end
        elif char == "?":
            out.append(_Token(_ONE, _ANY_BUT_SLASH, accepts=re.compile(_ANY_BUT_SLASH)))
            i += 1
        elif char == "[":
            translated = _translate_bracket(glob, i)
            if translated is None:
                return None
            regex, i = translated
            out.append(_Token(_ONE, regex, accepts=re.compile(regex)))
        elif char == "\\":
            if i + 1 >= len(glob):
                return None  # a lone trailing backslash: git matches nothing
            out.append(_Token(_LITERAL, re.escape(glob[i + 1]), glob[i + 1]))
            i += 2
        else:
            out.append(_Token(_LITERAL, re.escape(char), char))
            i += 1
    return out


def _translate_glob(glob: str) -> str | None:
    """A gitignore glob (no "!", no leading or trailing "/") as a regex; None if it matches nothing."""
    tokens = _tokenize(glob)
    return None if tokens is None else "".join(token.regex for token in tokens)


class Wildmatch:
    """A glob matched by walking all its possible positions at once: linear in the path's length.

    A regex with several unbounded repeats (``*a*a*a*b``, or ``**/`` twice)
    backtracks exponentially on a path that almost matches; a hostile
    ``.gitignore`` and one long file name would then stop the walk for good.
    This matcher keeps the set of token positions the path read so far can
    have reached (a Thompson simulation), so each character costs at most
    one step per token, whatever the pattern.
    """

    __slots__ = ("_kinds", "_needles", "_suffix", "_tokens")

    def __init__(self, tokens: Sequence[_Token]) -> None:
        self._tokens = tuple(tokens)
        self._kinds = tuple(token.kind for token in tokens)
        # The literal characters the pattern ends with: a cheap first test, which
        # rejects nearly every path for patterns such as "**/*.log".
        suffix: list[str] = []
        for token in reversed(self._tokens):
            if token.kind != _LITERAL:
                break
            suffix.append(token.char)
        self._suffix = "".join(reversed(suffix))
        # Every run of literal characters appears in a matching path as written.
        needles: list[str] = []
        run: list[str] = []
        for part in (*self._tokens, None):
            if part is not None and part.kind == _LITERAL:
                run.append(part.char)
            elif run:
                needles.append("".join(run))
                run = []
        self._needles = tuple(needles)

    def _closure(self, states: Iterable[int]) -> set[int]:
        """``states`` and every position reachable from them without reading a character."""
        kinds = self._kinds
        found: set[int] = set()
        pending = list(states)
        while pending:
            state = pending.pop()
            if state in found:
                continue
            found.add(state)
            if 0 <= state < len(kinds) and kinds[state] in (_STAR, _DIRS, _ALL):
                # Each may match nothing; "**/" then skips its "/" as well.
                pending.append(state + 1)
        return found

    def fullmatch(self, path: str) -> bool:
        if not path.endswith(self._suffix) or not all(needle in path for needle in self._needles):
            return False
        tokens = self._tokens
        end = len(tokens)
        # A state is the index of the next token to match; ``~index`` is inside the
        # "**/" at ``index`` after reading some of its text: it may end only at a "/".
        current = self._closure((0,))
        for char in path:
            reached: list[int] = []
            for state in current:
                if state < 0:  # inside a "**/"
                    reached.append(state)
                    if char == "/":
                        reached.append(~state + 1)
                    continue
                if state == end:
                    continue
                token = tokens[state]
                kind = token.kind
                if kind == _LITERAL:
                    if char == token.char:
                        reached.append(state + 1)
                elif kind == _ONE:
                    assert token.accepts is not None
                    if token.accepts.fullmatch(char):
                        reached.append(state + 1)
                elif kind == _STAR:
                    if char != "/":
                        reached.append(state)
                elif kind == _ALL:
                    reached.append(state)
                else:  # _DIRS: any text, "/" included, then a "/"
                    reached.append(~state)
                    if char == "/":
                        reached.append(state + 1)
            if not reached:
                return False
            current = self._closure(reached)
        return end in current


def _trim_trailing_spaces(line: str) -> str:
    """Drop trailing spaces unless backslash-escaped (git's trim_trailing_spaces)."""
    end = len(line)
    while end > 0 and line[end - 1] == " ":
        backslashes = 0
        while end - 1 - backslashes > 0 and line[end - 2 - backslashes] == "\\":
            backslashes += 1
        if backslashes % 2:
            break
        end -= 1
    return line[:end]


@record(frozen=True, slots=True)
class _Pattern:
    #: The regex of a pattern that cannot backtrack much, else None.
    regex: str | None
    #: The matcher of a pattern whose regex could backtrack exponentially, else None.
    wildmatch: Wildmatch | None
    negated: bool
    directory_only: bool


def _may_backtrack(tokens: Sequence[_Token], anchored: bool) -> bool:
    """Whether the regex of these tokens could backtrack more than polynomially on a path.

    A "*" cannot cross a "/", so runs of "*" in different components cannot
    trade characters: only two runs in one component (``*a*b``) can split a name
    in many ways, and each more multiplies those ways. Likewise each ``**/``
    (and the implicit one before a pattern without "/") may end at any "/" of
    the path, so two of them multiply. A trailing ``/**`` takes whatever is
    left and never makes the regex go back.
    """
    directories = 0 if anchored else 1
    stars = 0
    for token in tokens:
        if token.kind == _DIRS:
            directories += 1
            stars = 0
        elif token.kind == _LITERAL and token.char == "/":
            stars = 0
        elif token.kind == _STAR:
            stars += 1
            if stars >= 2:
                return True
    return directories >= 2


def _parse_pattern(line: str) -> _Pattern | None:
    """One line of a gitignore file, or None for blanks, comments and patterns that match nothing."""
    if line.endswith("\r"):
        line = line[:-1]
    if not line or line.startswith("#"):
        return None
    line = _trim_trailing_spaces(line)
    negated = line.startswith("!")
    if negated:
        line = line[1:]
    directory_only = line.endswith("/")
    if directory_only:
        line = line[:-1]
    # A slash left anywhere anchors the pattern to the gitignore's directory;
    # without one it matches a name at any depth.
    anchored = "/" in line
    line = line.removeprefix("/")
    if not line:
        return None
    tokens = _tokenize(line)
    if tokens is None:
        return None
    # Regexes are the fast path for ordinary patterns; the few that could
    # backtrack without bound go to the wildmatch.
    if _may_backtrack(tokens, anchored):
        wildmatch = Wildmatch(tokens if anchored else [_DIRS_TOKEN, *tokens])
        return _Pattern(None, wildmatch, negated, directory_only)
    regex = "".join(token.regex for token in tokens)
    return _Pattern(regex if anchored else f"(?:.*/)?{regex}", None, negated, directory_only)


def _union(regexes: Sequence[str | None]) -> re.Pattern[str] | None:
    present = [regex for regex in regexes if regex is not None]
    if not present:
        return None
    return re.compile("|".join(f"(?:{regex})" for regex in present), re.DOTALL)


@record(frozen=True, slots=True)
class _Run:
    """Consecutive patterns of one polarity, merged so each path costs one match per run."""

    negated: bool
    #: All the run's regex patterns, for directories.
    directories: re.Pattern[str] | None
    #: The run's regex patterns that are not directory-only, for files.
    files: re.Pattern[str] | None
    #: The run's patterns that need the wildmatch, for directories and for files.
    directory_wildmatches: tuple[Wildmatch, ...] = ()
    file_wildmatches: tuple[Wildmatch, ...] = ()

    def matches(self, local: str, is_dir: bool) -> bool:
        regex = self.directories if is_dir else self.files
        if regex is not None and regex.fullmatch(local):
            return True
        wildmatches = self.directory_wildmatches if is_dir else self.file_wildmatches
        return any(wildmatch.fullmatch(local) for wildmatch in wildmatches)


@record(frozen=True, slots=True)
class IgnoreFile:
    """The compiled patterns of one ignore file, and where it sits."""

    #: The directory of the file relative to the walk's base: "" or "a/b/".
    base: str
    #: Last run first: the last matching pattern decides, as in git.
    runs: tuple[_Run, ...]

    @classmethod
    def parse(cls, lines: Iterable[str], base: str) -> IgnoreFile:
        runs: list[_Run] = []
        group: list[_Pattern] = []
        for pattern in filter(None, map(_parse_pattern, lines)):
            if group and group[-1].negated != pattern.negated:
                runs.append(_make_run(group))
                group = []
            group.append(pattern)
        if group:
            runs.append(_make_run(group))
        return cls(base, tuple(reversed(runs)))

    def decide(self, relative: str, is_dir: bool) -> bool | None:
        """True if ignored, False if re-included by "!", None if no pattern here matches."""
        local = relative[len(self.base) :]
        for run in self.runs:
            if run.matches(local, is_dir):
                return not run.negated
        return None


def _make_run(group: Sequence[_Pattern]) -> _Run:
    return _Run(
        group[0].negated,
        _union([p.regex for p in group]),
        _union([p.regex for p in group if not p.directory_only]),
        tuple(p.wildmatch for p in group if p.wildmatch is not None),
        tuple(p.wildmatch for p in group if p.wildmatch is not None and not p.directory_only),
    )


def is_ignored(stack: Sequence[IgnoreFile], relative: str, is_dir: bool) -> bool:
    """Whether git would ignore the path; ``stack`` holds the deepest ignore file first."""
    for ignore_file in stack:
        verdict = ignore_file.decide(relative, is_dir)
        if verdict is not None:
            return verdict
    return False


def read_text(path: str) -> str | None:
    """The text of an ignore file, or None when it cannot be read (or is over the size cap).

    git too passes over an ignore file it will not read (one over 100 MB);
    nplint's cap is the one of every file it reads.
    """
    try:
        data = read_bounded(path)
    except OSError:
        return None
    # surrogateescape, like os.fsdecode, so non-UTF-8 names still match byte for byte.
    return data.decode("utf-8", "surrogateescape").removeprefix("\ufeff")


def git_info_exclude(root: str) -> str | None:
    """Where ``info/exclude`` lives for a repository whose work tree is ``root``."""
    dot_git = os.path.join(root, ".git")
    if os.path.isdir(dot_git):
        return os.path.join(dot_git, "info", "exclude")
    # A worktree or submodule: ".git" is a file naming the real git directory.
    text = read_text(dot_git)
    if text is None or not text.startswith("gitdir:"):
        return None
    git_dir = os.path.join(root, text.splitlines()[0].removeprefix("gitdir:").strip())
    common = read_text(os.path.join(git_dir, "commondir"))
    if common and common.strip():
        git_dir = os.path.join(git_dir, common.strip())
    return os.path.join(git_dir, "info", "exclude")
