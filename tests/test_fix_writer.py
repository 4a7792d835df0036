"""The fix writer: one document edited, every other byte kept, and the files it must leave alone."""

from __future__ import annotations

import difflib
import os
import stat
from pathlib import Path

import pytest

from helpers import CORPUS, FIXTURES
from nplint.findings import Edit, Fix
from nplint.fixing.writer import (
    Refused,
    apply_fixes,
    detect_indentation,
    plan_fixes,
    round_trip,
    split_documents,
)

POLICY = """\
# The web tier.
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: web   # owned by the web team
  namespace: shop
spec:
  podSelector: {matchLabels: {app: web}}

  # Where web may connect.
  egress:
  - to:
    - podSelector: {matchLabels: {app: db}}
    ports: [{port: 5432}]
"""

TYPES = Edit.make("set", ["spec"], "policyTypes", ["Ingress", "Egress"], after="podSelector")


def _fix(*edits: Edit, path: str = "policy.yaml", document: int = 0, safe: bool = True) -> Fix:
    return Fix("test edit", safe, edits, path, document)


def _fixed(tmp_path: Path, text: str | bytes, *fixes: Fix, name: str = "policy.yaml") -> bytes:
    target = tmp_path / name
    target.write_bytes(text if isinstance(text, bytes) else text.encode())
    plan = plan_fixes(tmp_path, fixes, [name])
    assert not plan.notes, plan.notes
    assert not apply_fixes(plan)
    return target.read_bytes()


def test_an_inserted_key_changes_only_its_own_lines(tmp_path: Path) -> None:
    after = _fixed(tmp_path, POLICY, _fix(TYPES)).decode()
    assert after == POLICY.replace(
        "  podSelector: {matchLabels: {app: web}}\n",
        "  podSelector: {matchLabels: {app: web}}\n  policyTypes: [Ingress, Egress]\n",
    )


def test_every_other_document_is_byte_identical(tmp_path: Path) -> None:
    # Odd spacing ruamel would rewrite (`[ a ]`, a `...` end marker) in the documents not edited.
    other = "kind: Namespace\nmetadata: { name:   shop }\nlist: [ a,b ]\n...\n"
    text = f"{other}---\n{POLICY}--- # last\nkind: ConfigMap\ndata: {{ k:  v }}\n"
    after = _fixed(tmp_path, text, _fix(TYPES, document=1)).decode()
    assert after.startswith(other + "---\n")
    assert after.endswith("--- # last\nkind: ConfigMap\ndata: { k:  v }\n")
    assert "  policyTypes: [Ingress, Egress]\n" in after


def test_crlf_bom_and_a_missing_final_newline_are_kept(tmp_path: Path) -> None:
    text = b"\xef\xbb\xbf" + POLICY.rstrip("\n").replace("\n", "\r\n").encode()
    after = _fixed(tmp_path, text, _fix(TYPES))
    assert after.startswith(b"\xef\xbb\xbf")
    assert b"\r\n  policyTypes: [Ingress, Egress]\r\n" in after
    assert after.count(b"\n") == after.count(b"\r\n")
    assert after.endswith(b"ports: [{port: 5432}]")


def test_the_files_indentation_and_dash_offset_are_kept(tmp_path: Path) -> None:
    text = (
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n    name: web\nspec:\n"
        "    podSelector: {}\n    ingress:\n      - from:\n          - podSelector: {}\n"
    )
    assert detect_indentation(text) == (4, 4, 2)
    after = _fixed(tmp_path, text, _fix(TYPES)).decode()
    assert "    podSelector: {}\n    policyTypes:\n      - Ingress\n      - Egress\n    ingress:\n" in after


def test_comment_lines_stay_above_the_key_they_introduce(tmp_path: Path) -> None:
    after = _fixed(tmp_path, POLICY, _fix(TYPES)).decode()
    lines = after.splitlines()
    assert lines[lines.index("  # Where web may connect.") + 1] == "  egress:"
    assert "  name: web   # owned by the web team" in lines


def test_append_and_rename(tmp_path: Path) -> None:
    text = (
        "kind: NetworkPolicy\nspec:\n  podselector: {}\n  egress:\n  - ports:\n    - port: 53\n"
        "      protocol: UDP\n"
    )
    after = _fixed(
        tmp_path,
        text,
        _fix(Edit.make("rename", ["spec"], "podselector", "podSelector")),
        _fix(Edit.make("append", ["spec", "egress", 0, "ports"], None, {"port": 53, "protocol": "TCP"})),
    ).decode()
    assert after == (
        "kind: NetworkPolicy\nspec:\n  podSelector: {}\n  egress:\n  - ports:\n    - port: 53\n"
        "      protocol: UDP\n    - port: 53\n      protocol: TCP\n"
    )


def test_a_fix_applied_twice_changes_nothing(tmp_path: Path) -> None:
    once = _fixed(tmp_path, POLICY, _fix(TYPES))
    plan = plan_fixes(tmp_path, [_fix(TYPES)], ["policy.yaml"])
    assert plan.changes == [] and not plan.notes
    assert (tmp_path / "policy.yaml").read_bytes() == once


