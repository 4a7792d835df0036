"""Every scenario in tests/fixtures/connectivity/: its probes.yaml states the expected verdicts.

A scenario is a directory of manifests, a ``probes.yaml`` and optionally a
``.nplint.yaml`` (for ``cni:`` or ``cluster.pod-cidr``). Each covers one pitfall of
networkpolicy-semantics §2 and §7 that decides reachability; the manifests'
comments say which.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from helpers import FIXTURES
from nplint.commands import run_command

SCENARIOS = sorted(p for p in (FIXTURES / "connectivity").iterdir() if (p / "probes.yaml").is_file())


def _reach(scenario: Path, monkeypatch: pytest.MonkeyPatch, *extra: str) -> tuple[int, str]:
    monkeypatch.chdir(scenario)
    out = io.StringIO()
    code = run_command("reach", [".", "--probes", "probes.yaml", *extra], out)
    return code, out.getvalue()


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[p.name for p in SCENARIOS])
def test_scenario_probes_hold(scenario: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, output = _reach(scenario, monkeypatch, "--format", "json")
    data = json.loads(output)
    failed = [p for p in data["probes"] if p.get("ok") is False]
    assert not failed, json.dumps(failed, indent=2)
    assert code == 0
    assert data["probes"], "a scenario without probes tests nothing"
    assert all("expect" in p for p in data["probes"]), "every scenario probe states its expectation"


def test_scenarios_cover_the_pitfalls() -> None:
    names = {p.name for p in SCENARIOS}
    assert len(names) >= 15
    text = "\n".join((p / "manifests.yaml").read_text(encoding="utf-8") for p in SCENARIOS)
    for pitfall in (
        "P04",
        "P05",
        "P06",
        "P07",
        "P09",
        "P10",
        "P11",
        "P12",
        "P13",
        "P14",
        "P15",
        "P19",
        "P23",
    ):
        assert pitfall in text, f"no scenario names pitfall {pitfall}"
    for section in ("§2.1", "§2.2", "§2.4", "§2.6", "§2.7", "§2.8", "§2.10", "§2.12", "§1.4"):
        assert section in text, f"no scenario names semantics {section}"
