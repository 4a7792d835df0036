"""Render Kustomize overlays and Helm charts, and map findings back to their sources.

With ``--render auto`` (the default on the command line), nplint runs the
repository's kustomizations (``kustomize build``, or ``kubectl kustomize``) and
Helm charts (``helm template``) when those programs are on PATH: choosing
``auto`` is the choice of the person running nplint to run them. What is
rendered is linted as the cluster will receive it; the plain files a rendered
kustomization consumes are not linted again on their own. A finding in rendered
output is moved to the source file that defines the same object (kind and name)
when one is found, at the same YAML path where it exists there. What cannot be
rendered is reported by NP005, saying why and how to render it yourself.

The repository is untrusted (nplint runs on pull requests of strangers), so a
render is fenced in:

- the argument list is fixed: ``helm template nplint [--values=/abs ...] --
  /abs/chart``, ``kustomize build -- /abs/dir``, ``kubectl kustomize -- /abs/dir``;
  no name from the repository reaches an option position, and a target whose
  path has a component starting with ``-`` is refused;
- the programs are found only in absolute PATH directories outside the repository;
- they run on an export of the tree (:mod:`nplint.export`): no ``.git``, no link
  out of the repository; charts and overlays holding such a link are refused;
- with a scrubbed environment (:func:`nplint.programs.scrubbed_environment`:
  temporary ``HOME``, no token, none of the caller's ``HELM_*``, ``KUBECONFIG`` or
  ``GIT_*``, proxies to a closed port), from the export as working directory;
- a kustomization whose closure (:mod:`nplint.kustomization`) names a remote base
  (which kustomize would fetch), or a path out of the repository or into ``.git``,
  is not rendered at all;
- each render has :data:`RENDER_TIMEOUT` seconds and :data:`RENDER_OUTPUT_LIMIT`
  bytes of output, all of them together :data:`RENDER_BUDGET` seconds; the
  process group is killed when a limit is reached.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import field, replace
from pathlib import Path
from typing import Any, TextIO

from nplint import __version__, charts, entry_points, kustomization, programs, render_cache
from nplint.discovery import SKIP_HELM_TEMPLATE, SKIP_KUSTOMIZATION, ParsedKustomization, SkippedFile
from nplint.document_cache import DocumentCache
from nplint.export import ExportTooLarge, export_tree, in_git, within
from nplint.findings import Finding, Related, Span
from nplint.kustomization import KUSTOMIZATION_FILES, Closure
from nplint.loading import Document, LoadedFile, Manifest, decode, iter_manifests, load_text
from nplint.loading.nodes import MapNode, Node, ScalarNode, SeqNode
from nplint.parallel import JOBS_ENV
from nplint.records import record
from nplint.untrusted import shown as shown_value

#: Seconds one render may take before it is stopped.
RENDER_TIMEOUT: float = 120
#: Seconds all renders of a run may take together; what is left then is not rendered.
RENDER_BUDGET: float = 300
#: Bytes of output one render may print.
RENDER_OUTPUT_LIMIT = 64 * 1024 * 1024
#: How NP005 names the command each program runs.
_COMMAND_WORDS = {"kustomize": "kustomize build", "kubectl": "kubectl kustomize", "helm": "helm template"}
#: The release name of every ``helm template``: a constant, never a name from the repository.
RELEASE_NAME = "nplint"
#: Bytes of heap a renderer may grow to before Go's garbage collector runs (:func:`_go_runtime`).
_GO_MEMORY_LIMIT = 512 * 1024 * 1024
#: Seconds a program may take to say its version.
_VERSION_TIMEOUT = 10
#: Characters of the progress line on a terminal.
_PROGRESS_WIDTH = 78
#: A quoted error line is shorter than this.
_MESSAGE_LIMIT = 200
#: kubectl's log header ("E1129 07:02:26.277173    8910 run.go:72] "): a time and a process
#: id that would make the same run print a different message each time.
_KLOG_HEADER = re.compile(r"^[IWEF]\d{4} \d{2}:\d{2}:\d{2}\.\d+\s+\d+ [^\]]+\] ")


#: Where a location in rendered output goes when its source is not known: the target's file, line 1.
FILE_START_POINT = Span.point(1, 1)


@record(frozen=True, slots=True)
class Target:
    """A kustomization or chart directory, relative to the root."""

    tool: str  # "kustomize" or "helm"
    directory: str

    @property
    def display(self) -> str:
        """Where findings about the render itself are placed."""
        name = "kustomization.yaml" if self.tool == "kustomize" else "Chart.yaml"
        return f"{self.directory}/{name}" if self.directory else name

    def how_to_render(self) -> str:
        # "./" first and shell quoting: advice copied into a shell must not turn a directory
        # name into an option or a command.
        import shlex  # only when the advice is written

        directory = self.directory or "."
        where = shlex.quote(directory if directory.startswith(("/", ".")) else f"./{directory}")
        if self.tool == "kustomize":
            return f"`kustomize build {where} | nplint -` (or `kubectl kustomize {where} | nplint -`)"
        return f"`helm template {RELEASE_NAME} {where} | nplint -`"


@record(slots=True)
class Rendered:
    target: Target
    loaded: LoadedFile
    #: Source manifests of the plain files the render consumed, for mapping findings back.
    sources: list[Manifest] = field(default_factory=list)
    #: The real path of the target directory relative to the root.
    directory: str = ""
    #: Every directory the render could read (the target's, its kustomizations', chart homes),
    #: real paths relative to the root: what the render's cache entry depends on.
    inputs: tuple[str, ...] = ()
    #: Plain files of the repository the render consumed (kustomize resources).
    consumed: tuple[str, ...] = ()
    #: The release namespace of a chart (``helm template --namespace``); None for kustomize.
    namespace: str | None = None
    #: Whether the output came from the cache instead of the program.
    cached: bool = False
    #: For a chart: which template each line of the output came from (``# Source:`` comments).
    templates: charts.SourceMap | None = None
    root_real: str = ""
    #: The chart homes of a kustomization's ``helmCharts`` (kustomize prints no ``# Source:``).
    chart_homes: tuple[str, ...] = ()


@record(frozen=True, slots=True)
class Listing:
    """What the kustomizations of the tree list, rendered or not (for NP707)."""

    #: Directories (relative to the root) that hold a kustomization whose references were all followed.
    directories: frozenset[str] = frozenset()
    #: Files (relative to the root) that some kustomization of the tree lists: resources and patches.
    listed: frozenset[str] = frozenset()


@record(slots=True)
class RenderPlan:
    rendered: list[Rendered] = field(default_factory=list)
    #: Targets that could not be rendered, with why (no program, refused, or it failed).
    unrendered: list[tuple[Target, str]] = field(default_factory=list)
    #: Display paths of plain files consumed by a rendered kustomization, or by a Component no
    #: overlay includes (:func:`nplint.entry_points.component_files`): linted through the render,
    #: or nowhere, but never as plain files of their own.
    consumed: set[str] = field(default_factory=set)
    listing: Listing = field(default_factory=Listing)
    #: Kustomizations that are no entry point (a Component, an empty one, an OLM bundle's input),
    #: with why: not rendered, and no NP005 (:mod:`nplint.entry_points`).
    set_aside: list[tuple[Target, str]] = field(default_factory=list)


def targets(skipped: Iterable[SkippedFile]) -> list[Target]:
    """Top-level kustomizations and chart roots among the skipped files."""
    found: list[Target] = []
    for item in skipped:
        directory, _, name = item.display.rpartition("/")
        if item.reason == SKIP_KUSTOMIZATION and name in KUSTOMIZATION_FILES:
            found.append(Target("kustomize", directory))
        elif item.reason == SKIP_HELM_TEMPLATE and name == "Chart.yaml":
            found.append(Target("helm", directory))
    return sorted(set(found), key=lambda t: (t.directory, t.tool))


# -- what may be rendered ---------------------------------------------------------------------


@record(frozen=True, slots=True)
class _Job:
    target: Target
    #: Real path of the target relative to the root.
    physical: str
    program: Path
    #: "kustomize build", "kubectl kustomize" or "helm template".
    words: str
    closure: Closure
    #: A chart's release namespace.
    namespace: str | None = None
    #: The helm kustomize runs for ``helmCharts`` (``--enable-helm``).
    helm: Path | None = None


def _refusal(target: Target, physical: str | None) -> str | None:
    if any(part.startswith("-") for part in target.directory.split("/")) or (
        physical is not None and any(part.startswith("-") for part in physical.split("/"))
    ):
        return (
            "a component of its path starts with '-', which a program could take for an option; "
            "rename the directory"
        )
    if physical is None:
        return "it is not inside the repository root, or it is inside .git"
    return None


def _program(target: Target, root_real: str) -> tuple[Path, str] | str:
    """The program to run and the words that name the command, or why there is none."""
    names = ("kustomize", "kubectl") if target.tool == "kustomize" else ("helm",)
    for name in names:
        found = programs.find_program(name)
        if found is None:
            continue
        real = os.path.realpath(found)
        if within(real, root_real):
            relative = os.path.relpath(real, root_real).replace(os.sep, "/")
            return (
                f"the {name} found on PATH ({_printable(relative)}) is inside the repository being linted; "
                "it is not run"
            )
        return found, _COMMAND_WORDS[name]
    return f"{' or '.join(names)} is not on PATH"


def _values(root_real: str, helm_values: Sequence[str]) -> list[str] | str:
    """The values files as real paths relative to the root, or why one cannot be used."""
    found: list[str] = []
    for value in helm_values:
        path = value if os.path.isabs(value) else os.path.join(root_real, value)
        real = os.path.realpath(path)
        relative = os.path.relpath(real, root_real).replace(os.sep, "/") if within(real, root_real) else None
        if relative is None or relative == "." or in_git(relative) or not os.path.isfile(real):
            return f"the values file {_printable(value)} is not a file inside the repository"
        if "," in relative:
            # helm splits --values at commas: the pieces would be other files (or URLs) to it.
            return f"the values file {_printable(value)} has a comma in its path, which helm splits on"
        found.append(relative)
    return found


@record(slots=True)
class Survey:
    """What planning learns from the discovered files alone, before any file is loaded.

    Reading every kustomization's references, resolving their paths and reading the
    charts is most of planning on a kustomize fleet; it needs nothing that loading
    makes, so :func:`nplint.lint.load_paths` has it done while a second process loads
    files (:func:`survey`), and :func:`plan` takes it from there.
    """

    root_real: str
    candidates: list[Target]
    #: One tree for the whole plan: overlays share bases, and each path is resolved once.
    tree: kustomization.Tree
    #: Each target's real directory relative to the root (None: outside it, or into .git).
    real_directories: dict[Target, str | None]
    #: Kustomizations that are no entry point (a Component, an empty one, an OLM bundle's input).
    aside: dict[Target, str]
    #: The kustomizations another one uses, and the chart homes of all.
    used_by_others: set[str]
    homes: set[str]
    chart_facts: dict[str, charts.Chart]
    listing: Listing


def survey(
    skipped: Sequence[SkippedFile],
    root: Path,
    parsed: Mapping[str, ParsedKustomization] | None = None,
    directories: Iterable[str] = (),
) -> Survey:
    """:class:`Survey` of the render targets among ``skipped``; ``parsed`` as for :func:`plan`.

    ``directories``: real paths of directories (those discovery listed, :attr:`Discovery.directories`).
    """
    root_real = os.path.realpath(root)
    return _survey(root_real, targets(skipped), parsed, directories)


def _survey(
    root_real: str,
    candidates: list[Target],
    parsed: Mapping[str, ParsedKustomization] | None,
    directories: Iterable[str] = (),
) -> Survey:
    tree = kustomization.Tree(root_real, parsed, directories)
    real_directories = {t: tree.physical(t.directory) for t in candidates}
    aside: dict[Target, str] = {}
    for target, where in real_directories.items():
        if target.tool == "kustomize" and where is not None:
            reason = entry_points.set_aside(root_real, where, parsed)
            if reason is not None:
                aside[target] = reason
    # Which kustomizations others use, and the chart homes of all: found in one pass over the
    # references. The full closure is worked out only for the kustomizations rendered. What an
    # OLM bundle's input (or an empty kustomization) uses is deployed on its own (config/default).
    used_by_others, homes = tree.reached(
        where
        for target, where in real_directories.items()
        if target.tool == "kustomize"
        and where is not None
        and (target not in aside or entry_points.is_component(aside[target]))
    )
    chart_facts: dict[str, charts.Chart] = {}
    for target in candidates:
        where = real_directories[target]
        if target.tool == "helm" and where is not None:
            chart_facts[where] = charts.read_chart(root_real, where)
    listing = _listing(candidates, real_directories, tree)
    return Survey(
        root_real, candidates, tree, real_directories, aside, used_by_others, homes, chart_facts, listing
    )


def plan(
    skipped: Sequence[SkippedFile],
    root: Path,
    *,
    enabled: bool,
    helm_values: Sequence[str] = (),
    cache: bool = True,
    progress: TextIO | None = None,
    loaded: Sequence[LoadedFile] = (),
    documents: DocumentCache | None = None,
    parsed: Mapping[str, ParsedKustomization] | None = None,
    surveyed: Survey | None = None,
    versions: Versions | None = None,
) -> RenderPlan:
    """Render what can be rendered among the skipped files; say why for the rest.

    ``cache``: use and fill ``.nplint_cache/`` (:mod:`nplint.render_cache`).
    ``progress``: where to write a progress line, if anywhere (:func:`progress_stream`).
    ``loaded``: files loaded already (by their display path relative to the root), so
    that the sources of rendered objects are not loaded twice.
    ``documents``: where rendered output and sources are loaded from when their bytes are known.
    ``parsed``: kustomization files discovery read already (:attr:`Discovery.kustomizations`),
    so that planning reads none of them again.
    ``surveyed``: :func:`survey` of the same tree made already (used when its targets are
    those of ``skipped``, as they are unless loading set some aside).
    ``versions``: the renderers' versions asked already, while discovery walked (:func:`ask_version`);
    a program not asked yet is asked here.
    """
    result = RenderPlan()
    started = time.monotonic()
    root_real = os.path.realpath(root)
    candidates = targets(skipped)
    # The programs' versions (for the cache) are asked while the kustomizations are read,
    # unless they were asked already (ask_version), while the files were found and loaded.
    if versions is None:
        versions = Versions(started)
    # Which program renders depends on the tool alone: PATH is searched once per run for each.
    program_for: dict[str, tuple[Path, str] | str] = {}
    for tool in sorted({t.tool for t in candidates} | {"helm"} if enabled else ()):
        program_for[tool] = _program(Target(tool, ""), root_real)
    if enabled and cache:
        for tool in sorted({t.tool for t in candidates}):
            found = program_for[tool]
            if not isinstance(found, str):
                versions.ask(found[0])
    if surveyed is None or surveyed.root_real != root_real or surveyed.candidates != candidates:
        surveyed = _survey(root_real, candidates, parsed)
    tree, real_directories, aside = surveyed.tree, surveyed.real_directories, surveyed.aside
    used_by_others, homes, chart_facts = surveyed.used_by_others, surveyed.homes, surveyed.chart_facts
    result.listing = surveyed.listing
    through_parent = charts.subcharts(chart_facts)
    # A chart in the chartHome of a kustomization's helmCharts reaches a cluster through it.
    through_parent |= {d for d in chart_facts if _below_any(d, homes)}
    values = _values(root_real, helm_values)
    jobs: list[_Job] = []
    for target in candidates:
        where = real_directories[target]
        if target.tool == "kustomize" and where in used_by_others:
            continue  # rendered as part of the overlay that uses it
        if target in aside:
            # A Component no overlay includes: its files are no unit (linted nowhere), and when
            # it needs what nplint never reads (a remote chart or base) NP005 says so.
            files, unseen = entry_points.orphan_component(tree, where, aside[target])
            result.consumed |= files
            if unseen is not None:
                result.unrendered.append((target, unseen))
            else:
                result.set_aside.append((target, aside[target]))
            continue
        chart = chart_facts.get(where) if target.tool == "helm" and where is not None else None
        if chart is not None and (chart.library or where in through_parent):
            # A library chart renders nothing by design; a subchart reaches a cluster only
            # through its parent, with the parent's values.
            continue
        if not enabled:
            result.unrendered.append((target, "rendering is turned off (--render never)"))
            continue
        closure = tree.closure(where) if target.tool == "kustomize" and where is not None else Closure()
        program = program_for[target.tool]
        helm = program_for["helm"] if closure.helm else None
        namespace = _namespace(chart) if chart is not None else None
        refusal = (
            _refusal(target, where)
            or (_printable(closure.refusal) if closure.refusal else None)
            or (values if target.tool == "helm" and isinstance(values, str) else None)
            or (program if isinstance(program, str) else None)
            or (f"it inflates Helm charts (helmCharts) and {helm}" if isinstance(helm, str) else None)
            or (namespace if namespace is not None and not charts.is_dns_label(namespace) else None)
        )
        if refusal is not None:
            result.unrendered.append((target, refusal))
            continue
        assert where is not None and not isinstance(program, str)  # refused above otherwise
        helm_program = helm[0] if helm is not None and not isinstance(helm, str) else None
        jobs.append(_Job(target, where, program[0], program[1], closure, namespace, helm_program))
    if jobs:
        run = _Run(root_real, [] if isinstance(values, str) else values, started, cache, progress, versions)
        try:
            run.render(jobs, result, {f.path: f for f in loaded}, documents)
        except BaseException:
            versions.stop()
            raise
    versions.wait()  # none of nplint's programs outlives the plan
    result.unrendered.sort(key=lambda item: (item[0].directory, item[0].tool))
    result.rendered.sort(key=lambda item: (item.target.directory, item.target.tool))
    return result


def _below_any(path: str, directories: set[str]) -> bool:
    """Whether :func:`within_relative` holds for ``path`` and one of ``directories``.

    Looks up ``path`` and each directory above it, rather than trying every directory:
    a chart collection beside many kustomizations that inflate charts stays linear.
    """
    while True:
        if path in directories:
            return True
        if not path:
            return False
        path = path.rpartition("/")[0]


def within_relative(path: str, directory: str) -> bool:
    """Whether a POSIX path relative to the root is ``directory`` or below it ("" is the root)."""
    return not directory or path == directory or path.startswith(directory + "/")


def _go_runtime(workers: int) -> dict[str, str]:
    """Settings of the Go runtime for the renderers (kustomize, kubectl and helm are Go programs).

    A render is a short process: its garbage collector mostly costs time, so it is
    off until the heap nears :data:`_GO_MEMORY_LIMIT`, where it comes back as
    usual, so memory stays bounded. With several renders at once, each gets its
    share of the cores instead of all of them.
    """
    return {
        "GOGC": "off",
        "GOMEMLIMIT": f"{_GO_MEMORY_LIMIT // (1024 * 1024)}MiB",
        "GOMAXPROCS": str(max(1, render_workers() // max(1, workers))),
    }


def _namespace(chart: charts.Chart) -> str:
    """The release namespace of a chart: its name, or why it cannot be one.

    Each chart is its own release, so it gets a namespace of its own, named as
    the chart: what ``helm install NAME --create-namespace -n NAME`` would do.
    """
    name = chart.name or (chart.directory.rpartition("/")[2] if chart.directory else "")
    if charts.is_dns_label(name):
        return name
    return (
        f"the chart's name {_printable(name)!r} is not a valid namespace name (a DNS label: "
        "lower-case letters, digits and '-'), so it has no release namespace; "
        "render it yourself with --namespace"
    )


def progress_stream(requested: bool) -> TextIO | None:
    """Standard error when it is a terminal or ``--progress`` asked for it; None otherwise."""
    stream = sys.stderr
    if stream is None:
        return None
    try:
        terminal = stream.isatty()
    except (OSError, ValueError):
        terminal = False
    return stream if requested or terminal else None


def render_workers() -> int:
    """Renders run at once: the cores this process may run on (its affinity, not the machine's).

    ``NPLINT_JOBS=N`` lowers it (``1``: one render at a time).
    """
    if hasattr(os, "sched_getaffinity"):
        cores = max(1, len(os.sched_getaffinity(0)))
    else:
        cores = max(1, os.cpu_count() or 1)
    asked = os.environ.get(JOBS_ENV, "").strip()
    return max(1, min(cores, int(asked))) if asked.isdigit() and int(asked) > 0 else cores


# -- rendering -------------------------------------------------------------------------------


@record(slots=True)
class _Outcome:
    job: _Job
    output: bytes | None = None
    reason: str | None = None
    cached: bool = False


class _Run:
    """The renders of one run: cache look-ups first, then what is left, in parallel, on one export."""

    def __init__(
        self,
        root_real: str,
        values: Sequence[str],
        started: float,
        use_cache: bool,
        progress: TextIO | None,
        versions: Versions,
    ) -> None:
        self.root_real = root_real
        self.values = values
        self.started = started
        self.use_cache = use_cache
        self.progress = progress
        self.versions = versions
        self.done = 0
        self.total = 0
        self.lock = threading.Lock()

    def render(
        self,
        jobs: Sequence[_Job],
        result: RenderPlan,
        loaded: dict[str, LoadedFile],
        documents: DocumentCache | None = None,
    ) -> None:
        self.total = len(jobs)
        outcomes = {job.target: _Outcome(job) for job in jobs}
        key = render_cache.user_key(self.root_real) if self.use_cache else None
        cache = render_cache.RenderCache(self.root_real, key) if key is not None else None
        try:
            if cache is not None and cache.present():
                # Looked up on the repository itself, so that a run where nothing changed
                # copies nothing; a miss is hashed again on the export it is rendered from.
                hasher = render_cache.TreeHasher(self.root_real, file_limit=RENDER_OUTPUT_LIMIT)
                # Every input hashed first: the programs' versions (asked while the files
                # loaded) are needed only after, and have had that much longer to come.
                hashed = {job.target: self._inputs_hash(job, hasher) for job in jobs}
                for job in jobs:
                    digest = self._digest(job, hashed[job.target])
                    stored = cache.get(digest, RENDER_OUTPUT_LIMIT) if digest is not None else None
                    if stored is not None:
                        outcomes[job.target] = _Outcome(job, output=stored, cached=True)
                        self._advance(job, cached=True)
            missing = [job for job in jobs if not outcomes[job.target].cached]
            if missing:
                self._render_missing(missing, outcomes, cache)
        finally:
            if cache is not None:
                cache.__exit__()
            if self.progress is not None and self.total:
                self._finish_progress()
        # Overlays of one base share its files: each is loaded once, if it was not already,
        # and only the files some render consumed (a stored file builds its nodes when read).
        loaded_sources = _Sources(loaded)
        for job in jobs:
            outcome = outcomes[job.target]
            reason = outcome.reason
            if reason is None:
                assert outcome.output is not None
                reason = _collect(
                    job, outcome.output, outcome.cached, self.root_real, result, loaded_sources, documents
                )
            if reason is not None:
                result.unrendered.append((job.target, reason))

    def _render_missing(
        self, jobs: Sequence[_Job], outcomes: dict[Target, _Outcome], cache: render_cache.RenderCache | None
    ) -> None:
        import tempfile  # imported where rendering happens: most runs render nothing

        base = Path(tempfile.mkdtemp(prefix="nplint-render-"))
        try:
            base_real = os.path.realpath(base)
            if within(base_real, self.root_real):
                for job in jobs:
                    outcomes[job.target].reason = "the temporary directory is inside the repository"
                return
            try:
                export = export_tree(Path(self.root_real), base / "tree")
            except ExportTooLarge as error:
                for job in jobs:
                    outcomes[job.target].reason = f"{error}, too much to copy for rendering"
                return
            (base / "home").mkdir(mode=0o700)
            (base / "tmp").mkdir(mode=0o700)
            env = programs.scrubbed_environment(base / "home", base / "tmp")
            # Nor may what the renderers start (helm's post-renderers and plugins) come from the repository.
            env["PATH"] = os.pathsep.join(
                entry
                for entry in env["PATH"].split(os.pathsep)
                if not within(os.path.realpath(entry), self.root_real)
            )
            workers = min(len(jobs), render_workers())
            env.update(_go_runtime(workers))
            tree = os.path.realpath(export.tree)
            hasher = render_cache.TreeHasher(tree, file_limit=RENDER_OUTPUT_LIMIT) if cache else None
            digests = (
                {job.target: self._digest(job, self._inputs_hash(job, hasher), env) for job in jobs}
                if hasher
                else {}
            )

            def work(job: _Job) -> _Outcome:
                outcome = _render_one(
                    job, tree, base_real, self.values, export.refused_links, env, self.started
                )
                digest = digests.get(job.target)
                if outcome.output is not None and cache is not None and digest is not None:
                    cache.put(digest, outcome.output)
                self._advance(job, cached=False)
                return outcome

            if workers == 1:
                finished = [work(job) for job in jobs]
            else:
                from concurrent.futures import ThreadPoolExecutor

                with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="nplint-render") as pool:
                    finished = list(pool.map(work, jobs))
            for outcome in finished:
                outcomes[outcome.job.target] = outcome
        finally:
            _remove(base)

    def _digest(self, job: _Job, inputs: bytes | None, env: dict[str, str] | None = None) -> str | None:
        """What a render's output depends on: its inputs, the programs and how they are run.

        ``inputs``: :meth:`_inputs_hash` of the job. None when a program does not say its
        version, or the inputs were too much to hash: its output is then not kept.
        """
        digest = hashlib.sha256(b"nplint render cache 1\0" + __version__.encode() + b"\0")
        digest.update(json.dumps([job.target.tool, job.target.directory, job.physical]).encode())
        # The argument list with the export's place left out: it is new each run.
        digest.update(json.dumps(_arguments(job, "", self.values)).encode())
        for program in (job.program, job.helm):
            if program is not None:
                identity = self._identity(program, env)
                if identity is None:
                    return None
                digest.update(identity)
        if inputs is None:
            return None
        digest.update(inputs)
        return digest.hexdigest()

    def _inputs_hash(self, job: _Job, hasher: render_cache.TreeHasher) -> bytes | None:
        """The hashes of a render's input files and values, in order; None when too much to hash."""
        try:
            parts = [hasher.directories(_inputs(job))]
            for value in self.values if job.target.tool == "helm" else ():
                parts.append(value.encode("utf-8", "surrogateescape") + b"\0" + hasher.file(value))
        except render_cache.TooMuchToHash:
            return None
        return b"".join(parts)

    def _identity(self, program: Path, env: dict[str, str] | None) -> bytes | None:
        """The program's path, size, time and the version it reports, asked once per run."""
        version = self.versions.get(program, env)
        if version is None:
            return None
        real = os.path.realpath(program)
        try:
            status = os.stat(real)
            described = f"{real}\0{status.st_size}\0{status.st_mtime_ns}\0".encode("utf-8", "surrogateescape")
        except OSError:
            described = f"{real}\0unknown\0".encode("utf-8", "surrogateescape")
        return described + version

    def _advance(self, job: _Job, *, cached: bool) -> None:
        if self.progress is None:
            return
        with self.lock:
            self.done += 1
            how = "cached" if cached else "rendered"
            where = _printable(job.target.directory or ".")
            line = f"nplint: rendering {self.done}/{self.total}: {where} ({how})"
            try:
                if self.progress.isatty():
                    self.progress.write("\r\033[K" + line[:_PROGRESS_WIDTH])
                else:
                    self.progress.write(line + "\n")
                self.progress.flush()
            except (OSError, ValueError):
                self.progress = None  # a closed standard error stops the progress, never the run

    def _finish_progress(self) -> None:
        try:
            if self.progress is not None and self.progress.isatty():
                self.progress.write("\r\033[K")
                self.progress.flush()
        except (OSError, ValueError):
            pass


class Versions:
    """The versions of the renderers, each asked once per run; the programs run while nplint works.

    A program is started when asked (:meth:`ask`, see :func:`ask_version`) and its
    answer collected when first needed (:meth:`get`): a process, not a thread, so
    that a second process may still be forked meanwhile (:mod:`nplint.parallel`).
    """

    def __init__(self, started: float) -> None:
        self.started = started
        self.lock = threading.Lock()
        self.asking: dict[Path, _Asking] = {}
        self.answers: dict[Path, bytes | None] = {}

    def ask(self, program: Path, env: dict[str, str] | None = None) -> None:
        with self.lock:
            if program in self.asking or program in self.answers:
                return
            asking = _ask_version(program, env, self.started)
            if asking is None:
                self.answers[program] = None
            else:
                self.asking[program] = asking

    def get(self, program: Path, env: dict[str, str] | None) -> bytes | None:
        self.ask(program, env)
        with self.lock:
            asking = self.asking.pop(program, None)
            if asking is not None:
                self.answers[program] = asking.finish()
            return self.answers.get(program)

    def wait(self) -> None:
        """Collect every answer still due (each program ends within its time)."""
        with self.lock:
            programs_asked = list(self.asking)
        for program in programs_asked:
            self.get(program, None)

    def stop(self) -> None:
        """End the programs still running, unanswered (the run is ending otherwise)."""
        with self.lock:
            for program, asking in self.asking.items():
                asking.stop()
                self.answers[program] = None
            self.asking.clear()


def ask_version(versions: Versions, tool: str, root: Path, *, enabled: bool, cache: bool) -> None:
    """Ask the program that renders with ``tool`` ("kustomize", "helm") its version, into ``versions``.

    Nothing when rendering or its cache is off, or no such program is found.
    """
    if not (enabled and cache):
        return
    found = _program(Target(tool, ""), os.path.realpath(root))
    if not isinstance(found, str):
        versions.ask(found[0])


class _Asking:
    """A program asked its version, and the folder it runs in."""

    def __init__(self, running: programs.Running, base: Path) -> None:
        self.running = running
        self.base = base

    def finish(self) -> bytes | None:
        try:
            completed = self.running.finish()
        except programs.ProgramError:
            return None
        finally:
            _remove(self.base)
        if completed.returncode != 0 or not completed.stdout.strip():
            return None
        return completed.stdout

    def stop(self) -> None:
        try:
            self.running.stop()
        finally:
            _remove(self.base)


def _ask_version(program: Path, env: dict[str, str] | None, started: float) -> _Asking | None:
    """``program`` started to say its version; None when there is no time left or it cannot start.

    Its time counts against the render budget: it is part of rendering.
    """
    timeout = min(_VERSION_TIMEOUT, RENDER_BUDGET - (time.monotonic() - started))
    if timeout <= 0:
        return None
    name = program.name
    argv = {"helm": ["version", "--short"], "kubectl": ["version", "--client"]}.get(name, ["version"])
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="nplint-version-"))
    try:
        (base / "home").mkdir(mode=0o700)
        (base / "tmp").mkdir(mode=0o700)
        scrubbed = env if env is not None else programs.scrubbed_environment(base / "home", base / "tmp")
        running = programs.start(
            [str(program), *argv], cwd=base, env=scrubbed, timeout=timeout, output_limit=64 * 1024
        )
    except (programs.ProgramError, OSError):
        _remove(base)
        return None
    return _Asking(running, base)


