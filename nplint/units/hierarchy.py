"""Config Sync hierarchical repositories: the namespace an object's folder gives it.

In a hierarchical repository (a ``system/`` folder holding the ``Repo`` object of
``configmanagement.gke.io``, beside ``namespaces/`` and ``cluster/``), Config Sync
decides namespaces by folders, not by ``metadata.namespace``:

- a namespace folder (one that holds the Namespace object, or a leaf of
  ``namespaces/``) is the namespace named as the folder: its objects belong to it;
- an abstract namespace folder (``namespaces/`` itself, and every folder above a
  namespace folder) holds objects that every namespace below it inherits: Config
  Sync applies a copy in each.

:func:`place_hierarchical` gives each such object the namespace it gets, in a new
root whose nodes are the file's own, so positions stay the ones of the file.
Objects that name their namespace keep it (Config Sync requires it to match), and
a NamespaceSelector annotation, which limits inheritance, is not evaluated.
"""

from __future__ import annotations

from collections.abc import Sequence

from nplint.loading import Document, LoadedFile
from nplint.loading.nodes import MapNode, ScalarNode
from nplint.units.units import directory_of

__all__ = ["hierarchical_roots", "place_hierarchical"]

_CONFIG_MANAGEMENT = "configmanagement.gke.io"
_NAMESPACE_SELECTOR_ANNOTATION = "configmanagement.gke.io/namespace-selector"


def _group(node: MapNode) -> str:
    return (node.get_str("apiVersion") or "").partition("/")[0]


def hierarchical_roots(files: Sequence[LoadedFile]) -> list[str]:
    """The directories (display paths, "" for the root) that are Config Sync hierarchical repositories."""
    roots: set[str] = set()
    for loaded in files:
        folder = directory_of(loaded.path)
        parent, _, name = folder.rpartition("/")
        if name != "system":
            continue
        for document in loaded.documents:
            root = document.root
            if (
                isinstance(root, MapNode)
                and root.get_str("kind") == "Repo"
                and _group(root) == _CONFIG_MANAGEMENT
            ):
                roots.add(parent)
    return sorted(roots)


def _below(path: str, directory: str) -> str | None:
    """``path`` relative to ``directory`` ("" for the root), None when outside it."""
    if not directory:
        return path
    return path[len(directory) + 1 :] if path.startswith(directory + "/") else None


def place_hierarchical(files: Sequence[LoadedFile]) -> list[LoadedFile]:
    """``files`` with the objects of hierarchical repositories placed in their namespaces."""
    roots = hierarchical_roots(files)
    if not roots:
        return list(files)
    # Files of each repository's namespaces/, by their folder below it ("" for namespaces/ itself).
    trees: dict[str, dict[str, list[LoadedFile]]] = {root: {} for root in roots}
    where: dict[str, tuple[str, str]] = {}
    for loaded in files:
        for root in reversed(roots):  # the innermost repository holds the file
            inside = _below(loaded.path, f"{root}/namespaces" if root else "namespaces")
            if inside is not None:
                folder = directory_of(inside) if "/" in inside else ""
                trees[root].setdefault(folder, []).append(loaded)
                where[loaded.path] = (root, folder)
                break
    namespaces = {root: _namespace_folders(tree) for root, tree in trees.items()}
    placed: list[LoadedFile] = []
    for loaded in files:
        found = where.get(loaded.path)
        if found is None:
            placed.append(loaded)
            continue
        root, folder = found
        folders = namespaces[root]
        if folder in folders:
            targets = [folder.rpartition("/")[2]]
        else:
            targets = sorted(
                {f.rpartition("/")[2] for f in folders if not folder or f.startswith(folder + "/")}
            )
        placed.append(_placed(loaded, targets, abstract=folder not in folders))
    return placed


def _namespace_folders(tree: dict[str, list[LoadedFile]]) -> set[str]:
    """The namespace folders of one ``namespaces/`` tree: those holding a Namespace, and its leaves."""
    folders = {folder for folder in tree if folder}
    found: set[str] = set()
    for folder in folders:
        holds_namespace = any(
            isinstance(d.root, MapNode) and d.root.get_str("kind") == "Namespace"
            for loaded in tree[folder]
            for d in loaded.documents
        )
        leaf = not any(other.startswith(folder + "/") for other in folders)
        if holds_namespace or leaf:
            found.add(folder)
    return found


def _placed(loaded: LoadedFile, targets: Sequence[str], *, abstract: bool) -> LoadedFile:
    """A copy of ``loaded`` whose objects without a namespace are placed in each of ``targets``."""
    copy = LoadedFile(
        loaded.path, [], loaded.problems, loaded.suppressions, loaded.kubernetes, loaded.generated
    )
    for document in loaded.documents:
        root = document.root
        if not isinstance(root, MapNode) or not targets or not _placeable(root, abstract):
            copy.documents.append(document)
            continue
        for target in targets:
            copy.documents.append(Document(document.index, _in_namespace(root, target), document.problems))
    return copy


def _placeable(root: MapNode, abstract: bool) -> bool:
    """An object Config Sync places by its folder: namespaced, naming no namespace itself."""
    kind = root.get_str("kind")
    metadata = root.get_map("metadata")
    if not kind or kind == "Namespace" or metadata is None or _group(root) == _CONFIG_MANAGEMENT:
        return False
    annotations = metadata.get_map("annotations")
    if abstract and annotations is not None and _NAMESPACE_SELECTOR_ANNOTATION in annotations:
        return False  # inherited only where its selector matches, which is not evaluated
    return metadata.get("namespace") is None


def _in_namespace(root: MapNode, namespace: str) -> MapNode:
    """A new root with ``root``'s nodes and ``metadata.namespace: namespace`` (at the metadata key)."""
    metadata = root.get_map("metadata")
    assert metadata is not None
    made_metadata = MapNode(metadata.pos, metadata.tag)
    made_metadata.entries.update(metadata.entries)
    made_metadata.parent, made_metadata.key, made_metadata.key_at = (
        metadata.parent,
        metadata.key,
        metadata.key_at,
    )
    where = metadata.key_span
    node = ScalarNode(namespace, namespace, "", (where.line, where.column, where.end_line, where.end_column))
    node.parent, node.key = made_metadata, "namespace"
    made_metadata.entries["namespace"] = node
    made = MapNode(root.pos, root.tag)
    made.entries.update(root.entries)
    made.entries["metadata"] = made_metadata
    return made
