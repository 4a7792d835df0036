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
                message, detail = headline_and_detail(problem.message)
                yield self.finding(None, None, message, path=loaded.path, span=problem.span, detail=detail)
            for document in loaded.documents:
                for problem in document.problems:
                    message, detail = headline_and_detail(problem.message)
                    yield self.finding(
                        None,
                        None,
                        message,
                        path=loaded.path,
                        span=problem.span,
                        document_index=document.index,
                        detail=detail,
                    )


def headline_and_detail(message: str) -> tuple[str, str]:
    """A loader's problem as a headline (what is wrong, where) and the rest as its detail.

    The loader says both in one sentence, ``what; why and what to do``: the part
    after the first ``; `` outside a quoted value goes to the detail.
    """
    start = 0
    while (at := message.find("; ", start)) >= 0:
        head = message[:at]
        # A "; " inside a quoted value (a key, a tag) is the repository's, not the loader's.
        if head.count("'") % 2 == 0 and head.count('"') % 2 == 0:
            rest = message[at + 2 :]
            return head, rest + ("" if rest.endswith(".") else ".")
        start = at + 2
    return message, ""


RULES = (InvalidYaml,)