def _inputs(job: _Job) -> list[str]:
    return [job.physical, *job.closure.directories, *job.closure.inputs]


def _arguments(job: _Job, tree: str, values: Sequence[str]) -> list[str]:
    """The argument list of a render, after the program; ``tree`` is where the export lies."""

    def place(relative: str) -> str:
        return os.path.join(tree, *relative.split("/")) if relative else tree

    if job.target.tool == "helm":
        assert job.namespace is not None and charts.is_dns_label(job.namespace)
        argv = ["template", RELEASE_NAME, f"--namespace={job.namespace}"]
        argv += [f"--values={place(value)}" for value in values]
    else:
        argv = ["build"] if job.words == "kustomize build" else ["kustomize"]
        if job.helm is not None:
            argv += ["--enable-helm", f"--helm-command={job.helm}"]
    return [*argv, "--", place(job.physical)]


def _render_one(
    job: _Job,
    tree: str,
    base: str,
    values: Sequence[str],
    refused_links: dict[str, str],
    env: dict[str, str],
    started: float,
) -> _Outcome:
    """Run the program of one target on the export: its output, or the reason there is none."""
    directories = [job.physical, *sorted(job.closure.directories), *sorted(job.closure.inputs)]
    links = sorted(
        link
        for link in refused_links
        if any(not d or link == d or link.startswith(d + "/") for d in directories)
    )
    if links:
        more = f" (and {len(links) - 1} more)" if len(links) > 1 else ""
        why = refused_links[links[0]]
        return _Outcome(
            job, reason=f"the symbolic link {_printable(links[0])}{more} {why}; it is not rendered"
        )
    remaining = RENDER_BUDGET - (time.monotonic() - started)
    if remaining <= 0:
        return _Outcome(
            job,
            reason=f"render budget exhausted: the {RENDER_BUDGET:g} s for all charts and overlays "
            "were spent before it",
        )
    argv = [str(job.program), *_arguments(job, tree, values)]
    timeout = min(RENDER_TIMEOUT, remaining)
    try:
        completed = programs.run(
            argv, cwd=Path(tree), env=env, timeout=timeout, output_limit=RENDER_OUTPUT_LIMIT
        )
    except programs.ProgramTimeout:
        if timeout < RENDER_TIMEOUT:
            return _Outcome(
                job,
                reason=f"`{job.words}` was stopped: render budget exhausted "
                f"({RENDER_BUDGET:g} s for all charts and overlays)",
            )
        return _Outcome(
            job, reason=f"`{job.words}` did not finish within {RENDER_TIMEOUT:g} s and was stopped"
        )
    except programs.ProgramError as error:
        return _Outcome(job, reason=f"`{job.words}` {error}")
    if completed.returncode != 0:
        return _Outcome(job, reason=f"`{job.words}` failed: {_error_line(completed.stderr, tree, base)}")
    return _Outcome(job, output=completed.stdout)


