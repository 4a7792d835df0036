"""Load files into positioned documents; the only package that touches YAML text.

A file that cannot be decoded, or a document that cannot be parsed, becomes a
:class:`Problem` (reported as NP001 later) and never an exception, so the rest
of the repository is still linted.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from nplint.findings import Span
from nplint.loading.composer import FAST_PATH_BOUND, Document, Problem, compose_documents, node_bound
from nplint.loading.fastpath import flatten_fast
from nplint.loading.nodes import MapNode, Node, ScalarNode, SeqNode
from nplint.loading.placeholders import is_placeholder

__all__ = [
    "Document",
    "LoadedFile",
    "Manifest",
    "Problem",
    "SuppressionComment",
    "decode",
    "holds_kubernetes_objects",
    "iter_manifests",
    "load_encoded",
    "load_text",
    "names_an_object",
]

# The characters YAML forbids (c-printable's complement), which includes NUL.
# Checked before parsing so the position is exact and the message plain.
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")
#: A line that starts a Kubernetes object's field at the top of a document (or of a JSON
#: object, which is indented): what a document that failed to parse was meant to hold.
_API_VERSION_LINE = re.compile(r"""^(?:apiVersion\s*:|\s*"apiVersion"\s*:)""", re.MULTILINE)
_KIND_LINE = re.compile(r"""^(?:kind\s*:|\s*"kind"\s*:)""", re.MULTILINE)
_SUPPRESSION = re.compile(r"#\s*nplint:\s*(disable|disable-file|disable-next-line)\s*=\s*([A-Za-z0-9_,\- ]*)")

#: Kinds whose ``items`` hold the real objects (kubectl exports, np-guard inputs).
LIST_KINDS = frozenset(
    ("List", "PodList", "NamespaceList", "NetworkPolicyList", "DeploymentList", "ServiceList")
)


@dataclass(frozen=True, slots=True)
class SuppressionComment:
    """An ``# nplint: disable=…`` comment, as written."""

    line: int
    column: int
    #: "disable" (this line, or the next when the comment stands alone) or "disable-file".
    scope: str
    #: The rule IDs or names, as written.
    codes: tuple[str, ...]
    #: True when nothing but the comment is on the line, so it covers the next line.
    own_line: bool


@dataclass(slots=True)
class LoadedFile:
    """A file after loading: its documents and what kept parts of it from loading."""

    path: str
    documents: list[Document] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    suppressions: list[SuppressionComment] = field(default_factory=list)
    #: Whether the file holds, or tries to hold, Kubernetes objects: a document with
    #: ``apiVersion`` at its top, or ``kind`` beside ``metadata`` (Helm values often
    #: choose a ``kind:``), or, where a document could not be read, a top-level
    #: ``apiVersion:`` or ``kind:`` line in its text. A file that does not (Helm values,
    #: a CloudFormation template, a CI workflow, a tsconfig.json) is not a manifest:
    #: nothing in it is reported as a broken manifest.
    kubernetes: bool = True


@dataclass(frozen=True, slots=True)
class Manifest:
    """One Kubernetes object: a document, or an item of a ``kind: List`` document."""

    path: str
    document_index: int
    node: MapNode
    #: The kind an item of a typed list (``PodList``) has when it omits its own.
    implied_kind: str | None = None
    #: The object's kind: its own, else the implied one. Read once, as every rule asks.
    kind: str | None = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", self.node.get_str("kind") or self.implied_kind)


def decode(data: bytes) -> tuple[str | None, Problem | None]:
    """Decode a file's bytes as YAML streams are encoded (UTF-8, or UTF-16/32 with a BOM)."""
    encoding = "utf-8"
    if data.startswith(b"\xef\xbb\xbf"):
        encoding, data = "utf-8", data[3:]
    elif data.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        encoding = "utf-32"
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        encoding = "utf-16"
    try:
        return data.decode(encoding), None
    except UnicodeDecodeError as error:
        before = data[: error.start]
        line = before.count(b"\n") + 1
        column = error.start - (before.rfind(b"\n") + 1) + 1
        return None, Problem(
            Span(line, column, line, column + 1),
            f"not valid {encoding.upper()}: byte 0x{data[error.start]:02x} cannot be decoded; "
            "save the file as UTF-8",
        )


