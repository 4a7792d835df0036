"""Worlds: what one cluster holds, i.e. which units are applied together.

Cross-object rules and the connectivity engine judge one world at a time.
Three sources decide the worlds, the first that speaks wins:

1. configuration ``clusters:`` (name → globs of repository paths, and that
   cluster's facts);
2. Flux ``Kustomization`` and Argo CD ``Application``/``ApplicationSet`` objects
   of the repository, pointing at its paths (``clusters/<name>/…`` layouts);
3. collisions: units whose objects collide (same kind, namespace and name,
   different content) are alternatives — two overlays of one base, two
   environments — and never share a world. Variants are paired across units by
   their environment where the folder names say it (``overlays/prod``,
   ``staging``), otherwise each variant is judged with the units it does not
   collide with.

A tree without collisions and without Flux or Argo CD objects is one world,
and finding that out costs one dictionary look-up per object.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from fnmatch import fnmatchcase

from nplint.cluster.cni_version import CNISwitches
from nplint.config import ClusterConfig, ClusterFacts, Config
from nplint.deployment_scope import is_partial
from nplint.loading import Manifest
from nplint.loading.nodes import MapNode, ScalarNode
from nplint.records import record
from nplint.units.units import NAMESPACED_KINDS, PLAIN, Unit

#: World kinds: the only world of a repository, a cluster (configured or found in Flux/Argo
#: CD objects), the units of one environment, one variant on its own, units no cluster holds.
REPOSITORY = "repository"
CLUSTER = "cluster"
OVERLAY = "overlay"
VARIANT = "variant"
REST = "rest"

#: Folder names that say which environment a unit is for, and the name they pair under.
_ENVIRONMENTS = {
    "prod": "prod",
    "production": "prod",
    "prd": "prod",
    "staging": "staging",
    "stage": "staging",
    "stg": "staging",
    "dev": "dev",
    "development": "dev",
    "test": "test",
    "testing": "test",
    "qa": "qa",
    "uat": "uat",
    "preprod": "preprod",
    "sandbox": "sandbox",
}
#: Folders whose subfolders are environments whatever their names.
_OVERLAY_FOLDERS = frozenset(("overlays", "overlay", "envs", "environments", "env", "variants"))

_FLUX_GROUP = "kustomize.toolkit.fluxcd.io"
_ARGO_GROUP = "argoproj.io"
#: The kinds of the Flux and Argo CD objects that apply paths of a repository.
_APPLYING_KINDS = frozenset(("Kustomization", "Application", "ApplicationSet"))


@record(frozen=True, slots=True)
class World:
    """One cluster's worth of units."""

    name: str
    kind: str
    units: tuple[Unit, ...]
    #: A configured cluster's CNI and facts; None: the run's.
    cni: str | None = None
    facts: ClusterFacts | None = None
    #: A configured cluster's ``cni-options:``; None: the run's.
    cni_options: CNISwitches | None = None

    @property
    def label(self) -> str:
        """How messages and ``nplint worlds`` name the world."""
        if self.kind == REPOSITORY:
            return "the repository"
        if self.kind == REST:
            return "units no cluster holds"
        return f"{self.kind} {self.name}"

    def config(self, config: Config) -> Config:
        """The run's configuration with this cluster's facts, when configuration gave it some."""
        from dataclasses import replace

        if self.cni is None and self.facts is None and self.cni_options is None:
            return config
        return replace(
            config,
            cni=self.cni if self.cni is not None else config.cni,
            cluster=self.facts if self.facts is not None else config.cluster,
            cni_options=self.cni_options if self.cni_options is not None else config.cni_options,
        )


def naming(worlds: Sequence[World], *, limit: int = 5) -> str:
    """``in overlays prod, staging``: the worlds a finding holds in, kind by kind, at most ``limit`` named."""
    by_kind: dict[str, list[str]] = {}
    for world in worlds:
        by_kind.setdefault(world.kind, []).append(world.name)
    parts: list[str] = []
    left = limit
    for kind, names in by_kind.items():
        if kind == REST:
            parts.append("units no cluster holds")
            continue
        if left <= 0:
            parts.append(f"{len(names)} {kind}{'s' if len(names) > 1 else ''}")
            continue
        plural = kind + "s" if len(names) > 1 else kind
        shown_names = ", ".join(names[:left])
        more = f" and {len(names) - left} more" if len(names) > left else ""
        parts.append(f"{plural} {shown_names}{more}")
        left -= len(names)
    return "in " + "; ".join(parts)


def worlds_of(manifests: Iterable[Manifest], units: Mapping[str, Unit], config: Config) -> list[World]:
    """The worlds of a run, in a stable order; ``units`` maps every file's display path to its unit."""
    every = sorted(set(units.values()))
    by_unit: dict[Unit, list[Manifest]] = {}
    for manifest in manifests:
        unit = units.get(manifest.path)
        if unit is not None:
            by_unit.setdefault(unit, []).append(manifest)
    collisions = _collisions(by_unit)
    if config.clusters:
        return _configured(config.clusters, every, units, collisions)
    references = _deployment_references(by_unit, every)
    if references:
        return _from_references(references, every, collisions)
    return _variants(every, collisions, single=REPOSITORY)


