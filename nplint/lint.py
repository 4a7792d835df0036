"""The lint pipeline: discover → load → inventory → rules → select/suppress → sorted findings.

Each stage hands the next plain values; nothing here prints. The command line
(and tests, and embedding applications) call :func:`lint`.
"""

from __future__ import annotations

import errno
import gc
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

from nplint import render
from nplint.config import CONFIG_FILES, Config
from nplint.discovery import Discovery, SkippedFile, discover
from nplint.findings import FILE_START, Finding, Level
from nplint.loading import LoadedFile, Problem, decode, iter_manifests
from nplint.model import Inventory, KubeObject, build_inventory
from nplint.parallel import load_split, run_split
from nplint.plugins.manager import PluginManager
from nplint.reading import FileTooLarge, NotARegularFile, read_bounded, read_stream
from nplint.rules.base import Rule, RuleContext, RuleRegistry
from nplint.selection import Suppression, Suppressor, enabled_rules


@dataclass(frozen=True, slots=True)
class RuleFailure:
    """A rule that raised: reported, and the run exits 2, but other rules' findings stand."""

    rule_id: str
    error: str
    #: The object the rule was looking at when it failed, as "Kind ns/name (path:line)".
    object: str | None = None

    def __str__(self) -> str:
        where = f" on {self.object}" if self.object else ""
        return f"rule {self.rule_id} failed{where}: {self.error}"


def _object_in(error: BaseException) -> str | None:
    """The innermost inventory object a failing rule had in hand, read from the traceback.

    Rules iterate over policies and workloads in local variables; the deepest
    frame holding one names what the rule was judging, without asking every
    rule to keep track of it.
    """
    found: KubeObject | None = None
    trace = error.__traceback__
    while trace is not None:
        for value in trace.tb_frame.f_locals.values():
            if isinstance(value, KubeObject):
                found = value
        trace = trace.tb_next
    if found is None:
        return None
    return f"{found.ref} ({found.path}:{found.span.line})"


@dataclass(slots=True)
class LintResult:
    findings: list[Finding]
    suppressed: list[Finding]
    files: list[LoadedFile]
    inventory: Inventory
    rules: list[type[Rule]]
    skipped: tuple[SkippedFile, ...] = ()
    missing: tuple[str, ...] = ()
    failures: list[RuleFailure] = field(default_factory=list)
    suppressions: list[Suppression] = field(default_factory=list)


def read_file(
    path: Path,
    display: str,
    plugins: PluginManager,
    config: Config,
    stdin: Callable[[], bytes],
    *,
    stream: bool = False,
) -> LoadedFile:
    """Read and load one file; any failure becomes a load problem, never an exception.

    At most :data:`~nplint.reading.MAX_FILE_BYTES` are read; a file that is not
    regular is read only when ``stream`` says the user named it.
    """
    try:
        data = stdin() if display == "-" else read_bounded(path, stream=stream)
    except OSError as error:
        loaded = LoadedFile(display)
        if isinstance(error, (FileTooLarge, NotARegularFile)):
            message = f"not read: {error}"
        else:
            message = f"cannot read the file: {error.strerror or error}"
        loaded.problems.append(Problem(FILE_START, message))
        return loaded
    text, problem = decode(data)
    if text is None:
        loaded = LoadedFile(display)
        if problem is not None:
            loaded.problems.append(problem)
        return loaded
    return plugins.load_documents(display, text, config)