def _listing(
    candidates: Sequence[Target], real: dict[Target, str | None], tree: kustomization.Tree
) -> Listing:
    """Which kustomization directories list what, where the paths are what they seem.

    A directory reached through a symbolic link is left out: its files' display paths
    and the real paths the kustomizations list would not compare. So is one whose
    kustomization could not be followed (a remote base) or names nothing.
    """
    owns = {
        where: tree.own(where)
        for target in candidates
        if target.tool == "kustomize" and (where := real[target]) is not None
    }
    directories = {
        target.directory
        for target in candidates
        if target.tool == "kustomize"
        and real[target] == target.directory
        and (own := owns[target.directory]).refusal is None
        # A kustomization that lists nothing, or did not parse, says nothing of its directory.
        and (own.files or own.patches or own.directories or own.helm)
    }
    listed = {path for own in owns.values() for path in (*own.files, *own.patches)}
    return Listing(frozenset(directories), frozenset(listed))


class _Sources(dict[str, list[Manifest]]):
    """The manifests of the repository's files by display path, taken from the loaded files on first use."""

    def __init__(self, loaded: dict[str, LoadedFile]) -> None:
        super().__init__()
        self.loaded = loaded

    def __missing__(self, display: str) -> list[Manifest]:
        file = self.loaded.get(display)
        if file is None:
            raise KeyError(display)
        manifests = self[display] = list(iter_manifests(file))
        return manifests

    def __contains__(self, display: object) -> bool:
        return super().__contains__(display) or display in self.loaded


