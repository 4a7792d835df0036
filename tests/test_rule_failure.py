"""A rule that crashes is contained: exit 2 names the rule and the object, other findings still print."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers import run_cli
from nplint.cli import Session
from nplint.findings import Finding, Level
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
