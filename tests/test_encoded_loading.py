"""A second process's way of loading (straight to the plain form) says what loading and encoding say."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import CORPUS
from nplint.loading import decode, load_encoded, load_text
from nplint.loading.fastpath import AVAILABLE
from nplint.loading.transfer import encode

FIXTURES = Path(__file__).parent / "fixtures"


def _both(path: str, text: str) -> tuple[str, str]:
    is_json = path.endswith(".json")
    # repr: NaN equals itself, and True is not 1.
    made = load_encoded(path, text, is_json=is_json)
    return repr(made), repr(encode(load_text(path, text, is_json=is_json)))


def _check_tree(root: Path) -> int:
    compared = 0
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.suffix not in (".yaml", ".yml", ".json"):
            continue
        text, _ = decode(path.read_bytes())
        if text is None:
            continue
        display = path.relative_to(root).as_posix()
        made, expected = _both(display, text)
        assert made == expected, display
        compared += 1
    return compared


def test_every_fixture_loads_to_the_same_plain_values() -> None:
    assert _check_tree(FIXTURES) > 300


def test_the_corpus_loads_to_the_same_plain_values() -> None:
    if not CORPUS.is_dir():
        pytest.skip(f"{CORPUS} is absent (it sits beside the repository in CI only)")
    assert _check_tree(CORPUS) > 1000


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ("a.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n"),
        ("a.yaml", "kind: Pod\nmetadata: {name: a}\n---\n- 1\n---\n"),
        ("a.yaml", "kind: Pod\nspec: {}\n"),  # a kind without metadata: not a manifest
        ("a.yaml", "--- just text\n--- [1, 2]\n"),
        ("a.yaml", "a: &x {b: 1}\nc: *x\n"),  # an alias: the plain form cannot hold it
        ("a.yaml", "apiVersion: v1\nkind: [unclosed\n---\nkind: Pod\nmetadata: {}\n"),
        ("a.yaml", "a: !!str 80\nb: !custom x\n"),
        ("a.yaml", "a: 1\na: 2\n"),
        ("a.yaml", "<<: {a: 1}\nb: 2\n"),
        ("a.yaml", "apiVersion: v1\x00\n"),
        ("a.yaml", "apiVersion: v1  # nplint: disable=NP101,\tNP102\n# nplint: disable-file=NP001\n"),
        ("a.json", '{\t"apiVersion": "v1",\t"kind": "List", "items": []}  # nplint: disable=NP1\t\n'),
        ("a.json", '{"apiVersion": "v1", "kind": '),
        ("a.yaml", "a: [k: {y: 1} ]\nb: {c: [], d: {}}\nc: |\n  text\n\ne:\n"),
        ("a.yaml", "a:\n" + "  " * 3 + "b: " + "x" * 5000 + "\n"),
        ("a.yaml", ""),
    ],
)
def test_unusual_files_load_to_the_same_plain_values(path: str, text: str) -> None:
    made, expected = _both(path, text)
    assert made == expected


@pytest.mark.skipif(not AVAILABLE, reason="PyYAML has no C extension on this platform")
def test_an_ordinary_file_is_written_without_nodes(monkeypatch: pytest.MonkeyPatch) -> None:
    from nplint import loading

    def composed(*args: object, **kwargs: object) -> None:
        raise AssertionError("composed into nodes")

    monkeypatch.setattr(loading, "load_text", composed)
    record = load_encoded("a.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n")
    assert record is not None
    assert record[5] is True  # a Kubernetes object
    assert record[6] == 0  # no generated header
