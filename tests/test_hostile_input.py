"""Hostile and broken input: a clear finding at its position, never a traceback, a hang or code execution.

Every case is linted beside a valid manifest whose own finding must still be
reported, so one bad file can never hide the rest of the repository.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from helpers import lint_paths

#: A valid policy with one known finding (NP204 at line 6, column 3).
NEIGHBOUR = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: neighbour, namespace: shop}
spec:
  ingress: []
  podSelector:
"""

POLICY_HEAD = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: x, namespace: shop}\n"
#: What makes a file a manifest (NP001 judges only those): an object's first line.
HEAD = b"apiVersion: v1\n"


def _alias_bomb() -> bytes:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 12):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    return ("\n".join(lines) + "\n").encode()


CASES: dict[str, tuple[bytes, set[tuple[str, int]]]] = {
    # name: (content, expected (rule, line) findings in that file)
    "alias-bomb": (HEAD + _alias_bomb(), {("NP001", 7)}),
    "deep-flow": (HEAD + b"a: " + b"[" * 20000 + b"]" * 20000 + b"\n", {("NP001", 2)}),
    "deep-block": (
        HEAD + b"---\n" + b"".join(b"  " * i + b"- \n" for i in range(1500)) + b"  " * 1500 + b"x\n",
        # libyaml allows 999 nested block collections and refuses the 1,000th.
        {("NP001", 1002)},
    ),
    "long-line": (
        POLICY_HEAD.encode() + b"spec:\n  podSelector: {matchLabels: {a: " + b"b" * 3_000_000 + b"}}\n",
        set(),
    ),
    "invalid-utf8": (b"kind: Pod\nmetadata:\n  name: \xff\xfe\n", {("NP001", 3)}),
    "nul-byte": (HEAD + b"kind: Pod\x00\n", {("NP001", 2)}),
    "binary": (HEAD + bytes(range(256)) * 64, {("NP001", 3)}),
    "duplicate-keys": (
        POLICY_HEAD.encode() + b"spec:\n  podSelector: {}\n  podSelector: {}\n",
        {("NP001", 6)},
    ),
    "tabs": (b"kind: Pod\nmetadata:\n\tname: x\n", {("NP001", 3)}),
    "python-tag": (HEAD + b"a: !!python/object/apply:os.system ['touch pwned']\n", {("NP001", 2)}),
    "unknown-tag": (POLICY_HEAD.encode() + b"spec: !Ref Spec\n", {("NP001", 4)}),
    "null-spec-parts": (
        POLICY_HEAD.encode()
        + b"spec:\n  podSelector: {}\n  ingress:\n  - from:\n    -\n    - podSelector:\n"
        + b"    ports:\n    -\n  egress:\n",
        set(),
    ),
    "wrong-types": (
        POLICY_HEAD.encode()
        + b"spec:\n  podSelector: [a]\n  policyTypes: Ingress\n"
        + b"  ingress: {from: 1}\n  egress: [1, [2], true]\n",
        set(),
    ),
    "huge-port": (
        POLICY_HEAD.encode()
        + b"spec:\n  podSelector: {}\n  ingress:\n  - ports:\n    - port: 99999999999999999999999999\n",
        set(),
    ),
    "empty": (b"", set()),
    "only-separators": (b"---\n---\n...\n---\n", set()),
    "scalar-document": (b"just a string\n---\n42\n---\n[1, 2]\n", set()),
    "bom-and-crlf": (
        b"\xef\xbb\xbf" + POLICY_HEAD.replace("\n", "\r\n").encode() + b"spec: {podSelector: {}}\r\n",
        set(),
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_file_beside_a_valid_one(name: str, tmp_path: Path) -> None:
    content, expected = CASES[name]
    (tmp_path / f"{name}.yaml").write_bytes(content)
    (tmp_path / "neighbour.yaml").write_text(NEIGHBOUR)
    start = time.perf_counter()
    result = lint_paths(["."], root=tmp_path, select=["NP001", "NP002", "NP003", "NP204"])
    elapsed = time.perf_counter() - start
    assert not result.failures, result.failures
    assert ("neighbour.yaml", "NP204", 6) in {(f.path, f.rule_id, f.span.line) for f in result.findings}
    found = {
        (f.rule_id, f.span.line) for f in result.findings if f.path == f"{name}.yaml" and f.rule_id == "NP001"
    }
    assert found == {e for e in expected if e[0] == "NP001"}, result.findings
    assert not (tmp_path / "pwned").exists()
    # Generous: this guards against a hang or a quadratic blow-up, not against a slow machine.
    assert elapsed < 30


#: The cases that are hostile without being manifests: no object's line in them.
NOT_MANIFESTS = ("alias-bomb", "binary", "deep-block", "deep-flow", "python-tag")


@pytest.mark.parametrize("name", NOT_MANIFESTS)
def test_hostile_file_that_is_not_a_manifest(name: str, tmp_path: Path) -> None:
    # The same bytes without an object's line: read within the same bounds, but not a
    # manifest, so nothing in it is a broken manifest; the neighbour is still linted.
    content = CASES[name][0].removeprefix(HEAD).removeprefix(b"---\n")
    (tmp_path / f"{name}.yaml").write_bytes(content)
    (tmp_path / "neighbour.yaml").write_text(NEIGHBOUR)
    result = lint_paths(["."], root=tmp_path, select=["NP001", "NP002", "NP003", "NP204"])
    assert not result.failures, result.failures
    assert [(f.path, f.rule_id, f.span.line) for f in result.findings] == [("neighbour.yaml", "NP204", 6)]
    assert not (tmp_path / "pwned").exists()


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="symbolic links are not available")
def test_symlink_loop_and_escape(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "neighbour.yaml").write_text(NEIGHBOUR)
    (repo / "loop").symlink_to(repo, target_is_directory=True)
    (repo / "etc-passwd.yaml").symlink_to("/etc/passwd")
    result = lint_paths(["."], root=repo, select=["NP001", "NP204"])
    assert [(f.path, f.rule_id) for f in result.findings] == [("neighbour.yaml", "NP204")]
    assert {s.display for s in result.skipped} == {"loop", "etc-passwd.yaml"}
