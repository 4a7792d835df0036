"""The line reader: what it reads, it reads exactly as the event composer; the rest it declines.

:func:`compose_lines` answers for the plainest YAML only, and whatever it answers
must be the event composer's tree node for node (values, text, style, positions,
keys and parents); :func:`flatten_lines` must write the same trees in the
plain form. Generated documents in every layout it reads, and mutations of
real-looking manifests (where a stray character makes YAML mean something else or
nothing), hold it to that; the cases it must leave to libyaml are listed.
"""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_composing_paths import shape

from nplint.loading import load_text
from nplint.loading.composer import compose_events
from nplint.loading.linescan import compose_lines, flatten_lines
from nplint.loading.nodes import MapNode, ScalarNode
from nplint.loading.transfer import _build


def events(text: str) -> list[tuple[int, list[tuple[object, ...]]]] | None:
    """The event composer's trees, or None when it finds a problem (the line reader must decline then)."""
    documents, problems = compose_events(text)
    if problems or any(d.problems or d.failed for d in documents):
        return None
    return [(d.index, shape(d.root)) for d in documents]


def lines(text: str) -> list[tuple[int, list[tuple[object, ...]]]] | None:
    read = compose_lines(text)
    return None if read is None else [(index, shape(root)) for index, root in read]


def written(text: str) -> list[tuple[int, list[tuple[object, ...]]]] | None:
    """What :func:`flatten_lines` wrote, rebuilt; its root keys checked against the trees."""
    flat = flatten_lines(text)
    if flat is None:
        return None
    documents, values, root_keys = flat
    trees: list[tuple[int, list[tuple[object, ...]]]] = []
    position = 0
    for (index, failed, problems, has_root), keys in zip(documents, root_keys, strict=True):
        assert (failed, problems, has_root) == (False, [], True)
        root, position = _build(values, position)
        assert keys == (set(root.entries) if isinstance(root, MapNode) else None)
        trees.append((index, shape(root)))
    assert position == len(values)
    return trees


def agrees(text: str) -> bool:
    """Whether the line reader read ``text``; when it did, it must have read it as the event
    composer, and written it (for the second process) as the nodes it makes."""
    read = lines(text)
    assert written(text) == read, text
    if read is None:
        return False
    assert read == events(text), text
    return True