# -- configured clusters ---------------------------------------------------------------------


def _configured(
    clusters: Sequence[ClusterConfig],
    every: Sequence[Unit],
    units: Mapping[str, Unit],
    collisions: set[tuple[Unit, Unit]],
) -> list[World]:
    files: dict[Unit, list[str]] = {}
    for path, unit in units.items():
        files.setdefault(unit, []).append(path)
    worlds: list[World] = []
    for cluster in clusters:
        held = tuple(
            unit
            for unit in every
            if any(
                fnmatchcase(candidate, glob)
                for glob in cluster.paths
                for candidate in (unit.directory, *files.get(unit, ()))
            )
        )
        worlds.append(World(cluster.name, CLUSTER, held, cluster.cni, cluster.facts, cluster.cni_options))
    claimed = {unit for world in worlds for unit in world.units}
    rest = [unit for unit in every if unit not in claimed]
    if rest:
        # Units no configured cluster holds are still judged (a file that does not parse is
        # reported wherever it is), on their own.
        worlds.extend(_variants(rest, collisions, single=REST))
    return worlds


# -- Flux and Argo CD ------------------------------------------------------------------------


def _deployment_references(
    by_unit: Mapping[Unit, Sequence[Manifest]], every: Sequence[Unit]
) -> dict[str, tuple[set[Unit], set[str]]]:
    """Cluster name → (the units that hold its Flux/Argo CD objects, the unit directories they apply)."""
    directories = [unit.directory for unit in every]
    found: dict[str, tuple[set[Unit], set[str]]] = {}
    for unit, manifests in sorted(by_unit.items()):
        for manifest in manifests:
            paths = [_resolved(path, unit, directories) for path in _applied_paths(manifest)]
            if not paths:
                continue
            holders, applied = found.setdefault(_cluster_name(unit), (set(), set()))
            holders.add(unit)
            applied.update(path for path in paths if path is not None)
    return found


def _resolved(path: str, holder: Unit, directories: Sequence[str]) -> str | None:
    """The directory ``path`` names, relative to the root, or None when no unit lies there.

    Flux and Argo CD paths are relative to the root of their source repository,
    which holds the file that names them: the nearest ancestor of that file
    under which the path leads to units (the root itself when nplint runs on
    the fleet repository).
    """
    parts = holder.directory.split("/") if holder.directory else []
    for depth in range(len(parts), -1, -1):
        base = "/".join(parts[:depth])
        candidate = _normal(f"{base}/{path}" if base else path)
        if candidate is not None and any(_under(d, candidate) for d in directories):
            return candidate
    return None


def _applied_paths(manifest: Manifest) -> list[str]:
    kind = manifest.kind
    if kind not in _APPLYING_KINDS:
        return []  # asked of every object: the kind alone rules out nearly all
    node = manifest.node
    group = (node.get_str("apiVersion") or "").partition("/")[0]
    spec = node.get_map("spec")
    if spec is None:
        return []
    sources: list[MapNode] = []
    if group == _FLUX_GROUP and kind == "Kustomization":
        sources = [spec]
    elif group == _ARGO_GROUP and kind in ("Application", "ApplicationSet"):
        if kind == "ApplicationSet":
            template = spec.get_map("template")
            spec = template.get_map("spec") if template is not None else None
            if spec is None:
                return []
        source = spec.get_map("source")
        sources = [source] if source is not None else []
        sources += [s for s in spec.get_seq("sources") or () if isinstance(s, MapNode)]
    paths: list[str] = []
    for source in sources:
        path = source.get("path")
        if isinstance(path, ScalarNode) and isinstance(path.value, str):
            paths.append(path.value)
    return paths


def _normal(path: str) -> str | None:
    """A repository path as the units spell directories ("" for the root), or None when it leaves."""
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                return None
            parts.pop()
            continue
        parts.append(part)
    return "/".join(parts)


def _cluster_name(unit: Unit) -> str:
    parts = unit.directory.split("/")
    for index, part in enumerate(parts[:-1]):
        if part == "clusters":
            return parts[index + 1]
    return unit.name


def _under(directory: str, path: str) -> bool:
    return not path or directory == path or directory.startswith(path + "/")


def _from_references(
    references: Mapping[str, tuple[set[Unit], set[str]]],
    every: Sequence[Unit],
    collisions: set[tuple[Unit, Unit]],
) -> list[World]:
    worlds: list[World] = []
    claimed: set[Unit] = set()
    for name in sorted(references):
        holders, paths = references[name]
        held = {unit for unit in every if any(_under(unit.directory, path) for path in paths)} | holders
        claimed |= held
        worlds.append(World(name, CLUSTER, tuple(sorted(held))))
    rest = [unit for unit in every if unit not in claimed]
    if rest:
        worlds.extend(_variants(rest, collisions, single=REST))
    return worlds


