"""NP9xx: the suppressions themselves — unused ones and ones naming no rule."""

from __future__ import annotations

import difflib
from collections.abc import Iterator

from nplint.findings import Finding, Level
from nplint.rules.base import Rule, RuleContext
from nplint.untrusted import quoted

_WHERE = {"line": "comment", "file": "file-wide comment", "annotation": "annotation"}


class UnusedSuppression(Rule):
    id = "NP901"
    name = "unused-suppression"
    summary = "A suppression comment or annotation that suppressed nothing."
    level = Level.NOTE
    tags = ("suppression",)
    phase = "meta"

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        registry = ctx.registry
        if registry is None:
            return
        for suppression in ctx.suppressions:
            if suppression.kind == "generated":
                continue  # nplint's own, from a generated file's header: nothing to remove
            for code in suppression.codes:
                if code.upper() == "ALL":
                    if suppression.used:
                        continue
                    label = "ALL"
                else:
                    rule_id = registry.resolve(code)
                    # A rule that did not run this time might have needed it: say nothing.
                    if rule_id is None or rule_id not in ctx.enabled_ids or rule_id in suppression.used:
                        continue
                    label = code
                where = _WHERE.get(suppression.kind, suppression.kind)
                yield self.finding(
                    None,
                    None,
                    f"this {where} suppresses {label}, but there is no {label} finding here to "
                    "suppress; remove it so it cannot hide a future problem",
                    path=suppression.path,
                    span=suppression.span,
                )


class UnknownRuleInSuppression(Rule):
    id = "NP902"
    name = "unknown-rule-in-suppression"
    summary = "A suppression names a rule that does not exist."
    level = Level.WARNING
    tags = ("suppression",)
    phase = "meta"

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        registry = ctx.registry
        if registry is None:
            return
        known = [rule.id for rule in registry] + [rule.name for rule in registry]
        for suppression in ctx.suppressions:
            for code in suppression.codes:
                if code.upper() == "ALL" or registry.resolve(code) is not None:
                    continue
                near = difflib.get_close_matches(code, known, n=1)
                hint = f"; did you mean {near[0]}?" if near else "; run `nplint rules` for the list"
                yield self.finding(
                    None,
                    None,
                    f"{quoted(code)} is not a rule ID or name nplint knows, so this suppression "
                    f"suppresses nothing{hint}",
                    path=suppression.path,
                    span=suppression.span,
                )


RULES = (UnusedSuppression, UnknownRuleInSuppression)
