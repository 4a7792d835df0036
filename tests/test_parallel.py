"""Loading and rules split over two processes give what one process gives; a failing child is replaced."""

from __future__ import annotations

import marshal
import os
import select
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from test_composing_paths import shape

from helpers import counted_forks, lint_paths
from nplint import parallel
from nplint.lint import LintResult, load_paths
from nplint.loading import LoadedFile, load_text
from nplint.loading.transfer import decode, encode

FIXTURES = Path(__file__).parent / "fixtures"

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or len(os.sched_getaffinity(0)) < 2,
    reason="the second process is used on Linux with two cores or more",
)


def _outcome(result: LintResult) -> tuple[object, ...]:
    return (
        [(f.rule_id, f.path, f.span, f.message, f.related, f.fix) for f in result.findings],
        [(f.rule_id, f.path, f.span) for f in result.suppressed],
        [str(failure) for failure in result.failures],
    )


def _lint_fixtures() -> LintResult:
    return lint_paths(["."], root=FIXTURES, extra={"select": ["ALL"]})


def test_split_run_equals_one_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(parallel.JOBS_ENV, "1")
    alone = _lint_fixtures()
    monkeypatch.delenv(parallel.JOBS_ENV)
    monkeypatch.setattr(parallel, "MIN_OBJECTS", 0)
    forks = counted_forks(monkeypatch)
    split = _lint_fixtures()
    # The rules are split once per world (the fixture folders hold many alternatives).
    assert len(split.worlds) > 1
    assert len(forks) == len(split.worlds)
    assert len(alone.findings) > 200
    assert {f.rule_id for f in split.findings} >= {"NP002", "NP106", "NP301", "NP704"}
    assert _outcome(split) == _outcome(alone)


def test_a_failing_child_leaves_its_rules_to_the_parent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(parallel.JOBS_ENV, "1")
    alone = _lint_fixtures()
    monkeypatch.delenv(parallel.JOBS_ENV)
    monkeypatch.setattr(parallel, "MIN_OBJECTS", 0)

    def cannot_pickle(*args: object, **kwargs: object) -> bytes:
        raise TypeError("cannot pickle this finding")

    # Only the child pickles, so only the child fails.
    monkeypatch.setattr(parallel.pickle, "dumps", cannot_pickle)
    assert _outcome(_lint_fixtures()) == _outcome(alone)


def test_small_input_and_jobs_1_stay_in_one_process(monkeypatch: pytest.MonkeyPatch) -> None:
    assert not parallel.worth_a_second_process(parallel.MIN_OBJECTS - 1)
    assert parallel.worth_a_second_process(parallel.MIN_OBJECTS)
    monkeypatch.setenv(parallel.JOBS_ENV, "1")
    assert not parallel.worth_a_second_process(10 * parallel.MIN_OBJECTS)


def _trees(files: list[LoadedFile]) -> list[tuple[object, ...]]:
    return [
        (
            f.path,
            [(p.span, p.message) for p in f.problems],
            f.suppressions,
            [
                (d.index, d.failed, [(p.span, p.message) for p in d.problems], shape(d.root))
                for d in f.documents
            ],
        )
        for f in files
    ]


def _load_fixtures() -> list[LoadedFile]:
    from nplint.config import Config
    from nplint.plugins.manager import PluginManager

    config = Config(root=FIXTURES)
    _, files = load_paths([str(FIXTURES)], config, PluginManager(autoload=False))
    return files


