"""What nplint needs to know of a Helm chart before and after ``helm template``.

Before: whether the chart is rendered on its own. A library chart
(``type: library``) renders nothing by design; a subchart (a chart inside
another chart's ``charts/`` directory, or a ``file://`` dependency of a chart of
the tree) is rendered only through its parent, with the parent's values, since
that is how it reaches a cluster. And the release namespace: the chart's name.

After: where a rendered object came from. ``helm template`` writes
``# Source: CHART/templates/x.yaml`` before each document; that names the
template file (``CHART/charts/SUB/templates/x.yaml`` for a subchart's), which is
where a finding about the object belongs, never ``Chart.yaml``.
"""

from __future__ import annotations

import bisect
import os
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from nplint.export import in_git
from nplint.kustomization import entry_inside, physical, read_inside
from nplint.loading import load_text
from nplint.loading.nodes import MapNode
from nplint.records import record

if TYPE_CHECKING:
    from nplint.findings import ObjectRef

#: Template files looked at below one chart home, at most.
_TEMPLATES_LIMIT = 2000
#: A namespace name: an RFC 1123 label, which also never starts with "-".
_DNS_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_SOURCE_COMMENT = re.compile(r"^# Source: (\S.*?)\s*$")
_SEPARATOR = re.compile(r"^---(?:\s|$)")


@record(frozen=True, slots=True)
class Chart:
    """A chart directory (real path relative to the root) and what its ``Chart.yaml`` says."""

    directory: str
    name: str | None
    library: bool
    #: Directories (real, relative to the root) of its ``file://`` dependencies in the tree.
    dependencies: frozenset[str]


def is_dns_label(name: str) -> bool:
    return bool(_DNS_LABEL.match(name))


def read_chart(root_real: str, directory: str) -> Chart:
    path = f"{directory}/Chart.yaml" if directory else "Chart.yaml"
    text = read_inside(root_real, path) or ""
    data: object = None
    for document in load_text(path, text).documents:
        if isinstance(document.root, MapNode) and not document.failed:
            data = document.root.to_python()
            break
    if not isinstance(data, dict):
        return Chart(directory, None, False, frozenset())
    name = data.get("name")
    dependencies: set[str] = set()
    listed = data.get("dependencies")
    for entry in listed if isinstance(listed, list) else ():
        repository = entry.get("repository") if isinstance(entry, dict) else None
        if isinstance(repository, str) and repository.startswith("file://"):
            found = entry_inside(root_real, directory, repository[len("file://") :])
            if found is not None:
                dependencies.add(found)
    return Chart(
        directory,
        name if isinstance(name, str) else None,
        data.get("type") == "library",
        frozenset(dependencies),
    )


def subcharts(charts: dict[str, Chart]) -> set[str]:
    """The chart directories that reach a cluster only through another chart of the tree."""
    inside: set[str] = set()
    for directory in charts:
        parts = directory.split("/") if directory else []
        # A chart below another chart's charts/ directory, at any depth.
        for index, part in enumerate(parts):
            if part == "charts" and "/".join(parts[:index]) in charts and index < len(parts) - 1:
                inside.add(directory)
                break
    for chart in charts.values():
        inside |= {d for d in chart.dependencies if d != chart.directory and d in charts}
    return inside


@record(frozen=True, slots=True)
class SourceMap:
    """Which template each line of a ``helm template`` stream came from."""

    #: Lines (1-based) where a document's source changes, and the source from there on.
    starts: tuple[int, ...]
    sources: tuple[str | None, ...]

    def source_at(self, line: int) -> str | None:
        index = bisect.bisect_right(self.starts, line) - 1
        return self.sources[index] if index >= 0 else None


def source_map(text: str) -> SourceMap:
    starts: list[int] = []
    sources: list[str | None] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if _SEPARATOR.match(line):
            # A new document: what named the previous one no longer applies.
            starts.append(number)
            sources.append(None)
        elif match := _SOURCE_COMMENT.match(line):
            starts.append(number)
            sources.append(match.group(1))
    return SourceMap(tuple(starts), tuple(sources))