def _load(display: str, text: str, documents: DocumentCache | None) -> LoadedFile:
    """``text`` loaded as the file ``display``, from ``documents`` when it knows the text."""
    if documents is None:
        return load_text(display, text)
    return documents.load_text(display, text, lambda: load_text(display, text))


def _collect(
    job: _Job,
    output: bytes,
    cached: bool,
    root_real: str,
    result: RenderPlan,
    loaded_sources: dict[str, list[Manifest]],
    documents: DocumentCache | None = None,
) -> str | None:
    """Load a render's output into ``result``; the reason it is not used otherwise."""
    text, problem = decode(output)
    if text is None:
        return (
            f"`{job.words}` printed output that is not text ({problem.message if problem else 'undecodable'})"
        )
    loaded = _load(job.target.display, text, documents)
    if not loaded.problems and not any(_has_content(d) for d in loaded.documents):
        return f"`{job.words}` rendered nothing (no documents)"
    consumed = job.closure.files if job.target.tool == "kustomize" else set()
    result.consumed |= consumed
    # Resources first, then patches: a finding goes to the first source that has its node.
    # Read from the repository: the export is gone, and a cached render never had one.
    sources: list[Manifest] = []
    for display in [*sorted(consumed), *sorted(job.closure.patches)]:
        if display not in loaded_sources:
            text_of = kustomization.read_inside(root_real, display) or ""
            loaded_sources[display] = list(iter_manifests(_load(display, text_of, documents)))
        sources += loaded_sources[display]
    result.rendered.append(
        Rendered(
            job.target,
            loaded,
            sources,
            directory=job.physical,
            inputs=tuple(sorted(set(_inputs(job)))),
            consumed=tuple(sorted(consumed)),
            namespace=job.namespace,
            cached=cached,
            templates=charts.source_map(text) if job.target.tool == "helm" else None,
            root_real=root_real,
            chart_homes=tuple(sorted(job.closure.chart_homes)),
        )
    )
    return None


