"""``nplint server``: the real language server, driven over stdio by pytest-lsp."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path

import pytest

pytest_lsp = pytest.importorskip("pytest_lsp")
types = pytest.importorskip("lsprotocol.types")

from pytest_lsp import ClientServerConfig, LanguageClient  # noqa: E402

#: Long enough for a loaded machine; the tests wait for states, never for time.
SETTLE = 60.0

NAMESPACE = """\
apiVersion: v1
kind: Namespace
metadata:
  name: shop
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1.27
        ports:
        - containerPort: 8080
"""

EGRESS = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: web-out
  namespace: shop
spec:
  podSelector:
    matchLabels: {app: web}
  egress:
  - to:
    - podSelector:
        matchLabels: {app: web}
"""

DENY_INGRESS = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: default-deny-ingress
  namespace: shop
spec:
  podSelector: {}
  policyTypes: [Ingress]
"""

#: Starts the server with a rule that raises on one policy: what a bug in a rule does to it.
CRASHING = """\
from nplint.cli import Session
from nplint.commands import server
from nplint.findings import Level
from nplint.lsp.server import serve
from nplint.plugins import hookimpl
from nplint.rules.base import Rule


class Crashes(Rule):
    id = "NP998"
    name = "crashes-on-poison"
    summary = "A rule with a bug."
    level = Level.WARNING

    def check(self, ctx):
        for policy in ctx.inventory.policies:
            if policy.name == "web-out":
                raise ZeroDivisionError("division by zero")
        return iter(())


class Plugin:
    @hookimpl
    def nplint_register_rules(self, registry):
        registry.add(Crashes)