def load_text(path: str, text: str, *, is_json: bool = False) -> LoadedFile:
    """Parse ``text`` (the contents of ``path``) into documents."""
    loaded = LoadedFile(path)
    forbidden = _FORBIDDEN.search(text)
    if forbidden is not None:
        before = text[: forbidden.start()]
        line = before.count("\n") + 1
        column = forbidden.start() - (before.rfind("\n") + 1) + 1
        char = forbidden.group()
        what = "a NUL byte" if char == "\x00" else f"the control character U+{ord(char):04X}"
        loaded.problems.append(
            Problem(
                Span(line, column, line, column + 1),
                f"not valid YAML: {what} is not allowed in a YAML file (is it a binary file?)",
            )
        )
        loaded.kubernetes = names_an_object(text)
        return loaded
    if is_json:
        # JSON allows tabs between tokens; libyaml does not always. Outside strings
        # a tab is only white space, and inside one it is invalid JSON anyway.
        text = text.replace("\t", " ")
    loaded.documents, loaded.problems = compose_documents(text)
    loaded.kubernetes = holds_kubernetes_objects(loaded, text, is_json=is_json)
    if "nplint:" in text:
        loaded.suppressions = list(_suppressions(text))
    return loaded


def load_encoded(path: str, text: str, *, is_json: bool = False) -> tuple[Any, ...] | None:
    """``transfer.encode(load_text(path, text, is_json=is_json))``, made without nodes where it can be.

    For a process that loads files only to send them (:func:`nplint.parallel.load_split`):
    an ordinary file is written straight from libyaml's nodes
    (:func:`~nplint.loading.fastpath.flatten_fast`); any other goes through
    :func:`load_text`, so both ways say the same.
    """
    from nplint.loading.transfer import encode

    if _FORBIDDEN.search(text) is None:
        if is_json:
            text = text.replace("\t", " ")  # as load_text reads JSON
        fast = flatten_fast(text) if node_bound(text) <= FAST_PATH_BOUND else None
        if fast is not None:
            documents, flat, starts = fast
            # As holds_kubernetes_objects judges documents that all parsed.
            kubernetes = False
            for start in starts:
                if flat[start] == 1:  # a mapping: its keys follow its header
                    keys = flat[start + 5 : start + 5 + flat[start + 4]]
                    if "apiVersion" in keys or ("kind" in keys and "metadata" in keys):
                        kubernetes = True
                        break
            suppressions = (
                [(s.line, s.column, s.scope, s.codes, s.own_line) for s in _suppressions(text)]
                if "nplint:" in text
                else []
            )
            return (path, [], suppressions, documents, flat, kubernetes)
    return encode(load_text(path, text, is_json=is_json))


def holds_kubernetes_objects(loaded: LoadedFile, text: str, *, is_json: bool = False) -> bool:
    """Whether a file holds, or was meant to hold, Kubernetes objects (:attr:`LoadedFile.kubernetes`).

    Broken JSON names its keys quoted: both ``"apiVersion"`` and ``"kind"`` say it was meant as one.
    """
    unread = bool(loaded.problems)
    for document in loaded.documents:
        root = document.root
        if isinstance(root, MapNode):
            entries = root.entries
            if "apiVersion" in entries or ("kind" in entries and "metadata" in entries):
                return True
        elif document.failed:
            unread = True
    # Only a document that could not be read leaves the question to the text.
    if unread and is_json:
        return '"apiVersion"' in text and '"kind"' in text
    return unread and names_an_object(text)


def names_an_object(text: str) -> bool:
    """Whether ``text`` has a top-level line of a Kubernetes object, read without parsing.

    For text that could not be parsed, so either of ``apiVersion:`` and ``kind:`` will
    do: a broken file that shows either was most likely meant as a manifest.
    """
    return _API_VERSION_LINE.search(text) is not None or _KIND_LINE.search(text) is not None


def _suppressions(text: str) -> Iterator[SuppressionComment]:
    for number, line in enumerate(text.splitlines(), start=1):
        if "nplint:" not in line:
            continue
        match = _SUPPRESSION.search(line)
        if match is None:
            continue
        scope = "disable" if match.group(1) == "disable-next-line" else match.group(1)
        own_line = not line[: match.start()].strip() or match.group(1) == "disable-next-line"
        codes = tuple(code.strip() for code in match.group(2).split(",") if code.strip())
        yield SuppressionComment(number, match.start() + 1, scope, codes, own_line)


def iter_manifests(loaded: LoadedFile) -> Iterator[Manifest]:
    """The Kubernetes objects of a file, with ``kind: List`` documents expanded."""
    for document in loaded.documents:
        root = document.root
        if document.failed or not isinstance(root, MapNode):
            continue
        yield from _expand(loaded.path, document.index, root)