# -- collisions and variants -----------------------------------------------------------------


def _identity(manifest: Manifest, unit: Unit) -> tuple[str, str, str, str] | None:
    """(API group, kind, namespace, name) of the object, as where it lands; None when unnamed.

    Whether it is a patch rather than an object is asked by :func:`_collisions`, only of
    the objects two units send.
    """
    node = manifest.node
    metadata = node.get_map("metadata")
    if metadata is None or not manifest.kind:
        return None
    name = metadata.get_str("name")
    if not name:
        return None  # generateName: every apply creates a new object
    api_version = node.get_str("apiVersion") or ""
    namespace = metadata.get_str("namespace") or ""
    if not namespace and unit.namespace is not None and manifest.kind in NAMESPACED_KINDS:
        # A chart's objects that name none go to its release namespace, so two charts'
        # meet only when their release namespaces do. A cluster-scoped object (or one
        # of a kind not known to be namespaced) ignores the namespace: it keeps "".
        namespace = unit.namespace
    # Otherwise the namespace as rendered: objects that name none go to the same namespace
    # of kubectl's context whichever unit sends them, so they collide there.
    return api_version.rpartition("/")[0], manifest.kind, namespace, name


def _collisions(by_unit: Mapping[Unit, Sequence[Manifest]]) -> set[tuple[Unit, Unit]]:
    """Pairs of units (ordered) that send the same object with different content."""
    sent: dict[tuple[str, str, str, str], list[tuple[Unit, Manifest]]] = {}
    for unit in sorted(by_unit):
        for manifest in by_unit[unit]:
            identity = _identity(manifest, unit)
            if identity is not None:
                sent.setdefault(identity, []).append((unit, manifest))
    pairs: set[tuple[Unit, Unit]] = set()
    for senders in sent.values():
        if all(unit == senders[0][0] for unit, _ in senders[1:]):
            continue  # one unit's object: no collision, whatever its documents are
        # A strategic-merge patch kept as a file (nplint.deployment_scope) is no second
        # definition of the object it patches: it makes no alternative of its unit.
        kept = [(unit, m) for unit, m in senders if not (unit.kind == PLAIN and is_partial(m.node))]
        if not kept:
            continue
        # The first sender, and each later one of another unit.
        holders = [kept[0], *((unit, m) for unit, m in kept[1:] if unit != kept[0][0])]
        if len(holders) < 2:
            continue
        contents = [(unit, manifest.node.to_python()) for unit, manifest in holders]
        for index, (unit, content) in enumerate(contents):
            for other, other_content in contents[index + 1 :]:
                # The same object sent twice unchanged replaces itself: no alternative.
                if unit != other and content != other_content:
                    pairs.add((min(unit, other), max(unit, other)))
    return pairs


def environment(unit: Unit) -> str | None:
    """The environment the unit's folders name (``overlays/prod`` → ``prod``), or None."""
    parts = unit.directory.split("/") if unit.directory else []
    for index in range(len(parts) - 1, -1, -1):
        known = _ENVIRONMENTS.get(parts[index].lower())
        if known is not None:
            return known
        if index > 0 and parts[index - 1].lower() in _OVERLAY_FOLDERS:
            return parts[index]
    return None


def _variants(units: Sequence[Unit], collisions: set[tuple[Unit, Unit]], *, single: str) -> list[World]:
    inside = set(units)
    pairs = {(a, b) for a, b in collisions if a in inside and b in inside}
    if not pairs:
        return [World("", single, tuple(units))]
    colliding = {unit for pair in pairs for unit in pair}
    groups: dict[str, list[Unit]] = {}
    singles: list[Unit] = []
    for unit in units:
        if unit in colliding:
            env = environment(unit)
            if env is None:
                singles.append(unit)
            else:
                groups.setdefault(env, []).append(unit)
    for env in list(groups):
        members = groups[env]
        if any((a, b) in pairs for a in members for b in members):
            # The folder names do not keep these apart: each is its own variant.
            singles.extend(groups.pop(env))
    free = [unit for unit in units if unit not in colliding]
    worlds: list[World] = []
    for env in sorted(groups):
        # A free unit of a named environment goes with that environment only.
        shared = [u for u in free if environment(u) in (None, env) or environment(u) not in groups]
        worlds.append(World(env, OVERLAY, tuple(sorted({*shared, *groups[env]}))))
    for unit in sorted(singles):
        shared = [u for u in free if environment(u) is None or environment(u) not in groups]
        worlds.append(World(unit.name, VARIANT, tuple(sorted({*shared, unit}))))
    return worlds
