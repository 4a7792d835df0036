"""Find the manifests to lint: walk paths, honour .gitignore and excludes, skip what is not a manifest.

Helm chart templates, chart metadata and values, kustomizations and the
patches they list are skipped and reported as skipped, so rules can say how to
render them. Symbolic links never lead out of the root, and directory loops are
cut. The result is sorted, so the order of the file system never shows.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import field, replace
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, cast

from nplint import deployment_scope, glued_objects
from nplint.ignorefiles import IgnoreFile, git_info_exclude, is_ignored, read_text
from nplint.label_commands import is_label_source, label_source_allowed
from nplint.loading import decode, load_python, load_text
from nplint.loading.nodes import MapNode, is_null
from nplint.reading import MAX_FILE_BYTES, read_bounded, read_head
from nplint.records import record

if TYPE_CHECKING:
    # The model imports the configuration, which imports discovery.
    from nplint.model.namespace_labels import NamespaceLabelCommands

SKIP_HELM_TEMPLATE = "helm-template"
SKIP_KUSTOMIZATION = "kustomization"
SKIP_SYMLINK_OUTSIDE = "symlink-outside-root"
SKIP_SYMLINK_LOOP = "symlink-loop"
SKIP_KUSTOMIZE_PATCH = "kustomize-patch"
SKIP_TEST_FOLDER = "test-folder"

_MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
_KUSTOMIZATION_NAMES = frozenset(("kustomization.yaml", "kustomization.yml", "Kustomization"))
_CHART_FILE = "Chart.yaml"
_CHART_METADATA = frozenset((_CHART_FILE, "requirements.yaml", "requirements.yml"))
#: Bytes read to decide whether a file holds Go template syntax.
_SNIFF_BYTES = 64 * 1024
_KYVERNO_API = re.compile(rb"^apiVersion:[ \t]*[\"']?kyverno\.io/", re.MULTILINE)
#: What only a Go template (Helm's) writes in braces: trimming dashes, `.Values`, `$var`,
#: comments, and the actions and functions charts use.
_GO_TEMPLATE_ACTION = re.compile(
    rb"\{\{-|-\}\}|\{\{\s*(?:[.$]|/\*|(?:if|else|end|range|with|define|template|include|block"
    rb"|toYaml|tpl|printf|quote|default|required|fail|lookup)\b)"
)

_DETAIL_TEMPLATE_DIR = (
    "Helm chart template (in the chart's templates/ directory); render it with `helm template`"
)
_DETAIL_TEMPLATE_SYNTAX = "Helm chart template (contains '{{'); render it with `helm template`"
_DETAIL_CHART_METADATA = "Helm chart metadata, not a manifest"
_DETAIL_CHART_VALUES = "Helm chart values, not a manifest"
_DETAIL_KUSTOMIZATION = "Kustomize configuration, not a manifest; lint the output of `kustomize build`"
_DETAIL_OUTSIDE = "symbolic link to a location outside the root directory; not followed"
_DETAIL_LOOP = "symbolic link back to a directory that contains it; not followed"
_DETAIL_INTO_GIT = "symbolic link into .git; not followed"

#: The files by which a test runner marks a folder of its own: test steps, expected
#: states and inputs, not manifests to deploy. Named by the runner's conventions, never
#: by the repositories that use them.
_TEST_RUNNER_FILES = {
    "chainsaw-test.yaml": "Chainsaw",
    "chainsaw-test.yml": "Chainsaw",
    "chainsaw-test.json": "Chainsaw",
    "kyverno-test.yaml": "Kyverno CLI",
    "kyverno-test.yml": "Kyverno CLI",
}
#: kuttl's suite configuration, whose ``testDirs`` name the folders of test cases.
_KUTTL_SUITE = frozenset(("kuttl-test.yaml", "kuttl-test.yml"))
#: A kuttl (or kuttl-style Chainsaw) test step's assertion: ``00-assert.yaml``, ``01-errors.yaml``.
_STEP_ASSERTION = re.compile(r"\d+-(?:assert|errors)\.ya?ml\Z")
#: Sample projects named in the detail of a skipped test data folder.
_PROJECTS_SHOWN = 3
#: Top-level folders where a software project keeps its tests' inputs.
_PROJECT_TEST_FOLDERS = frozenset(("test", "tests", "e2e", "e2e-tests", "e2etests"))
#: Top-level folders where a software project keeps its development scripts and the local
#: clusters they set up (Kubernetes' Go convention: kind configurations, a CNI to install on
#: them, jobs to run there): each is a developer's cluster, not what the project deploys.
_PROJECT_DEVELOPMENT_FOLDERS = frozenset(("hack",))
#: Build files that make a repository a software project (not a deployment repository).
_PROJECT_FILES = frozenset(
    (
        "go.mod",
        "package.json",
        "pyproject.toml",
        "setup.py",
        "Cargo.toml",
        "pom.xml",
        "build.gradle",
        "build.gradle.kts",
        "Gemfile",
        "composer.json",
    )
)
_DETAIL_PROJECT_TESTS = (
    "a software project's tests (its {marker} is at the root): test inputs, not manifests; "
    "`lint-test-folders: true` lints it"
)
_DETAIL_PROJECT_DEVELOPMENT = (
    "a software project's development scripts and local clusters (its {marker} is beside it), "
    "not what it deploys; `lint-test-folders: true` lints it"
)
_DETAIL_TEST_FOLDER = (
    "{runner} test folder (holds {marker}), not manifests; `lint-test-folders: true` lints it"
)


@record(frozen=True, slots=True)
class DiscoveredFile:
    #: The path to read (absolute, symbolic links resolved), or "-" for stdin. A string: a
    #: walk finds thousands of files, and a Path object costs more than reading most of them.
    path: str
    #: The path shown to users: POSIX, relative to the root when inside it; "-" for stdin.
    display: str
    #: Named on the command line and not a regular file (a pipe, ``<(kustomize build)``):
    #: read as a stream. Everything a walk finds is a regular file, and read only as one.
    stream: bool = field(default=False, compare=False)
    #: For a file of a skipped test folder: the lines where a second object starts inside
    #: one document (:mod:`nplint.glued_objects`), the only thing linted in it. Empty for
    #: every other file, which is linted whole.
    glued: tuple[int, ...] = ()


@record(frozen=True, slots=True)
class SkippedFile:
    display: str
    #: One of the ``SKIP_*`` constants.
    reason: str
    #: A sentence for people: what the file is and what to do instead.
    detail: str


@record(frozen=True, slots=True)
class Discovery:
    #: Sorted by display (byte-wise), no file twice.
    files: tuple[DiscoveredFile, ...]
    #: Sorted by display.
    skipped: tuple[SkippedFile, ...]
    #: Paths given by the user that do not exist.
    missing: tuple[str, ...]
    #: Every kustomization file the walk saw, read and parsed once, by real path: render
    #: planning follows the same files and must not read them again.
    kustomizations: Mapping[str, ParsedKustomization] = field(default_factory=dict, compare=False)
    #: Shell scripts, Makefiles and Markdown files a walk saw (real path, display), sorted by
    #: display: where the repository may label namespaces by command (:mod:`nplint.label_commands`).
    label_sources: tuple[tuple[Path, str], ...] = field(default=(), compare=False)
    #: The namespace label commands of ``label_sources``, once the load stage read them.
    label_commands: NamespaceLabelCommands | None = field(default=None, compare=False)
    #: The bytes of small files of ``files`` the walk read whole (to tell chart templates
    #: from manifests), by display path. Read once: the load stage takes them out
    #: (:func:`nplint.lint.load_paths`) and reads the others itself.
    contents: dict[str, bytes] = field(default_factory=dict, compare=False, repr=False)
    #: Real paths of the directories the walk listed: directories, no symbolic links, as
    #: planning would otherwise ask the system again for each (:class:`nplint.kustomization.Tree`).
    directories: frozenset[str] = field(default=frozenset(), compare=False, repr=False)


def find_repository_root(start: Path) -> Path:
    """The nearest directory at or above ``start`` (resolved) that holds ``.git``, else ``start``."""
    start = start.resolve()
    for directory in (start, *start.parents):
        # os.path.exists rather than Path.exists: a permission error means "no", not a crash.
        if os.path.exists(os.path.join(directory, ".git")):
            return directory
    return start


def discover(
    paths: Sequence[str],
    *,
    root: Path,
    exclude: Sequence[str] = (),
    respect_gitignore: bool = True,
    skip_test_folders: bool = True,
    lint_undeployed: bool = False,
    noticed: Callable[[str], None] | None = None,
) -> Discovery:
    """The files to lint among ``paths``, the ones skipped and why, and the ones that do not exist.

    Directories are walked for ``.yaml``, ``.yml`` and ``.json`` files; files
    named explicitly are taken whatever their name, and even when gitignored,
    but ``exclude`` (gitignore patterns relative to ``root``) applies to both.
    With ``skip_test_folders``, the folders of test runners (:func:`test_runner`)
    are skipped, each reported once as a skipped folder (its display ends in "/").
    Go test data folders below the paths given are skipped unless ``lint_undeployed``
    (:mod:`nplint.deployment_scope`).

    ``noticed`` is told ``"kustomize"`` when the walk first meets a kustomization file, and
    ``"helm"`` when it first meets a chart: what may be rendered, known before the walk ends.
    """
    discoverer = _Discoverer(root, exclude, respect_gitignore, skip_test_folders, lint_undeployed)
    discoverer.noticed = noticed
    for given in paths:
        discoverer.add(given)
    return discoverer.finish()


# -- Helm and Kustomize ---------------------------------------------------------------


def _is_manifest_name(name: str) -> bool:
    return name.lower().endswith(_MANIFEST_SUFFIXES)


def _is_values_name(name: str) -> bool:
    return (name.startswith("values") and name.endswith((".yaml", ".yml"))) or name == "values.schema.json"


def _location_skip(name: str, in_chart: bool, in_templates: bool) -> tuple[str, str] | None:
    """A reason to skip a file that its name and place alone give, without reading it."""
    if name in _KUSTOMIZATION_NAMES:
        return SKIP_KUSTOMIZATION, _DETAIL_KUSTOMIZATION
    if in_chart and name in _CHART_METADATA:
        return SKIP_HELM_TEMPLATE, _DETAIL_CHART_METADATA
    if in_chart and _is_values_name(name):
        return SKIP_HELM_TEMPLATE, _DETAIL_CHART_VALUES
    if in_templates:
        return SKIP_HELM_TEMPLATE, _DETAIL_TEMPLATE_DIR
    return None


def _in_chart_templates(directory: str) -> bool:
    """Whether ``directory`` is, or is inside, a chart's ``templates/`` (templates nest)."""
    while True:
        parent = os.path.dirname(directory)
        if os.path.basename(directory) == "templates" and os.path.isfile(os.path.join(parent, _CHART_FILE)):
            return True
        if parent == directory:
            return False
        directory = parent


