"""nplint's own rules, reporters and loader, registered like any plugin."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nplint.plugins.hookspecs import hookimpl

if TYPE_CHECKING:
    from nplint.config import Config
    from nplint.loading import LoadedFile
    from nplint.reporting.base import ReporterRegistry
    from nplint.rules.base import RuleRegistry


@hookimpl
def nplint_register_rules(registry: RuleRegistry) -> None:
    from nplint.rules import builtin_rules

    registry.extend(builtin_rules())


@hookimpl
def nplint_register_reporters(registry: ReporterRegistry) -> None:
    from nplint.reporting.github import GithubReporter
    from nplint.reporting.jsonfmt import JsonReporter
    from nplint.reporting.markdown import MarkdownReporter
    from nplint.reporting.sarif import SarifReporter
    from nplint.reporting.text import TextReporter

    for reporter in (TextReporter, JsonReporter, SarifReporter, GithubReporter, MarkdownReporter):
        registry.add(reporter)


@hookimpl(trylast=True)
def nplint_load_documents(path: str, text: str, config: Config) -> LoadedFile:
    from nplint.loading import load_text

    return load_text(path, text, is_json=path.lower().endswith(".json"))
