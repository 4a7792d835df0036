"""The language server: nplint's findings, explanations and fixes in the editor.

One lint of the whole workspace, as ``nplint check ROOT`` runs it (configuration,
suppression comments, worlds, rendering by the same ``--render`` setting), with
the editor's unsaved buffers standing in for the disk (:func:`nplint.lint.lint`'s
``overlay``). A change is debounced, the lint runs in a worker thread so no
request waits for it (nor for a render), and when it ends every open document's
diagnostics are published again: a default-deny added in one file clears NP101
on another. Hover, code actions and the like answer from the last lint.

Everything the workspace holds is as hostile as any repository's bytes: it is
read through the pipeline's bounded readers, nothing of it is imported or run
but through :mod:`nplint.render`, and messages travel as JSON-RPC data.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import sys
import traceback
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from nplint import __version__
from nplint.commands.common import Session, config_for
from nplint.config import Config
from nplint.findings import Finding, Level, Span
from nplint.lsp import text
from nplint.pages import help_uri
from nplint.records import record

if TYPE_CHECKING:
    from nplint.engine.engine import Engine
    from nplint.lint import LintResult
    from nplint.model import Inventory

#: How long a burst of changes must pause before the server lints it (see :meth:`NplintServer.schedule`).
DEBOUNCE_SECONDS = 0.15

#: The files whose buffers the server lints: what discovery takes for manifests.
_SUFFIXES = (".yaml", ".yml", ".json")

#: A line for ``window/logMessage`` and its kind.
Message = tuple[str, types.MessageType]

_SEVERITY = {
    Level.ERROR: types.DiagnosticSeverity.Error,
    Level.WARNING: types.DiagnosticSeverity.Warning,
    Level.NOTE: types.DiagnosticSeverity.Information,
}


@record(slots=True)
class Snapshot:
    """What one lint found: the findings by display path, and the result for hovers."""

    findings: dict[str, list[Finding]] = field(default_factory=dict)
    result: LintResult | None = None
    #: The buffers the lint read, by display path: fixes are computed against these bytes.
    buffers: dict[str, bytes] = field(default_factory=dict)
    _engine: Engine | None = None

    def engine(self, inventory: Inventory, config: Config) -> Engine:
        """The connectivity engine of this lint's inventory, built on first use."""
        if self._engine is None:
            from nplint.commands.common import build_engine

            self._engine = build_engine(inventory, config)
        return self._engine


