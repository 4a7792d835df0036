"""The lint pipeline: discover → load → render → units → worlds → inventory → rules → select/suppress.

Each stage hands the next plain values; nothing here prints. The command line
(and tests, and embedding applications) call :func:`lint`.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import gc
import os
import re
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import field, replace
from pathlib import Path

from nplint import document_cache, glued_objects, render, result_cache, undeployed
from nplint.cluster.view import cluster_view
from nplint.config import CONFIG_FILES, Config, ConfigError
from nplint.discovery import DiscoveredFile, Discovery, SkippedFile, discover
from nplint.document_cache import DocumentCache
from nplint.findings import FILE_START, Finding, Level, Span
from nplint.label_commands import read_label_commands
from nplint.loading import (
    LoadedFile,
    Manifest,
    Problem,
    decode,
    iter_manifests,
    load_encoded,
    names_an_object,
)
from nplint.loading.transfer import encode
from nplint.model import Inventory, KubeObject, build_inventory
from nplint.model.namespace_labels import NO_LABEL_COMMANDS, NamespaceLabelCommands
from nplint.parallel import load_split, run_split, worth_a_second_process
from nplint.plugins.manager import PluginManager
from nplint.reading import MAX_FILE_BYTES, FileTooLarge, NotARegularFile, read_bounded, read_stream
from nplint.records import record
from nplint.rules.base import Rule, RuleContext, RuleRegistry, WorldFacts
from nplint.selection import Suppression, Suppressor, enabled_rules
from nplint.units import Unit, World, naming, units_of, worlds_of
from nplint.units.hierarchy import place_hierarchical
from nplint.untrusted import escape, quoted


@record(frozen=True, slots=True)
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


@record(slots=True)
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
    #: The unit of every file, by display path, and the worlds the rules judged.
    units: dict[str, Unit] = field(default_factory=dict)
    worlds: list[World] = field(default_factory=list)


def read_file(
    path: str | Path,
    display: str,
    plugins: PluginManager,
    config: Config,
    stdin: Callable[[], bytes],
    *,
    stream: bool = False,
    data: bytes | None = None,
) -> LoadedFile:
    """Read and load one file; any failure becomes a load problem, never an exception.

    At most :data:`~nplint.reading.MAX_FILE_BYTES` are read; a file that is not
    regular is read only when ``stream`` says the user named it. ``data``: the
    file's bytes, when they were read already.
    """
    try:
        if data is None:
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
        # Whether bytes that do not decode were meant as a manifest, read as far as they go.
        loaded = LoadedFile(display, kubernetes=names_an_object(data.decode("utf-8", "replace")))
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
    paths: Sequence[str],
    config: Config,
    plugins: PluginManager,
    stdin: Callable[[], bytes] = _stdin_bytes,
    documents: DocumentCache | None = None,
    *,
    glued: bool = True,
    overlay: Mapping[str, bytes] | None = None,
    meanwhile: Callable[[Discovery], None] | None = None,
    noticed: Callable[[str], None] | None = None,
) -> tuple[Discovery, list[LoadedFile]]:
    """Discover the files under ``paths`` and load them; from ``documents`` where it knows their bytes.

    ``glued``: keep the files of skipped test folders that hold two objects run together
    (:mod:`nplint.glued_objects`), for NP001; commands that show what is deployed leave them out.
    ``overlay``: bytes that stand in for what the disk holds, by display path (an editor's
    unsaved buffers); only for files discovery found, each at most
    :data:`~nplint.reading.MAX_FILE_BYTES` (a larger one is read from the disk, bounded).
    ``meanwhile``: called once with what discovery found, while a second process loads
    files where one does (:func:`~nplint.parallel.load_split`), for work that needs none.
    ``noticed``: told by discovery of what may be rendered as soon as it is met
    (:func:`~nplint.discovery.discover`).
    """
    found = discover(
        paths,
        root=config.root,
        exclude=config.exclude,
        respect_gitignore=config.respect_gitignore,
        skip_test_folders=not config.lint_test_folders,
        lint_undeployed=config.lint_undeployed,
        noticed=noticed,
    )
    # Namespace labels the repository sets by command (scripts, Makefiles, READMEs).
    found = replace(found, label_commands=read_label_commands(found.label_sources))
    if not glued:
        found = replace(found, files=tuple(f for f in found.files if not f.glued))
    # nplint's own configuration is YAML too, but never a manifest.
    manifests = [f for f in found.files if f.display.rpartition("/")[2] not in CONFIG_FILES]
    # A plugin's loader may read files otherwise than nplint's: only nplint's own documents are kept.
    if not plugins.only_builtin_loader():
        documents = None
    loaded: dict[int, LoadedFile] = {}
    keys: dict[int, bytes] = {}
    # The bytes of the small files the walk read whole already: not read again.
    contents: dict[int, bytes] = {}
    for index, file in enumerate(manifests):
        known = found.contents.pop(file.display, None)
        if known is not None and not file.stream:
            contents[index] = known
    found.contents.clear()
    for index, file in enumerate(manifests):
        buffer = (overlay or {}).get(file.display)
        if buffer is not None and not file.stream and len(buffer) <= MAX_FILE_BYTES:
            contents[index] = buffer
    if documents is not None:
        for index, file in enumerate(manifests):
            if file.display == "-" or file.stream:
                documents.bypassed()
                continue
            data = contents.pop(index, None)
            if data is None:
                try:
                    data = read_bounded(file.path)
                except OSError:
                    documents.bypassed()
                    continue  # loaded below, where the reason becomes the file's load problem
            key = documents.key(data, is_json=file.display.lower().endswith(".json"))
            hit = documents.get(key, file.display)
            if hit is not None:
                loaded[index] = hit
            else:
                keys[index] = key
                contents[index] = data
    missing = [index for index in range(len(manifests)) if index not in loaded]

    def load(position: int) -> LoadedFile:
        index = missing[position]
        file = manifests[index]
        return read_file(
            file.path, file.display, plugins, config, stdin, stream=file.stream, data=contents.get(index)
        )

    def encoded(position: int) -> tuple[object, ...] | None:
        """``encode(load(position))``, without nodes for an ordinary file (the second process's share)."""
        index = missing[position]
        file = manifests[index]
        data = contents.get(index)
        if data is None:
            try:
                data = contents[index] = read_bounded(file.path, stream=file.stream)
            except OSError:
                return encode(load(position))  # the reason becomes the file's load problem
        text = decode(data)[0]
        if text is None:
            return encode(load(position))
        return load_encoded(file.display, text, is_json=file.display.lower().endswith(".json"))

    received: dict[int, object] = {}
    # Standard input cannot be shared with a second process, nor a plugin's loader trusted to run in one.
    early = None if meanwhile is None else functools.partial(meanwhile, found)
    if plugins.only_builtin_loader() and all(f.display != "-" for f in manifests):
        fresh = load_split(len(missing), load, received, encoded, early, len(found.kustomizations))
    else:
        fresh = [load(position) for position in range(len(missing))]
        if early is not None:
            early()
    for position, (index, made) in enumerate(zip(missing, fresh, strict=True)):
        loaded[index] = made
        known = keys.get(index)
        if documents is not None and known is not None:
            if position in received:
                documents.record(known, received[position])
            else:
                documents.put(known, made)
    files = [loaded[index] for index in range(len(manifests))]
    if any(f.glued for f in manifests):
        found, manifests, files = _glued_only(found, manifests, files)
    if config.lint_undeployed:
        return found, files
    # Set aside what no GitOps tool deploys (unnamed dot-directories).
    kept, files = undeployed.set_aside(
        replace(found, files=tuple(manifests)), files, str(config.root), _relative_to_root(paths, config.root)
    )
    configs = tuple(f for f in found.files if f.display.rpartition("/")[2] in CONFIG_FILES)
    return replace(kept, files=tuple(sorted((*kept.files, *configs), key=_display_bytes))), files


def _glued_only(
    found: Discovery, manifests: list[DiscoveredFile], files: list[LoadedFile]
) -> tuple[Discovery, list[DiscoveredFile], list[LoadedFile]]:
    """Files of skipped test folders reduced to their glued objects; dropped where the loader finds none."""
    kept_manifests: list[DiscoveredFile] = []
    kept_files: list[LoadedFile] = []
    dropped: set[str] = set()
    for discovered, loaded in zip(manifests, files, strict=True):
        if discovered.glued:
            reduced = glued_objects.keep_glued(loaded, discovered.glued)
            if reduced is None:
                dropped.add(discovered.display)
                continue
            loaded = reduced
        kept_manifests.append(discovered)
        kept_files.append(loaded)
    found = replace(found, files=tuple(f for f in found.files if f.display not in dropped))
    return found, kept_manifests, kept_files


def _display_bytes(found: DiscoveredFile) -> bytes:
    return found.display.encode("utf-8", "surrogateescape")


def _relative_to_root(paths: Sequence[str], root: Path) -> list[str]:
    """The paths given, relative to the root (POSIX; "" for the root itself), of those inside it."""
    found: list[str] = []
    root_abs = os.path.abspath(root)
    for given in paths:
        if given == "-":
            continue
        relative = os.path.relpath(os.path.abspath(given), root_abs)
        if relative != ".." and not relative.startswith(".." + os.sep):
            found.append("" if relative == "." else relative.replace(os.sep, "/"))
    return found


def rendered_files(
    found: Discovery,
    read: Sequence[LoadedFile],
    config: Config,
    documents: DocumentCache | None = None,
    surveyed: render.Survey | None = None,
    versions: render.Versions | None = None,
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
        documents=documents,
        parsed=found.kustomizations,
        surveyed=surveyed,
        versions=versions,
    )
    # Files a rendered kustomization consumed are linted as rendered, not again on their own.
    files = [f for f in read if f.path not in rendering.consumed] + [r.loaded for r in rendering.rendered]
    # A Config Sync hierarchical repository places objects in namespaces by their folders.
    return place_hierarchical(files), rendering


def inventory_of(files: Sequence[LoadedFile], config: Config, plugins: PluginManager) -> Inventory:
    manifests = [m for loaded in files for m in iter_manifests(loaded)]
    inventory = build_inventory(manifests, default_namespace=config.default_namespace)
    plugins.extend_inventory(inventory, list(files), config)
    return inventory


def _option_error(value: object, default: object) -> str | None:
    """Why ``value`` cannot stand in for an option whose default is ``default``, or None."""
    if isinstance(default, bool):
        return None if isinstance(value, bool) else "must be true or false"
    if isinstance(default, int):
        return None if isinstance(value, int) and not isinstance(value, bool) else "must be a whole number"
    if isinstance(default, str):
        return None if isinstance(value, str) else "must be a string"
    if isinstance(default, list | tuple):
        if not isinstance(value, list):
            return "must be a list"
        kinds = {type(item) for item in default} or {str}
        if kinds <= {int} and not all(isinstance(i, int) and not isinstance(i, bool) for i in value):
            return "must be a list of whole numbers"
        if kinds <= {str} and not all(isinstance(item, str) for item in value):
            return "must be a list of strings"
    return None


def check_rule_options(rules: Sequence[type[Rule]], config: Config) -> None:
    """Refuse ``rules.<ID>.<option>`` settings a rule does not have, or of the wrong type.

    The configuration is the repository's: a value of the wrong shape must be a
    configuration error naming the key, not a rule that fails mid-run.

    :raises ConfigError: naming the file, the key and why.
    """
    source = escape(str(config.source)) if config.source else "configuration"
    problems: list[str] = []
    for rule_class in sorted(rules, key=lambda r: r.id):
        for option, value in config.rule_settings.get(rule_class.id, {}).items():
            if option == "level":
                continue  # validated with the rest of the configuration
            key = quoted(f"rules.{rule_class.id}.{option}")
            if option not in rule_class.options:
                known = ", ".join(["level", *sorted(rule_class.options)])
                problems.append(f"{source}: key {key}: {rule_class.id} has no such option (options: {known})")
                continue
            why = _option_error(value, rule_class.options[option])
            if why is not None:
                problems.append(f"{source}: key {key}: {why}")
    if problems:
        raise ConfigError("\n".join(problems))


def deployment_worlds(
    files: Sequence[LoadedFile], manifests: Sequence[Manifest], rendering: render.RenderPlan, config: Config
) -> tuple[dict[str, Unit], list[World]]:
    """The units stage and the worlds stage: which unit every file belongs to, and what each cluster holds."""
    rendered = {r.loaded.path: r.target.tool for r in rendering.rendered}
    # A chart's release namespace is where helm puts its objects that name none.
    namespaces = {r.loaded.path: r.namespace for r in rendering.rendered if r.namespace is not None}
    units = units_of(files, rendered, namespaces)
    return units, worlds_of(manifests, units, config)


def world_inventory(
    manifests: Sequence[Manifest],
    files: Sequence[LoadedFile],
    config: Config,
    plugins: PluginManager,
    units: dict[str, Unit],
    world: World | None,
    label_commands: NamespaceLabelCommands | None = None,
) -> Inventory:
    """The inventory of one world (of every unit with ``world`` None), knowing each object's unit.

    ``label_commands``: the namespace labels the repository sets by command, which hold
    in every world.
    """
    inventory = build_inventory(
        manifests,
        default_namespace=config.default_namespace,
        units=units,
        label_commands=label_commands or NO_LABEL_COMMANDS,
    )
    inventory.world = world
    plugins.extend_inventory(inventory, list(files), config)
    return inventory


@record(frozen=True, slots=True)
class WorldInventory:
    """One world as ``reach`` and ``diff`` evaluate it: its objects and its cluster's configuration."""

    world: World
    inventory: Inventory
    #: The run's configuration with the facts configuration gives this cluster (``World.config``).
    config: Config


def world_inventories(
    files: Sequence[LoadedFile],
    units: dict[str, Unit],
    worlds: Sequence[World],
    config: Config,
    plugins: PluginManager,
    manifests: Sequence[Manifest] | None = None,
    label_commands: NamespaceLabelCommands | None = None,
) -> list[WorldInventory]:
    """The inventory of each world, in the worlds' order, built as ``check`` builds the ones it judges.

    ``files`` are the rendered files of the run, ``units`` and ``worlds`` what
    :func:`deployment_worlds` made of them; ``manifests``, when the caller has
    them already, the manifests of ``files``.
    """
    if manifests is None:
        manifests = [m for loaded in files for m in iter_manifests(loaded)]
    found: list[WorldInventory] = []
    for world in worlds:
        held = set(world.units)
        own = world.config(config)
        inventory = world_inventory(
            [m for m in manifests if units.get(m.path) in held],
            [f for f in files if units.get(f.path) in held],
            own,
            plugins,
            units,
            world,
            label_commands,
        )
        found.append(WorldInventory(world, inventory, own))
    return found


def judge_worlds(
    rules: Sequence[type[Rule]],
    base: RuleContext,
    manifests: Sequence[Manifest],
    plugins: PluginManager,
    units: dict[str, Unit],
    worlds: Sequence[World],
    rendered: Sequence[render.Rendered],
    keep: list[WorldFacts] | None = None,
    label_commands: NamespaceLabelCommands | None = None,
) -> tuple[list[Finding], list[RuleFailure]]:
    """Run ``rules`` on each world, and report what several worlds share once, naming them.

    A finding is the same problem in two worlds when it has the same rule and
    source position (after mapping rendered output back to its source): the
    line both overlays take from their base. ``keep``, when given, receives each
    world's facts for the rules of the "run" phase that judge every world at once.
    """
    judged: list[tuple[World, list[Finding]]] = []
    failures: list[RuleFailure] = []
    for world in worlds:
        held = set(world.units)
        config = world.config(base.config)
        files = [f for f in base.files if units.get(f.path) in held]
        inventory = world_inventory(
            [m for m in manifests if units.get(m.path) in held],
            files,
            config,
            plugins,
            units,
            world,
            label_commands,
        )
        if keep is not None:
            keep.append(WorldFacts(world, cluster_view(inventory, config), tuple(inventory.policies)))
        ctx = replace(base, inventory=inventory, files=files, config=config)
        shared_before_split(ctx)
        found, failed = run_split(rules, ctx, config, run_rules)
        failures.extend(f for f in failed if f not in failures)
        judged.append((world, render.map_back(found, rendered) if rendered else found))
    if len(worlds) == 1:
        return judged[0][1] if judged else [], failures
    first: dict[tuple[str, str, Span, str, int], Finding] = {}
    where: dict[tuple[str, str, Span, str, int], list[World]] = {}
    for world, found in judged:
        for finding in sorted(found, key=Finding.sort_key):
            key = (finding.rule_id, finding.path, finding.span, finding.yaml_path, finding.document_index)
            first.setdefault(key, finding)
            holding = where.setdefault(key, [])
            if world not in holding:
                holding.append(world)
    messages: dict[tuple[str, str, Span, str, int], set[str]] = {}
    for _, found in judged:
        for finding in found:
            key = (finding.rule_id, finding.path, finding.span, finding.yaml_path, finding.document_index)
            messages.setdefault(key, set()).add(finding.message)
    merged = [
        replace(
            finding,
            message=_with_worlds(_shared_message(finding.message, messages[key]), where[key], worlds),
            detail=_worlds_detail(finding.detail, where[key]),
            worlds=tuple(w.label for w in where[key]),
        )
        for key, finding in first.items()
    ]
    return merged, failures


#: Worlds named after a headline; the detail names them all.
WORLDS_NAMED = 2

#: The note that ends a headline on rendered output: `` (in kustomize for overlays/prod)``.
_RENDER_NOTE = re.compile(r" \(in [a-z]+ for (?P<folder>[^()]+)\)\Z")


def _with_worlds(message: str, holding: Sequence[World], worlds: Sequence[World]) -> str:
    """The headline with the worlds it holds in, unless its render note already names the one world.

    ``… (in kustomize for clusters/prod)`` needs no `` (in cluster prod)`` after it: the
    folder rendered is the world. The detail and ``worlds`` still name it.
    """
    if len(holding) == 1:
        note = _RENDER_NOTE.search(message)
        if note is not None and _names_world(note.group("folder"), holding[0].name):
            return message
    return f"{message} ({_worlds_named(holding, worlds)})"


def _names_world(folder: str, world: str) -> bool:
    """Whether a render note's folder (maybe cut short, "…") is the world's folder or ends with its name."""
    if folder.endswith("…"):
        return world.startswith(folder[:-1])
    return folder == world or folder.endswith("/" + world)


def _worlds_named(holding: Sequence[World], worlds: Sequence[World]) -> str:
    """The worlds a finding holds in, as its headline ends: two named, or all of them counted.

    A finding every one of many worlds holds is no more about the first two than the
    rest: naming them would send the reader to unrelated folders.
    """
    if len(holding) == len(worlds) > WORLDS_NAMED:
        return f"in all {len(worlds)} worlds"
    return naming(holding, limit=WORLDS_NAMED)


def _worlds_detail(detail: str, worlds: Sequence[World]) -> str:
    """The detail of a finding several worlds share, ending with every world it holds in."""
    if len(worlds) <= WORLDS_NAMED:
        return detail
    every = f"It holds {naming(worlds, limit=len(worlds))}."
    return f"{detail} {every}" if detail else every


def _shared_message(first: str, messages: set[str]) -> str:
    """The message of a finding several worlds share: without the trailing note that names one of them.

    Each world's finding on a rendered unit ends with where it was rendered
    (``(in kustomize for overlays/prod)``); once the worlds are
    named, that note would name only the first.
    """
    if len(messages) == 1:
        return first
    heads = {message.rpartition(" (")[0] if message.endswith(")") else message for message in messages}
    return heads.pop() if len(heads) == 1 else first


def shared_before_split(ctx: RuleContext) -> None:
    """Make the cluster view, which rules of both processes read, before the rules are split.

    The second process inherits it; made after the fork, each process would make its own.
    """
    if worth_a_second_process(len(ctx.inventory.objects)):
        # A view that cannot be made fails the rules that read it, each reported as before.
        with contextlib.suppress(Exception):
            cluster_view(ctx.inventory, ctx.config)


def _phased(
    once_ctx: RuleContext, once_config: Config
) -> Callable[[Sequence[type[Rule]], RuleContext, Config], tuple[list[Finding], list[RuleFailure]]]:
    """:func:`run_rules`; rules of the "run" phase with ``once_ctx`` and ``once_config``."""

    def run(
        rules: Sequence[type[Rule]], ctx: RuleContext, config: Config
    ) -> tuple[list[Finding], list[RuleFailure]]:
        found, failures = run_rules([r for r in rules if r.phase != "run"], ctx, config)
        once = [r for r in rules if r.phase == "run"]
        if once:
            more, more_failures = run_rules(once, once_ctx, once_config)
            found += more
            failures += more_failures
        return found, failures

    return run


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


def _report_only(paths: Sequence[str], config: Config) -> tuple[list[str], frozenset[str] | None]:
    """Where to build the inventory from, and the real paths of the files to report on.

    Explicit files (as pre-commit passes them) decide what is reported, while
    the inventory comes from the configured roots (the repository root by
    default), so cross-file rules see the whole picture. Directories and stdin
    are linted as given, and everything found is reported.
    """
    if not paths or any(p == "-" or not Path(p).is_file() for p in paths):
        return list(paths), None
    roots = [str(config.root / r) for r in config.roots] or [str(config.root)]
    return [*roots, *paths], frozenset(os.path.realpath(p) for p in paths)


def _named_displays(found: Discovery, named: frozenset[str], root: Path) -> set[str]:
    """The display paths of the named files, as discovery shows them and findings carry them.

    A file is matched by its real path, so however it was spelled (``./x``, an
    absolute path, through a link, from a subdirectory) its findings are the
    ones reported, and a file reached under another name is never mistaken for it.
    Skipped files count too: a finding on rendered output is placed on the
    template or patch it came from.
    """
    shown = {f.display for f in found.files if os.path.realpath(f.path) in named}
    for skipped in found.skipped:
        if os.path.realpath(os.path.join(root, skipped.display)) in named:
            shown.add(skipped.display)
    return shown


def lint(
    paths: Sequence[str],
    config: Config,
    plugins: PluginManager,
    registry: RuleRegistry,
    *,
    stdin: Callable[[], bytes] = _stdin_bytes,
    rules: Sequence[type[Rule]] | None = None,
    reuse: bool = False,
    overlay: Mapping[str, bytes] | None = None,
) -> LintResult:
    """Run the pipeline over ``paths``.

    ``reuse``: when nothing the findings depend on changed since a run that kept them
    (:mod:`nplint.result_cache`), return those findings without judging again. The
    result then holds the files and findings but no inventory, units or worlds, so
    only a caller that needs nothing else (``check``) asks for it. ``overlay``: bytes that
    stand in for the disk's, by display path (the language server's unsaved buffers); a run
    with an overlay is never answered from, nor kept in, the result cache.
    """
    with collector_paused():
        return _lint(
            paths,
            config,
            plugins,
            registry,
            stdin=stdin,
            rules=rules,
            reuse=reuse and not overlay,
            overlay=overlay,
        )


def _lint(
    paths: Sequence[str],
    config: Config,
    plugins: PluginManager,
    registry: RuleRegistry,
    *,
    stdin: Callable[[], bytes],
    rules: Sequence[type[Rule]] | None,
    reuse: bool = False,
    overlay: Mapping[str, bytes] | None = None,
) -> LintResult:
    chosen = list(rules) if rules is not None else enabled_rules(registry, config)
    check_rule_options(chosen, config)
    scope, named = _report_only(paths, config)
    with document_cache.opened(config.root, enabled=config.cache) as documents:
        surveys: list[render.Survey] = []

        def survey(early: Discovery) -> None:
            surveys.append(render.survey(early.skipped, config.root, early.kustomizations, early.directories))
            if reuse and documents is not None:
                result_cache.code_fingerprint()  # the result cache's key needs it after loading

        # The renderers say their versions (the render cache's key) while the files are found
        # and loaded: each asked as soon as discovery meets what it renders.
        versions = render.Versions(time.monotonic())

        def noticed(tool: str) -> None:
            enabled = config.render == "auto"
            render.ask_version(versions, tool, config.root, enabled=enabled, cache=config.cache)

        try:
            found, read = load_paths(
                scope,
                config,
                plugins,
                stdin,
                documents,
                overlay=overlay,
                meanwhile=survey,
                noticed=noticed,
            )
            files, rendering = rendered_files(
                found, read, config, documents, surveys[0] if surveys else None, versions
            )
        finally:
            versions.stop()  # nothing once planning collected them; else the run failed first
        if documents is not None:
            # Every file of the run is loaded: the pack is written beside the judging.
            documents.save_early()
        key = None
        # Only nplint's own code can be fingerprinted: with a plugin, or a rule of another
        # package (an embedding application's), every run judges afresh.
        own = plugins.only_builtin() and all(rule.__module__.startswith("nplint.") for rule in chosen)
        if reuse and documents is not None and own:
            key = result_cache.run_key(
                paths=[*paths, "\0", *scope],
                config=config,
                rules=chosen,
                found=found,
                rendering=rendering,
                documents=documents,
            )
        report = _named_displays(found, named, config.root) if named is not None else None
        if key is not None:
            kept = documents.result(key) if documents is not None else None
            outcome = result_cache.decode_outcome(kept) if kept is not None else None
            if outcome is not None:
                findings, suppressed, failures = outcome
                shown_files = [f for f in files if report is None or f.path in report]
                return LintResult(
                    findings=findings,
                    suppressed=suppressed,
                    files=shown_files,
                    inventory=build_inventory([]),
                    rules=chosen,
                    skipped=found.skipped,
                    missing=found.missing,
                    failures=failures,
                )
        result = _judged(config, plugins, registry, chosen, found, read, files, rendering, report)
        if key is not None and documents is not None:
            documents.keep_result(
                key, result_cache.encode_outcome(result.findings, result.suppressed, result.failures)
            )
        return result


def _judged(
    config: Config,
    plugins: PluginManager,
    registry: RuleRegistry,
    chosen: list[type[Rule]],
    found: Discovery,
    read: list[LoadedFile],
    files: list[LoadedFile],
    rendering: render.RenderPlan,
    report: set[str] | None,
) -> LintResult:
    """Units, worlds, inventories, the rules, suppressions: the findings of the loaded files."""
    manifests = [m for loaded in files for m in iter_manifests(loaded)]
    units, worlds = deployment_worlds(files, manifests, rendering, config)
    # One world (the common case) judges the run's own inventory; more build one each.
    one = worlds[0] if len(worlds) == 1 else None
    own = one.config(config) if one else config
    inventory = world_inventory(manifests, files, own, plugins, units, one, found.label_commands)
    main_rules = [r for r in chosen if r.phase == "main"]
    run_level = [r for r in chosen if r.phase == "run"]
    meta_rules = [r for r in chosen if r.phase == "meta"]
    base = RuleContext(
        inventory=inventory,
        config=config,
        files=files,
        skipped=found.skipped,
        unrendered=rendering.unrendered,
        listing=rendering.listing,
        enabled_ids=frozenset(r.id for r in chosen),
        registry=registry,
    )
    # What each world's cluster is, for the rules that say something once for every world.
    facts: list[WorldFacts] | None = [] if any(r.needs_worlds for r in run_level) else None
    once: list[Finding] = []
    once_failures: list[RuleFailure] = []
    if one is not None:
        ctx = replace(base, config=one.config(config))
        shared_before_split(ctx)
        if facts is not None:
            facts.append(WorldFacts(one, ctx.cluster, tuple(inventory.policies)))
        # With one world, the rules of the "run" phase know all they need already: they
        # join the split, so they run beside the main rules rather than after them.
        phased = _phased(replace(base, worlds=tuple(facts or ())), config)
        both, failures = run_split([*main_rules, *run_level], ctx, ctx.config, phased)
        run_ids = {r.id for r in run_level}
        raw = [f for f in both if f.rule_id not in run_ids]
        once = [f for f in both if f.rule_id in run_ids]
        once_failures = [f for f in failures if f.rule_id in run_ids]
        failures = [f for f in failures if f.rule_id not in run_ids]
        if rendering.rendered:
            raw = render.map_back(raw, rendering.rendered)
    else:
        raw, failures = judge_worlds(
            main_rules,
            base,
            manifests,
            plugins,
            units,
            worlds,
            rendering.rendered,
            facts,
            found.label_commands,
        )
    if run_level:
        if one is None:
            once, once_failures = run_rules(run_level, replace(base, worlds=tuple(facts or ())), config)
        # A rule that judges the worlds reports on their objects, which may be rendered output.
        on_worlds = {r.id for r in run_level if r.needs_worlds}
        if rendering.rendered and on_worlds:
            mapped = render.map_back([f for f in once if f.rule_id in on_worlds], rendering.rendered)
            once = [f for f in once if f.rule_id not in on_worlds] + mapped
        raw += once
        failures += once_failures
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
        units=units,
        worlds=list(worlds),
    )
