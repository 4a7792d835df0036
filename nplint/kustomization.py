"""What a kustomization references, read safely from an untrusted repository.

Before kustomize is run, nplint follows a kustomization's references
(``resources``, ``bases``, ``components`` and the plugin lists) through the
kustomizations they name, to know the plain files it consumes (to map findings
back to them) and to refuse what kustomize must not be given: a remote base,
which it would fetch from the network, and a path that leads out of the
repository or into ``.git``, which would reach the live checkout, the runner's
files or the CI's credentials from the temporary copy it runs on. Every file is
read through :func:`read_inside`: a regular file of the repository, never out of
it, never in ``.git``, and bounded in size.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable, Mapping
from dataclasses import field

from nplint.discovery import ParsedKustomization, kustomization_patch_paths
from nplint.export import in_git, within
from nplint.loading import decode, load_text
from nplint.loading.nodes import MapNode
from nplint.reading import read_bounded
from nplint.records import record

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
#: Bytes of a kustomization or source file read to follow references and map findings back.
_SOURCE_LIMIT = 16 * 1024 * 1024
#: Kustomization keys whose entries kustomize loads as kustomizations, files or remote bases.
_REFERENCE_KEYS = ("resources", "bases", "components", "generators", "transformers", "validators")
#: Of those, the ones whose plain files are manifests (the others hold plugin configuration).
_MANIFEST_KEYS = frozenset(("resources", "bases", "components"))
#: What makes kustomize fetch an entry instead of reading it (its repospec and go-getter forms).
_REMOTE = re.compile(
    r"://|^(?:git@|git::|gh:|github\.com/|gitlab\.com/|bitbucket\.org/)|[?&](?:ref|version|timeout|submodules)="
    r"|^[\w.~-]+@[\w.-]+:|[^:/]//",
    re.IGNORECASE,
)
#: Every form :data:`_REMOTE` knows has one of these characters or starts with one of these
#: hosts: an ASCII entry without them (``../base``, ``deployment.yaml``) is no remote one, and
#: a fleet's thousands of references are told so without the pattern. (Other entries go to
#: the pattern, whose case-insensitive match also folds letters such as "ı" and "K".)
_REMOTE_MARKS = (":", "?", "&", "@", "//")
_REMOTE_HOSTS = ("github.com/", "gitlab.com/", "bitbucket.org/")


def _remote(entry: str) -> bool:
    """Whether :data:`_REMOTE` finds a remote form in ``entry``."""
    if (
        entry.isascii()
        and not any(mark in entry for mark in _REMOTE_MARKS)
        and not entry[:14].lower().startswith(_REMOTE_HOSTS)
    ):
        return False
    return _REMOTE.search(entry) is not None


#: A first component that looks like a host name ("example.com/org/repo"): remote when no such
#: local path exists.
_HOST_LIKE = re.compile(r"^[a-z0-9-]+(?:\.[a-z0-9-]+)+/", re.IGNORECASE)


def physical(root_real: str, relative: str) -> str | None:
    """The real path of ``relative`` (POSIX, below the root) relative to the root, "" for itself.

    None when it is not below the root as written, resolves out of the repository,
    or into a ``.git``.
    """
    parts = relative.split("/") if relative else []
    if relative.startswith("/") or ".." in parts:
        return None
    real = os.path.realpath(os.path.join(root_real, *parts))
    if not within(real, root_real):
        return None
    found = "" if real == root_real else os.path.relpath(real, root_real).replace(os.sep, "/")
    return None if in_git(found) else found


def _join(directory: str, name: str) -> str:
    return f"{directory}/{name}" if directory else name


def read_inside(root_real: str, relative: str) -> str | None:
    """The text of a regular file of the repository, at most :data:`_SOURCE_LIMIT` bytes.

    Never outside the repository, never in ``.git``, never a FIFO.
    """
    where = physical(root_real, relative)
    if where is None:
        return None
    try:
        data = read_bounded(os.path.join(root_real, *where.split("/")), _SOURCE_LIMIT)
    except OSError:  # missing, not a regular file, or over the limit: not a source
        return None
    text, _ = decode(data)
    return text


@record(slots=True)
class Closure:
    """What a kustomization uses, following its references to other kustomizations."""

    #: Kustomization directories it uses (real paths relative to the root).
    directories: set[str] = field(default_factory=set)
    #: Plain manifest files it uses.
    files: set[str] = field(default_factory=set)
    #: Patch files of it and of the kustomizations it uses.
    patches: set[str] = field(default_factory=set)
    #: Why kustomize must not be run on it, when it must not.
    refusal: str | None = None
    #: Whether a kustomization of it inflates Helm charts (``helmCharts``): kustomize then runs helm.
    helm: bool = False
    #: Directories besides the kustomizations' own that the render reads (chart homes, values
    #: files' directories), real paths relative to the root.
    inputs: set[str] = field(default_factory=set)
    #: The ``chartHome`` directories of its ``helmCharts``: the charts there reach a cluster through it.
    chart_homes: set[str] = field(default_factory=set)


class Tree:
    """One run's view of the repository for planning renders: each path resolved and each file read once.

    A fleet's overlays share bases and components, so the same kustomization is
    reached through many references, each written relative to its own directory.
    Planning them with a :class:`Tree` resolves every path once (each directory's
    real path is found from its parent's, not from the root again), looks at each
    file once, reads and parses each kustomization once (or not at all when
    discovery read it already: ``parsed``, by real path), and works out what each
    kustomization names once, however many overlays use it.

    A tree answers for one run only: the repository may change between runs.
    ``directories``: real paths known to be directories (the ones discovery listed), so
    that the paths through them are resolved without asking the system again.
    """

    def __init__(
        self,
        root_real: str,
        parsed: Mapping[str, ParsedKustomization] | None = None,
        directories: Iterable[str] = (),
    ) -> None:
        self.root_real = root_real
        self._prefix = root_real.rstrip(os.sep) + os.sep
        self._parsed: Mapping[str, ParsedKustomization] = parsed if parsed is not None else {}
        #: Normalised relative path → its real path (absolute).
        self._real: dict[str, str] = {"": root_real}
        self._physical: dict[str, str | None] = {}
        #: Absolute path → the mode of what it leads to (None when nothing is there).
        self._modes: dict[str, int | None] = {}
        self._lexists: dict[str, bool] = {}
        #: Absolute path → what ``os.lstat`` says of it (None when nothing is there). A fleet
        #: names thousands of files: whether each exists, whether it is a link and what it
        #: is are then found with one call where three were made. Only the type bits of the
        #: mode are read, so a directory discovery listed is known without a call.
        self._lstat: dict[str, int | None] = dict.fromkeys(directories, stat.S_IFDIR)
        self._own: dict[str, Closure] = {}

    # -- paths

    def _realpath(self, parts: list[str]) -> str:
        """``os.path.realpath`` of the root joined with ``parts`` (no "", "." or ".." among them)."""
        key = "/".join(parts)
        found = self._real.get(key)
        if found is not None:
            return found
        known = len(parts) - 1
        while "/".join(parts[:known]) not in self._real:
            known -= 1
        real = self._real["/".join(parts[:known])]
        # From the longest prefix resolved already, one component at a time: a component
        # that is no symbolic link resolves to itself below its parent's real path.
        for count in range(known + 1, len(parts) + 1):
            candidate = (real if real.endswith(os.sep) else real + os.sep) + parts[count - 1]
            mode = self._lstat_mode(candidate)
            # Missing or unreadable: realpath keeps the name as written.
            link = mode is not None and stat.S_ISLNK(mode)
            real = os.path.realpath(candidate) if link else candidate
            self._real["/".join(parts[:count])] = real
        return real

    def physical(self, relative: str) -> str | None:
        """:func:`physical` of ``relative``, resolved once per run."""
        if relative in self._physical:
            return self._physical[relative]
        parts = relative.split("/") if relative else []
        found: str | None = None
        if not relative.startswith("/") and ".." not in parts:
            real = self._realpath([part for part in parts if part and part != "."])
            if real == self.root_real:
                found = ""
            elif real.startswith(self._prefix):  # within the root: what relpath would give
                found = real[len(self._prefix) :].replace(os.sep, "/")
                found = None if in_git(found) else found
        self._physical[relative] = found
        return found

    def _lstat_mode(self, path: str) -> int | None:
        """The mode ``os.lstat`` gives ``path`` (the link itself), None when it fails; asked once per run."""
        if path in self._lstat:
            return self._lstat[path]
        try:
            mode: int | None = os.lstat(path).st_mode
        except (OSError, ValueError):
            mode = None
        self._lstat[path] = mode
        return mode

    def _absolute(self, real_relative: str) -> str:
        return self._prefix + real_relative if real_relative else self.root_real

    def _mode(self, real_relative: str) -> int | None:
        path = self._absolute(real_relative)
        if path not in self._modes:
            # What lstat said already is what stat says, unless the path is a link.
            known = self._lstat.get(path)
            if known is not None and not stat.S_ISLNK(known):
                self._modes[path] = known
            else:
                try:
                    self._modes[path] = os.stat(path).st_mode
                except (OSError, ValueError):
                    self._modes[path] = None
        return self._modes[path]

    def is_dir(self, real_relative: str) -> bool:
        """Whether the real path (relative to the root) is a directory, as ``os.path.isdir`` says."""
        mode = self._mode(real_relative)
        return mode is not None and stat.S_ISDIR(mode)

    def is_file(self, real_relative: str) -> bool:
        mode = self._mode(real_relative)
        return mode is not None and stat.S_ISREG(mode)

    def lexists(self, lexical: str) -> bool:
        """``os.path.lexists`` of a POSIX path relative to the root ("." for the root)."""
        if lexical not in self._lexists:
            # A normalised relative path: joining is putting the root in front of it.
            joined = self.root_real if lexical == "." else self._prefix + lexical.replace("/", os.sep)
            self._lexists[lexical] = self._lstat_mode(joined) is not None
        return self._lexists[lexical]

    def entry_inside(self, directory: str, entry: str) -> str | None:
        """:func:`entry_inside`, resolved once per run."""
        if os.path.isabs(entry):
            return None
        lexical = os.path.normpath(os.path.join(directory, entry)).replace(os.sep, "/")
        if lexical == ".." or lexical.startswith("../") or in_git(lexical):
            return None
        return self.physical("" if lexical == "." else lexical)

    # -- kustomizations

    def kustomization(self, directory: str) -> tuple[str, dict[str, object]]:
        """The path of the kustomization file of ``directory`` and what it holds."""
        for name in KUSTOMIZATION_FILES:
            path = _join(directory, name)
            where = self.physical(path)
            if where is None or not self.is_file(where):
                continue  # read_inside reads nothing there
            parsed = self._parsed.get(self._absolute(where))
            if parsed is not None and parsed.complete:
                # Read by discovery: the bytes read_inside would read, unless over its bound.
                if parsed.size > _SOURCE_LIMIT or not parsed.decoded:
                    continue
                return path, parsed.mapping if parsed.mapping is not None else {}
            text = read_inside(self.root_real, path)
            if text is None:
                continue
            for document in load_text(path, text).documents:
                if isinstance(document.root, MapNode) and not document.failed:
                    data = document.root.to_python()
                    if isinstance(data, dict):
                        return path, data
            return path, {}
        return _join(directory, KUSTOMIZATION_FILES[0]), {}

    def closure(self, directory: str) -> Closure:
        """What the kustomization of ``directory`` uses, following its references to other kustomizations."""
        found = Closure()
        pending = [directory]
        seen = {directory}
        while pending:
            own = self.own(pending.pop())
            found.patches |= own.patches
            found.files |= own.files
            found.inputs |= own.inputs
            found.chart_homes |= own.chart_homes
            found.helm = found.helm or own.helm
            found.refusal = found.refusal or own.refusal
            for used in sorted(own.directories):
                found.directories.add(used)
                if used not in seen:
                    seen.add(used)
                    pending.append(used)
        found.directories.discard(directory)
        return found

    def own(self, directory: str) -> Closure:
        """What the kustomization of ``directory`` names itself, worked out once per run."""
        found = self._own.get(directory)
        if found is None:
            found = self._own[directory] = self._own_closure(directory)
        return found

    def reached(self, directories: Iterable[str]) -> tuple[set[str], set[str]]:
        """(the kustomizations of ``directories`` some other one of them uses, the chart homes of all).

        The first is the union of every closure's :attr:`Closure.directories`, the second of
        every closure's :attr:`Closure.chart_homes`, but found in time linear in the
        references: each kustomization is visited at most twice, keeping two of the
        kustomizations that reach it (a kustomization that only reaches itself, through a
        cycle, is not used by another), instead of walking every closure in full.
        """
        origins: dict[str, list[str]] = {}
        pending: list[tuple[str, str]] = []
        homes: set[str] = set()

        def reach(directory: str, origin: str) -> None:
            known = origins.setdefault(directory, [])
            if len(known) < 2 and origin not in known:
                known.append(origin)
                pending.append((directory, origin))

        for directory in directories:
            own = self.own(directory)
            homes |= own.chart_homes
            for used in own.directories:
                reach(used, directory)
        while pending:
            directory, origin = pending.pop()
            own = self.own(directory)
            homes |= own.chart_homes
            for used in own.directories:
                reach(used, origin)
        return {d for d, known in origins.items() if any(o != d for o in known)}, homes

    def _own_closure(self, current: str) -> Closure:
        """What one kustomization names itself, without following its references."""
        own = Closure()
        path, data = self.kustomization(current)
        own.patches |= self._patches(current, data)
        self._helm_charts(current, path, data, own)
        openapi = data.get("openapi")
        schema = openapi.get("path") if isinstance(openapi, dict) else None
        if isinstance(schema, str) and _REMOTE.search(schema):
            # kustomize would fetch it, and Go sends loopback addresses past any proxy.
            own.refusal = f"remote OpenAPI schema {schema} (in {path}) is not fetched"
        for key in _REFERENCE_KEYS:
            listed = data.get(key)
            for entry in listed if isinstance(listed, list) else ():
                if not isinstance(entry, str) or "\n" in entry or entry.lstrip().startswith("{"):
                    continue  # inline plugin configuration, not a reference
                refusal, used = self._reference(current, path, entry.strip())
                if refusal is not None:
                    own.refusal = own.refusal or refusal
                elif used is not None and self.is_dir(used):
                    own.directories.add(used)
                elif used is not None and key in _MANIFEST_KEYS:
                    own.files.add(used)
        return own

    def _reference(self, directory: str, where: str, entry: str) -> tuple[str | None, str | None]:
        """(why it is refused, or the real path it names relative to the root, if it exists).

        ``entry`` is listed in the kustomization file ``where``, in ``directory``.
        """
        if _remote(entry):
            return f"remote base {entry} (in {where}) is not fetched", None
        if os.path.isabs(entry):
            return f"{entry} (in {where}) lies outside the repository", None
        lexical = os.path.normpath(os.path.join(directory, entry)).replace(os.sep, "/")
        if lexical == ".." or lexical.startswith("../"):
            return f"{entry} (in {where}) lies outside the repository", None
        if in_git(lexical):
            return f"{entry} (in {where}) lies inside .git", None
        if not self.lexists(lexical):
            if _HOST_LIKE.match(entry):
                return f"remote base {entry} (in {where}) is not fetched", None
            return None, None  # missing: kustomize says so
        real = self.physical("" if lexical == "." else lexical)
        if real is None:
            return f"{entry} (in {where}) leads out of the repository or into .git", None
        return None, real

    def _patches(self, directory: str, data: dict[str, object]) -> set[str]:
        """The patch files a kustomization lists (real paths relative to the root)."""
        found: set[str] = set()
        for name in kustomization_patch_paths(data):
            lexical = os.path.normpath(os.path.join(directory, name)).replace(os.sep, "/")
            if os.path.isabs(name) or lexical == ".." or lexical.startswith("../"):
                continue
            real = self.physical(lexical)
            if real is not None and self.is_file(real):
                found.add(real)
        return found

    def _helm_charts(self, directory: str, where: str, data: dict[str, object], found: Closure) -> None:
        """Note the charts a kustomization inflates; refuse one kustomize would fetch.

        kustomize looks for a chart in ``chartHome`` (``helmGlobals.chartHome``,
        ``charts`` by default) as ``NAME`` or ``NAME-VERSION/NAME``; only when it is
        not there does it pull it from ``repo``, which nplint never lets it do.
        """
        charts = data.get("helmCharts")
        if not isinstance(charts, list) or not charts:
            return
        found.helm = True
        settings = data.get("helmGlobals")
        home_entry = settings.get("chartHome") if isinstance(settings, dict) else None
        home_entry = home_entry if isinstance(home_entry, str) and home_entry.strip() else "charts"
        home = self.entry_inside(directory, home_entry.strip())
        if home is None:
            found.refusal = (
                found.refusal or f"chartHome {home_entry} (in {where}) lies outside the repository"
            )
            return
        found.inputs.add(home)
        found.chart_homes.add(home)
        for chart in charts:
            if not isinstance(chart, dict):
                continue
            name, version, repo = chart.get("name"), chart.get("version"), chart.get("repo")
            for key in ("valuesFile", "additionalValuesFiles"):
                listed = chart.get(key)
                for value in (
                    [listed] if isinstance(listed, str) else listed if isinstance(listed, list) else ()
                ):
                    if not isinstance(value, str):
                        continue
                    if _REMOTE.search(value):
                        found.refusal = (
                            found.refusal or f"remote values file {value} (in {where}) is not fetched"
                        )
                        continue
                    place = self.entry_inside(directory, os.path.dirname(value.strip()) or ".")
                    if place is None:
                        found.refusal = found.refusal or f"{value} (in {where}) lies outside the repository"
                    else:
                        found.inputs.add(place)
            if not isinstance(name, str) or not name or "/" in name or name in (".", ".."):
                continue  # kustomize says what is wrong with it
            candidates = [name] + ([f"{name}-{version}/{name}"] if isinstance(version, str) else [])
            local = any(
                os.path.isdir(os.path.join(self.root_real, *_join(home, candidate).split("/")))
                for candidate in candidates
            )
            if not local and isinstance(repo, str) and repo.strip():
                found.refusal = found.refusal or (
                    f"remote chart {name} from {repo.strip()} (in {where}) is not fetched; "
                    f"put the chart in its chartHome ({home_entry})"
                )


def closure(root_real: str, directory: str) -> Closure:
    """What the kustomization of ``directory`` uses (a :class:`Tree` of its own: plan many with one tree)."""
    return Tree(root_real).closure(directory)


def entry_inside(root_real: str, directory: str, entry: str) -> str | None:
    """The real path (relative to the root) an entry of ``directory`` names, if inside the repository."""
    if os.path.isabs(entry):
        return None
    lexical = os.path.normpath(os.path.join(directory, entry)).replace(os.sep, "/")
    if lexical == ".." or lexical.startswith("../") or in_git(lexical):
        return None
    return physical(root_real, "" if lexical == "." else lexical)
