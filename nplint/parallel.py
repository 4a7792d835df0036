"""Use a second process on large repositories: for loading, and for part of the rules.

Loading: a forked child loads part of the files and sends the trees back as
plain values (:mod:`nplint.loading.transfer`), a batch at a time, which the
parent rebuilds in a third of the time composing them takes, between loads of
its own; once its own are loaded, the parent takes the files the child has not
reached yet from the far end, so both cores load until the last file
(:func:`load_split`).

Rules only read the inventory, so a forked child can judge it as well as the
parent: it inherits the loaded trees without copying them, runs its share of
the rules, and sends back their findings (small, plain values) through a pipe.
The split keeps rules that share an expensive analysis together: the child
takes the rules built on the connectivity engine and the schema walk, about
half of the rule time on a large tree, with, when there is one world, the rules
that judge the run as a whole (what was not rendered, the CNI of every world);
the parent takes the rest. What both halves read (the cluster view) is made
before the fork.

Where the second process cannot help (small input, one core, no ``fork``) or
fails (a finding that cannot be pickled, the child killed), the work is done in
the parent as it always was, so the outcome never depends on the split.
``NPLINT_JOBS=1`` keeps everything in one process.
"""

from __future__ import annotations

import contextlib
import marshal
import os
import pickle
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from nplint.loading.transfer import decode, encode

if TYPE_CHECKING:
    from nplint.config import Config
    from nplint.findings import Finding
    from nplint.lint import RuleFailure
    from nplint.loading import LoadedFile
    from nplint.rules.base import Rule, RuleContext

    Outcome = tuple[list[Finding], list[RuleFailure]]
    Runner = Callable[[Sequence[type[Rule]], RuleContext, Config], Outcome]

T = TypeVar("T")

JOBS_ENV = "NPLINT_JOBS"
#: Bytes read from the child at a time, and the size asked for a pipe the child streams into.
_CHUNK = 1 << 20
#: Below this many objects (rules) or files (loading) a second process costs more than it saves.
#: For the rules (about 70 us of work per object) measured on generated trees, medians of five
#: runs on two cores: 500 objects the same either way, 1,000 objects 3 % faster split, a fleet
#: of 1,800 objects 5 % faster.
MIN_OBJECTS = 800
MIN_FILES = 2000
#: The child's share of the files it starts with, in percent: more than half, as the
#: parent also rebuilds what the child sends, and takes from the end of the child's
#: share what the child has not reached when the parent's own files are loaded.
CHILD_SHARE = 60
#: How long the parent waits for the child, from the fork: generous, as the
#: child's work is at most about the parent's. Past it the child is killed and
#: the parent does that share itself, so a stuck child costs time, never the run.
MIN_DEADLINE_SECONDS = 60.0
SECONDS_PER_FILE = 0.05
SECONDS_PER_OBJECT = 0.02
#: The rule modules the second process takes (see the module's docstring).
SECOND_PROCESS_MODULES = frozenset(
    (
        "nplint.rules.reachability",
        "nplint.rules.redundancy",
        "nplint.rules.expectations",
        "nplint.rules.schema",
        "nplint.rules.hygiene",
    )
)


def worth_a_second_process(objects: int) -> bool:
    """Whether the rules over ``objects`` objects are worth splitting."""
    return objects >= MIN_OBJECTS and second_process_allowed()


def second_process_allowed() -> bool:
    """Whether this process may fork a helper at all (configuration, platform, threads, cores)."""
    if os.environ.get(JOBS_ENV, "").strip() == "1":
        return False
    if not sys.platform.startswith("linux") or not hasattr(os, "fork"):
        return False  # fork is unsafe on macOS and absent on Windows
    if threading.active_count() > 1:
        return False  # an embedding program's threads may hold locks the child would wait on
    # The cores this process may run on, which a container or taskset may limit.
    return len(os.sched_getaffinity(0)) >= 2


def run_split(rules: Sequence[type[Rule]], ctx: RuleContext, config: Config, run: Runner) -> Outcome:
    """``run(rules, ctx, config)``, with the second process's share of ``rules`` run in a child."""
    theirs = [r for r in rules if _second(r)]
    mine = [r for r in rules if not _second(r)]
    if not theirs or not mine or not worth_a_second_process(len(ctx.inventory.objects)):
        return run(rules, ctx, config)
    deadline = max(MIN_DEADLINE_SECONDS, SECONDS_PER_OBJECT * len(ctx.inventory.objects))
    child = _Child(lambda: pickle.dumps(run(theirs, ctx, config), protocol=pickle.HIGHEST_PROTOCOL), deadline)
    try:
        found, failures = run(mine, ctx, config)
    except BaseException:
        child.cancel()
        raise
    data = child.result()
    outcome = _received(data) if data is not None else None
    if outcome is None:
        outcome = run(theirs, ctx, config)
    order = {rule.id: index for index, rule in enumerate(rules)}
    failures = sorted([*failures, *outcome[1]], key=lambda failure: order.get(failure.rule_id, -1))
    return [*found, *outcome[0]], failures