class NplintServer(LanguageServer):
    """pygls' server, with nplint's state: the workspace's configuration and the last lint."""

    def __init__(self, args: argparse.Namespace, session: Session) -> None:
        super().__init__("nplint", __version__, text_document_sync_kind=types.TextDocumentSyncKind.Full)
        self.args = args
        self.session = session
        self.root: Path | None = None
        self.config: Config | None = None
        self.snapshot = Snapshot()
        # One lint at a time, in one worker thread: the pipeline is not made to run twice at once.
        self.linter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nplint-lint")
        self.pending: asyncio.TimerHandle | None = None
        #: The lint under way (a reference, so the loop does not drop the task).
        self.task: asyncio.Task[None] | None = None
        self.collecting: asyncio.Future[int] | None = None
        #: When the last change came (the event loop's clock).
        self.last_change = float("-inf")
        self.running = False
        self.again = False

    def report_server_error(self, error: Exception, source: Any) -> None:
        """Any error pygls catches (a malformed message, a handler's bug) is logged, and serving goes on."""
        self.log(f"internal error: {type(error).__name__}: {error}", types.MessageType.Error)

    def log(self, message: str, kind: types.MessageType = types.MessageType.Info) -> None:
        try:
            self.window_log_message(types.LogMessageParams(type=kind, message=message))
        except Exception:  # the connection is gone: nobody to tell
            logging.getLogger(__name__).warning("%s", message)

    # -- the workspace -----------------------------------------------------------------------------

    def start(self, root: Path) -> None:
        """Read the configuration of the workspace at ``root``, as ``nplint check ROOT`` would."""
        self.config = config_for(self.args, [str(root)], {})
        self.session.plugins.configure(self.config)
        self.root = self.config.root

    def display_of(self, uri: str) -> str | None:
        """The display path nplint gives the file of ``uri`` (POSIX, relative to the root), or None."""
        if self.root is None:
            return None
        parsed = urlparse(uri)
        if parsed.scheme != "file":
            return None
        path = os.path.abspath(unquote(parsed.path))
        root = os.path.abspath(self.root)
        relative = os.path.relpath(path, root)
        if relative == os.curdir or relative == os.pardir or relative.startswith(os.pardir + os.sep):
            return None
        if not relative.lower().endswith(_SUFFIXES):
            return None
        return relative.replace(os.sep, "/")

    def overlay(self) -> dict[str, bytes]:
        """The open buffers of the workspace's manifests, by display path."""
        buffers: dict[str, bytes] = {}
        for uri, document in list(self.workspace.text_documents.items()):
            display = self.display_of(uri)
            if display is not None:
                buffers[display] = document.source.encode("utf-8", "surrogateescape")
        return buffers

    # -- linting -----------------------------------------------------------------------------------

    def schedule(self, delay: float = DEBOUNCE_SECONDS) -> None:
        """Lint at once after a quiet spell, else ``delay`` seconds after the last of a burst of changes.

        The first keystroke after a pause is linted straight away (its diagnostics come
        as soon as the lint ends); the keystrokes that follow it within ``delay`` are
        linted once, when they stop, and a change during a lint makes one more lint after it.
        """
        loop = asyncio.get_running_loop()
        now = loop.time()
        quiet = now - self.last_change >= delay
        self.last_change = now
        if self.pending is not None:
            self.pending.cancel()
            self.pending = None
        elif quiet and not self.running:
            self.task = loop.create_task(self.lint_now())
            return
        self.pending = loop.call_later(delay, self.lint_later)

    def lint_later(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self.lint_now())

    async def lint_now(self) -> None:
        self.pending = None
        if self.running:
            self.again = True
            return
        self.running = True
        try:
            while True:
                self.again = False
                buffers = self.overlay()
                # The versions linted: a diagnostic names the version it was computed from.
                versions = {uri: d.version for uri, d in list(self.workspace.text_documents.items())}
                loop = asyncio.get_running_loop()
                snapshot, messages = await loop.run_in_executor(self.linter, self.lint_once, buffers)
                # Sent from here, the server's loop: the worker thread writes nothing to the client.
                for message, kind in messages:
                    self.log(message, kind)
                if snapshot is not None:
                    self.snapshot = snapshot
                    try:
                        self.publish_all(versions)
                    except Exception as error:  # a bug here must not end the linting for good
                        self.log(f"internal error: {type(error).__name__}: {error}", types.MessageType.Error)
                if not self.again:
                    break
        finally:
            self.running = False
        # A lint leaves a heap of cyclic garbage (it keeps the collector off while it runs):
        # collected now, its diagnostics out, in the worker (a next lint waits behind it),
        # rather than on the collector's own schedule in the middle of the next lint.
        self.collecting = asyncio.get_running_loop().run_in_executor(self.linter, gc.collect)

    def lint_once(self, buffers: dict[str, bytes]) -> tuple[Snapshot | None, list[Message]]:
        """One lint of the workspace with ``buffers`` over the disk (None when it could not run),
        and what to log about it."""
        from nplint.lint import lint

        messages: list[Message] = []
        if self.config is None or self.root is None:
            return None, messages
        try:
            result = lint(
                [str(self.root)], self.config, self.session.plugins, self.session.rules, overlay=buffers
            )
        except Exception as error:  # a bug in the pipeline: logged, the last diagnostics stay
            messages.append((f"internal error: {type(error).__name__}: {error}", types.MessageType.Error))
            if os.environ.get("NPLINT_DEBUG"):
                messages.append((traceback.format_exc(), types.MessageType.Log))
            return None, messages
        for failure in result.failures:
            messages.append((f"internal error: {failure} (please report it)", types.MessageType.Error))
        for missing in result.missing:
            messages.append((f"{missing}: no such file or directory", types.MessageType.Warning))
        findings: dict[str, list[Finding]] = {}
        for finding in result.findings:
            findings.setdefault(finding.path, []).append(finding)
        return Snapshot(findings, result, buffers), messages

    def publish_all(self, versions: dict[str, int | None]) -> None:
        for uri, document in list(self.workspace.text_documents.items()):
            self.publish(uri, versions.get(uri, document.version))

    def publish(self, uri: str, version: int | None = None) -> None:
        display = self.display_of(uri)
        lines = self.lines_of(uri)
        found = self.snapshot.findings.get(display, []) if display is not None else []
        diagnostics = [diagnostic(finding, lines) for finding in found]
        self.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=uri, diagnostics=diagnostics, version=version)
        )

    def lines_of(self, uri: str) -> Sequence[str]:
        """The lines the last lint read for ``uri`` (positions count in them), else the buffer's."""
        display = self.display_of(uri)
        data = self.snapshot.buffers.get(display) if display is not None else None
        if data is not None:
            return data.decode("utf-8", "replace").splitlines(keepends=True)
        try:
            return self.workspace.get_text_document(uri).lines
        except Exception:
            return ()

    def findings_at(self, uri: str, position: types.Position) -> list[Finding]:
        display = self.display_of(uri)
        if display is None:
            return []
        lines = self.lines_of(uri)
        return [
            finding
            for finding in self.snapshot.findings.get(display, [])
            if text.contains(to_range(finding.span, lines), position)
        ]


