"""Rules split over two processes give exactly what one process gives, and fall back when the child fails."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from helpers import lint_paths
from nplint import parallel
from nplint.lint import LintResult

FIXTURES = Path(__file__).parent / "fixtures"

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or (os.cpu_count() or 1) < 2,
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
    forks: list[int] = []
    real_fork = os.fork

    def counting_fork() -> int:
        pid = real_fork()
        if pid:
            forks.append(pid)
        return pid

    monkeypatch.setattr(parallel.os, "fork", counting_fork)
    split = _lint_fixtures()
    assert len(forks) == 1
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
