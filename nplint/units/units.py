"""Deployment units: what one ``kubectl apply`` sends.

A unit is a kustomize entry point (a kustomization no other kustomization of
the tree consumes: rendered, its output is one file), an application Helm
chart (rendered the same way), or the plain manifests of one directory that no
rendered unit consumed (``kubectl apply -f dir/``). Every file the inventory is
built from belongs to exactly one unit, so every object knows its unit through
its file's display path. A unit also says where its objects that name no
namespace land (:meth:`Unit.namespace_for_unnamed`): a chart's release
namespace, else ``default-namespace`` when configured, else an unnamed
namespace of the unit's own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from nplint.loading import LoadedFile, holds_several, iter_manifests
from nplint.records import record

#: Unit kinds, in the words ``nplint worlds`` prints.
KUSTOMIZE = "kustomize"
HELM = "helm"
PLAIN = "plain"
#: The display path of standard input.
STDIN = "-"


#: Kinds that live in a namespace, well known enough to say so (a custom resource may be
#: either): where a unit's namespace applies when the object names none. A cluster-scoped
#: kind ignores the namespace it is applied to.
NAMESPACED_KINDS = frozenset(
    (
        "NetworkPolicy",
        "Pod",
        "Deployment",
        "StatefulSet",
        "DaemonSet",
        "ReplicaSet",
        "ReplicationController",
        "Job",
        "CronJob",
        "DeploymentConfig",
        "Service",
        "ConfigMap",
        "Secret",
        "ServiceAccount",
        "Role",
        "RoleBinding",
        "Ingress",
        "PersistentVolumeClaim",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "Endpoints",
        "EndpointSlice",
    )
)


@record(frozen=True, slots=True, order=True)
class Unit:
    """One unit: its directory (relative to the root, "" for the root), its kind, and its namespace."""

    directory: str
    kind: str
    #: The namespace the unit's apply gives objects that name none: a chart's release
    #: namespace (``helm install -n``). None when nothing but kubectl's context gives one:
    #: kustomize wrote its ``namespace:`` into the objects already, plain files name their own.
    namespace: str | None = None
    #: For one of several alternative files of a folder (:func:`alternative_files`), its
    #: name: such a file is a unit of its own. "" for a whole folder or a rendered unit.
    file: str = ""

    @property
    def name(self) -> str:
        """How people see the unit: its directory ("." for the root), or its file when it is one."""
        if self.file:
            return f"{self.directory}/{self.file}" if self.directory else self.file
        return self.directory or "."

    @property
    def unnamed_namespace(self) -> str:
        """The namespace objects that name none land in when the unit gives them none.

        Kustomize already wrote what it sets (a kustomization's ``namespace:``) and a
        chart's release namespace is the unit's :attr:`namespace`, so what is left is
        the namespace of kubectl's context at apply time: unknown, but the same for
        everything this unit sends. It is
        named after the unit's directory with a trailing slash, which no real
        namespace name can hold, so it never meets ``default`` or another unit's.
        """
        if self.directory == STDIN:
            return "(standard input)/"
        return f"{self.directory}/" if self.directory else "./"

    def namespace_for_unnamed(self, default_namespace: str | None) -> str:
        """The namespace an object of this unit that names none lands in.

        The unit's own namespace first (helm places the chart's objects in the release
        namespace whatever the configuration says), then ``default-namespace`` when the
        configuration sets one, else the unit's unnamed namespace.
        """
        return self.namespace or default_namespace or self.unnamed_namespace


def is_unnamed(namespace: str) -> bool:
    """Whether ``namespace`` is a unit's unnamed namespace rather than a real one."""
    return namespace.endswith("/")


def directory_of(path: str) -> str:
    if path == STDIN:
        return STDIN
    return path.rpartition("/")[0]


