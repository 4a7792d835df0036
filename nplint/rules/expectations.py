"""NP8xx: connectivity assertions — expectations a team keeps next to its policies, checked in CI."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

from nplint.config import repository_path
from nplint.engine.endpoints import EndpointError
from nplint.engine.engine import Engine, engine_for
from nplint.engine.probes import Probe, evaluate_probe, load_probe_file, probe_ok
from nplint.engine.verdict import SideVerdict, Verdict
from nplint.findings import FILE_START, Finding, Level, ObjectRef, Related, Span
from nplint.rules.base import Rule, RuleContext
from nplint.untrusted import shown


class ConnectivityExpectationFailed(Rule):
    id = "NP801"
    name = "connectivity-expectation-failed"
    summary = "A connectivity expectation in a probe file named by the `expect` setting does not hold."
    level = Level.ERROR
    tags = ("connectivity",)

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        config = ctx.config
        if not config.expect:
            return
        engine = engine_for(ctx.inventory, config)
        for entry in config.expect:
            path = Path(entry) if Path(entry).is_absolute() else config.root / entry
            display = _display(path, config.root)
            try:
                # The configuration is checked when it is loaded; a Config built in code
                # (a plugin, an embedding application) must not lead the rule out either.
                repository_path(str(path), root=config.root, missing_ok=True)
            except ValueError as error:
                message = f"this expectation cannot be checked: the probe file {error}"
                yield self.finding(None, None, message, path=display, span=FILE_START)
                continue
            # The one file a rule reads: probe files are named by the configuration,
            # not found by discovery, so loading them is part of this check.
            probe_file = load_probe_file(path, display)
            for problem in probe_file.problems:
                yield self.finding(
                    None,
                    None,
                    f"this expectation cannot be checked: {problem.message}",
                    path=problem.path,
                    span=problem.span,
                )
            for probe in probe_file.probes:
                finding = self._judge(engine, probe)
                if finding is not None:
                    yield dataclasses.replace(finding, yaml_path=probe.yaml_path)

    def _judge(self, engine: Engine, probe: Probe) -> Finding | None:
        try:
            verdict = evaluate_probe(engine, probe)
        except EndpointError as error:
            return self.finding(
                None, None, f"this expectation cannot be checked: {error}", path=probe.path, span=probe.span
            )
        if probe_ok(probe, verdict) is not False:
            return None
        port = f"{probe.protocol} {probe.port}" if probe.port is not None else f"any {probe.protocol} port"
        actual = "allowed" if verdict.allowed else "denied"
        wanted = "allowed" if probe.expect == "allow" else "denied"
        # The reasons name every policy on the way; they change with the policies, so they
        # stay out of the headline (and out of the fingerprint of this finding about no object).
        message = (
            f"expected {shown(probe.source)} -> {shown(probe.destination)} on {port} to be {wanted}, "
            f"but it is {actual}"
        )
        detail = "; ".join(verdict.reasons())
        return self.finding(
            None,
            None,
            message,
            path=probe.path,
            span=probe.span,
            related=_related(verdict),
            detail=f"{detail[:1].upper()}{detail[1:]}." if detail else "",
        )


def _related(verdict: Verdict) -> list[Related]:
    related: list[Related] = []
    for side in (verdict.egress, verdict.ingress):
        related.extend(_side_related(side))
    return sorted(set(related), key=lambda r: (r.path, r.span, r.message))


def _side_related(side: SideVerdict) -> Iterator[Related]:
    for step in (*side.admin_steps, *side.baseline_steps):
        yield Related(
            step.path,
            Span.point(step.rule_line, step.column),
            f"{side.direction.lower} rule {step.rule} of {step.kind} {step.name}",
        )
    for layer_step in side.layer_steps:
        related = layer_step.related()
        if related is not None:
            path, line, column, message = related
            yield Related(path, Span.point(line, column), f"{side.direction.lower} {message}")
    if side.network_policy is not None:
        yield from _side_related(side.network_policy)
    for rule in side.allowed_by:
        policy = rule.policy
        yield Related(
            policy.path,
            Span.point(rule.line, rule.column),
            f"{side.direction.lower} rule {rule.rule} of NetworkPolicy "
            f"{ObjectRef('NetworkPolicy', policy.namespace, policy.name).qualified}",
        )
    for policy in side.isolated_by:
        name = ObjectRef("NetworkPolicy", policy.namespace, policy.name).qualified
        yield Related(
            policy.path,
            Span.point(policy.line, policy.column),
            f"NetworkPolicy {name} isolates {side.direction.lower} of {side.subject}",
        )


def _display(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


RULES = (ConnectivityExpectationFailed,)
