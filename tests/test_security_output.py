"""Hostile repositories against every output: escaped text, capped values, files never written through links.

Each test builds a small repository in ``tmp_path`` the way an attacker would
commit it (object names with terminal escapes, CR and LF, Markdown and HTML,
bidi controls, a megabyte of label value, a file name that is not UTF-8, a
symlink where the report goes) and asserts what a reader of the output sees.
"""

from __future__ import annotations

import io
import json
import os
import re
import stat
import threading
import time
from pathlib import Path

import jsonschema
import pytest

from helpers import SARIF_SCHEMA
from nplint.action import summary_markdown
from nplint.cli import main
from nplint.untrusted import (
    MESSAGE_LIMIT,
    VALUE_LIMIT,
    capped,
    dot_string,
    escape,
    markdown_code,
    markdown_text,
    mermaid_label,
    quoted,
    shown,
)

# --- the sanitiser itself ------------------------------------------------------------------

#: Every character class the sanitiser must never let through, with how it must be shown.
ESCAPED = {
    "\x00": "\\x00",
    "\x07": "\\x07",
    "\x1b": "\\x1b",
    "\t": "\\t",
    "\n": "\\n",
    "\r": "\\r",
    "\x7f": "\\x7f",
    "\x85": "\\u0085",
    "\x9b": "\\u009b",
    "\u061c": "\\u061c",
    "\u200e": "\\u200e",
    "\u200f": "\\u200f",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
    "\u202a": "\\u202a",
    "\u202e": "\\u202e",
    "\u2066": "\\u2066",
    "\u2069": "\\u2069",
    os.fsdecode(b"\xff"): "\\xff",  # a byte of a file name that is not UTF-8
    os.fsdecode(b"\x80"): "\\x80",
    "\ud800": "\\ud800",  # a lone surrogate no byte stands for
}
#: What no output may carry raw (besides the newlines a format writes itself).
RAW_UNSAFE = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)


@pytest.mark.parametrize(("raw", "shown_as"), sorted(ESCAPED.items()))
def test_escape_shows_each_unsafe_character_visibly(raw: str, shown_as: str) -> None:
    assert escape(f"a{raw}b") == f"a{shown_as}b"
    assert escape(escape(f"a{raw}b")) == f"a{shown_as}b"  # idempotent


def test_escape_keeps_ordinary_text_and_optionally_newlines() -> None:
    text = "NetworkPolicy shop/web — ü 日本 `code` |pipe| <b> & 100%"
    assert escape(text) is text
    assert escape("a\nb\x1b", keep_newlines=True) == "a\nb\\x1b"


def test_shown_caps_values_between_escapes() -> None:
    assert shown("x" * VALUE_LIMIT) == "x" * VALUE_LIMIT
    long = shown("x" * 1_000_000)
    assert long == "x" * (VALUE_LIMIT - 1) + "…"
    escapes = shown("\x1b" * 100)
    assert len(escapes) <= VALUE_LIMIT and escapes.endswith("\\x1b…")  # never half an escape
    assert quoted("web") == "'web'"
    assert quoted("it's") == '"it\'s"'
    assert quoted("a\r") == "'a\\r'"
    assert capped("y" * 5000) == "y" * (MESSAGE_LIMIT - 1) + "…"


def test_markdown_escapes_markup_html_and_code_spans() -> None:
    assert markdown_text("a|b <img src=x> & [l](u) *e* `c` \\") == (
        "a\\|b &lt;img src=x&gt; &amp; \\[l\\](u) \\*e\\* \\`c\\` \\\\"
    )
    assert markdown_text("x\r\n# heading") == "x\\\\r\\\\n# heading"
    # A value cannot close its code span: the fence is longer than any run of backticks in it.
    assert markdown_code("a``b|c") == "```a``b\\|c```"
    assert markdown_code("`x") == "`` `x ``"
    assert mermaid_label('a"b|c<d>`e`#f&g\n') == "a#34;b#124;c#60;d#62;#96;e#96;#35;f#38;g#92;n"
    assert dot_string('a"b\\c\n') == '"a\\"b\\\\c\\\\n"'