@contextmanager
def collector_paused() -> Iterator[None]:
    """Keep Python's cyclic garbage collector out of one run, and restore it after.

    A run builds a node for every YAML value of the repository and keeps them
    all until it ends, so every automatic collection walks millions of live
    objects to free almost nothing: on a 10,000-document tree that was more
    than 40% of the run. Cyclic garbage made meanwhile is freed by the first
    collection after the run.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _stdin_bytes() -> bytes:
    if sys.stdin is None:  # started with standard input closed
        raise OSError(errno.EBADF, "standard input is closed")
    return read_stream(sys.stdin.buffer)


def load_paths(
    paths: Sequence[str], config: Config, plugins: PluginManager, stdin: Callable[[], bytes] = _stdin_bytes
) -> tuple[Discovery, list[LoadedFile]]:
    found = discover(
        paths, root=config.root, exclude=config.exclude, respect_gitignore=config.respect_gitignore
    )
    # nplint's own configuration is YAML too, but never a manifest.
    manifests = [f for f in found.files if f.display.rpartition("/")[2] not in CONFIG_FILES]

    def load(index: int) -> LoadedFile:
        found = manifests[index]
        return read_file(found.path, found.display, plugins, config, stdin, stream=found.stream)

    # Standard input cannot be shared with a second process, nor a plugin's loader trusted to run in one.
    if plugins.only_builtin_loader() and all(f.display != "-" for f in manifests):
        return found, load_split(len(manifests), load)
    return found, [load(index) for index in range(len(manifests))]


def rendered_files(
    found: Discovery, read: Sequence[LoadedFile], config: Config
) -> tuple[list[LoadedFile], render.RenderPlan]:
    """The files the inventory is built from once charts and kustomizations are rendered, and the plan.

    Every command that builds an inventory (check, reach, diff) goes through here,
    so ``--render never`` means the same everywhere.
    """
    rendering = render.plan(
        found.skipped,
        config.root,
        enabled=config.render == "auto",
        helm_values=config.helm_values,
        cache=config.cache,
        progress=render.progress_stream(config.progress),
        loaded=read,
    )
    # Files a rendered kustomization consumed are linted as rendered, not again on their own.
    files = [f for f in read if f.path not in rendering.consumed] + [r.loaded for r in rendering.rendered]
    return files, rendering


def inventory_of(files: Sequence[LoadedFile], config: Config, plugins: PluginManager) -> Inventory:
    manifests = [m for loaded in files for m in iter_manifests(loaded)]
    inventory = build_inventory(manifests, default_namespace=config.default_namespace)
    plugins.extend_inventory(inventory, list(files), config)
    return inventory


def run_rules(
    rules: Sequence[type[Rule]], ctx_base: RuleContext, config: Config
) -> tuple[list[Finding], list[RuleFailure]]:
    findings: list[Finding] = []
    failures: list[RuleFailure] = []
    for rule_class in rules:
        settings = dict(config.rule_settings.get(rule_class.id, {}))
        level_text = settings.pop("level", None)
        rule = rule_class(Level.parse(level_text) if level_text else None)
        ctx = replace(ctx_base, options={**rule_class.options, **settings})
        produced: list[Finding] = []
        try:
            produced.extend(rule.check(ctx))
        except Exception as error:  # contain one rule's bug; the others still report
            failures.append(RuleFailure(rule_class.id, f"{type(error).__name__}: {error}", _object_in(error)))
        findings.extend(produced)
    return findings, failures


def _report_only(paths: Sequence[str], config: Config) -> tuple[list[str], set[str] | None]:
    """Where to build the inventory from, and which files to report on.

    Explicit files (as pre-commit passes them) decide what is reported, while
    the inventory comes from the configured roots (the repository root by
    default), so cross-file rules see the whole picture. Directories and stdin
    are linted as given.
    """
    if not paths or any(p == "-" or not Path(p).is_file() for p in paths):
        return list(paths), None
    roots = [str(config.root / r) for r in config.roots] or [str(config.root)]
    return [*roots, *paths], {_display(Path(p), config.root) for p in paths}


def _display(path: Path, root: Path) -> str:
    resolved = path.resolve()
    try:
        return resolved.relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def lint(
    paths: Sequence[str],
    config: Config,
    plugins: PluginManager,
    registry: RuleRegistry,
    *,
    stdin: Callable[[], bytes] = _stdin_bytes,
    rules: Sequence[type[Rule]] | None = None,
) -> LintResult:
    with collector_paused():
        return _lint(paths, config, plugins, registry, stdin=stdin, rules=rules)


def _lint(
    paths: Sequence[str],
    config: Config,
    plugins: PluginManager,
    registry: RuleRegistry,
    *,
    stdin: Callable[[], bytes],
    rules: Sequence[type[Rule]] | None,
) -> LintResult:
    scope, report = _report_only(paths, config)
    found, read = load_paths(scope, config, plugins, stdin)
    files, rendering = rendered_files(found, read, config)
    inventory = inventory_of(files, config, plugins)
    chosen = list(rules) if rules is not None else enabled_rules(registry, config)
    main_rules = [r for r in chosen if r.phase != "meta"]
    meta_rules = [r for r in chosen if r.phase == "meta"]
    base = RuleContext(
        inventory=inventory,
        config=config,
        files=files,
        skipped=found.skipped,
        unrendered=rendering.unrendered,
        enabled_ids=frozenset(r.id for r in chosen),
        registry=registry,
    )
    raw, failures = run_split(main_rules, base, config, run_rules)
    if rendering.rendered:
        raw = render.map_back(raw, rendering.rendered)
    suppressor = Suppressor(registry, config, read, inventory)
    outcome = suppressor.apply(raw)
    if meta_rules:
        base.suppressions = outcome.suppressions
        meta, meta_failures = run_rules(meta_rules, base, config)
        failures.extend(meta_failures)
        meta_outcome = suppressor.apply(meta, record=False)
        outcome.kept.extend(meta_outcome.kept)
        outcome.suppressed.extend(meta_outcome.suppressed)
    kept = [f for f in outcome.kept if not plugins.filter_finding(f, config)]
    suppressed = outcome.suppressed
    if report is not None:
        kept = [f for f in kept if f.path in report]
        suppressed = [f for f in suppressed if f.path in report]
        files = [f for f in files if f.path in report]
    return LintResult(
        findings=sorted(set(kept), key=Finding.sort_key),
        suppressed=sorted(suppressed, key=Finding.sort_key),
        files=files,
        inventory=inventory,
        rules=chosen,
        skipped=found.skipped,
        missing=found.missing,
        failures=failures,
        suppressions=outcome.suppressions,
    )
