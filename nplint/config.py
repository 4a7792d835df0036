"""Configuration: where it is found, what it may say, and the validated result.

The nearest ``.nplint.yaml``, ``.nplint.toml`` or ``pyproject.toml`` with a
``[tool.nplint]`` table wins, looking upwards from the first path linted to
the repository root; there is no cascade. Every key is validated with
jsonschema and an unknown key or a bad value stops the run naming the file,
the key and why.

The repository being linted is untrusted (nplint runs on pull requests of
strangers), and so is its configuration: every path it names (``helm-values``,
``expect``, ``roots``) must lie inside the repository root, symbolic links
followed, and files nplint reads because of it are read with a size limit and
only when they are regular files (:func:`read_regular_file`).
"""

from __future__ import annotations

import difflib
import os
import re
import stat
from collections.abc import Callable, Mapping, Sequence
from dataclasses import field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nplint.cluster.cni_version import ANTREA_GATES, CILIUM_MODES, BadCNIVersion, CNISwitches, split_cni
from nplint.discovery import find_repository_root
from nplint.findings import Level
from nplint.reading import FileTooLarge, NotARegularFile, read_bounded
from nplint.records import record
from nplint.untrusted import escape

if TYPE_CHECKING:
    import jsonschema

CONFIG_FILES = (".nplint.yaml", ".nplint.yml", ".nplint.toml", "pyproject.toml")

_CODE_LIST = {"type": "array", "items": {"type": "string", "minLength": 1}}
_STR_OR_LIST = {"oneOf": [{"type": "string", "minLength": 1}, _CODE_LIST]}

_FACTS: dict[str, Any] = {
    "dns": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "namespace": {"type": "string", "minLength": 1},
            "pod-labels": {"type": "object", "additionalProperties": {"type": "string"}},
            "ports": {
                "type": "array",
                "items": {"type": "integer", "minimum": 1, "maximum": 65535},
                "minItems": 1,
            },
            "service-ip": {"type": "string"},
            "node-local-ip": {"type": "string"},
        },
    },
    "apiserver": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "addresses": _CODE_LIST,
            "port": {"type": "integer", "minimum": 1, "maximum": 65535},
            "service-ip": {"type": "string"},
        },
    },
    "pod-cidr": _STR_OR_LIST,
    "service-cidr": _STR_OR_LIST,
    "node-cidr": _STR_OR_LIST,
    # The distribution, where it changes the facts (OpenShift's DNS); unset: detected.
    "platform": {"enum": ["openshift", "aks", "kubernetes"]},
}

#: ``cni-options:``: the CNI switches that change verdicts (policy-kinds §8.9, §9.4). Facts about
#: the cluster, like ``cni:``; nothing here widens what nplint may do.
_CNI_OPTIONS: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "antrea": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "feature-gates": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {gate: {"type": "boolean"} for gate in ANTREA_GATES},
                }
            },
        },
        "cilium": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"policy-enforcement-mode": {"enum": list(CILIUM_MODES)}},
        },
    },
}

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "select": _CODE_LIST,
        "ignore": _CODE_LIST,
        "extend-select": _CODE_LIST,
        "per-file-ignores": {"type": "object", "additionalProperties": _CODE_LIST},
        "fail-on": {"enum": ["error", "warning", "note", "never"]},
        "exclude": _CODE_LIST,
        "respect-gitignore": {"type": "boolean"},
        "lint-test-folders": {"type": "boolean"},
        "lint-undeployed": {"type": "boolean"},
        "lint-generated-files": {"type": "boolean"},
        "render": {"enum": ["auto", "never"]},
        "cache": {"type": "boolean"},
        "helm-values": _CODE_LIST,
        "roots": _CODE_LIST,
        "cni": {"type": "string", "minLength": 1},
        "cni-options": _CNI_OPTIONS,
        "default-namespace": {"type": "string", "minLength": 1},
        "expect": _STR_OR_LIST,
        "cluster": {"type": "object", "additionalProperties": False, "properties": _FACTS},
        # Which units each cluster holds (globs over repository paths), with that cluster's facts.
        # Facts, not permissions: nothing here widens what nplint may do.
        "clusters": {
            "type": "object",
            "propertyNames": {"pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$"},
            "additionalProperties": {
                "type": "object",
                "additionalProperties": False,
                "required": ["paths"],
                "properties": {
                    "paths": {**_CODE_LIST, "minItems": 1},
                    "cni": {"type": "string", "minLength": 1},
                    "cni-options": _CNI_OPTIONS,
                    **_FACTS,
                },
            },
        },
        "rules": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "properties": {"level": {"enum": ["error", "warning", "note"]}},
            },
        },
        "plugins": {"type": "object", "additionalProperties": {"type": "object"}},
    },
}