@pytest.mark.parametrize(
    "text",
    [
        "a: 1\n",
        "a: 1",
        "a:\n  b: c\n  d: [x, 'y', \"z\"]\n",
        "k:\n- a\n- b\nj: 1\n",  # an indentless sequence, ended by its mapping's next key
        "- name: x\n  ports:\n  - 80\n  - 443\n- name: y\n",
        "-   name: x\n    image: nginx:1.27\n",
        "a: b # a comment\nc: 'd # not one' # one\n",
        "a: 'it is: fine'\nb: \"#hash\"\n",
        "a: {}\nb: []\nc: { }\nd: [ ]\n",
        "podSelector: {matchLabels: {app: web, tier: 'front'}}\n",
        "ports: [{port: 53, protocol: UDP}, {port: 53, protocol: TCP}]\n",
        "- {app: web}\n- [a, b]\n",
        "a: on\nb: 0755\nc: 08080\nd: 1e3\ne: ~\nf: -1\ng: .5\nh: 0x1F\ni: yes\n",
        "a:\nb:\n  c:\n",  # nulls: right after the colon
        "a: # nothing, then a comment\nb: 1\n",
        "- a:\n- b\n",
        "---\na: 1\n---\nb: 2\n",
        "--- # first\na: 1\n--- \n",
        "a: 1\n---\n",  # an empty document where the stream ends
        "a: 1\n---",
        "a: 1\n---\n---\nb: 2\n",
        "# only a comment\n",
        "",
        "a: |\n  line one\n  line two\nb: 1\n",
        "a: |-\n  line one\n\n  line three\n\nb: 1\n",
        "a: >-\n  folded\n  lines\n",
        "a: > # folded\n  one\n  two\n",
        "- |\n  item\n- >\n  other\n",
        "a: |\n  keeps '#' and: colons\n  # and this line\n",
        "x:\n  k: |\n    deeper\n  j: 1\n",
        "name: caf\u00e9 \u2603\nb: '\u00fc'\n",  # columns count characters, not bytes
        "a: " + "x" * 5000 + "\n",  # past the narrow form of a position
        "a: b\n  c\n    d\ne: 1\n",  # a plain scalar over three lines
        "- b\n  `c\n  -d #x\n- e\n",
        "a: 'x y  \n    z w'\nb: 1\n",
        'a: "one\\n  two\n  three\\\\ four\\"\n  five" # c\n',
        "a: 'it''s'\nb: 'x\n  it''s'\n",
        'a: "tab\\tnew\\nline\\/slash"\n',
        '"quoted key": 1\n\'single\': 2\n"": 3\n"null": 4\n',
        '- "k": |\n    z\n  j: 2\n',
        "k: {\"a\\nb\": 1, 'c''d': [x]}\n",
        "a:\n" + "".join(f"  k{i}: v\n" for i in range(50)),
    ],
)
def test_reads_the_plainest_yaml_as_the_event_composer(text: str) -> None:
    assert agrees(text)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("a:\tb\n", "a tab"),
        ("a: 1\r\nb: 2\r\n", "a carriage return"),
        ("\ufeffa: 1\n", "a byte order mark"),
        ("a: b\n\n  c\n", "a plain scalar folded over an empty line"),
        ("a: b # c\n  d\n", "a line after a comment that ended a plain scalar"),
        ("a: 'b\n\n  c'\n", "a quoted scalar folded over an empty line"),
        ("x:\n  a: 'b\n  c'\n", "a quoted scalar's line not indented past its mapping"),
        ("a: '\n  b'\n", "a quoted scalar with nothing on its first line"),
        ('a: "b\\x41"\n', "an escape not read here"),
        ('a: "b\\\n  c"\n', "an escaped line break"),
        ('"a\\"b": 1\n', "an escape in a block key"),
        ("'it''s': 1\n", "a quote written twice in a block key"),
        ("a: &x 1\nb: *x\n", "an anchor and an alias"),
        ("a: !!str 1\n", "a tag"),
        ("a: 1\na: 2\n", "a repeated key"),
        ("~: 1\n", "a null key"),
        ("null: 1\n", "a null key"),
        ("a b: 1\n", "a key with a blank"),
        ("? a\n: b\n", "a complex key"),
        ("a: b: c\n", "a value that is a mapping on the same line"),
        ("a: b:\n", "a value ending with a colon"),
        ("- - a\n", "a sequence in a sequence on one line"),
        ("-\n  a: 1\n", "an item on later lines"),
        ("a: - b\n", "a sequence after a key on the same line"),
        ("hello\n", "a scalar root"),
        ("a: 1\n...\n", "a document end"),
        ("%YAML 1.1\n---\na: 1\n", "a directive"),
        ("--- a: 1\n", "content after the separator"),
        ("a:\n    b: 1\n  c: 2\n", "indentation that matches no open collection"),
        ("a: 1\n b: 2\n", "a deeper key after a value"),
        ("a:\n  - b\n - c\n", "a sequence item left of its sequence"),
        ("a: [b, c\n", "a flow collection over two lines"),
        ("a: [b: c]\n", "a pair in a flow sequence"),
        ("a: [b, c, ]\n", "a trailing comma"),
        ("a: {b}\n", "a flow key with no value"),
        ("a: {b:c}\n", "a flow key without a blank after its colon"),
        ("a: [b c]\n", "a flow scalar with a blank"),
        ("a: |2\n  b\n", "an indentation indicator"),
        ("a: |+\n  b\n", "keep chomping"),
        ("a: |\n\n  b\n", "an empty line before the content"),
        ("a: |\n  b\n   \n  c\n", "a line of blanks in the content"),
        ("a: |\n  b", "a block scalar where the text ends without a line break"),
        ("a: >\n  b\n    c\n", "a folded scalar with a more indented line"),
        ("a: >\n  b\n\n  c\n", "a folded scalar with an empty line inside"),
        ("a: |\nb: 1\n", "a block scalar with no content"),
        ("a: '#' b\n", "text after a quoted scalar"),
        ('a: "x"#y\n', "a comment without a blank before it"),
    ],
)
def test_leaves_the_rest_to_libyaml(text: str, why: str) -> None:
    assert compose_lines(text) is None, why