def test_runner(names: Iterable[str]) -> tuple[str, str] | None:
    """(runner, the file that says so) when a folder holding ``names`` belongs to a test runner.

    Decided by what the folder holds, the runner's own files: a Chainsaw or Kyverno
    CLI test file, or a kuttl test step's assertion (``00-assert.yaml``).
    """
    found: tuple[str, str] | None = None
    for name in names:
        runner = _TEST_RUNNER_FILES.get(name)
        if runner is None and _STEP_ASSERTION.match(name):
            runner = "kuttl"
        if runner is not None and (found is None or name < found[1]):
            found = (runner, name)
    return found


def folder_test_runner(directory: str, names: Iterable[str] | None = None) -> tuple[str, str] | None:
    """The test runner of the folder ``directory`` holding ``names`` (read when not given), or None.

    A hidden folder (`.chainsaw-test/`) whose subfolders are tests is a test folder as
    a whole: the tests share inputs kept beside them (`resources/`). A visible one is
    not: it holds what the tests test.
    """
    names = sorted(_listing(directory) if names is None else names)
    found = test_runner(names)
    if found is None and os.path.basename(directory).startswith("."):
        for name in names:
            child = os.path.join(directory, name)
            below = test_runner(_listing(child)) if os.path.isdir(child) else None
            if below is not None:
                return (below[0], f"{name}/{below[1]}")
    return found


def kuttl_test_dirs(path: str) -> list[str]:
    """The ``testDirs`` a kuttl suite file names (relative to its folder)."""
    document = load_kustomization(path)
    if not isinstance(document, dict):
        return []
    dirs = document.get("testDirs")
    if not isinstance(dirs, list):
        return []
    return [entry.strip() for entry in dirs if isinstance(entry, str) and _looks_like_path(entry)]


def _listing(directory: str) -> list[str]:
    try:
        return os.listdir(directory)
    except OSError:
        return []  # unreadable: no test runner's file to see