def _has_content(document: Document) -> bool:
    # "---" followed by nothing, or by a comment only, is a null document: nothing to apply.
    root = document.root
    return document.failed or not (root is None or (isinstance(root, ScalarNode) and root.is_null))


def _error_line(stderr: bytes, tree: str, base: str) -> str:
    """The first line of ``stderr`` that says what went wrong, short, without temporary paths."""
    text = stderr.decode("utf-8", errors="replace")
    # Paths into the export become repository paths; the rest of the temporary directory
    # (HOME, TMPDIR) means nothing to the reader and changes every run.
    for prefix, instead in ((tree + os.sep, ""), (tree, "."), (base + os.sep, ""), (base, ".")):
        text = text.replace(prefix, instead)
    lines = [_KLOG_HEADER.sub("", line).strip() for line in text.splitlines()]
    lines = [_printable(line) for line in lines if line]
    if not lines:
        return "no message"
    line = next((line for line in lines if "error" in line.lower()), lines[0])
    if len(line) >= _MESSAGE_LIMIT:
        line = line[: _MESSAGE_LIMIT - 4] + "..."
    return line


def _printable(text: str) -> str:
    """``text`` on one line: control characters and undecodable bytes of file names escaped."""
    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def _remove(base: Path) -> None:
    import shutil

    def retry(function: Callable[..., Any], path: str, *_: object) -> None:
        # A renderer may leave read-only directories behind; they are ours to remove.
        try:
            os.chmod(os.path.dirname(path), 0o700)
            os.chmod(path, 0o700)
            function(path)
        except OSError:
            pass

    if sys.version_info >= (3, 12):
        shutil.rmtree(base, onexc=retry)
    else:
        shutil.rmtree(base, onerror=retry)


