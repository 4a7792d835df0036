"""Run part of the rules in a second process on large repositories.

Rules only read the inventory, so a forked child can judge it as well as the
parent: it inherits the loaded trees without copying them, runs its share of
the rules, and sends back their findings (small, plain values) through a pipe.
The split keeps rules that share an expensive analysis together: the child
takes the rules built on the connectivity engine and the schema walk, about
half of the rule time on a large tree, and the parent the rest.

Where the second process cannot help (small input, one core, no ``fork``) or
fails (a finding that cannot be pickled, the child killed), the rules run in
the parent as they always did, so the outcome never depends on the split.
``NPLINT_JOBS=1`` keeps everything in one process.
"""

from __future__ import annotations

import os
import pickle
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nplint.config import Config
    from nplint.findings import Finding
    from nplint.lint import RuleFailure
    from nplint.rules.base import Rule, RuleContext

    Outcome = tuple[list[Finding], list[RuleFailure]]
    Runner = Callable[[Sequence[type[Rule]], RuleContext, Config], Outcome]

JOBS_ENV = "NPLINT_JOBS"
#: Below this many objects a second process costs more than it saves.
MIN_OBJECTS = 3000
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
    if os.environ.get(JOBS_ENV, "").strip() == "1":
        return False
    if not sys.platform.startswith("linux") or not hasattr(os, "fork"):
        return False  # fork is unsafe on macOS and absent on Windows
    return objects >= MIN_OBJECTS and (os.cpu_count() or 1) >= 2


def run_split(rules: Sequence[type[Rule]], ctx: RuleContext, config: Config, run: Runner) -> Outcome:
    """``run(rules, ctx, config)``, with the second process's share of ``rules`` run in a child."""
    theirs = [r for r in rules if r.__module__ in SECOND_PROCESS_MODULES]
    mine = [r for r in rules if r.__module__ not in SECOND_PROCESS_MODULES]
    if not theirs or not mine or not worth_a_second_process(len(ctx.inventory.objects)):
        return run(rules, ctx, config)
    sys.stdout.flush()
    sys.stderr.flush()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child's own lines are not traced
        status = 1
        try:
            os.close(read_end)
            data = pickle.dumps(run(theirs, ctx, config), protocol=pickle.HIGHEST_PROTOCOL)
            with os.fdopen(write_end, "wb") as out:
                out.write(data)
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)
    found, failures = run(mine, ctx, config)
    with os.fdopen(read_end, "rb") as source:
        data = source.read()
    _, status = os.waitpid(pid, 0)
    outcome = _received(data) if status == 0 else None
    if outcome is None:
        outcome = run(theirs, ctx, config)
    order = {rule.id: index for index, rule in enumerate(rules)}
    failures = sorted([*failures, *outcome[1]], key=lambda failure: order.get(failure.rule_id, -1))
    return [*found, *outcome[0]], failures


def _received(data: bytes) -> Outcome | None:
    try:
        outcome = pickle.loads(data)
    except Exception:  # a truncated or damaged message: the parent runs those rules itself
        return None
    return outcome if isinstance(outcome, tuple) and len(outcome) == 2 else None
