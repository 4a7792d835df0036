"""What is deployed: the files, folders and kustomizations no tool sends to a cluster.

A repository holds more than what it deploys: Go test inputs (``testdata/``),
retired manifests in a dot-directory, the data files a kustomization turns into
ConfigMaps, editor settings in ``.json``, strategic-merge patches kept beside
the manifests, Kustomize components and the kubebuilder ``config/manifests``
that feeds an OLM bundle. Linting them as live objects gives findings about
nothing that reaches a cluster. The decisions are made here, once, and the
stages (discovery, rendering, the inventory) ask; what is set aside is reported
as skipped, with why and how to lint it anyway.

Everything read here comes from the repository: only names and shapes are
looked at, and nothing of it chooses what nplint runs or reads beyond it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable

from nplint.loading.nodes import MapNode, Node, SeqNode, is_null
from nplint.reading import read_bounded, read_head

#: A file or folder that no deployment reads (test inputs, an archive, generator data).
SKIP_NOT_DEPLOYED = "not-deployed"
#: A file a kustomization reads as data (``configMapGenerator`` files, values, plugin configuration).
SKIP_KUSTOMIZE_DATA = "kustomize-data"
#: A ``.json`` file that is not a Kubernetes object (tsconfig.json, dashboards, editor settings).
SKIP_NOT_KUBERNETES = "not-kubernetes"

#: Folder names the Go toolchain never builds and that by convention hold test inputs only.
TESTDATA_NAMES = frozenset(("testdata", "_testdata"))

DETAIL_TESTDATA = (
    "Go test data folder (`testdata/`, `_testdata/`): test inputs, never deployed; "
    "set `lint-undeployed: true` or name the folder on the command line to lint it"
)
DETAIL_TESTDATA_WITH_PROJECTS = (
    "Go test data folder (`testdata/`, `_testdata/`): test inputs, never deployed, except the "
    "kubebuilder projects in it ({projects}), linted as deployed; set `lint-undeployed: true` or "
    "name the folder on the command line to lint the rest"
)
DETAIL_NOT_KUBERNETES = "JSON that is not a Kubernetes object (no apiVersion and kind); not a manifest"

#: Kustomization keys whose file entries kustomize reads as data or plugin configuration, never
#: as objects to apply on their own.
_PLUGIN_KEYS = ("generators", "transformers", "validators", "configurations", "crds")
_GENERATOR_KEYS = ("configMapGenerator", "secretGenerator")
#: Keys that make a kustomization produce objects; without any, it renders nothing by design.
_PRODUCING_KEYS = (
    "resources",
    "bases",
    "components",
    "generators",
    "configMapGenerator",
    "secretGenerator",
    "helmCharts",
    "helmChartInflationGenerator",
)


def is_testdata(name: str) -> bool:
    """Whether a folder named ``name`` holds Go test data."""
    return name in TESTDATA_NAMES


#: The file kubebuilder and operator-sdk keep at a project's root (the project's configuration).
PROJECT_FILE = "PROJECT"
_KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")


def is_sample_project(directory: str, names: Iterable[str] | None = None) -> bool:
    """Whether ``directory`` (holding ``names``, listed when not given) is a kubebuilder project root.

    Such a project (operator-sdk's and kubebuilder's generated samples, kept under
    ``testdata/`` as the generator's expected output) is deployed like any other:
    ``make deploy`` builds its ``config/default``. It is known by what the scaffold
    writes: a ``PROJECT`` file beside ``config/default/`` with a kustomization.
    """
    if names is None:
        try:
            names = os.listdir(directory)
        except OSError:
            return False
    if PROJECT_FILE not in names or not os.path.isfile(os.path.join(directory, PROJECT_FILE)):
        return False
    default = os.path.join(directory, "config", "default")
    return any(os.path.isfile(os.path.join(default, name)) for name in _KUSTOMIZATION_FILES)


def sample_projects(testdata: str) -> list[str]:
    """The kubebuilder project roots below the test data folder ``testdata`` (relative, POSIX, sorted).

    A Go ``testdata/`` folder holds a unit test's inputs, except a directory that is a
    project of its own (:func:`is_sample_project`): nothing below such a root is looked
    into further, and symbolic links are not followed (the walk stays in the folder).
    """
    found: list[str] = []
    pending = [""]
    while pending:
        relative = pending.pop()
        directory = os.path.join(testdata, *relative.split("/")) if relative else testdata
        try:
            with os.scandir(directory) as iterator:
                entries = list(iterator)
        except OSError:
            continue
        if relative and is_sample_project(directory, [e.name for e in entries]):
            found.append(relative)
            continue
        for entry in entries:
            try:
                below = entry.is_dir(follow_symlinks=False)
            except OSError:
                continue
            if below and entry.name != ".git":
                pending.append(f"{relative}/{entry.name}" if relative else entry.name)
    return sorted(found)


DETAIL_ANSIBLE_TEMPLATES = (
    "Ansible templates (`templates/` beside a `tasks/` folder of Ansible task lists): inputs of "
    "Ansible's template module, copied and filled in by a playbook, never applied as they are; set "
    "`lint-undeployed: true` or name the folder on the command line to lint it"
)
#: Files of a ``tasks/`` folder looked at, and bytes of each, to recognise Ansible task lists.
_TASK_FILES_READ = 8
_TASK_BYTES_READ = 4096


def is_ansible_templates(parent: str) -> bool:
    """Whether the ``templates/`` folder of the directory ``parent`` holds Ansible's templates.

    Ansible's ``template`` module looks for its Jinja2 sources in the ``templates/``
    folder of the role or playbook, beside the ``tasks/`` folder that uses them
    (the documented role layout). A playbook copies them out and fills them in; as
    they stand they are not what is applied. Known by ``tasks/`` holding a YAML file
    that is a task list: a document whose top level is a sequence, which no
    Kubernetes object (a Tekton ``Task`` among them) is. A Helm chart (``Chart.yaml``
    beside ``templates/``) is never one.
    """
    if os.path.isfile(os.path.join(parent, "Chart.yaml")):
        return False
    tasks = os.path.join(parent, "tasks")
    try:
        with os.scandir(tasks) as iterator:
            names = sorted(e.name for e in iterator if e.name.endswith((".yaml", ".yml")) and e.is_file())
    except OSError:
        return False
    return any(_task_list(os.path.join(tasks, name)) for name in names[:_TASK_FILES_READ])


def _task_list(path: str) -> bool:
    """Whether the file's first content line starts a top-level sequence (``- name: …``)."""
    try:
        head = read_head(path, _TASK_BYTES_READ)
    except OSError:
        return False
    for line in head.decode("utf-8", "replace").splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or stripped == "---" or stripped.startswith("%"):
            continue
        return line.startswith("- ") or line == "-"
    return False


#: Dot-directories that hold manifests by a platform's own convention: OpenShift's
#: templates and manifests in ``.openshift/`` are applied with ``oc``.
_DEPLOYED_DOT_DIRECTORIES = frozenset((".openshift",))


def is_hidden(name: str) -> bool:
    """Whether a folder named ``name`` is a dot-directory (``.archive``), which no GitOps tool walks into."""
    return name.startswith(".") and name not in (".", "..") and name not in _DEPLOYED_DOT_DIRECTORIES


# -- kustomization data files ------------------------------------------------------------------


def _file_entry(entry: object) -> str | None:
    """The path of a generator ``files:`` entry (``key=path`` or ``path``), a plain path otherwise."""
    if not isinstance(entry, str):
        return None
    entry = entry.strip()
    if not entry or "\n" in entry or entry.startswith("{") or "://" in entry:
        return None
    # "key=path": the key cannot hold "/" while a path may hold "=".
    key, equals, path = entry.partition("=")
    return path.strip() if equals and "/" not in key else entry


def kustomization_data_paths(document: object) -> list[str]:
    """The files a parsed kustomization reads as data (relative to its directory).

    ``configMapGenerator``/``secretGenerator`` ``files``, ``envs`` and ``env``;
    ``helmCharts`` ``valuesFile``/``additionalValuesFiles``; the ``openapi`` schema;
    ``replacements`` sources; plugin configuration files (``generators``,
    ``transformers``, ``validators``), ``configurations`` and ``crds``.
    """
    if not isinstance(document, dict):
        return []
    found: list[str | None] = []
    for key in _GENERATOR_KEYS:
        generators = document.get(key)
        for generator in generators if isinstance(generators, list) else ():
            if not isinstance(generator, dict):
                continue
            for field in ("files", "envs"):
                listed = generator.get(field)
                found += [_file_entry(e) for e in listed] if isinstance(listed, list) else []
            found.append(_file_entry(generator.get("env")))
    charts = document.get("helmCharts")
    for chart in charts if isinstance(charts, list) else ():
        if isinstance(chart, dict):
            found.append(_file_entry(chart.get("valuesFile")))
            extra = chart.get("additionalValuesFiles")
            found += [_file_entry(e) for e in extra] if isinstance(extra, list) else []
    openapi = document.get("openapi")
    if isinstance(openapi, dict):
        found.append(_file_entry(openapi.get("path")))
    replacements = document.get("replacements")
    for replacement in replacements if isinstance(replacements, list) else ():
        if isinstance(replacement, dict):
            found.append(_file_entry(replacement.get("path")))
    for key in _PLUGIN_KEYS:
        listed = document.get(key)
        found += [_file_entry(e) for e in listed] if isinstance(listed, list) else []
    return [path for path in found if path]


def kustomization_resource_paths(document: object) -> list[str]:
    """The entries of a parsed kustomization's ``resources``, ``bases`` and ``components``."""
    if not isinstance(document, dict):
        return []
    found: list[str] = []
    for key in ("resources", "bases", "components"):
        listed = document.get(key)
        found += (
            [e.strip() for e in listed if isinstance(e, str) and e.strip()]
            if isinstance(listed, list)
            else []
        )
    return found


# -- kustomizations that are not entry points -------------------------------------------------


def set_aside(document: object, directory_real: str, directory: str) -> str | None:
    """Why the kustomization ``document`` of ``directory`` is no deployment unit, or None if it is one.

    ``directory_real`` is its real path on disk, ``directory`` its path relative
    to the root (POSIX). A Kustomize ``Component`` reaches a cluster only through
    the overlays listing it under ``components:``; a kustomization that lists
    nothing renders nothing, on purpose (a component switched off for one
    cluster); one that feeds an OLM bundle (kubebuilder's ``config/manifests``)
    makes a ClusterServiceVersion, not a deployment.
    """
    data = document if isinstance(document, dict) else {}
    if data.get("kind") == "Component":
        return "a Kustomize Component: it is linted through the overlays that list it under `components:`"
    if not any(data.get(key) for key in _PRODUCING_KEYS):
        return "an empty kustomization: it lists no resources, components, generators or charts"
    if _feeds_olm_bundle(data, directory_real, directory):
        return (
            "it feeds an OLM bundle (a ClusterServiceVersion base beside it, or kubebuilder's "
            "`config/manifests`): the bundle is built from it, it is not applied"
        )
    return None


def _feeds_olm_bundle(data: dict[object, object], directory_real: str, directory: str) -> bool:
    bases = os.path.join(directory_real, "bases")
    try:
        names = os.listdir(bases) if os.path.isdir(bases) else []
    except OSError:
        names = []
    if any(name.endswith(".clusterserviceversion.yaml") for name in names):
        return True
    # kubebuilder and operator-sdk scaffold `config/manifests` to include the samples and
    # the scorecard next to `config/default`, as the input of `make bundle`.
    if not (directory == "config/manifests" or directory.endswith("/config/manifests")):
        return False
    listed = {entry.rstrip("/") for entry in kustomization_resource_paths(data)}
    return bool(listed & {"../samples", "../scorecard", "bases"})


# -- .json files --------------------------------------------------------------------------------


def json_verdict(path: str) -> tuple[str, str] | None:
    """Why to skip the ``.json`` file at ``path``, or None when it may be a Kubernetes manifest.

    A manifest in JSON is an object (or a list of them) with ``apiVersion`` and
    ``kind``. A file that is not JSON at all (comments, a trailing comma) is kept
    when it names both keys, so that a broken manifest is still reported (NP001).
    """
    try:
        data = read_bounded(path)
    except OSError:
        return None  # the loader says why it cannot be read
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    if not text.strip():
        return None  # nothing to lint, nothing to skip
    try:
        parsed = json.loads(text)
    except (ValueError, RecursionError):
        if '"apiVersion"' in text and '"kind"' in text:
            return None
        return SKIP_NOT_KUBERNETES, DETAIL_NOT_KUBERNETES
    items = parsed if isinstance(parsed, list) else [parsed]
    if any(isinstance(item, dict) and "apiVersion" in item and "kind" in item for item in items):
        return None
    return SKIP_NOT_KUBERNETES, DETAIL_NOT_KUBERNETES


# -- patches ------------------------------------------------------------------------------------

#: Where each workload kind keeps its pod spec, and whether (apps/v1) it must have a selector.
_POD_SPECS: dict[str, tuple[tuple[str, ...], bool]] = {
    "Pod": (("spec",), False),
    "Deployment": (("spec", "template", "spec"), True),
    "StatefulSet": (("spec", "template", "spec"), True),
    "DaemonSet": (("spec", "template", "spec"), True),
    "ReplicaSet": (("spec", "template", "spec"), True),
    "ReplicationController": (("spec", "template", "spec"), False),
    "Job": (("spec", "template", "spec"), False),
    "CronJob": (("spec", "jobTemplate", "spec", "template", "spec"), False),
    "DeploymentConfig": (("spec", "template", "spec"), False),
}
#: Fields the API server requires of Flux objects, by API group and kind.
_REQUIRED_SPEC: dict[tuple[str, str], tuple[str, ...]] = {
    ("kustomize.toolkit.fluxcd.io", "Kustomization"): ("sourceRef",),
    ("helm.toolkit.fluxcd.io", "HelmRelease"): ("chart", "chartRef"),
}


def _empty(node: Node | None) -> bool:
    return not isinstance(node, MapNode) or next(node.keys(), None) is None


def _at(node: MapNode, keys: tuple[str, ...]) -> Node | None:
    current: Node | None = node
    for key in keys:
        if not isinstance(current, MapNode):
            return None
        current = current.get(key)
    return current


def is_partial(node: MapNode) -> bool:
    """Whether the object lacks what its kind needs to exist: a strategic-merge patch, not an object.

    A workload without containers, or without pod labels and with neither an image
    in its containers nor (in ``apps/v1``) a selector, cannot be created; nor a
    Flux ``Kustomization`` without ``sourceRef`` or a ``HelmRelease`` without a chart.
    Such a document is the part of an object a patch changes. Callers ask only for
    documents no kustomization renders.
    """
    kind = node.get_str("kind") or ""
    api_version = node.get_str("apiVersion") or ""
    if kind in _POD_SPECS:
        where, needs_selector = _POD_SPECS[kind]
        containers = _at(node, (*where, "containers"))
        if not isinstance(containers, SeqNode) or not len(containers):
            return True
        labels = _at(node, (*where[:-1], "metadata", "labels"))
        if not _empty(labels):
            return False  # pods with an identity: trimmed exports keep labels and drop images
        if not any(isinstance(c, MapNode) and not is_null(c.get("image")) for c in containers):
            return True  # containers named to be changed, none of them whole, and no pod labels
        # apps/v1: neither a selector nor the pod labels one could be read from: nothing could create it.
        return needs_selector and api_version.startswith("apps/") and _empty(_at(node, ("spec", "selector")))
    group = api_version.rpartition("/")[0]
    required = _REQUIRED_SPEC.get((group, kind))
    if required is None:
        return False
    spec = node.get("spec")
    if not isinstance(spec, MapNode):
        return True
    return all(is_null(spec.get(key)) for key in required)