def _second(rule: type[Rule]) -> bool:
    """Whether the second process runs ``rule``: its module's, and the rules of the "run" phase
    (given with one world's main rules; the parent's share is the larger)."""
    return rule.__module__ in SECOND_PROCESS_MODULES or rule.phase == "run"


def child_share(count: int) -> list[int]:
    """The indexes of ``count`` files the loading child starts with, spread over the tree.

    Both halves get files of every kind and size. The child works through them from the
    first; the parent, once its own are loaded, takes the child's from the last (see
    :func:`load_split`), so the share is where the child starts, not what it ends with.
    """
    return [index for index in range(count) if (index + 1) * CHILD_SHARE // 100 > index * CHILD_SHARE // 100]


def load_split(
    count: int,
    load: Callable[[int], LoadedFile],
    received: dict[int, Any] | None = None,
    encoded: Callable[[int], Any] | None = None,
    meanwhile: Callable[[], None] | None = None,
    weight: int = 0,
) -> list[LoadedFile]:
    """``[load(0), …, load(count - 1)]``; on a large repository about half are loaded by a child.

    The child sends its files back as plain values (:mod:`nplint.loading.transfer`), a
    batch at a time, which the parent rebuilds between loads of its own, so both cores
    work until the end. Neither waits for the other: the child works through its share
    (:func:`child_share`) from the first file, and the parent, once its own files are
    loaded, takes the child's from the last, until they meet. Where they meet, or when
    the other core is busy with other programs, is a matter of timing; what each file
    gives is not, as a file gives the same tree whichever process loaded it. A file the
    child cannot send that way, or did not send (it failed, or stopped at the meeting
    point), is loaded here.

    ``received``, when given, gets the plain values of each file the child sent, by
    index, for a caller that keeps them (:mod:`nplint.document_cache`). ``encoded``,
    when given, is what the child runs: ``encode(load(index))`` made a faster way.

    ``meanwhile``: work of the parent's that needs no file loaded (planning a fleet's
    renders), about ``weight`` files' worth. With a child, the parent does it first and
    the child starts with every file, so whichever is free loads; without, it is done
    after the files are loaded.
    """
    if count + weight < MIN_FILES or not count or not second_process_allowed():
        files = [load(index) for index in range(count)]
        if meanwhile is not None:
            meanwhile()
        return files
    theirs = child_share(count) if meanwhile is None else list(range(count))
    make = encoded if encoded is not None else lambda index: encode(load(index))
    seconds = max(MIN_DEADLINE_SECONDS, SECONDS_PER_FILE * count)
    return split_work(count, load, make, lambda record: decode(record), theirs, seconds, received, meanwhile)


def split_work(
    count: int,
    work: Callable[[int], T],
    plain: Callable[[int], Any],
    rebuild: Callable[[Any], T],
    theirs: Sequence[int],
    seconds: float,
    received: dict[int, Any] | None = None,
    meanwhile: Callable[[], None] | None = None,
) -> list[T]:
    """``[work(0), …, work(count - 1)]``, ``theirs`` started by a forked child (see :func:`load_split`).

    The child runs ``plain(index)`` (``work(index)`` as a value :mod:`marshal` writes,
    or None for one it cannot send) on ``theirs`` from the first; the parent runs
    ``meanwhile``, then ``work`` on the indexes not in ``theirs``, then on ``theirs``
    from the last until the two meet, and makes each value the child sent with
    ``rebuild``. Past ``seconds`` the child is killed and the parent does the rest.
    The caller has asked :func:`second_process_allowed`.
    """
    import mmap  # imported when a child is forked: most runs fork none

    # Two counters both processes see: how many of ``theirs`` the child has taken (from
    # the first), and from which position the parent has taken the rest. Neither process
    # relies on reading the other's exactly: an item both take is done twice, one
    # neither takes is done here after the child ends.
    counters = memoryview(mmap.mmap(-1, 16)).cast("q")
    counters[_STOLEN] = len(theirs)
    child = _Child(lambda: _batches(theirs, plain, counters), seconds, streamed=True)
    done: dict[int, T] = {}
    batches = _Batches(child, len(theirs))

    def rebuilt(position: int, record: Any) -> None:
        index = theirs[position]
        if record is None or index in done:
            return  # done here: one the child cannot send, or both took where they met
        done[index] = rebuild(record)
        if received is not None:
            received[index] = record

    try:
        if meanwhile is not None:
            meanwhile()
        shared_out = set(theirs)
        for index in range(count):
            if index not in shared_out:
                done[index] = work(index)
                batches.take(rebuilt)
        # The child's share from the last, while it has not taken it.
        position = len(theirs)
        while position > batches.sent:
            batches.take(rebuilt)
            candidate = position - 1
            if candidate < batches.sent:
                break
            counters[_STOLEN] = candidate  # said before looking, as the child takes before looking
            if candidate < counters[_TAKEN]:
                break  # the child has it
            done[theirs[candidate]] = work(theirs[candidate])
            position = candidate
        batches.finish(rebuilt)
    except BaseException:
        child.cancel()
        raise
    # What the child did not send (it failed, stopped where the parent took over, or the
    # item is one it cannot send) is done here.
    for index in theirs:
        if index not in done:
            done[index] = work(index)
    return [done[index] for index in range(count)]


#: The shared counters of a loading split: how many of its files the child has taken, and
#: the first of them the parent has taken.
_TAKEN, _STOLEN = 0, 1
#: Files the loading child sends at a time: small enough that the parent rebuilds them
#: while the child loads more, large enough that sending costs little.
BATCH_FILES = 32


def _batches(theirs: Sequence[int], make: Callable[[int], Any], counters: memoryview) -> Iterator[bytes]:
    """The child's work: its share from the first, in batches, until it meets what the parent took.

    Each batch is its length (4 bytes) and ``marshal.dumps((first position, records))``.
    """
    batch: list[Any] = []
    first = 0
    for position, index in enumerate(theirs):
        counters[_TAKEN] = position + 1  # taken before looking, as the parent says before looking
        if position >= counters[_STOLEN]:
            break
        batch.append(make(index))
        if len(batch) == BATCH_FILES:
            yield _framed(first, batch)
            first, batch = position + 1, []
    if batch:
        yield _framed(first, batch)


def _framed(first: int, records: list[Any]) -> bytes:
    data = marshal.dumps((first, records))
    return len(data).to_bytes(4, "little") + data


class _Batches:
    """The parent's side of the loading child's batches: read as they come, rebuilt in order."""

    def __init__(self, child: _Child, expected: int) -> None:
        self.child = child
        self.expected = expected
        #: How many of the child's files (from the first) have been received.
        self.sent = 0
        self._buffer = bytearray()
        self._open = True
        self._broken = False
        import select

        self._poller = select.poll()
        self._poller.register(child.source, select.POLLIN)

    def take(self, rebuild: Callable[[int, Any], None]) -> None:
        """Rebuild the batches that have arrived, without waiting."""
        while self._open and self._poller.poll(0):
            self._read(rebuild)

    def finish(self, rebuild: Callable[[int, Any], None]) -> None:
        """Wait for the child's last batch and its end, up to the deadline (then it is killed)."""
        while self._open:
            remaining = self.child.deadline - time.monotonic()
            if remaining <= 0:
                self._close()
                self.child._kill()
                return
            if self._poller.poll(remaining * 1000):
                self._read(rebuild)
        self.child.release()

    def _read(self, rebuild: Callable[[int, Any], None]) -> None:
        chunk = os.read(self.child.source, _CHUNK)
        if not chunk:
            self._close()
            return
        if self._broken:
            return  # read to the end, so the child is not left blocked writing
        buffer = self._buffer
        buffer += chunk
        while len(buffer) >= 4:
            size = int.from_bytes(buffer[:4], "little")
            if len(buffer) < 4 + size:
                break
            data = bytes(buffer[4 : 4 + size])
            del buffer[: 4 + size]
            try:
                first, records = marshal.loads(data)
            except (EOFError, ValueError, TypeError):
                first, records = None, None
            if first != self.sent or not isinstance(records, list) or first + len(records) > self.expected:
                self._broken = True  # not what this child sends: the parent loads the rest
                buffer.clear()
                return
            for offset, record in enumerate(records):
                rebuild(first + offset, record)
            self.sent += len(records)

    def _close(self) -> None:
        self._open = False
        self.child.close()


def in_second_process(work: Callable[[], bytes], seconds: float) -> _Child | None:
    """``work`` started in a forked child, whose bytes :meth:`_Child.result` waits for; None when not allowed.

    For work whose outcome the parent does not need until the end (writing a cache),
    run beside what the parent does meanwhile.
    """
    if not second_process_allowed():
        return None
    return _Child(work, seconds)


class _Child:
    """A forked process running ``work``; :meth:`result` waits for the bytes it returns, up to a deadline.

    ``streamed``: ``work`` returns the bytes in pieces (an iterator), each sent as it is made.
    """

    def __init__(self, work: Callable[[], Any], seconds: float, *, streamed: bool = False) -> None:
        reap_ended()
        sys.stdout.flush()
        sys.stderr.flush()
        self.deadline = time.monotonic() + seconds
        read_end, write_end = os.pipe()
        if streamed:
            # A larger pipe, so the child seldom waits for the parent to read between its loads.
            import fcntl

            with contextlib.suppress(OSError):
                fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, _CHUNK)
        self.pid = os.fork()
        if self.pid == 0:  # pragma: no cover - the child's own lines are not traced
            try:
                os.close(read_end)
                if streamed:
                    with os.fdopen(write_end, "wb") as out:
                        for piece in work():
                            out.write(piece)
                            out.flush()
                else:
                    data = work()
                    with os.fdopen(write_end, "wb") as out:
                        out.write(data)
            except BaseException:
                # MemoryError, a bug, Ctrl-C: nothing to report, the parent does the work.
                # Exit at once, before anything else could need memory or wait on a lock.
                os._exit(1)
            os._exit(0)
        os.close(write_end)
        self.source = read_end
        self._closed = False
        self._reaped = False

    def close(self) -> None:
        """Close the parent's end of the pipe (once)."""
        if not self._closed:
            self._closed = True
            os.close(self.source)

    def result(self) -> bytes | None:
        """What the child sent, or None if it missed its deadline (then it is killed).

        A child that failed sends nothing, or less than a whole message: the caller checks
        what came (a pickle that does not load, a batch that is not whole), not the exit
        status, so the parent does not wait for the child's exit (see :meth:`release`).
        """
        import select  # imported when a child is waited for: most runs fork none

        chunks: list[bytes] = []
        poller = select.poll()
        poller.register(self.source, select.POLLIN)
        try:
            while True:
                remaining = self.deadline - time.monotonic()
                if remaining <= 0:
                    self._kill()
                    return None
                if not poller.poll(remaining * 1000):
                    continue  # the deadline passed: the loop kills the child
                chunk = os.read(self.source, _CHUNK)
                if not chunk:
                    break
                chunks.append(chunk)
        except BaseException:  # Ctrl-C while waiting: the child goes too
            self._kill()
            raise
        finally:
            self.close()
        self.release()
        return b"".join(chunks)

    def release(self) -> None:
        """Leave the child, which has closed its end, to end on its own; it is reaped later.

        A process with a large heap takes milliseconds to exit, which the parent would
        spend waiting. :func:`reap_ended` reaps it when the next child is forked, or
        when the caller asks; until then it is a zombie, so its number is not reused.
        """
        if not self._reaped and self not in _ENDING:
            _ENDING.append(self)

    def _kill(self) -> None:
        import signal

        if self._reaped:
            return  # its number may be another process's by now
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):  # reaped by the embedding program
            os.waitpid(self.pid, 0)
        self._reaped = True

    def cancel(self) -> None:
        """Stop the child (the parent's own share failed) and reap it."""
        self.close()
        self._kill()


#: Children that have sent all they will and are ending, not reaped yet (see :meth:`_Child.release`).
_ENDING: list[_Child] = []


def reap_ended(*, wait: bool = False) -> None:
    """Reap the children that have ended; one past its deadline is killed.

    ``wait``: wait for those still ending (a process ending soon, which should neither
    leave zombies to its own parent nor leave its children's time unaccounted).
    """
    while _ENDING:
        for child in list(_ENDING):
            try:
                pid, _ = os.waitpid(child.pid, os.WNOHANG)
            except ChildProcessError:
                pid = child.pid  # reaped by the embedding program (SIGCHLD ignored)
            if pid:
                child._reaped = True
            elif time.monotonic() >= child.deadline:
                child._kill()
            if child._reaped:
                _ENDING.remove(child)
        if not wait or not _ENDING:
            return
        time.sleep(0.001)


def _received(data: bytes) -> Outcome | None:
    try:
        outcome = pickle.loads(data)
    except Exception:  # a truncated or damaged message: the parent runs those rules itself
        return None
    return outcome if isinstance(outcome, tuple) and len(outcome) == 2 else None