def _has_template_syntax(path: str, whole: dict[str, bytes] | None = None) -> bool:
    """Whether the file at ``path`` is a chart's template, by its first bytes.

    ``whole``: where to keep the file's bytes (by ``path``) when that look read all of
    them, so that loading does not read the file again (:attr:`Discovery.contents`).
    """
    try:
        # Without blocking (a FIFO put in the file's place since the walk must not hang
        # us), and refused unless a regular file, as the loader reads.
        data = read_head(path, _SNIFF_BYTES + 1)
    except OSError:
        return False  # unreadable, or no regular file: let the loader report it
    if whole is not None and len(data) <= _SNIFF_BYTES:
        # Read to its end: what the loader would read (far below reading.MAX_FILE_BYTES).
        whole[path] = data
    head = data[:_SNIFF_BYTES]
    if b"{{" not in head:
        return False
    # Kyverno policies write their own variables in braces (`{{request.object.metadata.name}}`),
    # which Kyverno, not helm, fills in: such a file is a manifest, unless Go template actions
    # say a chart's template makes it.
    return _KYVERNO_API.search(head) is None or _GO_TEMPLATE_ACTION.search(head) is not None


def _glued_lines(path: str) -> tuple[int, ...]:
    """:func:`nplint.glued_objects.boundaries` of the file at ``path``; () when it cannot be read as text."""
    try:
        data = read_bounded(path, MAX_FILE_BYTES)
    except OSError:
        return ()  # a test input nplint does not lint: no reason to say it is unreadable
    if _top_count(data, b"apiVersion") < 2 and _top_count(data, b"kind") < 2:
        return ()  # neither key written twice at a line's start: decided without decoding
    if b"{{" in data and _GO_TEMPLATE_ACTION.search(data):
        return ()  # a template writes `apiVersion:` once per branch of an `if`
    text, _ = decode(data)
    return glued_objects.boundaries(text) if text is not None else ()


def _top_count(data: bytes, key: bytes) -> int:
    """No fewer than the lines of ``data`` that start with ``key``, bare or quoted; 2 when not UTF-8."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")):
        return 2  # UTF-16 or UTF-32 (their byte order marks): left to the decoded text
    count = sum(data.count(b"\n" + quote + key) for quote in (b"", b'"', b"'"))
    return count + (1 if data.removeprefix(b"\xef\xbb\xbf").lstrip(b"\"'").startswith(key) else 0)


def _looks_like_path(entry: str) -> bool:
    # patchesStrategicMerge also takes inline patches: YAML text, not a path.
    entry = entry.strip()
    return bool(entry) and "\n" not in entry and not entry.startswith("{")


def kustomization_patch_paths(document: object) -> list[str]:
    """The patch files a parsed kustomization names (relative to its directory)."""
    if not isinstance(document, dict):
        return []
    found: list[str] = []
    for key in ("patches", "patchesJson6902"):
        entries = document.get(key)
        if isinstance(entries, list):
            found += [e["path"] for e in entries if isinstance(e, dict) and isinstance(e.get("path"), str)]
    merges = document.get("patchesStrategicMerge")
    if isinstance(merges, list):
        found += [e for e in merges if isinstance(e, str) and _looks_like_path(e)]
    return [path.strip() for path in found]


@record(frozen=True, slots=True)
class ParsedKustomization:
    """A kustomization file read and parsed once, with what each of its readers takes from it."""

    #: Bytes read: a reader with a smaller bound than discovery's treats a larger file as unreadable.
    size: int
    #: Whether the bytes decoded as text (an undecodable file is no kustomization).
    decoded: bool
    #: The first well-formed document as Python data (discovery reads patches from it), or None.
    first: object = None
    #: The first well-formed document that is a mapping (what kustomize follows), or None.
    mapping: dict[str, object] | None = None
    #: False when ``mapping`` could not be worked out: a reader that needs it reads the file itself.
    complete: bool = True
    #: Whether every document loaded and is a mapping or empty (nplint.entry_points judges only those).
    clean: bool = False


def parse_kustomization(path: str) -> ParsedKustomization | None:
    """Read and parse the kustomization file at ``path``; None when it cannot be read or loaded."""
    try:
        data = read_bounded(path)
        text, _ = decode(data)
        if text is None:
            return ParsedKustomization(len(data), False)
        # A fleet has thousands of kustomization files, and discovery needs their data
        # alone: an ordinary one is read without building the nodes of its positions.
        roots = load_python(text)
        if roots is not None:
            return ParsedKustomization(
                len(data),
                True,
                roots[0] if roots else None,
                next((root for root in roots if isinstance(root, dict)), None),
                clean=all(root is None or isinstance(root, dict) for root in roots),
            )
        loaded = load_text(path, text)
        clean = not loaded.problems and all(
            not d.failed and (d.root is None or isinstance(d.root, MapNode) or is_null(d.root))
            for d in loaded.documents
        )
        documents = [d for d in loaded.documents if d.root is not None and not d.failed]
        first = documents[0].root.to_python() if documents and documents[0].root is not None else None
    except Exception:  # a broken kustomization names no patches; discovery never fails on it
        return None
    try:
        for document in documents:
            if isinstance(document.root, MapNode):
                value = first if document is documents[0] else document.root.to_python()
                if isinstance(value, dict):
                    return ParsedKustomization(len(data), True, first, value, clean=clean)
    except Exception:  # left to the planner, which reads the file again and meets the same error
        return ParsedKustomization(len(data), True, first, None, complete=False)
    return ParsedKustomization(len(data), True, first, None, clean=clean)


#: Kustomization files from which reading them is shared with a second process: each
#: takes about 25 us, so a fleet's thousands are worth a fork, a few dozen are not.
SPLIT_KUSTOMIZATIONS = 500


def parse_kustomizations(paths: Sequence[str]) -> list[ParsedKustomization | None]:
    """:func:`parse_kustomization` of each path; a fleet's thousands shared with a second process."""
    from nplint import parallel

    if len(paths) < SPLIT_KUSTOMIZATIONS or not parallel.second_process_allowed():
        return [parse_kustomization(path) for path in paths]
    return parallel.split_work(
        len(paths),
        lambda index: parse_kustomization(paths[index]),
        lambda index: _plain(parse_kustomization(paths[index])),
        _from_plain,
        range(len(paths)),
        max(parallel.MIN_DEADLINE_SECONDS, parallel.SECONDS_PER_FILE * len(paths)),
    )


def _plain(parsed: ParsedKustomization | None) -> tuple[object, ...]:
    """A parsed kustomization as the values :mod:`marshal` writes (its data is plain already)."""
    if parsed is None:
        return ()
    return (parsed.size, parsed.decoded, parsed.first, parsed.mapping, parsed.complete, parsed.clean)


