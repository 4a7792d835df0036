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
from dataclasses import dataclass

from nplint.loading import LoadedFile

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


@dataclass(frozen=True, slots=True, order=True)
class Unit:
    """One unit: its directory (relative to the root, "" for the root), its kind, and its namespace."""

    directory: str
    kind: str
    #: The namespace the unit's apply gives objects that name none: a chart's release
    #: namespace (``helm install -n``). None when nothing but kubectl's context gives one:
    #: kustomize wrote its ``namespace:`` into the objects already, plain files name their own.
    namespace: str | None = None

    @property
    def name(self) -> str:
        """How people see the unit: its directory, "." for the root."""
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
    """The unit of every file, by display path (``rendered`` and ``namespaces``: :func:`unit_of_file`)."""
    return {loaded.path: unit_of_file(loaded.path, rendered, namespaces) for loaded in files}
