"""Find the manifests to lint: walk paths, honour .gitignore and excludes, skip what is not a manifest.

Helm chart templates, chart metadata and values, kustomizations and the
patches they list are skipped (and reported as skipped, so NP005 can say how
to render them). Symlinks never lead out of the root, and directory loops are
walked once. The result is sorted, so the order of the file system never shows
in the output.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

SKIP_HELM_TEMPLATE = "helm-template"
SKIP_KUSTOMIZATION = "kustomization"
SKIP_SYMLINK_OUTSIDE = "symlink-outside-root"
SKIP_SYMLINK_LOOP = "symlink-loop"
SKIP_KUSTOMIZE_PATCH = "kustomize-patch"

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
KUSTOMIZATION_NAMES = frozenset(("kustomization.yaml", "kustomization.yml", "Kustomization"))
#: Bytes read to decide whether a file holds Go template syntax.
TEMPLATE_SNIFF_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class DiscoveredFile:
    #: The path to read, or ``Path("-")`` for standard input.
    path: Path
    #: The path shown to users: POSIX, relative to the root when inside it; "-" for stdin.
    display: str


@dataclass(frozen=True, slots=True)
class SkippedFile:
    display: str
    reason: str
    detail: str


@dataclass(frozen=True, slots=True)
class Discovery:
    files: tuple[DiscoveredFile, ...]
    skipped: tuple[SkippedFile, ...]
    #: Paths given by the user that do not exist.
    missing: tuple[str, ...]


def find_repository_root(start: Path) -> Path:
    """The nearest directory at or above ``start`` that holds ``.git``, else ``start``."""
    start = start.resolve()
    for directory in (start, *start.parents):
        if (directory / ".git").exists():
            return directory
    return start


# -- gitignore ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Pattern:
    regex: re.Pattern[str]
    negated: bool
    directory_only: bool


def _translate(glob: str) -> str:
    """A gitignore glob (already stripped of its anchoring) as a regex body."""
    out: list[str] = []
    i = 0
    while i < len(glob):
        if glob.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif glob.startswith("/**", i) and i + 3 == len(glob):
            out.append("/.*")
            i += 3
        elif glob.startswith("**", i):
            out.append(".*")
            i += 2
        elif glob[i] == "*":
            out.append("[^/]*")
            i += 1
        elif glob[i] == "?":
            out.append("[^/]")
            i += 1
        elif glob[i] == "[":
            end = glob.find("]", i + 2)
            if end < 0:
                out.append(re.escape("["))
                i += 1
            else:
                body = glob[i + 1 : end]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append("[" + body.replace("\\", "\\\\") + "]")
                i = end + 1
        elif glob[i] == "\\" and i + 1 < len(glob):
            out.append(re.escape(glob[i + 1]))
            i += 2
        else:
            out.append(re.escape(glob[i]))
            i += 1
    return "".join(out)


def compile_patterns(lines: Iterable[str]) -> tuple[_Pattern, ...]:
    """Compile gitignore lines; paths are matched relative to the file's directory."""
    patterns: list[_Pattern] = []
    for raw in lines:
        line = raw.rstrip("\n").rstrip("\r")
        # Trailing spaces are ignored unless escaped.
        while line.endswith(" ") and not line.endswith("\\ "):
            line = line[:-1]
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        if negated or line.startswith("\\!") or line.startswith("\\#"):
            line = line[1:]
        directory_only = line.endswith("/")
        line = line.rstrip("/")
        if not line:
            continue
        anchored = "/" in line
        line = line.lstrip("/")
        body = _translate(line)
        prefix = "" if anchored else "(?:.*/)?"
        patterns.append(_Pattern(re.compile(f"{prefix}{body}\\Z"), negated, directory_only))
    return tuple(patterns)


