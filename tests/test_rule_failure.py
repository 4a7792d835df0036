"""A rule that crashes is contained: exit 2 names the rule and the object, other findings still print."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from helpers import run_cli
from nplint.cli import Session
from nplint.config import Config
from nplint.findings import Finding, Level
from nplint.lint import lint
from nplint.plugins import hookimpl
from nplint.rules.base import Rule, RuleContext, RuleRegistry

POLICIES = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: fine
  namespace: shop
spec:
  podSelector:
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: poison
  namespace: shop
spec:
  podSelector: {}
"""


class Crashes(Rule):
    id = "NP998"
    name = "crashes-on-poison"
    summary = "A rule with a bug, for the test."
    level = Level.WARNING

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        for policy in ctx.inventory.policies:
            if policy.name == "poison":
                raise ZeroDivisionError("division by zero")
            yield self.finding(policy, None, "seen")


class Plugin:
    @hookimpl
    def nplint_register_rules(self, registry: RuleRegistry) -> None:
        registry.add(Crashes)


def test_failing_rule_is_contained(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    original = Session.__init__

    def with_plugin(self: Session) -> None:
        original(self)
        self.plugins.register(Plugin(), name="crashing-test-plugin")
        self.plugins.register_rules(self.rules)

    monkeypatch.setattr(Session, "__init__", with_plugin)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "p.yaml").write_text(POLICIES)
    code, out = run_cli(["--select", "NP204,NP998", "."])
    assert code == 2
    # What the failing rule found before it failed is kept; the other rules are complete.
    assert out.splitlines()[:2] == [
        "p.yaml:4:9: NP998 [crashes-on-poison] seen",
        out.splitlines()[1],
    ]
    assert out.splitlines()[1].startswith("p.yaml:7:3: NP204 [implicit-pod-selector]")
    err = capsys.readouterr().err
    assert (
        "rule NP998 failed on NetworkPolicy shop/poison (p.yaml:12): ZeroDivisionError: division by zero"
        in err
    )
    assert "Traceback" not in err


class RecordsCollector(Rule):
    id = "NP997"
    name = "records-collector"
    summary = "Notes whether the garbage collector runs while rules run, for the test."
    level = Level.WARNING
    seen: ClassVar[list[bool]] = []

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        RecordsCollector.seen.append(gc.isenabled())
        raise RuntimeError("after recording")
        yield  # pragma: no cover


def test_collector_is_paused_for_the_run_and_restored_after_a_failure(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(POLICIES)
    config = Config(root=tmp_path)
    session = Session()
    assert gc.isenabled()
    result = lint([str(tmp_path)], config, session.plugins, session.rules, rules=[RecordsCollector])
    assert RecordsCollector.seen == [False]
    assert [f.rule_id for f in result.failures] == ["NP997"]
    assert gc.isenabled()
    gc.disable()
    try:
        lint([str(tmp_path)], config, session.plugins, session.rules, rules=[RecordsCollector])
        # A caller that had switched it off keeps it off.
        assert not gc.isenabled()
    finally:
        gc.enable()