class ConfigError(Exception):
    """A configuration the run cannot use. The message names the file, key and reason."""


#: The most nplint reads of a configuration file (``.nplint.yaml``, ``pyproject.toml``).
CONFIG_FILE_LIMIT = 1 << 20
#: The most nplint reads of a probe file (``expect``, ``reach --probes``).
PROBE_FILE_LIMIT = 4 << 20
#: The most nplint reads of a baseline file (``--baseline``).
BASELINE_FILE_LIMIT = 64 << 20

#: ``scheme://…``: Helm (and others) would fetch it; nplint reads only files of the repository.
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


class RefusedFile(Exception):
    """A file nplint will not read: not a regular file, or larger than its limit."""


def _file_kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def size_text(limit: int) -> str:
    return f"{limit >> 20} MiB" if limit >= 1 << 20 and limit % (1 << 20) == 0 else f"{limit} bytes"


def read_regular_file(path: Path, limit: int) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes (:func:`nplint.reading.read_bounded`).

    A FIFO would block and a device (``/dev/zero``) never ends, so only
    regular files are opened; at most ``limit + 1`` bytes are read, whatever
    the file claims its size is.

    :raises RefusedFile: not a regular file, or larger than ``limit``.
    :raises OSError: a file that does not exist or cannot be read.
    """
    try:
        # Look before opening: a path the configuration names may be a device, and opening some
        # devices has effects of its own. (Files found by discovery are regular already.)
        mode = os.stat(path).st_mode
        if not stat.S_ISREG(mode):
            raise NotARegularFile(mode)
        return read_bounded(path, limit)
    except NotARegularFile as error:
        raise RefusedFile(f"is {_file_kind(error.mode)}, not a regular file") from None
    except FileTooLarge:
        raise RefusedFile(f"is larger than {size_text(limit)}, the most nplint reads of it") from None


def _shown(value: str) -> str:
    """A value from the configuration as an error message quotes it: escaped, and not too long."""
    return repr(value if len(value) <= 200 else value[:200] + "…")


def _where(path: Path) -> str:
    """A configuration file's path as a message names it: its folders are the repository's, escaped."""
    return escape(str(path))


def _inside(path: Path, directory: Path) -> bool:
    return path == directory or directory in path.parents


def repository_path(value: str, *, root: Path, kind: str = "file", missing_ok: bool = False) -> Path:
    """The resolved path of ``value`` (relative to ``root``), which must stay inside ``root``.

    ``kind`` is ``"file"`` (a regular file) or ``"directory"``. With
    ``missing_ok``, a path that does not exist (but would lie inside) is
    returned as it would resolve.

    :raises ValueError: why the path is refused, worded to follow the quoted value.
    """
    if _URL.match(value):
        raise ValueError("is a URL; nplint reads only files inside the repository")
    if "\0" in value:
        raise ValueError("holds a NUL character")
    root_resolved = root.resolve()
    named = Path(os.path.normpath(root.absolute() / value))
    if not (_inside(named, Path(os.path.normpath(root.absolute()))) or _inside(named, root_resolved)):
        raise ValueError(f"is outside the repository root {root_resolved}")
    try:
        resolved = named.resolve()
    except (OSError, RuntimeError) as error:  # a loop of symbolic links
        raise ValueError(f"cannot be followed: {getattr(error, 'strerror', None) or error}") from None
    if not _inside(resolved, root_resolved):
        raise ValueError(f"leads outside the repository root {root_resolved} through a symbolic link")
    if (
        ".git" in resolved.relative_to(root_resolved).parts
        or ".git" in named.parts[len(root.absolute().parts) :]
    ):
        # Where a CI checkout keeps its token (.git/config): never a file the repository may name.
        raise ValueError("is inside .git, which nplint never reads")
    try:
        mode = resolved.stat().st_mode
    except FileNotFoundError:
        if missing_ok:
            return resolved
        raise ValueError("does not exist") from None
    except OSError as error:
        raise ValueError(f"cannot be read: {error.strerror or error}") from None
    if kind == "directory" and not stat.S_ISDIR(mode):
        raise ValueError("is not a directory")
    if kind == "file" and not stat.S_ISREG(mode):
        raise ValueError(f"is {_file_kind(mode)}, not a regular file")
    return resolved


def stays_inside(path: Path, root: Path) -> bool:
    """Whether a path named on the command line stays inside ``root`` if it is named inside it.

    The person running nplint may name a file anywhere; but a file of the
    repository (``--baseline .nplint-baseline.json`` in CI) may be a symbolic
    link, and the repository does not get to lead nplint out of itself.
    """
    named = Path(os.path.normpath(path.absolute()))
    root_named = Path(os.path.normpath(root.absolute()))
    if not (_inside(named, root_named) or _inside(named, root.resolve())):
        return True
    try:
        return _inside(named.resolve(), root.resolve())
    except (OSError, RuntimeError):
        return False


@record(frozen=True, slots=True)
class DNSFacts:
    namespace: str = "kube-system"
    pod_labels: Mapping[str, str] = field(default_factory=lambda: {"k8s-app": "kube-dns"})
    ports: tuple[int, ...] = (53,)
    service_ip: str | None = None
    node_local_ip: str | None = None
    #: Labels the platform sets on the DNS pods and on their namespace besides their identity
    #: (``pod_labels``): known facts of a detected platform, never configured.
    platform_pod_labels: Mapping[str, str] = field(default_factory=dict)
    platform_namespace_labels: Mapping[str, str] = field(default_factory=dict)


@record(frozen=True, slots=True)
class ClusterFacts:
    """What the repository cannot show about the cluster, from the ``cluster`` section."""

    dns: DNSFacts = field(default_factory=DNSFacts)
    apiserver_addresses: tuple[str, ...] = ()
    apiserver_port: int | None = None
    apiserver_service_ip: str | None = None
    pod_cidrs: tuple[str, ...] = ()
    service_cidrs: tuple[str, ...] = ()
    node_cidrs: tuple[str, ...] = ()
    #: ``openshift`` or ``kubernetes`` when declared; None: what the manifests show.
    platform: str | None = None


@record(frozen=True, slots=True)
class ClusterConfig:
    """One entry of ``clusters:``: the globs of repository paths it holds, and its facts."""

    name: str
    paths: tuple[str, ...]
    cni: str | None
    facts: ClusterFacts
    #: That cluster's ``cni-options:``; None: the run's.
    cni_options: CNISwitches | None = None


@record(slots=True)
class Config:
    """The validated configuration of one run (file settings, then command-line overrides)."""

    source: Path | None = None
    root: Path = field(default_factory=Path.cwd)
    select: tuple[str, ...] | None = None
    ignore: tuple[str, ...] = ()
    extend_select: tuple[str, ...] = ()
    per_file_ignores: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    fail_on: Level | None = Level.WARNING
    exclude: tuple[str, ...] = ()
    respect_gitignore: bool = True
    #: Lint the folders of test runners (Chainsaw, kuttl, Kyverno CLI), which discovery skips.
    lint_test_folders: bool = False
    #: Lint what no deployment reads too: Go ``testdata/``, unnamed dot-directories.
    lint_undeployed: bool = False
    #: Report the form and breadth rules on files whose header says they are generated too.
    lint_generated_files: bool = False
    #: "auto": render kustomizations and charts when the programs are on PATH; "never".
    render: str = "auto"
    #: Keep rendered output in ``.nplint_cache/`` (false: render every time). The repository's
    #: configuration may only turn it off.
    cache: bool = True
    #: Write a progress line while rendering even when standard error is no terminal.
    progress: bool = False
    helm_values: tuple[str, ...] = ()
    roots: tuple[str, ...] = ()
    #: ``NAME`` or ``NAME@VERSION`` as written (the version is checked on loading).
    cni: str | None = None
    #: ``cni-options:``: the CNI switches the configuration declares (they win over the repository's).
    cni_options: CNISwitches = field(default_factory=CNISwitches)
    #: Namespace of objects that name none; None: each unit's (or folder's) own unnamed namespace.
    default_namespace: str | None = None
    expect: tuple[str, ...] = ()
    cluster: ClusterFacts = field(default_factory=ClusterFacts)
    #: Configured clusters (``clusters:``): which units each holds; overrides detection.
    clusters: tuple[ClusterConfig, ...] = ()
    rule_settings: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    plugin_settings: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    #: Parsed command-line options, for plugins that added their own.
    options: Mapping[str, Any] = field(default_factory=dict)


def find_config_file(start: Path, stop: Path) -> Path | None:
    """The nearest config file from ``start`` upwards, not above ``stop``.

    :raises ConfigError: a config file that is a symbolic link leading out of
        ``stop`` (or, when ``start`` is not below ``stop``, out of its own directory).
    """
    start = start.resolve()
    stop = stop.resolve()
    directory = start if start.is_dir() else start.parent
    while True:
        for name in CONFIG_FILES:
            candidate = directory / name
            if not candidate.is_file():
                continue
            boundary = stop if _inside(directory, stop) else directory
            if not stays_inside(candidate, boundary):
                raise ConfigError(
                    f"{_where(candidate)}: the configuration file is a symbolic link "
                    f"leading outside {_where(boundary)}"
                )
            if name != "pyproject.toml" or _pyproject_has_table(candidate):
                return candidate
        if directory == stop or directory.parent == directory:
            return None
        if stop not in directory.parents:
            return None
        directory = directory.parent


def find_root(paths: Sequence[str], cwd: Path | None = None) -> Path:
    """The root of a run: the repository around the paths linted, whatever the current directory.

    Display paths, ``roots``, ``exclude`` and the rules that compare folders all
    count from the root, so it must not depend on where nplint was started:
    ``nplint DIR``, ``cd DIR && nplint .`` and ``nplint /abs/DIR`` agree. It is
    the nearest directory holding ``.git`` at or above the deepest directory
    containing every path named (a file counts as its directory); outside a
    repository, that directory itself (the first path's folder, when the paths
    share nothing but ``/``). Missing paths and pipes do not count; with none
    left, it starts from ``cwd``.
    """
    here = os.path.abspath(cwd if cwd is not None else os.getcwd())
    named: list[str] = []
    for given in paths:
        if given == "-":
            continue
        absolute = os.path.normpath(os.path.join(here, given))
        if os.path.isdir(absolute):
            named.append(os.path.realpath(absolute))
        elif os.path.isfile(absolute):
            # The folder the file is named in: a link to a file elsewhere does not move the root.
            named.append(os.path.realpath(os.path.dirname(absolute)))
        # A pipe (`<(kustomize build …)` is /dev/fd/63) is like standard input: no place in a tree.
    start = Path(os.path.commonpath(named) if named else os.path.realpath(here))
    if named and start == Path(start.anchor):
        # Paths with nothing in common but `/`: the root would be the machine, and named
        # files take their context from all of it. The first path's folder it is.
        start = Path(named[0])
    # Outside a repository the root is that folder: climbing further for a configuration
    # would let whoever can write to a folder above (/tmp) configure the run.
    return find_repository_root(start)


def _read_config_text(path: Path) -> str:
    try:
        return read_regular_file(path, CONFIG_FILE_LIMIT).decode("utf-8")
    except RefusedFile as error:
        raise ConfigError(f"{_where(path)}: cannot read the configuration: it {error}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{_where(path)}: cannot read the configuration: {escape(str(error))}") from error


def _pyproject_has_table(path: Path) -> bool:
    import tomllib  # here, not at the top: most repositories have no TOML to read

    try:
        data = tomllib.loads(read_regular_file(path, CONFIG_FILE_LIMIT).decode("utf-8"))
    except RefusedFile as error:
        raise ConfigError(f"{_where(path)}: cannot read the configuration: it {error}") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError):
        # A pyproject.toml nplint cannot read (arrays nested past Python's recursion
        # limit among them) says nothing to nplint.
        return False
    return isinstance(data.get("tool"), dict) and "nplint" in data["tool"]


def read_config_file(path: Path) -> dict[str, Any]:
    """The raw settings of a config file (not yet validated)."""
    text = _read_config_text(path)
    if path.suffix == ".toml":
        import tomllib  # here, not at the top: most repositories have no TOML to read

        try:
            data: Any = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise ConfigError(f"{_where(path)}: not valid TOML: {error}") from error
        except RecursionError:
            # tomllib reads nested arrays and tables recursively; no setting is nearly this deep.
            raise ConfigError(f"{_where(path)}: not read: nested too deeply") from None
        if path.name == "pyproject.toml":
            data = data.get("tool", {}).get("nplint", {})
    else:
        from nplint.loading import load_text

        loaded = load_text(str(path), text)
        problems = loaded.problems + [p for d in loaded.documents for p in d.problems]
        if problems:
            first = problems[0]
            where = f"{_where(path)}:{first.span.line}:{first.span.column}"
            raise ConfigError(f"{where}: {escape(first.message)}")
        roots = [d.root for d in loaded.documents if d.root is not None]
        if len(roots) > 1:
            raise ConfigError(
                f"{_where(path)}: a configuration file holds one YAML document, found {len(roots)}"
            )
        data = roots[0].to_python() if roots else {}
        if data is None:
            data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{_where(path)}: the configuration must be a mapping of settings")
    return data


def validate(data: Mapping[str, Any], source: str) -> None:
    if not data:
        return  # no settings: the defaults
    # Importing jsonschema and building its validator costs more than a small tree's whole
    # lint. Settings that plainly conform (what the command line sets, most files) are
    # accepted without it; anything else, and every error message, is jsonschema's.
    if conforms(data, SCHEMA) is True:
        return
    import jsonschema  # here, not at the top: a run with plainly valid settings never needs it

    validator = jsonschema.Draft202012Validator(SCHEMA)
    errors = sorted(validator.iter_errors(data), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    if not errors:
        return
    raise ConfigError("\n".join(_describe(error, source) for error in errors))


#: The JSON types of :func:`conforms`, as jsonschema's default type checker reads them.
_JSON_TYPES: dict[str, Callable[[object], bool]] = {
    "object": lambda value: isinstance(value, dict),
    "array": lambda value: isinstance(value, list),
    "string": lambda value: isinstance(value, str),
    "boolean": lambda value: isinstance(value, bool),
    "integer": lambda value: isinstance(value, int) and not isinstance(value, bool),
}
#: The keywords :func:`conforms` knows; a schema with any other leaves the answer to jsonschema.
_KNOWN_KEYWORDS = frozenset(
    (
        "$schema",
        "type",
        "enum",
        "minLength",
        "minItems",
        "minimum",
        "maximum",
        "items",
        "properties",
        "additionalProperties",
        "required",
        "oneOf",
    )
)


def conforms(value: object, schema: Mapping[str, Any]) -> bool | None:
    """Whether ``value`` is valid against ``schema``, for the few keywords :data:`SCHEMA` uses.

    True and False are certain; None means "not plainly either" (a keyword or a value
    this check does not judge, such as a float where an integer is asked), and the
    caller asks jsonschema. Every answer it gives is the one jsonschema would give.
    """
    # A float may be an integer to jsonschema (1.0), and a schema not a mapping is another
    # draft's form: neither is judged here.
    if isinstance(value, float) or not isinstance(schema, Mapping):
        return None
    if not _KNOWN_KEYWORDS.issuperset(schema):
        return None
    verdicts: list[bool | None] = []
    kind = schema.get("type")
    if kind is not None:
        if not isinstance(kind, str) or kind not in _JSON_TYPES:
            return None
        if not _JSON_TYPES[kind](value):
            return False
    # jsonschema's enum tells True from 1: compare kinds as well as values.
    if "enum" in schema and not any(
        type(value) is type(choice) and value == choice for choice in schema["enum"]
    ):
        return None
    if isinstance(value, str) and "minLength" in schema:
        verdicts.append(len(value) >= schema["minLength"])
    if isinstance(value, int) and not isinstance(value, bool):
        if "minimum" in schema:
            verdicts.append(value >= schema["minimum"])
        if "maximum" in schema:
            verdicts.append(value <= schema["maximum"])
    if isinstance(value, list):
        if "minItems" in schema:
            verdicts.append(len(value) >= schema["minItems"])
        if "items" in schema:
            verdicts.extend(conforms(item, schema["items"]) for item in value)
    if isinstance(value, dict):
        if any(not isinstance(key, str) for key in value):
            return None
        verdicts.extend(key in value for key in schema.get("required", ()))
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        for key, item in value.items():
            if key in properties:
                verdicts.append(conforms(item, properties[key]))
            elif extra is False:
                verdicts.append(False)
            elif extra is not True:
                verdicts.append(conforms(item, extra))
    if "oneOf" in schema:
        matches = [conforms(value, choice) for choice in schema["oneOf"]]
        verdicts.append(None if None in matches else matches.count(True) == 1)
    if False in verdicts:
        return False
    return None if None in verdicts else True


def _describe(error: jsonschema.ValidationError, source: str) -> str:
    location = ".".join(str(part) for part in error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = sorted(error.schema.get("properties", {}))
        unknown = sorted(set(error.instance) - set(allowed))
        parts = []
        for key in unknown:
            full = f"{location}.{key}" if location else key
            hint = difflib.get_close_matches(key, allowed, n=1)
            suggestion = f" (did you mean {hint[0]!r}?)" if hint else f" (known keys: {', '.join(allowed)})"
            parts.append(f"{source}: key {full!r}: unknown key{suggestion}")
        return "\n".join(parts)
    if error.validator == "enum":
        choices = ", ".join(map(str, error.validator_value))
        return f"{source}: key {location!r}: {error.instance!r} is not one of {choices}"
    return f"{source}: key {location or '(top level)'!r}: {error.message}"


def _codes(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(value)


def build_config(data: Mapping[str, Any], *, source: Path | None, root: Path) -> Config:
    """Validate raw settings and turn them into a :class:`Config`."""
    validate(data, _where(source) if source else "configuration")
    fail_on = data.get("fail-on", "warning")
    where = _where(source) if source else "configuration"
    facts = _cluster_facts(data.get("cluster", {}), where, "cluster")
    _check_cni(data.get("cni"), where, "cni")
    clusters = tuple(
        ClusterConfig(
            name=name,
            paths=_codes(entry["paths"]),
            cni=_check_cni(entry.get("cni"), where, f"clusters.{name}.cni"),
            facts=_cluster_facts(entry, where, f"clusters.{name}"),
            cni_options=_cni_switches(entry["cni-options"]) if "cni-options" in entry else None,
        )
        for name, entry in sorted(data.get("clusters", {}).items())
    )
    return Config(
        source=source,
        root=root,
        select=_codes(data["select"]) if "select" in data else None,
        ignore=_codes(data.get("ignore")),
        extend_select=_codes(data.get("extend-select")),
        per_file_ignores={k: _codes(v) for k, v in data.get("per-file-ignores", {}).items()},
        fail_on=None if fail_on == "never" else Level.parse(fail_on),
        exclude=_codes(data.get("exclude")),
        respect_gitignore=bool(data.get("respect-gitignore", True)),
        lint_test_folders=bool(data.get("lint-test-folders", False)),
        lint_undeployed=bool(data.get("lint-undeployed", False)),
        lint_generated_files=bool(data.get("lint-generated-files", False)),
        render=data.get("render", "auto"),
        cache=bool(data.get("cache", True)),
        helm_values=_paths(where, "helm-values", _codes(data.get("helm-values")), root, kind="file"),
        roots=_paths(where, "roots", _codes(data.get("roots")), root, kind="directory"),
        cni=data.get("cni"),
        cni_options=_cni_switches(data.get("cni-options", {})),
        default_namespace=data.get("default-namespace"),
        # A missing probe file is an NP801 finding at its path (the check cannot run), not a stop.
        expect=_paths(where, "expect", _codes(data.get("expect")), root, kind="file", missing_ok=True),
        cluster=facts,
        clusters=clusters,
        rule_settings={k: dict(v) for k, v in data.get("rules", {}).items()},
        plugin_settings={k: dict(v) for k, v in data.get("plugins", {}).items()},
    )


def _paths(
    source: str, key: str, values: Sequence[str], root: Path, *, kind: str, missing_ok: bool = False
) -> tuple[str, ...]:
    """The resolved, absolute form of paths the configuration names, each checked to stay in the root."""
    checked: list[str] = []
    for value in values:
        try:
            checked.append(str(repository_path(value, root=root, kind=kind, missing_ok=missing_ok)))
        except ValueError as error:
            raise ConfigError(f"{source}: key {key!r}: {_shown(value)} {error}") from None
    return tuple(checked)


def _check_cni(value: str | None, source: str, key: str) -> str | None:
    """A declared CNI whose ``@VERSION``, if any, is a release; the name is checked by the commands."""
    if value is not None:
        try:
            split_cni(value)
        except BadCNIVersion as error:
            raise ConfigError(f"{source}: key {key!r}: {_shown(value)}: {error}") from None
    return value


def _cni_switches(options: Mapping[str, Any]) -> CNISwitches:
    gates = options.get("antrea", {}).get("feature-gates", {})
    return CNISwitches(
        antrea_gates=tuple(sorted((str(k), bool(v)) for k, v in gates.items())),
        cilium_mode=options.get("cilium", {}).get("policy-enforcement-mode"),
    )


def _cluster_facts(cluster: Mapping[str, Any], where: str, key: str) -> ClusterFacts:
    """The facts of a ``cluster`` section (or of one entry of ``clusters``), checked."""
    dns = cluster.get("dns", {})
    apiserver = cluster.get("apiserver", {})
    dns_facts = DNSFacts(
        namespace=dns.get("namespace", "kube-system"),
        pod_labels=dict(dns.get("pod-labels", {"k8s-app": "kube-dns"})),
        ports=tuple(dns.get("ports", (53,))),
        service_ip=dns.get("service-ip"),
        node_local_ip=dns.get("node-local-ip"),
    )
    facts = ClusterFacts(
        dns=dns_facts,
        apiserver_addresses=_codes(apiserver.get("addresses")),
        apiserver_port=apiserver.get("port"),
        apiserver_service_ip=apiserver.get("service-ip"),
        pod_cidrs=_codes(cluster.get("pod-cidr")),
        service_cidrs=_codes(cluster.get("service-cidr")),
        node_cidrs=_codes(cluster.get("node-cidr")),
        platform=cluster.get("platform"),
    )
    _check_cidrs(facts, where, key)
    return facts


def _check_cidrs(facts: ClusterFacts, source: str, section: str = "cluster") -> None:
    import ipaddress

    for key, values in (
        (f"{section}.pod-cidr", facts.pod_cidrs),
        (f"{section}.service-cidr", facts.service_cidrs),
        (f"{section}.node-cidr", facts.node_cidrs),
    ):
        for value in values:
            try:
                ipaddress.ip_network(value, strict=False)
            except ValueError:
                raise ConfigError(
                    f"{source}: key {key!r}: {value!r} is not a CIDR such as 10.244.0.0/16"
                ) from None


def load_config(
    explicit: Path | None, *, start: Path, root: Path, overrides: Mapping[str, Any] | None = None
) -> Config:
    """Find, read and validate the configuration, then apply command-line overrides."""
    if explicit is not None:
        if not explicit.exists():
            raise ConfigError(f"{_where(explicit)}: configuration file not found")
        if not stays_inside(explicit, root):
            raise ConfigError(
                f"{_where(explicit)}: the configuration file is a symbolic link "
                f"leading outside {_where(root)}"
            )
        source: Path | None = explicit
    else:
        source = find_config_file(start, root)
    data: dict[str, Any] = read_config_file(source) if source is not None else {}
    for key, value in (overrides or {}).items():
        if value is not None:
            data[key] = value
    return build_config(data, source=source, root=root)


def codes_in(values: Sequence[str]) -> tuple[str, ...]:
    """Split comma-separated command-line codes (``--select NP1,NP301``)."""
    return tuple(part.strip() for value in values for part in value.split(",") if part.strip())
