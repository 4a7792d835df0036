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

import os
import re
import shlex
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from nplint import kustomization, programs
from nplint.discovery import SKIP_HELM_TEMPLATE, SKIP_KUSTOMIZATION, SkippedFile
from nplint.export import ExportTooLarge, export_tree, in_git, within
from nplint.findings import Finding, Span
from nplint.kustomization import KUSTOMIZATION_FILES, Closure
from nplint.loading import Document, LoadedFile, Manifest, decode, iter_manifests, load_text
from nplint.loading.nodes import MapNode, Node, ScalarNode, SeqNode

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
#: A quoted error line is shorter than this.
_MESSAGE_LIMIT = 200
#: kubectl's log header ("E1129 07:02:26.277173    8910 run.go:72] "): a time and a process
#: id that would make the same run print a different message each time.
_KLOG_HEADER = re.compile(r"^[IWEF]\d{4} \d{2}:\d{2}:\d{2}\.\d+\s+\d+ [^\]]+\] ")


@dataclass(frozen=True, slots=True)
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
        directory = self.directory or "."
        where = shlex.quote(directory if directory.startswith(("/", ".")) else f"./{directory}")
        if self.tool == "kustomize":
            return f"`kustomize build {where} | nplint -` (or `kubectl kustomize {where} | nplint -`)"
        return f"`helm template {RELEASE_NAME} {where} | nplint -`"


@dataclass(slots=True)
class Rendered:
    target: Target
    loaded: LoadedFile
    #: Source manifests of the plain files the render consumed, for mapping findings back.
    sources: list[Manifest] = field(default_factory=list)


@dataclass(slots=True)
class RenderPlan:
    rendered: list[Rendered] = field(default_factory=list)
    #: Targets that could not be rendered, with why (no program, refused, or it failed).
    unrendered: list[tuple[Target, str]] = field(default_factory=list)
    #: Display paths of plain files consumed by a rendered kustomization.
    consumed: set[str] = field(default_factory=set)


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


@dataclass(frozen=True, slots=True)
class _Job:
    target: Target
    #: Real path of the target relative to the root.
    physical: str
    program: Path
    #: "kustomize build", "kubectl kustomize" or "helm template".
    words: str
    closure: Closure


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


def plan(
    skipped: Sequence[SkippedFile], root: Path, *, enabled: bool, helm_values: Sequence[str] = ()
) -> RenderPlan:
    result = RenderPlan()
    started = time.monotonic()
    root_real = os.path.realpath(root)
    candidates = targets(skipped)
    real_directories = {t: kustomization.physical(root_real, t.directory) for t in candidates}
    closures: dict[Target, Closure] = {}
    used_by_others: set[str] = set()
    for target in candidates:
        where = real_directories[target]
        if target.tool == "kustomize" and where is not None:
            closures[target] = kustomization.closure(root_real, where)
            used_by_others |= closures[target].directories
    values = _values(root_real, helm_values)
    jobs: list[_Job] = []
    for target in candidates:
        where = real_directories[target]
        if target.tool == "kustomize" and where in used_by_others:
            continue  # rendered as part of the overlay that uses it
        if not enabled:
            result.unrendered.append((target, "rendering is turned off (--render never)"))
            continue
        closure = closures.get(target, Closure())
        program = _program(target, root_real)
        refusal = (
            _refusal(target, where)
            or (_printable(closure.refusal) if closure.refusal else None)
            or (values if target.tool == "helm" and isinstance(values, str) else None)
            or (program if isinstance(program, str) else None)
        )
        if refusal is not None:
            result.unrendered.append((target, refusal))
            continue
        assert where is not None and not isinstance(program, str)  # refused above otherwise
        jobs.append(_Job(target, where, program[0], program[1], closure))
    if jobs:
        _render(jobs, root_real, [] if isinstance(values, str) else values, started, result)
    result.unrendered.sort(key=lambda item: (item[0].directory, item[0].tool))
    return result


# -- rendering -------------------------------------------------------------------------------


def _render(
    jobs: Sequence[_Job], root_real: str, values: Sequence[str], started: float, result: RenderPlan
) -> None:
    base = Path(tempfile.mkdtemp(prefix="nplint-render-"))
    try:
        base_real = os.path.realpath(base)
        if within(base_real, root_real):
            for job in jobs:
                result.unrendered.append((job.target, "the temporary directory is inside the repository"))
            return
        try:
            export = export_tree(Path(root_real), base / "tree")
        except ExportTooLarge as error:
            for job in jobs:
                result.unrendered.append((job.target, f"{error}, too much to copy for rendering"))
            return
        (base / "home").mkdir(mode=0o700)
        (base / "tmp").mkdir(mode=0o700)
        env = programs.scrubbed_environment(base / "home", base / "tmp")
        # Nor may what the renderers start (helm's post-renderers and plugins) come from the repository.
        env["PATH"] = os.pathsep.join(
            entry for entry in env["PATH"].split(os.pathsep) if not within(os.path.realpath(entry), root_real)
        )
        tree = os.path.realpath(export.tree)
        for job in jobs:
            reason = _render_one(job, tree, base_real, values, export.refused_links, env, started, result)
            if reason is not None:
                result.unrendered.append((job.target, reason))
    finally:
        _remove(base)


