"""Text from the linted repository, made safe to show.

Every byte of a scanned repository may be hostile: an object name can carry
terminal escape sequences that rewrite what the reader sees, a carriage return
that breaks out of a Markdown table, bidi controls that reorder a line, or a
megabyte of label value. Everything nplint shows from the repository goes
through :func:`escape` (and, where a message quotes it, :func:`shown` or
:func:`quoted`, which also cap its length); the format-specific helpers here
add what Markdown, Mermaid and DOT need on top of that one sanitiser.

The escaped forms are visible and unambiguous: ``\\x1b`` for a C0 control or
DEL, ``\\n``/``\\r``/``\\t`` for those three, ``\\u0085`` for a C1 control,
``\\u202e`` for a bidi or line/paragraph separator, and ``\\xff`` for a byte of
a file name that is not UTF-8 (kept by ``os.fsdecode`` as a lone surrogate).
Backslashes are left alone, so escaping is idempotent: escaped text escaped
again is unchanged.
"""

from __future__ import annotations

import re

__all__ = [
    "MESSAGE_LIMIT",
    "NAME_LIMIT",
    "VALUE_LIMIT",
    "capped",
    "dot_string",
    "escape",
    "markdown_code",
    "markdown_text",
    "mermaid_label",
    "quoted",
    "shown",
]

#: Characters of one repository value quoted in a message (a name, a label value, a key).
VALUE_LIMIT = 64
#: Characters of an object's kind, namespace or name where a report gives it as a field: the
#: longest name Kubernetes accepts (a DNS subdomain); longer ones are invalid anyway.
NAME_LIMIT = 253
#: Characters of a whole message, whatever it quotes: the backstop behind :data:`VALUE_LIMIT`.
MESSAGE_LIMIT = 1000
ELLIPSIS = "…"

# C0 controls, DEL, C1 controls, the line and paragraph separators (JavaScript
# and some terminals take them for line breaks), the bidi embeddings, overrides,
# isolates and marks (Trojan Source, CVE-2021-42574), and lone surrogates.
_BEYOND_C0 = "\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff"
_UNSAFE = re.compile(f"[\x00-\x1f{_BEYOND_C0}]")
_UNSAFE_BUT_NEWLINE = re.compile(f"[\x00-\x09\x0b-\x1f{_BEYOND_C0}]")
_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escaped_char(char: str) -> str:
    short = _SHORT.get(char)
    if short is not None:
        return short
    code = ord(char)
    if code < 0x20 or code == 0x7F:
        return f"\\x{code:02x}"
    if 0xDC80 <= code <= 0xDCFF:
        # os.fsdecode's surrogateescape: the file name's own byte.
        return f"\\x{code - 0xDC00:02x}"
    return f"\\u{code:04x}"


def _replace(match: re.Match[str]) -> str:
    return _escaped_char(match.group())


def escape(text: str, *, keep_newlines: bool = False) -> str:
    """``text`` with every control, bidi and separator character, and lone surrogate, escaped visibly.

    ``keep_newlines`` leaves LF as it is, for multi-line snippets (a suggested
    fix) in formats that encode newlines themselves (JSON, SARIF).
    """
    pattern = _UNSAFE_BUT_NEWLINE if keep_newlines else _UNSAFE
    if pattern.search(text) is None:
        return text
    return pattern.sub(_replace, text)


def capped(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """``text`` cut to ``limit`` characters, ending in an ellipsis when it was longer."""
    if len(text) <= limit:
        return text
    return text[: limit - 1] + ELLIPSIS


def shown(value: object, limit: int = VALUE_LIMIT) -> str:
    """A repository value as a message quotes it: escaped, and cut to ``limit`` characters.

    The cut falls between escapes, never inside one, and is marked with ``…``.
    """
    text = value if isinstance(value, str) else str(value)
    # Escaping only lengthens text, so the first limit + 1 characters decide the outcome.
    head = escape(text[: limit + 1])
    if len(head) <= limit and len(text) <= limit:
        return head
    pieces: list[str] = []
    size = 0
    for char in text[:limit]:
        piece = _escaped_char(char) if _UNSAFE.match(char) else char
        if size + len(piece) > limit - 1:
            break
        pieces.append(piece)
        size += len(piece)
    return "".join(pieces) + ELLIPSIS


def quoted(value: object, limit: int = VALUE_LIMIT) -> str:
    """:func:`shown` in quotes, as ``repr`` quotes a string (double quotes when it holds a single one)."""
    text = shown(value, limit)
    if "'" in text and '"' not in text:
        return f'"{text}"'
    return "'" + text.replace("'", "\\'") + "'"


# Markdown: a backslash before the characters that start inline syntax (emphasis,
# links and images, code spans, table cells), entities for HTML.
_MARKDOWN_SPECIAL = re.compile(r"[\\`*_\[\]|<>&]")
_MARKDOWN_ENTITIES = {"<": "&lt;", ">": "&gt;", "&": "&amp;"}


def markdown_text(text: str) -> str:
    """Repository text for Markdown prose or a table cell: one line, no markup, no HTML."""
    return _MARKDOWN_SPECIAL.sub(
        lambda m: _MARKDOWN_ENTITIES.get(m.group()) or "\\" + m.group(), escape(text)
    )


_BACKTICKS = re.compile("`+")


def markdown_code(text: str) -> str:
    """Repository text as a Markdown code span, safe in a table cell.

    Inside a code span nothing is markup and backslashes are literal, so the
    span's fence is made longer than any run of backticks in the text (and
    padded when the text starts or ends with one), which the text then cannot
    close. A ``|`` is written ``\\|``: GitHub splits table cells before it
    parses code spans, and takes ``\\|`` for a pipe inside one.
    """
    body = escape(text).replace("|", "\\|")
    longest = max((len(run) for run in _BACKTICKS.findall(body)), default=0)
    fence = "`" * (longest + 1)
    if body.startswith("`") or body.endswith("`") or not body.strip():
        body = f" {body} "
    return f"{fence}{body}{fence}"


# Mermaid: inside a double-quoted label, entity codes for the characters its
# parser treats specially (the quote, HTML and entities, markdown strings, edge-label bars).
_MERMAID_UNSAFE = re.compile(r'["\\<>`#|&]')


def mermaid_label(text: str) -> str:
    """Repository text safe inside a Mermaid double-quoted label (and a Markdown ```mermaid fence)."""
    return _MERMAID_UNSAFE.sub(lambda m: f"#{ord(m.group())};", escape(text))


def dot_string(text: str) -> str:
    """Repository text as a Graphviz double-quoted string (escaped, so it is one line)."""
    return '"' + escape(text).replace("\\", "\\\\").replace('"', '\\"') + '"'