def _node_at(node: MapNode, yaml_path: str) -> Node | None:
    """The node at a path written by :attr:`Node.path` (``spec.ingress[0].from[1]``)."""
    current: Node | None = node
    for part in _path_parts(yaml_path):
        if isinstance(part, int):
            current = (
                current.items[part] if isinstance(current, SeqNode) and part < len(current.items) else None
            )
        else:
            current = current.get(part) if isinstance(current, MapNode) else None
        if current is None:
            return None
    return current


def _path_parts(yaml_path: str) -> list[str | int]:
    parts: list[str | int] = []
    token = ""
    index = 0
    while index < len(yaml_path):
        char = yaml_path[index]
        if char == ".":
            if token:
                parts.append(token)
            token = ""
        elif char == "[":
            if token:
                parts.append(token)
            token = ""
            end = yaml_path.index("]", index)
            inner = yaml_path[index + 1 : end]
            parts.append(int(inner) if inner.isdigit() else inner.strip("'\""))
            index = end
        else:
            token += char
        index += 1
    if token:
        parts.append(token)
    return parts


def map_back(findings: Iterable[Finding], rendered: Sequence[Rendered]) -> list[Finding]:
    """Move findings in rendered output to the source file of their object where it is known.

    Their related locations move the same way: a line of the rendered stream
    means nothing in the file the finding names.
    """
    by_display = {r.target.display: r for r in rendered}
    lines = _RenderedLines()
    # Each render's sources indexed once, each template read once: a render of N objects
    # with a finding on each costs N lookups, not N x N comparisons.
    indexes = _SourceIndexes()
    moved = [_with_related_mapped(f, by_display, lines, indexes) if f.related else f for f in findings]
    return _map_primary(moved, by_display, lines, indexes)


