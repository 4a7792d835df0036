"""The document cache: warm says what cold says, a change invalidates exactly, a forged pack is ignored."""

from __future__ import annotations

import hashlib
import hmac
import json
import marshal
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from helpers import lint_paths
from nplint import document_cache, loading
from nplint.document_cache import DocumentCache
from nplint.render_cache import CACHE_DIRECTORY, RenderCache, user_key

OPEN_INGRESS = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {name}
  namespace: shop
spec:
  podSelector: {{matchLabels: {{app: web}}}}
  ingress:
    - {{}}
"""

WEB = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: web:1, ports: [{containerPort: 8080}]}]
"""

ANCHORED = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: anchored
  namespace: shop
  labels: &labels {team: a}
spec:
  podSelector: {matchLabels: *labels}
  policyTypes: [Ingress]
"""

INVALID = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: open
  namespace: shop
spec:
  podSelector: {}
  policyTypes: [Sideways]
"""


def _tree(root: Path) -> Path:
    (root / "apps" / "shop").mkdir(parents=True)
    (root / "apps" / "shop" / "web.yaml").write_text(WEB)
    (root / "apps" / "shop" / "open.yaml").write_text(OPEN_INGRESS.format(name="open"))
    (root / "apps" / "shop" / "anchored.yaml").write_text(ANCHORED)
    (root / "apps" / "shop" / "broken.yaml").write_text("kind: [unclosed\n")
    (root / "apps" / "shop" / "list.json").write_text(
        json.dumps({"apiVersion": "v1", "kind": "List", "items": [{"kind": "Namespace"}]})
    )
    return root


def _seen(root: Path, **extra: Any) -> list[tuple[str, int, int, str, str]]:
    result = lint_paths(["."], root=root, extra=extra)
    return [(f.path, f.span.line, f.span.column, f.rule_id, f.message) for f in result.findings]


def _pack(root: Path) -> Path:
    return root / CACHE_DIRECTORY / "documents.pack"


@pytest.fixture
def composed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths the loader composes from text in a run (a cached file is not among them)."""
    calls: list[str] = []
    original = loading.load_text

    def counting(path: str, text: str, *, is_json: bool = False) -> loading.LoadedFile:
        calls.append(path)
        return original(path, text, is_json=is_json)

    monkeypatch.setattr(loading, "load_text", counting)
    return calls


def test_a_warm_run_loads_nothing_from_text_and_says_the_same(tmp_path: Path, composed: list[str]) -> None:
    root = _tree(tmp_path / "repo")
    cold = _seen(root)
    assert {path.rpartition("/")[2] for path in composed} == {
        "web.yaml",
        "open.yaml",
        "anchored.yaml",
        "broken.yaml",
        "list.json",
    }
    assert _pack(root).is_file()
    assert (root / CACHE_DIRECTORY / ".gitignore").read_text().splitlines()[-1] == "*"
    composed.clear()
    warm = _seen(root)
    assert warm == cold
    # A file with an alias holds one node in two places, which the pack cannot write: loaded again.
    assert [path.rpartition("/")[2] for path in composed] == ["anchored.yaml"]
    assert {rule for *_, rule, _ in cold} >= {"NP001", "NP102"}


def test_edits_renames_and_deletions_invalidate_exactly(tmp_path: Path, composed: list[str]) -> None:
    root = _tree(tmp_path / "repo")
    _seen(root)
    shop = root / "apps" / "shop"
    (shop / "open.yaml").write_text(OPEN_INGRESS.format(name="renamed-policy"))
    (shop / "web.yaml").rename(shop / "frontend.yaml")
    (shop / "broken.yaml").unlink()
    (shop / "second.yaml").write_text(OPEN_INGRESS.format(name="second"))
    composed.clear()
    warm = _seen(root)
    # Only the edited and the new file are composed; the renamed one comes from the pack under its new name.
    composed_names = sorted(path.rpartition("/")[2] for path in composed)
    assert composed_names == ["anchored.yaml", "open.yaml", "second.yaml"]
    cold = _seen(root, cache=False)
    assert warm == cold
    paths = {path.rpartition("/")[2] for path, *_ in warm}
    assert "broken.yaml" not in paths
    assert "web.yaml" not in paths
    assert any("renamed-policy" in message for *_, message in warm)


def test_the_same_bytes_in_two_files_are_two_files(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    for name in ("a", "b"):
        (root / name).mkdir(parents=True)
        (root / name / "policy.yaml").write_text("kind: NetworkPolicy\nspec: [unclosed\n")
    cold = _seen(root, cache=False)
    _seen(root)
    assert _seen(root) == cold
    assert {path for path, *_ in cold} == {"a/policy.yaml", "b/policy.yaml"}
    loaded = lint_paths(["."], root=root).files
    assert sorted(file.path for file in loaded) == ["a/policy.yaml", "b/policy.yaml"]


def test_no_cache_neither_reads_nor_writes(tmp_path: Path, composed: list[str]) -> None:
    root = _tree(tmp_path / "repo")
    _seen(root, cache=False)
    assert not (root / CACHE_DIRECTORY).exists()
    _seen(root)
    composed.clear()
    _seen(root, cache=False)
    assert len(composed) == 5


def _forge(pack: Path, key: bytes, swap: dict[bytes, bytes]) -> None:
    """Rewrite ``pack`` so the records of one content are filed under another's key, signed with ``key``."""
    raw = pack.read_bytes()
    fingerprint, entries = marshal.loads(raw[hashlib.sha256().digest_size :])
    for old, new in swap.items():
        entries[new] = entries.pop(old)
    data = marshal.dumps((fingerprint, entries))
    mac = hmac.new(key, b"documents.pack\0" + data, hashlib.sha256).digest()
    pack.write_bytes(mac + data)


