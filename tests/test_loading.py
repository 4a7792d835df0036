"""The loader: positions, streams, lists, and input that must never crash it."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from helpers import lint_paths
from nplint.loading import _FORBIDDEN, _forbidden, decode, iter_manifests, load_text
from nplint.loading.nodes import MapNode, ScalarNode, SeqNode


def test_positions_are_one_based_for_every_node() -> None:
    loaded = load_text("x.yaml", "a:\n  b: [1, {c: d}]\n")
    root = loaded.documents[0].root
    assert isinstance(root, MapNode)
    b = root.get_map("a").get("b")  # type: ignore[union-attr]
    assert isinstance(b, SeqNode)
    assert (b.span.line, b.span.column, b.span.end_line, b.span.end_column) == (2, 6, 2, 17)
    c = b.items[1].get("c")  # type: ignore[union-attr]
    assert isinstance(c, ScalarNode)
    assert (c.span.line, c.span.column) == (2, 14)
    assert c.key_span.column == 11
    assert c.path == "a.b[1].c"


def test_yaml_1_1_scalars_as_kubernetes_reads_them() -> None:
    loaded = load_text("x.yaml", "a: on\nb: 'on'\nc: 0755\nd: 1.0\ne: ~\nf: 8080\ng: \"8080\"\n")
    values = loaded.documents[0].root.to_python()  # type: ignore[union-attr]
    assert values == {"a": True, "b": "on", "c": 493, "d": 1.0, "e": None, "f": 8080, "g": "8080"}


def test_kind_list_is_expanded() -> None:
    text = """\
apiVersion: v1
kind: PodList
items:
- metadata: {name: a}
- apiVersion: v1
  kind: Pod
  metadata: {name: b}
"""
    manifests = list(iter_manifests(load_text("x.yaml", text)))
    assert [(m.kind, m.node.get_map("metadata").get_str("name")) for m in manifests] == [  # type: ignore[union-attr]
        ("Pod", "a"),
        ("Pod", "b"),
    ]


def test_broken_document_does_not_hide_the_next() -> None:
    loaded = load_text("x.yaml", "kind: A\n---\nkind: [B\n---\nkind: C\n")
    kinds = [d.root.get_str("kind") if isinstance(d.root, MapNode) else None for d in loaded.documents]
    assert kinds == ["A", None, "C"]
    assert len(loaded.problems) == 1


def test_invalid_utf8_is_located() -> None:
    text, problem = decode(b"a: 1\nb: \xff\n")
    assert text is None and problem is not None
    assert (problem.span.line, problem.span.column) == (2, 4)


def test_utf8_bom_is_accepted() -> None:
    text, problem = decode("\ufeffa: 1\n".encode())
    assert problem is None and text == "a: 1\n"


def test_alias_bomb_is_refused_quickly() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 10):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    start = time.perf_counter()
    loaded = load_text("bomb.yaml", "\n".join(lines) + "\n")
    assert time.perf_counter() - start < 2
    document = loaded.documents[0]
    assert document.failed
    assert "alias" in document.problems[0].message


def test_deep_nesting_is_refused_without_recursion_error() -> None:
    loaded = load_text("deep.yaml", "a: " + "[" * 20000 + "]" * 20000 + "\n")
    assert loaded.documents[0].failed
    # libyaml refuses the 1,001st level (the mapping is the first) while parsing.
    [problem] = loaded.problems
    assert problem.message == (
        "not read: nested 1,000 levels deep or more; no Kubernetes manifest is nearly this deep"
    )
    assert (problem.span.line, problem.span.column) == (1, 1003)


def test_python_tags_are_inert(tmp_path: Path) -> None:
    marker = tmp_path / "owned"
    text = f'a: !!python/object/apply:os.system ["touch {marker}"]\n'
    loaded = load_text("x.yaml", text)
    assert not marker.exists()
    assert "unsupported tag '!!python/object/apply:os.system'" in loaded.documents[0].problems[0].message


def test_nul_byte_gives_np001_and_other_files_still_lint(tmp_path: Path) -> None:
    (tmp_path / "binary.yaml").write_bytes(b"kind: Pod\x00\x01\x02")
    (tmp_path / "manifest.yaml").write_text(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: x, namespace: y}\nspec: {}\n"
    )
    result = lint_paths(["."], root=tmp_path, select=["NP001", "NP204"])
    found = sorted((f.path, f.rule_id, f.span.line, f.span.column) for f in result.findings)
    assert found == [("binary.yaml", "NP001", 1, 10), ("manifest.yaml", "NP204", 4, 1)]


@pytest.mark.parametrize("code", [*range(128), 0x85, 0xA0, 0xD800, 0xFEFF, 0xFFFE, 0xFFFF, 0x10FFFF])
def test_each_character_is_refused_or_not_as_the_pattern_says(code: int) -> None:
    for text in (f"a: b{chr(code)}\n", chr(code), f"{chr(code)}x: 1\n# {chr(code)}\n"):
        expected = _FORBIDDEN.search(text)
        found = _forbidden(text)
        assert (found and (found.start(), found.group())) == (
            expected and (expected.start(), expected.group())
        )