class _Ignore:
    """The stack of ignore files that apply in one directory."""

    __slots__ = ("layers",)

    def __init__(self, layers: tuple[tuple[str, tuple[_Pattern, ...]], ...]) -> None:
        #: (directory relative to the root, with a trailing "/" or "", patterns)
        self.layers = layers

    def with_layer(self, base: str, patterns: tuple[_Pattern, ...]) -> _Ignore:
        if not patterns:
            return self
        return _Ignore((*self.layers, (base, patterns)))

    def ignored(self, relative: str, is_dir: bool) -> bool:
        verdict = False
        for base, patterns in self.layers:
            if base and not relative.startswith(base):
                continue
            local = relative[len(base) :]
            for pattern in patterns:
                if pattern.directory_only and not is_dir:
                    continue
                if pattern.regex.match(local):
                    verdict = not pattern.negated
        return verdict


def _read_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []


# -- walking -------------------------------------------------------------------


@dataclass(slots=True)
class _Walk:
    root: Path
    exclude: tuple[_Pattern, ...]
    respect_gitignore: bool
    files: dict[str, DiscoveredFile]
    skipped: dict[str, SkippedFile]
    seen_real: dict[str, str]
    patches: set[str]
    #: Real paths of the directories being walked, to stop at links that loop.
    active: set[str]

    def display(self, path: Path) -> str:
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return path.as_posix()

    def skip(self, display: str, reason: str, detail: str) -> None:
        self.skipped.setdefault(display, SkippedFile(display, reason, detail))

    def excluded(self, display: str, is_dir: bool) -> bool:
        return bool(self.exclude) and _Ignore((("", self.exclude),)).ignored(display, is_dir)

    def excluded_with_parents(self, display: str) -> bool:
        """For a file named on the command line: excluded itself, or under an excluded directory."""
        parts = display.split("/")
        prefixes = ("/".join(parts[:i]) for i in range(1, len(parts)))
        return self.excluded(display, False) or any(self.excluded(prefix, True) for prefix in prefixes)

    def add_file(self, path: Path, display: str) -> None:
        reason = _not_a_manifest(path)
        if reason is not None:
            self.skip(display, *reason)
            return
        if display in self.patches:
            self.skip(
                display,
                SKIP_KUSTOMIZE_PATCH,
                "listed as a patch by a kustomization; render it with kustomize",
            )
            return
        try:
            real = str(path.resolve())
        except OSError:
            return
        previous = self.seen_real.get(real)
        if previous is not None:
            if display < previous:
                del self.files[previous]
            else:
                return
        self.seen_real[real] = display
        self.files[display] = DiscoveredFile(path, display)

    def inside_root(self, path: Path) -> bool:
        try:
            path.resolve().relative_to(self.root)
        except (ValueError, OSError):
            return False
        return True


def _chart_root(directory: Path) -> bool:
    return (directory / "Chart.yaml").is_file()


def _not_a_manifest(path: Path) -> tuple[str, str] | None:
    name = path.name
    if name in KUSTOMIZATION_NAMES:
        return (
            SKIP_KUSTOMIZATION,
            "a Kustomize kustomization; render it with `kustomize build DIR | nplint -`",
        )
    parent = path.parent
    if _chart_root(parent) and (
        name == "Chart.yaml" or (name.startswith("values") and name.endswith((".yaml", ".yml")))
    ):
        return SKIP_HELM_TEMPLATE, "Helm chart metadata or values, not a manifest"
    if parent.name == "templates" and _chart_root(parent.parent):
        return SKIP_HELM_TEMPLATE, "a Helm chart template; render it with `helm template CHART | nplint -`"
    try:
        with path.open("rb") as handle:
            head = handle.read(TEMPLATE_SNIFF_BYTES)
    except OSError:
        return None
    if b"{{" in head:
        return (
            SKIP_HELM_TEMPLATE,
            "contains Go template syntax ('{{'); render it first, e.g. `helm template CHART | nplint -`",
        )
    return None


def _kustomize_patches(directory: Path, root: Path) -> Iterator[str]:
    """Display paths of the patch files a kustomization in ``directory`` lists."""
    for name in KUSTOMIZATION_NAMES:
        path = directory / name
        if not path.is_file():
            continue
        from nplint.loading import load_text

        try:
            loaded = load_text(str(path), path.read_text(encoding="utf-8", errors="replace"))
        except Exception:  # a broken kustomization lists no patches; never fail discovery
            return
        for document in loaded.documents:
            data = document.root.to_python() if document.root is not None and not document.failed else None
            if not isinstance(data, dict):
                continue
            candidates: list[object] = []
            for key in ("patches", "patchesJson6902"):
                for entry in data.get(key) or ():
                    if isinstance(entry, dict):
                        candidates.append(entry.get("path"))
            candidates.extend(data.get("patchesStrategicMerge") or ())
            for candidate in candidates:
                if isinstance(candidate, str) and "\n" not in candidate:
                    target = (directory / candidate).resolve()
                    try:
                        yield target.relative_to(root).as_posix()
                    except ValueError:
                        continue


