"""Deployment units: what one ``kubectl apply`` sends.

A unit is a kustomize entry point (a kustomization no other kustomization of
the tree consumes: rendered, its output is one file), an application Helm
chart (rendered the same way), or the plain manifests of one directory that no
rendered unit consumed (``kubectl apply -f dir/``). Every file the inventory is
built from belongs to exactly one unit, so every object knows its unit through
its file's display path.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from nplint.loading import LoadedFile

#: Unit kinds, in the words ``nplint worlds`` prints.
KUSTOMIZE = "kustomize"
HELM = "helm"
PLAIN = "plain"
#: The display path of standard input.
STDIN = "-"


@dataclass(frozen=True, slots=True, order=True)
class Unit:
    """One unit: its directory (relative to the root, "" for the root) and its kind."""

    directory: str
    kind: str

    @property
    def name(self) -> str:
        """How people see the unit: its directory, "." for the root."""
        return self.directory or "."

    @property
    def unnamed_namespace(self) -> str:
        """The namespace objects that name none land in when the unit is applied.

        Kustomize and Helm already wrote what they set (a kustomization's
        ``namespace:``), so what is left is the namespace of kubectl's context at
        apply time: unknown, but the same for everything this unit sends. It is
        named after the unit's directory with a trailing slash, which no real
        namespace name can hold, so it never meets ``default`` or another unit's.
        """
        if self.directory == STDIN:
            return "(standard input)/"
        return f"{self.directory}/" if self.directory else "./"


def is_unnamed(namespace: str) -> bool:
    """Whether ``namespace`` is a unit's unnamed namespace rather than a real one."""
    return namespace.endswith("/")


def directory_of(path: str) -> str:
    if path == STDIN:
        return STDIN
    return path.rpartition("/")[0]


def unit_of_file(path: str, rendered: Mapping[str, str]) -> Unit:
    """The unit of the file at display ``path``; ``rendered`` maps rendered outputs to their tool."""
    tool = rendered.get(path)
    if tool is not None:
        return Unit(directory_of(path), KUSTOMIZE if tool == "kustomize" else HELM)
    return Unit(directory_of(path), PLAIN)


def units_of(files: Iterable[LoadedFile], rendered: Mapping[str, str]) -> dict[str, Unit]:
    """The unit of every file, by display path."""
    return {loaded.path: unit_of_file(loaded.path, rendered) for loaded in files}