def test_a_forged_pack_never_changes_the_findings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A pull request commits a pack saying its open policy holds the documents of a harmless file."""
    root = tmp_path / "repo"
    (root / "shop").mkdir(parents=True)
    harmless = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: shop}\n"
    bad = INVALID
    (root / "shop" / "policy.yaml").write_text(harmless)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "attacker-cache"))
    _seen(root)
    attacker_key = user_key(os.path.realpath(root))
    assert attacker_key is not None
    (root / "shop" / "policy.yaml").write_text(bad)
    _forge(_pack(root), attacker_key, {DocumentCache.key(harmless.encode()): DocumentCache.key(bad.encode())})
    forged = _pack(root).read_bytes()
    cold = _seen(root, cache=False)
    assert [rule for *_, rule, _ in cold if rule != "NP603"] == ["NP003"]
    # Under the forger's own key the pack is believed: the test can tell a forged pack from none.
    assert [rule for *_, rule, _ in _seen(root) if rule != "NP603"] == []
    _pack(root).write_bytes(forged)
    # The person running nplint has a key of their own: the pack is not authentic, and not used.
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "victim-cache"))
    assert _seen(root) == cold


def test_a_pack_of_another_loader_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _tree(tmp_path / "repo")
    _seen(root)
    key = user_key(os.path.realpath(root))
    assert key is not None
    with RenderCache(os.path.realpath(root), key) as store:
        assert DocumentCache(store)._known
    monkeypatch.setattr(document_cache, "_loader_fingerprint", lambda: b"another loader")
    with RenderCache(os.path.realpath(root), key) as store:
        assert DocumentCache(store)._known == {}


def test_a_pack_over_its_bound_is_not_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(document_cache, "MAX_PACK_BYTES", 64)
    root = _tree(tmp_path / "repo")
    cold = _seen(root)
    assert not _pack(root).exists()
    assert _seen(root) == cold


def test_a_linked_pack_is_neither_read_nor_written_through(tmp_path: Path) -> None:
    root = _tree(tmp_path / "repo")
    _seen(root)
    outside = tmp_path / "outside.pack"
    outside.write_bytes(_pack(root).read_bytes())
    _pack(root).unlink()
    _pack(root).symlink_to(outside)
    before = outside.read_bytes()
    (root / "apps" / "shop" / "open.yaml").write_text(OPEN_INGRESS.format(name="changed"))
    assert _seen(root) == _seen(root, cache=False)
    assert outside.read_bytes() == before


def _pack_data(root: Path) -> bytes:
    return _pack(root).read_bytes()[hashlib.sha256().digest_size :]


def test_a_second_process_writes_the_pack_the_next_run_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, composed: list[str]
) -> None:
    if not document_cache.parallel.second_process_allowed():
        pytest.skip("no second process here (one core, or not Linux)")
    root = _tree(tmp_path / "repo")
    monkeypatch.setattr(document_cache, "WRITER_MIN_FILES", 10**9)
    alone = _seen(root)
    written_here = _pack_data(root)
    shutil.rmtree(root / CACHE_DIRECTORY)
    monkeypatch.setattr(document_cache, "WRITER_MIN_FILES", 1)
    writers: list[object] = []
    real = document_cache.parallel.in_second_process

    def counting(work: Any, seconds: float) -> Any:
        child = real(work, seconds)
        writers.append(child)
        return child

    monkeypatch.setattr(document_cache.parallel, "in_second_process", counting)
    cold = _seen(root)
    assert len(writers) == 1 and writers[0] is not None
    assert cold == alone
    assert _pack_data(root) == written_here
    composed.clear()
    assert _seen(root) == cold
    assert [path.rpartition("/")[2] for path in composed] == ["anchored.yaml"]


class _FailedWriter:
    def result(self) -> None:
        return None


def test_when_the_writer_fails_the_run_writes_the_pack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, composed: list[str]
) -> None:
    root = _tree(tmp_path / "repo")
    monkeypatch.setattr(document_cache, "WRITER_MIN_FILES", 1)
    monkeypatch.setattr(document_cache.parallel, "in_second_process", lambda work, seconds: _FailedWriter())
    cold = _seen(root)
    assert _pack(root).is_file()
    composed.clear()
    assert _seen(root) == cold
    assert [path.rpartition("/")[2] for path in composed] == ["anchored.yaml"]


def test_files_loaded_after_the_writer_started_are_kept_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    monkeypatch.setattr(document_cache, "WRITER_MIN_FILES", 1)
    texts = {name: OPEN_INGRESS.format(name=name) for name in ("first", "second")}
    keys = {name: DocumentCache.key(text.encode()) for name, text in texts.items()}
    with document_cache.opened(root, enabled=True) as cache:
        assert cache is not None
        cache.put(keys["first"], loading.load_text("first.yaml", texts["first"]))
        cache.save_early()
        # Rendered output, say, loaded after the writer took its snapshot.
        cache.put(keys["second"], loading.load_text("second.yaml", texts["second"]))
    key = user_key(os.path.realpath(root))
    assert key is not None
    with RenderCache(os.path.realpath(root), key) as store:
        assert set(DocumentCache(store)._known) == set(keys.values())
