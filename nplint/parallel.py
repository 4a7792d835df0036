"""Use a second process on large repositories: for loading, and for part of the rules.

Loading: a forked child loads every other file and sends the trees back as
plain values (:mod:`nplint.loading.transfer`), which the parent rebuilds in a
third of the time composing them takes, while it loads the other half.

Rules only read the inventory, so a forked child can judge it as well as the
parent: it inherits the loaded trees without copying them, runs its share of
the rules, and sends back their findings (small, plain values) through a pipe.
The split keeps rules that share an expensive analysis together: the child
takes the rules built on the connectivity engine and the schema walk, about
half of the rule time on a large tree, and the parent the rest. What both
halves read (the cluster view) is made before the fork.

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
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from nplint.loading.transfer import decode, encode

if TYPE_CHECKING:
    from nplint.config import Config
    from nplint.findings import Finding
    from nplint.lint import RuleFailure
    from nplint.loading import LoadedFile
    from nplint.rules.base import Rule, RuleContext

    Outcome = tuple[list[Finding], list[RuleFailure]]
    Runner = Callable[[Sequence[type[Rule]], RuleContext, Config], Outcome]

JOBS_ENV = "NPLINT_JOBS"
#: Bytes read from the child at a time.
_CHUNK = 1 << 20
#: Below this many objects (rules) or files (loading) a second process costs more than it saves.
MIN_OBJECTS = 3000
MIN_FILES = 2000
#: The child's share of the files, in percent: a little under half, as the parent
#: also rebuilds what the child sends.
CHILD_SHARE = 47
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
    theirs = [r for r in rules if r.__module__ in SECOND_PROCESS_MODULES]
    mine = [r for r in rules if r.__module__ not in SECOND_PROCESS_MODULES]
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


def load_split(
    count: int,
    load: Callable[[int], LoadedFile],
    received: dict[int, Any] | None = None,
    encoded: Callable[[int], Any] | None = None,
) -> list[LoadedFile]:
    """``[load(0), …, load(count - 1)]``; on a large repository nearly half are loaded by a child.

    The child sends its files back as plain values (:mod:`nplint.loading.transfer`);
    a file it cannot send that way, or all of them if it fails, is loaded here.
    ``received``, when given, gets the plain values of each file the child sent, by
    index, for a caller that keeps them (:mod:`nplint.document_cache`). ``encoded``,
    when given, is what the child runs: ``encode(load(index))`` made a faster way.
    """
    if count < MIN_FILES or not second_process_allowed():
        return [load(index) for index in range(count)]
    # Spread over the tree, so both halves get files of every kind and size.
    theirs = [
        index for index in range(count) if (index + 1) * CHILD_SHARE // 100 > index * CHILD_SHARE // 100
    ]
    deadline = max(MIN_DEADLINE_SECONDS, SECONDS_PER_FILE * count)
    make = encoded if encoded is not None else lambda index: encode(load(index))
    child = _Child(lambda: marshal.dumps([make(index) for index in theirs]), deadline)
    taken = set(theirs)
    try:
        mine = {index: load(index) for index in range(count) if index not in taken}
    except BaseException:
        child.cancel()
        raise
    data = child.result()
    records: list[Any] | None = None
    if data is not None:
        try:
            records = marshal.loads(data)
        except (EOFError, ValueError, TypeError):
            records = None
    if records is None or len(records) != len(theirs):
        records = [None] * len(theirs)
    for index, record in zip(theirs, records, strict=True):
        mine[index] = decode(record) if record is not None else load(index)
        if received is not None and record is not None:
            received[index] = record
    return [mine[index] for index in range(count)]


def in_second_process(work: Callable[[], bytes], seconds: float) -> _Child | None:
    """``work`` started in a forked child, whose bytes :meth:`_Child.result` waits for; None when not allowed.

    For work whose outcome the parent does not need until the end (writing a cache),
    run beside what the parent does meanwhile.
    """
    if not second_process_allowed():
        return None
    return _Child(work, seconds)


class _Child:
    """A forked process running ``work``; :meth:`result` waits for the bytes it returns, up to a deadline."""

    def __init__(self, work: Callable[[], bytes], seconds: float) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        self.deadline = time.monotonic() + seconds
        read_end, write_end = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:  # pragma: no cover - the child's own lines are not traced
            try:
                os.close(read_end)
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

    def result(self) -> bytes | None:
        """What the child sent, or None if it failed or missed its deadline (then it is killed)."""
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
            os.close(self.source)
        status = self._wait()
        return b"".join(chunks) if status == 0 else None

    def _wait(self) -> int | None:
        """The child's exit status once it ends; killed if it does not by the deadline."""
        while True:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return status
            if time.monotonic() >= self.deadline:
                self._kill()
                return None
            time.sleep(0.01)

    def _kill(self) -> None:
        import signal

        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)

    def cancel(self) -> None:
        """Stop the child (the parent's own share failed) and reap it."""
        os.close(self.source)
        self._kill()


def _received(data: bytes) -> Outcome | None:
    try:
        outcome = pickle.loads(data)
    except Exception:  # a truncated or damaged message: the parent runs those rules itself
        return None
    return outcome if isinstance(outcome, tuple) and len(outcome) == 2 else None
