"""The built-in rules. They register through the same hook a plugin uses."""

from __future__ import annotations

from nplint.rules.base import Rule, RuleContext, RuleRegistry
from nplint.rules.dns import EgressBlocksDns
from nplint.rules.input import InvalidYaml
from nplint.rules.isolation import MissingDefaultDenyEgress, MissingDefaultDenyIngress
from nplint.rules.selectors import ImplicitPodSelector, PeerAndOrConfusion

BUILTIN_RULES: tuple[type[Rule], ...] = (
    InvalidYaml,
    MissingDefaultDenyIngress,
    MissingDefaultDenyEgress,
    PeerAndOrConfusion,
    ImplicitPodSelector,
    EgressBlocksDns,
)

__all__ = ["BUILTIN_RULES", "Rule", "RuleContext", "RuleRegistry"]