def test_a_declined_file_loads_as_before() -> None:
    text = "a: &x 1\nb: *x\nc: |+\n  kept\n\n"
    assert compose_lines(text) is None
    loaded = load_text("f.yaml", text)
    assert loaded.problems == []
    root = loaded.documents[0].root
    assert root is not None
    assert root.to_python() == {"a": 1, "b": 1, "c": "kept\n\n"}


# -- generated documents --------------------------------------------------------------------

_PLAIN = st.sampled_from(
    ["on", "off", "yes", "~", "null", "0755", "08080", "1e3", ".inf", "0x1F", "-1", "-x", "a:b", "a b",
     "x#y", "http://h:80/p", "nginx:1.27", "v1", "TCP", "10.0.0.0/8", "*.example", "a,b", "[x]", "{y}"]
)  # fmt: skip
_QUOTED = st.sampled_from(
    ["'a: b'", '"# c"', "''", '""', "'x\"y'", '"x\'y"', "'a, b'", "'it''s'", '"a\\"b\\\\c\\n"']
)
_FLOW = st.sampled_from(
    ["{}", "[]", "[a, b]", "['a', \"b\"]", "{a: 1}", "{a: [1, 2], b: {c: d}}", "[{port: 53}]", "[ a ,b ]"]
)
_BLOCK = st.sampled_from(["|", "|-", ">", ">-"]).flatmap(
    lambda style: st.lists(st.sampled_from(["text", "a: b", "# c", "x  y", ""]), min_size=1, max_size=4).map(
        lambda body: (style, body)
    )
)
_KEYS = st.sampled_from(["a", "b", "app.kubernetes.io/name", "port", "x-y", "on", "1", ".dot"])
_COMMENTS = st.sampled_from(["", "", " # note", "  #x"])


def _scalars() -> st.SearchStrategy[object]:
    return st.one_of(_PLAIN, _QUOTED, _FLOW, _BLOCK, st.none())


_TREES = st.recursive(
    _scalars(),
    lambda children: st.one_of(
        st.lists(children, min_size=1, max_size=3),
        st.dictionaries(_KEYS, children, min_size=1, max_size=3),
    ),
    max_leaves=12,
)


