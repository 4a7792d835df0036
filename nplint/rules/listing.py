"""NP707: a NetworkPolicy in a kustomization's directory that no kustomization lists.

A directory with a ``kustomization.yaml`` is applied with ``kubectl apply -k``, by
Flux and by Argo CD through kustomize, which send exactly what the kustomization
lists. A policy file dropped beside it and never added to ``resources`` is never
applied: the namespace it was written to protect stays open, and nothing says so.
"""

from __future__ import annotations

from collections.abc import Iterator

from nplint.findings import Finding, Level, Related, Span
from nplint.kustomization import KUSTOMIZATION_FILES
from nplint.rules.base import Rule, RuleContext
from nplint.untrusted import quoted, shown


class PolicyNotInKustomization(Rule):
    id = "NP707"
    name = "policy-not-in-kustomization"
    summary = "A NetworkPolicy file sits in a kustomization's directory, but no kustomization lists it."
    level = Level.WARNING
    tags = ("hygiene", "kustomize")
    # It judges files of the repository, which no world holds as such: said once.
    phase = "run"

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        listing = ctx.listing
        if listing is None or not listing.directories:
            return
        for policy in ctx.inventory.policies:
            directory, _, name = policy.path.rpartition("/")
            if name in KUSTOMIZATION_FILES or directory not in listing.directories:
                continue  # rendered output is placed on its kustomization; other folders are applied whole
            if policy.path in listing.listed:
                continue
            kustomization = _kustomization_file(directory, ctx)
            yield self.finding(
                policy,
                None,
                f"NetworkPolicy {quoted(policy.name)} is never applied: the "
                f"{shown(kustomization.rpartition('/')[2])} beside it does not list {quoted(name)}; "
                "add it to `resources:`",
                related=[Related(kustomization, Span.point(1, 1), "the kustomization of this directory")],
                detail=(
                    "kubectl apply -k, Flux and Argo CD apply a directory that holds a kustomization "
                    "through kustomize, which sends only what the kustomization lists. This file is "
                    "listed by no kustomization of the repository, so the policy never reaches the "
                    "cluster. If the file is kept on purpose (an example, a retired policy), move it "
                    "out of the directory."
                ),
            )


def _kustomization_file(directory: str, ctx: RuleContext) -> str:
    """The kustomization file of ``directory`` as the repository names it."""
    names = {skipped.display for skipped in ctx.skipped}
    for name in KUSTOMIZATION_FILES:
        path = f"{directory}/{name}" if directory else name
        if path in names:
            return path
    return f"{directory}/kustomization.yaml" if directory else "kustomization.yaml"


RULES = (PolicyNotInKustomization,)