# --- a hostile repository through every format ---------------------------------------------

NAME = "evil\\r\\x1b[2K No problems found.\\n| a | <img src=x> |\\n# heading \\u202e txt \\L end"
BIG = "\\x1b[31m" + "a" * (1 << 20)  # a megabyte of label value, starting with a colour code
WORKLOAD = "web\\x1b]0;pwn\\x07"  # an xterm title change


def _manifest(workload: str = WORKLOAD) -> str:
    return f"""apiVersion: v1
kind: Namespace
metadata:
  name: shop
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: "{NAME}"
  namespace: shop
spec:
  podSelector:
    matchLabels:
      app: "{BIG}"
  policyTypes: [Ingress]
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: "{workload}"
  namespace: shop
spec:
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata:
      labels: {{app: web}}
    spec: {{containers: [{{name: c, image: x}}]}}
"""


#: (rule, line, column) of every finding of the hostile manifest.
EXPECTED = [
    ("NP003", 9, 9),  # the policy's name is not a valid name (quoted, escaped, capped)
    ("NP003", 14, 12),  # the label value is not valid (quoted, escaped, capped), and too long: one
    # finding for the value, both reasons in its detail
    ("NP101", 4, 9),  # the namespace has no default deny (names the workload)
    ("NP102", 4, 9),
    ("NP104", 12, 3),  # the selector (with the megabyte value) matches nothing
    ("NP603", 9, 9),
]


@pytest.fixture
def hostile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "policies.yaml").write_text(_manifest(), encoding="utf-8")
    monkeypatch.chdir(repo)
    return repo


