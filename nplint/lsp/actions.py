"""Code actions: the fixes of ``--fix`` as workspace edits, and the suppression comments."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from lsprotocol import types

from nplint.findings import Finding, Fix
from nplint.fixing.writer import fixed_bytes
from nplint.lsp import text
from nplint.reading import read_bounded

if TYPE_CHECKING:
    from nplint.lsp.server import NplintServer


def code_actions(server: NplintServer, uri: str, wanted: types.Range) -> list[types.CodeAction]:
    display = server.display_of(uri)
    result = server.snapshot.result
    if display is None or result is None:
        return []
    lines = server.lines_of(uri)
    from nplint.lsp.server import diagnostic, to_range

    found = [
        f
        for f in server.snapshot.findings.get(display, [])
        if text.shares_a_line(to_range(f.span, lines), wanted)
    ]
    readable = [loaded.path for loaded in result.files]
    actions: list[types.CodeAction] = []
    for finding in found:
        shown = diagnostic(finding, lines)
        for fix in finding.fixes:
            edit = fix_edit(server, fix, readable)
            if edit is None:
                continue
            title = f"Fix {finding.rule_id}: {fix.description}" + ("" if fix.safe else " (unsafe)")
            actions.append(
                types.CodeAction(
                    title=title,
                    kind=types.CodeActionKind.QuickFix,
                    diagnostics=[shown],
                    edit=edit,
                    is_preferred=fix.safe,
                )
            )
    if display.lower().endswith(".json"):
        return actions  # JSON holds no comments: nothing to suppress a finding with
    for rule_id in sorted({f.rule_id for f in found}):
        first = min((f for f in found if f.rule_id == rule_id), key=Finding.sort_key)
        shown = diagnostic(first, lines)
        line = first.span.line - 1
        content = lines[line] if line < len(lines) else ""
        indent = content[: len(content) - len(content.lstrip(" \t"))]
        newline = "\r\n" if content.endswith("\r\n") else "\n"
        actions.append(
            _comment(
                uri,
                f"Disable {rule_id} on this line",
                line,
                f"{indent}# nplint: disable={rule_id}{newline}",
                shown,
            )
        )
        actions.append(
            _comment(
                uri, f"Disable {rule_id} in this file", 0, f"# nplint: disable-file={rule_id}{newline}", shown
            )
        )
    return actions


def fix_edit(server: NplintServer, fix: Fix, readable: Sequence[str]) -> types.WorkspaceEdit | None:
    """The workspace edit of ``fix``, from the writer's new bytes of its file (the buffer, if open)."""
    if server.root is None:
        return None
    root = Path(server.root)
    target = root / fix.path
    uri = target.as_uri()
    document = server.workspace.text_documents.get(uri)
    if document is not None:
        before = document.source.encode("utf-8", "surrogateescape")
    else:
        try:
            before = read_bounded(target)
        except OSError:
            return None
    after, _notes = fixed_bytes(root, fix.path, before, [fix], readable)
    if after is None:
        return None
    return types.WorkspaceEdit(
        changes={uri: [line_edit(before.decode("utf-8", "replace"), after.decode("utf-8", "replace"))]}
    )


def line_edit(before: str, after: str) -> types.TextEdit:
    """One edit that replaces the lines that differ between ``before`` and ``after``."""
    old = before.splitlines(keepends=True)
    new = after.splitlines(keepends=True)
    head = 0
    while head < len(old) and head < len(new) and old[head] == new[head]:
        head += 1
    tail = 0
    while tail < len(old) - head and tail < len(new) - head and old[-1 - tail] == new[-1 - tail]:
        tail += 1
    replaced = "".join(new[head : len(new) - tail])
    end_line = len(old) - tail
    if end_line == len(old) and old and not old[-1].endswith(("\n", "\r")):
        # The last line has no line end: the range ends at its last character.
        end = types.Position(len(old) - 1, text.utf16_length(old[-1]))
    else:
        end = types.Position(end_line, 0)
    return types.TextEdit(range=types.Range(types.Position(head, 0), end), new_text=replaced)


def _comment(uri: str, title: str, line: int, comment: str, shown: types.Diagnostic) -> types.CodeAction:
    insert = types.Range(types.Position(line, 0), types.Position(line, 0))
    return types.CodeAction(
        title=title,
        kind=types.CodeActionKind.QuickFix,
        diagnostics=[shown],
        edit=types.WorkspaceEdit(changes={uri: [types.TextEdit(range=insert, new_text=comment)]}),
    )