def test_a_new_document_is_appended_once(tmp_path: Path) -> None:
    deny = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "deny"}}
    fix = _fix(Edit.make("new-document", (), None, deny), safe=False)
    after = _fixed(tmp_path, POLICY.rstrip("\n"), fix).decode()
    assert after.startswith(POLICY)
    new = "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: deny\n"
    assert after.endswith(new)
    assert not plan_fixes(tmp_path, [fix], ["policy.yaml"]).changes


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("base: &b {app: web}\nspec:\n  podSelector: *b\n", "anchors or aliases"),
        ("spec: !custom\n  podSelector: {}\n", "tag"),
        ("spec:\n  <<: {a: 1}\n", "merges mappings"),
        ("spec:\r\n  podSelector: {}\n", "mixes line endings"),
    ],
)
def test_documents_ruamel_cannot_keep_are_left_alone(tmp_path: Path, text: str, why: str) -> None:
    (tmp_path / "policy.yaml").write_bytes(text.encode())
    plan = plan_fixes(tmp_path, [_fix(TYPES)], ["policy.yaml"])
    assert plan.changes == []
    assert len(plan.notes) == 1 and why in plan.notes[0][1], plan.notes
    assert (tmp_path / "policy.yaml").read_bytes() == text.encode()


def test_files_nplint_did_not_read_from_the_repository_are_left_alone(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "policy.yaml").write_text(POLICY)
    (tmp_path / "link.yaml").symlink_to(tmp_path / "real" / "policy.yaml")
    (tmp_path / "dir").symlink_to(tmp_path / "real")
    (tmp_path / "Chart.yaml").write_text(POLICY)
    outside = tmp_path.parent / f"{tmp_path.name}-outside.yaml"
    outside.write_text(POLICY)
    cases = {
        "link.yaml": "symbolic link",
        "dir/policy.yaml": "symbolic link",
        "Chart.yaml": "render",
        f"../{outside.name}": "outside",
        "real/policy.yaml": "did not read",
    }
    readable = [name for name in cases if name != "real/policy.yaml"]
    plan = plan_fixes(tmp_path, [_fix(TYPES, path=name) for name in cases], readable)
    assert plan.changes == []
    notes = dict(plan.notes)
    for name, why in cases.items():
        assert why in notes[name], (name, notes.get(name))
    assert (tmp_path / "real" / "policy.yaml").read_text() == POLICY
    assert outside.read_text() == POLICY


def test_the_write_is_a_rename_that_keeps_the_mode_and_refuses_a_changed_file(tmp_path: Path) -> None:
    target = tmp_path / "policy.yaml"
    target.write_text(POLICY)
    os.chmod(target, 0o640)
    plan = plan_fixes(tmp_path, [_fix(TYPES)], ["policy.yaml"])
    inode = target.stat().st_ino
    assert not apply_fixes(plan)
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert target.stat().st_ino != inode  # replaced, not written through
    assert sorted(p.name for p in tmp_path.iterdir()) == ["policy.yaml"]
    # A file that changed between the plan and the write is not overwritten.
    target.write_text(POLICY)
    plan = plan_fixes(tmp_path, [_fix(TYPES)], ["policy.yaml"])
    target.write_text(POLICY + "# edited meanwhile\n")
    notes = apply_fixes(plan)
    assert notes and "changed while" in notes[0][1]
    assert target.read_text() == POLICY + "# edited meanwhile\n"


def test_split_documents_joins_back_to_the_text() -> None:
    text = "# head\na: 1\n---\nb: 2\n--- # c\nc: 3\n...\n---\n"
    pieces = split_documents(text)
    assert "".join(pieces) == text
    assert pieces == ["# head\na: 1\n", "---\nb: 2\n", "--- # c\nc: 3\n...\n", "---\n"]


def _yaml_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in (".yaml", ".yml"))


def _round_trip_cases() -> list[Path]:
    return _yaml_files(FIXTURES) + (_yaml_files(CORPUS) if CORPUS.is_dir() else [])


def _text(path: Path) -> str | None:
    try:
        return path.read_bytes().decode("utf-8").replace("\r\n", "\n")
    except UnicodeDecodeError:
        return None


def test_round_trip_of_every_fixture_and_corpus_file_keeps_every_byte() -> None:
    """A no-op edit: each document read and written back is its exact bytes, or refused with a reason."""
    kept = 0
    for path in _round_trip_cases():
        text = _text(path)
        if text is None:
            continue
        try:
            result = round_trip(text)
        except Refused as why:
            assert str(why).startswith("not fixed: "), path
            continue
        assert result == text, path
        kept += 1
    assert kept > 500


