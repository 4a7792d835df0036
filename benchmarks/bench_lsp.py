"""Keystroke to diagnostics: ``nplint server`` on a generated 1,000-document workspace.

Run on purpose, never in CI (needs ``pip install 'nplint[lsp]'``):

    python benchmarks/bench_lsp.py [--namespaces 40] [--keystrokes 20] [--workdir /tmp/nplint-bench-lsp]

It generates a tree with ../shared/bench/gen_corpus.py (40 namespaces of 8
workloads, 8 services and 8 policies: 1,000 documents), starts the real server
over stdio, opens one policy file and waits for its first diagnostics (the first
full load), then types: each keystroke is a ``textDocument/didChange`` of the
whole buffer with one more character in a comment, and the time measured is
from sending it to the ``publishDiagnostics`` of that document's new version.
Each keystroke is sent once the previous one's diagnostics are in (``--pause``
waits longer, as a typist does), so each comes after a quiet spell and is linted at
once; with no pause it also waits for the collection of the previous lint's garbage.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lsprotocol import types
from pygls.lsp.client import LanguageClient

REPO = Path(__file__).resolve().parents[1]
GENERATOR = REPO.parent / "shared" / "bench" / "gen_corpus.py"


def generate(workdir: Path, namespaces: int) -> Path:
    tree = workdir / f"corpus-{namespaces}"
    if not tree.is_dir():
        subprocess.run(
            [
                sys.executable,
                str(GENERATOR),
                str(tree),
                "--namespaces",
                str(namespaces),
                "--workloads-per-ns",
                "8",
                "--policies-per-ns",
                "8",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        (tree / ".git").mkdir(exist_ok=True)
    return tree


async def measure(tree: Path, keystrokes: int, pause: float) -> tuple[float, list[float]]:
    client = LanguageClient("nplint-bench", "1")
    published: dict[str, asyncio.Future[float]] = {}
    wanted: dict[str, int] = {}

    @client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    def diagnostics(params: types.PublishDiagnosticsParams) -> None:
        waiting = published.get(params.uri)
        if waiting is not None and not waiting.done() and params.version == wanted.get(params.uri):
            waiting.set_result(time.perf_counter())

    @client.feature(types.WINDOW_LOG_MESSAGE)
    def log(params: types.LogMessageParams) -> None:
        print(f"server: {params.message}", file=sys.stderr)

    await client.start_io(sys.executable, "-m", "nplint", "server")
    await client.initialize_async(
        types.InitializeParams(capabilities=types.ClientCapabilities(), root_uri=tree.as_uri())
    )
    client.initialized(types.InitializedParams())
    target = sorted(tree.rglob("network-policies/*.yaml"))[0]
    uri = target.as_uri()
    text = target.read_text(encoding="utf-8")
    loop = asyncio.get_running_loop()

    async def published_version(version: int) -> float:
        wanted[uri] = version
        published[uri] = loop.create_future()
        return await asyncio.wait_for(published[uri], 600)

    start = time.perf_counter()
    first = asyncio.ensure_future(published_version(1))
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id="yaml", version=1, text=text)
        )
    )
    first_load = await first - start
    text += "#"
    times: list[float] = []
    for version in range(2, keystrokes + 2):
        await asyncio.sleep(pause)
        text += " "
        waiting = asyncio.ensure_future(published_version(version))
        sent = time.perf_counter()
        client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
            )
        )
        times.append(await waiting - sent)
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()
    return first_load, times


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--namespaces", type=int, default=40, help="40 namespaces make 1,000 documents")
    parser.add_argument("--keystrokes", type=int, default=20)
    parser.add_argument(
        "--pause",
        type=float,
        default=0.0,
        help="seconds between one keystroke's diagnostics and the next keystroke (default: none)",
    )
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="nplint-bench-lsp-"))
    tree = generate(workdir, args.namespaces)
    documents = args.namespaces * 25
    first_load, times = asyncio.run(measure(tree, args.keystrokes, args.pause))
    print(f"workspace: {tree} ({documents} documents)")
    print(f"first load (open to first diagnostics): {first_load * 1000:.0f} ms")
    median = statistics.median(times) * 1000
    print(
        f"keystroke to diagnostics over {len(times)} keystrokes: median {median:.0f} ms, "
        f"min {min(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