def _map_primary(
    findings: Iterable[Finding],
    by_display: dict[str, Rendered],
    lines: _RenderedLines,
    indexes: _SourceIndexes,
) -> list[Finding]:
    mapped: list[Finding] = []
    texts = charts.TemplateTexts()
    for finding in findings:
        render = by_display.get(finding.path)
        if render is not None and render.templates is not None:
            note = _rendered_note("helm template", render.target.directory)
            mapped.append(_on_template(finding, render, note, texts))
            continue
        if render is None or finding.object is None:
            mapped.append(finding)
            continue
        tool = "kustomize" if render.target.tool == "kustomize" else "helm template"
        note = _rendered_note(tool, render.target.directory)
        rendered_object = lines.at(render, finding.span.line)
        api_version = rendered_object.node.get_str("apiVersion") if rendered_object is not None else None
        candidates = indexes.of(render).sources_of(finding.object.kind, finding.object.name, api_version)
        if not candidates:
            placed = charts.inflated_template(render.root_real, render.chart_homes, finding.object, texts)
            if placed is not None:
                shown, line = placed
                span = Span.point(line, 1)
                mapped.append(replace(finding, path=shown, span=span, message=finding.message + note))
            else:
                mapped.append(replace(finding, message=finding.message + note))
            continue
        source, node = candidates[0], None
        for candidate in candidates if finding.yaml_path else ():
            node = _node_at(candidate.node, finding.yaml_path)
            if node is not None:
                source = candidate
                break
        if node is None:
            metadata = source.node.get_map("metadata")
            node = metadata.get("name") if metadata is not None else None
        span = node.span if node is not None else Span(*source.node.pos)
        mapped.append(replace(finding, path=source.path, span=span, message=finding.message + note))
    return mapped


def _rendered_note(tool: str, directory: str) -> str:
    """`` (in kustomize for overlays/prod)``: where a finding on rendered output came from.

    It follows the headline on the same line, so it stays short: the folder is cut
    to :data:`NOTE_FOLDER_LIMIT` characters (the finding's path names the file anyway).
    """
    return f" (in {tool} for {shown_value(directory or '.', NOTE_FOLDER_LIMIT)})"


#: Characters of a rendered folder named after a finding's headline.
NOTE_FOLDER_LIMIT = 40