def test_an_edit_changes_only_the_edited_nodes_lines_on_every_fixture_and_corpus_file(tmp_path: Path) -> None:
    """A key set on a document's root: exactly its own line is added, every other line kept.

    The first document of each file up to 64 KiB (the round-trip test above reads every
    document of every file; this one runs the whole writer, twice the work, so it is bounded;
    the slow test below edits every document of every file).
    """
    edited = _edit_each(tmp_path, every_document=False)
    assert edited > 500


@pytest.mark.slow
def test_an_edit_changes_only_the_edited_nodes_lines_in_every_document_of_every_file(tmp_path: Path) -> None:
    """The same, unbounded: every document of every fixture and corpus file, whatever its size."""
    edited = _edit_each(tmp_path, every_document=True)
    assert edited > 1000


def _edit_each(tmp_path: Path, *, every_document: bool) -> int:
    edited = 0
    for path in _round_trip_cases():
        text = _text(path) if every_document or path.stat().st_size <= 64 * 1024 else None
        if text is None or "\t" in text:
            continue
        target = tmp_path / "file.yaml"
        target.write_text(text)
        try:
            documents = len(split_documents(text)) if every_document else 1
        except Refused:
            continue  # a file that does not parse is never fixed
        for index in range(documents):
            fix = _fix(Edit.make("set", (), "nplintProbe", "x"), path="file.yaml", document=index)
            plan = plan_fixes(tmp_path, [fix], ["file.yaml"])
            if not plan.changes:
                continue  # refused (a note says why), or the document is no mapping
            after = plan.changes[0].after.decode()
            # A key added after a last line without a newline ends that line: the same line still.
            before, after = (t if t.endswith("\n") else t + "\n" for t in (text, after))
            added = [
                line
                for line in difflib.ndiff(before.splitlines(keepends=True), after.splitlines(keepends=True))
                if line[:1] in "+-"
            ]
            assert len(added) == 1, (path, index, added)
            assert added[0].lstrip("+ ").startswith("nplintProbe: x"), (path, index, added)
            edited += 1
    return edited


def test_join_makes_one_peer_and_refuses_items_an_earlier_join_moved(tmp_path: Path) -> None:
    text = (
        "spec:\n  ingress:\n  - from:\n    - namespaceSelector: {matchLabels: {team: ops}}\n"
        "    - podSelector: {matchLabels: {app: a}}\n    - podSelector: {matchLabels: {app: b}}\n"
    )
    where = ["spec", "ingress", 0, "from"]
    keys = [["namespaceSelector"], ["podSelector"]]
    first = _fix(Edit.make("join", where, 0, {"from": 1, "keys": keys}))
    second = _fix(Edit.make("join", where, 0, {"from": 2, "keys": keys}))
    (tmp_path / "policy.yaml").write_text(text)
    plan = plan_fixes(tmp_path, [first, second], ["policy.yaml"])
    assert [c.applied for c in plan.changes] == [[first]]
    assert len(plan.notes) == 1 and "not fixed: the items it joins" in plan.notes[0][1]
    assert plan.changes[0].after.decode() == (
        "spec:\n  ingress:\n  - from:\n    - namespaceSelector: {matchLabels: {team: ops}}\n"
        "      podSelector: {matchLabels: {app: a}}\n    - podSelector: {matchLabels: {app: b}}\n"
    )


@pytest.mark.parametrize("indent", [2, 4])
@pytest.mark.parametrize("flow", [False, True])
def test_a_new_document_is_written_in_each_files_style(tmp_path: Path, indent: int, flow: bool) -> None:
    # The document text is made once per style and kept: each file still gets its own style.
    pad = " " * indent
    selector = "podSelector: {}" if flow else f"podSelector:\n{pad}{pad}matchLabels:\n{pad}{pad}{pad}app: web"
    text = f"kind: NetworkPolicy\nmetadata:\n{pad}name: web\nspec:\n{pad}{selector}\n"
    deny = {"kind": "NetworkPolicy", "metadata": {"name": "deny"}, "spec": {"podSelector": {}}}
    fix = _fix(Edit.make("new-document", (), None, deny), safe=False)
    for round_ in range(2):  # the second file of a style is written from what the first made
        folder = tmp_path / str(round_)
        folder.mkdir()
        after = _fixed(folder, text, fix).decode()
        assert (
            after
            == text + f"---\nkind: NetworkPolicy\nmetadata:\n{pad}name: deny\nspec:\n{pad}podSelector: {{}}\n"
        )


def test_a_document_the_file_holds_in_another_spelling_is_not_added_again(tmp_path: Path) -> None:
    # Held already, written with quotes, flow style and a comment: the same data, so no second copy.
    deny = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "deny"}}
    held = '# kept\n{"apiVersion": networking.k8s.io/v1, kind: "NetworkPolicy", metadata: {name: deny}}\n'
    (tmp_path / "policy.yaml").write_text(POLICY + "---\n" + held)
    fix = _fix(Edit.make("new-document", (), None, deny), safe=False)
    assert not plan_fixes(tmp_path, [fix], ["policy.yaml"]).changes