def _expand(path: str, index: int, node: MapNode) -> Iterator[Manifest]:
    kind = node.get_str("kind")
    if kind in _KYVERNO_POLICY_KINDS:
        yield Manifest(path, index, node)
        yield from generated_policies(path, index, node)
        return
    items = node.get("items")
    if kind in LIST_KINDS and isinstance(items, SeqNode):
        for item in items:
            if isinstance(item, MapNode):
                if item.get_str("kind") is None and kind != "List":
                    # Items of typed lists (PodList…) may omit their kind.
                    yield Manifest(path, index, item, kind.removesuffix("List"))
                else:
                    yield from _expand(path, index, item)
        return
    yield Manifest(path, index, node)


_KYVERNO_GROUP = "kyverno.io"
_KYVERNO_POLICY_KINDS = frozenset(("ClusterPolicy", "Policy"))
#: The kinds a Kyverno generate rule makes that nplint lints as the objects they become.
#: With the apiVersion Kyverno finds for each when the rule names only the kind.
_GENERATED_KINDS = {"NetworkPolicy": "networking.k8s.io/v1"}


def generated_policies(path: str, index: int, policy: MapNode) -> Iterator[Manifest]:
    """The NetworkPolicies a Kyverno ``ClusterPolicy``/``Policy`` generates (``generate.data``).

    Each is the object Kyverno creates: the generate rule's ``apiVersion``, ``kind``,
    ``name`` and ``namespace`` around its ``data``. Its nodes are the policy file's own, so
    findings point inside the ClusterPolicy. A namespace Kyverno fills in per trigger
    (``{{request.object.metadata.name}}``) becomes an unnamed namespace (its text and a
    trailing "/"): every namespace it stands for, none of them one the repository names.
    A namespaced ``Policy`` generates into its own namespace when the rule names none.
    """
    api_version = policy.get_str("apiVersion") or ""
    spec = policy.get_map("spec")
    rules = spec.get_seq("rules") if spec is not None else None
    if api_version.partition("/")[0] != _KYVERNO_GROUP or rules is None:
        return
    metadata = policy.get_map("metadata")
    own_namespace = metadata.get("namespace") if metadata is not None else None
    for rule in rules:
        generate = rule.get_map("generate") if isinstance(rule, MapNode) else None
        if generate is None:
            continue
        sources = [generate]
        foreach = generate.get_seq("foreach")
        if foreach is not None:
            sources += [item for item in foreach if isinstance(item, MapNode)]
        for source in sources:
            made = _generated_object(source, own_namespace if policy.get_str("kind") == "Policy" else None)
            if made is not None:
                yield Manifest(path, index, made)


def _generated_object(source: MapNode, own_namespace: Node | None) -> MapNode | None:
    """The object a generate rule (or a ``foreach`` entry of one) makes, or None."""
    data = source.get_map("data")
    kind = source.get("kind")
    if data is None or not isinstance(kind, ScalarNode) or kind.text not in _GENERATED_KINDS:
        return None
    # Made of the rule's own nodes, which keep their parents: positions and paths stay
    # the ones of the policy file. Only the two new mappings have no place of their own.
    made = MapNode(data.pos)
    written = data.get_map("metadata")
    metadata = MapNode(written.pos if written is not None else source.pos)
    if written is not None:
        metadata.entries.update(written.entries)
    for key in ("apiVersion", "kind"):
        value = source.get(key) or data.get(key)
        if value is not None:
            made.entries[key] = value
    if "apiVersion" not in made.entries:
        # Kyverno finds the API of a kind the rule names alone (older policies write no
        # apiVersion): the object it creates has the kind's served one.
        api = ScalarNode(_GENERATED_KINDS[kind.text], _GENERATED_KINDS[kind.text], "", kind.pos)
        api.parent, api.key, api.key_at = kind.parent, "apiVersion", kind.key_at
        made.entries["apiVersion"] = api
    made.entries.update((key, value) for key, value in data.items() if key not in ("apiVersion", "kind"))
    made.entries["metadata"] = metadata
    name = source.get("name")
    if name is not None:
        metadata.entries["name"] = name
    namespace = source.get("namespace") or own_namespace
    if isinstance(namespace, ScalarNode) and isinstance(namespace.value, str):
        if is_placeholder(namespace.text):
            namespace = _unnamed(namespace)
        metadata.entries["namespace"] = namespace
    return made


def _unnamed(node: ScalarNode) -> ScalarNode:
    """A copy of a placeholder namespace's node that names the unnamed namespace it stands for."""
    text = node.text + "/"
    copy = ScalarNode(text, text, node.style, node.pos, node.tag)
    copy.parent, copy.key, copy.key_at = node.parent, node.key, node.key_at
    return copy


def node_text(node: Node | None) -> str | None:
    """The text of a scalar node, whatever its resolved type."""
    return node.text if isinstance(node, ScalarNode) else None
