"""Hostile repositories cannot make nplint work without bound, hang, crash or print a traceback.

Each attack is a small repository in ``tmp_path``. Where an attack used to
hang, it runs in a subprocess with a generous timeout, so a regression fails
instead of stopping the suite.
"""

from __future__ import annotations

import io
import json
import os
import random
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from helpers import CORPUS, FIXTURES, REPO, counted_forks, lint_paths
from nplint import parallel
from nplint.discovery import discover
from nplint.ignorefiles import _DIRS_TOKEN, IgnoreFile, Wildmatch, _tokenize
from nplint.lint import LintResult
from nplint.loading import LoadedFile, load_text
from nplint.loading import composer as composer_module
from nplint.loading.composer import compose_events, node_bound, within_fast_bound
from nplint.loading.nodes import MapNode, Node, SeqNode
from nplint.reading import MAX_FILE_BYTES, FileTooLarge, NotARegularFile, read_bounded, read_stream

#: Far above what any of these runs needs, far below "never".
TIMEOUT = 120
#: How long a "hanging" child sleeps: long past its deadline, yet finite, so that a
#: parent that waits with no deadline fails the test (slow) instead of hanging it.
HANG = 90

NAMESPACE = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n"
POLICY = (
    "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: deny\n  namespace: shop\n"
    "spec:\n  podSelector: {}\n"
)