def _on_template(finding: Finding, render: Rendered, note: str, texts: charts.TemplateTexts) -> Finding:
    """A finding in a chart's output, placed on the template its ``# Source:`` comment names.

    The template's line for the object cannot be known in general (the text is
    generated): the line that writes its name literally, else its ``kind:``, else 1.
    Without a usable comment it stays on the chart's ``Chart.yaml``, at line 1:
    a line of the rendered stream would point into an unrelated file.
    """
    assert render.templates is not None
    source = render.templates.source_at(finding.span.line)
    template = texts.template_file(render.root_real, render.directory, source) if source is not None else None
    if template is None:
        return replace(finding, span=Span.point(1, 1), message=finding.message + note)
    text = texts.read(render.root_real, template)
    obj = finding.object
    line = charts.object_line(text, obj.kind, obj.name) if obj is not None else 1
    # The repository path as the target names it (the chart directory may be reached by a link).
    shown = f"{render.target.directory}/{template[len(render.directory) :].lstrip('/')}"
    shown = shown.lstrip("/") if not render.target.directory else shown
    return replace(finding, path=shown, span=Span.point(line, 1), message=finding.message + note)


class _SourceIndex:
    """The source manifests of one render, by kind and name.

    The sources of a rendered object are those of its kind with its name; failing
    those, the ones whose name lies inside its name (``namePrefix`` and
    ``nameSuffix`` keep it), when they all have one name. Indexed once per render,
    so that placing a finding looks names up instead of reading every source.
    """

    def __init__(self, sources: Sequence[Manifest]) -> None:
        #: kind → name → (position among the sources, manifest), in source order.
        self.named: dict[str, dict[str, list[tuple[int, Manifest]]]] = {}
        #: kind → the lengths its names have, shortest first.
        self.lengths: dict[str, list[int]] = {}
        for position, manifest in enumerate(sources):
            name = _name(manifest)
            if not name or manifest.kind is None:  # no object's source
                continue
            self.named.setdefault(manifest.kind, {}).setdefault(name, []).append((position, manifest))
        for kind, names in self.named.items():
            self.lengths[kind] = sorted({len(name) for name in names})

    def sources_of(self, kind: str, name: str, api_version: str | None = None) -> list[Manifest]:
        """The source manifests of the rendered object ``kind``/``name``, in source order; [] when not known.

        Sources of the rendered object's ``api_version`` come first: two versions of one
        object (``v1alpha1`` and ``v1beta1`` samples) are told apart by it.
        """
        found = self._named(kind, name)
        if api_version is not None:
            found.sort(key=lambda manifest: manifest.node.get_str("apiVersion") != api_version)
        return found

    def _named(self, kind: str, name: str) -> list[Manifest]:
        names = self.named.get(kind)
        if names is None:
            return []
        exact = names.get(name)
        if exact:
            return [manifest for _, manifest in exact]
        # A shorter name inside the object's (namePrefix / nameSuffix keep it): every
        # piece of the object's name of a length some source name has.
        near: dict[int, Manifest] = {}
        for length in self.lengths[kind]:
            if length >= len(name):
                break
            for start in range(len(name) - length + 1):
                for position, manifest in names.get(name[start : start + length], ()):
                    near[position] = manifest
        if len({_name(manifest) for manifest in near.values()}) != 1:
            return []
        return [near[position] for position in sorted(near)]


class _SourceIndexes:
    """The :class:`_SourceIndex` of each render, made when first asked for."""

    def __init__(self) -> None:
        self.by_display: dict[str, _SourceIndex] = {}

    def of(self, render: Rendered) -> _SourceIndex:
        index = self.by_display.get(render.target.display)
        if index is None:
            index = self.by_display[render.target.display] = _SourceIndex(render.sources)
        return index


class _RenderedLines:
    """The object of a render's output at a line, indexed once per render."""

    def __init__(self) -> None:
        self.index: dict[str, list[tuple[int, int, Manifest]]] = {}

    def at(self, render: Rendered, line: int) -> Manifest | None:
        spans = self.index.get(render.target.display)
        if spans is None:
            spans = sorted(
                ((m.node.pos[0], m.node.pos[2], m) for m in iter_manifests(render.loaded)),
                key=lambda item: (item[0], item[1]),
            )
            self.index[render.target.display] = spans
        position = bisect.bisect_right([start for start, _, _ in spans], line) - 1
        if position >= 0 and spans[position][0] <= line <= spans[position][1]:
            return spans[position][2]
        return None


def _with_related_mapped(
    finding: Finding, by_display: dict[str, Rendered], lines: _RenderedLines, indexes: _SourceIndexes
) -> Finding:
    related = tuple(_related_back(r, by_display, lines, indexes) for r in finding.related)
    return replace(finding, related=related) if related != finding.related else finding


def _related_back(
    related: Related, by_display: dict[str, Rendered], lines: _RenderedLines, indexes: _SourceIndexes
) -> Related:
    """A related location in rendered output, moved to the source of the object at its line.

    Without a known source it goes to the top of the chart's or kustomization's
    file, as a finding does: a line of the stream would point into an unrelated file.
    """
    render = by_display.get(related.path)
    if render is None:
        return related
    manifest = lines.at(render, related.span.line)
    name = _name(manifest) if manifest is not None else None
    if manifest is None or manifest.kind is None or not name:
        return Related(related.path, FILE_START_POINT, related.message)
    if render.templates is not None:
        source = render.templates.source_at(related.span.line)
        template = (
            charts.template_file(render.root_real, render.directory, source) if source is not None else None
        )
        if template is None:
            return Related(related.path, FILE_START_POINT, related.message)
        text = kustomization.read_inside(render.root_real, template) or ""
        shown = f"{render.target.directory}/{template[len(render.directory) :].lstrip('/')}"
        shown = shown.lstrip("/") if not render.target.directory else shown
        return Related(shown, Span.point(charts.object_line(text, manifest.kind, name), 1), related.message)
    candidates = indexes.of(render).sources_of(manifest.kind, name, manifest.node.get_str("apiVersion"))
    if not candidates:
        return Related(related.path, FILE_START_POINT, related.message)
    origin = candidates[0]
    metadata = origin.node.get_map("metadata")
    node = metadata.get("name") if metadata is not None else None
    return Related(origin.path, node.span if node is not None else Span(*origin.node.pos), related.message)


def _name(manifest: Manifest) -> str | None:
    metadata = manifest.node.get_map("metadata")
    return metadata.get_str("name") if metadata is not None else None
