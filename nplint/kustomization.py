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
from dataclasses import dataclass, field

from nplint.discovery import kustomization_patch_paths
from nplint.export import in_git, within
from nplint.loading import decode, load_text
from nplint.loading.nodes import MapNode
from nplint.reading import read_bounded

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


def _kustomization(root_real: str, directory: str) -> tuple[str, dict[str, object]]:
    """The path of the kustomization file of ``directory`` and what it holds."""
    for name in KUSTOMIZATION_FILES:
        path = _join(directory, name)
        text = read_inside(root_real, path)
        if text is None:
            continue
        for document in load_text(path, text).documents:
            if isinstance(document.root, MapNode) and not document.failed:
                data = document.root.to_python()
                if isinstance(data, dict):
                    return path, data
        return path, {}
    return _join(directory, KUSTOMIZATION_FILES[0]), {}


@dataclass(slots=True)
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


def closure(root_real: str, directory: str) -> Closure:
    found = Closure()
    pending = [directory]
    seen = {directory}
    while pending:
        current = pending.pop()
        path, data = _kustomization(root_real, current)
        found.patches |= _patches(root_real, current, data)
        openapi = data.get("openapi")
        schema = openapi.get("path") if isinstance(openapi, dict) else None
        if isinstance(schema, str) and _REMOTE.search(schema):
            # kustomize would fetch it, and Go sends loopback addresses past any proxy.
            found.refusal = found.refusal or f"remote OpenAPI schema {schema} (in {path}) is not fetched"
        for key in _REFERENCE_KEYS:
            listed = data.get(key)
            for entry in listed if isinstance(listed, list) else ():
                if not isinstance(entry, str) or "\n" in entry or entry.lstrip().startswith("{"):
                    continue  # inline plugin configuration, not a reference
                refusal, used = _reference(root_real, current, path, entry.strip())
                if refusal is not None:
                    found.refusal = found.refusal or refusal
                elif used is not None and os.path.isdir(os.path.join(root_real, *used.split("/"))):
                    found.directories.add(used)
                    if used not in seen:
                        seen.add(used)
                        pending.append(used)
                elif used is not None and key in _MANIFEST_KEYS:
                    found.files.add(used)
    found.directories.discard(directory)
    return found


def _reference(root_real: str, directory: str, where: str, entry: str) -> tuple[str | None, str | None]:
    """(why it is refused, or the real path it names relative to the root, if it exists).

    ``entry`` is listed in the kustomization file ``where``, in ``directory``.
    """
    if _REMOTE.search(entry):
        return f"remote base {entry} (in {where}) is not fetched", None
    if os.path.isabs(entry):
        return f"{entry} (in {where}) lies outside the repository", None
    lexical = os.path.normpath(os.path.join(directory, entry)).replace(os.sep, "/")
    if lexical == ".." or lexical.startswith("../"):
        return f"{entry} (in {where}) lies outside the repository", None
    if in_git(lexical):
        return f"{entry} (in {where}) lies inside .git", None
    joined = os.path.join(root_real, *([] if lexical == "." else lexical.split("/")))
    if not os.path.lexists(joined):
        if _HOST_LIKE.match(entry):
            return f"remote base {entry} (in {where}) is not fetched", None
        return None, None  # missing: kustomize says so
    real = physical(root_real, "" if lexical == "." else lexical)
    if real is None:
        return f"{entry} (in {where}) leads out of the repository or into .git", None
    return None, real


def _patches(root_real: str, directory: str, data: dict[str, object]) -> set[str]:
    """The patch files a kustomization lists (real paths relative to the root)."""
    found: set[str] = set()
    for name in kustomization_patch_paths(data):
        lexical = os.path.normpath(os.path.join(directory, name)).replace(os.sep, "/")
        if os.path.isabs(name) or lexical == ".." or lexical.startswith("../"):
            continue
        real = physical(root_real, lexical)
        if real is not None and os.path.isfile(os.path.join(root_real, *real.split("/"))):
            found.add(real)
    return found