def _nplint(*args: str, cwd: Path, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    """``nplint ARGS`` in a fresh interpreter, killed (and the test failed) after TIMEOUT seconds."""
    return subprocess.run(
        [sys.executable, "-m", "nplint", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        timeout=TIMEOUT,
        env={**os.environ, "NPLINT_JOBS": "1"},
    )


def _json_findings(output: bytes) -> list[tuple[str, str, int, int, str]]:
    report = json.loads(output)
    return [(f["rule"], f["path"], f["line"], f["column"], f["message"]) for f in report["findings"]]


def _findings(result: LintResult) -> list[tuple[str, str, int, int, str]]:
    return [(f.rule_id, f.path, f.span.line, f.span.column, f.message) for f in result.findings]


def _repo(root: Path, files: dict[str, str | bytes]) -> Path:
    (root / ".git").mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


# -- 7: ignore patterns that backtrack ----------------------------------------------------------

_STARS = "*a" * 12  # "*a*a…*a": twelve runs of "*", each able to take any number of the name's "a"s


def test_a_backtracking_gitignore_pattern_does_not_stop_the_walk(tmp_path: Path) -> None:
    long_name = "a" * 40 + ".yaml"
    _repo(
        tmp_path,
        {
            # The first never matches (no "b"); the second matches the other long name.
            ".gitignore": f"{_STARS}b\n{_STARS}*.json\n",
            long_name: "kind: [",
            "a" * 40 + ".json": "kind: [",
            "ns.yaml": NAMESPACE,
        },
    )
    started = time.monotonic()
    done = _nplint(".", "--format", "json", cwd=tmp_path)
    assert time.monotonic() - started < TIMEOUT
    assert done.returncode == 1, done.stderr
    assert [(rule, path, line, column) for rule, path, line, column, _ in _json_findings(done.stdout)] == [
        ("NP001", long_name, 2, 1)
    ]


def test_the_wildmatch_is_linear_on_hostile_patterns() -> None:
    cases = [
        (f"{_STARS}b", "a" * 200 + ".yaml", None),
        (f"{_STARS}*", "a" * 200 + ".yaml", True),
        ("**/a/**/a/**/a/**/a/**/b", "a/" * 1000 + "c", None),
        ("**/a/**/a/**/a/**/a/**/?", "a/" * 1000 + "c", True),
    ]
    started = time.monotonic()
    for pattern, path, expected in cases:
        assert IgnoreFile.parse([pattern], "").decide(path, False) is expected, pattern
    assert time.monotonic() - started < 10


@pytest.mark.parametrize(
    ("pattern", "wildmatch"),
    [
        ("*.yaml", False),
        ("**/*.log", False),
        ("**/dist/**", False),
        ("a/*/b*/*.json", False),
        ("*.min.*", True),
        (_STARS + "b", True),
        ("**/a/**/b", True),
        ("a/**/b/**/c", True),
        ("a**b*c", True),
    ],
)
def test_only_patterns_that_could_backtrack_leave_the_regex_path(pattern: str, wildmatch: bool) -> None:
    [run] = IgnoreFile.parse([pattern], "").runs
    assert (run.files is None, len(run.file_wildmatches)) == (wildmatch, int(wildmatch))


_GLOB_PIECES = ["a", "b", "/", "*", "**", "?", "[ab]", "[!a]", "[a-b]", "\\*", ".", "[]", "[[:alpha:]]"]


def _random_glob(rnd: random.Random) -> str:
    return "".join(rnd.choice(_GLOB_PIECES) for _ in range(rnd.randint(1, 7))).strip("/") or "a"


def test_the_wildmatch_agrees_with_the_regex_translation() -> None:
    """On paths short enough for the regex, both read every random glob alike."""
    rnd = random.Random(7)
    compared = 0
    for _ in range(3000):
        tokens = _tokenize(_random_glob(rnd))
        if tokens is None:
            continue
        for anchored in (True, False):
            chosen = tokens if anchored else [_DIRS_TOKEN, *tokens]
            regex = re.compile("".join(token.regex for token in chosen), re.DOTALL)
            wildmatch = Wildmatch(chosen)
            for _ in range(10):
                path = "".join(rnd.choice("ab/.*[\n") for _ in range(rnd.randint(0, 9)))
                assert wildmatch.fullmatch(path) == bool(regex.fullmatch(path)), (chosen, path)
                compared += 1
    assert compared > 30000


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
@pytest.mark.parametrize("seed", range(4))
def test_patterns_with_several_stars_agree_with_git_check_ignore(tmp_path: Path, seed: int) -> None:
    rnd = random.Random(seed)
    pieces = ["a", "b", "ab", "*", "**", "?", "[ab]", "/"]
    patterns = []
    while len(patterns) < 12:
        glob = "".join(rnd.choice(pieces) for _ in range(rnd.randint(2, 7)))
        if glob.count("*") >= 2 and not glob.endswith("/") and not glob.startswith("!"):
            patterns.append(glob)
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / ".gitignore").write_text("\n".join(patterns) + "\n", encoding="utf-8")
    names = ["a", "b", "ab", "ba", "aab", "bab", "abba"]
    paths = sorted({"/".join(rnd.choice(names) for _ in range(rnd.randint(1, 4))) for _ in range(300)})
    listed = subprocess.run(
        ["git", "-C", str(tmp_path), "check-ignore", "--no-index", "--stdin", "-z"],
        input="\0".join(paths).encode() + b"\0",
        capture_output=True,
        check=False,
    ).stdout.decode()
    by_git = {path for path in listed.split("\0") if path}
    ignore = IgnoreFile.parse(patterns, "")

    def ours(path: str) -> bool:
        parts = path.split("/")
        # A path inside an ignored directory is ignored, as check-ignore says.
        for count in range(1, len(parts)):
            if ignore.decide("/".join(parts[:count]), True):
                return True
        return ignore.decide(path, False) is True

    assert {path for path in paths if ours(path)} == by_git, patterns
    assert by_git, "the random patterns should ignore something"


# -- 7: reads without bound ---------------------------------------------------------------------


def test_a_file_over_the_size_cap_is_a_finding_and_never_read(tmp_path: Path) -> None:
    _repo(tmp_path, {"ns.yaml": NAMESPACE})
    with (tmp_path / "huge.yaml").open("wb") as handle:
        handle.truncate(40 * 1024 * 1024)  # sparse: costs no disk, and reading it would cost 40 MiB
    result = lint_paths(["."], root=tmp_path)
    assert _findings(result) == [("NP001", "huge.yaml", 1, 1, "not read: file too large (40 MiB)")]
    assert result.findings[0].detail == "nplint reads at most 32 MiB."


def test_a_file_one_byte_over_the_cap_does_not_read_as_the_cap(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    with path.open("wb") as handle:
        handle.truncate(MAX_FILE_BYTES + 1)
    with pytest.raises(FileTooLarge, match=r"^file too large \(32\.1 MiB\); nplint reads at most 32 MiB$"):
        read_bounded(path)
    path.write_bytes(b"abc")
    assert read_bounded(path, limit=3) == b"abc"
    with pytest.raises(FileTooLarge, match=r"\(0\.1 MiB\); nplint reads at most 0\.1 MiB"):
        read_bounded(path, limit=2)


class _CountingStream(io.RawIOBase):
    """An endless stream that counts what is taken from it."""

    def __init__(self) -> None:
        self.given = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        size = len(buffer)
        buffer[:size] = b"a" * size
        self.given += size
        return size


def test_standard_input_is_read_up_to_the_cap_plus_one_byte() -> None:
    stream = _CountingStream()
    with pytest.raises(
        FileTooLarge, match=r"^file too large \(more than 1 MiB\); nplint reads at most 1 MiB$"
    ):
        read_stream(stream, limit=1024 * 1024)  # type: ignore[arg-type]
    assert stream.given == 1024 * 1024 + 1
    assert read_stream(io.BytesIO(b"kind: List\n"), limit=11) == b"kind: List\n"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifos_and_devices_in_a_walked_tree_are_not_read(tmp_path: Path) -> None:
    _repo(tmp_path, {"ns.yaml": NAMESPACE, "sub/np.yaml": POLICY})
    os.mkfifo(tmp_path / "pipe.yaml")  # no writer: opening it to read would block for ever
    os.mkfifo(tmp_path / "sub" / "kustomization.yaml")
    done = _nplint(".", "--format", "json", "--select", "NP001", cwd=tmp_path)
    assert (done.returncode, _json_findings(done.stdout)) == (0, []), done.stderr
    assert json.loads(done.stdout)["summary"]["files"] == 2


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_the_bounded_reader_refuses_what_is_not_a_regular_file_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    with pytest.raises(NotARegularFile, match=r"^not a regular file \(a FIFO\)"):
        read_bounded(fifo)
    if os.path.exists("/dev/zero"):
        with pytest.raises(NotARegularFile, match=r"^not a regular file \(a device\)"):
            read_bounded("/dev/zero")
    with pytest.raises(NotARegularFile, match=r"\(a directory\)"):
        read_bounded(tmp_path)


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_a_device_named_on_the_command_line_is_read_bounded(tmp_path: Path) -> None:
    _repo(tmp_path, {})
    result = lint_paths(["/dev/zero"], root=tmp_path)
    assert _findings(result) == [
        (
            "NP001",
            "/dev/zero",
            1,
            1,
            "not read: file too large (more than 32 MiB)",
        )
    ]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_pipe_named_on_the_command_line_is_still_read(tmp_path: Path) -> None:
    _repo(tmp_path, {})
    fifo = tmp_path / "rendered.yaml"
    os.mkfifo(fifo)

    def write() -> None:
        with fifo.open("w", encoding="utf-8") as handle:
            handle.write("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: [\n")

    writer = threading.Thread(target=write)
    writer.start()
    try:
        result = lint_paths(["rendered.yaml"], root=tmp_path, select=["NP001"])
    finally:
        writer.join(TIMEOUT)
    assert [(rule, path, line) for rule, path, line, _, _ in _findings(result)] == [
        ("NP001", "rendered.yaml", 5)
    ]


# -- 7: wide flow collections ----------------------------------------------------------------------


def test_a_wide_flow_sequence_is_refused_in_bounded_time_and_memory(tmp_path: Path) -> None:
    """12 MB, six million values on one line: it needed 2.9 GB of nodes."""
    _repo(tmp_path, {"wide.yaml": "kind: [" + ",".join(["1"] * 6_000_000) + "]\n", "ns.yaml": NAMESPACE})
    measure = (
        "import resource, sys\n"
        "from nplint.cli import main\n"
        "code = main(['.', '--format', 'json'])\n"
        # Linux carries the launching process's peak across exec into ru_maxrss (the test runner's
        # own peak, over a gigabyte late in a full run); the new image's own peak is VmHWM.
        "peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "try:\n"
        "    with open('/proc/self/status') as status:\n"
        "        peak = next(int(line.split()[1]) for line in status if line.startswith('VmHWM:'))\n"
        "except (OSError, StopIteration):\n"
        "    pass\n"
        "print(peak, file=sys.stderr)\n"
        "sys.exit(code)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", measure],
        cwd=tmp_path,
        capture_output=True,
        timeout=TIMEOUT,
        env={**os.environ, "NPLINT_JOBS": "1"},
    )
    assert done.returncode == 1, done.stderr
    # The millionth value of the sequence (the key "kind" is the first value of the document).
    assert _json_findings(done.stdout) == [
        (
            "NP001",
            "wide.yaml",
            1,
            7 + 2 * 1_000_000 - 1,
            "not read: this document holds more than 1,000,000 values, the most nplint reads in one document",
        )
    ]
    max_rss_kib = int(done.stderr.split()[-1])
    assert max_rss_kib < 1024 * 1024, f"{max_rss_kib} KiB"


def test_the_values_of_a_file_are_capped_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The caps, made small: each document is under the document cap, the file over its own.
    monkeypatch.setattr(composer_module, "MAX_DOCUMENT_NODES", 100)
    monkeypatch.setattr(composer_module, "MAX_FILE_NODES", 250)
    monkeypatch.setattr(composer_module, "FAST_PATH_BOUND", 50)
    document = "kind: [" + ",".join(["1"] * 90) + "]\n"
    _repo(
        tmp_path,
        {"many.yaml": "---\n".join([document] * 4) + "---\n" + "b: [" + ",".join(["1"] * 101) + "]\n"},
    )
    result = lint_paths(["."], root=tmp_path, select=["NP001"])
    # Two documents of 93 values (the mapping, the key, the sequence and its 90 items) fit;
    # the third passes the file's 250th value at its 64th item.
    assert _findings(result) == [
        (
            "NP001",
            "many.yaml",
            5,
            len("kind: [") + 2 * 63 + 1,
            "not read: the file holds more than 250 values, the most nplint reads in one file",
        )
    ]
    assert result.findings[0].detail == "this document and the ones after it are left out."
    loaded = result.files[0]
    assert [(d.index, d.failed) for d in loaded.documents] == [(0, False), (1, False), (2, True)]


def test_an_over_wide_document_is_left_out_and_the_next_one_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(composer_module, "MAX_DOCUMENT_NODES", 100)
    text = "a: [" + ",".join(["1"] * 200) + "]\n---\nkind: Namespace\n"
    documents, problems = compose_events(text)
    assert problems == []
    assert [(d.index, d.failed, [p.message for p in d.problems]) for d in documents] == [
        (
            0,
            True,
            ["not read: this document holds more than 100 values, the most nplint reads in one document"],
        ),
        (1, False, []),
    ]
    assert [(p.span.line, p.span.column) for p in documents[0].problems] == [(1, 5 + 2 * 99)]


def _count(node: Node | None) -> int:
    if node is None:
        return 0
    total = 0
    stack = [node]
    while stack:
        current = stack.pop()
        total += 1
        if isinstance(current, MapNode):
            stack.extend(current.entries.values())
            total += len(current.entries)  # the keys
        elif isinstance(current, SeqNode):
            stack.extend(current.items)
    return total


def _texts() -> list[str]:
    texts = [
        path.read_text(encoding="utf-8", errors="replace")
        for directory in (FIXTURES, CORPUS)
        if directory.is_dir()
        for path in sorted(directory.rglob("*"))
        if path.suffix in (".yaml", ".yml", ".json")
    ]
    rnd = random.Random(3)
    pieces = ["a", "1", ",", ":", " ", "-", "\n", "[", "]", "{", "}", "?", "- ", ": ", "\n  ", "---\n", "''"]
    texts += ["".join(rnd.choice(pieces) for _ in range(rnd.randint(1, 40))) for _ in range(3000)]
    texts += [
        "{a,b,c,d}",
        "[a: b, c: d]",
        "- - - - -",
        "? a\n? b\n",
        "{a}",
        "[{a}, {b}]",
        "-\n-\n-\n",
        "a:\nb:\n",
    ]
    return texts


def test_the_node_bound_holds_for_every_fixture_and_odd_stream() -> None:
    """The fast path may build libyaml's nodes for a whole file only because the bound caps them."""
    checked = 0
    for text in _texts():
        documents, _ = compose_events(text)
        nodes = sum(_count(document.root) for document in documents)
        assert nodes <= node_bound(text), text[:200]
        checked += 1
    assert checked > 3000


def test_the_bound_is_told_without_counting_only_where_counting_could_not_pass_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(composer_module, "FAST_PATH_BOUND", 40)
    for text in [*_texts()[:500], "-" * 13, "-" * 14, "a" * 13, "a" * 14, ",:" * 20, "\n" * 39]:
        assert within_fast_bound(text) == (node_bound(text) <= 40), text[:80]


# -- 8: names that are not UTF-8 -----------------------------------------------------------------------


@pytest.mark.skipif(sys.platform == "darwin", reason="macOS file systems require UTF-8 names")
def test_a_file_name_that_is_not_utf8_is_found_loaded_and_linted(tmp_path: Path) -> None:
    _repo(tmp_path, {})
    bad = os.fsencode(tmp_path) + b"/\xff\xfe-x.yaml"
    with open(bad, "wb") as handle:
        handle.write(b"kind: [\n")
    os.mkdir(os.fsencode(tmp_path) + b"/d\xe9")
    with open(os.fsencode(tmp_path) + b"/d\xe9/np.yaml", "wb") as handle:
        handle.write(POLICY.encode())
    (tmp_path / ".gitignore").write_bytes(b"d\xe9/ignored.yaml\n")
    with open(os.fsencode(tmp_path) + b"/d\xe9/ignored.yaml", "wb") as handle:
        handle.write(b"[")
    found = discover([str(tmp_path)], root=tmp_path)
    assert [f.display for f in found.files] == ["d\udce9/np.yaml", "\udcff\udcfe-x.yaml"]
    result = lint_paths(["."], root=tmp_path, select=["NP001", "NP703"])
    assert [(rule, path, line, column) for rule, path, line, column, _ in _findings(result)] == [
        ("NP001", "\udcff\udcfe-x.yaml", 2, 1),
    ]
    assert sorted(f.path for f in result.files) == ["d\udce9/np.yaml", "\udcff\udcfe-x.yaml"]


# -- 9: the second process -------------------------------------------------------------------------------

needs_a_second_process = pytest.mark.skipif(
    not sys.platform.startswith("linux") or len(os.sched_getaffinity(0)) < 2,
    reason="the second process is used on Linux with two cores or more",
)


def _assert_reaped(children: list[int]) -> None:
    """The one child is gone, not a zombie, once what the console script does last has run.

    A child that failed and closed its end is left to exit on its own (the parent does
    not wait for that, :meth:`parallel._Child.release`); one that hung was killed.
    """
    [pid] = children
    parallel.reap_ended(wait=True)
    assert not parallel._ENDING
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def _loaded(index: int) -> LoadedFile:
    return load_text(f"{index}.yaml", f"kind: Namespace\nmetadata: {{name: n{index}}}\n")


@needs_a_second_process
@pytest.mark.parametrize("failure", ["hangs", "runs out of memory"])
def test_a_loading_child_that_fails_is_replaced_by_the_parent(
    failure: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parallel, "MIN_FILES", 0)
    monkeypatch.setattr(parallel, "MIN_DEADLINE_SECONDS", 0.5)
    monkeypatch.setattr(parallel, "SECONDS_PER_FILE", 0.0)
    children = counted_forks(monkeypatch)
    parent = os.getpid()

    def load(index: int) -> LoadedFile:
        if os.getpid() != parent:
            if failure == "hangs":
                time.sleep(HANG)
            raise MemoryError
        return _loaded(index)

    started = time.monotonic()
    split = parallel.load_split(20, load)
    assert time.monotonic() - started < HANG / 2
    _assert_reaped(children)
    alone = [_loaded(index) for index in range(20)]
    assert [(f.path, f.problems, [d.root.to_python() for d in f.documents if d.root]) for f in split] == [
        (f.path, f.problems, [d.root.to_python() for d in f.documents if d.root]) for f in alone
    ]


class _ChildRule:
    __module__ = "nplint.rules.reachability"  # a module the second process takes
    id = "NP801"
    phase = "main"


class _ParentRule:
    __module__ = "nplint.rules.isolation"
    id = "NP101"
    phase = "main"


@needs_a_second_process
def test_a_rules_child_that_hangs_is_killed_and_its_rules_run_here(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "MIN_OBJECTS", 0)
    monkeypatch.setattr(parallel, "MIN_DEADLINE_SECONDS", 0.5)
    monkeypatch.setattr(parallel, "SECONDS_PER_OBJECT", 0.0)
    children = counted_forks(monkeypatch)
    parent = os.getpid()

    def run(rules: Any, ctx: Any, config: Any) -> Any:
        if os.getpid() != parent:
            time.sleep(HANG)
        return [f"finding of {rule.id}" for rule in rules], []

    ctx: Any = SimpleNamespace(inventory=SimpleNamespace(objects=[object()] * 10))
    rules: Any = [_ParentRule, _ChildRule]
    started = time.monotonic()
    outcome = parallel.run_split(rules, ctx, None, run)
    assert time.monotonic() - started < HANG / 2
    _assert_reaped(children)
    assert outcome == (["finding of NP101", "finding of NP801"], [])


# -- 10: closed standard streams ---------------------------------------------------------------------------


def _closed(redirect: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[bytes]:
    """nplint run by a shell with one of its standard streams closed (``>&-``, ``2>&-``)."""
    command = " ".join([f"'{sys.executable}'", "-m", "nplint", *args, redirect])
    env = {**os.environ, "NPLINT_JOBS": "1", "PYTHONPATH": str(REPO)}
    return subprocess.run(["bash", "-c", command], cwd=cwd, capture_output=True, timeout=TIMEOUT, env=env)


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_closed_standard_streams(tmp_path: Path) -> None:
    clean = _repo(tmp_path / "clean", {"ns.yaml": NAMESPACE})
    done = _closed(">&-", ".", cwd=clean)
    assert (done.returncode, done.stdout, done.stderr) == (0, b"", b"")
    done = _closed("2>&-", ".", cwd=clean)
    assert (done.returncode, done.stdout, done.stderr) == (0, b"No problems found in 1 file.\n", b"")
    done = _closed(">&- 2>&-", ".", cwd=clean)
    assert (done.returncode, done.stdout, done.stderr) == (0, b"", b"")
    # With findings, a closed output is like /dev/null: the exit code still says 1.
    dirty = _repo(tmp_path / "dirty", {"bad.yaml": "kind: [\n"})
    done = _closed(">&-", ".", "--select", "NP001", cwd=dirty)
    assert (done.returncode, done.stdout, done.stderr) == (1, b"", b"")
    # An error message never lands in the report when standard error is closed.
    done = _closed("2>&-", ".", "missing.yaml", "--format", "json", cwd=clean)
    assert (done.returncode, done.stdout, done.stderr) == (2, b"", b"")
    done = _closed("<&-", "-", "--format", "json", cwd=clean)
    assert done.returncode == 1, done.stderr
    assert b"Traceback" not in done.stderr
    assert [(rule, path, message) for rule, path, _, _, message in _json_findings(done.stdout)] == [
        ("NP001", "-", "cannot read the file: standard input is closed")
    ]
