"""A typed facade over pluggy: the only code that calls hooks."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

import pluggy

from nplint.plugins import hookspecs

if TYPE_CHECKING:
    from nplint.config import Config
    from nplint.findings import Finding
    from nplint.loading import LoadedFile
    from nplint.model import Inventory
    from nplint.reporting.base import ReporterRegistry
    from nplint.rules.base import RuleRegistry

DISABLE_AUTOLOAD_ENV = "NPLINT_DISABLE_PLUGIN_AUTOLOAD"


class PluginLoadError(Exception):
    """A plugin could not be loaded; the run stops with exit code 2."""

    def __init__(self, name: str, cause: BaseException) -> None:
        super().__init__(f"plugin {name!r} failed to load: {type(cause).__name__}: {cause}")
        self.name = name


def may_declare_entry_points(group: str) -> bool:
    """Whether an installed distribution may declare an entry point of ``group``.

    ``importlib.metadata`` costs a run more to import than a small tree takes to lint,
    and almost every installation has no plugin. This looks where it looks (each
    directory of ``sys.path``, through the finders of ``sys.meta_path``) for an
    entry-point file with a section that could be ``group``, and answers False only
    when there plainly is none. For anything it does not judge (a zip file or an egg on
    the path, another finder of distributions, a line that could head the group's
    section, a file that does not decode) it answers True, and ``importlib.metadata``
    decides as it always did.
    """
    from importlib.machinery import PathFinder

    for finder in sys.meta_path:
        if finder is not PathFinder and getattr(finder, "find_distributions", None) is not None:
            return True
    for entry in sys.path:
        root = entry or "."
        try:
            children = os.listdir(root)
        except OSError:
            if os.path.isfile(root):
                return True  # perhaps a zip file, which importlib.metadata reads too
            continue
        if os.path.basename(root).lower().endswith(".egg"):
            return True
        for child in children:
            if not child.lower().endswith((".dist-info", ".egg-info")):
                continue
            try:
                with open(os.path.join(root, child, "entry_points.txt"), "rb") as handle:
                    data = handle.read()
            except (FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError):
                continue  # importlib.metadata reads no entry points there either
            except OSError:
                return True
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                return True
            # A group is a section, ``[nplint]``; a line that could be its header counts.
            if any("[" in line and group in line for line in text.splitlines()):
                return True
    return False


class PluginManager:
    def __init__(self, *, autoload: bool | None = None) -> None:
        self._pm = pluggy.PluginManager(hookspecs.PROJECT)
        self._pm.add_hookspecs(hookspecs)
        from nplint.plugins import builtin

        self._pm.register(builtin, name="nplint.builtin")
        self._builtin = builtin
        if autoload is None:
            autoload = not os.environ.get(DISABLE_AUTOLOAD_ENV)
        if autoload:
            self._load_entry_points()
        self._pm.check_pending()

    def _load_entry_points(self) -> None:
        if not may_declare_entry_points(hookspecs.PROJECT):
            return
        from importlib.metadata import entry_points

        for entry_point in sorted(entry_points(group=hookspecs.PROJECT), key=lambda ep: ep.name):
            if self._pm.get_plugin(entry_point.name) is not None or self._pm.is_blocked(entry_point.name):
                continue
            try:
                plugin = entry_point.load()
                self._pm.register(plugin, name=entry_point.name)
            except Exception as error:  # a broken plugin must name itself, not crash
                raise PluginLoadError(entry_point.name, error) from error

    def register(self, plugin: object, name: str | None = None) -> None:
        """Register a plugin object directly (tests, embedding applications)."""
        try:
            self._pm.register(plugin, name=name)
            self._pm.check_pending()
        except Exception as error:
            raise PluginLoadError(name or repr(plugin), error) from error

    @property
    def plugin_names(self) -> list[str]:
        return sorted(name for name, _ in self._pm.list_name_plugin() if name)

    def distributions(self) -> list[tuple[str, str]]:
        return sorted({(dist.project_name, dist.version) for _, dist in self._pm.list_plugin_distinfo()})

    def addoption(self, parser: argparse.ArgumentParser) -> None:
        self._pm.hook.nplint_addoption.call_historic(kwargs={"parser": parser})

    def configure(self, config: Config) -> None:
        self._pm.hook.nplint_configure.call_historic(kwargs={"config": config})

    def register_rules(self, registry: RuleRegistry) -> None:
        self._pm.hook.nplint_register_rules(registry=registry)

    def register_reporters(self, registry: ReporterRegistry) -> None:
        self._pm.hook.nplint_register_reporters(registry=registry)

    def only_builtin(self) -> bool:
        """True when nplint's own plugin is the only one registered."""
        return self.plugin_names == ["nplint.builtin"]

    def only_builtin_loader(self) -> bool:
        """True when no plugin implements ``nplint_load_documents``."""
        return len(self._pm.hook.nplint_load_documents.get_hookimpls()) == 1

    def load_documents(self, path: str, text: str, config: Config) -> LoadedFile:
        hook = self._pm.hook.nplint_load_documents
        if len(hook.get_hookimpls()) == 1:
            # Only the built-in loader: call it directly, as the hook would (this runs once per file).
            return self._builtin.nplint_load_documents(path=path, text=text, config=config)
        result: LoadedFile | None = hook(path=path, text=text, config=config)
        if result is None:  # the built-in loader always answers
            raise RuntimeError("no loader answered for " + path)
        return result

    def extend_inventory(self, inventory: Inventory, documents: list[LoadedFile], config: Config) -> None:
        self._pm.hook.nplint_extend_inventory(inventory=inventory, documents=documents, config=config)

    def filter_finding(self, finding: Finding, config: Config) -> bool:
        """True when a plugin drops the finding."""
        return bool(self._pm.hook.nplint_filter_finding(finding=finding, config=config))
