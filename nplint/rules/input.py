"""NP0xx rules about the input itself: files and documents that cannot be read."""

from __future__ import annotations

from collections.abc import Iterator

from nplint import glued_objects
from nplint.findings import Finding, Level
from nplint.loading import LoadedFile, Problem
from nplint.rules.base import Rule, RuleContext

#: Further problems of a broken file listed in a finding's detail.
_DETAIL_LINES = 10


def _problems(loaded: LoadedFile) -> list[tuple[Problem, int]]:
    """Every problem of a file with the index of its document (0 for the file's own), in text order."""
    found = [(problem, 0) for problem in loaded.problems]
    found += [(problem, document.index) for document in loaded.documents for problem in document.problems]
    found.sort(key=lambda item: (item[0].span.line, item[0].span.column, item[1]))
    return found


class InvalidYaml(Rule):
    id = "NP001"
    name = "invalid-yaml"
    summary = "The file or document cannot be read as YAML or JSON."
    level = Level.ERROR
    tags = ("input",)

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        for loaded in ctx.files:
            if not loaded.kubernetes:
                # Not a manifest (Helm values, a CloudFormation template with its `!Ref`
                # tags, a CI workflow): what Kubernetes would refuse does not apply to it.
                continue
            problems = _problems(loaded)
            if not problems:
                continue
            # One finding a file: the first place reading failed. A file broken in one
            # way is usually broken the same way in every document (a tag, a template).
            first, index = problems[0]
            glued = glued_objects.glued_key(first)
            if glued is not None:
                # Two objects run together: the duplicate key is a symptom, the missing `---` the cause.
                message, detail = glued_objects.headline(*glued)
            else:
                message, detail = headline_and_detail(first.message)
            if len(problems) > 1:
                message = f"{message} (and {len(problems) - 1} more in this file)"
                lines = [
                    f"line {problem.span.line}, column {problem.span.column}: {problem.message}"
                    for problem, _ in problems[1 : 1 + _DETAIL_LINES]
                ]
                if len(problems) > 1 + _DETAIL_LINES:
                    lines.append(f"and {len(problems) - 1 - _DETAIL_LINES} more")
                # One paragraph: a finding's detail is shown as one.
                detail = (detail + " " if detail else "") + "Also in this file: " + "; ".join(lines) + "."
            yield self.finding(
                None, None, message, path=loaded.path, span=first.span, document_index=index, detail=detail
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