def unit_of_file(path: str, rendered: Mapping[str, str], namespaces: Mapping[str, str] | None = None) -> Unit:
    """The unit of the file at display ``path``.

    ``rendered`` maps rendered outputs to their tool, ``namespaces`` rendered outputs to
    the namespace their unit gives objects that name none (a chart's release namespace).
    """
    tool = rendered.get(path)
    if tool is not None:
        namespace = namespaces.get(path) if namespaces is not None else None
        return Unit(directory_of(path), KUSTOMIZE if tool == "kustomize" else HELM, namespace)
    return Unit(directory_of(path), PLAIN)


def units_of(
    files: Iterable[LoadedFile], rendered: Mapping[str, str], namespaces: Mapping[str, str] | None = None
) -> dict[str, Unit]:
    """The unit of every file, by display path (``rendered`` and ``namespaces``: :func:`unit_of_file`).

    A plain file that is an alternative of another file of its folder is a unit of its own.
    """
    files = list(files)
    units = {loaded.path: unit_of_file(loaded.path, rendered, namespaces) for loaded in files}
    plain = [loaded for loaded in files if units[loaded.path].kind == PLAIN and loaded.path != STDIN]
    for path in alternative_files(plain):
        unit = units[path]
        units[path] = Unit(unit.directory, PLAIN, unit.namespace, path.rpartition("/")[2])
    return units


#: The fewest objects a file must hold for another file that redefines all of them to be
#: an alternative of it rather than a copy-paste mistake of a single object (at least 2:
#: :func:`alternative_files` passes over files that hold one).
ALTERNATIVE_OBJECTS = 2


def _identities(loaded: LoadedFile) -> frozenset[tuple[str, str, str, str]]:
    """(API group, kind, namespace as written, name) of each named object of a file."""
    found: set[tuple[str, str, str, str]] = set()
    for manifest in iter_manifests(loaded):
        metadata = manifest.node.get_map("metadata")
        name = metadata.get_str("name") if metadata is not None else None
        if not name or not manifest.kind or metadata is None:
            continue
        group = (manifest.node.get_str("apiVersion") or "").rpartition("/")[0]
        found.add((group, manifest.kind, metadata.get_str("namespace") or "", name))
    return frozenset(found)


def alternative_files(files: Iterable[LoadedFile]) -> set[str]:
    """The plain files that are alternatives of another file of their folder, by display path.

    Two files of one folder are alternatives when one defines again every object of the
    other, and that is at least :data:`ALTERNATIVE_OBJECTS` objects: a release's
    ``standard.yaml`` and ``experimental.yaml``, an install bundle with and without an
    extra component. Nobody applies both (the second would replace the whole first), so
    each is applied with the rest of the folder but not with the other. A single object
    defined again in another file is not an alternative: that is the copy-paste mistake
    NP704 reports.
    """
    several: dict[str, list[LoadedFile]] = {}
    for loaded in files:
        if holds_several(loaded):  # most files hold one object: fewer than an alternative needs
            several.setdefault(directory_of(loaded.path), []).append(loaded)
    by_folder: dict[str, list[tuple[str, frozenset[tuple[str, str, str, str]]]]] = {}
    for folder, group in several.items():
        if len(group) < 2:
            continue  # alone in its folder: an alternative of nothing
        for loaded in group:
            identities = _identities(loaded)
            if len(identities) >= ALTERNATIVE_OBJECTS:
                by_folder.setdefault(folder, []).append((loaded.path, identities))
    found: set[str] = set()
    for members in by_folder.values():
        if len(members) < 2:
            continue
        # Only files that share an object can contain one another: index them by object.
        holders: dict[tuple[str, str, str, str], list[int]] = {}
        for index, (_, identities) in enumerate(members):
            for identity in identities:
                holders.setdefault(identity, []).append(index)
        for path, identities in members:
            candidates = min((holders[identity] for identity in identities), key=len)
            for index in candidates:
                other, other_identities = members[index]
                if other != path and identities <= other_identities:
                    found.update((path, other))
    return found