def template_file(root_real: str, chart_directory: str, source: str) -> str | None:
    """The repository path of the template a ``# Source:`` comment names, if it is a file of the chart.

    The comment starts with the chart's name, not its directory; the rest is the
    path inside the chart (``charts/SUB/...`` for a subchart's template).
    """
    _, _, inside = source.partition("/")
    parts = inside.split("/")
    if not inside or ".." in parts or "" in parts or in_git(inside):
        return None
    relative = f"{chart_directory}/{inside}" if chart_directory else inside
    real = physical(root_real, relative)
    if real is None or not os.path.isfile(os.path.join(root_real, *real.split("/"))):
        return None
    return relative


def object_line(text: str, kind: str, name: str | None) -> int:
    """The line of a template that most likely writes the object: its literal name, else its kind, else 1.

    A template line cannot be known in general (the text is generated); this is
    the line a person would look at first.
    """
    lines = text.splitlines()
    if name:
        pattern = re.compile(r"^\s*name:\s*[\"']?" + re.escape(name) + r"[\"']?\s*(?:#.*)?$")
        for number, line in enumerate(lines, start=1):
            if pattern.match(line):
                return number
    pattern = re.compile(r"^\s*kind:\s*[\"']?" + re.escape(kind) + r"[\"']?\s*(?:#.*)?$")
    for number, line in enumerate(lines, start=1):
        if pattern.match(line):
            return number
    return 1


class TemplateTexts:
    """Templates listed and read once for all the findings of a run that are placed on them."""

    def __init__(self) -> None:
        self._texts: dict[tuple[str, str], str] = {}
        self._listed: dict[tuple[str, str], list[str]] = {}
        self._located: dict[tuple[str, str, str], str | None] = {}

    def read(self, root_real: str, path: str) -> str:
        """The text of a file of the repository (:func:`read_inside`), "" when it cannot be read."""
        key = (root_real, path)
        if key not in self._texts:
            self._texts[key] = read_inside(root_real, path) or ""
        return self._texts[key]

    def template_file(self, root_real: str, chart_directory: str, source: str) -> str | None:
        """:func:`template_file`, each ``# Source:`` of a chart resolved once."""
        key = (root_real, chart_directory, source)
        if key not in self._located:
            self._located[key] = template_file(root_real, chart_directory, source)
        return self._located[key]

    def templates(self, root_real: str, home: str) -> list[str]:
        key = (root_real, home)
        if key not in self._listed:
            self._listed[key] = _templates(root_real, home)
        return self._listed[key]


def inflated_template(
    root_real: str, homes: Sequence[str], obj: ObjectRef, texts: TemplateTexts | None = None
) -> tuple[str, int] | None:
    """The template of a chart inflated by kustomize (``helmCharts``) that writes ``obj``, and its line.

    kustomize drops helm's ``# Source:`` comments, so the template is found by
    its text: the one that writes the object's name literally, else the only one
    that writes its kind; None when that does not single out one template.
    ``texts``: templates listed and read already by the run.
    """
    texts = texts if texts is not None else TemplateTexts()
    with_kind: list[tuple[str, int]] = []
    for home in homes:
        for path in texts.templates(root_real, home):
            text = texts.read(root_real, path)
            line = object_line(text, obj.kind, obj.name)
            if line == 1 and not _writes_kind(text, obj.kind):
                continue
            if _writes_name(text, obj.name):
                return path, line
            with_kind.append((path, line))
    return with_kind[0] if len(with_kind) == 1 else None


def _templates(root_real: str, home: str) -> list[str]:
    found: list[str] = []
    base = os.path.join(root_real, *home.split("/")) if home else root_real
    for directory, subdirectories, files in os.walk(base):
        subdirectories[:] = sorted(d for d in subdirectories if d != ".git")
        relative = os.path.relpath(directory, root_real).replace(os.sep, "/")
        if "templates" not in relative.split("/"):
            continue
        found += [f"{relative}/{name}" for name in sorted(files) if name.endswith((".yaml", ".yml"))]
        if len(found) >= _TEMPLATES_LIMIT:
            break
    return sorted(found[:_TEMPLATES_LIMIT])


def _writes_kind(text: str, kind: str) -> bool:
    pattern = re.compile(r"^\s*kind:\s*[\"']?" + re.escape(kind) + r"[\"']?\s*(?:#.*)?$", re.MULTILINE)
    return bool(pattern.search(text))


def _writes_name(text: str, name: str | None) -> bool:
    if not name:
        return False
    pattern = re.compile(r"^\s*name:\s*[\"']?" + re.escape(name) + r"[\"']?\s*(?:#.*)?$", re.MULTILINE)
    return bool(pattern.search(text))