def _from_plain(values: tuple[object, ...]) -> ParsedKustomization | None:
    if not values:
        return None
    size, decoded, first, mapping, complete, clean = values
    # What _plain wrote in the child, this process's own fork.
    return ParsedKustomization(
        cast(int, size),
        bool(decoded),
        first,
        cast("dict[str, object] | None", mapping),
        bool(complete),
        bool(clean),
    )


def load_kustomization(path: str) -> object:
    parsed = parse_kustomization(path)
    return parsed.first if parsed is not None else None


# -- paths -------------------------------------------------------------------------------


def _below(directory: str, name: str) -> str:
    """``os.path.join(directory, name)`` for a name a directory listing gave (no separator in it).

    The walk makes one for every entry of the repository.
    """
    if not directory or directory.endswith(os.sep):
        return directory + name
    return directory + os.sep + name


def _within(path: str, directory: str) -> bool:
    return path == directory or path.startswith(directory.rstrip(os.sep) + os.sep)


def _into_git(real: str, boundary: str) -> bool:
    """Whether a link's real path lies in a ``.git`` below ``boundary``.

    ``.git`` is never walked: it holds the checkout's credentials (a CI job's token in
    ``.git/config``), so a committed link (``leak.yaml -> .git/config``, ``g -> .git``)
    must not reach it either.
    """
    relative = _relative(real, boundary)
    return relative is not None and ".git" in relative.split("/")


def _relative(path: str, directory: str) -> str | None:
    """``path`` relative to ``directory`` in POSIX form ("" for itself), None when outside it."""
    if path == directory:
        return ""
    prefix = directory.rstrip(os.sep) + os.sep
    if not path.startswith(prefix):
        return None
    return path[len(prefix) :].replace(os.sep, "/")


def _display_key(display: str) -> bytes:
    # Byte-wise order of the UTF-8 form; surrogateescape keeps undecodable names sortable.
    return display.encode("utf-8", "surrogateescape")


def _real_ancestors(real: str, boundary: str) -> frozenset[str]:
    """``real`` and its parents up to ``boundary``: a link back to any of them is a loop."""
    found = {real}
    while _within(real, boundary) and real != boundary:
        real = os.path.dirname(real)
        found.add(real)
    return frozenset(found)


# -- the walk ------------------------------------------------------------------------------


@record(frozen=True, slots=True)
class _Walk:
    """What holds for a whole walk of one directory given on the command line."""

    #: Real path no symbolic link may lead out of.
    boundary: str
    #: Put before a relative path to display it: "" inside the root, else the path as given.
    prefix: str
    #: Config exclusions, which are relative to the root, so only for walks inside it.
    exclude: IgnoreFile | None


@record(frozen=True, slots=True)
class _Dir:
    path: str
    #: Relative to the walk's base, "" or ending in "/".
    relative: str
    real: str
    ignore: tuple[IgnoreFile, ...]
    in_templates: bool
    #: Real paths of this directory and the ones above it being walked.
    ancestors: frozenset[str]
    #: Reached through a symbolic link to a directory: an alias of a real path.
    via_link: bool = False
    #: In a skipped test folder: walked only for two objects run together
    #: (:mod:`nplint.glued_objects`), reported as skipped once at the folder.
    test_only: bool = False


@record(frozen=True, slots=True)
class _Route:
    """One way a file was reached; several routes to one real file become one result."""

    real: str
    display: str
    skip: tuple[str, str] | None
    #: A regular file, safe to peek into; a pipe named on the command line is not.
    regular: bool = True
    #: Reached through a symbolic link: of several routes to one file, a route without one names it.
    via_link: bool = False
    #: Found in a skipped test folder (:attr:`_Dir.test_only`): of several routes, any other names it.
    test_only: bool = False