def test_loading_split_gives_the_same_files(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(parallel.JOBS_ENV, "1")
    alone = _load_fixtures()
    monkeypatch.delenv(parallel.JOBS_ENV)
    monkeypatch.setattr(parallel, "MIN_FILES", 0)
    received: list[str] = []
    real_decode = parallel.decode

    def counting_decode(record: tuple[object, ...]) -> LoadedFile:
        loaded = real_decode(record)
        received.append(loaded.path)
        return loaded

    monkeypatch.setattr(parallel, "decode", counting_decode)
    split = _load_fixtures()
    assert _trees(split) == _trees(alone)
    assert len(alone) > 300
    # How many the child sends depends on where the two processes meet (see the tests
    # below); none is rebuilt twice.
    assert len(received) == len(set(received))


def _namespace(index: int) -> LoadedFile:
    return load_text(f"{index}.yaml", f"kind: Namespace\nmetadata: {{name: n{index}}}\n")


def _wait_for(signal: int) -> None:
    """Wait until the other process writes to ``signal`` (bounded, so a broken split fails, not hangs)."""
    ready, _, _ = select.select([signal], [], [], 60)
    assert ready, "the other process never signalled"
    os.read(signal, 1)


def _sent_by_child(
    monkeypatch: pytest.MonkeyPatch, count: int, load: Callable[[int], LoadedFile]
) -> set[int]:
    monkeypatch.setattr(parallel, "MIN_FILES", 0)
    received: dict[int, object] = {}
    split = parallel.load_split(count, load, received)
    assert [(f.path, [d.root.to_python() for d in f.documents if d.root]) for f in split] == [
        (f.path, [d.root.to_python() for d in f.documents if d.root]) for f in map(_namespace, range(count))
    ]
    return set(received)


def test_the_child_loads_its_share_while_the_parent_is_busy(monkeypatch: pytest.MonkeyPatch) -> None:
    count = 100
    theirs = parallel.child_share(count)
    assert 0 < len(theirs) < count
    signal_read, signal_write = os.pipe()
    parent = os.getpid()
    waited: list[bool] = []

    def load(index: int) -> LoadedFile:
        if os.getpid() != parent:
            loaded = _namespace(index)
            if index == theirs[-1]:
                os.write(signal_write, b"x")  # the child is through its share
            return loaded
        if not waited:
            waited.append(True)
            _wait_for(signal_read)  # the parent is slow: it leaves the child its whole share
        return _namespace(index)

    try:
        assert _sent_by_child(monkeypatch, count, load) == set(theirs)
    finally:
        os.close(signal_read)
        os.close(signal_write)


def test_the_parent_takes_what_the_child_has_not_reached(monkeypatch: pytest.MonkeyPatch) -> None:
    count = 100
    theirs = parallel.child_share(count)
    signal_read, signal_write = os.pipe()
    parent = os.getpid()

    def load(index: int) -> LoadedFile:
        if os.getpid() != parent:
            # The child is slow: its first file takes until the parent has taken all the rest.
            _wait_for(signal_read)
            return _namespace(index)
        if index == theirs[1]:
            os.write(signal_write, b"x")
        return _namespace(index)

    try:
        assert _sent_by_child(monkeypatch, count, load) == {theirs[0]}
    finally:
        os.close(signal_read)
        os.close(signal_write)


def test_a_failing_loader_child_leaves_its_files_to_the_parent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(parallel.JOBS_ENV, "1")
    alone = _load_fixtures()
    monkeypatch.delenv(parallel.JOBS_ENV)
    monkeypatch.setattr(parallel, "MIN_FILES", 0)

    def cannot_send(value: object) -> bytes:
        raise ValueError("unmarshallable")

    monkeypatch.setattr(parallel.marshal, "dumps", cannot_send)
    assert _trees(_load_fixtures()) == _trees(alone)


def test_every_fixture_survives_the_transfer_or_is_kept_back() -> None:
    kept_back = 0
    files = _load_fixtures()
    for loaded in files:
        record = encode(loaded)
        if record is None:
            kept_back += 1  # a tree with an alias: the parent loads it itself
            continue
        assert _trees([decode(marshal.loads(marshal.dumps(record)))]) == _trees([loaded])
    assert 0 < kept_back < len(files) // 20


def test_no_second_process_beside_other_threads() -> None:
    import threading

    assert parallel.worth_a_second_process(parallel.MIN_OBJECTS)
    release = threading.Event()
    worker = threading.Thread(target=release.wait)
    worker.start()
    try:
        assert not parallel.worth_a_second_process(parallel.MIN_OBJECTS)
    finally:
        release.set()
        worker.join()


def test_when_the_parents_share_fails_the_child_is_stopped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "MIN_FILES", 0)
    children = counted_forks(monkeypatch)
    parent = os.getpid()

    def load(index: int) -> LoadedFile:
        if os.getpid() == parent:
            raise KeyboardInterrupt  # the user pressed Ctrl-C while the parent loaded its share
        return LoadedFile(f"{index}.yaml")

    with pytest.raises(KeyboardInterrupt):
        parallel.load_split(10, load)
    [pid] = children
    # Reaped: the process is gone, not a zombie.
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def test_work_meanwhile_is_done_once_while_the_child_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    count = 100
    signal_read, signal_write = os.pipe()
    parent = os.getpid()
    done: list[int] = []

    def load(index: int) -> LoadedFile:
        if os.getpid() != parent and index == count - 1:
            os.write(signal_write, b"x")  # the child has reached the last file
        return _namespace(index)

    def meanwhile() -> None:
        assert os.getpid() == parent
        done.append(len(done))
        _wait_for(signal_read)  # the parent is busy until the child has loaded every file

    monkeypatch.setattr(parallel, "MIN_FILES", 0)
    received: dict[int, object] = {}
    try:
        split = parallel.load_split(count, load, received, meanwhile=meanwhile)
    finally:
        os.close(signal_read)
        os.close(signal_write)
    assert done == [0]
    # With work of its own first, the parent leaves the child every file, not a share.
    assert set(received) == set(range(count))
    assert [f.path for f in split] == [f"{index}.yaml" for index in range(count)]


