"""The hook specifications: nplint's whole plugin surface.

Built-in rules, reporters and the YAML loader register through these same
hooks. A plugin is a module or object with functions marked ``@hookimpl``,
published under the ``nplint`` entry-point group::

    # pyproject.toml of the plugin
    [project.entry-points.nplint]
    myorg = "myorg_nplint.plugin"

Hooks are called with keyword arguments only, and only through
:class:`nplint.plugins.manager.PluginManager`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import argparse

    from nplint.config import Config
    from nplint.findings import Finding
    from nplint.loading import LoadedFile
    from nplint.model import Inventory
    from nplint.reporting.base import ReporterRegistry
    from nplint.rules.base import RuleRegistry

PROJECT = "nplint"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# -- start-up ---------------------------------------------------------------


@hookspec(historic=True)
def nplint_addoption(parser: argparse.ArgumentParser) -> None:
    """Add command-line options to the ``check`` command.

    :param parser: the ``argparse`` parser of ``nplint check``; add an
        argument group named after the plugin.
    """


@hookspec(historic=True)
def nplint_configure(config: Config) -> None:
    """Read settings once the configuration is loaded and validated.

    :param config: the run's configuration; plugin settings are in
        ``config.plugin_settings`` (the ``plugins.<name>`` table of the
        config file) and parsed command-line options in ``config.options``.
    """


@hookspec
def nplint_register_rules(registry: RuleRegistry) -> None:
    """Add rule classes to the catalog.

    :param registry: call ``registry.add(RuleClass)`` for each rule; IDs must
        be ``NP`` plus three digits and unique across all plugins.
    """


@hookspec
def nplint_register_reporters(registry: ReporterRegistry) -> None:
    """Add output formats.

    :param registry: call ``registry.add(ReporterClass)``; the class's
        ``name`` becomes a value of ``--format``.
    """


# -- loading and inventory --------------------------------------------------


@hookspec(firstresult=True)
def nplint_load_documents(path: str, text: str, config: Config) -> LoadedFile | None:
    """Turn a file's text into positioned documents.

    :param path: the file's display path (``-`` for standard input).
    :param text: the decoded text.
    :param config: the run's configuration.
    :return: a :class:`nplint.loading.LoadedFile`, or None to let the next
        implementation try. The built-in YAML/JSON loader runs last.

    Stops at first non-None result.
    """


@hookspec
def nplint_extend_inventory(inventory: Inventory, documents: list[LoadedFile], config: Config) -> None:
    """Add objects or kinds to the inventory after the built-in model is built.

    :param inventory: the inventory, to be extended in place.
    :param documents: every loaded file of the run.
    :param config: the run's configuration.
    """


# -- findings ---------------------------------------------------------------


@hookspec(firstresult=True)
def nplint_filter_finding(finding: Finding, config: Config) -> bool | None:
    """Decide whether a finding is dropped (an organisation's policy, a baseline).

    :param finding: a finding after selection and inline suppressions.
    :param config: the run's configuration.
    :return: True to drop the finding, False to keep it for certain, None to
        let the next implementation decide.

    Stops at first non-None result.
    """