def _run(args: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    code = main(args, stdout=out)
    return code, out.getvalue()


def _assert_safe(text: str, *, longest: int = 4 * MESSAGE_LIMIT) -> None:
    """No raw control, bidi or separator character, no echo of the big value, no unbounded line."""
    found = RAW_UNSAFE.search(text)
    assert found is None, (
        f"raw {found.group()!r} at {found.start()}: {text[max(0, found.start() - 60) : found.start() + 20]!r}"
    )
    text.encode("utf-8")  # no lone surrogate (writing the report would raise)
    assert "a" * (VALUE_LIMIT + 1) not in text
    assert max(len(line) for line in text.splitlines()) <= longest


def _cells(row: str) -> int:
    """Cells of a Markdown table row: pipes not escaped by an odd number of backslashes."""
    count, backslashes = 0, 0
    for char in row:
        if char == "|" and backslashes % 2 == 0:
            count += 1
        backslashes = backslashes + 1 if char == "\\" else 0
    return count - 1


def _assert_tables_intact(markdown: str) -> None:
    """Every table row is one line with its header's number of cells; no injected HTML or heading."""
    width = None
    for line in markdown.splitlines():
        if not line.startswith("|"):
            width = None
            assert not line.startswith("# heading")
            continue
        if width is None:
            width = _cells(line)
        assert line.endswith("|") and _cells(line) == width, line
    assert "<img" not in markdown


def test_text_format(hostile: Path) -> None:
    code, out = _run(["--format", "text", "."])
    assert code == 1
    _assert_safe(out)
    lines = out.splitlines()
    # The findings, the summary, and the count of the fixes --unsafe-fixes would apply (NP101, NP102).
    assert len(lines) == len(EXPECTED) + 2
    assert all(re.match(r"policies\.yaml:\d+:\d+: NP\d{3} \[", line) for line in lines[:-2])
    assert lines[-2].startswith("Found 6 problems")
    assert lines[-1] == "2 fixes are available with --unsafe-fixes."
    assert "metadata.name 'evil\\r\\x1b[2K No problems found.\\n| a | <img src=x> |" in out
    assert "label value '\\x1b[31maaa" in out and "(web\\x1b]0;pwn\\x07)" in out


def test_json_format(hostile: Path) -> None:
    code, out = _run(["--format", "json", "."])
    assert code == 1
    _assert_safe(out)
    findings = json.loads(out)["findings"]
    assert sorted((f["rule"], f["line"], f["column"]) for f in findings) == sorted(EXPECTED)
    by_rule = {f["rule"]: f for f in findings}
    assert len(by_rule["NP003"]["message"]) <= MESSAGE_LIMIT
    assert by_rule["NP003"]["object"]["name"].startswith("evil\\r\\x1b[2K No problems found.\\n")
    assert "\\u202e" in by_rule["NP003"]["object"]["name"]  # shown, not applied
    assert all(len(f["message"]) <= MESSAGE_LIMIT for f in findings)


def test_sarif_format(hostile: Path) -> None:
    code, out = _run(["--format", "sarif", "."])
    assert code == 1
    _assert_safe(out, longest=64 * MESSAGE_LIMIT)  # rule help pages are one JSON line each
    results = json.loads(out)["runs"][0]["results"]
    located = [(r["ruleId"], r["locations"][0]["physicalLocation"]["region"]["startLine"]) for r in results]
    assert sorted(located) == sorted((rule, line) for rule, line, _ in EXPECTED)
    assert all(len(r["message"]["text"]) <= MESSAGE_LIMIT for r in results)
    if SARIF_SCHEMA.is_file():
        jsonschema.validate(json.loads(out), json.loads(SARIF_SCHEMA.read_text()))


def test_github_format(hostile: Path) -> None:
    code, out = _run(["--format", "github", "."])
    assert code == 1
    _assert_safe(out)
    lines = out.splitlines()
    assert len(lines) == len(EXPECTED)
    # Every line is one workflow command; nothing in a name starts another.
    assert all(re.match(r"::(error|warning|notice) file=policies\.yaml,line=\d+,", line) for line in lines)
    assert not any("::" in line.partition("::")[2].partition("::")[2] for line in lines)


def test_markdown_format(hostile: Path) -> None:
    code, out = _run(["--format", "markdown", "."])
    assert code == 1
    _assert_safe(out)
    _assert_tables_intact(out)
    assert "&lt;img src=x&gt;" in out


@pytest.mark.parametrize("fmt", ["text", "json", "markdown", "mermaid", "dot"])
def test_reach_formats(hostile: Path, fmt: str) -> None:
    code, out = _run(["reach", "--format", fmt, "."])
    assert code == 0
    _assert_safe(out)
    assert "pwn" in out  # the workload is there, escaped
    if fmt == "markdown":
        _assert_tables_intact(out)
        assert out.count("```") == 2  # a name cannot close the mermaid fence
    if fmt == "json":
        ids = {endpoint["id"] for endpoint in json.loads(out)["endpoints"]}
        assert ids == {"shop/web\\x1b]0;pwn\\x07[Deployment]", "0.0.0.0/0"}
    if fmt == "dot":
        assert '"shop/web\\\\x1b]0;pwn\\\\x07[Deployment]"' in out


@pytest.mark.parametrize("fmt", ["text", "json", "markdown"])
def test_diff_formats(hostile: Path, tmp_path: Path, fmt: str) -> None:
    before = tmp_path / "before"
    before.mkdir()
    (before / "policies.yaml").write_text(_manifest().split("---")[0], encoding="utf-8")  # the namespace
    code, out = _run(["diff", "--format", fmt, str(before), str(hostile)])
    assert code == 0
    _assert_safe(out)
    assert "pwn" in out
    if fmt == "json":
        data = json.loads(out)
        assert {c["to"] for c in data["flows"]["added"]} >= {"shop/web\\x1b]0;pwn\\x07[Deployment]"}
        new = data["findings"]["new"]
        assert {f["rule"] for f in new} >= {"NP003", "NP104"}
        names = {f["object"]["name"] for f in new if f["rule"] == "NP003"}
        assert any(name.startswith("evil\\r\\x1b[2K") for name in names)
    if fmt == "markdown":
        _assert_tables_intact(out)
        assert out.count("```") == 2


def test_job_summary_of_a_hostile_report(hostile: Path) -> None:
    code, out = _run(["--format", "json", "."])
    assert code == 1
    report = json.loads(out)
    # The summary must hold even if a report's strings were not escaped already.
    report["findings"][0]["message"] = "x\r\n# heading | <img src=x> \u202e"
    report["findings"][0]["path"] = "a`b|c`.yaml"
    summary = summary_markdown(report, None)
    _assert_safe(summary)
    _assert_tables_intact(summary)
    assert "``a`b\\|c`.yaml:" in summary


def test_a_megabyte_value_is_reported_quickly(hostile: Path) -> None:
    started = time.monotonic()
    code, out = _run(["--format", "github", "."])
    assert code == 1 and len(out) < 20 * MESSAGE_LIMIT
    assert time.monotonic() - started < 30


# --- a file name that is not UTF-8 -----------------------------------------------------------

BAD_NAME = os.fsdecode(b"bad\xff.yaml")


@pytest.fixture
def undecodable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    policy = POLICY
    with open(os.path.join(os.fsencode(repo), b"bad\xff.yaml"), "wb") as handle:
        handle.write(policy.encode())
    monkeypatch.chdir(repo)
    return repo


def test_undecodable_file_name_in_every_format(undecodable: Path) -> None:
    expected = {
        "text": "bad\\xff.yaml:4:9: NP003 [invalid-value] metadata.name 'Bad_Name'",
        "github": "::error file=bad\\xff.yaml,line=4,col=9,",
        "markdown": "| `bad\\xff.yaml:4:9` | NetworkPolicy shop/Bad\\_Name |",
    }
    for fmt, line in expected.items():
        code, out = _run(["--format", fmt, "--select", "NP003", "."])
        assert code == 1, fmt
        _assert_safe(out)
        assert line in out, (fmt, out)
    code, out = _run(["--format", "json", "--select", "NP003", "."])
    _assert_safe(out)
    assert [(f["path"], f["rule"], f["line"]) for f in json.loads(out)["findings"]] == [
        ("bad\\xff.yaml", "NP003", 4)
    ]
    # SARIF, written to a file as the Action does: the URI percent-encodes the real byte.
    code, _ = _run(["--format", "sarif=report.sarif", "--select", "NP003", "."])
    assert code == 1
    text = (undecodable / "report.sarif").read_text(encoding="utf-8")
    _assert_safe(text, longest=64 * MESSAGE_LIMIT)
    (result,) = json.loads(text)["runs"][0]["results"]
    location = result["locations"][0]["physicalLocation"]["artifactLocation"]
    assert location == {"uri": "bad%FF.yaml", "uriBaseId": "%SRCROOT%"}
    if SARIF_SCHEMA.is_file():
        jsonschema.validate(json.loads(text), json.loads(SARIF_SCHEMA.read_text()))
    code, _ = _run(["--write-baseline", "baseline.json", "."])
    assert code == 0
    baseline = (undecodable / "baseline.json").read_text(encoding="utf-8")
    assert '"path": "bad\\\\xff.yaml"' in baseline


# --- output files never written through a committed symlink ----------------------------------

POLICY = """apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: Bad_Name
  namespace: shop
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Ingress]
"""


@pytest.fixture
def linked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository whose author committed ``nplint.sarif -> ../outside.txt``."""
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "policy.yaml").write_text(POLICY, encoding="utf-8")
    (tmp_path / "outside.txt").write_text("precious\n", encoding="utf-8")
    (repo / "nplint.sarif").symlink_to("../outside.txt")
    monkeypatch.chdir(repo)
    return repo


def _assert_link_replaced(repo: Path) -> str:
    assert (repo.parent / "outside.txt").read_text(encoding="utf-8") == "precious\n"
    target = repo / "nplint.sarif"
    assert stat.S_ISREG(os.lstat(target).st_mode)
    assert not [p for p in repo.iterdir() if p.name.endswith(".nplint-tmp")]  # no temporary file left
    return target.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("args", "code", "marker"),
    [
        (["--format", "sarif=nplint.sarif", "."], 1, '"version": "2.1.0"'),
        (["--format", "sarif", "--output", "nplint.sarif", "."], 1, '"version": "2.1.0"'),
        (["--format", "text", "--output", "nplint.sarif", "."], 1, "policy.yaml:"),
        (["--format", "json=nplint.sarif", "--format", "github", "."], 1, '"findings": ['),
        (["--write-baseline", "nplint.sarif", "."], 0, '"tool": "nplint"'),
        (["reach", "--format", "json", "--output", "nplint.sarif", "."], 0, '"flows": ['),
    ],
)
def test_output_through_a_committed_symlink_replaces_the_link(
    linked: Path, args: list[str], code: int, marker: str
) -> None:
    assert _run(args)[0] == code
    assert marker in _assert_link_replaced(linked)


def test_diff_output_through_a_committed_symlink_replaces_the_link(linked: Path, tmp_path: Path) -> None:
    before = tmp_path / "before"
    before.mkdir()
    code, _ = _run(["diff", "--format", "json", "--output", "nplint.sarif", str(before), str(linked)])
    assert code == 0
    assert '"flows": {' in _assert_link_replaced(linked)


def test_output_to_a_directory_is_a_clear_error(linked: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (linked / "out").mkdir()
    assert _run(["--format", "sarif=out", "."])[0] == 2
    assert "nplint: error: cannot write out: it is a directory" in capsys.readouterr().err


def test_output_to_a_fifo_is_written_in_place(linked: Path) -> None:
    fifo = linked / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    try:
        assert _run(["--format", "json", "--output", str(fifo), "."])[0] == 1
    finally:
        reader.join(timeout=10)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert json.loads(received[0])["findings"]


def test_suppressed_findings_show_an_escaped_file_name(undecodable: Path) -> None:
    raw = os.path.join(os.fsencode(undecodable), b"bad\xff.yaml")
    with open(raw, "ab") as handle:
        handle.write(b"# nplint: disable-file=NP003\n")
    code, out = _run(["--format", "text", "--select", "NP003", "--show-suppressed", "."])
    assert code == 0
    _assert_safe(out)
    assert "bad\\xff.yaml:4:9: NP003 (suppressed) metadata.name 'Bad_Name'" in out


def test_a_renderers_error_line_is_quoted_escaped_and_capped(tmp_path: Path) -> None:
    from nplint.config import build_config
    from nplint.model.inventory import build_inventory
    from nplint.render import Target
    from nplint.rules.base import RuleContext
    from nplint.rules.rendering import REASON_LIMIT, NotRendered

    # The last line of a renderer's standard error can echo a hostile template.
    reason = "`helm template` failed: Error: parse error: \x1b[2J" + "b" * 100_000 + "\u202e"
    ctx = RuleContext(
        inventory=build_inventory([]),
        config=build_config({}, source=None, root=tmp_path),
        unrendered=[(Target("helm", "charts/x\x1b"), reason)],
    )
    (finding,) = NotRendered().check(ctx)
    assert finding.rule_id == "NP005" and finding.path == "charts/x\x1b/Chart.yaml"
    assert "(`helm template` failed: Error: parse error: \\x1b[2Jbbb" in finding.message
    assert "(`helm template` failed: Error: parse error: \\x1b[2Jbbb" in finding.detail
    assert "b" * REASON_LIMIT not in finding.detail and "…); its policies reach" in finding.detail
    assert RAW_UNSAFE.search(finding.message) is None and RAW_UNSAFE.search(finding.detail) is None
