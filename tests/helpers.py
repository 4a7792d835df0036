"""Shared test helpers: where things are, and how to lint in-process."""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from nplint.cli import Session, main
from nplint.config import build_config
from nplint.lint import LintResult, lint

TESTS = Path(__file__).parent
REPO = TESTS.parent
FIXTURES = TESTS / "fixtures"
SHARED = REPO.parent / "shared"
CORPUS = SHARED / "corpus"
SARIF_SCHEMA = SHARED / "schemas" / "sarif-schema-2.1.0.json"


def lint_paths(
    paths: Sequence[str],
    *,
    root: Path,
    select: Sequence[str] | None = None,
    extra: dict[str, Any] | None = None,
    stdin: bytes | None = None,
) -> LintResult:
    data: dict[str, Any] = dict(extra or {})
    if select is not None:
        data["select"] = list(select)
    config = build_config(data, source=None, root=root)
    session = Session()
    absolute = [p if p == "-" else str(root / p) for p in paths]
    kwargs: dict[str, Any] = {}
    if stdin is not None:
        kwargs["stdin"] = lambda: stdin
    return lint(absolute, config, session.plugins, session.rules, **kwargs)


def lint_text(
    text: str,
    *,
    select: Sequence[str] | None = None,
    extra: dict[str, Any] | None = None,
    tmp_path: Path,
    name: str = "manifest.yaml",
) -> LintResult:
    (tmp_path / name).write_text(text, encoding="utf-8")
    return lint_paths([name], root=tmp_path, select=select, extra=extra)


def run_cli(args: Sequence[str], *, stdin: bytes | None = None) -> tuple[int, str]:
    """Run ``nplint`` in-process; returns the exit code and standard output."""
    out = io.StringIO()
    code = main(list(args), stdout=out, stdin=(lambda: stdin) if stdin is not None else None)
    return code, out.getvalue()


def counted_forks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The pids of the children :mod:`nplint.parallel` forks from now on (the list fills as they are made)."""
    from nplint import parallel

    forks: list[int] = []
    real_fork = os.fork

    def counting_fork() -> int:
        pid = real_fork()
        if pid:
            forks.append(pid)
        return pid

    monkeypatch.setattr(parallel.os, "fork", counting_fork)
    return forks
