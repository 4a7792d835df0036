"""Set aside, after loading, what no GitOps tool reads: unnamed dot-directories.

A directory whose name starts with ``.`` (``.archive/``, ``.old/``) is walked by
no GitOps tool unless something of the tree names it: a kustomization's
``resources``/``bases``/``components``, a Flux ``Kustomization``'s ``spec.path``,
an Argo CD ``Application``'s or ``ApplicationSet``'s ``path``. That needs the
loaded objects (what names what), so it is decided after loading and before
rendering: a kustomization or chart set aside here is never rendered.

Flux's ``.sourceignore`` is not followed: it says what Flux never fetches, but
another deployer (Talos, a script running ``kubectl apply``) may apply those
paths, and nplint cannot know that none does.

Each set-aside folder or file becomes a :class:`~nplint.discovery.SkippedFile`
(reason ``not-deployed``), so ``nplint worlds`` and tools see it.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterable, Sequence
from dataclasses import replace

from nplint.deployment_scope import SKIP_NOT_DEPLOYED, is_hidden, kustomization_resource_paths
from nplint.discovery import Discovery, SkippedFile, folder_test_runner, load_kustomization
from nplint.loading import LoadedFile, iter_manifests
from nplint.loading.nodes import MapNode, Node, SeqNode

_KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")


def _detail_hidden(directory: str) -> str:
    return (
        f"dot-directory {directory}/ that no kustomization, Flux Kustomization or Argo CD Application "
        "names: no GitOps tool deploys it; set `lint-undeployed: true` or name it on the command line "
        "to lint it"
    )


def set_aside(
    found: Discovery, files: Sequence[LoadedFile], root: str, named: Sequence[str]
) -> tuple[Discovery, list[LoadedFile]]:
    """``found`` and ``files`` (loaded in the order of ``found.files``) without what no tool deploys.

    ``root`` is the repository root; ``named`` the paths given on the command line,
    relative to it (a dot-directory named there is linted).
    """
    hidden = _hidden_directories([f.display for f in found.files] + [s.display for s in found.skipped], named)
    if not hidden:
        return found, list(files)
    hidden -= _named_directories(found, files, root, hidden)
    # A test runner's hidden folder (`.chainsaw-test/`) is a test folder: `lint-test-folders`
    # decides about it, and discovery names it as such.
    hidden = {d for d in hidden if folder_test_runner(os.path.join(root, *d.split("/"))) is None}

    def verdict(display: str) -> str | None:
        """Why ``display`` is set aside: the dot-directory it is in, or None."""
        return _hidden_of(display, hidden)

    skipped: dict[str, SkippedFile] = {s.display: s for s in found.skipped}
    kept_files = []
    kept_loaded: list[LoadedFile] = []
    for discovered, loaded in zip(found.files, files, strict=True):
        why = verdict(discovered.display)
        if why is None:
            kept_files.append(discovered)
            kept_loaded.append(loaded)
        else:
            _note(skipped, discovered.display, why)
    for item in found.skipped:
        why = verdict(item.display)
        if why is not None:
            del skipped[item.display]
            _note(skipped, item.display, why)
    ordered = sorted(skipped.values(), key=lambda s: (s.display.encode("utf-8", "surrogateescape"), s.reason))
    # The kustomizations discovery parsed stay with it: planning takes them from there.
    return replace(found, files=tuple(kept_files), skipped=tuple(ordered)), kept_loaded


def _note(skipped: dict[str, SkippedFile], display: str, why: str) -> None:
    # One entry for the whole folder: its files are not deployed for the same reason.
    shown = why + "/"
    skipped.setdefault(shown, SkippedFile(shown, SKIP_NOT_DEPLOYED, _detail_hidden(why)))


# -- dot-directories ------------------------------------------------------------------------------


def _inside_root(display: str) -> bool:
    return display != "-" and not display.startswith(("/", "../")) and display != ".."


def _hidden_prefix(display: str) -> str | None:
    """The outermost dot-directory on the way to ``display`` (relative to the root), if any."""
    if not _inside_root(display):
        return None
    parts = display.split("/")[:-1]
    for count, part in enumerate(parts, start=1):
        if is_hidden(part):
            return "/".join(parts[:count])
    return None


def _within(path: str, directory: str) -> bool:
    return path == directory or path.startswith(directory + "/")


def _hidden_directories(displays: Iterable[str], named: Sequence[str]) -> set[str]:
    found = {prefix for prefix in map(_hidden_prefix, displays) if prefix is not None}
    # A folder named on the command line, or one inside it, is what the user asked for.
    return {d for d in found if not any(_within(given, d) for given in named)}


def _hidden_of(display: str, hidden: set[str]) -> str | None:
    prefix = _hidden_prefix(display)
    return prefix if prefix is not None and prefix in hidden else None


def _kustomization(found: Discovery, path: str) -> object:
    """The kustomization at ``path`` as discovery parsed it, read here only if it did not."""
    parsed = found.kustomizations.get(os.path.realpath(path))
    return parsed.first if parsed is not None else load_kustomization(path)


def _named_directories(
    found: Discovery, files: Sequence[LoadedFile], root: str, hidden: set[str]
) -> set[str]:
    """The dot-directories something that is deployed names, following kustomizations into them."""
    references = set(_gitops_paths(files))
    kustomizations = sorted(
        s.display for s in found.skipped if s.display.rpartition("/")[2] in _KUSTOMIZATION_NAMES
    )
    named: set[str] = set()
    read: dict[str, list[str]] = {}
    while True:
        for reference in references:
            named |= {d for d in hidden if _within(reference, d)}
        added = False
        for path in kustomizations:
            if path in read or (_hidden_prefix(path) in hidden and _hidden_prefix(path) not in named):
                continue
            directory = posixpath.dirname(path)
            read[path] = [
                posixpath.normpath(posixpath.join(directory, entry))
                for entry in kustomization_resource_paths(_kustomization(found, os.path.join(root, path)))
                if "://" not in entry and not posixpath.isabs(entry)
            ]
            references |= set(read[path])
            added = True
        if not added:
            return named


def _gitops_paths(files: Sequence[LoadedFile]) -> Iterable[str]:
    """Paths (relative to the repository root) that Flux and Argo CD objects deploy from."""
    for loaded in files:
        for manifest in iter_manifests(loaded):
            group = (manifest.node.get_str("apiVersion") or "").partition("/")[0]
            spec = manifest.node.get_map("spec")
            if spec is None:
                continue
            if group == "kustomize.toolkit.fluxcd.io" and manifest.kind == "Kustomization":
                yield from _clean([spec.get("path")])
            elif group == "argoproj.io" and manifest.kind == "Application":
                yield from _clean(_source_paths(spec))
            elif group == "argoproj.io" and manifest.kind == "ApplicationSet":
                template = spec.get_map("template")
                template_spec = template.get_map("spec") if template is not None else None
                if template_spec is not None:
                    yield from _clean(_source_paths(template_spec))
                yield from _clean(_generator_paths(spec.get("generators")))


def _source_paths(spec: MapNode) -> list[Node | None]:
    source = spec.get_map("source")
    found: list[Node | None] = [source.get("path")] if source is not None else []
    sources = spec.get("sources")
    for item in sources if isinstance(sources, SeqNode) else ():
        if isinstance(item, MapNode):
            found.append(item.get("path"))
    return found


def _generator_paths(generators: Node | None) -> list[Node | None]:
    found: list[Node | None] = []
    for generator in generators if isinstance(generators, SeqNode) else ():
        git = generator.get_map("git") if isinstance(generator, MapNode) else None
        for key in ("directories", "files"):
            listed = git.get(key) if git is not None else None
            for item in listed if isinstance(listed, SeqNode) else ():
                if isinstance(item, MapNode):
                    found.append(item.get("path"))
    return found


def _clean(nodes: Iterable[Node | None]) -> Iterable[str]:
    for node in nodes:
        text = node.to_python() if node is not None else None
        if not isinstance(text, str) or not text.strip():
            continue
        # Globs of ApplicationSet directories ("apps/.archive/*") name the folder before the glob.
        text = text.strip().split("*", 1)[0].rstrip("/") or "."
        path = posixpath.normpath(text.lstrip("/"))
        if path != "." and not path.startswith("../"):
            yield path