def _walk(walk: _Walk, directory: Path, ignore: _Ignore) -> None:
    try:
        real = str(directory.resolve())
    except OSError:
        return
    base = walk.display(directory)
    base = "" if base == "." else base + "/"
    if walk.respect_gitignore:
        ignore = ignore.with_layer(base, compile_patterns(_read_lines(directory / ".gitignore")))
    walk.patches.update(_kustomize_patches(directory, walk.root))
    try:
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        path = Path(entry.path)
        display = base + entry.name
        try:
            is_dir = entry.is_dir()
            is_file = entry.is_file()
            is_link = entry.is_symlink()
        except OSError:
            continue
        if entry.name == ".git" and is_dir:
            continue
        if walk.respect_gitignore and ignore.ignored(display, is_dir):
            continue
        if walk.excluded(display, is_dir):
            continue
        if is_link and (is_dir or is_file) and not walk.inside_root(path):
            walk.skip(
                display,
                SKIP_SYMLINK_OUTSIDE,
                "a symbolic link that leads out of the repository; not followed",
            )
            continue
        if is_dir:
            target = str(path.resolve())
            if target in walk.active or real.startswith(target + os.sep):
                walk.skip(display, SKIP_SYMLINK_LOOP, "a symbolic link back into a directory being walked")
                continue
            walk.active.add(target)
            try:
                _walk(walk, path, ignore)
            finally:
                walk.active.discard(target)
        elif is_file and entry.name.lower().endswith(MANIFEST_SUFFIXES):
            walk.add_file(path, display)


def discover(
    paths: Sequence[str], *, root: Path, exclude: Sequence[str] = (), respect_gitignore: bool = True
) -> Discovery:
    root = root.resolve()
    walk = _Walk(root, compile_patterns(exclude), respect_gitignore, {}, {}, {}, set(), set())
    base_ignore = _Ignore(())
    if respect_gitignore:
        base_ignore = base_ignore.with_layer(
            "", compile_patterns(_read_lines(root / ".git" / "info" / "exclude"))
        )
    missing: list[str] = []
    stdin = False
    for given in paths:
        if given == "-":
            stdin = True
            continue
        path = Path(given)
        if not path.is_absolute():
            path = Path.cwd() / path
        if not path.exists():
            missing.append(given)
            continue
        inside = walk.inside_root(path)
        display = walk.display(path.resolve()) if inside else path.as_posix()
        if path.is_dir():
            ignore = _parent_ignores(path.resolve(), root, base_ignore) if respect_gitignore else base_ignore
            walk.active = {str(path.resolve())}
            _walk(walk, path.resolve() if inside else path, ignore)
        elif not walk.excluded_with_parents(display):
            walk.add_file(path, display)
    files = sorted(walk.files.values(), key=lambda f: f.display)
    if stdin:
        files.insert(0, DiscoveredFile(Path("-"), "-"))
    return Discovery(
        tuple(files),
        tuple(sorted(walk.skipped.values(), key=lambda s: s.display)),
        tuple(missing),
    )


def _parent_ignores(directory: Path, root: Path, ignore: _Ignore) -> _Ignore:
    """The .gitignore files between the root and a directory given on the command line."""
    try:
        relative = directory.relative_to(root)
    except ValueError:
        return ignore
    if not relative.parts:
        return ignore  # the walk reads the root's own .gitignore
    current = root
    ignore = ignore.with_layer("", compile_patterns(_read_lines(root / ".gitignore")))
    for part in relative.parts[:-1]:
        current = current / part
        base = current.relative_to(root).as_posix() + "/"
        ignore = ignore.with_layer(base, compile_patterns(_read_lines(current / ".gitignore")))
    return ignore
