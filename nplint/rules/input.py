"""NP0xx rules about the input itself: files and documents that cannot be read."""

from __future__ import annotations

from collections.abc import Iterator

from nplint.findings import Finding, Level
from nplint.rules.base import Rule, RuleContext


class InvalidYaml(Rule):
    id = "NP001"
    name = "invalid-yaml"
    summary = "The file or document cannot be read as YAML or JSON."
    level = Level.ERROR
    tags = ("input",)

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        for loaded in ctx.files:
            for problem in loaded.problems:
                yield self.finding(None, None, problem.message, path=loaded.path, span=problem.span)
            for document in loaded.documents:
                for problem in document.problems:
                    yield self.finding(
                        None,
                        None,
                        problem.message,
                        path=loaded.path,
                        span=problem.span,
                        document_index=document.index,
                    )


RULES = (InvalidYaml,)