session = Session()
session.plugins.register(Plugin(), name="crashing")
session.plugins.register_rules(session.rules)
parser = __import__("argparse").ArgumentParser()
commands = parser.add_subparsers(dest="command")
server.add_parser(commands)
serve(parser.parse_args(["server"]), session)
"""


def _workspace(root: Path) -> None:
    (root / ".git").mkdir()
    (root / "app.yaml").write_text(NAMESPACE)
    (root / "egress.yaml").write_text(EGRESS)
    # The rules that need a CNI would add a finding of their own on every workspace.
    (root / ".nplint.yaml").write_text("cni: calico\nextend-select: [NP001]\n")


async def _start(client: LanguageClient, root: Path) -> None:
    await client.initialize_session(
        types.InitializeParams(
            capabilities=types.ClientCapabilities(),
            root_uri=root.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name="ws")],
        )
    )


@pytest_lsp.fixture(config=ClientServerConfig(server_command=[sys.executable, "-m", "nplint", "server"]))
async def client(lsp_client: LanguageClient, tmp_path: Path) -> AsyncIterator[None]:
    _workspace(tmp_path)
    await _start(lsp_client, tmp_path)
    yield
    await lsp_client.shutdown_session()


@pytest_lsp.fixture(config=ClientServerConfig(server_command=[sys.executable, "-c", CRASHING]))
async def crashing(lsp_client: LanguageClient, tmp_path: Path) -> AsyncIterator[None]:
    _workspace(tmp_path)
    await _start(lsp_client, tmp_path)
    yield
    await lsp_client.shutdown_session()


def _open(client: LanguageClient, path: Path, text: str | None = None) -> str:
    uri = path.as_uri()
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id="yaml", version=1, text=path.read_text() if text is None else text
            )
        )
    )
    return uri


_versions: dict[str, int] = {}


def _change(client: LanguageClient, uri: str, text: str) -> None:
    version = _versions[uri] = _versions.get(uri, 1) + 1
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
        )
    )


Found = list[tuple[str, tuple[int, int, int, int]]]


def _found(diagnostics: Sequence[types.Diagnostic]) -> Found:
    return [
        (
            str(d.code),
            (d.range.start.line, d.range.start.character, d.range.end.line, d.range.end.character),
        )
        for d in diagnostics
    ]


async def _settled(client: LanguageClient, uri: str, wanted: Callable[[Found], bool]) -> Found:
    """The diagnostics of ``uri`` once they are as ``wanted``; fails when they never are."""

    async def wait() -> None:
        while uri not in client.diagnostics or not wanted(_found(client.diagnostics[uri])):
            await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)

    try:
        await asyncio.wait_for(wait(), SETTLE)
    except TimeoutError:
        pytest.fail(f"diagnostics of {uri} never became as expected: {client.diagnostics.get(uri)}")
    return _found(client.diagnostics[uri])


def _codes(found: Found) -> list[str]:
    return [code for code, _ in found]


APP_FOUND = [("NP101", (3, 8, 3, 12)), ("NP102", (3, 8, 3, 12))]
EGRESS_FOUND = [("NP301", (8, 2, 8, 8)), ("NP702", (8, 2, 8, 8)), ("NP106", (10, 6, 11, 31))]


def _apply(text: str, edits: Sequence[types.TextEdit]) -> str:
    """``text`` with ``edits`` applied (positions in UTF-16 units; the texts here are ASCII)."""
    lines = text.splitlines(keepends=True)

    def offset(position: types.Position) -> int:
        return sum(len(line) for line in lines[: position.line]) + position.character

    for edit in sorted(edits, key=lambda e: offset(e.range.start), reverse=True):
        text = text[: offset(edit.range.start)] + edit.new_text + text[offset(edit.range.end) :]
    return text


def _check_json(root: Path) -> list[tuple[str, str, int, int, int, int]]:
    """What ``nplint check`` reports on the workspace, for comparison."""
    import json

    done = subprocess.run(
        [sys.executable, "-m", "nplint", "check", "--format", "json", "."],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    return sorted(
        (
            f["path"],
            f["rule"],
            f["line"] - 1,
            f["column"] - 1,
            f["end_line"] - 1,
            f["end_column"] - 1,
        )
        for f in json.loads(done.stdout)["findings"]
    )


@pytest.mark.asyncio
async def test_open_gives_the_diagnostics_of_check(client: LanguageClient, tmp_path: Path) -> None:
    app = _open(client, tmp_path / "app.yaml")
    egress = _open(client, tmp_path / "egress.yaml")
    assert await _settled(client, app, lambda f: f == APP_FOUND) == APP_FOUND
    assert await _settled(client, egress, lambda f: f == EGRESS_FOUND) == EGRESS_FOUND
    diagnostic = client.diagnostics[app][0]
    assert diagnostic.code_description is not None
    assert diagnostic.code_description.href == "https://github.com/nplint/nplint/blob/main/rules/NP101.md"
    assert diagnostic.severity == types.DiagnosticSeverity.Warning
    assert diagnostic.source == "nplint"
    shown = sorted(
        (path, code, *span)
        for path, uri in (("app.yaml", app), ("egress.yaml", egress))
        for code, span in _found(client.diagnostics[uri])
    )
    assert shown == _check_json(tmp_path)


@pytest.mark.asyncio
async def test_an_unsaved_edit_updates_the_diagnostics(client: LanguageClient, tmp_path: Path) -> None:
    egress = _open(client, tmp_path / "egress.yaml")
    await _settled(client, egress, lambda f: f == EGRESS_FOUND)
    _change(client, egress, EGRESS.replace("  egress:\n", "  policyTypes: [Egress]\n  egress:\n"))
    # The buffer, not the disk: policyTypes is written now, so the policy no longer isolates
    # ingress (NP106's peer is let in) and NP301 stands on the direction it names.
    found = await _settled(client, egress, lambda f: "NP702" not in _codes(f))
    assert found == [("NP301", (8, 16, 8, 22))]
    assert (tmp_path / "egress.yaml").read_text() == EGRESS


@pytest.mark.asyncio
async def test_a_default_deny_in_another_file_clears_np101(client: LanguageClient, tmp_path: Path) -> None:
    app = _open(client, tmp_path / "app.yaml")
    await _settled(client, app, lambda f: f == APP_FOUND)
    (tmp_path / "deny.yaml").write_text("# policies of the shop\n")
    deny = _open(client, tmp_path / "deny.yaml")
    _change(client, deny, DENY_INGRESS)
    assert await _settled(client, app, lambda f: "NP101" not in _codes(f)) == [("NP102", (3, 8, 3, 12))]


@pytest.mark.asyncio
async def test_hover_texts(client: LanguageClient, tmp_path: Path) -> None:
    app = _open(client, tmp_path / "app.yaml")
    egress = _open(client, tmp_path / "egress.yaml")
    await _settled(client, app, lambda f: f == APP_FOUND)
    await _settled(client, egress, lambda f: f == EGRESS_FOUND)

    async def hover(uri: str, line: int, character: int) -> str:
        answer = await client.text_document_hover_async(
            types.HoverParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                position=types.Position(line=line, character=character),
            )
        )
        assert answer is not None
        assert isinstance(answer.contents, types.MarkupContent)
        return answer.contents.value

    on_finding = await hover(app, 3, 10)
    assert on_finding.startswith("**NP101** namespace 'shop' \\(web\\) has no default\\-deny ingress policy")
    # The page's first paragraph follows the headline.
    assert "Reports a namespace that holds workloads (Deployments, StatefulSets" in on_finding
    assert "**NP102**" in on_finding
    selector = await hover(egress, 6, 4)
    assert selector == (
        "**`NetworkPolicy` `shop`/`web-out`** selects 1 workload:\n\n- `Deployment` `web` (`app.yaml`:9)"
    )
    # A peer with a finding on it: the finding first, then what the peer matches.
    peer = await hover(egress, 10, 6)
    assert peer.startswith("**NP106** this peer targets Deployment shop/web")
    assert peer.endswith(
        "\n\n---\n\n**`web-out`**, egress rule 1, `to` entry 1\n\nNamespaces: namespace `shop`\n\n"
        "Workloads of the repository:\n\n- `Deployment` `shop`/`web` (`app.yaml`:9)"
    )
    workload = await hover(app, 14, 6)
    # Isolated both ways (policyTypes omitted): nothing reaches it, and its egress rule
    # leads to its own pods, whose ingress admits nothing.
    assert workload == (
        "**`Deployment` `shop`/`web`**\n\nIngress: isolated by `web-out` (`egress.yaml`:4)\n\n"
        "Egress: isolated by `web-out` (`egress.yaml`:4)\n\nReached from: nothing\n\nConnects to: nothing"
    )
    _change(client, egress, EGRESS.replace("  egress:\n", "  policyTypes: [Egress]\n  egress:\n"))
    await _settled(client, egress, lambda f: "NP702" not in _codes(f))
    workload = await hover(app, 14, 6)
    # As `nplint reach` shows them: from anywhere (its ingress is open) and from itself.
    assert workload == (
        "**`Deployment` `shop`/`web`**\n\nIngress: not isolated (every connection allowed)\n\n"
        "Egress: isolated by `web-out` (`egress.yaml`:4)\n\n"
        "Reached from:\n\n- `0.0.0.0/0`: All Connections\n- `shop/web[Deployment]`: All Connections\n\n"
        "Connects to:\n\n- `shop/web[Deployment]`: All Connections"
    )


async def _actions(client: LanguageClient, uri: str, line: int) -> list[types.CodeAction]:
    answer = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=types.Range(types.Position(line, 0), types.Position(line, 0)),
            context=types.CodeActionContext(diagnostics=[]),
        )
    )
    assert answer is not None
    return [action for action in answer if isinstance(action, types.CodeAction)]


SAFE_702 = "Fix NP702: write `policyTypes: [Ingress, Egress]` as the API server defaults it (same behaviour)"


@pytest.mark.asyncio
async def test_a_fix_applied_clears_its_diagnostic(client: LanguageClient, tmp_path: Path) -> None:
    egress = _open(client, tmp_path / "egress.yaml")
    await _settled(client, egress, lambda f: f == EGRESS_FOUND)
    actions = await _actions(client, egress, 8)
    titles = [(a.title, a.is_preferred) for a in actions]
    assert (SAFE_702, True) in titles
    assert ("Disable NP301 on this line", None) in titles
    assert ("Disable NP702 in this file", None) in titles
    # An unsafe fix says so, and is not the preferred one.
    assert all(preferred is not True for title, preferred in titles if title.endswith("(unsafe)"))
    assert any(title.endswith("(unsafe)") for title, _ in titles)
    fix = next(a for a in actions if a.title == SAFE_702)
    assert fix.edit is not None and fix.edit.changes is not None
    _change(client, egress, _apply(EGRESS, fix.edit.changes[egress]))
    assert list(fix.edit.changes[egress]) == [
        types.TextEdit(
            range=types.Range(types.Position(8, 0), types.Position(8, 0)),
            new_text="  policyTypes: [Ingress, Egress]\n",
        )
    ]
    # Same behaviour: only NP702 goes.
    found = await _settled(client, egress, lambda f: "NP702" not in _codes(f))
    assert _codes(found) == ["NP301", "NP106"]


@pytest.mark.asyncio
async def test_disable_comments_suppress(client: LanguageClient, tmp_path: Path) -> None:
    app = _open(client, tmp_path / "app.yaml")
    await _settled(client, app, lambda f: f == APP_FOUND)
    actions = {a.title: a for a in await _actions(client, app, 3)}
    line = actions["Disable NP101 on this line"].edit
    assert line is not None and line.changes is not None
    text = _apply(NAMESPACE, line.changes[app])
    assert text.splitlines()[3] == "  # nplint: disable=NP101"
    _change(client, app, text)
    assert await _settled(client, app, lambda f: "NP101" not in _codes(f)) == [("NP102", (4, 8, 4, 12))]
    actions = {a.title: a for a in await _actions(client, app, 4)}
    whole = actions["Disable NP102 in this file"].edit
    assert whole is not None and whole.changes is not None
    text = _apply(text, whole.changes[app])
    assert text.startswith("# nplint: disable-file=NP102\n")
    _change(client, app, text)
    assert await _settled(client, app, lambda f: f == []) == []


@pytest.mark.asyncio
async def test_a_file_that_does_not_parse_is_np001_and_serving_goes_on(
    client: LanguageClient, tmp_path: Path
) -> None:
    app = _open(client, tmp_path / "app.yaml")
    egress = _open(client, tmp_path / "egress.yaml")
    await _settled(client, app, lambda f: f == APP_FOUND)
    _change(client, egress, "kind: NetworkPolicy\nspec: [\n")
    found = await _settled(client, egress, lambda f: "NP001" in _codes(f))
    assert _codes(found) == ["NP001"]
    _change(client, egress, EGRESS)
    assert await _settled(client, egress, lambda f: f == EGRESS_FOUND) == EGRESS_FOUND


@pytest.mark.asyncio
async def test_a_bad_message_is_logged_and_serving_goes_on(client: LanguageClient, tmp_path: Path) -> None:
    # A body that is not JSON, then a change to a document the client never opened.
    writer = client.protocol.writer
    assert writer is not None
    written = writer.write(b'Content-Length: 8\r\n\r\n{"bad": ')
    if asyncio.iscoroutine(written):
        await written
    _change(client, (tmp_path / "never-opened.yaml").as_uri(), "a: 1\n")
    app = _open(client, tmp_path / "app.yaml")
    assert await _settled(client, app, lambda f: f == APP_FOUND) == APP_FOUND
    errors = [m.message for m in client.log_messages if m.type == types.MessageType.Error]
    assert any(message.startswith("internal error: JSONDecodeError") for message in errors), errors


@pytest.mark.asyncio
async def test_a_rule_that_raises_is_logged_and_the_other_diagnostics_arrive(
    crashing: LanguageClient, tmp_path: Path
) -> None:
    app = _open(crashing, tmp_path / "app.yaml")
    assert await _settled(crashing, app, lambda f: f == APP_FOUND) == APP_FOUND
    messages = [m.message for m in crashing.log_messages if m.type == types.MessageType.Error]
    assert any(
        "rule NP998 failed on NetworkPolicy shop/web-out (egress.yaml:4): ZeroDivisionError: division by zero"
        in message
        for message in messages
    ), messages


def test_shutdown_and_exit_are_clean(tmp_path: Path) -> None:
    async def session() -> int | None:
        config = ClientServerConfig(server_command=[sys.executable, "-m", "nplint", "server"])
        client = await config.start()
        assert isinstance(client, LanguageClient)
        _workspace(tmp_path)
        await _start(client, tmp_path)
        await client.shutdown_session()
        server = client._server
        assert server is not None
        code = await asyncio.wait_for(server.wait(), SETTLE)
        await client.stop()
        return code

    assert asyncio.run(session()) == 0


def test_without_the_extra_the_command_names_it() -> None:
    # pygls made unimportable, as where the extra is not installed.
    hidden = (
        "import sys; sys.modules['pygls'] = None; from nplint.cli import main; sys.exit(main(['server']))"
    )
    done = subprocess.run([sys.executable, "-c", hidden], capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert "pip install 'nplint[lsp]'" in done.stderr
    assert done.stdout == ""


def test_positions_count_utf16_units() -> None:
    from nplint.findings import Span
    from nplint.lsp.server import to_range

    # nplint counts code points; LSP counts UTF-16 units, two for a character beyond the BMP.
    lines = ["metadata:\n", "  name: \U0001f600x # ok\n"]
    found = to_range(Span(2, 9, 2, 11), lines)
    assert (found.start.line, found.start.character, found.end.line, found.end.character) == (1, 8, 1, 11)


def test_the_overlay_stands_in_for_the_disk_within_the_bounds(tmp_path: Path) -> None:
    from nplint import reading
    from nplint.cli import Session
    from nplint.config import Config
    from nplint.lint import lint

    (tmp_path / ".git").mkdir()
    (tmp_path / "egress.yaml").write_text(EGRESS)
    config = Config(root=tmp_path, cni="calico")
    session = Session()

    def codes(overlay: dict[str, bytes] | None) -> list[str]:
        result = lint([str(tmp_path)], config, session.plugins, session.rules, overlay=overlay)
        return [f.rule_id for f in result.findings]

    on_disk = codes(None)
    assert "NP702" in on_disk
    fixed = EGRESS.replace("  egress:\n", "  policyTypes: [Egress]\n  egress:\n").encode()
    assert "NP702" not in codes({"egress.yaml": fixed})
    # A buffer larger than nplint reads is not taken: the file is read from the disk, bounded.
    assert codes({"egress.yaml": fixed + b"#" * reading.MAX_FILE_BYTES}) == on_disk
    # Only files discovery found: a buffer of a file that is not there is no manifest.
    assert codes({"elsewhere.yaml": fixed}) == on_disk
    assert (tmp_path / "egress.yaml").read_text() == EGRESS