@st.composite
def _documents(draw: st.DrawFn) -> str:
    """A stream in block style, laid out as people write it: indents of 1 to 4, indentless
    sequences or not, comments and blank lines between lines, separators with comments."""
    step = draw(st.integers(1, 4))
    indentless = draw(st.booleans())
    out: list[str] = []

    def value_text(value: object, pad: int) -> tuple[str, list[str]]:
        """The rest of the line a value starts on, and the lines after it."""
        if value is None:
            return "", []
        if isinstance(value, tuple):
            style, body = value
            content = " " * (pad + step)
            return style, [content + line if line else "" for line in body] + [content + "end"]
        if isinstance(value, str):
            return value, []
        return "", block(value, pad + step)

    def block(value: object, pad: int) -> list[str]:
        made: list[str] = []
        if isinstance(value, dict):
            for key, child in value.items():
                head, rest = value_text(child, pad)
                if isinstance(child, list) and indentless:
                    rest = block(child, pad)
                made.append(" " * pad + f"{key}:" + (f" {head}" if head else "") + draw(_COMMENTS))
                made.extend(rest)
        elif isinstance(value, list):
            for child in value:
                if isinstance(child, dict):
                    inner = block(child, pad + 2)
                    made.append(" " * pad + "- " + inner[0].lstrip(" "))
                    made.extend(inner[1:])
                    continue
                head, rest = value_text(child, pad)
                made.append(" " * pad + "- " + (head or "x") + draw(_COMMENTS))
                made.extend(rest)
        else:
            head, rest = value_text(value, pad)
            made.append(" " * pad + (head or "x"))
            made.extend(rest)
        return made

    for number, tree in enumerate(draw(st.lists(_TREES, min_size=1, max_size=3))):
        if number or draw(st.booleans()):
            out.append("---" + draw(_COMMENTS))
        if draw(st.booleans()):
            out.append("# a comment")
        for line in block(tree, 0):
            out.append(line)
            if draw(st.integers(0, 9)) == 0:
                out.append(draw(st.sampled_from(["", "  # between"])))
    ending = draw(st.sampled_from(["\n", "", "\n---\n"]))
    return "\n".join(out) + ending


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_documents())
def test_generated_documents_read_as_the_event_composer_reads_them(text: str) -> None:
    agrees(text)


# -- mutations --------------------------------------------------------------------------------

_BASE = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: web # the web tier
  namespace: shop
  labels: {app: web, team: 'shop'}
spec:
  podSelector:
    matchLabels:
      app: web
  policyTypes: [Ingress, Egress]
  ingress:
  - from:
    - namespaceSelector: {}
      podSelector:
        matchLabels:
          role: "frontend"
    ports:
    - port: 8080
      protocol: TCP
  egress:
    - to:
        - ipBlock:
            cidr: 10.0.0.0/8
            except: ["10.1.0.0/16"]
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  script: |
    echo "a: b"
    # kept
  note: >-
    folded
    text
  empty:
  description: a plain text
    over two lines
  quoted: "first line,
    second \\"line\\" \\t end"
  "quoted.key/name": 'it''s'
"""
_ALPHABET = " :-#'\"[]{}|>&*!?,.~\n\\%@`01aeyNtT_/="


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.integers(0, len(_BASE)),
            st.sampled_from(["insert", "delete", "replace"]),
            st.sampled_from(_ALPHABET),
        ),
        min_size=1,
        max_size=3,
    )
)
def test_mutated_manifests_are_read_exactly_or_declined(edits: list[tuple[int, str, str]]) -> None:
    text = _BASE
    for at, how, char in edits:
        at = min(at, len(text))
        if how == "insert":
            text = text[:at] + char + text[at:]
        elif how == "delete":
            text = text[:at] + text[at + 1 :]
        else:
            text = text[:at] + char + text[at + 1 :]
    agrees(text)


def test_the_unmutated_manifests_are_read() -> None:
    assert agrees(_BASE)


@pytest.mark.parametrize("quoted", [False, True])
def test_a_scalar_over_many_lines_is_read_in_linear_time(quoted: bool) -> None:
    # Joined line by line, a hostile file's one scalar of 200,000 lines would copy its text
    # 200,000 times; read here it is joined once, and libyaml never sees it.
    body = "".join("  word\n" for _ in range(200_000))
    text = ("a: 'x\n" + body[:-1] + "'\n") if quoted else ("a: x\n" + body)
    start = time.perf_counter()
    documents = compose_lines(text)
    flat = flatten_lines(text)
    assert time.perf_counter() - start < 10
    assert documents is not None and flat is not None
    root = documents[0][1]
    assert isinstance(root, MapNode)
    value = root.entries["a"]
    assert isinstance(value, ScalarNode)
    assert value.text == "x" + " word" * 200_000
    assert flat[1][10] == value.text  # the header (5), the key, then the scalar: its text is 5th