def _render_one(
    job: _Job,
    tree: str,
    base: str,
    values: Sequence[str],
    refused_links: dict[str, str],
    env: dict[str, str],
    started: float,
    result: RenderPlan,
) -> str | None:
    """Render one target into ``result``; the reason it was not rendered otherwise."""
    directories = [job.physical, *sorted(job.closure.directories)]
    links = sorted(
        link
        for link in refused_links
        if any(not d or link == d or link.startswith(d + "/") for d in directories)
    )
    if links:
        more = f" (and {len(links) - 1} more)" if len(links) > 1 else ""
        return f"the symbolic link {_printable(links[0])}{more} {refused_links[links[0]]}; it is not rendered"
    remaining = RENDER_BUDGET - (time.monotonic() - started)
    if remaining <= 0:
        return (
            f"render budget exhausted: the {RENDER_BUDGET:g} s for all charts and overlays "
            "were spent before it"
        )
    directory = os.path.join(tree, *job.physical.split("/")) if job.physical else tree
    if job.target.tool == "helm":
        argv = [str(job.program), "template", RELEASE_NAME]
        argv += [f"--values={os.path.join(tree, *value.split('/'))}" for value in values]
    elif job.words == "kustomize build":
        argv = [str(job.program), "build"]
    else:
        argv = [str(job.program), "kustomize"]
    argv += ["--", directory]
    timeout = min(RENDER_TIMEOUT, remaining)
    try:
        completed = programs.run(
            argv, cwd=Path(tree), env=env, timeout=timeout, output_limit=RENDER_OUTPUT_LIMIT
        )
    except programs.ProgramTimeout:
        if timeout < RENDER_TIMEOUT:
            return (
                f"`{job.words}` was stopped: render budget exhausted "
                f"({RENDER_BUDGET:g} s for all charts and overlays)"
            )
        return f"`{job.words}` did not finish within {RENDER_TIMEOUT:g} s and was stopped"
    except programs.ProgramError as error:
        return f"`{job.words}` {error}"
    if completed.returncode != 0:
        return f"`{job.words}` failed: {_error_line(completed.stderr, tree, base)}"
    text, problem = decode(completed.stdout)
    if text is None:
        return (
            f"`{job.words}` printed output that is not text ({problem.message if problem else 'undecodable'})"
        )
    loaded = load_text(job.target.display, text)
    if not loaded.problems and not any(_has_content(d) for d in loaded.documents):
        return f"`{job.words}` rendered nothing (no documents)"
    consumed = job.closure.files if job.target.tool == "kustomize" else set()
    result.consumed |= consumed
    # Resources first, then patches: a finding goes to the first source that has its node.
    sources = [
        manifest
        for display in [*sorted(consumed), *sorted(job.closure.patches)]
        for manifest in iter_manifests(load_text(display, kustomization.read_inside(tree, display) or ""))
    ]
    result.rendered.append(Rendered(job.target, loaded, sources))
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
    """Move findings in rendered output to the source file of their object where it is known."""
    by_display = {r.target.display: r for r in rendered}
    mapped: list[Finding] = []
    for finding in findings:
        render = by_display.get(finding.path)
        if render is None or finding.object is None:
            mapped.append(finding)
            continue
        tool = "kustomize" if render.target.tool == "kustomize" else "helm template"
        candidates = _sources_of(finding, render.sources)
        note = f" (in the output of {tool} for {render.target.directory or '.'})"
        if not candidates:
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


def _sources_of(finding: Finding, sources: Sequence[Manifest]) -> list[Manifest]:
    """The source manifests of a rendered object: same kind, and the same name up to a prefix/suffix."""
    obj = finding.object
    assert obj is not None
    exact: list[Manifest] = []
    near: list[Manifest] = []
    for manifest in sources:
        metadata = manifest.node.get_map("metadata")
        name = metadata.get_str("name") if metadata is not None else None
        if manifest.kind != obj.kind or not name:
            continue
        if name == obj.name:
            exact.append(manifest)
        elif name in obj.name:  # namePrefix / nameSuffix keep the source name inside
            near.append(manifest)
    if exact:
        return exact
    names = {_name(m) for m in near}
    return near if len(names) == 1 else []


def _name(manifest: Manifest) -> str | None:
    metadata = manifest.node.get_map("metadata")
    return metadata.get_str("name") if metadata is not None else None