@pytest.mark.parametrize(("count", "weight", "jobs"), [(10, 0, None), (10, 5000, "1")])
def test_work_meanwhile_is_done_once_without_a_child(
    monkeypatch: pytest.MonkeyPatch, count: int, weight: int, jobs: str | None
) -> None:
    if jobs is not None:
        monkeypatch.setenv(parallel.JOBS_ENV, jobs)
    forks: list[int] = []
    monkeypatch.setattr(parallel.os, "fork", lambda: forks.append(1) or 0)
    order: list[str] = []

    def load(index: int) -> LoadedFile:
        order.append("load")
        return _namespace(index)

    split = parallel.load_split(count, load, meanwhile=lambda: order.append("meanwhile"), weight=weight)
    assert not forks
    assert order == ["load"] * count + ["meanwhile"]
    assert [f.path for f in split] == [f"{index}.yaml" for index in range(count)]


def test_the_work_meanwhile_counts_toward_a_second_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fleet has few manifests and many kustomizations to plan: together they are worth a child."""
    forks = counted_forks(monkeypatch)
    count = parallel.MIN_FILES // 2
    split = parallel.load_split(count, _namespace, meanwhile=lambda: None, weight=parallel.MIN_FILES - count)
    assert len(forks) == 1
    assert [f.path for f in split] == [f"{index}.yaml" for index in range(count)]


def test_the_parent_takes_what_a_child_sent_without_waiting_for_it_to_exit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_exit = os._exit

    def slow_exit(code: int) -> None:  # what a child with a large heap costs, exaggerated
        time.sleep(1)
        real_exit(code)

    monkeypatch.setattr(parallel.os, "_exit", slow_exit)  # the child inherits it
    child = parallel._Child(lambda: b"sent", 60.0)
    assert child.result() == b"sent"
    # The child is still exiting: the parent went on without it.
    assert os.waitpid(child.pid, os.WNOHANG) == (0, 0)
    assert child in parallel._ENDING
    parallel.reap_ended()
    assert child in parallel._ENDING  # still ending: not waited for
    parallel.reap_ended(wait=True)  # what the console script does before it ends
    assert child._reaped and child not in parallel._ENDING
    with pytest.raises(ChildProcessError):
        os.waitpid(child.pid, os.WNOHANG)


def test_the_children_left_to_end_are_reaped_later(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "MIN_OBJECTS", 0)
    monkeypatch.setattr(parallel, "MIN_FILES", 0)
    forks = counted_forks(monkeypatch)
    _lint_fixtures()
    assert len(forks) > 2  # the loading child and one rule child per world
    deadline = time.monotonic() + 30
    while parallel._ENDING and time.monotonic() < deadline:
        parallel.reap_ended()
        time.sleep(0.01)
    assert not parallel._ENDING
    for pid in forks:
        with pytest.raises(ChildProcessError):  # reaped: gone, not a zombie
            os.waitpid(pid, os.WNOHANG)


def test_the_console_script_ends_cleanly_while_another_thread_imports_the_parallel_module() -> None:
    # The language server's exit can end the process while a worker thread is still
    # importing nplint.parallel: the console script then finds it half made.
    script = (
        "import sys, types\n"
        "import nplint.cli as cli\n"
        "def main():\n"
        "    sys.modules['nplint.parallel'] = types.ModuleType('nplint.parallel')\n"
        "    return 0\n"
        "cli.main = main\n"
        "cli.entry()\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stderr) == (0, "")


def test_a_child_past_its_deadline_is_killed_when_reaped() -> None:
    child = parallel._Child(lambda: [time.sleep(60) or b""], 60.0, streamed=True)
    child.close()
    child.deadline = time.monotonic()  # as if a minute had passed
    child.release()
    parallel.reap_ended()
    assert child._reaped and child not in parallel._ENDING
    with pytest.raises(ChildProcessError):
        os.waitpid(child.pid, os.WNOHANG)


def test_with_one_world_the_run_phase_rules_run_in_the_second_process(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from nplint.rules.rendering import NotRendered

    for app in ("a", "b"):
        folder = tmp_path / app
        folder.mkdir()
        (folder / "kustomization.yaml").write_text("resources: [deploy.yaml]\n")
        (folder / "deploy.yaml").write_text(
            f"apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {app}, namespace: {app}}}\n"
            f"spec:\n  selector: {{matchLabels: {{app: {app}}}}}\n"
            f"  template:\n    metadata: {{labels: {{app: {app}}}}}\n"
            "    spec: {containers: [{name: c, image: nginx}]}\n"
        )
    ran_in = tmp_path.parent / f"{tmp_path.name}-np005-pids"
    real_check = NotRendered.check

    def recording_check(self: NotRendered, ctx: object) -> object:
        with ran_in.open("a") as out:
            out.write(f"{os.getpid()}\n")
        return real_check(self, ctx)  # type: ignore[arg-type]

    monkeypatch.setattr(NotRendered, "check", recording_check)

    def judged() -> LintResult:
        return lint_paths(["."], root=tmp_path, extra={"render": "never"})

    monkeypatch.setenv(parallel.JOBS_ENV, "1")
    alone = judged()
    monkeypatch.delenv(parallel.JOBS_ENV)
    monkeypatch.setattr(parallel, "MIN_OBJECTS", 0)
    ran_in.unlink()
    forks = counted_forks(monkeypatch)
    split = judged()
    assert len(split.worlds) == 1
    assert [f.rule_id for f in split.findings].count("NP005") == 2
    assert _outcome(split) == _outcome(alone)
    # Run by the child, which the parent forked for the rules, and by no other process.
    assert [int(pid) for pid in ran_in.read_text().split()] == [forks[-1]]


def test_fixes_planned_by_two_processes_replace_what_one_process_replaces(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from nplint.fixing import run as fixing

    result = _lint_fixtures()
    readable = [loaded.path for loaded in result.files]
    monkeypatch.setenv(parallel.JOBS_ENV, "1")
    alone = fixing.replacements(FIXTURES, result.findings, readable)
    monkeypatch.delenv(parallel.JOBS_ENV)
    monkeypatch.setattr(fixing, "SPLIT_FIXES", 0)
    forks = counted_forks(monkeypatch)
    split = fixing.replacements(FIXTURES, result.findings, readable)
    assert len(forks) == 1
    assert len(alone) > 20
    assert list(split.items()) == list(alone.items())