def to_range(span: Span, lines: Sequence[str]) -> types.Range:
    """nplint's span (1-based lines and code-point columns) as an LSP range (0-based, UTF-16)."""
    start_line, start = text.position(lines, span.line, span.column)
    end_line, end = text.position(lines, span.end_line, span.end_column)
    return types.Range(types.Position(start_line, start), types.Position(end_line, end))


def diagnostic(finding: Finding, lines: Sequence[str]) -> types.Diagnostic:
    # The message as the text output prints it (it names the worlds already, where they differ).
    return types.Diagnostic(
        range=to_range(finding.span, lines),
        message=finding.message,
        severity=_SEVERITY[finding.level],
        code=finding.rule_id,
        code_description=types.CodeDescription(href=help_uri(finding.rule_id)),
        source="nplint",
    )


def build_server(args: argparse.Namespace, session: Session) -> NplintServer:
    """The server with every feature registered."""
    from nplint.lsp import actions, hover

    server = NplintServer(args, session)

    @server.feature(types.INITIALIZED)
    def initialized(ls: NplintServer, params: types.InitializedParams) -> None:
        root = ls.workspace.root_path
        try:
            ls.start(Path(root) if root else Path.cwd())
        except Exception as error:  # a broken configuration: said, and nothing linted
            ls.log(f"nplint: {error}", types.MessageType.Error)
            return
        ls.schedule(0)

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: NplintServer, params: types.DidOpenTextDocumentParams) -> None:
        ls.schedule()

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: NplintServer, params: types.DidChangeTextDocumentParams) -> None:
        ls.schedule()

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: NplintServer, params: types.DidSaveTextDocumentParams) -> None:
        ls.schedule()

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: NplintServer, params: types.DidCloseTextDocumentParams) -> None:
        # The file is the disk's again; its diagnostics are the editor's to drop.
        ls.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=params.text_document.uri, diagnostics=[])
        )
        ls.schedule()

    @server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    def watched(ls: NplintServer, params: types.DidChangeWatchedFilesParams) -> None:
        ls.schedule()

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    def on_hover(ls: NplintServer, params: types.HoverParams) -> types.Hover | None:
        return hover.hover(ls, params.text_document.uri, params.position)

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix]),
    )
    def code_action(ls: NplintServer, params: types.CodeActionParams) -> list[types.CodeAction]:
        return actions.code_actions(ls, params.text_document.uri, params.range)

    return server


def serve(args: argparse.Namespace, session: Session) -> None:
    """Serve over standard input and output until the client says exit."""
    # The console script turned the collector off for one short run; a server lives long.
    gc.enable()
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    # Standard output carries the protocol alone: anything printed goes to standard error.
    sys.stdout = sys.stderr
    server = build_server(args, session)
    server.start_io(stdin, stdout)
