"""The kept findings of ``check``: reused only when nothing they depend on changed, never forged."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers import run_cli
from nplint import lint as lint_module
from nplint import result_cache
from nplint.findings import Finding, Level, ObjectRef, Related, Span
from nplint.lint import RuleFailure
from nplint.render_cache import CACHE_DIRECTORY, user_key

WEB = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: web:1}]}
"""

POLICY = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: api, namespace: shop}
spec:
  podSelector: {matchLabels: {app: api}}
  policyTypes: [Ingress]
"""

PROBES = """\
- from: shop/web
  to: shop/web
  port: 8080
  expect: allow
"""


@pytest.fixture
def judged(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """How many times a run judged the files (a reused run does not)."""
    calls: list[int] = []
    original = lint_module._judged

    def counting(*args: object, **kwargs: object) -> lint_module.LintResult:
        calls.append(1)
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(lint_module, "_judged", counting)
    yield calls


def _repo(root: Path) -> Path:
    (root / "shop").mkdir(parents=True)
    (root / "shop" / "web.yaml").write_text(WEB)
    (root / "shop" / "policy.yaml").write_text(POLICY)
    return root


def _check(root: Path, *args: str) -> tuple[int, str]:
    return run_cli(["check", "--format", "json", *args, str(root)])


def test_an_unchanged_run_is_not_judged_again_and_says_the_same(tmp_path: Path, judged: list[int]) -> None:
    root = _repo(tmp_path / "repo")
    cold = _check(root)
    assert judged == [1]
    warm = _check(root)
    assert judged == [1]
    assert warm == cold
    assert '"NP104"' in cold[1]
    assert cold[0] == 1
    assert any(p.suffix == ".result" for p in (root / CACHE_DIRECTORY).iterdir())


@pytest.mark.parametrize(
    "change",
    ["edit", "rename", "delete", "add", "config", "option", "named file", "no cache"],
)
def test_every_input_invalidates(tmp_path: Path, judged: list[int], change: str) -> None:
    root = _repo(tmp_path / "repo")
    _check(root)
    args: list[str] = []
    if change == "edit":
        (root / "shop" / "policy.yaml").write_text(POLICY.replace("app: api", "app: web"))
    elif change == "rename":
        (root / "shop" / "policy.yaml").rename(root / "shop" / "renamed.yaml")
    elif change == "delete":
        (root / "shop" / "web.yaml").unlink()
    elif change == "add":
        (root / "shop" / "more.yaml").write_text(POLICY.replace("name: api", "name: more"))
    elif change == "config":
        (root / ".nplint.yaml").write_text("ignore: [NP104]\n")
    elif change == "option":
        args = ["--select", "NP101"]
    elif change == "no cache":
        args = ["--no-cache"]
    if change == "named file":
        warm = run_cli(["check", "--format", "json", str(root / "shop" / "web.yaml")])
        cold = run_cli(["check", "--format", "json", "--no-cache", str(root / "shop" / "web.yaml")])
    else:
        warm = _check(root, *args)
        cold = _check(root, "--no-cache", *args)
    assert len(judged) == 3
    assert warm == cold


def test_a_changed_probe_file_invalidates(tmp_path: Path, judged: list[int]) -> None:
    root = _repo(tmp_path / "repo")
    (root / "probes.yaml").write_text(PROBES)
    (root / ".nplint.yaml").write_text("expect: [probes.yaml]\n")
    first = _check(root)
    (root / "probes.yaml").write_text(PROBES.replace("expect: allow", "expect: deny"))
    second = _check(root)
    assert len(judged) == 2
    assert second == _check(root, "--no-cache")
    assert first != second


def test_a_forged_result_is_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, judged: list[int]
) -> None:
    """A pull request commits a result entry that says its repository is clean."""
    root = _repo(tmp_path / "repo")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "attacker"))
    _check(root)
    attacker = user_key(os.path.realpath(root))
    assert attacker is not None
    (entry,) = [p for p in (root / CACHE_DIRECTORY).iterdir() if p.suffix == ".result"]
    clean = result_cache.encode_outcome([], [], [])
    entry.write_bytes(
        hmac.new(attacker, entry.name.encode() + b"\0" + clean, hashlib.sha256).digest() + clean
    )
    # The forger's own key believes it: the test can tell a forged entry from none.
    assert _check(root) == (0, _check(root)[1])
    assert '"findings": []' in _check(root)[1]
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "victim"))
    code, out = _check(root)
    assert (code, out) == _check(root, "--no-cache")
    assert code == 1 and '"NP104"' in out


def test_findings_keep_every_field() -> None:
    finding = Finding(
        rule_id="NP101",
        level=Level.ERROR,
        message="headline",
        path="a/b.yaml",
        span=Span(3, 5, 3, 9),
        object=ObjectRef("NetworkPolicy", "ns/", "p"),
        yaml_path="spec.podSelector",
        document_index=2,
        related=(Related("c.yaml", Span(1, 1, 1, 2), "there"),),
        fix="apiVersion: v1\n",
        worlds=("overlays prod", "overlays staging"),
        detail="why it matters",
    )
    assert tuple(f.name for f in dataclasses.fields(Finding)) == result_cache._FINDING_FIELDS
    failure = RuleFailure("NP999", "boom", "Kind ns/name (a.yaml:1)")
    decoded = result_cache.decode_outcome(result_cache.encode_outcome([finding], [finding], [failure]))
    assert decoded is not None
    (back,), (suppressed,), (failed,) = decoded
    for name in result_cache._FINDING_FIELDS:
        assert getattr(back, name) == getattr(finding, name)
        assert getattr(suppressed, name) == getattr(finding, name)
    assert failed == failure
    assert result_cache.decode_outcome(b"not marshal") is None


def test_a_probe_file_outside_the_repository_is_not_read_for_the_key(tmp_path: Path) -> None:
    """`expect` names a file outside: the key is made without reading it, as NP801 refuses it."""
    root = _repo(tmp_path / "repo")
    outside = tmp_path / "secret.yaml"
    outside.write_text(PROBES)
    (root / ".nplint.yaml").write_text("expect: [../secret.yaml]\n")
    first = result_cache._probe_digest("../secret.yaml", root)
    outside.write_text(PROBES.replace("allow", "deny"))
    assert result_cache._probe_digest("../secret.yaml", root) == first
    assert first.startswith("refused: ")
    assert _check(root) == _check(root, "--no-cache")