@record(slots=True)
class _Discoverer:
    root: Path
    exclude_patterns: Sequence[str]
    respect_gitignore: bool
    skip_test_folders: bool = True
    lint_undeployed: bool = False
    root_abs: str = ""
    root_real: str = ""
    exclude: IgnoreFile | None = None
    info_exclude: tuple[IgnoreFile, ...] = ()
    routes: list[_Route] = field(default_factory=list)
    skipped: dict[str, SkippedFile] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    #: Real path of each kustomization seen → its display.
    kustomizations: dict[str, str] = field(default_factory=dict)
    #: Real path of each kustomization seen → whether its display goes through a link.
    kustomization_links: dict[str, bool] = field(default_factory=dict)
    kustomization_dirs: set[str] = field(default_factory=set)
    #: Real paths of the directories the walk listed.
    listed: set[str] = field(default_factory=set)
    ignore_cache: dict[tuple[str, str], IgnoreFile | None] = field(default_factory=dict)
    #: Per directory, for files named one by one (pre-commit passes thousands): its real path,
    #: whether it holds a chart, whether it is in a chart's templates/. Found once each.
    real_dirs: dict[str, str] = field(default_factory=dict)
    chart_dirs: dict[str, bool] = field(default_factory=dict)
    template_dirs: dict[str, bool] = field(default_factory=dict)
    #: Real paths of the folders kuttl suites name in ``testDirs``, and the suite's display.
    kuttl_dirs: dict[str, str] = field(default_factory=dict)
    #: Real path of a directory → its test runner, for files named one by one (pre-commit).
    runner_cache: dict[str, tuple[str, str] | None] = field(default_factory=dict)
    #: The build file that makes the root a software project ("" for none), once looked for.
    project_marker: str | None = None
    #: Files that may carry namespace label commands, by real path: their display.
    label_sources: dict[str, str] = field(default_factory=dict)
    #: Real paths of the kubebuilder projects found in test data folders: roots of their own.
    project_roots: set[str] = field(default_factory=set)
    #: Their build files (else their PROJECT file), as :attr:`project_marker`.
    project_markers: dict[str, str] = field(default_factory=dict)
    #: Told of each renderer's kind of input the first time the walk meets one (see :func:`discover`).
    noticed: Callable[[str], None] | None = None
    told: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.root_abs = os.path.abspath(self.root)
        self.root_real = os.path.realpath(self.root)
        if self.exclude_patterns:
            self.exclude = IgnoreFile.parse(self.exclude_patterns, "")
        exclude_path = git_info_exclude(self.root_real) if self.respect_gitignore else None
        if exclude_path is not None:
            self.info_exclude = self._ignore_stack(exclude_path, "", ())

    # -- command-line paths

    def add(self, given: str) -> None:
        if given == "-":
            self.routes.append(_Route("-", "-", None, regular=False))
            return
        absolute = os.path.abspath(given)
        try:
            status = os.stat(absolute)
        except OSError as error:
            self._unreachable(given, absolute, error)
            return
        is_dir = stat.S_ISDIR(status.st_mode)
        real = self._realpath(absolute)
        lexical = self._relative_to_root(absolute)
        if lexical is not None and _into_git(real, self.root_real):
            # A file of the repository (as pre-commit passes them) that is a link into .git.
            self._skip(lexical, SKIP_SYMLINK_OUTSIDE, _DETAIL_INTO_GIT)
            return
        if _within(real, self.root_real):
            relative = lexical if lexical is not None else _relative(real, self.root_real)
        elif lexical is not None:
            # Named inside the root, but a link somewhere on the way leads out.
            self._skip(lexical, SKIP_SYMLINK_OUTSIDE, _DETAIL_OUTSIDE)
            return
        else:
            relative = None
        if relative is not None and self._excluded(relative, is_dir):
            return
        # Named through a link inside the root: an alias, which the real path outranks.
        via_link = lexical is not None and lexical != _relative(real, self.root_real)
        if is_dir:
            self._add_directory(given, absolute, real, relative, via_link)
        elif stat.S_ISREG(status.st_mode):
            display = relative if relative is not None else PurePath(given).as_posix()
            self._add_file(real, display, via_link)
        else:
            # A pipe or a device, as `<(kustomize build)` gives: read it where named, never peek.
            display = relative if relative is not None else PurePath(given).as_posix()
            self.routes.append(_Route(absolute, display, None, regular=False))

    def _unreachable(self, given: str, absolute: str, error: OSError) -> None:
        display = self._relative_to_root(absolute) or PurePath(given).as_posix()
        if error.errno == errno.ELOOP:
            self._skip(display, SKIP_SYMLINK_LOOP, _DETAIL_LOOP)
        elif isinstance(error, (FileNotFoundError, NotADirectoryError)):
            if given not in self.missing:
                self.missing.append(given)
        else:
            # It exists but cannot be examined (permissions): the loader reports why.
            self.routes.append(_Route(absolute, display, None, regular=False))

    def _relative_to_root(self, absolute: str) -> str | None:
        found = _relative(absolute, self.root_abs)
        return found if found is not None else _relative(absolute, self.root_real)

    def _excluded(self, relative: str, is_dir: bool) -> bool:
        """Excluded by the config, itself or through a directory above it (git cannot re-include those)."""
        if self.exclude is None or not relative:
            return False
        parts = relative.split("/")
        for count in range(1, len(parts)):
            if self.exclude.decide("/".join(parts[:count]), True):
                return True
        return self.exclude.decide(relative, is_dir) is True

    def _realpath(self, absolute: str) -> str:
        """``os.path.realpath`` of a normalised absolute path, its directory resolved once per run."""
        directory, _, name = absolute.rpartition(os.sep)
        if not name or name in (".", ".."):
            return os.path.realpath(absolute)
        directory = directory or os.sep
        real_directory = self.real_dirs.get(directory)
        if real_directory is None:
            real_directory = self.real_dirs[directory] = os.path.realpath(directory)
        candidate = os.path.join(real_directory, name)
        try:
            link = stat.S_ISLNK(os.lstat(candidate).st_mode)
        except OSError:
            link = False
        # Below a real directory, a name that is no link is its own real path.
        return os.path.realpath(candidate) if link else candidate

    def _holds_chart(self, directory: str) -> bool:
        found = self.chart_dirs.get(directory)
        if found is None:
            found = self.chart_dirs[directory] = os.path.isfile(os.path.join(directory, _CHART_FILE))
        return found

    def _in_templates(self, directory: str) -> bool:
        """:func:`_in_chart_templates`, each directory on the way up asked once per run."""
        chain: list[str] = []
        while True:  # iterative: a deep path must not exhaust the stack
            found = self.template_dirs.get(directory)
            if found is not None:
                break
            chain.append(directory)
            parent = os.path.dirname(directory)
            if os.path.basename(directory) == "templates" and self._holds_chart(parent):
                found = True
                break
            if parent == directory:
                found = False
                break
            directory = parent
        # What decided it decides for every directory below it on the way.
        for below in chain:
            self.template_dirs[below] = found
        return found

    def _add_file(self, real: str, display: str, via_link: bool = False) -> None:
        directory = os.path.dirname(real)
        name = os.path.basename(real)
        if self.skip_test_folders:
            # Named on its own (as pre-commit passes files), a file of a test folder is
            # skipped as a walk would skip it.
            test_folder = self._in_test_folder(directory)
            if test_folder is not None:
                runner, marker = test_folder[1]
                detail = _DETAIL_TEST_FOLDER.format(runner=runner, marker=marker)
                self._skip(display, SKIP_TEST_FOLDER, detail)
                name = os.path.basename(real)
                if name.lower().endswith((".yaml", ".yml")) and name not in _KUSTOMIZATION_NAMES:
                    in_chart = self._holds_chart(directory)
                    if _location_skip(name, in_chart, self._in_templates(directory)) is None:
                        self.routes.append(_Route(real, display, None, via_link=via_link, test_only=True))
                return
        in_chart = self._holds_chart(directory)
        if in_chart:
            self._notice("helm")
        skip = _location_skip(name, in_chart, self._in_templates(directory))
        self.routes.append(_Route(real, display, skip, via_link=via_link))
        if name in _KUSTOMIZATION_NAMES:
            self._note_kustomization(real, display, via_link)
        self._note_kustomizations_above(directory)

    def _add_directory(
        self, given: str, absolute: str, real: str, relative: str | None, via_link: bool = False
    ) -> None:
        ignore: tuple[IgnoreFile, ...] = ()
        if relative is None:
            # Outside the root: the directory itself is the base and the boundary.
            prefix = PurePath(given).as_posix()
            walk = _Walk(real, prefix if prefix.endswith("/") else prefix + "/", None)
            start_relative = ""
        else:
            walk = _Walk(self.root_real, "", self.exclude)
            start_relative = relative + "/" if relative else ""
            ignore = self._ignores_above(relative)
        if real != walk.boundary:
            self._note_kustomizations_above(os.path.dirname(real))
        start = _Dir(
            absolute,
            start_relative,
            real,
            ignore,
            _in_chart_templates(real),
            _real_ancestors(real, walk.boundary),
            via_link,
        )
        self._walk(walk, start)

    def _ignores_above(self, relative: str) -> tuple[IgnoreFile, ...]:
        """The ignore files of the root and of each directory between it and ``relative``."""
        stack = self.info_exclude
        if not self.respect_gitignore or not relative:
            return stack
        parts = relative.split("/")
        for count in range(len(parts)):
            base = "".join(part + "/" for part in parts[:count])
            path = os.path.join(self.root_real, *parts[:count], ".gitignore")
            stack = self._ignore_stack(path, base, stack)
        return stack

    def _ignore_stack(self, path: str, base: str, stack: tuple[IgnoreFile, ...]) -> tuple[IgnoreFile, ...]:
        """``stack`` with the ignore file at ``path`` on top, compiled once per file and base."""
        key = (os.path.realpath(path), base)
        if key not in self.ignore_cache:
            text = read_text(path)
            parsed = IgnoreFile.parse(text.split("\n"), base) if text is not None else None
            self.ignore_cache[key] = parsed if parsed is not None and parsed.runs else None
        found = self.ignore_cache[key]
        return stack if found is None else (found, *stack)

    # -- walking

    def _walk(self, walk: _Walk, start: _Dir) -> None:
        # Iterative, so that deep trees cannot exhaust Python's recursion limit.
        pending = [start]
        while pending:
            self._scan(walk, pending.pop(), pending)

    def _scan(self, walk: _Walk, directory: _Dir, pending: list[_Dir]) -> None:
        try:
            with os.scandir(directory.path) as iterator:
                entries = sorted(iterator, key=lambda entry: entry.name)
        except OSError:
            return  # unreadable: skipped, like git does
        self.listed.add(directory.real)
        names = {entry.name for entry in entries}
        if self.skip_test_folders and not directory.test_only and self._test_folder(walk, directory, names):
            # Skipped as a folder, but still read for the one slip no test makes on purpose.
            directory = replace(directory, test_only=True)
        ignore = directory.ignore
        if self.respect_gitignore and ".gitignore" in names:
            gitignore = os.path.join(directory.path, ".gitignore")
            ignore = self._ignore_stack(gitignore, directory.relative, ignore)
        in_chart = _CHART_FILE in names
        if in_chart:
            self._notice("helm")
        for entry in entries:
            try:
                is_dir = entry.is_dir()
                is_file = not is_dir and entry.is_file()
            except OSError:
                continue  # e.g. a link to itself
            if is_dir and entry.name != ".git":
                self._visit_directory(walk, directory, entry, ignore, in_chart, pending)
            elif is_file:
                self._visit_file(walk, directory, entry, ignore, in_chart)
            # Anything else (a broken link, a socket) is not a manifest.

    def _project_marker(self, directory: str) -> str | None:
        """The build file that makes the repository root a software project, if ``directory`` is the root.

        A software project's top-level `test/` or `tests/` holds its test inputs (broken
        on purpose, one case per file), not what it deploys; below the root such a name is
        as likely an environment (`overlays/test/`), which is left alone.
        """
        if directory in self.project_roots:
            # A sample project in test data is a software project of its own (its PROJECT file
            # says so, whatever its language): its tests are tests.
            if directory not in self.project_markers:
                found = sorted(set(_listing(directory)) & _PROJECT_FILES)
                self.project_markers[directory] = found[0] if found else deployment_scope.PROJECT_FILE
            return self.project_markers[directory]
        if directory != self.root_real:
            return None
        if self.project_marker is None:
            names = set(_listing(directory))
            found = sorted(names & _PROJECT_FILES)
            self.project_marker = found[0] if found else ""
        return self.project_marker or None

    def _module_marker(self, directory: str) -> str | None:
        """The build file of a project nested in the repository (a Go module in `cmd/tool/`).

        Only for `hack/`: unlike `test/`, no environment is named so, so a `hack/` beside a
        build file is that project's development folder at whatever depth.
        """
        found = sorted(set(_listing(directory)) & _PROJECT_FILES)
        return found[0] if found else None

    def _test_folder(self, walk: _Walk, directory: _Dir, names: set[str]) -> bool:
        """Whether ``directory`` is a test runner's folder; if so it is reported as skipped."""
        for suite in sorted(_KUTTL_SUITE & names):
            for test_dir in kuttl_test_dirs(os.path.join(directory.path, suite)):
                real = os.path.realpath(os.path.join(directory.real, test_dir))
                self.kuttl_dirs.setdefault(real, walk.prefix + directory.relative + suite)
        found = self._runner(directory.real, names)
        if found is None and directory.real in self.kuttl_dirs:
            found = ("kuttl", f"a test case folder of {self.kuttl_dirs[directory.real]}")
        if found is None:
            return False
        display = walk.prefix + directory.relative or "./"
        self._skip(display, SKIP_TEST_FOLDER, _DETAIL_TEST_FOLDER.format(runner=found[0], marker=found[1]))
        return True

    def _runner(self, directory: str, names: Iterable[str]) -> tuple[str, str] | None:
        """:func:`folder_test_runner` of ``directory`` (a real path), asked once per run."""
        if directory in self.runner_cache:
            return self.runner_cache[directory]
        found = self.runner_cache[directory] = folder_test_runner(directory, names)
        return found

    def _in_test_folder(self, directory: str) -> tuple[str, tuple[str, str]] | None:
        """The test folder at or above ``directory`` (a real path) up to the root, and its runner."""
        boundary = self.root_real if _within(directory, self.root_real) else directory
        while True:
            found = self._runner(directory, _listing(directory))
            if found is not None:
                return directory, found
            if directory == boundary or not _within(directory, boundary):
                return None
            directory = os.path.dirname(directory)

    def _ignored(self, walk: _Walk, ignore: tuple[IgnoreFile, ...], relative: str, is_dir: bool) -> bool:
        if is_ignored(ignore, relative, is_dir):
            return True
        return walk.exclude is not None and walk.exclude.decide(relative, is_dir) is True

    def _visit_directory(
        self,
        walk: _Walk,
        parent: _Dir,
        entry: os.DirEntry[str],
        ignore: tuple[IgnoreFile, ...],
        in_chart: bool,
        pending: list[_Dir],
    ) -> None:
        relative = parent.relative + entry.name
        if self._ignored(walk, ignore, relative, True):
            return
        # Inside a skipped test folder nothing more is reported as skipped: the folder is.
        quiet = parent.test_only
        if not self.lint_undeployed and deployment_scope.is_testdata(entry.name):
            # Go test data are a unit test's inputs, parser inputs among them: a duplicate
            # `apiVersion` there may be the very input under test, so none of it is read for
            # glued objects; only the kubebuilder projects in it are walked, as deployed.
            if not quiet:
                self._testdata(walk, parent, entry, relative, ignore, pending)
            return
        if (
            not self.lint_undeployed
            and not quiet
            and entry.name == "templates"
            and deployment_scope.is_ansible_templates(parent.real)
        ):
            detail = deployment_scope.DETAIL_ANSIBLE_TEMPLATES
            self._skip(walk.prefix + relative + "/", deployment_scope.SKIP_NOT_DEPLOYED, detail)
            return
        test_only = quiet
        if (
            self.skip_test_folders
            and not quiet
            and (entry.name in _PROJECT_TEST_FOLDERS or entry.name in _PROJECT_DEVELOPMENT_FOLDERS)
        ):
            development = entry.name in _PROJECT_DEVELOPMENT_FOLDERS
            marker = self._project_marker(parent.real) or (
                self._module_marker(parent.real) if development else None
            )
            if marker is not None:
                form = _DETAIL_PROJECT_DEVELOPMENT if development else _DETAIL_PROJECT_TESTS
                detail = form.format(marker=marker)
                self._skip(walk.prefix + relative + "/", SKIP_TEST_FOLDER, detail)
                test_only = True
        link = entry.is_symlink()
        if link:
            real = os.path.realpath(entry.path)
            if not _within(real, walk.boundary):
                if not quiet:
                    self._skip(walk.prefix + relative, SKIP_SYMLINK_OUTSIDE, _DETAIL_OUTSIDE)
                return
            if _into_git(real, walk.boundary):
                if not quiet:
                    self._skip(walk.prefix + relative, SKIP_SYMLINK_OUTSIDE, _DETAIL_INTO_GIT)
                return
            if real in parent.ancestors:
                if not quiet:
                    self._skip(walk.prefix + relative, SKIP_SYMLINK_LOOP, _DETAIL_LOOP)
                return
        else:
            real = _below(parent.real, entry.name)
        in_templates = parent.in_templates or (in_chart and entry.name == "templates")
        ancestors = parent.ancestors | {real}
        child = _Dir(
            entry.path,
            relative + "/",
            real,
            ignore,
            in_templates,
            ancestors,
            parent.via_link or link,
            test_only,
        )
        pending.append(child)

    def _visit_file(
        self,
        walk: _Walk,
        parent: _Dir,
        entry: os.DirEntry[str],
        ignore: tuple[IgnoreFile, ...],
        in_chart: bool,
    ) -> None:
        name = entry.name
        if parent.test_only:
            self._visit_test_file(walk, parent, entry, ignore, in_chart)
            return
        is_manifest = _is_manifest_name(name)
        # Name checks first: they are cheaper than the ignore patterns.
        if not is_manifest and name not in _KUSTOMIZATION_NAMES:
            if is_label_source(name):
                self._note_label_source(walk, parent, entry, ignore)
            return
        relative = parent.relative + name
        if self._ignored(walk, ignore, relative, False):
            return
        display = walk.prefix + relative
        link = entry.is_symlink()
        if link:
            real = os.path.realpath(entry.path)
            if not _within(real, walk.boundary):
                self._skip(display, SKIP_SYMLINK_OUTSIDE, _DETAIL_OUTSIDE)
                return
            if _into_git(real, walk.boundary):
                self._skip(display, SKIP_SYMLINK_OUTSIDE, _DETAIL_INTO_GIT)
                return
        else:
            real = _below(parent.real, name)
        via_link = parent.via_link or link
        if name in _KUSTOMIZATION_NAMES:
            self._note_kustomization(real, display, via_link)
        if is_manifest:
            skip = _location_skip(name, in_chart, parent.in_templates)
            self.routes.append(_Route(real, display, skip, via_link=via_link))

    def _note_label_source(
        self, walk: _Walk, parent: _Dir, entry: os.DirEntry[str], ignore: tuple[IgnoreFile, ...]
    ) -> None:
        """Keep a script, Makefile or Markdown file of the walk, to read for label commands."""
        relative = parent.relative + entry.name
        if not label_source_allowed(relative) or self._ignored(walk, ignore, relative, False):
            return
        real = os.path.realpath(entry.path) if entry.is_symlink() else os.path.join(parent.real, entry.name)
        if not _within(real, walk.boundary) or _into_git(real, walk.boundary):
            return
        display = walk.prefix + relative
        known = self.label_sources.get(real)
        if known is None or _display_key(display) < _display_key(known):
            self.label_sources[real] = display

    def _testdata(
        self,
        walk: _Walk,
        parent: _Dir,
        entry: os.DirEntry[str],
        relative: str,
        ignore: tuple[IgnoreFile, ...],
        pending: list[_Dir],
    ) -> None:
        """Skip a Go test data folder, but walk the kubebuilder projects in it as deployed.

        operator-sdk and kubebuilder keep whole generated projects there as the expected
        output of their scaffolds; ``make deploy`` deploys each like any project.
        """
        # An alias (a link) is not looked into: its projects are walked where they are.
        found = [] if entry.is_symlink() else deployment_scope.sample_projects(entry.path)
        projects: list[str] = []
        for project in found:
            child = self._project_dir(walk, parent, relative, project, ignore)
            if child is not None:
                projects.append(project)
                self.project_roots.add(child.real)
                pending.append(child)
        detail = deployment_scope.DETAIL_TESTDATA
        if projects:
            shown = ", ".join(f"{p}/" for p in projects[:_PROJECTS_SHOWN])
            if len(projects) > _PROJECTS_SHOWN:
                shown += f" and {len(projects) - _PROJECTS_SHOWN} more"
            detail = deployment_scope.DETAIL_TESTDATA_WITH_PROJECTS.format(projects=shown)
        self._skip(walk.prefix + relative + "/", deployment_scope.SKIP_NOT_DEPLOYED, detail)

    def _project_dir(
        self, walk: _Walk, parent: _Dir, relative: str, project: str, ignore: tuple[IgnoreFile, ...]
    ) -> _Dir | None:
        """The walk's directory for ``project`` below the test data folder ``relative``; None when ignored.

        The ignore files on the way down apply as a walk would have met them.
        """
        name = relative.rpartition("/")[2]
        real, path = os.path.join(parent.real, name), os.path.join(parent.path, name)
        ancestors = parent.ancestors | {real}
        at = relative
        for part in project.split("/"):
            if self.respect_gitignore:
                ignore = self._ignore_stack(os.path.join(path, ".gitignore"), at + "/", ignore)
            at, real, path = f"{at}/{part}", os.path.join(real, part), os.path.join(path, part)
            if self._ignored(walk, ignore, at, True):
                return None
            ancestors |= {real}
        return _Dir(path, at + "/", real, ignore, parent.in_templates, ancestors, parent.via_link)

    def _visit_test_file(
        self,
        walk: _Walk,
        parent: _Dir,
        entry: os.DirEntry[str],
        ignore: tuple[IgnoreFile, ...],
        in_chart: bool,
    ) -> None:
        """A file of a skipped test folder: a YAML file to read for two objects run together.

        Kustomizations, charts and JSON are left alone (a chart's templates legitimately
        write `apiVersion:` once per branch of an `if`); nothing here is reported skipped.
        """
        name = entry.name
        if not name.lower().endswith((".yaml", ".yml")) or name in _KUSTOMIZATION_NAMES:
            return
        if _location_skip(name, in_chart, parent.in_templates) is not None:
            return
        relative = parent.relative + name
        if self._ignored(walk, ignore, relative, False):
            return
        link = entry.is_symlink()
        if link:
            real = os.path.realpath(entry.path)
            if not _within(real, walk.boundary) or _into_git(real, walk.boundary):
                return
        else:
            real = os.path.join(parent.real, name)
        self.routes.append(
            _Route(real, walk.prefix + relative, None, via_link=parent.via_link or link, test_only=True)
        )

    # -- kustomizations

    def _notice(self, tool: str) -> None:
        if self.noticed is not None and tool not in self.told:
            self.told.add(tool)
            self.noticed(tool)

    def _note_kustomization(self, real: str, display: str, via_link: bool = False) -> None:
        self._notice("kustomize")
        known = self.kustomizations.get(real)
        if known is None or (via_link, _display_key(display)) < (
            self.kustomization_links[real],
            _display_key(known),
        ):
            self.kustomizations[real] = display
            self.kustomization_links[real] = via_link

    def _note_kustomizations_above(self, directory: str) -> None:
        """Kustomizations in ``directory`` and up to the root, whose patches may be below them."""
        boundary = self.root_real if _within(directory, self.root_real) else directory
        while directory not in self.kustomization_dirs:
            self.kustomization_dirs.add(directory)
            for name in sorted(_KUSTOMIZATION_NAMES):
                path = os.path.join(directory, name)
                if os.path.isfile(path):
                    relative = _relative(path, self.root_real)
                    self._note_kustomization(path, relative if relative is not None else path)
            if directory == boundary or not _within(directory, boundary):
                break
            directory = os.path.dirname(directory)

    def _patch_owners(self, parsed: dict[str, ParsedKustomization]) -> tuple[dict[str, str], dict[str, str]]:
        """Real path of each patch file, and of each data file, → the first kustomization naming it.

        Fills ``parsed`` with each kustomization read on the way.
        """
        owners: dict[str, str] = {}
        data_owners: dict[str, str] = {}
        ordered = sorted(self.kustomizations.items(), key=lambda item: _display_key(item[1]))
        read = parse_kustomizations([real for real, _ in ordered])
        for (real, display), found in zip(ordered, read, strict=True):
            directory = os.path.dirname(real)
            if found is not None:
                parsed[real] = found
            document = found.first if found is not None else None
            for patch in kustomization_patch_paths(document):
                target = os.path.realpath(os.path.join(directory, patch))
                owners.setdefault(target, display)
            for data in deployment_scope.kustomization_data_paths(document):
                target = os.path.realpath(os.path.join(directory, data))
                data_owners.setdefault(target, display)
        return owners, data_owners

    # -- the result

    def _skip(self, display: str, reason: str, detail: str) -> None:
        self.skipped.setdefault(display, SkippedFile(display, reason, detail))

    def finish(self) -> Discovery:
        parsed: dict[str, ParsedKustomization] = {}
        owners, data_owners = self._patch_owners(parsed)
        by_real: dict[str, list[_Route]] = {}
        for route in self.routes:
            by_real.setdefault(route.real, []).append(route)
        files: list[DiscoveredFile] = []
        read: dict[str, bytes] = {}
        contents: dict[str, bytes] = {}
        for real, routes in by_real.items():
            # The path without a symbolic link names the file: the one its kustomization consumes.
            routes.sort(key=lambda route: (route.test_only, route.via_link, _display_key(route.display)))
            display = routes[0].display
            if routes[0].test_only:
                # Only reached inside skipped test folders: linted for glued objects alone, and
                # said nothing about otherwise (its folder is reported skipped).
                glued = _glued_lines(real) if real not in owners and real not in data_owners else ()
                if glued:
                    files.append(DiscoveredFile(real, display, glued=glued))
                continue
            verdict = self._verdict(real, routes, owners, data_owners, read)
            if verdict is not None:
                self._skip(display, *verdict)
            else:
                files.append(DiscoveredFile(real, display, stream=not routes[0].regular))
                data = read.pop(real, None)
                if data is not None:
                    contents[display] = data
            read.clear()
        files.sort(key=lambda found: _display_key(found.display))
        skipped = sorted(self.skipped.values(), key=lambda s: (_display_key(s.display), s.reason))
        sources = sorted(
            ((Path(real), display) for real, display in self.label_sources.items()),
            key=lambda source: _display_key(source[1]),
        )
        return Discovery(
            tuple(files),
            tuple(skipped),
            tuple(self.missing),
            parsed,
            tuple(sources),
            contents=contents,
            directories=frozenset(self.listed),
        )

    @staticmethod
    def _verdict(
        real: str,
        routes: Sequence[_Route],
        owners: dict[str, str],
        data_owners: dict[str, str],
        read: dict[str, bytes] | None = None,
    ) -> tuple[str, str] | None:
        """Why to skip a file reached by ``routes`` (the naming one first), or None to lint it.

        ``read``: where to keep the file's bytes by ``real`` if they were read whole.
        """
        for route in routes:
            if route.skip is not None:
                return route.skip
        owner = owners.get(real)
        if owner is not None:
            return (
                SKIP_KUSTOMIZE_PATCH,
                f"Kustomize patch listed in {owner}; lint the output of `kustomize build`",
            )
        data_owner = data_owners.get(real)
        if data_owner is not None:
            return (
                deployment_scope.SKIP_KUSTOMIZE_DATA,
                f"read as data by {data_owner} (a generator's file, values, plugin configuration); "
                "not a manifest",
            )
        if routes[0].regular and _has_template_syntax(real, read):
            return SKIP_HELM_TEMPLATE, _DETAIL_TEMPLATE_SYNTAX
        if routes[0].regular and real.lower().endswith(".json"):
            return deployment_scope.json_verdict(real)
        return None
