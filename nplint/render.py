"""Render Kustomize overlays and Helm charts, and map findings back to their sources.

With ``--render auto`` (the default), a kustomization is rendered with
``kustomize build`` (or ``kubectl kustomize``) and a Helm chart with ``helm
template``, when those programs are on PATH. What is rendered is linted as the
cluster will receive it; the plain files a rendered kustomization consumes are
not linted again on their own. A finding in rendered output is moved to the
source file that defines the same object (kind and name) when one is found, at
the same YAML path where it exists there. When the program is missing, NP005
says how to render.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from nplint.discovery import SKIP_HELM_TEMPLATE, SKIP_KUSTOMIZATION, SkippedFile, kustomization_patch_paths
from nplint.findings import Finding, Span
from nplint.loading import LoadedFile, Manifest, iter_manifests, load_text
from nplint.loading.nodes import MapNode, Node, SeqNode

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
#: Seconds one render may take before it is abandoned.
RENDER_TIMEOUT = 120
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
        where = self.directory or "."
        if self.tool == "kustomize":
            return f"`kustomize build {where} | nplint -` (or `kubectl kustomize {where} | nplint -`)"
        return f"`helm template {where} | nplint -`"


@dataclass(slots=True)
class Rendered:
    target: Target
    loaded: LoadedFile
    #: Source manifests of the plain files the render consumed, for mapping findings back.
    sources: list[Manifest] = field(default_factory=list)


@dataclass(slots=True)
class RenderPlan:
    rendered: list[Rendered] = field(default_factory=list)
    #: Targets that could not be rendered, with why (no program, or it failed).
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


def _kustomization(directory: Path) -> dict[str, object]:
    for name in KUSTOMIZATION_FILES:
        path = directory / name
        if path.is_file():
            loaded = load_text(str(path), path.read_text(encoding="utf-8", errors="replace"))
            for document in loaded.documents:
                if isinstance(document.root, MapNode) and not document.failed:
                    data = document.root.to_python()
                    if isinstance(data, dict):
                        return data
    return {}


def _patches(root: Path, directory: str) -> set[str]:
    """The patch files a kustomization lists."""
    base = root / directory if directory else root
    found: set[str] = set()
    for name in kustomization_patch_paths(_kustomization(base)):
        if (base / name).is_file():
            try:
                found.add((base / name).resolve().relative_to(root.resolve()).as_posix())
            except ValueError:
                continue
    return found


def _list(data: dict[str, object], key: str) -> list[object]:
    value = data.get(key)
    return value if isinstance(value, list) else []


def _resources(root: Path, directory: str) -> tuple[set[str], set[str]]:
    """(kustomization directories, plain files) a kustomization uses, recursively."""
    directories: set[str] = set()
    files: set[str] = set()
    pending = [directory]
    while pending:
        current = pending.pop()
        base = root / current if current else root
        data = _kustomization(base)
        entries: list[str] = []
        for key in ("resources", "bases", "components"):
            listed = data.get(key)
            if isinstance(listed, list):
                entries.extend(e for e in listed if isinstance(e, str))
        for entry in entries:
            target = (base / entry).resolve()
            try:
                relative = target.relative_to(root.resolve()).as_posix()
            except ValueError:
                continue  # a remote base or a path out of the repository
            if target.is_dir() and relative not in directories:
                directories.add(relative)
                pending.append(relative)
            elif target.is_file():
                files.add(relative)
    return directories, files


def _command(target: Target, root: Path, helm_values: Sequence[str]) -> list[str] | None:
    directory = str(root / target.directory) if target.directory else str(root)
    if target.tool == "kustomize":
        if shutil.which("kustomize"):
            return ["kustomize", "build", directory]
        if shutil.which("kubectl"):
            return ["kubectl", "kustomize", directory]
        return None
    if shutil.which("helm"):
        command = ["helm", "template", Path(directory).name or "release", directory]
        for values in helm_values:
            command += ["--values", values]
        return command
    return None


def plan(
    skipped: Sequence[SkippedFile], root: Path, *, enabled: bool, helm_values: Sequence[str] = ()
) -> RenderPlan:
    result = RenderPlan()
    candidates = targets(skipped)
    used_by_others: set[str] = set()
    uses: dict[Target, set[str]] = {}
    patches: dict[Target, set[str]] = {}
    for target in candidates:
        if target.tool == "kustomize":
            directories, files = _resources(root, target.directory)
            used_by_others |= directories
            uses[target] = files | {f for d in directories for f in _resources(root, d)[1]}
            patches[target] = _patches(root, target.directory).union(
                *(_patches(root, d) for d in directories)
            )
    for target in candidates:
        if target.tool == "kustomize" and target.directory in used_by_others:
            continue  # rendered as part of the overlay that uses it
        if not enabled:
            result.unrendered.append((target, "rendering is turned off (--render never)"))
            continue
        command = _command(target, root, helm_values)
        if command is None:
            program = "kustomize or kubectl" if target.tool == "kustomize" else "helm"
            result.unrendered.append((target, f"{program} is not on PATH"))
            continue
        try:
            completed = subprocess.run(
                command, capture_output=True, text=True, timeout=RENDER_TIMEOUT, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            result.unrendered.append((target, f"`{' '.join(command[:2])}` failed: {error}"))
            continue
        if completed.returncode != 0:
            message = _KLOG_HEADER.sub("", (completed.stderr.strip().splitlines() or ["no message"])[-1])
            result.unrendered.append((target, f"`{' '.join(command[:2])}` failed: {message}"))
            continue
        loaded = load_text(target.display, completed.stdout)
        consumed = uses.get(target, set())
        result.consumed |= consumed
        # Resources first, then patches: a finding goes to the first source that has its node.
        sources = [
            manifest
            for display in [*sorted(consumed), *sorted(patches.get(target, ()))]
            for manifest in iter_manifests(
                load_text(display, (root / display).read_text(encoding="utf-8", errors="replace"))
            )
        ]
        result.rendered.append(Rendered(target, loaded, sources))
    return result


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
