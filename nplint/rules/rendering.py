"""NP005: what was not linted because it needs rendering first.

A chart or overlay is reported when rendering is off, the program is missing, the
render was refused (a path that looks like an option, a symbolic link or a
kustomization entry that leads out of the repository, a remote base) or did not
succeed (it failed, printed nothing, ran out of time or printed too much), and a
Kustomize Component no overlay includes whose content is out of reach (a remote chart
or base: :func:`nplint.entry_points.orphan_component`). The
reasons come from :func:`nplint.render.plan`; the advice says how to render by
hand, quoted so that it cannot be taken for an option or a shell command.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from nplint.findings import FILE_START, Finding, Level
from nplint.rules.base import Rule, RuleContext
from nplint.untrusted import VALUE_LIMIT, shown

if TYPE_CHECKING:
    from nplint.render import Target

#: Characters of a renderer's error line quoted: its last line of standard error can echo
#: the repository's templates, and a line of it is enough to say what went wrong.
REASON_LIMIT = 4 * VALUE_LIMIT
#: Characters of the reason in the headline; the detail gives it up to :data:`REASON_LIMIT`.
HEADLINE_REASON_LIMIT = 72


class NotRendered(Rule):
    id = "NP005"
    name = "not-rendered"
    summary = "A Helm chart or Kustomize overlay was skipped because it was not rendered."
    level = Level.NOTE
    tags = ("input",)
    # A target that was not rendered has no objects, so no world holds it: said once.
    phase = "run"

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        # Imported here: registering the rules must not import the render pipeline (start-up).
        from nplint.entry_points import ORPHAN_PREFIX

        for target, reason in ctx.unrendered:
            if reason.startswith(ORPHAN_PREFIX):
                yield self._orphan_component(target, reason)
                continue
            what = "Kustomize overlay" if target.tool == "kustomize" else "Helm chart"
            yield self.finding(
                None,
                None,
                f"this {what} was not linted: it was not rendered ({shown(reason, HEADLINE_REASON_LIMIT)})",
                path=target.display,
                span=FILE_START,
                detail=(
                    f"This {what} was not linted because it was not rendered "
                    f"({shown(reason, REASON_LIMIT)}); its policies reach the cluster only after "
                    "rendering, so lint the output: "
                    f"{target.how_to_render()}"
                ),
            )

    def _orphan_component(self, target: Target, reason: str) -> Finding:
        """A Component no overlay includes, whose content nplint cannot read (:func:`orphan_component`)."""
        return self.finding(
            None,
            None,
            f"this Kustomize Component was not linted: {shown(reason, HEADLINE_REASON_LIMIT)}",
            path=target.display,
            span=FILE_START,
            detail=(
                f"This Kustomize Component was not linted: {shown(reason, REASON_LIMIT)}. Its objects "
                "reach a cluster only through an overlay that lists it under `components:`, and what "
                "it needs is out of nplint's reach whichever overlay that is. Render such an overlay "
                "where the chart or base is available and lint the output "
                "(`kustomize build --enable-helm <overlay> | nplint -`)."
            ),
        )


RULES = (NotRendered,)
